"""A vectorised synthetic lending world with planted risk patterns, look-alikes and labels.

:func:`generate_world` writes the five input tables of SPEC.md (``accounts``, ``loans``,
``transfers``, ``devices``, ``applications``) and ``labels.parquet`` (one row per
(account, pattern), pattern names from :data:`graphrisk.patterns.PATTERNS`, and the
``variant`` of patterns planted in several shapes) into a directory.

The ordinary population borrows from 1-2 usual lenders, logs in from home, pays a few
friends and shops; a fifth is paid a monthly salary and about 60% of all accounts declare a
``monthly_income``. A few percent of accounts are legitimate look-alikes (households sharing
a device, offices sharing an IP, payroll, merchants, travellers, a salary with a bonus, a
seasonal earner, a saved-up purchase, ...) and about 18-20% carry one of the eighteen planted
patterns. Every planted pattern, and most look-alikes, come in three or more labelled
variants (``labels.variant``) that differ in tempo (hours, days, a week or more), size (the
smallest that still counts, typical, large) or link kind (device, address, money).
Everything is built with numpy array operations from
``numpy.random.default_rng(seed)``, so the same ``(accounts, seed, end, days)`` gives
byte-identical files; a million accounts take well under two minutes.
See ``datasets/README.md`` for the exact shapes of every pattern.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from graphrisk.generate._cashflow import VARIANTS as _CASH_VARIANTS
from graphrisk.generate._cashflow import declare_incomes, plant_cash_flow
from graphrisk.generate._linkage import VARIANTS as _LINKAGE_VARIANTS
from graphrisk.generate._linkage import plant_linkage
from graphrisk.generate._patterns import VARIANTS as _PATTERN_VARIANTS
from graphrisk.generate._patterns import plant_all
from graphrisk.generate._world import World, check_world_replaceable, write_tables

__all__ = ["STAGES", "VARIANTS", "generate_world"]

#: Every labelled variant (``labels.variant``) the generator plants, by pattern: the
#: builders' own tables joined (a pattern such as ``risk_proximity`` gets variants from
#: two builders: ``_patterns`` plants its defaulter links, ``_linkage`` its close ties).
VARIANTS: dict[str, tuple[str, ...]] = {
    p: tuple(
        dict.fromkeys(
            v for d in (_PATTERN_VARIANTS, _CASH_VARIANTS, _LINKAGE_VARIANTS) for v in d.get(p, ())
        )
    )
    for p in {**_PATTERN_VARIANTS, **_CASH_VARIANTS, **_LINKAGE_VARIANTS}
}

#: The stages :func:`generate_world` reports to ``progress``, in order.
STAGES = (
    "patterns",
    "population",
    "applications",
    "proximity",
    *(
        f"write:{t}"
        for t in ("accounts", "loans", "transfers", "devices", "applications", "lenders", "labels")
    ),
)


def _calendar(w: World, end: datetime, days: int) -> None:
    """Weekday and month boundaries of the world, relative to its start ``end - days``."""
    if end.tzinfo is not None:
        end = end.astimezone(UTC).replace(tzinfo=None)
    t0 = end - timedelta(days=days)
    midnight = datetime(t0.year, t0.month, t0.day)
    w.t0_weekday = midnight.weekday()
    w.midnight0 = -int((t0 - midnight).total_seconds())
    starts = []
    y, m = t0.year, t0.month
    while datetime(y, m, 1) <= end:
        starts.append(int((datetime(y, m, 1) - t0).total_seconds()))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    w.month_starts = np.array(starts, dtype=np.int64)


def generate_world(
    out: str | Path,
    accounts: int = 5000,
    seed: int = 0,
    end: datetime = datetime(2026, 6, 30),
    days: int = 400,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Write a synthetic lending world with planted patterns and ``labels.parquet``.

    Parameters
    ----------
    out : str or Path
        Directory to write; created (with its parents) or replaced atomically. Only an
        empty folder or a world written here before is replaced: anything else raises
        :class:`~graphrisk.errors.UsageError` (nothing is deleted).
    accounts : int, default 5000
        Number of accounts (at least 2000, so that every pattern fits).
    seed : int, default 0
        Seed of ``numpy.random.default_rng``; same arguments give byte-identical files.
    end : datetime, default 2026-06-30
        End of the world (UTC if naive). The latest event is a login two minutes before it.
    days : int, default 400
        Length of the history; every event lies in ``[end - days, end]``.
    progress : callable, optional
        Called with each stage's name as it starts (:data:`STAGES`: building the world,
        then writing each table).

    Returns
    -------
    dict
        ``{"tables": {name: rows}, "patterns": {pattern: labelled accounts}}``.

    Examples
    --------
    >>> import tempfile, polars as pl
    >>> from graphrisk.generate import generate_world
    >>> d = tempfile.mkdtemp()
    >>> counts = generate_world(d, accounts=2000, seed=1)
    >>> counts["tables"]["accounts"]
    2000
    >>> labels = pl.read_parquet(f"{d}/labels.parquet")
    >>> labels.columns
    ['account_id', 'pattern', 'variant']
    >>> counts["patterns"]["multi_lender"] >= 10
    True
    >>> counts == generate_world(d, accounts=2000, seed=1)
    True
    """
    check_world_replaceable(Path(out))  # before the work, not only after it
    if accounts < 2000:
        raise ValueError("accounts must be at least 2000 so that every pattern fits")
    if days < 200:
        raise ValueError("days must be at least 200")
    show = progress or (lambda stage: None)
    show("patterns")
    w = World(int(accounts), int(seed), int(days))
    _calendar(w, end, days)
    plant_all(w)
    plant_cash_flow(w, int(seed))
    plant_linkage(w, int(seed))
    show("population")
    w.base_population()
    declare_incomes(w)
    show("applications")
    w.loan_applications()
    show("proximity")
    w.label_accidental_proximity()
    args = {"accounts": int(accounts), "seed": int(seed), "end": end.isoformat(), "days": days}
    counts, labels = write_tables(Path(out), w.tables(end), marker=args, progress=show)
    assert labels is not None
    patterns = labels.group_by("pattern").len().sort("pattern")
    return {
        "tables": counts,
        "patterns": dict(
            zip(patterns["pattern"].to_list(), patterns["len"].to_list(), strict=True)
        ),
    }
