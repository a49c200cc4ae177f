"""LOAN_STACKING: many loans from different lenders outstanding at the same time.

An interval sweep per account: each loan adds +1 when it is issued and -1 when it is repaid
(a loan still outstanding at ``as_of`` never ends). Events are sorted by account and time,
repayments before issues at the same instant, and a cumulative sum gives the number of
loans outstanding after every event. The number of distinct lenders outstanding comes from
the same sweep run per (account, lender): a lender counts +1 when its outstanding count
leaves zero and -1 when it returns to zero. Loans issued before the lookback enter at its
start, so only moments inside the lookback are measured.

An *episode* is a run of moments with at least ``min_outstanding`` loans from at least
``min_lenders`` lenders. The account's strongest episode (a current one before a resolved
one, then the most loans at its peak, then the latest) is the evidence: the loans and lenders outstanding at the peak, the peak time, the
amount outstanding, and the episode window (from the first issue of the peak loans until the
stack fell below the threshold, or ``as_of`` when it still stands).

A stack that fell below the threshold more than ``resolved_days`` before ``as_of``, none of
its loans ``late_days`` or more overdue, is history (the borrower has reformed): it is
reported at severity 1 only. A stack still standing at ``as_of`` is always current.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
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
class LoanStacking(Detector):
    """``min_outstanding`` or more loans from ``min_lenders`` or more lenders outstanding together.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> ctx = world(
    ...     as_of="2026-03-01",
    ...     loans=[("a", f"L{i}", 2000, f"2026-01-{10 * i + 1:02d}") for i in range(4)]
    ...     + [("b", "L1", 900, "2026-01-01", None, "2026-01-20"),
    ...        ("b", "L2", 900, "2026-01-25")],
    ... )
    >>> flags = LoanStacking().detect(ctx).flags
    >>> flags.select("account_id", "code", "severity", "score").rows()
    [('a', 'LOAN_STACKING', 2, 1.0)]
    >>> import json
    >>> json.loads(flags["evidence"][0])["lenders"]
    ['L0', 'L1', 'L2', 'L3']
    """

    name: ClassVar[str] = "loan_stacking"
    codes: ClassVar[tuple[str, ...]] = ("LOAN_STACKING",)
    tables: ClassVar[tuple[str, ...]] = ("loans",)

    min_outstanding: int = param(
        4, "loans outstanding at the same moment that raise the flag", min=2
    )
    min_lenders: int = param(3, "distinct lenders among those outstanding loans", min=1)
    resolved_days: int = param(
        30, "a stack dissolved on time longer ago than this is history (severity 1)", min=0
    )
    late_days: int = param(30, "days overdue that keep a dissolved stack current", min=1)
    severity: int = severity_param(2)

    def run(self, ctx: ScanContext) -> Findings:
        start, as_of = ctx.start, ctx.as_of
        loans = ctx.loans.select(
            "loan_id", "account_id", "lender_id", "amount", "issued_at", "repaid_at", "overdue_days"
        ).with_columns(pl.max_horizontal(pl.col("issued_at"), pl.lit(start)).alias("t0"))
        # a loan repaid before (or when) it enters the window never overlaps anything
        loans = loans.filter(pl.col("repaid_at").is_null() | (pl.col("repaid_at") > pl.col("t0")))
        cand = accounts_with(loans, self.min_outstanding, self.min_lenders)
        loans = loans.filter(pl.col("account_id").is_in(cand.implode()))

        # -- the sweep: +1 at issue, -1 at repayment; repayments first at equal times -------
        issue = loans.select(
            "account_id", "lender_id", pl.col("t0").alias("t"), pl.lit(1, pl.Int8).alias("o")
        )
        repay = loans.filter(pl.col("repaid_at").is_not_null()).select(
            "account_id", "lender_id", pl.col("repaid_at").alias("t"), pl.lit(0, pl.Int8).alias("o")
        )
        ev = pl.concat([issue, repay]).with_columns((pl.col("o").cast(pl.Int32) * 2 - 1).alias("d"))
        lender_active = (pl.col("d").cum_sum().over("account_id", "lender_id") > 0).cast(pl.Int32)
        ev = (
            ev.sort("account_id", "lender_id", "t", "o")
            .with_columns(lender_active.alias("act"))
            .with_columns(
                (
                    pl.col("act")
                    - pl.col("act").shift(1, fill_value=0).over("account_id", "lender_id")
                ).alias("dl")
            )
            .sort("account_id", "t", "o")
            .with_columns(
                pl.col("d").cum_sum().over("account_id").alias("n"),
                pl.col("dl").cum_sum().over("account_id").alias("n_lenders"),
            )
        )
        # the state after the last event of each instant; it holds until the next instant
        state = (
            ev.filter(pl.struct("account_id", "t").is_last_distinct())
            .select("account_id", "t", "n", "n_lenders")
            .with_columns(
                (
                    (pl.col("n") >= self.min_outstanding)
                    & (pl.col("n_lenders") >= self.min_lenders)
                ).alias("ok"),
                pl.col("t").shift(-1).over("account_id").alias("next_t"),
            )
            .with_columns(pl.col("ok").rle_id().over("account_id").alias("ep"))
            .filter(pl.col("ok"))
        )
        if state.height == 0:
            return Findings(empty_flags())
        episodes = (
            state.sort("account_id", "ep", "n", "n_lenders", "t")
            .group_by("account_id", "ep", maintain_order=True)
            .agg(
                pl.col("n").last().alias("peak_n"),
                pl.col("n_lenders").last().alias("peak_lenders"),
                pl.col("t").last().alias("peak_at"),
                pl.col("next_t").sort_by("t").last().alias("stack_until"),
            )
        )
        # -- the loans outstanding at each episode's peak (a few per candidate) ------------
        at_peak = (
            loans.join(episodes.select("account_id", "ep", "peak_at"), on="account_id")
            .filter(
                (pl.col("t0") <= pl.col("peak_at"))
                & (pl.col("repaid_at").is_null() | (pl.col("repaid_at") > pl.col("peak_at")))
            )
            .sort("account_id", "ep", "issued_at", "loan_id")
            .group_by("account_id", "ep", maintain_order=True)
            .agg(
                pl.col("loan_id").alias("loans"),
                pl.col("lender_id").unique().sort().alias("lenders"),
                pl.col("amount").sum().round(2).alias("amount"),
                pl.col("issued_at").min().alias("window_start"),
                pl.col("repaid_at").is_null().sum().alias("still_outstanding"),
                pl.col("overdue_days").max().alias("max_overdue"),
            )
        )
        resolved = (
            pl.col("stack_until").is_not_null()
            & (pl.col("stack_until") < pl.lit(as_of - timedelta(days=self.resolved_days)))
            & (pl.col("max_overdue") < self.late_days)
        )
        hits = episodes.join(at_peak, on=["account_id", "ep"]).with_columns(
            pl.col("stack_until").fill_null(pl.lit(as_of)).alias("window_end"),
            resolved.alias("resolved"),
            (~resolved).alias("current"),
        )
        # a current stack first, then the most loans, the most lenders, the latest
        hits = best_per_account(hits, "current", "peak_n", "peak_lenders", "window_end")
        hits = with_kinds(hits, ctx)  # the lenders counted by kind, for the evidence
        flags = hits.select(
            "account_id",
            pl.lit("LOAN_STACKING").alias("code"),
            pl.when(pl.col("resolved"))
            .then(pl.lit(1))
            .otherwise(pl.lit(self.severity))
            .alias("severity"),
            (pl.col("peak_n") / self.min_outstanding).alias("score"),
            evidence(
                n_outstanding=pl.col("peak_n"),
                n_lenders=pl.col("peak_lenders"),
                lenders=pl.col("lenders"),
                kinds=pl.col("kinds"),
                loans=pl.col("loans"),
                outstanding_amount=pl.col("amount"),
                peak_at=pl.col("peak_at").dt.to_string("%Y-%m-%dT%H:%M:%S"),
                still_outstanding=pl.col("still_outstanding"),
                resolved=pl.col("resolved"),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                threshold=self.threshold(
                    "min_outstanding", "min_lenders", "resolved_days", "late_days"
                ),
            ).alias("evidence"),
            "window_start",
            "window_end",
        )
        return Findings(flags)
