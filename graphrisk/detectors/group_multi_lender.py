"""GROUP_MULTI_LENDER: linked accounts borrow from many lenders together, each alone ordinary.

Groups. Accounts are joined by a shared device (used by at most ``max_device_accounts``
accounts), a shared rare address (at most ``max_ip_accounts``, so an office gateway links
nobody) transfers between accounts that both carry such an identity link (money
between people who share devices or addresses; the population's friend transfers alone
make no group), and *new money relations*: ``fresh_min_transfers`` or more transfers
between two accounts, all within ``fresh_relation_days``, the first of them at least
``fresh_history_days`` into the lookback (older transfers would have been seen), whatever
the accounts share (a ring that keeps to its own phones and homes and only moves money).
Links are weighted: ``device_weight`` per shared device, ``ip_weight`` per shared address,
``transfer_weight`` per identity-linked pair that sent money, ``fresh_weight`` per new money
relation. A new relation weighs half an identity-linked pair's transfer, so new friends met
by chance seldom make a community that borrows like a ring; but at the default
``resolution`` a ring held together only by new relations to its organiser stays one
community up to about five members, fewer when a member also has a new friend elsewhere.
So each organiser's *star* is a candidate group too (``stars``): an account with new
money relations to ``min_members - 1`` or more accounts, and to no fewer than any of them
has, with all of them, unless one community already holds them all.
Components that cannot hold a flagged group (fewer than ``min_members`` accounts, or fewer
than ``min_lenders`` distinct lenders since the start of the lookback) are dropped. The
others, when larger than ``max_component`` accounts (default: all of them), are split by
Leiden with the Constant Potts Model (``resolution``; igraph's implementation, seeded,
deterministic; one call per component, so a component is split the same way whatever else
is in the book or the shard), which keeps only communities denser than the
resolution: two parts joined by links of weight ``w`` stay together only when ``w`` exceeds
``resolution`` times the product of their sizes. Devices hold a group together; with the
defaults one friend transfer (weight 1) does not join a family of three (shared home device
and address) to a ring of four or more, nor two families of four, even in a small component. Communities with ``min_members`` to
``max_group`` accounts are kept; they are cached on the scan context
(``group_multi_lender.communities``); an account may be in a community and in a star.

Borrowers. A member that shares no device or address with another member borrowing in the
same window (tied to them by money alone) is one of the window's borrowers only when it
borrowed from ``money_member_min_lenders`` or more lenders in the lookback: each member of
a ring that only moves money borrows from several lenders, a new friend of one member who
took one loan is listed as ``linked``, not flagged, and its lender does not count.

Lending. A sliding window of ``window_days`` ends at each loan of a group; a window
qualifies when inside it the members together borrow from ``min_lenders`` or more distinct
lenders while no member alone borrows from more than ``member_max_lenders`` (one more and
MULTI_LENDER, default 5, would flag that member itself). Every qualifying window counts (a
group may qualify twice, months apart): each member that borrowed in one is flagged, with
the latest qualifying window it borrowed in as its evidence (lenders, loans and per-member
figures of that window). The other members of the group are listed with role ``linked``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import igraph as ig
import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from graphrisk.context import ScanContext
from graphrisk.detectors import _links
from graphrisk.detectors._kinds import with_kinds
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
class GroupMultiLender(Detector):
    """Linked accounts borrowing from ``min_lenders`` lenders together within ``window_days``.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> members = ["a", "b", "c", "d"]
    >>> devices = [(m, "D1", "2026-01-01") for m in members]
    >>> loans = [(m, f"L{2 * i + j}", 1000, f"2026-01-{2 * i + j + 2:02d}")
    ...          for i, m in enumerate(members) for j in range(2)]
    >>> found = GroupMultiLender().detect(world(devices=devices, loans=loans))
    >>> sorted(found.flags["account_id"])
    ['a', 'b', 'c', 'd']
    >>> found.groups["kind"].unique().to_list()
    ['lending_group']
    """

    name: ClassVar[str] = "group_multi_lender"
    codes: ClassVar[tuple[str, ...]] = ("GROUP_MULTI_LENDER",)
    tables: ClassVar[tuple[str, ...]] = ("loans",)

    window_days: int = param(30, "length of the sliding window, in days", min=1)
    min_lenders: int = param(8, "distinct lenders of the group inside one window", min=2)
    member_max_lenders: int = param(
        4, "most lenders of any one member in that window (MULTI_LENDER's threshold - 1)", min=1
    )
    min_members: int = param(3, "smallest group", min=2)
    max_group: int = param(30, "largest group (larger communities are not one group)", min=2)
    max_component: int = param(2, "components larger than this are split by Leiden", min=2)
    resolution: float = param(0.1, "Leiden CPM resolution: least link weight per pair", min=0.0)
    device_weight: float = param(10.0, "link weight of one shared device", min=0.0)
    ip_weight: float = param(5.0, "link weight of one shared address", min=0.0)
    transfer_weight: float = param(1.0, "link weight of a pair that transferred money", min=0.0)
    fresh_weight: float = param(
        0.5, "link weight of a new money relation (shared identity or not)", min=0.0
    )
    fresh_min_transfers: int = param(2, "transfers a new money relation needs to link", min=1)
    fresh_relation_days: float = param(
        60.0, "a money relation is new when its transfers span at most this many days", min=0.0
    )
    fresh_history_days: float = param(
        60.0, "history before a relation's first transfer needed to call it new", min=0.0
    )
    money_member_min_lenders: int = param(
        2,
        "lenders (in the lookback) a member must borrow from to count as a borrower when it"
        " shares no device or address with another member borrowing in the window; 1: all",
        min=1,
    )
    max_device_accounts: int = param(10, "a device used by more accounts links nobody", min=2)
    max_ip_accounts: int = param(10, "an address used by more accounts links nobody", min=2)
    seed: int = param(7, "seed of Leiden (the result is deterministic for a seed)", min=0)
    stars: bool = param(
        True, "also check an organiser with its new money relations (stars Leiden splits)"
    )
    max_listed_links: int = param(50, "links listed in the evidence", min=1)
    severity: int = severity_param(2)

    # -- groups ---------------------------------------------------------------------------

    def communities(self, ctx: ScanContext) -> pl.DataFrame:
        """``acc``, ``comm`` of every account in a kept community (cached per parameters)."""
        key = (
            "group_multi_lender.communities",
            self.max_device_accounts,
            self.max_ip_accounts,
            self.device_weight,
            self.ip_weight,
            self.transfer_weight,
            self.fresh_weight,
            self.fresh_min_transfers,
            self.fresh_relation_days,
            self.fresh_history_days,
            self.max_component,
            self.resolution,
            self.seed,
            self.stars,
            self.min_members,
            self.max_group,
            self.min_lenders,
        )
        return ctx.cached(repr(key), lambda: self._communities(ctx))

    def _edges(self, ctx: ScanContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weighted undirected edges ``a < b`` (int64, int64, float64), one per linked pair."""
        n = ctx.graph.n_accounts
        parts = [
            (_links.hub_pairs(ctx, "dev", self.max_device_accounts), self.device_weight),
            (_links.hub_pairs(ctx, "ip", self.max_ip_accounts), self.ip_weight),
        ]
        tied = np.zeros(n, dtype=bool)  # accounts with a device or address link
        cols: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for pairs, weight in parts:
            a = pairs["a"].to_numpy().astype(np.int64)
            b = pairs["b"].to_numpy().astype(np.int64)
            tied[a] = True
            tied[b] = True
            if weight > 0:
                cols.append((a, b, weight * pairs["n"].to_numpy().astype(np.float64)))
        if self.transfer_weight > 0:
            tr = _links.transfer_pairs(ctx)
            a = tr["a"].to_numpy().astype(np.int64)
            b = tr["b"].to_numpy().astype(np.int64)
            keep = tied[a] & tied[b]  # money between identity-linked accounts only
            cols.append((a[keep], b[keep], np.full(int(keep.sum()), self.transfer_weight)))
        if self.fresh_weight > 0:
            fr = self._fresh_pairs(ctx)
            a = fr["a"].to_numpy().astype(np.int64)
            b = fr["b"].to_numpy().astype(np.int64)
            cols.append((a, b, np.full(a.size, self.fresh_weight)))
        if not cols:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        a = np.concatenate([c[0] for c in cols])
        b = np.concatenate([c[1] for c in cols])
        w = np.concatenate([c[2] for c in cols])
        m = sp.coo_matrix((w, (a, b)), shape=(n, n)).tocsr()  # sums the kinds of a pair
        m.sum_duplicates()
        m = m.tocoo()
        return m.row.astype(np.int64), m.col.astype(np.int64), m.data.astype(np.float64)

    def _fresh_pairs(self, ctx: ScanContext) -> pl.DataFrame:
        """``a < b``: new money relations, ``fresh_min_transfers`` or more transfers (either
        way) spanning at most ``fresh_relation_days`` and starting ``fresh_history_days`` or
        more after the lookback's start (so older transfers would have been seen)."""
        key = (
            "group_multi_lender.fresh_pairs",
            self.fresh_min_transfers,
            self.fresh_relation_days,
            self.fresh_history_days,
        )
        return ctx.cached(repr(key), lambda: self._find_fresh_pairs(ctx))

    def _find_fresh_pairs(self, ctx: ScanContext) -> pl.DataFrame:
        t = ctx.graph.transfers.filter(pl.col("internal") & (pl.col("src") != pl.col("dst")))
        day_us = 86_400_000_000  # in microseconds, as the link plan counts
        us = (pl.col("ts") - pl.lit(ctx.start)).dt.total_microseconds()
        return (
            t.select(
                pl.min_horizontal("src", "dst").alias("a"),
                pl.max_horizontal("src", "dst").alias("b"),
                us.alias("t"),
            )
            .group_by("a", "b")
            .agg(
                pl.len().alias("n"),
                pl.col("t").min().alias("first"),
                pl.col("t").max().alias("last"),
            )
            .filter(
                (pl.col("n") >= self.fresh_min_transfers)
                & (pl.col("last") - pl.col("first") <= self.fresh_relation_days * day_us)
                & (pl.col("first") >= self.fresh_history_days * day_us)
            )
            .select("a", "b")
        )

    def link_plan(self, inp: Any) -> Any:
        """Money between identity-linked accounts
        (:func:`graphrisk.linkplan.tied_transfer_edges`) and new money relations
        (:func:`graphrisk.linkplan.fresh_relation_edges`)."""
        import narwhals as nw

        from graphrisk import linkplan

        parts = []
        if self.transfer_weight > 0:
            parts.append(
                linkplan.tied_transfer_edges(inp, self.max_device_accounts, self.max_ip_accounts)
            )
        if self.fresh_weight > 0:
            parts.append(
                linkplan.fresh_relation_edges(
                    inp,
                    self.fresh_min_transfers,
                    self.fresh_relation_days,
                    self.fresh_history_days,
                )
            )
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else nw.concat(parts, how="vertical")

    def links(self, ctx: ScanContext) -> pl.DataFrame | None:
        """Transfers between two accounts that both carry an identity link, and new money
        relations (the money that joins a group; device and address links are kept together
        by every shard)."""
        if self.transfer_weight <= 0 and self.fresh_weight <= 0:
            return None
        a, b, _w = self._edges(ctx)
        return pl.DataFrame({"u": a, "v": b}).cast(pl.UInt32)

    def _candidates(self, ctx: ScanContext, label: np.ndarray, size: np.ndarray) -> np.ndarray:
        """Components that may hold a flagged group: ``min_members`` accounts and together
        ``min_lenders`` distinct lenders since the start of the lookback (a community is a
        part of its component, so no community of any other component can qualify)."""
        loans = ctx.graph.loans.filter(pl.col("issued_at") >= ctx.start)
        acc = loans["acc"].to_numpy().astype(np.int64)
        comp = label[acc]
        ok = size[comp] >= self.min_members
        per = (
            pl.DataFrame({"comp": comp[ok], "lender": loans["lender_id"].filter(pl.Series(ok))})
            .unique()
            .group_by("comp")
            .len()
            .filter(pl.col("len") >= self.min_lenders)
        )
        keep = np.zeros(size.size, dtype=bool)
        keep[per["comp"].to_numpy()] = True
        return keep

    def _communities(self, ctx: ScanContext) -> pl.DataFrame:
        n = ctx.graph.n_accounts
        empty = pl.DataFrame(schema={"acc": pl.UInt32, "comm": pl.Int64})
        a, b, w = self._edges(ctx)
        if a.size == 0:
            return empty
        m = sp.csr_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(n, n))
        _, label = connected_components(m, directed=False)
        size = np.bincount(label)
        keep = self._candidates(ctx, label, size)
        comm = label.astype(np.int64)
        # Components larger than max_component are split by Leiden, one call per component
        # with the seed reset: a component's communities depend on it alone (not on which other
        # components share the call), so a scan of one shard of the book finds the same ones.
        split = keep & (size > self.max_component)
        nodes = np.flatnonzero(split[label])
        if nodes.size:
            sel = split[label[a]]
            ea, eb, ew = a[sel], b[sel], w[sel]
            ecomp = label[ea]
            order = np.argsort(ecomp, kind="stable")
            ea, eb, ew, ecomp = ea[order], eb[order], ew[order], ecomp[order]
            ncomp = label[nodes]
            norder = np.argsort(ncomp, kind="stable")
            nodes, ncomp = nodes[norder], ncomp[norder]
            local = np.full(n, -1, dtype=np.int64)
            comps, nstart = np.unique(ncomp, return_index=True)
            nend = np.append(nstart[1:], nodes.size)
            estart = np.searchsorted(ecomp, comps, side="left")
            eend = np.searchsorted(ecomp, comps, side="right")
            offset = n  # community ids of split components start after every component id
            for i in range(comps.size):
                members = nodes[nstart[i] : nend[i]]
                local[members] = np.arange(members.size)
                es = slice(estart[i], eend[i])
                membership = self._leiden(members.size, local[ea[es]], local[eb[es]], ew[es])
                comm[members] = offset + membership
                offset += int(membership.max()) + 1
        linked = np.zeros(n, dtype=bool)
        linked[a] = True
        linked[b] = True
        linked &= keep[label]
        if not linked.any():
            return empty
        out = pl.DataFrame(
            {
                "acc": pl.Series(np.flatnonzero(linked), dtype=pl.UInt32),
                "comm": comm[linked],
            }
        )
        out = out.filter(pl.len().over("comm").is_between(self.min_members, self.max_group))
        if self.stars:
            out = pl.concat([out, self._stars(ctx, keep[label], out, int(comm.max()) + 1)])
        return out.sort("comm", "acc")

    def _stars(
        self, ctx: ScanContext, candidate: np.ndarray, kept: pl.DataFrame, offset: int
    ) -> pl.DataFrame:
        """Rings organised around one account (``acc``, ``comm`` from ``offset`` on).

        CPM keeps an account tied by one link of weight ``w`` in a community of ``c``
        members only while ``w > resolution * c``, so a star (an organiser, and members each
        tied to it by a new money relation and otherwise to nobody in the ring) keeps about
        ``fresh_weight / resolution`` of its members, fewer when a member also has a new
        friend elsewhere; the rest fall away and the parts borrow from too few lenders. So
        an account with new money relations to ``min_members - 1`` or more accounts, and
        to no fewer than any of them has (the organiser, not one of the members), is a
        candidate group with all of them, unless one kept community holds them all. Its
        lending is then checked as a community's: a star of chance friends seldom borrows
        from ``min_lenders`` lenders within ``window_days``, none of them from more than
        ``member_max_lenders``."""
        fr = self._fresh_pairs(ctx)
        empty = pl.DataFrame(schema={"acc": pl.UInt32, "comm": pl.Int64})
        if fr.is_empty() or self.fresh_weight <= 0:
            return empty
        least = self.min_members - 1  # the smallest group: an organiser and two members
        both = pl.concat(
            [fr.select("a", "b"), fr.select(pl.col("b").alias("a"), pl.col("a").alias("b"))]
        ).with_columns(pl.len().over("a").alias("deg"))
        deg = both.select("a", "deg").unique()
        hubs = (
            both.join(deg.rename({"a": "b", "deg": "deg_b"}), on="b")
            .group_by("a")
            .agg(pl.col("deg").first(), pl.col("deg_b").max().alias("most"))
            .filter(
                (pl.col("deg") >= least)
                & (pl.col("deg") + 1 <= self.max_group)
                & (pl.col("deg") >= pl.col("most"))
            )
            .select("a")
        )
        hubs = hubs.filter(pl.Series(candidate[hubs["a"].to_numpy().astype(np.int64)]))
        if hubs.is_empty():
            return empty
        star = pl.concat(
            [
                hubs.select(pl.col("a").alias("hub"), pl.col("a").alias("acc")),
                both.join(hubs, on="a").select(pl.col("a").alias("hub"), pl.col("b").alias("acc")),
            ]
        )
        inside = kept.select(pl.col("acc").alias("acc"), pl.col("comm").alias("c"))
        star = (
            star.join(inside, on="acc", how="left")
            .filter(~(pl.col("c").is_not_null().all() & (pl.col("c").n_unique() == 1)).over("hub"))
            .sort("hub", "acc")
            .group_by("hub", maintain_order=True)
            .agg("acc")
            .unique("acc", keep="first", maintain_order=True)  # the same members once
            .with_row_index("comm")
            .explode("acc")
        )
        return star.select(pl.col("acc").cast(pl.UInt32), pl.col("comm").cast(pl.Int64) + offset)

    def _leiden(self, n: int, a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Leiden (CPM, igraph) on one component, seeded through a private generator."""
        graph = ig.Graph(n=int(n), edges=np.column_stack([a, b]).tolist(), directed=False)
        ig.set_random_number_generator(random.Random(self.seed))
        try:
            part = graph.community_leiden(
                objective_function="CPM",
                weights=w,
                resolution=self.resolution,
                n_iterations=-1,
            )
        finally:
            ig.set_random_number_generator(random)
        return np.asarray(part.membership, dtype=np.int64)

    # -- lending --------------------------------------------------------------------------

    def _borrowers(
        self, ctx: ScanContext, loans: pl.DataFrame, inside: pl.DataFrame
    ) -> pl.DataFrame:
        """The loans of each window (``inside``: ``comm``, ``window_end``, ``acc``, ...) of
        the members that count as its borrowers: a member with fewer than
        ``money_member_min_lenders`` lenders in the lookback (``loans``) that shares no
        device or address with another member borrowing in the same window (tied to them by
        money alone) does not count. Each member of a ring that only moves money borrows
        from several lenders; a friend paid twice by one member who took one loan is a
        friend, not a co-borrower."""
        if self.money_member_min_lenders <= 1 or inside.is_empty():
            return inside
        few = (
            loans.group_by("comm", "acc")
            .agg(pl.col("lender_id").n_unique().alias("n"))
            .filter(pl.col("n") < self.money_member_min_lenders)
            .select("comm", "acc")
        )
        present = inside.select("comm", "window_end", "acc").unique()
        weak = present.join(few, on=["comm", "acc"])
        if weak.is_empty():
            return inside
        pairs = pl.concat(
            [
                _links.hub_pairs(ctx, "dev", self.max_device_accounts).select("a", "b"),
                _links.hub_pairs(ctx, "ip", self.max_ip_accounts).select("a", "b"),
            ]
        )
        shared = (
            weak.join(_links.both_ways(pairs), left_on="acc", right_on="src")
            .join(present.rename({"acc": "dst"}), on=["comm", "window_end", "dst"])
            .select("comm", "window_end", "acc")
            .unique()
        )
        drop = weak.join(shared, on=["comm", "window_end", "acc"], how="anti")
        return inside.join(drop, on=["comm", "window_end", "acc"], how="anti")

    def run(self, ctx: ScanContext) -> Findings:
        comm = self.communities(ctx)
        loans = (
            ctx.graph.loans.filter(pl.col("issued_at") >= ctx.start)
            .select("acc", "lender_id", "issued_at", "loan_id", "amount")
            .join(comm, on="acc")
        )
        many = (
            loans.group_by("comm")
            .agg(pl.col("lender_id").n_unique().alias("n"))
            .filter(pl.col("n") >= self.min_lenders)["comm"]
        )
        loans = loans.filter(pl.col("comm").is_in(many.implode())).sort("comm", "issued_at")
        if loans.is_empty():
            return Findings(empty_flags())
        period = timedelta(days=self.window_days)
        ends = (
            loans.rolling("issued_at", period=f"{self.window_days}d", group_by="comm")
            .agg(pl.col("lender_id").n_unique().alias("n"))
            .filter(pl.col("n") >= self.min_lenders)
            .select("comm", pl.col("issued_at").alias("window_end"))
            .unique()
        )
        inside = ends.join(loans, on="comm").filter(
            (pl.col("issued_at") > pl.col("window_end") - period)
            & (pl.col("issued_at") <= pl.col("window_end"))
        )
        inside = self._borrowers(ctx, loans, inside)
        per_member = inside.group_by("comm", "window_end", "acc").agg(
            pl.col("lender_id").unique().sort().alias("lenders"),
            pl.col("loan_id").sort().alias("loans"),
            pl.col("amount").sum().alias("amount"),
        )
        windows = (
            inside.group_by("comm", "window_end")
            .agg(
                pl.col("lender_id").n_unique().alias("n_lenders"),
                pl.col("issued_at").min().alias("window_start"),
            )
            .join(
                per_member.group_by("comm", "window_end").agg(
                    pl.col("lenders").list.len().max().alias("max_member")
                ),
                on=["comm", "window_end"],
            )
            .filter(
                (pl.col("n_lenders") >= self.min_lenders)
                & (pl.col("max_member") <= self.member_max_lenders)
            )
            .select("comm", "window_end")
        )
        if windows.is_empty():
            return Findings(empty_flags())
        # Every qualifying window counts (a group may qualify twice, or a ring inside a
        # larger community earlier than the rest); each borrower is flagged with the latest
        # qualifying window it borrowed in, and that window is its evidence.
        borrowers = (
            per_member.join(windows, on=["comm", "window_end"])
            .sort("comm", "acc", "window_end")
            .group_by("comm", "acc", maintain_order=True)
            .last()
            .with_columns(_links.ids(ctx, "acc").alias("account_id"))
            .sort("comm", "window_end", "account_id")
        )
        used = borrowers.select("comm", "window_end").unique()
        per_window = (
            inside.join(used, on=["comm", "window_end"])
            .group_by("comm", "window_end")
            .agg(
                pl.col("lender_id").unique().sort().alias("lenders"),
                pl.col("issued_at").min().alias("window_start"),
                pl.len().alias("n_loans"),
                pl.col("amount").sum().alias("amount"),
            )
        )
        members = (
            comm.join(used.select("comm").unique(), on="comm")
            .with_columns(_links.ids(ctx, "acc").alias("account_id"))
            .sort("comm", "account_id")
        )
        gid = (
            members.group_by("comm", maintain_order=True)
            .agg(pl.col("account_id").alias("members"))
            .with_columns(group_id("lending_group", pl.col("members")).alias("group_id"))
        )
        lenders_per_member = (
            per_member.join(used, on=["comm", "window_end"])
            .with_columns(_links.ids(ctx, "acc").alias("account_id"))
            .sort("comm", "window_end", "account_id")
            .group_by("comm", "window_end", maintain_order=True)
            .agg(
                pl.struct(
                    "account_id",
                    pl.col("lenders").list.len().alias("n_lenders"),
                    "lenders",
                    "loans",
                    pl.col("amount").round(2),
                ).alias("per_member")
            )
        )
        link_rows = self._group_links(ctx, members)
        table = (
            per_window.join(gid, on="comm")
            .join(lenders_per_member, on=["comm", "window_end"])
            .join(link_rows, on="comm", how="left")
        )
        table = with_kinds(table, ctx)  # the group's lenders counted by kind
        flags = borrowers.select("comm", "window_end", "account_id").join(
            table, on=["comm", "window_end"]
        )
        flags = flags.select(
            "account_id",
            pl.lit("GROUP_MULTI_LENDER").alias("code"),
            pl.lit(self.severity).alias("severity"),
            (pl.col("lenders").list.len() / self.min_lenders).cast(pl.Float64).alias("score"),
            "group_id",
            evidence(
                members=pl.col("members"),
                n_members=pl.col("members").list.len(),
                lenders=pl.col("lenders"),
                n_lenders=pl.col("lenders").list.len(),
                kinds=pl.col("kinds"),
                n_loans=pl.col("n_loans"),
                amount=pl.col("amount").round(2),
                per_member=pl.col("per_member"),
                links=pl.col("links").list.head(self.max_listed_links),
                n_links=pl.col("links").list.len(),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                threshold=self.threshold("min_lenders", "member_max_lenders", "window_days"),
            ).alias("evidence"),
            "window_start",
            "window_end",
        )
        borrowed = borrowers.select("comm", "account_id", pl.lit("borrower").alias("role"))
        groups = (
            members.join(gid.select("comm", "group_id"), on="comm")
            .join(borrowed, on=["comm", "account_id"], how="left")
            .select(
                "group_id",
                pl.lit("lending_group").alias("kind"),
                "account_id",
                pl.col("role").fill_null("linked"),
            )
        )
        return Findings(flags, groups)

    def _group_links(self, ctx: ScanContext, members: pl.DataFrame) -> pl.DataFrame:
        """Per community, the links between its members: ``{a, b, kind, via, n}``."""
        edges = _links.links(ctx, self.max_device_accounts, self.max_ip_accounts)
        m = members.select("comm", "acc", "account_id")
        accs = m["acc"].implode()
        inner = (
            edges.filter(pl.col("a").is_in(accs) & pl.col("b").is_in(accs))
            .join(m.rename({"acc": "a", "account_id": "a_id"}), on="a")
            .join(m.rename({"acc": "b", "account_id": "b_id", "comm": "comm_b"}), on="b")
            .filter(pl.col("comm") == pl.col("comm_b"))
            .sort("comm", "a_id", "b_id", "kind")
        )
        return inner.group_by("comm", maintain_order=True).agg(
            pl.struct(
                pl.col("a_id").alias("a"), pl.col("b_id").alias("b"), "kind", "via", "n"
            ).alias("links")
        )
