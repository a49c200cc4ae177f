"""ASSOCIATED_TRANSFER: heavy transfers to accounts linked by device or address (关联账户转账).

Two accounts are linked when they logged in on the same device (used by at most
``max_device_accounts`` accounts) or through the same address (used by at most
``max_ip_accounts`` accounts, so an office gateway or a carrier's address links nobody).
A sliding window of ``window_days`` ends at each outgoing transfer of a sender; inside it
the money sent to linked accounts is summed. The window is a hit when that sum reaches
``min_amount`` over ``min_transfers`` or more transfers and is at least ``min_share`` of
either the sender's loan money (loans issued from ``window_days`` before the window to its
end) or of everything the sender paid out in the window. A family passing small sums
round a shared tablet stays far below.

The sender and every linked recipient in the window are flagged; they share a
``group_id`` (kind ``associated_transfer``, roles ``sender`` and ``recipient``).

Each link is weighed by what it is made of, as RISK_PROXIMITY weighs ties
(:mod:`graphrisk.detectors._ties`, its default weights): a shared device 0.4, a shared
address 0.2 for two accounts (less for more), each halved when older than 90 days. The
evidence gives every recipient's ``tie`` (its parts and their sum). ``score`` (0..1, the
scale shared by the transfer and linkage codes) is the mean of three signs: the money
(``sent / (2 * min_amount)``, capped at 1), the larger share (of the loan money or of the
outflow, capped at 1) and the closest identity tie among the recipients (its sum over
device + address at full weight, 0.6): money to the account on the sender's own phone
ranks above the same money to an account met once on a shared address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors import _links, _ties
from graphrisk.detectors.base import (
    Detector,
    Findings,
    empty_flags,
    evidence,
    group_id,
    param,
    severity_param,
    window_json,
)


@dataclass
class AssociatedTransfer(Detector):
    """``min_amount`` or more sent to device/address-linked accounts within ``window_days``.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> ctx = world(
    ...     loans=[("a", "L1", 20000, "2026-01-01")],
    ...     devices=[("a", "D1", "2026-01-01"), ("b", "D1", "2026-01-02")],
    ...     transfers=[("a", "b", 9000, "2026-01-02"), ("a", "b", 9000, "2026-01-04")],
    ... )
    >>> flags = AssociatedTransfer().detect(ctx).flags
    >>> flags.select("account_id", "code", "severity").rows()
    [('a', 'ASSOCIATED_TRANSFER', 1), ('b', 'ASSOCIATED_TRANSFER', 1)]
    """

    name: ClassVar[str] = "associated_transfer"
    codes: ClassVar[tuple[str, ...]] = ("ASSOCIATED_TRANSFER",)
    tables: ClassVar[tuple[str, ...]] = ("transfers", "devices")

    window_days: int = param(7, "length of the sliding window, in days", min=1)
    min_amount: float = param(3000.0, "money sent to linked accounts in one window", min=0.0)
    min_share: float = param(
        0.5, "share of the sender's loan money or of its outflow sent to linked accounts", min=0.0
    )
    min_transfers: int = param(2, "transfers to linked accounts in one window", min=1)
    max_device_accounts: int = param(10, "a device used by more accounts links nobody", min=2)
    max_ip_accounts: int = param(10, "an address used by more accounts links nobody", min=2)
    severity: int = severity_param(1)

    def run(self, ctx: ScanContext) -> Findings:
        g = ctx.graph
        pairs = _links.both_ways(
            _links.links(ctx, self.max_device_accounts, self.max_ip_accounts, transfers=False)
        )
        pairs = pairs.group_by("src", "dst").agg(
            pl.col("kind").unique().sort().alias("kinds"), pl.col("via").min()
        )
        w = _ties.TieWeights()
        tie = _ties.ties(ctx, self.max_device_accounts, self.max_ip_accounts, 20, w).select(
            "a", "b", "device", "ip"
        )
        tie = _links.both_ways(tie).select(
            "src",
            "dst",
            pl.struct(
                "device", "ip", (pl.col("device") + pl.col("ip")).round(6).alias("closeness")
            ).alias("tie"),
        )
        pairs = pairs.join(tie, on=["src", "dst"], how="left")
        full_tie = w.device + w.ip
        out = g.transfers.filter(pl.col("src") < g.n_accounts)
        linked = out.join(pairs, on=["src", "dst"], how="inner")
        senders = (
            linked.group_by("src")
            .agg(pl.col("amount").sum(), pl.len())
            .filter((pl.col("amount") >= self.min_amount) & (pl.col("len") >= self.min_transfers))[
                "src"
            ]
        )
        if senders.is_empty():
            return Findings(empty_flags())
        stream = (
            out.filter(pl.col("src").is_in(senders.implode()))
            .join(pairs, on=["src", "dst"], how="left")
            .with_columns(pl.col("kinds").is_not_null().alias("linked"))
            .sort("src", "ts", "transfer_id")
        )
        lk = pl.col("linked")
        win = stream.rolling("ts", period=f"{self.window_days}d", group_by="src").agg(
            pl.col("amount").sum().alias("outflow"),
            pl.col("amount").filter(lk).sum().alias("sent"),
            lk.sum().alias("n_transfers"),
            pl.col("ts").filter(lk).min().alias("window_start"),
            pl.col("dst").filter(lk).alias("dst"),
            pl.col("amount").filter(lk).alias("amt"),
            pl.col("kinds").filter(lk).alias("kinds"),
            pl.col("tie").filter(lk).alias("ties"),
        )
        win = win.filter(
            (pl.col("sent") >= self.min_amount) & (pl.col("n_transfers") >= self.min_transfers)
        ).rename({"ts": "window_end", "src": "acc"})
        loans = g.loans.select("acc", "issued_at", "amount", "loan_id")
        back = timedelta(days=self.window_days)
        money = (
            win.select("acc", "window_end")
            .unique()
            .join(loans, on="acc")
            .filter(
                pl.col("issued_at").is_between(
                    pl.col("window_end") - 2 * back, pl.col("window_end")
                )
            )
            .group_by("acc", "window_end")
            .agg(
                pl.col("amount").sum().alias("loan_money"), pl.col("loan_id").sort().alias("loans")
            )
        )
        win = win.join(money, on=["acc", "window_end"], how="left").with_columns(
            pl.col("loan_money").fill_null(0.0),
            pl.col("loans").fill_null([]),
            (pl.col("sent") / pl.col("outflow")).alias("share_outflow"),
            pl.when(pl.col("loan_money") > 0)
            .then(pl.col("sent") / pl.col("loan_money"))
            .otherwise(0.0)
            .alias("share_loan"),
        )
        hits = (
            win.filter(
                (pl.col("share_outflow") >= self.min_share)
                | (pl.col("share_loan") >= self.min_share)
            )
            .sort("acc", "sent", "window_end")
            .group_by("acc", maintain_order=True)
            .last()
        )
        if hits.is_empty():
            return Findings(empty_flags())
        per_dst = (
            hits.select("acc", "dst", "amt", "kinds", "ties")
            .explode("dst", "amt", "kinds", "ties")
            .group_by("acc", "dst")
            .agg(
                pl.col("amt").sum().round(2).alias("amount"),
                pl.len().alias("n_transfers"),
                pl.col("kinds").first(),
                pl.col("ties").first().alias("tie"),
            )
            .with_columns(
                _links.ids(ctx, "dst").alias("recipient"),
                _links.ids(ctx, "acc").alias("sender"),
            )
            .sort("acc", "recipient")
        )
        rec = per_dst.group_by("acc", maintain_order=True).agg(
            pl.struct(
                pl.col("recipient").alias("account_id"),
                pl.col("kinds").alias("link"),
                "tie",
                "amount",
                "n_transfers",
            ).alias("recipients"),
            pl.col("recipient").alias("members"),
            pl.col("sender").first(),
            pl.col("tie").struct.field("closeness").max().alias("closest"),
        )
        hits = hits.join(rec, on="acc").with_columns(
            group_id(
                "associated_transfer", pl.concat_list(pl.col("members"), pl.col("sender"))
            ).alias("group_id")
        )
        thr = pl.struct(
            pl.lit(self.window_days).alias("window_days"),
            pl.lit(self.min_amount).alias("min_amount"),
            pl.lit(self.min_share).alias("min_share"),
            pl.lit(self.min_transfers).alias("min_transfers"),
            pl.lit(self.max_device_accounts).alias("max_device_accounts"),
            pl.lit(self.max_ip_accounts).alias("max_ip_accounts"),
        )
        common = {
            "sent": pl.col("sent").round(2),
            "n_transfers": pl.col("n_transfers"),
            "outflow": pl.col("outflow").round(2),
            "loan_money": pl.col("loan_money").round(2),
            "loans": pl.col("loans"),
            "share_outflow": pl.col("share_outflow").round(4),
            "share_loan": pl.col("share_loan").round(4),
            "window": window_json(pl.col("window_start"), pl.col("window_end")),
            "threshold": thr,
        }
        score = (
            (
                (
                    (pl.col("sent") / (2 * max(self.min_amount, 1.0))).clip(upper_bound=1.0)
                    + pl.max_horizontal("share_outflow", "share_loan").clip(upper_bound=1.0)
                    + (pl.col("closest").fill_null(0.0) / full_tie).clip(upper_bound=1.0)
                )
                / 3
            )
            .round(6)
            .cast(pl.Float64)
            .alias("score")
        )
        sender_flags = hits.select(
            pl.col("sender").alias("account_id"),
            score,
            "group_id",
            evidence(role=pl.lit("sender"), recipients=pl.col("recipients"), **common).alias(
                "evidence"
            ),
            "window_start",
            "window_end",
        )
        recv = per_dst.join(
            hits.select(
                "acc",
                "group_id",
                "closest",
                "sent",
                "n_transfers",
                "outflow",
                "loan_money",
                "loans",
                "share_outflow",
                "share_loan",
                "window_start",
                "window_end",
            ),
            on="acc",
            suffix="_all",
        )
        recv_flags = recv.select(
            pl.col("recipient").alias("account_id"),
            score,
            "group_id",
            evidence(
                role=pl.lit("recipient"),
                sender=pl.col("sender"),
                link=pl.col("kinds"),
                tie=pl.col("tie"),
                received=pl.col("amount"),
                received_transfers=pl.col("n_transfers"),
                **{**common, "n_transfers": pl.col("n_transfers_all")},
            ).alias("evidence"),
            "window_start",
            "window_end",
        )
        flags = pl.concat([sender_flags, recv_flags]).with_columns(
            pl.lit("ASSOCIATED_TRANSFER").alias("code"), pl.lit(self.severity).alias("severity")
        )
        groups = pl.concat(
            [
                sender_flags.select("group_id", "account_id", pl.lit("sender").alias("role")),
                recv_flags.select("group_id", "account_id", pl.lit("recipient").alias("role")),
            ]
        ).with_columns(pl.lit("associated_transfer").alias("kind"))
        return Findings(flags, groups)
