"""SMALL_LOAN_BURST: many small loans in a short window.

Only loans of at most ``max_amount`` issued inside the lookback are read, and only for
accounts that have enough of them at all (a cheap group-by). Three sliding windows end at
each such loan, each with its own threshold: ``fast_days`` (a day: ``fast_min_loans``),
``window_days`` (a week: ``min_loans``) and ``slow_days`` (a month: ``slow_min_loans``);
0 turns a window off. The score is how far past its threshold a window is, times its tempo
(:mod:`graphrisk.detectors._windows`: faster scores higher); the strongest window (the
latest on a tie) is the evidence: its name and length, loans, lenders, total amount and
dates. A borrower who takes one ordinary small loan a month never gets near a threshold,
however long the history.
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
class SmallLoanBurst(Detector):
    """``min_loans``+ loans of at most ``max_amount`` each within ``window_days``, or a fast / slow window's own count.

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

    window_days: int = param(7, "length of the week window, in days", min=1)
    min_loans: int = param(5, "small loans inside the week window that raise the flag", min=2)
    fast_days: int = param(1, "length of the fast window, in days (0 = off)", min=0)
    fast_min_loans: int = param(3, "small loans inside the fast window (0 = off)", min=0)
    slow_days: int = param(30, "length of the slow window, in days (0 = off)", min=0)
    slow_min_loans: int = param(8, "small loans inside the slow window (0 = off)", min=0)
    max_amount: float = param(3000.0, "a loan of at most this amount counts as small", min=0)
    severity: int = severity_param(2)

    def windows(self) -> list[Window]:
        """The fast, week and slow windows with their thresholds."""
        return [
            Window(name, days * DAY, {"loans": need})
            for name, days, need in (
                ("fast", self.fast_days, self.fast_min_loans),
                ("week", self.window_days, self.min_loans),
                ("slow", self.slow_days, self.slow_min_loans),
            )
        ]

    def run(self, ctx: ScanContext) -> Findings:
        loans = ctx.loans.filter(
            (pl.col("issued_at") >= ctx.start) & (pl.col("amount") <= self.max_amount)
        )
        on = [w for w in self.windows() if w.enabled]
        least = int(min((w.need["loans"] for w in on), default=0))
        loans = loans.filter(
            pl.col("account_id").is_in(accounts_with(loans, least).implode())
        ).sort("account_id", "issued_at")
        hits = best_window(
            loans,
            "issued_at",
            on,
            aggs=lambda w: [
                pl.len().alias("n_loans"),
                pl.col("lender_id").unique().sort().alias("lenders"),
                pl.col("loan_id").alias("loans"),
                pl.col("amount").sum().round(2).alias("amount"),
                pl.col("amount").max().alias("largest"),
                pl.col("issued_at").min().alias("window_start"),
            ],
            hit=lambda w: pl.col("n_loans") >= w.need["loans"],
            ratio=lambda w: pl.col("n_loans") / w.need["loans"],
            candidates=lambda w: accounts_with(loans, int(w.need["loans"])),
        )
        if not hits.height:
            return Findings(empty_flags())
        hits = with_kinds(hits.rename({"issued_at": "window_end"}), ctx)
        days = (pl.col("window_seconds") // DAY).cast(pl.Int64)
        flags = hits.select(
            "account_id",
            pl.lit("SMALL_LOAN_BURST").alias("code"),
            pl.lit(self.severity).alias("severity"),
            "score",
            evidence(
                n_loans=pl.col("n_loans"),
                loans=pl.col("loans"),
                lenders=pl.col("lenders"),
                kinds=pl.col("kinds"),
                amount=pl.col("amount"),
                largest=pl.col("largest"),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                window_name=pl.col("window_name"),
                window_days=days,
                threshold=pl.struct(
                    pl.col("need_loans").cast(pl.Int64).alias("min_loans"),
                    pl.lit(self.max_amount).alias("max_amount"),
                    days.alias("window_days"),
                ),
            ).alias("evidence"),
            "window_start",
            "window_end",
        )
        return Findings(flags)
