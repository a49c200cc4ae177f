"""TRANSFER_CYCLE: money goes round a loop of accounts and comes back inside a short window.

Ordinary transfer graphs are full of loops (friends who pay each other round, families,
colleagues), so a loop alone proves nothing. What marks a laundering loop is that its hops are
*fresh* relations: the two accounts had not transacted before the window (new relation) and
their relation does not go on for months afterwards (not a standing relation). Method:

1. Internal transfers of the lookback, times in days. A transfer is *fresh* when its pair of
   accounts (either direction) has no transfer earlier than ``window_days`` before it, all
   the pair's transfers lie within ``max_relation_days``, and either ``min_history_days`` of
   history precede it (the pair's absence was seen) or the pair never transacts again (at
   the start of the data a standing relation's earlier payments are simply not there).
   On the loop, a fresh hop must also be the only transfer from its sender to its receiver
   inside the loop's time span: laundering moves the money once per hop, whereas bursts of
   repeated payments between two people are ordinary.
2. The search graph is the fresh transfers plus "bridge" transfers between accounts that have
   fresh transfers within ``window_days``; it is pruned to edges inside a strongly connected
   component of a sliding two-window layer
   (:func:`~graphrisk.detectors._paths.window_scc_edges`).
3. A breadth-first array search (:func:`~graphrisk.detectors._paths.window_cycles`) lists
   the simple cycles of up to ``max_length`` hops whose transfers all lie inside
   ``window_days``, with at most a ``1 - min_new_share`` part of non-fresh hops, dropping a
   path as soon as its span reaches a second transfer of one of its fresh hops' pairs. Work
   is bounded per start transfer (``max_paths_per_start`` partial paths per step,
   ``max_cycles_per_start`` loops, ``max_branch`` out-transfers per path and step), so a
   dense burst of new relations costs time in proportion to its transfers and cannot hide
   a loop elsewhere; when a budget cuts, the paths that pass money on (next transfer later,
   amount close) are kept first. ``max_paths`` bounds memory (start transfers are searched
   in batches). ``search_capped`` in a loop's evidence says when a cap cut the search from
   that loop's start transfer (other loops through it may exist).
4. Each cycle is scored (0..1, the scale shared by the transfer and linkage codes): the mean
   of five signs, each 0..1: its fresh share; time-respecting (each hop after the previous
   one, the money coming back to where it started: 1 or 0); close amounts (every account
   but one passes on an amount within ``amount_tolerance`` of what it received: 1 or 0);
   a chain of new relations (``(fresh hops - 2) / 4``: a triangle of two new relations 0,
   six or more 1); and speed (``1 - span / window_days``).
   Loops have at least ``min_length`` (3) accounts: a payment and its repayment between two
   accounts is ordinary; with ``min_length=2`` a two-account loop counts when it is
   time-respecting with close amounts (a round trip). A loop that runs over a standing
   relation (a hop that is not fresh) needs ``min_fresh_beside_old`` (4) fresh hops: two
   or three new relations closed by an old one is a triangle or a square of friends of
   friends (triadic closure, the commonest loop of any social graph), whereas a chain of
   four or more new relations that comes back through an old one is not chance.

Every member of a cycle is flagged; the account that sent the earliest transfer is the
``origin`` (group role), the others ``member``. A member set keeps its best cycle only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors._paths import window_cycles, window_scc_edges
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

_DAY_US = 86_400_000_000


def fresh_transfers(
    tr: pl.DataFrame, window_days: float, max_relation_days: float, min_history_days: float
) -> pl.Series:
    """Boolean per transfer (``src``, ``dst``, ``t`` in days since history began): fresh.

    Fresh: the unordered pair had no transfer more than ``window_days`` before this one, all
    its transfers lie within ``max_relation_days``, and either ``min_history_days`` of history
    precede it (so the pair's absence was observed) or the pair never transacts again after
    the window (not a standing relation whose earlier payments fell before the lookback).

    Examples
    --------
    >>> tr = pl.DataFrame({"src": [0, 1, 0, 2, 4], "dst": [1, 0, 1, 3, 5],
    ...                    "t": [0.0, 40, 80, 95, 10]})
    >>> fresh_transfers(tr, 10, 60, 60).to_list()
    [False, False, False, True, True]
    """
    key = (
        pl.min_horizontal("src", "dst").cast(pl.UInt64) * (1 << 32)
        + pl.max_horizontal("src", "dst").cast(pl.UInt64)
    ).alias("pair")
    df = tr.select(key, "t")
    span = df.group_by("pair").agg(
        pl.col("t").min().alias("first"), pl.col("t").max().alias("last")
    )
    df = df.join(span, on="pair", how="left", maintain_order="left")
    seen = (pl.col("t") >= min_history_days) | (pl.col("last") <= pl.col("t") + window_days)
    fresh = (
        (pl.col("first") >= pl.col("t") - window_days)
        & (pl.col("last") - pl.col("first") <= max_relation_days)
        & seen
    )
    return df.select(fresh.alias("fresh"))["fresh"]


def _pair_neighbours(src: np.ndarray, dst: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    """Time of the previous and the next transfer of the same (src, dst) pair (or -inf / inf).

    Transfers must be sorted by time.
    """
    key = src.astype(np.int64) * (int(max(src.max(), dst.max())) + 1) + dst.astype(np.int64)
    order = np.argsort(key, kind="stable")  # time order kept inside a pair
    k, tt = key[order], t[order]
    same = k[1:] == k[:-1]
    prev = np.full(t.size, -np.inf)
    nxt = np.full(t.size, np.inf)
    prev[order[1:][same]] = tt[:-1][same]
    nxt[order[:-1][same]] = tt[1:][same]
    return prev, nxt


def _near_fresh(
    src: np.ndarray, dst: np.ndarray, t: np.ndarray, fresh: np.ndarray, window: float
) -> np.ndarray:
    """Non-fresh transfers whose two ends both have a fresh transfer within ``window`` days.

    Only these can bridge fresh hops on a loop (a loop never has two non-fresh hops in a row
    through an account without fresh transfers nearby in time).
    """
    node = np.concatenate([src[fresh], dst[fresh]])
    when = np.concatenate([t[fresh], t[fresh]])
    touched = np.zeros(int(max(src.max(), dst.max())) + 1, dtype=bool)
    touched[node] = True
    cand = np.flatnonzero(~fresh & touched[src] & touched[dst])
    span = float(t.max() - t.min()) + 4 * window + 1
    key = np.sort(node.astype(np.float64) * span + (when - t.min()))

    def near(v: np.ndarray) -> np.ndarray:
        base = v.astype(np.float64) * span + (t[cand] - t.min())
        order = np.argsort(base)  # sorted queries: cache-friendly look-ups
        out = np.empty(base.size, dtype=bool)
        q = base[order]
        out[order] = np.searchsorted(key, q + window, side="right") > np.searchsorted(
            key, q - window, side="left"
        )
        return out

    result = np.zeros(src.size, dtype=bool)
    result[cand] = near(src[cand]) & near(dst[cand])
    return result


@dataclass
class TransferCycle(Detector):
    """Money round a loop of ``min_length``..``max_length`` accounts, over fresh relations.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> loop = [("a", "b", 5000, "2026-03-01"), ("b", "c", 4900, "2026-03-02"),
    ...         ("c", "a", 4800, "2026-03-03")]
    >>> months = ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04"]
    >>> friends = [(s, d, 100, f"{m}-0{i}") for m in months
    ...            for i, (s, d) in enumerate([("x", "y"), ("y", "z"), ("z", "x")], 1)]
    >>> found = TransferCycle().detect(world(transfers=loop + friends))
    >>> found.flags.select("account_id", "code", "severity").rows()
    [('a', 'TRANSFER_CYCLE', 2), ('b', 'TRANSFER_CYCLE', 2), ('c', 'TRANSFER_CYCLE', 2)]
    >>> import json
    >>> json.loads(found.flags["evidence"][0])["path"]
    ['a', 'b', 'c', 'a']
    >>> found.groups.select("account_id", "role").rows()
    [('a', 'origin'), ('b', 'member'), ('c', 'member')]
    """

    name: ClassVar[str] = "transfer_cycle"
    codes: ClassVar[tuple[str, ...]] = ("TRANSFER_CYCLE",)
    tables: ClassVar[tuple[str, ...]] = ("transfers",)

    window_days: float = param(15.0, "all transfers of one loop lie within this many days", min=0.1)
    min_length: int = param(
        3,
        "shortest loop, in accounts (2 adds round trips, which friends settling up make too)",
        min=2,
        max=16,
    )
    max_length: int = param(12, "longest loop, in accounts", min=2, max=16)
    max_relation_days: float = param(
        60.0, "a hop is fresh when its pair's transfers span at most this many days", min=0.0
    )
    min_new_share: float = param(
        0.66,
        "least share of fresh (new, short-lived) relations among a loop's hops",
        min=0.0,
        max=1.0,
    )
    min_fresh_beside_old: int = param(
        4,
        "fresh hops a loop needs when one of its hops is a standing relation",
        min=1,
    )
    min_history_days: float = param(
        60.0, "history needed before a hop to call its relation new (else: not repeated)", min=0.0
    )
    amount_tolerance: float = param(
        0.1, "relative difference between what an account receives and passes on", min=0.0
    )
    max_branch: int = param(8, "fresh out-transfers followed per path and step", min=1)
    max_paths: int = param(
        500_000, "partial paths alive at once (memory cap; start edges go in batches)", min=1000
    )
    max_paths_per_start: int = param(
        32, "partial paths kept per start transfer and step (work budget)", min=1
    )
    max_cycles_per_start: int = param(2, "loops kept per start transfer (work budget)", min=1)
    severity: int = severity_param(2)

    def _search(self, ctx: ScanContext) -> tuple | None:
        """The internal transfers with ``t``, ``fresh`` and the mask of those the loop search
        follows (fresh or bridging, inside a strongly connected part of a window); ``None``
        when nothing is fresh."""
        g = ctx.graph
        origin = ctx.first_transfer(internal=True)
        if origin is None:
            return None
        # history begins at the lookback start or the first transfer read, whichever is later
        tr = g.transfers.filter(pl.col("internal")).with_columns(
            ((pl.col("ts") - pl.lit(origin)).dt.total_microseconds() / _DAY_US).alias("t")
        )
        tr = tr.with_columns(
            fresh_transfers(tr, self.window_days, self.max_relation_days, self.min_history_days)
        )
        if not tr["fresh"].any():
            return None
        src = tr["src"].to_numpy().astype(np.int64)
        dst = tr["dst"].to_numpy().astype(np.int64)
        t = tr["t"].to_numpy()
        fresh = tr["fresh"].to_numpy()
        max_old = int(np.floor(self.max_length * (1 - self.min_new_share) + 1e-9))
        # bridges: non-fresh transfers between two accounts that both have fresh transfers
        search = fresh.copy()
        if max_old > 0:
            search |= _near_fresh(src, dst, t, fresh, self.window_days)
        keep = np.zeros(src.size, dtype=bool)
        idx = np.flatnonzero(search)
        keep[idx] = window_scc_edges(src[idx], dst[idx], t[idx], g.nodes.height, self.window_days)
        return tr, src, dst, t, fresh, keep, max_old

    def link_plan(self, inp: Any) -> Any:
        """Fresh transfers and their bridges, trimmed (:func:`graphrisk.linkplan.cycle_edges`)."""
        from graphrisk import linkplan

        return linkplan.cycle_edges(
            inp, self.window_days, self.max_relation_days, self.min_history_days
        )

    def links(self, ctx: ScanContext) -> pl.DataFrame | None:
        """The transfers the loop search may follow: a loop never leaves them."""
        found = self._search(ctx)
        if found is None:
            return None
        tr, keep = found[0], found[5]
        return tr.filter(pl.Series(keep)).select(pl.col("src").alias("u"), pl.col("dst").alias("v"))

    def run(self, ctx: ScanContext) -> Findings:
        found = self._search(ctx)
        if found is None:
            return Findings(empty_flags())
        tr, src, dst, t, fresh, keep, max_old = found
        # neighbouring transfers of the same (sender, receiver) pair, for the single-hop rule
        prev_t, next_t = _pair_neighbours(src, dst, t)
        cyc = window_cycles(
            src,
            dst,
            t,
            fresh,
            window=self.window_days,
            max_len=self.max_length,
            max_old=max_old,
            max_branch=self.max_branch,
            max_old_branch=max(2, self.max_branch // 2),
            max_paths=self.max_paths,
            max_paths_per_start=self.max_paths_per_start,
            max_cycles_per_start=self.max_cycles_per_start,
            search=keep,
            prev_t=prev_t,
            next_t=next_t,
            amount=tr["amount"].to_numpy(),
            amount_tolerance=self.amount_tolerance,
        )
        if cyc.length.size == 0:
            return Findings(empty_flags())
        return self._findings(ctx, tr, cyc.edges, cyc.length, cyc.capped)

    def _findings(
        self,
        ctx: ScanContext,
        tr: pl.DataFrame,
        edges: np.ndarray,
        length: np.ndarray,
        cut: np.ndarray,
    ) -> Findings:
        n, width = edges.shape
        pos = np.tile(np.arange(width), n)
        cid = np.repeat(np.arange(n), width)
        flat = edges.ravel()
        valid = flat >= 0
        hops = pl.DataFrame(
            {
                "cycle": cid[valid],
                "pos": pos[valid],
                "edge": flat[valid],
                "capped": np.repeat(cut, width)[valid],
            },
            schema={"cycle": pl.Int64, "pos": pl.Int64, "edge": pl.UInt32, "capped": pl.Boolean},
        )
        info = tr.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("edge"),
            "src",
            "dst",
            "amount",
            "ts",
            "t",
            "transfer_id",
            "fresh",
        )
        ids = ctx.graph.nodes.select(pl.col("idx").alias("src"), pl.col("id").alias("src_id"))
        hops = (
            hops.join(info, on="edge", how="left")
            .join(ids, on="src", how="left")
            .sort("cycle", "pos")
        )
        # rotate each cycle to start at its earliest transfer
        hops = hops.with_columns(
            ((pl.col("pos") - pl.col("pos").get(pl.col("edge").arg_min())).over("cycle")).alias(
                "rot"
            ),
            pl.len().over("cycle").alias("length"),
        ).with_columns((pl.col("rot") % pl.col("length")).alias("rot"))
        hops = hops.sort("cycle", "rot")
        # a hop is the single transfer from its sender to its receiver inside the loop's window
        pair = [pl.col("src").alias("p_lo"), pl.col("dst").alias("p_hi")]
        hops = hops.with_columns(
            *pair,
            pl.col("ts").min().over("cycle").alias("c_start"),
            pl.col("ts").max().over("cycle").alias("c_end"),
        )
        keys = hops.select("p_lo", "p_hi").unique()
        pair_tr = tr.select(*pair, pl.col("ts").alias("ts_other")).join(keys, on=["p_lo", "p_hi"])
        in_window = (
            hops.select("cycle", "pos", "p_lo", "p_hi", "c_start", "c_end")
            .join(pair_tr, on=["p_lo", "p_hi"])
            .filter(pl.col("ts_other").is_between(pl.col("c_start"), pl.col("c_end")))
            .group_by("cycle", "pos")
            .agg(pl.len().alias("pair_in_window"))
        )
        hops = (
            hops.join(in_window, on=["cycle", "pos"], how="left")
            .with_columns((pl.col("fresh") & (pl.col("pair_in_window") == 1)).alias("fresh"))
            .sort("cycle", "rot")
        )
        prev_amount = pl.col("amount").shift(1).over("cycle")
        per_node_close = (
            (pl.col("amount") / prev_amount - 1).abs() <= self.amount_tolerance
        ).fill_null(False)
        cycles = hops.group_by("cycle", maintain_order=True).agg(
            pl.col("length").first(),
            pl.col("src_id").alias("path_ids"),
            pl.col("transfer_id").alias("transfers"),
            pl.col("amount").round(2).alias("amounts"),
            pl.col("ts").alias("times"),
            pl.col("ts").min().alias("window_start"),
            pl.col("ts").max().alias("window_end"),
            pl.col("fresh").mean().alias("new_share"),
            pl.col("fresh").sum().alias("n_fresh"),
            pl.col("capped").first(),
            (pl.col("edge").diff().fill_null(1) > 0).all().alias("time_respecting"),
            per_node_close.sum().alias("n_close"),
        )
        cycles = cycles.with_columns(
            (pl.col("n_close") >= pl.col("length") - 1).alias("amounts_close"),
        ).with_columns(
            (
                (
                    pl.col("new_share")
                    + pl.col("time_respecting").cast(pl.Float64)
                    + pl.col("amounts_close").cast(pl.Float64)
                    + ((pl.col("n_fresh") - 2) / 4).clip(0.0, 1.0)
                    + (
                        1
                        - (pl.col("window_end") - pl.col("window_start")).dt.total_seconds()
                        / (self.window_days * 86_400)
                    ).clip(0.0, 1.0)
                )
                / 5
            ).alias("score")
        )
        leans = pl.col("n_fresh") < pl.col("length")  # a hop over a standing relation
        cycles = cycles.filter(
            (pl.col("new_share") >= self.min_new_share - 1e-9)
            & (~leans | (pl.col("n_fresh") >= self.min_fresh_beside_old))
            & (pl.col("length") >= self.min_length)
            & ((pl.col("length") > 2) | (pl.col("time_respecting") & pl.col("amounts_close")))
        )
        if cycles.height == 0:
            return Findings(empty_flags())
        cycles = cycles.with_columns(
            group_id("transfer_cycle", pl.col("path_ids")).alias("group_id")
        )
        # one cycle per member set: the best score, then the latest, then the transfer ids
        cycles = (
            cycles.sort(
                ["group_id", "score", "window_end", "transfers"],
                descending=[False, True, True, False],
            )
            .group_by("group_id", maintain_order=True)
            .first()
        )
        cycles = cycles.with_columns(
            evidence(
                path=pl.concat_list(pl.col("path_ids"), pl.col("path_ids").list.first()),
                length=pl.col("length"),
                transfers=pl.col("transfers"),
                amounts=pl.col("amounts"),
                times=pl.col("times").list.eval(pl.element().dt.to_string("%Y-%m-%dT%H:%M:%S")),
                time_respecting=pl.col("time_respecting"),
                amounts_close=pl.col("amounts_close"),
                new_share=pl.col("new_share").round(3),
                search_capped=pl.col("capped"),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                threshold=self.threshold(
                    "window_days",
                    "min_length",
                    "max_length",
                    "min_new_share",
                    "min_fresh_beside_old",
                    "max_relation_days",
                    "min_history_days",
                    "amount_tolerance",
                ),
            ).alias("evidence")
        )
        members = (
            cycles.select(
                "group_id",
                "score",
                "evidence",
                "window_start",
                "window_end",
                pl.col("path_ids").alias("account_id"),
                pl.int_ranges(pl.col("path_ids").list.len()).alias("pos"),
            )
            .explode("account_id", "pos")
            .unique(["group_id", "account_id"], keep="first", maintain_order=True)
        )
        flags = members.select(
            "account_id",
            pl.lit("TRANSFER_CYCLE").alias("code"),
            pl.lit(self.severity).alias("severity"),
            pl.col("score").round(4),
            "group_id",
            "evidence",
            "window_start",
            "window_end",
        )
        groups = members.select(
            "group_id",
            pl.lit("transfer_cycle").alias("kind"),
            "account_id",
            pl.when(pl.col("pos") == 0)
            .then(pl.lit("origin"))
            .otherwise(pl.lit("member"))
            .alias("role"),
        )
        return Findings(flags, groups)
