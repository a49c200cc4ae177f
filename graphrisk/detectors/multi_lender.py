"""MULTI_LENDER: one account borrowing from many distinct lenders inside a short window.

A sliding window of ``window_days`` ends at each loan the account took; the distinct lenders
in it are counted, each weighing its kind's ``weight_KIND`` (all 1 by default: a lender is a
lender; a policy that finds six microloan companies more telling than six banks raises
``weight_microloan``). The latest window reaching ``min_lenders`` is the evidence: its
lenders and their kinds, loans, amount and dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors._kinds import KINDS, kinds_of, with_kinds
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
    min_lenders: int = param(
        5, "distinct lenders (weighted by kind) inside one window that raise the flag", min=2
    )
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

    def run(self, ctx: ScanContext) -> Findings:
        kinds = kinds_of(ctx).join(self._weights(), on="lender_kind", how="left")
        loans = ctx.loans.filter(pl.col("issued_at") >= ctx.start).join(
            kinds, on="lender_id", how="left"
        )
        # each distinct lender once, with its weight
        weighted = pl.struct("lender_id", "w").unique().struct.field("w").sum()
        many = (
            loans.group_by("account_id")
            .agg(weighted.alias("n"))
            .filter(pl.col("n") >= self.min_lenders)["account_id"]
        )
        loans = loans.filter(pl.col("account_id").is_in(many.implode())).sort(
            "account_id", "issued_at"
        )
        windows = loans.rolling(
            "issued_at", period=f"{self.window_days}d", group_by="account_id"
        ).agg(
            pl.col("lender_id").n_unique().alias("n_lenders"),
            weighted.alias("weighted"),
            pl.col("lender_id").unique().sort().alias("lenders"),
            pl.col("loan_id").sort().alias("loans"),
            pl.col("amount").sum().alias("amount"),
            pl.col("issued_at").min().alias("window_start"),
        )
        hits = (
            windows.filter(pl.col("weighted") >= self.min_lenders - 1e-9)
            .sort("account_id", "issued_at")
            .group_by("account_id", maintain_order=True)
            .last()
            .rename({"issued_at": "window_end"})
        )
        hits = with_kinds(hits, ctx)  # the window's lenders counted by kind
        flags = hits.select(
            "account_id",
            pl.lit("MULTI_LENDER").alias("code"),
            pl.lit(self.severity).alias("severity"),
            (pl.col("weighted") / self.min_lenders).alias("score"),
            evidence(
                lenders=pl.col("lenders"),
                n_lenders=pl.col("n_lenders"),
                kinds=pl.col("kinds"),
                weighted_lenders=pl.col("weighted").round(3),
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
