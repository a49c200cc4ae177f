"""SHARED_DEVICE_RING: many accounts on the same device(s), a device farm or organised ring.

The account-device bipartite graph is built from the logins inside the lookback, keeping
only devices used by two or more accounts (a device of one person links nobody). Its
connected components are rings of accounts that hand devices around; a component with
``min_accounts`` or more accounts is flagged, which also covers a single device used by
``min_accounts`` or more accounts. A family sharing a tablet (2-4 people) stays far below.

Every member is flagged with the component's deterministic ``group_id``; the evidence lists
the devices, the number of members and of logins on those devices, and the login window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

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
    severity_param,
    window_json,
)
from graphrisk.graph import IDX


@dataclass
class SharedDeviceRing(Detector):
    """``min_accounts`` or more accounts joined through devices they share.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> farm = [(f"r{i}", "D1", f"2026-01-{i + 1:02d}") for i in range(6)]
    >>> family = [(m, "D2", "2026-01-03") for m in ("m1", "m2", "m3")]
    >>> found = SharedDeviceRing().detect(world(devices=farm + family))
    >>> sorted(set(found.flags["account_id"]))
    ['r0', 'r1', 'r2', 'r3', 'r4', 'r5']
    >>> found.groups["kind"].unique().to_list()
    ['device_ring']
    """

    name: ClassVar[str] = "shared_device_ring"
    codes: ClassVar[tuple[str, ...]] = ("SHARED_DEVICE_RING",)
    tables: ClassVar[tuple[str, ...]] = ("devices",)

    min_accounts: int = param(6, "accounts joined through shared devices that form a ring", min=2)
    min_density: float = param(
        0.5,
        "share of the possible account-device pairs a ring uses (chains of family devices stay out)",
        min=0.0,
        max=1.0,
    )
    max_listed_devices: int = param(50, "devices listed by id in the evidence", min=1)
    severity: int = severity_param(2)

    def run(self, ctx: ScanContext) -> Findings:
        g = ctx.graph
        shared = _links.hub_accounts(ctx, "dev").filter(pl.col("deg") >= 2)
        if shared.is_empty():
            return Findings(empty_flags())
        comp = self._rings(shared, g.n_accounts, g.devices.height)
        if comp.is_empty():
            return Findings(empty_flags())
        rings = comp.group_by("comp").agg(pl.col("acc").n_unique().alias("n_accounts"))
        devs = comp.select("comp", "dev").unique()
        logins = g.logins.join(devs, on="dev").join(
            comp.select("comp", "acc").unique(), on=["comp", "acc"]
        )
        names = g.devices.rename({"idx": "dev"})
        per_ring = (
            logins.join(names, on="dev", how="left")
            .group_by("comp")
            .agg(
                pl.col("device_id").unique().sort().alias("devices"),
                pl.len().alias("n_logins"),
                pl.col("ts").min().alias("window_start"),
                pl.col("ts").max().alias("window_end"),
            )
        )
        members = (
            comp.select("comp", pl.col("acc").cast(IDX))
            .unique()
            .with_columns(_links.ids(ctx, "acc").alias("account_id"))
        )
        gid = (
            members.group_by("comp")
            .agg(pl.col("account_id"))
            .with_columns(group_id("device_ring", pl.col("account_id")).alias("group_id"))
            .select("comp", "group_id")
        )
        rows = members.join(per_ring, on="comp").join(rings, on="comp").join(gid, on="comp")
        flags = rows.select(
            "account_id",
            pl.lit("SHARED_DEVICE_RING").alias("code"),
            pl.lit(self.severity).alias("severity"),
            (pl.col("n_accounts") / self.min_accounts).cast(pl.Float64).alias("score"),
            "group_id",
            evidence(
                devices=pl.col("devices").list.head(self.max_listed_devices),
                n_devices=pl.col("devices").list.len(),
                n_accounts=pl.col("n_accounts"),
                n_logins=pl.col("n_logins"),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                threshold=self.threshold("min_accounts"),
            ).alias("evidence"),
            "window_start",
            "window_end",
        )
        groups = rows.select(
            "group_id",
            pl.lit("device_ring").alias("kind"),
            "account_id",
            pl.lit("member").alias("role"),
        )
        return Findings(flags, groups)

    def _rings(self, shared: pl.DataFrame, n: int, nd: int) -> pl.DataFrame:
        """``(acc, dev, comp)`` rows of the rings among shared-device pairs.

        First the dense components (``min_accounts`` accounts, ``min_density`` of the
        possible account-device pairs used); then, among the rest, the accounts of every
        device used by ``min_accounts`` or more accounts (joined when they share such devices).
        """
        dense = _components(shared, n, nd)
        stats = dense.group_by("comp").agg(
            pl.col("acc").n_unique().alias("na"), pl.col("dev").n_unique().alias("nd"), pl.len()
        )
        ok = stats.filter(
            (pl.col("na") >= self.min_accounts)
            & (pl.col("len") >= self.min_density * pl.col("na") * pl.col("nd"))
        )["comp"]
        first = dense.filter(pl.col("comp").is_in(ok.implode()))
        rest = shared.filter(
            ~pl.col("acc").is_in(first["acc"].implode()) & (pl.col("deg") >= self.min_accounts)
        )
        second = _components(rest, n, nd).with_columns(pl.col("comp") + n + nd)
        return pl.concat([first, second]).select("acc", "dev", "comp")


def _components(pairs: pl.DataFrame, n: int, nd: int) -> pl.DataFrame:
    """Connected components of the account-device bipartite graph of ``pairs``."""
    if pairs.is_empty():
        return pairs.with_columns(pl.lit(0, pl.Int64).alias("comp"))
    acc = pairs["acc"].to_numpy().astype(np.int64)
    dev = pairs["dev"].to_numpy().astype(np.int64) + n
    m = sp.csr_matrix((np.ones(acc.size, dtype=np.int8), (acc, dev)), shape=(n + nd, n + nd))
    _, label = connected_components(m, directed=False)
    return pairs.with_columns(pl.Series("comp", label[acc], dtype=pl.Int64))
