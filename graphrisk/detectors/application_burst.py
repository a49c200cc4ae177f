"""APPLICATION_BURST: many credit applications to many lenders in a short window.

Reads the optional ``applications`` table (no table, no flags). Only accounts with at least
``min_applications`` applications to at least ``min_lenders`` lenders in the lookback are
examined (a cheap group-by). A sliding window of ``window_days`` ends at each application;
the applications and distinct lenders in it are counted. The strongest window reaching both
thresholds (most lenders, then most applications, then the latest) is the evidence.

Applying is not borrowing: the default severity is 1 (watch: increases are closed, the
limit is kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors._kinds import with_kinds
from graphrisk.detectors._loans import accounts_with, best_per_account
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
    """``min_applications`` applications to ``min_lenders`` lenders within ``window_days``.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> ctx = world(applications=[("a", f"L{i % 5}", f"2026-01-01T{i:02d}:00") for i in range(8)]
    ...                         + [("b", "L1", f"2026-01-0{i + 1}") for i in range(8)])
    >>> flags = ApplicationBurst().detect(ctx).flags
    >>> flags.select("account_id", "code", "severity", "score").rows()
    [('a', 'APPLICATION_BURST', 1, 1.0)]
    """

    name: ClassVar[str] = "application_burst"
    codes: ClassVar[tuple[str, ...]] = ("APPLICATION_BURST",)
    tables: ClassVar[tuple[str, ...]] = ("applications",)

    window_days: int = param(7, "length of the sliding window, in days", min=1)
    min_applications: int = param(8, "applications inside one window that raise the flag", min=2)
    min_lenders: int = param(5, "distinct lenders applied to inside that window", min=1)
    severity: int = severity_param(1)

    def run(self, ctx: ScanContext) -> Findings:
        apps = ctx.applications
        if apps is None:
            return Findings(empty_flags())
        cand = accounts_with(apps, self.min_applications, self.min_lenders)
        apps = apps.filter(pl.col("account_id").is_in(cand.implode())).sort(
            "account_id", "applied_at"
        )
        windows = apps.rolling(
            "applied_at", period=f"{self.window_days}d", group_by="account_id"
        ).agg(
            pl.len().alias("n_applications"),
            pl.col("lender_id").n_unique().alias("n_lenders"),
            pl.col("lender_id").unique().sort().alias("lenders"),
            pl.col("applied_at").min().alias("window_start"),
        )
        hits = best_per_account(
            windows.filter(
                (pl.col("n_applications") >= self.min_applications)
                & (pl.col("n_lenders") >= self.min_lenders)
            ),
            "n_lenders",
            "n_applications",
            "applied_at",
        ).rename({"applied_at": "window_end"})
        score = pl.min_horizontal(
            pl.col("n_applications") / self.min_applications,
            pl.col("n_lenders") / self.min_lenders,
        )
        hits = with_kinds(hits, ctx)  # the lenders counted by kind, for the evidence
        flags = hits.select(
            "account_id",
            pl.lit("APPLICATION_BURST").alias("code"),
            pl.lit(self.severity).alias("severity"),
            score.alias("score"),
            evidence(
                n_applications=pl.col("n_applications"),
                n_lenders=pl.col("n_lenders"),
                lenders=pl.col("lenders"),
                kinds=pl.col("kinds"),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                threshold=self.threshold("min_applications", "min_lenders", "window_days"),
            ).alias("evidence"),
            "window_start",
            "window_end",
        )
        return Findings(flags)
