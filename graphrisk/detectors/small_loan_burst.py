"""SMALL_LOAN_BURST: many small loans in a short window.

Only loans of at most ``max_amount`` issued inside the lookback are read, and only for
accounts that have at least ``min_loans`` of them at all (a cheap group-by). A sliding window
of ``window_days`` ends at each such loan; the number of small loans in it is counted. The
account's strongest window (most loans, then the latest) is the evidence: its loans,
lenders, total amount and dates. A borrower who takes one ordinary small loan a month never
gets near the threshold, however long the history.
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
    evidence,
    param,
    severity_param,
    window_json,
)


@dataclass
class SmallLoanBurst(Detector):
    """``min_loans`` or more loans of at most ``max_amount`` each within ``window_days``.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> ctx = world(loans=[("a", "L1", 500, f"2026-01-0{i + 1}T10:00") for i in range(5)]
    ...                  + [("b", "L1", 500, f"2026-0{i + 1}-01") for i in range(5)])
    >>> flags = SmallLoanBurst().detect(ctx).flags
    >>> flags.select("account_id", "code", "severity").rows()
    [('a', 'SMALL_LOAN_BURST', 2)]
    >>> import json
    >>> json.loads(flags["evidence"][0])["amount"]
    2500.0
    """

    name: ClassVar[str] = "small_loan_burst"
    codes: ClassVar[tuple[str, ...]] = ("SMALL_LOAN_BURST",)
    tables: ClassVar[tuple[str, ...]] = ("loans",)

    window_days: int = param(7, "length of the sliding window, in days", min=1)
    min_loans: int = param(5, "small loans inside one window that raise the flag", min=2)
    max_amount: float = param(3000.0, "a loan of at most this amount counts as small", min=0)
    severity: int = severity_param(2)

    def run(self, ctx: ScanContext) -> Findings:
        loans = ctx.loans.filter(
            (pl.col("issued_at") >= ctx.start) & (pl.col("amount") <= self.max_amount)
        )
        cand = accounts_with(loans, self.min_loans)
        loans = loans.filter(pl.col("account_id").is_in(cand.implode())).sort(
            "account_id", "issued_at"
        )
        windows = loans.rolling(
            "issued_at", period=f"{self.window_days}d", group_by="account_id"
        ).agg(
            pl.len().alias("n_loans"),
            pl.col("lender_id").unique().sort().alias("lenders"),
            pl.col("loan_id").alias("loans"),
            pl.col("amount").sum().round(2).alias("amount"),
            pl.col("amount").max().alias("largest"),
            pl.col("issued_at").min().alias("window_start"),
        )
        hits = best_per_account(
            windows.filter(pl.col("n_loans") >= self.min_loans), "n_loans", "issued_at"
        ).rename({"issued_at": "window_end"})
        hits = with_kinds(hits, ctx)  # the lenders counted by kind, for the evidence
        flags = hits.select(
            "account_id",
            pl.lit("SMALL_LOAN_BURST").alias("code"),
            pl.lit(self.severity).alias("severity"),
            (pl.col("n_loans") / self.min_loans).alias("score"),
            evidence(
                n_loans=pl.col("n_loans"),
                loans=pl.col("loans"),
                lenders=pl.col("lenders"),
                kinds=pl.col("kinds"),
                amount=pl.col("amount"),
                largest=pl.col("largest"),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                threshold=self.threshold("min_loans", "max_amount", "window_days"),
            ).alias("evidence"),
            "window_start",
            "window_end",
        )
        return Findings(flags)
