"""GROUP_MULTI_LENDER: linked accounts borrow from many lenders together, each alone ordinary.

Groups. Accounts are joined by a shared device (used by at most ``max_device_accounts``
accounts), a shared rare address (at most ``max_ip_accounts``, so an office gateway links
nobody) and transfers between accounts that both carry such an identity link (money
between people who share devices or addresses; the population's friend transfers alone
make no group). Links are weighted: ``device_weight`` per shared
device, ``ip_weight`` per shared address, ``transfer_weight`` per pair that sent money.
Connected components of at most ``max_component`` accounts are groups as they are. Larger
ones (ordinary friends paying each other make one giant component) are split by Leiden
with the Constant Potts Model (``resolution``; seeded, deterministic), which keeps only
communities denser than the resolution: devices hold a group together, a chain of one-off
friend transfers does not. Communities with ``min_members`` to ``max_group`` accounts are
kept; they are cached on the scan context (``group_multi_lender.communities``).

Lending. A sliding window of ``window_days`` ends at each loan of a group; the group is
flagged when inside one window its members together borrow from ``min_lenders`` or more
distinct lenders while no member alone borrows from more than ``member_max_lenders``
(one more and MULTI_LENDER, default 5, would flag that member itself). The latest such
window is the evidence; every member that borrowed in it is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

import igraph as ig
import leidenalg
import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from graphrisk.context import ScanContext
from graphrisk.detectors import _links
from graphrisk.detectors.base import (
    Detector,
    Findings,
    empty_flags,
    evidence,
    group_id,
    param,
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
    max_component: int = param(30, "components larger than this are split by Leiden", min=2)
    resolution: float = param(0.1, "Leiden CPM resolution: least link weight per pair", min=0.0)
    device_weight: float = param(10.0, "link weight of one shared device", min=0.0)
    ip_weight: float = param(5.0, "link weight of one shared address", min=0.0)
    transfer_weight: float = param(1.0, "link weight of a pair that transferred money", min=0.0)
    max_device_accounts: int = param(10, "a device used by more accounts links nobody", min=2)
    max_ip_accounts: int = param(10, "an address used by more accounts links nobody", min=2)
    seed: int = param(7, "seed of Leiden (the result is deterministic for a seed)", min=0)
    max_listed_links: int = param(50, "links listed in the evidence", min=1)
    severity: int = param(2, "severity of the flag (1 watch, 2 suppress, 3 suspend)", min=1, max=3)

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
            self.max_component,
            self.resolution,
            self.seed,
            self.min_members,
            self.max_group,
        )
        return ctx.cached(repr(key), lambda: self._communities(ctx))

    def _edges(self, ctx: ScanContext) -> pl.DataFrame:
        weight = {
            "device": self.device_weight,
            "ip": self.ip_weight,
            "transfer": self.transfer_weight,
        }
        edges = _links.links(ctx, self.max_device_accounts, self.max_ip_accounts)
        ident = edges.filter(pl.col("kind") != "transfer")
        tied = pl.concat([ident["a"], ident["b"]]).unique().implode()
        edges = edges.filter(
            (pl.col("kind") != "transfer") | (pl.col("a").is_in(tied) & pl.col("b").is_in(tied))
        )
        w = pl.col("kind").replace_strict(weight, return_dtype=pl.Float64)
        w = pl.when(pl.col("kind") == "transfer").then(w).otherwise(w * pl.col("n"))
        return (
            edges.with_columns(w.alias("w"))
            .filter(pl.col("w") > 0)
            .group_by("a", "b")
            .agg(pl.col("w").sum())
            .sort("a", "b")
        )

    def _communities(self, ctx: ScanContext) -> pl.DataFrame:
        n = ctx.graph.n_accounts
        e = self._edges(ctx)
        if e.is_empty():
            return pl.DataFrame(schema={"acc": pl.UInt32, "comm": pl.Int64})
        a = e["a"].to_numpy().astype(np.int64)
        b = e["b"].to_numpy().astype(np.int64)
        m = sp.csr_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(n, n))
        _, label = connected_components(m, directed=False)
        size = np.bincount(label)
        comm = label.astype(np.int64).copy()
        big = np.flatnonzero(size > self.max_component)
        nxt = n  # community ids of split components start after every component id
        w = e["w"].to_numpy()
        edge_comp = label[a]
        for c in big.tolist():  # a handful of large components; Leiden itself is compiled
            nodes = np.flatnonzero(label == c)
            local = np.full(n, -1, dtype=np.int64)
            local[nodes] = np.arange(nodes.size)
            sel = edge_comp == c
            graph = ig.Graph(
                n=int(nodes.size),
                edges=np.column_stack([local[a[sel]], local[b[sel]]]).tolist(),
                directed=False,
            )
            part = leidenalg.find_partition(
                graph,
                leidenalg.CPMVertexPartition,
                weights=w[sel].tolist(),
                resolution_parameter=self.resolution,
                n_iterations=-1,
                seed=self.seed,
            )
            memb = np.asarray(part.membership, dtype=np.int64)
            comm[nodes] = nxt + memb
            nxt += int(memb.max()) + 1
        linked = np.zeros(n, dtype=bool)
        linked[a] = True
        linked[b] = True
        out = pl.DataFrame(
            {
                "acc": pl.Series(np.flatnonzero(linked), dtype=pl.UInt32),
                "comm": comm[linked],
            }
        )
        return out.filter(pl.len().over("comm").is_between(self.min_members, self.max_group)).sort(
            "comm", "acc"
        )

    # -- lending --------------------------------------------------------------------------

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
        per_member = inside.group_by("comm", "window_end", "acc").agg(
            pl.col("lender_id").unique().sort().alias("lenders"),
            pl.col("loan_id").sort().alias("loans"),
            pl.col("amount").sum().alias("amount"),
        )
        per_window = (
            inside.group_by("comm", "window_end")
            .agg(
                pl.col("lender_id").unique().sort().alias("lenders"),
                pl.col("issued_at").min().alias("window_start"),
                pl.len().alias("n_loans"),
                pl.col("amount").sum().alias("amount"),
            )
            .join(
                per_member.group_by("comm", "window_end").agg(
                    pl.col("lenders").list.len().max().alias("max_member")
                ),
                on=["comm", "window_end"],
            )
            .filter(
                (pl.col("lenders").list.len() >= self.min_lenders)
                & (pl.col("max_member") <= self.member_max_lenders)
            )
            .sort("comm", "window_end")
            .group_by("comm", maintain_order=True)
            .last()
        )
        if per_window.is_empty():
            return Findings(empty_flags())
        members = (
            comm.join(per_window.select("comm"), on="comm")
            .with_columns(_links.ids(ctx, "acc").alias("account_id"))
            .sort("comm", "account_id")
        )
        gid = (
            members.group_by("comm", maintain_order=True)
            .agg(pl.col("account_id").alias("members"))
            .with_columns(group_id("lending_group", pl.col("members")).alias("group_id"))
        )
        borrowers = (
            per_member.join(per_window.select("comm", "window_end"), on=["comm", "window_end"])
            .with_columns(_links.ids(ctx, "acc").alias("account_id"))
            .sort("comm", "account_id")
        )
        lenders_per_member = borrowers.group_by("comm", maintain_order=True).agg(
            pl.struct(
                "account_id",
                pl.col("lenders").list.len().alias("n_lenders"),
                "lenders",
                "loans",
                pl.col("amount").round(2),
            ).alias("per_member")
        )
        link_rows = self._group_links(ctx, members)
        table = (
            per_window.join(gid, on="comm")
            .join(lenders_per_member, on="comm")
            .join(link_rows, on="comm", how="left")
        )
        flags = borrowers.select("comm", "account_id").join(table, on="comm")
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
                n_loans=pl.col("n_loans"),
                amount=pl.col("amount").round(2),
                per_member=pl.col("per_member"),
                links=pl.col("links").list.head(self.max_listed_links),
                n_links=pl.col("links").list.len(),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                threshold=pl.struct(
                    pl.lit(self.min_lenders).alias("min_lenders"),
                    pl.lit(self.member_max_lenders).alias("member_max_lenders"),
                    pl.lit(self.window_days).alias("window_days"),
                ),
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
        inner = (
            edges.join(m.rename({"acc": "a", "account_id": "a_id"}), on="a")
            .join(m.rename({"acc": "b", "account_id": "b_id", "comm": "comm_b"}), on="b")
            .filter(pl.col("comm") == pl.col("comm_b"))
            .sort("comm", "a_id", "b_id", "kind")
        )
        return inner.group_by("comm", maintain_order=True).agg(
            pl.struct(
                pl.col("a_id").alias("a"), pl.col("b_id").alias("b"), "kind", "via", "n"
            ).alias("links")
        )
