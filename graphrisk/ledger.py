"""The decision ledger (``--ledger DIR``): every scan appends its decisions; never rewritten.

Layout: ``DIR/entries/<as_of>--<seq>--<run_id>.parquet``, one file per scan, holding every
decision of that scan plus the state restore needs (``reference_limit``, ``last_cut_at``,
``cut_severity``, ``cut_reasons``, ``last_step_at``, ``last_bad_at``; see
:data:`graphrisk.decisions.TRACE_SCHEMA`).

* Atomic: an entry is written to a hidden temporary file beside its final name, flushed to
  disk, then renamed (and the directory flushed). A scan killed at any point leaves either
  no entry or the whole entry; a temporary file left by a dead process is removed by the
  next append and is never read.
* Idempotent: a scan reads its prior state from entries with an earlier ``as_of`` only,
  and its run id covers that state (with the data, ``as_of`` and policy; see
  :func:`graphrisk.scan.run_id_for`). Re-running it against the same ledger reads the same
  state, gets the same run id and decisions, appends nothing and never applies a second
  restore step.
* Backfill: an entry with an earlier ``as_of`` appended after a later scan changes what
  that later scan reads. Its re-run is then another decision set under another run id, and
  is appended beside the first (both stay: nothing is rewritten); for one ``as_of`` the
  entry appended last is the state later scans read.

Examples
--------
>>> import tempfile
>>> from datetime import datetime
>>> led = Ledger(tempfile.mkdtemp())
>>> led.prior(datetime(2026, 1, 1)).height
0
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import polars as pl

from graphrisk.decisions import PRIOR_SCHEMA, TRACE_SCHEMA
from graphrisk.errors import UsageError

#: Columns of a ledger entry: the decision, then the state it leaves.
ENTRY_COLUMNS = (
    "account_id",
    "as_of",
    "run_id",
    "action",
    "limit_before",
    "limit_after",
    "reason_codes",
    "situation",
    "reference_limit",
    "last_cut_at",
    "cut_severity",
    "cut_reasons",
    "last_step_at",
    "last_bad_at",
)

_STATE = [c for c in PRIOR_SCHEMA if c not in ("account_id", "current_limit")]


class Ledger:
    """An append-only ledger directory.

    Parameters
    ----------
    path
        The ledger directory (created on the first append).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.entries = self.path / "entries"
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"--ledger: not a directory: {self.path}")

    def files(self) -> list[Path]:
        """The complete entries, oldest ``as_of`` first (then in append order)."""
        if not self.entries.is_dir():
            return []
        return sorted(p for p in self.entries.glob("*.parquet") if not p.name.startswith("."))

    def has_run(self, run_id: str) -> bool:
        """Whether a scan with ``run_id`` was already appended."""
        return any(p.stem.endswith("--" + run_id) for p in self.files())

    def history(self) -> pl.DataFrame | None:
        """Every entry, concatenated, with ``seq`` (the entry's position), or ``None``."""
        files = self.files()
        if not files:
            return None
        frames = [
            pl.read_parquet(f).with_columns(pl.lit(i, pl.Int64).alias("seq"))
            for i, f in enumerate(files)
        ]
        return pl.concat(frames, how="diagonal_relaxed")

    def prior(self, as_of: datetime) -> pl.DataFrame:
        """Per account, the state left by the latest entry strictly before ``as_of``.

        Only accounts with a state worth keeping (a cut, or cut-level behaviour seen).
        """
        hist = self.history()
        if hist is None:
            return pl.DataFrame(schema=PRIOR_SCHEMA)
        for c in _STATE:
            if c not in hist.columns:
                hist = hist.with_columns(pl.lit(None, PRIOR_SCHEMA[c]).alias(c))
        last = (
            hist.filter(pl.col("as_of") < as_of)
            .sort("account_id", "as_of", "seq")
            .group_by("account_id", maintain_order=True)
            .last()
        )
        return (
            last.filter(
                pl.col("reference_limit").is_not_null()
                | pl.col("last_cut_at").is_not_null()
                | pl.col("last_bad_at").is_not_null()
            )
            .select(
                "account_id",
                "reference_limit",
                pl.col("limit_after").alias("current_limit"),
                *[c for c in _STATE if c != "reference_limit"],
            )
            .select(list(PRIOR_SCHEMA))
            .cast(PRIOR_SCHEMA)  # type: ignore[arg-type]
        )

    def _clean_stale(self) -> None:
        """Remove temporary files of processes that no longer run (killed mid-append)."""
        for p in self.entries.glob(".*.tmp"):
            try:
                pid = int(p.name.rsplit(".", 2)[-2])
                os.kill(pid, 0)
            except ProcessLookupError:
                p.unlink(missing_ok=True)
            except (ValueError, PermissionError, IndexError):
                continue

    def append(self, entry: pl.DataFrame, run_id: str) -> Path | None:
        """Append one scan's entry (:func:`entry`) atomically; nothing if ``run_id`` is there.

        Returns the entry's path, or ``None`` when the run was already in the ledger.
        """
        if self.has_run(run_id):
            return None
        as_of = entry["as_of"][0] if entry.height else datetime.min
        self.entries.mkdir(parents=True, exist_ok=True)
        self._clean_stale()
        seq = len(self.files())
        name = f"{as_of:%Y%m%dT%H%M%S}--{seq:06d}--{run_id}.parquet"
        final = self.entries / name
        tmp = self.entries / f".{name}.{os.getpid()}.tmp"
        try:
            entry.write_parquet(tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.rename(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        dirfd = os.open(self.entries, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
        return final


def entry(decisions: pl.DataFrame, trace: pl.DataFrame) -> pl.DataFrame:
    """The ledger rows of a scan: its decisions plus the state they leave (from the trace).

    Examples
    --------
    >>> from datetime import datetime
    >>> from graphrisk.decisions import decide_with_trace, FLAG_COLUMNS
    >>> from graphrisk.policy import Policy
    >>> acc = pl.DataFrame({"account_id": ["a"], "credit_limit": [5000.0]})
    >>> d, t = decide_with_trace(acc, pl.DataFrame(schema=FLAG_COLUMNS), Policy.default(),
    ...                          datetime(2026, 1, 1), "r1")
    >>> entry(d, t).columns == list(ENTRY_COLUMNS)
    True
    """
    state = trace.select("account_id", "situation", *_STATE).cast(
        {k: TRACE_SCHEMA[k] for k in ("reference_limit", "last_cut_at")}
    )  # type: ignore[dict-item]
    return decisions.join(state, on="account_id", how="left").select(list(ENTRY_COLUMNS))
