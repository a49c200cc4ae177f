"""HIGH_DEBT_RATIO: debt outstanding, or newly borrowed, too high against income (负债率过高).

Two ratios per account, both in months of the account's usual monthly income (the larger
of the declared ``accounts.monthly_income`` and the observed income, see
:mod:`graphrisk.detectors._income`; the evidence says which):

* ``debt_months``: loans outstanding at ``as_of`` over the income;
* ``new_months``: loans issued in the last ``recent_days`` over the income.

``watch_debt_months`` / ``watch_new_months`` raise a watch (``watch_severity``),
``cut_debt_months`` / ``cut_new_months`` a reduction (``cut_severity``). Where no income
is declared, the income seen coming in is a lower bound (pay may go to another bank), so a
ratio on it alone is at most ``observed_severity`` (a watch by default). An account whose
income is unknown (nothing declared, too little seen coming in) is not judged: a ratio
needs an income. The flag's window runs from the oldest loan counted to ``as_of``: the
debt is a state at ``as_of``, so it stays current until it is paid down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors import _income, _links
from graphrisk.detectors._income import IncomeDetector
from graphrisk.detectors.base import (
    Findings,
    empty_flags,
    evidence,
    param,
    severity_param,
    window_json,
)


@dataclass
class HighDebtRatio(IncomeDetector):
    """Loans outstanding (or borrowed in ``recent_days``) against the usual monthly income.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> ctx = world(as_of="2026-06-30",
    ...     accounts=[("a", "2020-01-01", 10000, None, None, 5000),
    ...               ("b", "2020-01-01", 10000, None, None, 50000)],
    ...     loans=[("a", "L1", 40000, "2026-03-01"), ("a", "L2", 30000, "2026-04-01"),
    ...            ("b", "L1", 70000, "2026-03-01")])
    >>> f = HighDebtRatio().detect(ctx).flags
    >>> f.select("account_id", "code", "severity").rows()
    [('a', 'HIGH_DEBT_RATIO', 2)]
    """

    name: ClassVar[str] = "high_debt_ratio"
    codes: ClassVar[tuple[str, ...]] = ("HIGH_DEBT_RATIO",)
    tables: ClassVar[tuple[str, ...]] = ("loans",)

    watch_debt_months: float = param(
        4.0, "debt outstanding of this many months of income or more: watch", min=0.0
    )
    cut_debt_months: float = param(
        12.0, "debt outstanding of this many months of income or more: reduce", min=0.0
    )
    recent_days: int = param(30, "newly borrowed: loans issued in this many days", min=1)
    watch_new_months: float = param(
        3.0, "newly borrowed of this many months of income or more: watch", min=0.0
    )
    cut_new_months: float = param(
        6.0, "newly borrowed of this many months of income or more: reduce", min=0.0
    )
    min_income: float = param(
        2000.0, "observed monthly income below this does not stand for an income", min=0.0
    )
    watch_severity: int = severity_param(1, "a ratio above the watch line")
    cut_severity: int = severity_param(2, "a ratio above the cut line")
    observed_severity: int = severity_param(
        1, "a ratio above the cut line on an income only seen in transfers, none declared"
    )

    def run(self, ctx: ScanContext) -> Findings:
        as_of = ctx.as_of
        recent = as_of - timedelta(days=self.recent_days)
        loans = ctx.graph.loans.filter(pl.col("issued_at") <= as_of)
        open_ = pl.col("repaid_at").is_null()
        new = pl.col("issued_at") >= recent
        per = (
            loans.filter(open_ | new)
            .group_by("acc")
            .agg(
                pl.col("amount").filter(open_).sum().alias("debt"),
                pl.col("amount").filter(new).sum().alias("new"),
                open_.sum().alias("n_outstanding"),
                new.sum().alias("n_new"),
                pl.col("lender_id").filter(open_ | new).n_unique().alias("n_lenders"),
                pl.col("loan_id").sort().alias("loans"),
                pl.col("issued_at").min().alias("window_start"),
            )
        )
        if per.is_empty():
            return Findings(empty_flags())
        usual = _income.usual_income(ctx, *self.circle(), self.min_income).filter(
            pl.col("income").is_not_null()
        )
        hits = per.join(usual, on="acc").with_columns(
            (pl.col("debt") / pl.col("income")).alias("debt_months"),
            (pl.col("new") / pl.col("income")).alias("new_months"),
        )
        cut = (pl.col("debt_months") >= self.cut_debt_months) | (
            pl.col("new_months") >= self.cut_new_months
        )
        watch = (pl.col("debt_months") >= self.watch_debt_months) | (
            pl.col("new_months") >= self.watch_new_months
        )
        hits = hits.filter(watch | cut)
        if hits.is_empty():
            return Findings(empty_flags())
        score = pl.max_horizontal(
            pl.col("debt_months") / max(self.watch_debt_months, 1e-9),
            pl.col("new_months") / max(self.watch_new_months, 1e-9),
        )
        thr = self.threshold(
            "watch_debt_months",
            "cut_debt_months",
            "recent_days",
            "watch_new_months",
            "cut_new_months",
        )
        flags = hits.select(
            _links.ids(ctx, "acc").alias("account_id"),
            pl.lit("HIGH_DEBT_RATIO").alias("code"),
            pl.when(cut & pl.col("declared").is_null())
            .then(pl.lit(min(self.observed_severity, self.cut_severity)))
            .when(cut)
            .then(pl.lit(self.cut_severity))
            .otherwise(pl.lit(self.watch_severity))
            .cast(pl.Int8)
            .alias("severity"),
            score.cast(pl.Float64).alias("score"),
            evidence(
                kind=pl.when(
                    pl.col("new_months") / max(self.watch_new_months, 1e-9)
                    > pl.col("debt_months") / max(self.watch_debt_months, 1e-9)
                )
                .then(pl.lit("new"))
                .otherwise(pl.lit("debt")),
                debt_outstanding=pl.col("debt").round(2),
                n_outstanding_loans=pl.col("n_outstanding"),
                borrowed_recent=pl.col("new").round(2),
                n_recent_loans=pl.col("n_new"),
                recent_days=pl.lit(self.recent_days),
                n_lenders=pl.col("n_lenders"),
                loans=pl.col("loans"),
                debt_months=pl.col("debt_months").round(2),
                new_months=pl.col("new_months").round(2),
                **_income.income_fields(),
                window=window_json(pl.col("window_start"), pl.lit(as_of)),
                threshold=thr,
            ).alias("evidence"),
            "window_start",
            pl.lit(as_of).alias("window_end"),
        )
        return Findings(flags)
