"""SCATTER_GATHER: money spread from one account through several others and gathered into one.

A *leg* is a transfer source -> intermediary followed, within ``gather_days``, by transfers
from that intermediary to a sink (not the source) that together carry at least
``min_forward_share`` of the first amount. Legs are grouped by (source, sink); a sliding
window of ``scatter_hours`` over the scatter transfers counts distinct intermediaries, and
the latest window with ``min_intermediaries`` or more is the finding, when at least
``min_new_share`` of its intermediaries were new relations of the source (never paid by it
before the scatter). Payroll (an employer paying the same employees, who then pay many
different shops) has no common sink and old relations, and stays clean.

Source, intermediaries and sink are flagged (accounts only; external ends appear in evidence),
grouped as ``scatter_gather`` with roles ``source``, ``intermediary`` and ``sink``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import polars as pl

from graphrisk.context import ScanContext
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


def _bursty(tr: pl.DataFrame, who: str, other: str, seconds: float, k: int) -> pl.DataFrame:
    """Transfers of ``who`` accounts with ``k``+ distinct ``other`` ends in two adjacent buckets."""
    size = max(int(seconds * 1_000_000), 1)
    df = tr.with_columns((pl.col("ts").dt.epoch("us") // size).alias("bucket"))
    cnt = df.group_by(who, "bucket").agg(pl.col(other).n_unique().alias("c"))
    nxt = cnt.select(who, (pl.col("bucket") - 1).alias("bucket"), pl.col("c").alias("c_next"))
    prv = cnt.select(who, (pl.col("bucket") + 1).alias("bucket"), pl.col("c").alias("c_prev"))
    ok = (
        cnt.join(nxt, on=[who, "bucket"], how="left")
        .join(prv, on=[who, "bucket"], how="left")
        .filter(
            (pl.col("c") + pl.col("c_next").fill_null(0) >= k)
            | (pl.col("c") + pl.col("c_prev").fill_null(0) >= k)
        )
        .select(who, "bucket")
    )
    return df.join(ok, on=[who, "bucket"], how="semi").drop("bucket")


@dataclass
class ScatterGather(Detector):
    """A source scatters to ``min_intermediaries``+ accounts that forward it to one sink.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> mids = ["m1", "m2", "m3"]
    >>> tr = [("s", m, 3000, "2026-03-01T10:00") for m in mids]
    >>> tr += [(m, "k", 2950, "2026-03-02T10:00") for m in mids]
    >>> found = ScatterGather().detect(world(transfers=tr))
    >>> found.groups.select("account_id", "role").rows()
    [('k', 'sink'), ('m1', 'intermediary'), ('m2', 'intermediary'), ('m3', 'intermediary'), ('s', 'source')]
    >>> import json
    >>> json.loads(found.flags["evidence"][0])["paths"][0]
    ['s', 'm1', 'k']
    """

    name: ClassVar[str] = "scatter_gather"
    codes: ClassVar[tuple[str, ...]] = ("SCATTER_GATHER",)
    tables: ClassVar[tuple[str, ...]] = ("transfers",)

    scatter_hours: float = param(48.0, "the scatter transfers lie within this many hours", min=1.0)
    gather_days: float = param(
        3.0, "days after receiving in which an intermediary forwards", min=0.1
    )
    min_intermediaries: int = param(3, "distinct intermediaries that raise the flag", min=2)
    min_forward_share: float = param(
        0.8, "least share of what an intermediary received that it forwards to the sink", min=0.0
    )
    min_new_share: float = param(
        0.5, "least share of intermediaries that are new relations of the source", min=0.0, max=1.0
    )
    severity: int = severity_param(2)

    def link_plan(self, inp: Any) -> Any:
        """Possible legs (:func:`graphrisk.linkplan.scatter_edges`)."""
        from graphrisk import linkplan

        return linkplan.scatter_edges(
            inp,
            self.scatter_hours,
            self.gather_days,
            self.min_intermediaries,
            self.min_forward_share,
        )

    def links(self, ctx: ScanContext) -> pl.DataFrame | None:
        """Source -- intermediary -- sink of every leg of a source and sink with
        ``min_intermediaries`` intermediaries (legs of any other pair raise nothing)."""
        legs = self._legs(ctx)
        many = legs.group_by("source", "sink").agg(pl.col("mid").n_unique().alias("n"))
        legs = legs.join(
            many.filter(pl.col("n") >= self.min_intermediaries), on=["source", "sink"], how="semi"
        )
        return pl.concat(
            [
                legs.select(pl.col("source").alias("u"), pl.col("mid").alias("v")),
                legs.select(pl.col("mid").alias("u"), pl.col("sink").alias("v")),
            ]
        ).unique()

    def _legs(self, ctx: ScanContext) -> pl.DataFrame:
        """Legs source -> intermediary -> sink (node indices) carrying the forward share."""
        g = ctx.graph  # integer node ids: joins and group-bys on integers, ids mapped at the end
        tr = g.transfers.select("src", "dst", "amount", "ts", "transfer_id")
        gather = timedelta(days=self.gather_days)
        k = self.min_intermediaries
        # cheap supersets first: senders with k+ recipients and receivers with k+ senders
        # inside two adjacent time buckets (a window of the right length lies in two buckets)
        src_ok = _bursty(tr, "src", "dst", self.scatter_hours * 3600, k)
        sink_ok = _bursty(tr, "dst", "src", self.scatter_hours * 3600 + self.gather_days * 86400, k)
        scatter = src_ok.select(
            pl.col("src").alias("source"),
            pl.col("dst").alias("mid"),
            pl.col("amount").alias("sent"),
            pl.col("ts").alias("sent_at"),
            pl.col("transfer_id").alias("scatter_id"),
        )
        forward = sink_ok.select(
            pl.col("src").alias("mid"),
            pl.col("dst").alias("sink"),
            pl.col("amount").alias("fwd"),
            pl.col("ts").alias("fwd_at"),
            pl.col("transfer_id").alias("forward_id"),
        )
        scatter = scatter.join(forward.select("mid").unique(), on="mid", how="semi")
        forward = forward.join(scatter.select("mid").unique(), on="mid", how="semi")
        # new relation: the scatter transfer is the source's first payment to the intermediary
        pairs = scatter.select(pl.col("source").alias("src"), pl.col("mid").alias("dst")).unique()
        first = (
            tr.join(pairs, on=["src", "dst"], how="semi")
            .group_by("src", "dst")
            .agg(pl.col("ts").min().alias("first_paid"))
            .rename({"src": "source", "dst": "mid"})
        )
        scatter = scatter.join(first, on=["source", "mid"], how="left").with_columns(
            (pl.col("first_paid") >= pl.col("sent_at")).alias("new_relation")
        )
        legs = (
            scatter.lazy()
            .join(forward.lazy(), on="mid")
            .filter(
                (pl.col("sink") != pl.col("source"))
                & pl.col("fwd_at").is_between(pl.col("sent_at"), pl.col("sent_at") + gather)
            )
            .group_by("source", "mid", "scatter_id", "sink")
            .agg(
                pl.col("sent").first(),
                pl.col("sent_at").first(),
                pl.col("new_relation").first(),
                pl.col("fwd").sum(),
                pl.col("fwd_at").max(),
                pl.col("forward_id").sort(),
            )
            .filter(pl.col("fwd") >= self.min_forward_share * pl.col("sent"))
            .collect()
        )
        return legs

    def run(self, ctx: ScanContext) -> Findings:
        g = ctx.graph
        legs = self._legs(ctx)
        ids = g.nodes.select("idx", "id")
        for col in ("source", "mid", "sink"):
            legs = (
                legs.join(ids.rename({"idx": col}), on=col, how="left")
                .with_columns(pl.col("id").alias(col))
                .drop("id")
            )
        many = legs.group_by("source", "sink").agg(pl.col("mid").n_unique().alias("n"))
        legs = legs.join(
            many.filter(pl.col("n") >= self.min_intermediaries), on=["source", "sink"], how="semi"
        ).sort("source", "sink", "sent_at", "scatter_id")
        if legs.height == 0:
            return Findings(empty_flags())
        windows = legs.rolling(
            "sent_at", period=f"{int(self.scatter_hours * 3600)}s", group_by=["source", "sink"]
        ).agg(pl.col("mid").n_unique().alias("n_mid"))
        best = (
            windows.filter(pl.col("n_mid") >= self.min_intermediaries)
            .sort("source", "sink", "sent_at")
            .group_by("source", "sink", maintain_order=True)
            .last()
            .rename({"sent_at": "scatter_end"})
        )
        span = timedelta(hours=self.scatter_hours)
        sel = (
            legs.join(best.select("source", "sink", "scatter_end"), on=["source", "sink"])
            .filter(
                pl.col("sent_at").is_between(pl.col("scatter_end") - span, pl.col("scatter_end"))
            )
            .sort("source", "sink", "mid", "sent_at", "scatter_id")
            .unique(["source", "sink", "scatter_id"], keep="first", maintain_order=True)
        )
        found = (
            sel.group_by("source", "sink", maintain_order=True)
            .agg(
                pl.col("mid").unique().sort().alias("mids"),
                pl.col("mid").n_unique().alias("n_mid"),
                pl.concat_list("source", "mid", "sink").alias("paths"),
                pl.col("scatter_id").alias("scatter_transfers"),
                pl.col("forward_id")
                .list.explode(keep_nulls=False, empty_as_null=False)
                .alias("gather_transfers"),
                pl.col("sent").sum().round(2).alias("scattered"),
                pl.col("fwd").sum().round(2).alias("gathered"),
                pl.col("new_relation").mean().alias("new_share"),
                pl.col("sent_at").min().alias("window_start"),
                pl.col("fwd_at").max().alias("window_end"),
            )
            .filter(
                (pl.col("n_mid") >= self.min_intermediaries)
                & (pl.col("new_share") >= self.min_new_share)
            )
        )
        if found.height == 0:
            return Findings(empty_flags())
        found = found.with_columns(
            group_id("scatter_gather", pl.concat_list("source", "mids", "sink")).alias("group_id"),
            (
                pl.col("n_mid") / self.min_intermediaries
                + pl.col("new_share")
                + (pl.col("gathered") / pl.col("scattered")).clip(upper_bound=1)
            )
            .round(4)
            .alias("score"),
            evidence(
                source=pl.col("source"),
                sink=pl.col("sink"),
                intermediaries=pl.col("mids"),
                paths=pl.col("paths"),
                scatter_transfers=pl.col("scatter_transfers"),
                gather_transfers=pl.col("gather_transfers"),
                scattered=pl.col("scattered"),
                gathered=pl.col("gathered"),
                new_share=pl.col("new_share").round(3),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                threshold=self.threshold(
                    "min_intermediaries",
                    "scatter_hours",
                    "gather_days",
                    "min_forward_share",
                    "min_new_share",
                ),
            ).alias("evidence"),
        )
        return member_findings(
            found,
            ctx,
            "SCATTER_GATHER",
            "scatter_gather",
            [
                ("source", "source", self.severity),
                ("mids", "intermediary", self.severity),
                ("sink", "sink", self.severity),
            ],
            one_role_per_member=True,
        )
