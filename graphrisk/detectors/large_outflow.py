"""LARGE_OUTFLOW: money leaving within days far above the account's usual monthly income.

Outflow is money sent to counterparties outside the account's own circle (not to accounts
linked to it by a device or address or of the same customer, not a transfer to a lender).
A sliding window of ``window_days`` ends at each such transfer; the window is a hit when its
outflow reaches ``min_multiple`` times the account's usual monthly income and
``min_amount``. The usual income is the larger of the declared ``accounts.monthly_income``
and the observed monthly income (see :mod:`graphrisk.detectors._income`); without either
there is nothing to compare with and no flag.

What paid for it decides the severity:

* **fresh loans**: loans issued from ``fund_days`` before the window to its end cover at
  least ``min_loan_share`` of the outflow: borrowed money spent at once, the risky case
  (``loan_severity``, reduce by default);
* otherwise (e.g. **savings**: a balance built over the earlier months of the lookback from
  the account's own income and paid out once) it is a watch at most (``severity``). The
  evidence shows the savings the account had built before the window.
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
class LargeOutflow(IncomeDetector):
    """Outflow within ``window_days`` of ``min_multiple``+ times the usual monthly income.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> pay = [("X1", a, 6000, f"2026-0{m}-10") for m in range(1, 7) for a in "ab"]
    >>> out = [("a", "X9", 30000, "2026-06-20"), ("b", "X9", 30000, "2026-06-20")]
    >>> ctx = world(as_of="2026-06-30", transfers=pay + out,
    ...             loans=[("a", "L1", 30000, "2026-06-18")])
    >>> f = LargeOutflow().detect(ctx).flags
    >>> f.select("account_id", "code", "severity").rows()
    [('a', 'LARGE_OUTFLOW', 2), ('b', 'LARGE_OUTFLOW', 1)]
    """

    name: ClassVar[str] = "large_outflow"
    codes: ClassVar[tuple[str, ...]] = ("LARGE_OUTFLOW",)
    tables: ClassVar[tuple[str, ...]] = ("transfers",)

    window_days: int = param(7, "length of the sliding window, in days", min=1)
    min_multiple: float = param(
        3.0, "outflow in one window of at least this many months of usual income", min=0.0
    )
    min_amount: float = param(10000.0, "and at least this much money in the window", min=0.0)
    min_income: float = param(
        2000.0, "observed monthly income below this does not stand for an income", min=0.0
    )
    fund_days: int = param(
        7, "loans issued up to this many days before the window may have funded it", min=0
    )
    min_loan_share: float = param(
        0.5, "share of the outflow covered by those loans that makes it loan-funded", min=0.0
    )
    severity: int = severity_param(1, "an outflow not paid for by fresh loans")
    loan_severity: int = severity_param(2, "an outflow paid for by fresh loans")

    def run(self, ctx: ScanContext) -> Findings:
        args = self.circle()
        usual = _income.usual_income(ctx, *args, self.min_income).filter(
            pl.col("income").is_not_null()
        )
        out = _income.outflows(ctx, *args)
        big = (
            out.group_by("acc")
            .agg(pl.col("amount").sum().alias("total"))
            .join(usual.select("acc", "income"), on="acc")
            .filter(
                (pl.col("total") >= self.min_amount)
                & (pl.col("total") >= self.min_multiple * pl.col("income"))
            )["acc"]
        )
        if big.is_empty():
            return Findings(empty_flags())
        stream = out.filter(pl.col("acc").is_in(big.implode())).sort("acc", "ts")
        win = stream.rolling("ts", period=f"{self.window_days}d", group_by="acc").agg(
            pl.col("amount").sum().alias("outflow"),
            pl.len().alias("n_transfers"),
            pl.col("other").n_unique().alias("n_counterparties"),
            pl.col("ts").min().alias("window_start"),
            pl.col("amount").max().alias("largest"),
        )
        hits = (
            win.join(usual, on="acc")
            .filter(
                (pl.col("outflow") >= self.min_amount)
                & (pl.col("outflow") >= self.min_multiple * pl.col("income"))
            )
            .rename({"ts": "window_end"})
            .sort("acc", "outflow", "window_end")
            .group_by("acc", maintain_order=True)
            .last()
        )
        if hits.is_empty():
            return Findings(empty_flags())
        back = timedelta(days=self.fund_days)
        loans = ctx.graph.loans.select("acc", "issued_at", "amount", "loan_id")
        funded = (
            hits.select("acc", "window_start", "window_end")
            .join(loans, on="acc")
            .filter(
                pl.col("issued_at").is_between(pl.col("window_start") - back, pl.col("window_end"))
            )
            .group_by("acc")
            .agg(
                pl.col("amount").sum().alias("loan_money"),
                pl.col("loan_id").sort().alias("loans"),
            )
        )
        inc = _income.income_flows(ctx, *args)
        earned = (
            hits.select("acc", "window_start")
            .join(inc.select("acc", "ts", "amount"), on="acc")
            .filter(pl.col("ts") < pl.col("window_start"))
            .group_by("acc")
            .agg(pl.col("amount").sum().alias("earned_before"))
        )
        spent = (
            hits.select("acc", "window_start")
            .join(out.select("acc", "ts", "amount"), on="acc")
            .filter(pl.col("ts") < pl.col("window_start"))
            .group_by("acc")
            .agg(pl.col("amount").sum().alias("spent_before"))
        )
        hits = (
            hits.join(funded, on="acc", how="left")
            .join(earned, on="acc", how="left")
            .join(spent, on="acc", how="left")
            .with_columns(
                pl.col("loan_money").fill_null(0.0),
                pl.col("loans").fill_null([]),
                (pl.col("earned_before").fill_null(0.0) - pl.col("spent_before").fill_null(0.0))
                .clip(lower_bound=0.0)
                .alias("saved_before"),
            )
            .with_columns(
                (pl.col("loan_money") / pl.col("outflow"))
                .clip(upper_bound=1.0)
                .alias("loan_share"),
                (pl.col("saved_before") / pl.col("outflow")).alias("saved_share"),
                (pl.col("outflow") / pl.col("income")).alias("multiple"),
            )
        )
        loan_funded = pl.col("loan_share") >= self.min_loan_share
        funded_by = (
            pl.when(loan_funded)
            .then(pl.lit("loans"))
            .when(pl.col("saved_share") >= 1.0)
            .then(pl.lit("savings"))
            .otherwise(pl.lit("other"))
        )
        thr = self.threshold(
            "window_days", "min_multiple", "min_amount", "fund_days", "min_loan_share"
        )
        flags = hits.select(
            _links.ids(ctx, "acc").alias("account_id"),
            pl.lit("LARGE_OUTFLOW").alias("code"),
            pl.when(loan_funded)
            .then(pl.lit(self.loan_severity))
            .otherwise(pl.lit(self.severity))
            .cast(pl.Int8)
            .alias("severity"),
            (pl.col("multiple") / self.min_multiple + pl.col("loan_share"))
            .cast(pl.Float64)
            .alias("score"),
            evidence(
                outflow=pl.col("outflow").round(2),
                n_transfers=pl.col("n_transfers"),
                n_counterparties=pl.col("n_counterparties"),
                largest=pl.col("largest").round(2),
                multiple=pl.col("multiple").round(2),
                funded_by=funded_by,
                loan_money=pl.col("loan_money").round(2),
                loan_share=pl.col("loan_share").round(4),
                loans=pl.col("loans"),
                saved_before=pl.col("saved_before").round(2),
                saved_share=pl.col("saved_share").round(4),
                **_income.income_fields(),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                window_days=pl.lit(self.window_days),
                threshold=thr,
            ).alias("evidence"),
            "window_start",
            "window_end",
        )
        return Findings(flags)
