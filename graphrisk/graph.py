"""The graph: integer ids once, sparse matrices for the kernels, networkx views for people.

Ids are mapped to dense integers once per scan: accounts ``0..n_accounts-1`` in sorted
order, then external counterparties (transfer ends not in ``accounts``). Devices, IPs and
lenders have their own dense ranges. Kernels (components, Leiden, PageRank, path search)
work on these integer arrays; :meth:`Graph.to_networkx` gives the familiar interface for a
group or a handful of accounts.

Examples
--------
>>> import datetime as dt, polars as pl
>>> from graphrisk.io import Tables
>>> from graphrisk.context import ScanContext
>>> t0 = dt.datetime(2026, 1, 1)
>>> accounts = pl.DataFrame({"account_id": ["a", "b", "c"], "opened_at": [t0] * 3,
...                          "credit_limit": [1.0] * 3})
>>> devices = pl.DataFrame({"account_id": ["a", "b", "c"], "device_id": ["d1", "d1", "d2"],
...                         "ts": [t0] * 3, "ip": ["1.1.1.1"] * 3, "city": ["x"] * 3})
>>> from graphrisk.schema import empty_frame
>>> tables = Tables(accounts, empty_frame("loans"), empty_frame("transfers"),
...                 devices.cast({"ts": pl.Datetime("us")}))
>>> g = ScanContext.build(tables).graph
>>> g.components(g.association(ips=False, transfers=False)).tolist()
[0, 0, 1]
>>> sorted(g.to_networkx(["a"]).nodes)
['a', 'device:d1']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from graphrisk.context import IDX, dense_ids, positions

if TYPE_CHECKING:
    from graphrisk.context import ScanContext


_dense = dense_ids


@dataclass
class Graph:
    """Integer-indexed graph of accounts, external counterparties, devices, IPs and lenders.

    Attributes
    ----------
    nodes
        ``id`` (string) and ``idx`` of every account (first ``n_accounts`` rows, sorted) and
        external counterparty (after them).
    logins
        One row per login with ``acc``, ``dev``, ``ip`` (nullable), ``city``, ``ts``.
    transfers
        One row per transfer with ``src``, ``dst`` (node idx), ``amount``, ``ts``,
        ``transfer_id``; ``internal`` is true when both ends are accounts.
    loans
        The context's loans with ``acc`` and ``lender`` indices added.
    """

    nodes: pl.DataFrame
    n_accounts: int
    devices: pl.DataFrame
    ips: pl.DataFrame
    lenders: pl.DataFrame
    logins: pl.DataFrame
    transfers: pl.DataFrame
    loans: pl.DataFrame

    @classmethod
    def build(cls, ctx: ScanContext) -> Graph:
        acc = ctx.accounts.select(pl.col("account_id").alias("id")).with_row_index("idx")
        n = acc.height
        # transfer ends: accounts by one join per end (left order kept, so the frame stays
        # in ctx.transfers' (ts, transfer_id) order); the ends no account matched are the
        # external counterparties, numbered after the accounts in sorted order
        tr = ctx.transfers.select("src_account", "dst_account", "amount", "ts", "transfer_id")
        tr = tr.with_columns(
            positions(tr["src_account"], acc["id"]).alias("src"),
            positions(tr["dst_account"], acc["id"]).alias("dst"),
        )
        ext = (
            pl.concat(
                [
                    tr.filter(pl.col("src").is_null())["src_account"],
                    tr.filter(pl.col("dst").is_null())["dst_account"],
                ]
            )
            .unique()
            .sort()
        )
        ext_df = pl.DataFrame({"id": ext}).with_row_index("idx", offset=n)
        nodes = pl.concat([acc, ext_df]).with_columns(pl.col("idx").cast(IDX))
        if ext_df.height:
            tr = tr.with_columns(
                pl.coalesce("src", positions(tr["src_account"], ext) + n).alias("src"),
                pl.coalesce("dst", positions(tr["dst_account"], ext) + n).alias("dst"),
            )
        transfers = tr.with_columns(
            pl.col("src").cast(IDX),
            pl.col("dst").cast(IDX),
            ((pl.col("src") < n) & (pl.col("dst") < n)).alias("internal"),
        ).select("src", "dst", "amount", "ts", "transfer_id", "internal")
        amap = nodes.rename({"id": "account_id", "idx": "acc"})
        ips = _dense(ctx.devices["ip"], "ip")
        keyed = ctx._devices_keyed
        if keyed is not None:  # ctx.devices already carries account and device indices
            frame, devices = keyed
            logins = frame.select(
                pl.col("__acc").cast(IDX).alias("acc"),
                pl.col("__dev").alias("dev"),
                "ip",
                "city",
                "ts",
            )
        else:
            devices = _dense(ctx.devices["device_id"], "device_id")
            logins = (
                ctx.devices.join(amap, on="account_id", how="left", maintain_order="left")
                .join(
                    devices.rename({"idx": "dev"}),
                    on="device_id",
                    how="left",
                    maintain_order="left",
                )
                .select("acc", "dev", "ip", "city", "ts")
            )
        logins = logins.with_columns(positions(logins["ip"], ips["ip"]).alias("ip"))
        lenders = _dense(ctx.loans["lender_id"], "lender_id")
        loans = ctx.loans.with_columns(
            positions(ctx.loans["account_id"], nodes["id"]).alias("acc"),
            positions(ctx.loans["lender_id"], lenders["lender_id"]).alias("lender"),
        )
        return cls(nodes, n, devices, ips, lenders, logins, transfers, loans)

    # -- ids ------------------------------------------------------------------------------

    def index_of(self, ids: pl.Series | list[str]) -> np.ndarray:
        """Node indices of account or counterparty ids (unknown ids raise KeyError)."""
        s = pl.Series("id", ids, dtype=pl.String)
        joined = pl.DataFrame({"id": s}).join(
            self.nodes, on="id", how="left", maintain_order="left"
        )
        if joined["idx"].null_count():
            missing = joined.filter(pl.col("idx").is_null())["id"].head(3).to_list()
            raise KeyError(f"unknown account ids: {missing}")
        return joined["idx"].to_numpy()

    def ids_of(self, idx: np.ndarray | pl.Series | list[int]) -> pl.Series:
        """Ids of node indices."""
        return self.nodes["id"].gather(pl.Series(idx, dtype=IDX))

    # -- matrices -------------------------------------------------------------------------

    def incidence(self, hub: str = "dev", max_accounts: int | None = None) -> sp.csr_matrix:
        """Binary accounts x hubs matrix (``hub`` is ``"dev"`` or ``"ip"``).

        Hubs used by more than ``max_accounts`` distinct accounts are dropped (an office
        gateway or a mobile carrier's address says little about who is linked to whom).
        """
        size = self.devices.height if hub == "dev" else self.ips.height
        pairs = self.logins.select("acc", hub).drop_nulls().unique()
        if max_accounts is not None:
            deg = pairs.group_by(hub).len()
            keep = deg.filter(pl.col("len") <= max_accounts)[hub]
            pairs = pairs.filter(pl.col(hub).is_in(keep.implode()))
        data = np.ones(pairs.height, dtype=np.float32)
        return sp.csr_matrix(
            (data, (pairs["acc"].to_numpy(), pairs[hub].to_numpy())), shape=(self.n_accounts, size)
        )

    def transfer_matrix(self, internal_only: bool = True) -> sp.csr_matrix:
        """Directed weighted matrix of transfers: entry (i, j) = total amount i sent to j."""
        t = self.transfers.filter(pl.col("internal")) if internal_only else self.transfers
        size = self.n_accounts if internal_only else self.nodes.height
        return sp.csr_matrix(
            (t["amount"].to_numpy(), (t["src"].to_numpy(), t["dst"].to_numpy())), shape=(size, size)
        )

    def association(
        self,
        devices: bool = True,
        ips: bool = True,
        transfers: bool = True,
        max_device_accounts: int = 50,
        max_ip_accounts: int = 10,
        weights: tuple[float, float, float] = (1.0, 0.5, 0.25),
    ) -> sp.csr_matrix:
        """Symmetric accounts x accounts matrix of links, without self-loops.

        Entry (i, j) is ``w_dev * shared devices + w_ip * shared IPs + w_tr * transfer
        directions between i and j``. Devices and IPs shared by too many accounts are left out.
        """
        n = self.n_accounts
        total = sp.csr_matrix((n, n), dtype=np.float32)
        if devices and self.devices.height:
            b = self.incidence("dev", max_device_accounts)
            total = total + weights[0] * (b @ b.T)
        if ips and self.ips.height:
            b = self.incidence("ip", max_ip_accounts)
            total = total + weights[1] * (b @ b.T)
        if transfers and self.transfers.height:
            t = self.transfer_matrix()
            t.data[:] = 1.0
            total = total + weights[2] * (t + t.T)
        total = sp.csr_matrix(total)
        total.setdiag(0)
        total.eliminate_zeros()
        return total

    @staticmethod
    def components(matrix: sp.spmatrix) -> np.ndarray:
        """Connected-component label of every row (weakly connected for directed input)."""
        _, labels = connected_components(matrix, directed=False)
        return labels

    # -- networkx --------------------------------------------------------------------------

    def to_networkx(self, accounts: list[str] | pl.Series | None = None) -> nx.MultiDiGraph:
        """A networkx view of the whole graph or of the given accounts and their links.

        Nodes are account / counterparty ids, ``device:ID``, ``ip:ADDR`` and ``lender:ID``
        with a ``kind`` attribute; edges carry ``kind`` (``login``, ``transfer``, ``loan``)
        and their figures. Meant for groups and small neighbourhoods, not whole books.
        """
        g = nx.MultiDiGraph()
        acc_idx = np.arange(self.n_accounts) if accounts is None else self.index_of(list(accounts))
        sel = pl.Series("acc", acc_idx, dtype=IDX)
        for idx, ident in zip(acc_idx.tolist(), self.ids_of(acc_idx).to_list(), strict=True):
            g.add_node(ident, kind="account" if idx < self.n_accounts else "external")
        ids = self.nodes["id"]
        logins = (
            self.logins.filter(pl.col("acc").is_in(sel.implode()))
            .group_by("acc", "dev", "ip")
            .agg(pl.len().alias("logins"), pl.col("ts").max())
            .sort("acc", "dev", "ip")
        )
        for row in logins.iter_rows(named=True):
            dev = "device:" + self.devices["device_id"][row["dev"]]
            g.add_node(dev, kind="device")
            attrs = {"kind": "login", "logins": row["logins"], "last": row["ts"]}
            if row["ip"] is not None:
                attrs["ip"] = self.ips["ip"][row["ip"]]
            g.add_edge(ids[row["acc"]], dev, **attrs)
        tr = self.transfers.filter(
            pl.col("src").is_in(sel.implode()) & pl.col("dst").is_in(sel.implode())
        )
        for row in tr.iter_rows(named=True):
            g.add_edge(
                ids[row["src"]],
                ids[row["dst"]],
                kind="transfer",
                amount=row["amount"],
                ts=row["ts"],
                transfer_id=row["transfer_id"],
            )
        loans = self.loans.filter(pl.col("acc").is_in(sel.implode()))
        for row in loans.iter_rows(named=True):
            lender = "lender:" + row["lender_id"]
            g.add_node(lender, kind="lender")
            g.add_edge(
                row["account_id"],
                lender,
                kind="loan",
                amount=row["amount"],
                issued_at=row["issued_at"],
                loan_id=row["loan_id"],
            )
        return g
