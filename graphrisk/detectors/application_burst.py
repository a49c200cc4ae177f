"""APPLICATION_BURST: many credit applications to many lenders in a short window.

Reads the optional ``applications`` table (no table, no flags). Three sliding windows end
at each application, each with its own pair of thresholds (applications, distinct lenders):
``fast_days`` (a day), ``window_days`` (a week) and ``slow_days`` (a month); 0 turns a
window off. Only accounts whose whole lookback reaches a window's thresholds are windowed
(a cheap group-by). The score is how far past both thresholds a window is (the smaller of
the two ratios), times its tempo (:mod:`graphrisk.detectors._windows`: faster scores
higher); the strongest window (the latest on a tie) is the evidence, naming its window.

Applying is not borrowing: the default severity is 1 (watch: increases are closed, the
limit is kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors._kinds import with_kinds
from graphrisk.detectors._loans import accounts_with
from graphrisk.detectors._windows import DAY, Window, best_window
from graphrisk.detectors.base import (
    Detector,
    Findings,
    empty_flags,
    evidence,
    param,
    severity_param,
    window_json,
)


@dataclass
class ApplicationBurst(Detector):
    """``min_applications`` applications to ``min_lenders`` lenders within ``window_days``, or a fast / slow window's own counts.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> ctx = world(applications=[("a", f"L{i % 5}", f"2026-01-01T{i:02d}:00") for i in range(8)]
    ...                         + [("b", "L1", f"2026-01-0{i + 1}") for i in range(8)])
    >>> flags = ApplicationBurst().detect(ctx).flags
    >>> flags.select("account_id", "code", "severity", "score").rows()
    [('a', 'APPLICATION_BURST', 1, 2.925434)]
    """

    name: ClassVar[str] = "application_burst"
    codes: ClassVar[tuple[str, ...]] = ("APPLICATION_BURST",)
    tables: ClassVar[tuple[str, ...]] = ("applications",)

    window_days: int = param(7, "length of the week window, in days", min=1)
    min_applications: int = param(
        8, "applications inside the week window that raise the flag", min=2
    )
    min_lenders: int = param(5, "distinct lenders applied to inside the week window", min=1)
    fast_days: int = param(1, "length of the fast window, in days (0 = off)", min=0)
    fast_min_applications: int = param(5, "applications inside the fast window (0 = off)", min=0)
    fast_min_lenders: int = param(4, "distinct lenders inside the fast window (0 = off)", min=0)
    slow_days: int = param(30, "length of the slow window, in days (0 = off)", min=0)
    slow_min_applications: int = param(15, "applications inside the slow window (0 = off)", min=0)
    slow_min_lenders: int = param(8, "distinct lenders inside the slow window (0 = off)", min=0)
    severity: int = severity_param(1)

    def windows(self) -> list[Window]:
        """The fast, week and slow windows with their thresholds."""
        return [
            Window(name, days * DAY, {"applications": apps, "lenders": lenders})
            for name, days, apps, lenders in (
                ("fast", self.fast_days, self.fast_min_applications, self.fast_min_lenders),
                ("week", self.window_days, self.min_applications, self.min_lenders),
                ("slow", self.slow_days, self.slow_min_applications, self.slow_min_lenders),
            )
        ]

    def run(self, ctx: ScanContext) -> Findings:
        apps = ctx.applications
        if apps is None:
            return Findings(empty_flags())
        on = [w for w in self.windows() if w.enabled]
        if not on:
            return Findings(empty_flags())
        least = int(min(w.need["applications"] for w in on))
        fewest = int(min(w.need["lenders"] for w in on))
        apps = apps.filter(
            pl.col("account_id").is_in(accounts_with(apps, least, fewest).implode())
        ).sort("account_id", "applied_at")
        hits = best_window(
            apps,
            "applied_at",
            on,
            aggs=lambda w: [
                pl.len().alias("n_applications"),
                pl.col("lender_id").n_unique().alias("n_lenders"),
                pl.col("lender_id").unique().sort().alias("lenders"),
                pl.col("applied_at").min().alias("window_start"),
            ],
            hit=lambda w: (
                (pl.col("n_applications") >= w.need["applications"])
                & (pl.col("n_lenders") >= w.need["lenders"])
            ),
            ratio=lambda w: pl.min_horizontal(
                pl.col("n_applications") / w.need["applications"],
                pl.col("n_lenders") / w.need["lenders"],
            ),
            candidates=lambda w: accounts_with(
                apps, int(w.need["applications"]), int(w.need["lenders"])
            ),
        )
        if not hits.height:
            return Findings(empty_flags())
        hits = with_kinds(hits.rename({"applied_at": "window_end"}), ctx)
        days = (pl.col("window_seconds") // DAY).cast(pl.Int64)
        flags = hits.select(
            "account_id",
            pl.lit("APPLICATION_BURST").alias("code"),
            pl.lit(self.severity).alias("severity"),
            "score",
            evidence(
                n_applications=pl.col("n_applications"),
                n_lenders=pl.col("n_lenders"),
                lenders=pl.col("lenders"),
                kinds=pl.col("kinds"),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                window_name=pl.col("window_name"),
                window_days=days,
                threshold=pl.struct(
                    pl.col("need_applications").cast(pl.Int64).alias("min_applications"),
                    pl.col("need_lenders").cast(pl.Int64).alias("min_lenders"),
                    days.alias("window_days"),
                ),
            ).alias("evidence"),
            "window_start",
            "window_end",
        )
        return Findings(flags)
