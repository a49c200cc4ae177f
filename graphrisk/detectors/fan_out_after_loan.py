"""FAN_OUT_AFTER_LOAN: loan money scattered to many new accounts within days of the payout.

For every loan issued inside the lookback, the borrower's transfers in the ``window_days``
after ``issued_at`` are read. A recipient is *new* when the borrower's first transfer to it in
the lookback comes at or after the payout (so employees paid every month, landlords and
other standing payees never count). When less than ``min_history_days`` of transfers precede
the payout, absence cannot be observed, so a recipient then counts only if it is not paid
again after the window. The loan is flagged when at least ``min_recipients``
distinct new recipients together receive at least ``min_share`` of the loan amount.
Recipients may be accounts or external counterparties.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
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
class FanOutAfterLoan(Detector):
    """Within ``window_days`` of a payout, ``min_recipients``+ new recipients get ``min_share``+ of it.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> loan = [("a", "L1", 10000, "2026-03-01")]
    >>> out = [("a", f"r{i}", 1500, f"2026-03-0{2 + i % 2}") for i in range(5)]
    >>> flags = FanOutAfterLoan().detect(world(loans=loan, transfers=out)).flags
    >>> flags.select("account_id", "code", "severity").rows()
    [('a', 'FAN_OUT_AFTER_LOAN', 2)]
    >>> import json
    >>> json.loads(flags["evidence"][0])["recipients"]
    ['r0', 'r1', 'r2', 'r3', 'r4']
    """

    name: ClassVar[str] = "fan_out_after_loan"
    codes: ClassVar[tuple[str, ...]] = ("FAN_OUT_AFTER_LOAN",)
    tables: ClassVar[tuple[str, ...]] = ("loans", "transfers")

    window_days: float = param(3.0, "days after the payout in which the transfers count", min=0.1)
    min_recipients: int = param(5, "distinct new recipients that raise the flag", min=2)
    min_share: float = param(
        0.6, "least share of the loan amount sent to the new recipients", min=0.0, max=10.0
    )
    min_history_days: float = param(
        35.0, "history before a payout needed to call a recipient new (else: not paid again)"
    )
    severity: int = severity_param(2)

    def _legs(self, ctx: ScanContext) -> pl.DataFrame:
        """Transfers of a borrower to new recipients within the window after a loan."""
        g = ctx.graph  # integer node ids for the big joins; ids mapped on the few legs left
        loans = g.loans.filter(pl.col("issued_at") >= ctx.start).select(
            pl.col("acc").alias("src"),
            "account_id",
            "loan_id",
            "lender_id",
            pl.col("amount").alias("loan_amount"),
            "issued_at",
        )
        tr = g.transfers.select("src", "dst", "amount", "ts", "transfer_id")
        seen_from = ctx.first_transfer() or ctx.start
        window = timedelta(days=self.window_days)
        legs = (
            loans.lazy()
            .join(
                tr.lazy().join(loans.lazy().select("src").unique(), on="src", how="semi"), on="src"
            )
            .filter(pl.col("ts").is_between(pl.col("issued_at"), pl.col("issued_at") + window))
            .collect()
        )
        pairs = legs.select("src", "dst").unique()
        span = (
            tr.join(pairs, on=["src", "dst"], how="semi")
            .group_by("src", "dst")
            .agg(pl.col("ts").min().alias("first_paid"), pl.col("ts").max().alias("last_paid"))
        )
        history = pl.col("issued_at") - pl.lit(seen_from) >= timedelta(days=self.min_history_days)
        return legs.join(span, on=["src", "dst"], how="left").filter(
            (pl.col("first_paid") >= pl.col("issued_at"))
            & (history | (pl.col("last_paid") <= pl.col("issued_at") + window))
        )

    def run(self, ctx: ScanContext) -> Findings:
        g = ctx.graph
        legs = self._legs(ctx)
        ids = g.nodes.select(pl.col("idx").alias("dst"), pl.col("id").alias("recipient"))
        legs = legs.join(ids, on="dst", how="left")
        hits = (
            legs.sort("ts", "transfer_id")
            .group_by("account_id", "loan_id", maintain_order=True)
            .agg(
                pl.col("lender_id").first(),
                pl.col("loan_amount").first(),
                pl.col("issued_at").first().alias("window_start"),
                pl.col("ts").max().alias("window_end"),
                pl.col("recipient").n_unique().alias("n_recipients"),
                pl.col("recipient").unique().sort().alias("recipients"),
                pl.col("transfer_id").alias("transfers"),
                pl.col("amount").sum().alias("amount_sent"),
            )
            .with_columns((pl.col("amount_sent") / pl.col("loan_amount")).alias("share"))
            .filter(
                (pl.col("n_recipients") >= self.min_recipients)
                & (pl.col("share") >= self.min_share)
            )
        )
        flags = hits.select(
            "account_id",
            pl.lit("FAN_OUT_AFTER_LOAN").alias("code"),
            pl.lit(self.severity).alias("severity"),
            (
                (pl.col("n_recipients") / self.min_recipients).clip(upper_bound=3)
                * pl.col("share").clip(upper_bound=1.5)
            )
            .round(4)
            .alias("score"),
            evidence(
                loan_id=pl.col("loan_id"),
                lender=pl.col("lender_id"),
                loan_amount=pl.col("loan_amount").round(2),
                n_recipients=pl.col("n_recipients"),
                recipients=pl.col("recipients"),
                transfers=pl.col("transfers"),
                amount_sent=pl.col("amount_sent").round(2),
                share=pl.col("share").round(3),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                threshold=self.threshold("window_days", "min_recipients", "min_share"),
            ).alias("evidence"),
            "window_start",
            "window_end",
        )
        return Findings(flags)
