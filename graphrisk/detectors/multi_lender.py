"""MULTI_LENDER: one account borrowing from many distinct lenders inside a window.

Four sliding windows, as the bureaus' multi-lending fields count (7 / 30 / 90 / 180 days):
``fast_days``, ``window_days`` (the month), ``slow_days`` and ``long_days``, each ending at
every loan the account took, each with its own threshold (``fast_min_lenders``,
``min_lenders``, ``slow_min_lenders``, ``long_min_lenders``; 0 turns a window off). The
distinct lenders in a window are counted, each weighing its kind's ``weight_KIND`` (all 1 by
default: a lender is a lender; a policy that finds six microloan companies more telling than
six banks raises ``weight_microloan``). The score is how far past its threshold the window
is, times the window's tempo (:mod:`graphrisk.detectors._windows`: faster scores higher);
the strongest window (the latest on a tie) is the evidence: its name and length
(``window_name``, ``window_days``), lenders and their kinds, loans, amount and dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors._kinds import KINDS, kinds_of, with_kinds
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
class MultiLender(Detector):
    """Borrowed from ``min_lenders``+ distinct lenders within ``window_days``, or a fast / slow / long window's own count.

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

    window_days: int = param(30, "length of the month window, in days", min=1)
    min_lenders: int = param(
        5, "distinct lenders (weighted by kind) inside the month window that raise the flag", min=2
    )
    fast_days: int = param(7, "length of the fast window, in days (0 = off)", min=0)
    fast_min_lenders: int = param(4, "distinct lenders inside the fast window (0 = off)", min=0)
    slow_days: int = param(90, "length of the slow window, in days (0 = off)", min=0)
    slow_min_lenders: int = param(7, "distinct lenders inside the slow window (0 = off)", min=0)
    long_days: int = param(180, "length of the long window, in days (0 = off)", min=0)
    long_min_lenders: int = param(9, "distinct lenders inside the long window (0 = off)", min=0)
    weight_bank: float = param(1.0, "weight of a bank among the lenders counted", min=0.0)
    weight_consumer_finance: float = param(1.0, "weight of a consumer-finance company", min=0.0)
    weight_microloan: float = param(1.0, "weight of a licensed microloan company", min=0.0)
    weight_online_platform: float = param(1.0, "weight of an online lending platform", min=0.0)
    weight_p2p: float = param(1.0, "weight of a P2P lender", min=0.0)
    weight_other: float = param(1.0, "weight of a lender of any other kind", min=0.0)
    weight_unknown: float = param(
        1.0, "weight of a lender of unknown kind (no lenders table, or not in it)", min=0.0
    )
    severity: int = severity_param(2)

    def _weights(self) -> pl.DataFrame:
        return pl.DataFrame(
            {"lender_kind": list(KINDS), "w": [float(getattr(self, f"weight_{k}")) for k in KINDS]}
        )

    def windows(self) -> list[Window]:
        """The fast, month, slow and long windows with their thresholds."""
        return [
            Window(name, days * DAY, {"lenders": need})
            for name, days, need in (
                ("fast", self.fast_days, self.fast_min_lenders),
                ("month", self.window_days, self.min_lenders),
                ("slow", self.slow_days, self.slow_min_lenders),
                ("long", self.long_days, self.long_min_lenders),
            )
        ]

    def run(self, ctx: ScanContext) -> Findings:
        kinds = kinds_of(ctx).join(self._weights(), on="lender_kind", how="left")
        loans = ctx.loans.filter(pl.col("issued_at") >= ctx.start).join(
            kinds, on="lender_id", how="left"
        )
        # each distinct lender once, with its weight
        weighted = pl.struct("lender_id", "w").unique().struct.field("w").sum()
        totals = loans.group_by("account_id").agg(weighted.alias("n"))
        on = [w for w in self.windows() if w.enabled]
        least = min((w.need["lenders"] for w in on), default=0)
        loans = loans.filter(
            pl.col("account_id").is_in(
                totals.filter(pl.col("n") >= least - 1e-9)["account_id"].implode()
            )
        ).sort("account_id", "issued_at")
        hits = best_window(
            loans,
            "issued_at",
            on,
            aggs=lambda w: [
                pl.col("lender_id").n_unique().alias("n_lenders"),
                weighted.alias("weighted"),
                pl.col("lender_id").unique().sort().alias("lenders"),
                pl.col("loan_id").sort().alias("loans"),
                pl.col("amount").sum().alias("amount"),
                pl.col("issued_at").min().alias("window_start"),
            ],
            hit=lambda w: pl.col("weighted") >= w.need["lenders"] - 1e-9,
            ratio=lambda w: pl.col("weighted") / w.need["lenders"],
            candidates=lambda w: totals.filter(pl.col("n") >= w.need["lenders"] - 1e-9)[
                "account_id"
            ],
        )
        if not hits.height:
            return Findings(empty_flags())
        hits = with_kinds(hits.rename({"issued_at": "window_end"}), ctx)
        days = (pl.col("window_seconds") // DAY).cast(pl.Int64)
        flags = hits.select(
            "account_id",
            pl.lit("MULTI_LENDER").alias("code"),
            pl.lit(self.severity).alias("severity"),
            "score",
            evidence(
                lenders=pl.col("lenders"),
                n_lenders=pl.col("n_lenders"),
                kinds=pl.col("kinds"),
                weighted_lenders=pl.col("weighted").round(3),
                n_loans=pl.col("loans").list.len(),
                loans=pl.col("loans"),
                amount=pl.col("amount").round(2),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                window_name=pl.col("window_name"),
                window_days=days,
                threshold=pl.struct(
                    pl.col("need_lenders").cast(pl.Int64).alias("min_lenders"),
                    days.alias("window_days"),
                ),
            ).alias("evidence"),
            "window_start",
            "window_end",
        )
        return Findings(flags)
