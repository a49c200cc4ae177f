"""SCATTER_GATHER: money spread from one account through several others and gathered into one.

A *leg* is a transfer source -> intermediary followed, within ``gather_days``, by transfers
from that intermediary to a sink (not the source) that together carry at least
``min_forward_share`` of the first amount. Legs are grouped by (source, sink); a sliding
window of ``scatter_hours`` over the scatter transfers counts distinct intermediaries, and
the latest window with ``min_intermediaries`` or more is the finding, when at least
``min_new_share`` of its intermediaries were new relations of the source (never paid by it
before the scatter). Payroll (an employer paying the same employees, who then pay many
different shops) has no common sink and old relations, and stays clean.

Two tempos are searched by default, each with its own windows: *fast* (``scatter_hours``
48, ``gather_days`` 3: loan money moved out through mules within days) and *slow*
(``slow_scatter_hours`` 168, ``slow_gather_days`` 21: layering spread over a week and
gathered over weeks, as IBM AMLSim's scatter_gather typology does). A (source, sink) pair
found at both tempos is reported once, at the fast one; ``slow_scatter_hours = 0`` turns
the slow tempo off. The evidence names the tempo and the windows that fired.

``score`` (0..1, the scale shared by the transfer and linkage codes): the mean of four
signs, each 0..1: intermediaries (``n / (2 * min_intermediaries)``, capped), the share of
new relations, the share gathered, and the tempo (fast 1, slow 0.5). A fast scheme ranks
above the same scheme done slowly.

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
    """Transfers of ``who`` accounts with ``k``+ distinct ``other`` ends in two adjacent buckets
    (:func:`graphrisk.linkplan.bursty`, the rule the shard plan cuts the book with)."""
    import narwhals as nw

    from graphrisk.linkplan import bursty

    timed = tr.lazy().with_columns(pl.col("ts").dt.epoch("us").alias("us"))
    return (
        nw.to_native(bursty(nw.from_native(timed), who, other, seconds, k))
        .collect()
        .drop("us", "bucket")
    )


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
    slow_scatter_hours: float = param(
        168.0, "slow tempo: the scatter transfers lie within this many hours (0: off)", min=0.0
    )
    slow_gather_days: float = param(
        21.0, "slow tempo: days after receiving in which an intermediary forwards", min=0.1
    )
    severity: int = severity_param(2)

    def link_plan(self, inp: Any) -> Any:
        """Possible legs at every tempo (:func:`graphrisk.linkplan.scatter_edges`)."""
        import narwhals as nw

        from graphrisk import linkplan

        parts = [
            linkplan.scatter_edges(
                inp, hours, days, self.min_intermediaries, self.min_forward_share
            )
            for _name, hours, days in self.tempos()
        ]
        return nw.concat(parts, how="vertical")

    def tempos(self) -> list[tuple[str, float, float]]:
        """``(name, scatter_hours, gather_days)`` of each tempo searched, fastest first."""
        out = [("fast", self.scatter_hours, self.gather_days)]
        slow = ("slow", self.slow_scatter_hours, self.slow_gather_days)
        if self.slow_scatter_hours > 0 and slow[1:] != out[0][1:]:
            out.append(slow)
        return out

    def links(self, ctx: ScanContext) -> pl.DataFrame | None:
        """Source -- intermediary -- sink of the legs at every tempo whose (source, sink) has
        ``min_intermediaries`` of them (before the windows and shares are checked)."""
        legs = pl.concat(list(self._tempo_legs(ctx).values()))
        # a finding needs min_intermediaries legs of one (source, sink)
        many = (
            legs.group_by("source", "sink")
            .agg(pl.col("mid").n_unique().alias("n"))
            .filter(pl.col("n") >= self.min_intermediaries)
        )
        legs = legs.join(many, on=["source", "sink"], how="semi")
        return pl.concat(
            [
                legs.select(pl.col("source").alias("u"), pl.col("mid").alias("v")),
                legs.select(pl.col("mid").alias("u"), pl.col("sink").alias("v")),
            ]
        ).unique()

    def _tempo_legs(self, ctx: ScanContext) -> dict[str, pl.DataFrame]:
        """The legs of each tempo (cached per scan). When the slow windows hold the fast
        ones, every fast leg is a slow leg (a shorter scatter and gather, the same forward
        share of a smaller sum), so the fast search reads only the slow legs' accounts."""
        key = repr(("scatter_gather.legs", *sorted(self.get_params().items())))

        def make() -> dict[str, pl.DataFrame]:
            tempos = self.tempos()
            if len(tempos) == 1:
                return {tempos[0][0]: self._legs(ctx, *tempos[0][1:])}
            (fast, fh, fd), (slow, sh, sd) = tempos
            slow_legs = self._legs(ctx, sh, sd)
            keep = None
            if sh >= fh and sd >= fd:
                keep = pl.concat(
                    [slow_legs["source"], slow_legs["mid"], slow_legs["sink"]]
                ).unique()
            return {fast: self._legs(ctx, fh, fd, keep), slow: slow_legs}

        return ctx.cached(key, make)

    def _legs(
        self,
        ctx: ScanContext,
        scatter_hours: float,
        gather_days: float,
        keep: pl.Series | None = None,
    ) -> pl.DataFrame:
        """Legs source -> intermediary -> sink (node indices) carrying the forward share;
        with ``keep``, only transfers sent by those nodes are read."""
        g = ctx.graph  # integer node ids: joins and group-bys on integers, ids mapped at the end
        tr = g.transfers.select("src", "dst", "amount", "ts", "transfer_id")
        if keep is not None:
            tr = tr.filter(pl.col("src").is_in(keep.implode()))
        gather = timedelta(days=gather_days)
        k = self.min_intermediaries
        # cheap supersets first: senders with k+ recipients and receivers with k+ senders
        # inside two adjacent time buckets (a window of the right length lies in two buckets)
        src_ok = _bursty(tr, "src", "dst", scatter_hours * 3600, k)
        sink_ok = _bursty(tr, "dst", "src", scatter_hours * 3600 + gather_days * 86400, k)
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
        # again, among those only: a source needs k intermediaries that forward at all, a
        # sink k senders that received from a source with k (necessary for any finding; at
        # the slow tempo's wide windows this cuts the join below by an order of magnitude)
        for _ in range(2):
            scatter = _bursty(
                scatter.rename({"source": "src", "mid": "dst", "sent_at": "ts"}),
                "src", "dst", scatter_hours * 3600, k,
            ).rename({"src": "source", "dst": "mid", "ts": "sent_at"})  # fmt: skip
            forward = forward.join(scatter.select("mid").unique(), on="mid", how="semi")
            forward = _bursty(
                forward.rename({"mid": "src", "sink": "dst", "fwd_at": "ts"}),
                "dst", "src", scatter_hours * 3600 + gather_days * 86400, k,
            ).rename({"src": "mid", "dst": "sink", "ts": "fwd_at"})  # fmt: skip
            scatter = scatter.join(forward.select("mid").unique(), on="mid", how="semi")
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
        legs = self._tempo_legs(ctx)
        parts = [self._found(ctx, t, h, d, legs[t]) for t, h, d in self.tempos()]
        # a (source, sink) pair found at both tempos once, at the faster
        found = (
            pl.concat([p for p in parts if p.height])
            if any(p.height for p in parts)
            else pl.DataFrame()
        )
        if found.height == 0:
            return Findings(empty_flags())
        found = found.unique(["source", "sink"], keep="first", maintain_order=True)
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

    def _found(
        self,
        ctx: ScanContext,
        tempo: str,
        scatter_hours: float,
        gather_days: float,
        legs: pl.DataFrame,
    ) -> pl.DataFrame:
        """One row per (source, sink) scheme found at one tempo (``group_id, score,
        evidence``, the window and the roles' ids); empty when none."""
        g = ctx.graph
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
            return pl.DataFrame()
        windows = legs.rolling(
            "sent_at", period=f"{int(scatter_hours * 3600)}s", group_by=["source", "sink"]
        ).agg(pl.col("mid").n_unique().alias("n_mid"))
        best = (
            windows.filter(pl.col("n_mid") >= self.min_intermediaries)
            .sort("source", "sink", "sent_at")
            .group_by("source", "sink", maintain_order=True)
            .last()
            .rename({"sent_at": "scatter_end"})
        )
        span = timedelta(hours=scatter_hours)
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
            return pl.DataFrame()
        pace = 1.0 if tempo == "fast" else 0.5
        return found.with_columns(
            group_id("scatter_gather", pl.concat_list("source", "mids", "sink")).alias("group_id"),
            (
                (
                    (pl.col("n_mid") / (2 * self.min_intermediaries)).clip(upper_bound=1)
                    + pl.col("new_share")
                    + (pl.col("gathered") / pl.col("scattered")).clip(upper_bound=1)
                    + pace
                )
                / 4
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
                tempo=pl.lit(tempo),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                threshold=pl.struct(
                    pl.lit(self.min_intermediaries).alias("min_intermediaries"),
                    pl.lit(scatter_hours).alias("scatter_hours"),
                    pl.lit(gather_days).alias("gather_days"),
                    pl.lit(self.min_forward_share).alias("min_forward_share"),
                    pl.lit(self.min_new_share).alias("min_new_share"),
                ),
            ).alias("evidence"),
        )
