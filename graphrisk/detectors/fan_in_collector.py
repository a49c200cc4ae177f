"""FAN_IN_COLLECTOR: one account collects loan money from many linked borrowers.

A *feed* is a borrower passing an account at least ``min_share`` of a loan within
``max_lag_days`` after that loan's payout (the transfers to that account in the lag are
summed, so a loan passed on in two parts counts). For each receiving account, a sliding
window of ``window_days`` over its feeds counts distinct feeding borrowers; the latest window
with ``min_feeders`` or more is the finding.

Merchants also receive from many people, some of whom borrowed to buy; what sets a collector
apart is that its feeders are *linked*: a device shared with the collector or with another
feeder. At least ``min_linked_share`` of the feeders must be linked. Feeders paying the
collector for the first time (new relations) raise the score, as do linked feeders.
The collector gets ``severity`` (3), each feeder ``feeder_severity`` (2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors import _links
from graphrisk.detectors.base import (
    Detector,
    Findings,
    empty_flags,
    evidence,
    group_id,
    member_findings,
    param,
    severity_param,
    window_json,
)


@dataclass
class FanInCollector(Detector):
    """``min_feeders``+ linked borrowers pass one account their loan money within days.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> feeders = ["f1", "f2", "f3", "f4"]
    >>> loans = [(f, "L1", 5000, f"2026-03-0{i + 1}") for i, f in enumerate(feeders)]
    >>> pay = [(f, "c", 4000, f"2026-03-0{i + 2}") for i, f in enumerate(feeders)]
    >>> dev = [(f, "d1", "2026-02-01") for f in feeders] + [("c", "d1", "2026-02-01")]
    >>> found = FanInCollector().detect(world(loans=loans, transfers=pay, devices=dev))
    >>> found.flags.select("account_id", "severity").rows()
    [('c', 3), ('f1', 2), ('f2', 2), ('f3', 2), ('f4', 2)]
    >>> found.groups["role"].to_list()
    ['collector', 'feeder', 'feeder', 'feeder', 'feeder']
    """

    name: ClassVar[str] = "fan_in_collector"
    codes: ClassVar[tuple[str, ...]] = ("FAN_IN_COLLECTOR",)
    tables: ClassVar[tuple[str, ...]] = ("loans", "transfers")

    window_days: float = param(30.0, "sliding window over the feeds, in days", min=1.0)
    min_feeders: int = param(4, "distinct feeding borrowers inside one window", min=2)
    max_lag_days: float = param(2.0, "days after a payout in which the feed counts", min=0.1)
    min_share: float = param(0.5, "least share of the loan passed to the collector", min=0.0)
    min_linked_share: float = param(
        0.5,
        "least share of feeders sharing a device with the collector or a feeder",
        min=0.0,
        max=1.0,
    )
    max_device_accounts: int = param(50, "devices used by more accounts do not link", min=2)
    severity: int = severity_param(3, "the collector's flag")
    feeder_severity: int = severity_param(2, "each feeder's flag")

    def link_plan(self, inp: Any) -> Any:
        """Feeds of collectors (:func:`graphrisk.linkplan.feed_edges`)."""
        from graphrisk import linkplan

        return linkplan.feed_edges(inp, self.max_lag_days, self.min_share, self.min_feeders)

    def links(self, ctx: ScanContext) -> pl.DataFrame | None:
        """Feeder -- collector of every feed of fresh loan money to a collector of several."""
        feeds = self._feeds(ctx)
        return feeds.select(pl.col("feeder").alias("u"), pl.col("collector").alias("v")).unique()

    def _feeds(self, ctx: ScanContext) -> pl.DataFrame:
        """Loan money passed on within the lag to collectors fed by ``min_feeders`` borrowers
        (node indices), with whether the relation was new."""
        g = ctx.graph  # integer node ids for the big joins; ids mapped on the feeds left
        loans = g.loans.filter(pl.col("issued_at") >= ctx.start).select(
            pl.col("acc").alias("feeder"),
            "loan_id",
            pl.col("amount").alias("loan_amount"),
            "issued_at",
        )
        tr = g.transfers.select(
            pl.col("src").alias("feeder"),
            pl.col("dst").alias("collector"),
            "amount",
            "ts",
            "transfer_id",
        )
        lag = timedelta(days=self.max_lag_days)
        feeds = (
            loans.lazy()
            .join(
                tr.lazy().join(loans.lazy().select("feeder").unique(), on="feeder", how="semi"),
                on="feeder",
            )
            .filter(pl.col("ts").is_between(pl.col("issued_at"), pl.col("issued_at") + lag))
            .group_by("collector", "feeder", "loan_id")
            .agg(
                pl.col("loan_amount").first(),
                pl.col("issued_at").first(),
                pl.col("ts").max().alias("fed_at"),
                pl.col("amount").sum().alias("fed"),
                pl.col("transfer_id").sort().alias("transfers"),
            )
            .filter(pl.col("fed") >= self.min_share * pl.col("loan_amount"))
            .collect()
        )
        many = feeds.group_by("collector").agg(pl.col("feeder").n_unique().alias("n"))
        feeds = feeds.join(many.filter(pl.col("n") >= self.min_feeders), on="collector", how="semi")
        first = (
            tr.join(
                feeds.select("feeder", "collector").unique(), on=["feeder", "collector"], how="semi"
            )
            .group_by("feeder", "collector")
            .agg(pl.col("ts").min().alias("first_paid"))
        )
        return feeds.join(first, on=["feeder", "collector"], how="left").with_columns(
            (pl.col("first_paid") >= pl.col("issued_at")).alias("new_relation")
        )

    def run(self, ctx: ScanContext) -> Findings:
        g = ctx.graph
        feeds = self._feeds(ctx)
        ids = g.nodes.select("idx", "id")
        for col in ("feeder", "collector"):
            feeds = (
                feeds.join(ids.rename({"idx": col}), on=col, how="left")
                .with_columns(pl.col("id").alias(col))
                .drop("id")
            )
        many = feeds.group_by("collector").agg(pl.col("feeder").n_unique().alias("n"))
        feeds = feeds.join(
            many.filter(pl.col("n") >= self.min_feeders), on="collector", how="semi"
        ).sort("collector", "fed_at", "feeder", "loan_id")
        if feeds.height == 0:
            return Findings(empty_flags())
        windows = feeds.rolling(
            "fed_at", period=f"{int(self.window_days * 86400)}s", group_by="collector"
        ).agg(pl.col("feeder").n_unique().alias("n_feeders"))
        best = (
            windows.filter(pl.col("n_feeders") >= self.min_feeders)
            .sort("collector", "fed_at")
            .group_by("collector", maintain_order=True)
            .last()
            .rename({"fed_at": "window_end"})
        )
        span = timedelta(days=self.window_days)
        members = (
            feeds.join(best.select("collector", "window_end"), on="collector")
            .filter(pl.col("fed_at").is_between(pl.col("window_end") - span, pl.col("window_end")))
            .sort("collector", "feeder", "fed_at")
        )
        members = self._linked(ctx, members)
        schemes = (
            members.group_by("collector", maintain_order=True)
            .agg(
                pl.col("feeder").unique().sort().alias("feeders"),
                pl.col("feeder").n_unique().alias("n_feeders"),
                pl.col("loan_id").sort().alias("loans"),
                pl.col("transfers")
                .list.explode(keep_nulls=False, empty_as_null=False)
                .sort()
                .alias("transfers"),
                pl.col("fed").sum().round(2).alias("amount"),
                pl.col("linked").mean().alias("linked_share"),
                pl.col("new_relation").mean().alias("new_share"),
                pl.col("issued_at").min().alias("window_start"),
                pl.col("window_end").first(),
            )
            .filter(
                (pl.col("n_feeders") >= self.min_feeders)
                & (pl.col("linked_share") >= self.min_linked_share)
            )
        )
        if schemes.height == 0:
            return Findings(empty_flags())
        schemes = schemes.with_columns(
            group_id("collector_scheme", pl.concat_list("collector", "feeders")).alias("group_id"),
            (
                pl.col("n_feeders") / self.min_feeders
                + pl.col("linked_share")
                + 0.5 * pl.col("new_share")
            )
            .round(4)
            .alias("score"),
            evidence(
                collector=pl.col("collector"),
                feeders=pl.col("feeders"),
                n_feeders=pl.col("n_feeders"),
                loans=pl.col("loans"),
                transfers=pl.col("transfers"),
                amount=pl.col("amount"),
                linked_share=pl.col("linked_share").round(3),
                new_share=pl.col("new_share").round(3),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                threshold=self.threshold(
                    "min_feeders", "window_days", "max_lag_days", "min_share", "min_linked_share"
                ),
            ).alias("evidence"),
        )
        return member_findings(
            schemes,
            ctx,
            "FAN_IN_COLLECTOR",
            "collector_scheme",
            [
                ("collector", "collector", self.severity),
                ("feeders", "feeder", self.feeder_severity),
            ],
        )

    def _linked(self, ctx: ScanContext, members: pl.DataFrame) -> pl.DataFrame:
        """Add ``linked``: the feeder shares a device with its collector or another feeder."""
        people = pl.concat(
            [
                members.select("collector", pl.col("feeder").alias("account_id")),
                members.select("collector", pl.col("collector").alias("account_id")),
            ]
        ).unique()
        devices = ctx.devices.select("account_id", "device_id")
        dev = devices.join(people.select("account_id").unique(), on="account_id", how="semi")
        dev = dev.unique()
        # devices used by too many accounts overall (public terminals) do not link
        busy = _links.device_accounts(ctx, dev["device_id"]).filter(
            pl.col("k") > self.max_device_accounts
        )
        dev = dev.join(busy.select("device_id"), on="device_id", how="anti")
        used = people.join(dev, on="account_id")
        shared = (
            used.group_by("collector", "device_id")
            .agg(pl.col("account_id").n_unique().alias("k"))
            .filter(pl.col("k") >= 2)
        )
        linked = (
            used.join(shared, on=["collector", "device_id"], how="semi")
            .select("collector", pl.col("account_id").alias("feeder"))
            .unique()
            .with_columns(pl.lit(True).alias("linked"))
        )
        return members.join(linked, on=["collector", "feeder"], how="left").with_columns(
            pl.col("linked").fill_null(False)
        )
