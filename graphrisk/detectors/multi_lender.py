"""MULTI_LENDER: one account borrowing from many distinct lenders inside a short window.

A sliding window of ``window_days`` ends at each loan the account took; the number of
distinct lenders in it is counted. The latest window reaching ``min_lenders`` is the
evidence: its lenders, loans, amount and dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors.base import (
    Detector,
    Findings,
    evidence,
    param,
    severity_param,
    window_json,
)


@dataclass
class MultiLender(Detector):
    """Borrowed from ``min_lenders`` or more distinct lenders within ``window_days``.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> ctx = world(loans=[("a", f"L{i}", 1000, f"2026-01-{i + 1:02d}") for i in range(5)]
    ...                  + [("b", "L1", 1000, "2026-01-01"), ("b", "L2", 900, "2026-01-02")])
    >>> flags = MultiLender().detect(ctx).flags
    >>> flags.select("account_id", "code", "severity").rows()
    [('a', 'MULTI_LENDER', 2)]
    """

    name: ClassVar[str] = "multi_lender"
    codes: ClassVar[tuple[str, ...]] = ("MULTI_LENDER",)
    tables: ClassVar[tuple[str, ...]] = ("loans",)

    window_days: int = param(30, "length of the sliding window, in days", min=1)
    min_lenders: int = param(5, "distinct lenders inside one window that raise the flag", min=2)
    severity: int = severity_param(2)

    def run(self, ctx: ScanContext) -> Findings:
        loans = ctx.loans.filter(pl.col("issued_at") >= ctx.start)
        many = (
            loans.group_by("account_id")
            .agg(pl.col("lender_id").n_unique().alias("n"))
            .filter(pl.col("n") >= self.min_lenders)["account_id"]
        )
        loans = loans.filter(pl.col("account_id").is_in(many.implode())).sort(
            "account_id", "issued_at"
        )
        windows = loans.rolling(
            "issued_at", period=f"{self.window_days}d", group_by="account_id"
        ).agg(
            pl.col("lender_id").n_unique().alias("n_lenders"),
            pl.col("lender_id").unique().sort().alias("lenders"),
            pl.col("loan_id").sort().alias("loans"),
            pl.col("amount").sum().alias("amount"),
            pl.col("issued_at").min().alias("window_start"),
        )
        hits = (
            windows.filter(pl.col("n_lenders") >= self.min_lenders)
            .sort("account_id", "issued_at")
            .group_by("account_id", maintain_order=True)
            .last()
            .rename({"issued_at": "window_end"})
        )
        flags = hits.select(
            "account_id",
            pl.lit("MULTI_LENDER").alias("code"),
            pl.lit(self.severity).alias("severity"),
            (pl.col("n_lenders") / self.min_lenders).alias("score"),
            evidence(
                lenders=pl.col("lenders"),
                n_lenders=pl.col("n_lenders"),
                n_loans=pl.col("loans").list.len(),
                loans=pl.col("loans"),
                amount=pl.col("amount").round(2),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                threshold=self.threshold("min_lenders", "window_days"),
            ).alias("evidence"),
            "window_start",
            "window_end",
        )
        return Findings(flags)
