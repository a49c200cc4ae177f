"""UNSTABLE_INCOME: income that swings far above the account's own history, or stops.

Income is money in from outside the account's own circle (not from accounts linked to it
by a device or address or of the same customer, not from a lender, not its own money coming
back), per calendar month, over the complete months of the lookback (see
:mod:`graphrisk.detectors._income`). Two shapes are flagged, each against the account's
own earlier months, never against other accounts:

* **swing**: in each of the last ``swing_months`` month-to-month changes income moved by at
  least ``min_swing`` of the account's usual income (the median of its earlier months),
  and by at least ``swing_ratio`` times the typical change of those earlier months. A
  yearly bonus on a steady salary is one month up and one back, so at least one change in
  the window is small; a seasonal earner swung as much before, so its ratio stays low.
* **stop**: the last ``stop_months`` (or more) months brought on average at most
  ``stop_share`` of the usual income, after a steady run of at least ``min_history_months`` months each above
  ``steady_share`` of it. A seasonal earner's off-season shows in the earlier months too,
  so its run was not steady.

The usual income must reach ``min_income`` (a few small gifts are not an income). The
declared ``accounts.monthly_income`` is shown beside the observed figures; the shape is
judged on what came in. A swing only watches (``swing_severity``); income that stopped
after a steady run weakens the ability to repay and reduces (``stop_severity``).
Yearly seasons need a lookback that covers the previous season (``--lookback 400``).
"""

from __future__ import annotations

from dataclasses import dataclass
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
)


@dataclass
class UnstableIncome(IncomeDetector):
    """Income swinging far above its own history, or stopping after a steady run.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> pay = [("X1", "a", 8000, f"2026-0{m}-10") for m in range(1, 5)]
    >>> pay += [("X1", "b", 8000, f"2026-0{m}-10") for m in range(1, 7)]
    >>> ctx = world(as_of="2026-06-30", transfers=pay)
    >>> f = UnstableIncome().detect(ctx).flags
    >>> f.select("account_id", "code", "severity").rows()
    [('a', 'UNSTABLE_INCOME', 2)]
    """

    name: ClassVar[str] = "unstable_income"
    codes: ClassVar[tuple[str, ...]] = ("UNSTABLE_INCOME",)
    tables: ClassVar[tuple[str, ...]] = ("transfers",)

    min_income: float = param(
        2000.0, "usual monthly income (median of earlier months) below this is not judged", min=0.0
    )
    swing_months: int = param(3, "month-to-month changes at the end that must all swing", min=2)
    min_swing: float = param(
        0.5, "a swing: a monthly change of at least this share of the usual income", min=0.0
    )
    swing_ratio: float = param(
        2.0, "a swing: at least this many times the typical change of earlier months", min=1.0
    )
    stop_months: int = param(2, "latest months that must be near zero for a stop", min=1)
    stop_share: float = param(
        0.25,
        "a stop: those months brought on average at most this share of the usual income",
        min=0.0,
        max=1.0,
    )
    steady_share: float = param(
        0.5, "a steady run: every earlier month above this share of the usual income", min=0.0
    )
    min_history_months: int = param(3, "earlier months a stop needs as its steady run", min=1)
    swing_severity: int = severity_param(1, "a swing")
    stop_severity: int = severity_param(2, "income that stopped")

    def run(self, ctx: ScanContext) -> Findings:
        m = _income.monthly_income(ctx, *self.circle())
        n = int(m["pos"].max()) + 1 if m.height else 0
        usual = _income.usual_income(ctx, *self.circle(), self.min_income)
        parts = []
        inc, pos = pl.col("income"), pl.col("pos")
        # the months seen, for the evidence, and the window they span (both shapes)
        months = [
            pl.struct(pl.col("month").dt.strftime("%Y-%m").alias("month"), inc.round(2))
            .sort_by(pos)
            .alias("months"),
            pl.col("month").min().alias("window_start"),
            pl.col("month").max().alias("last_month"),
        ]
        # a stop: the trailing run of near-zero months may be longer than stop_months;
        # each possible length (a handful of months, not rows) is tried, the longest kept
        for run_len in range(n - self.min_history_months, self.stop_months - 1, -1):
            head = pos < n - run_len
            stop = (
                m.group_by("acc")
                .agg(
                    inc.filter(head).median().alias("base"),
                    inc.filter(head).min().alias("hist_min"),
                    inc.filter(~head).mean().alias("tail"),
                    *months,
                )
                .filter(
                    (pl.col("base") >= self.min_income)
                    & (pl.col("hist_min") >= self.steady_share * pl.col("base"))
                    & (pl.col("tail") <= self.stop_share * pl.col("base"))
                )
                .with_columns(
                    pl.lit("stop").alias("kind"),
                    pl.lit(self.stop_severity).alias("severity"),
                    (1.0 + (1.0 - pl.col("tail") / pl.col("base"))).alias("score"),
                    pl.lit(None, pl.Float64).alias("recent_min_change"),
                    pl.lit(None, pl.Float64).alias("history_change"),
                    pl.lit(run_len, pl.Int32).alias("stopped_months"),
                )
            )
            parts.append(stop)
        if n - self.swing_months >= 2:
            change = (inc - inc.shift(1).over("acc", order_by="pos")).abs()
            with_change = m.with_columns(change.alias("change"))
            head = pos < n - self.swing_months
            ch = pl.col("change")
            swing = (
                with_change.group_by("acc")
                .agg(
                    inc.filter(head).median().alias("base"),
                    ch.filter(~head).min().alias("recent_min_change"),
                    ch.filter(head & (pos >= 1)).median().alias("history_change"),
                    inc.min().alias("hist_min"),
                    inc.filter(pos >= n - self.stop_months).mean().alias("tail"),
                    *months,
                )
                .filter(
                    (pl.col("base") >= self.min_income)
                    & (pl.col("recent_min_change") >= self.min_swing * pl.col("base"))
                    & (pl.col("recent_min_change") >= self.swing_ratio * pl.col("history_change"))
                )
                .with_columns(
                    pl.lit("swing").alias("kind"),
                    pl.lit(None, pl.Int32).alias("stopped_months"),
                    pl.lit(self.swing_severity).alias("severity"),
                    (pl.col("recent_min_change") / (self.min_swing * pl.col("base"))).alias(
                        "score"
                    ),
                )
            )
            parts.append(swing.select(parts[0].columns) if parts else swing)
        if not parts or not any(p.height for p in parts):
            return Findings(empty_flags())
        cols = parts[0].columns
        hits = pl.concat([p.select(cols) for p in parts])
        # one flag per account: the more severe shape (stop before swing at equal severity),
        # the longest stop
        hits = (
            hits.sort(
                "acc", "severity", "kind", "stopped_months", descending=[False, True, False, True]
            )
            .group_by("acc", maintain_order=True)
            .first()
            .join(usual, on="acc", how="left")
        )
        window_end = pl.col("last_month").dt.offset_by("1mo") - pl.duration(microseconds=1)
        thr = self.threshold(
            "min_income",
            "swing_months",
            "min_swing",
            "swing_ratio",
            "stop_months",
            "stop_share",
            "steady_share",
            "min_history_months",
        )
        fields = _income.income_fields()
        flags = hits.select(
            _links.ids(ctx, "acc").alias("account_id"),
            pl.lit("UNSTABLE_INCOME").alias("code"),
            pl.col("severity").cast(pl.Int8),
            pl.col("score").cast(pl.Float64),
            evidence(
                kind=pl.col("kind"),
                months=pl.col("months"),
                n_months=pl.col("months").list.len(),
                usual_income=pl.col("base").round(2),
                latest_share=(pl.col("tail") / pl.col("base")).round(4),  # mean of a stop
                recent_min_change=pl.col("recent_min_change").round(2),
                history_change=pl.col("history_change").round(2),
                stopped_months=pl.col("stopped_months"),
                swing_months=pl.lit(self.swing_months),
                judged_on=pl.lit("observed"),
                **fields,
                window=pl.struct(
                    pl.col("window_start").dt.strftime("%Y-%m-%dT%H:%M:%S").alias("start"),
                    window_end.dt.strftime("%Y-%m-%dT%H:%M:%S").alias("end"),
                ),
                threshold=thr,
            ).alias("evidence"),
            "window_start",
            window_end.alias("window_end"),
        )
        return Findings(flags)
