"""OVERDUE_HISTORY: the account's own recent overdue record.

The context's loans are exactly those that touch the lookback (issued or repaid inside it, or
still outstanding). For a loan still outstanding at ``as_of`` with a due date, the days
overdue are measured at ``as_of`` (``as_of - due_at``): a re-run as of an earlier date does
not see lateness that happened later. Every other loan keeps its ``overdue_days``.

A loan ``min_overdue_days`` or more past due raises the flag at ``severity`` (2); one
``default_days`` or more past due is a default and raises it at ``default_severity`` (3).
Short delays (a few days to a few weeks) are ordinary and never flag. One flag per account,
naming every such loan: lender, amount, days overdue, whether still outstanding. The window
runs from the earliest due date of those loans to the latest repayment (or ``as_of`` while one
is still outstanding).
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
class OverdueHistory(Detector):
    """A loan ``min_overdue_days`` past due inside the lookback; ``default_days`` is a default.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> ctx = world(
    ...     as_of="2026-06-01",
    ...     loans=[("a", "L1", 5000, "2026-01-01", "2026-02-01", "2026-03-20", 47),
    ...            ("b", "L2", 3000, "2026-01-01", "2026-02-01"),
    ...            ("c", "L3", 2000, "2026-01-01", "2026-02-01", "2026-02-20", 19)],
    ... )
    >>> flags = OverdueHistory().detect(ctx).flags
    >>> flags.select("account_id", "code", "severity").rows()
    [('a', 'OVERDUE_HISTORY', 2), ('b', 'OVERDUE_HISTORY', 3)]
    >>> import json
    >>> json.loads(flags["evidence"][1])["loans"][0]["outstanding"]
    True
    """

    name: ClassVar[str] = "overdue_history"
    codes: ClassVar[tuple[str, ...]] = ("OVERDUE_HISTORY",)
    tables: ClassVar[tuple[str, ...]] = ("loans",)

    min_overdue_days: int = param(30, "days past due that raise the flag", min=1)
    default_days: int = param(90, "days past due that count as a default", min=1)
    severity: int = severity_param(2, "an overdue record")
    default_severity: int = severity_param(3, "a default")

    def run(self, ctx: ScanContext) -> Findings:
        as_of = pl.lit(ctx.as_of)
        late_now = (as_of - pl.col("due_at")).dt.total_days().clip(lower_bound=0)
        days = (
            pl.when(pl.col("repaid_at").is_null() & pl.col("due_at").is_not_null())
            .then(late_now)
            .otherwise(pl.col("overdue_days"))
            .fill_null(0)
            .cast(pl.Int64)
        )
        late = (
            ctx.loans.with_columns(days.alias("days"))
            .filter(pl.col("days") >= self.min_overdue_days)
            .sort("account_id", "days", "loan_id", descending=[False, True, False])
        )
        per = late.group_by("account_id", maintain_order=True).agg(
            pl.struct(
                "loan_id",
                "lender_id",
                pl.col("amount").round(2),
                pl.col("days").alias("days_overdue"),
                pl.col("repaid_at").is_null().alias("outstanding"),
            ).alias("loans"),
            pl.col("lender_id").unique().sort().alias("lenders"),
            pl.col("days").max().alias("max_days"),
            pl.col("amount").sum().round(2).alias("amount"),
            pl.col("repaid_at").is_null().any().alias("still_outstanding"),
            pl.coalesce("due_at", "issued_at").min().alias("window_start"),
            pl.coalesce("repaid_at", as_of).max().alias("window_end"),
        )
        is_default = pl.col("max_days") >= self.default_days
        flags = per.select(
            "account_id",
            pl.lit("OVERDUE_HISTORY").alias("code"),
            pl.when(is_default)
            .then(pl.lit(self.default_severity))
            .otherwise(pl.lit(self.severity))
            .alias("severity"),
            (pl.col("max_days") / self.min_overdue_days).alias("score"),
            evidence(
                max_days_overdue=pl.col("max_days"),
                default=is_default,
                still_outstanding=pl.col("still_outstanding"),
                n_loans=pl.col("loans").list.len(),
                loans=pl.col("loans"),
                lenders=pl.col("lenders"),
                amount=pl.col("amount"),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                threshold=self.threshold("min_overdue_days", "default_days"),
            ).alias("evidence"),
            "window_start",
            "window_end",
        )
        return Findings(flags)
