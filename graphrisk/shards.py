"""Shards: the book cut into pieces of whole linked groups, one kernel per piece.

A scan of a large book does not need the whole book in one graph. Every graph detector looks
only along links: a shared device, a shared address used by few accounts, a transfer between
two accounts or to a counterparty outside the book. So the book is cut along the connected
components of the **link graph**, the union of every kind of link any detector follows, and
each piece (a *shard*: whole components, packed up to ``shard_accounts`` accounts) is scanned
on its own by the same kernel (:func:`scan_shard`), in this process or in a Spark task. A
per-account detector sees all of its account's rows, a graph detector all of its component.

The link graph (:func:`link_edges`), over the events inside the lookback window:

* account -- device, for every device used by at most ``max_hub_accounts`` accounts;
* account -- address, for every address used by at most ``ip_cap`` accounts, the largest
  ``max_ip_accounts`` of the enabled detectors (a busier address links nobody in any detector);
* account -- account for every internal transfer, and account -- external counterparty for
  every counterparty dealing with at most ``max_hub_accounts`` accounts.

What a shard cannot see of the book is passed to it: the book's ``as_of`` and its snapshot
time, and the number of distinct accounts on every device and address (:class:`BookFacts`),
so "an address used by more than 10 accounts links nobody" counts the whole book, not the
shard. The flags, decisions and groups of a sharded scan are then those of a whole scan,
row for row (``tests/test_shards.py`` forces several shards and compares).

The one exception is a counterparty (or device) dealing with more than ``max_hub_accounts``
accounts of the book: it joins no components, each shard sees only its own accounts'
transfers with it, and a pattern that runs *through* it can differ from a whole scan. Such
hubs are payment platforms, payroll and merchants, not mules; their number is in the summary
(``shards.hubs_cut``). A component larger than ``shard_accounts`` is never split: it becomes
a shard of its own (``shards.oversized``).

Examples
--------
>>> from graphrisk.testing import tables
>>> t = tables(transfers=[("a", "b", 100, "2026-01-01"), ("c", "X1", 50, "2026-01-02")],
...            accounts=["a", "b", "c", "d"])
>>> plan = plan_shards(t, shard_accounts=2)
>>> plan.assignment.select("account_id", "shard").rows()
[('a', 0), ('b', 0), ('c', 1), ('d', 1)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from graphrisk.context import (
    DEFAULT_LOOKBACK_DAYS,
    IDX,
    latest_timestamp,
    parse_as_of,
    positions,
)
from graphrisk.io import Tables
from graphrisk.schema import EVENT_TIME

if TYPE_CHECKING:
    from graphrisk.policy import Policy

#: Default most accounts a shard holds (whole components; a larger component is its own shard).
DEFAULT_SHARD_ACCOUNTS = 500_000
#: Default: a device or counterparty dealing with more accounts than this joins no components.
DEFAULT_MAX_HUB_ACCOUNTS = 1_000
SHARD = pl.UInt32


@dataclass(frozen=True)
class BookFacts:
    """What every shard must know of the whole book.

    Attributes
    ----------
    as_of, snapshot
        The scan's reference time and the data's own latest timestamp (loans' overdue rule).
    hub_degree
        ``"dev"``: ``device_id, deg``; ``"ip"``: ``ip, deg`` (distinct accounts in the window).
    """

    as_of: datetime
    snapshot: datetime
    hub_degree: dict[str, pl.DataFrame] = field(default_factory=dict)

    def for_shard(self, devices: pl.DataFrame) -> BookFacts:
        """The facts a shard needs: the degrees of the devices and addresses it holds."""
        hub = {}
        for key, col in (("dev", "device_id"), ("ip", "ip")):
            deg = self.hub_degree.get(key)
            if deg is not None:
                hub[key] = deg.join(devices.select(col).unique(), on=col, how="semi")
        return BookFacts(self.as_of, self.snapshot, hub)


@dataclass(frozen=True)
class ShardPlan:
    """Which shard every account belongs to, and the book's facts.

    Attributes
    ----------
    assignment
        ``account_id, shard, component`` for every account (sorted by ``account_id``).
    n_shards
        Number of shards (``0..n_shards-1``, each non-empty).
    facts
        :class:`BookFacts` of the book.
    stats
        Components, the largest one, oversized shards and hubs cut (for ``summary.json``).
    """

    assignment: pl.DataFrame
    n_shards: int
    facts: BookFacts
    stats: dict[str, Any]


def ip_cap(policy: Policy | None) -> int:
    """The largest ``max_ip_accounts`` of the enabled detectors (addresses above link nobody)."""
    if policy is None:
        from graphrisk.policy import Policy

        policy = Policy.load(None)
    caps = [int(getattr(d, "max_ip_accounts", 0)) for d in policy.detectors()]
    return max([*caps, 2])


def window(tables: Tables, as_of: datetime, lookback_days: int) -> dict[str, pl.DataFrame]:
    """The event tables cut to ``[as_of - lookback, as_of]`` (as :class:`ScanContext` cuts)."""
    start = as_of - timedelta(days=lookback_days)
    out = {}
    for name, col in EVENT_TIME.items():
        df = tables.get(name)
        if df is not None:
            out[name] = df.filter(pl.col(col).is_between(start, as_of))
    return out


def hub_degrees(devices: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Distinct accounts per device (``device_id, deg``) and per address (``ip, deg``)."""
    out = {}
    for key, col in (("dev", "device_id"), ("ip", "ip")):
        out[key] = (
            devices.select(col, "account_id")
            .drop_nulls()
            .group_by(col)
            .agg(pl.col("account_id").n_unique().cast(pl.UInt32).alias("deg"))
            .sort(col)
        )
    return out


def link_edges(
    accounts: pl.Series,
    transfers: pl.DataFrame,
    devices: pl.DataFrame,
    degree: dict[str, pl.DataFrame],
    ip_accounts: int,
    max_hub_accounts: int,
) -> tuple[pl.DataFrame, int, int]:
    """Edges ``u, v`` (node indices) of the link graph, the node count and the hubs cut.

    Nodes: accounts ``0..n-1`` (positions in ``accounts``), then external counterparties,
    devices and addresses. See the module docstring for which links count.
    """
    n = len(accounts)
    tr = transfers.select("src_account", "dst_account")
    tr = tr.with_columns(
        positions(tr["src_account"], accounts).alias("s"),
        positions(tr["dst_account"], accounts).alias("d"),
    )
    # external counterparties: distinct counterparties each deals with
    ext_pairs = pl.concat(
        [
            tr.filter(pl.col("s").is_null()).select(
                pl.col("src_account").alias("x"), pl.col("dst_account").alias("o")
            ),
            tr.filter(pl.col("d").is_null()).select(
                pl.col("dst_account").alias("x"), pl.col("src_account").alias("o")
            ),
        ]
    )
    ext_deg = ext_pairs.group_by("x").agg(pl.col("o").n_unique().alias("deg")).sort("x")
    ext_ok = ext_deg.filter(pl.col("deg") <= max_hub_accounts)["x"]
    n_ext = len(ext_ok)
    hubs_cut = ext_deg.height - n_ext
    ext_idx_s = positions(tr["src_account"], ext_ok) + n
    ext_idx_d = positions(tr["dst_account"], ext_ok) + n
    tr_edges = tr.select(
        pl.coalesce(pl.col("s"), ext_idx_s).alias("u"),
        pl.coalesce(pl.col("d"), ext_idx_d).alias("v"),
    ).drop_nulls()
    parts = [tr_edges]
    offset = n + n_ext
    for key, col, cap in (("dev", "device_id", max_hub_accounts), ("ip", "ip", ip_accounts)):
        deg = degree[key]
        ok = deg.filter(pl.col("deg").is_between(2, cap))[col]
        hubs_cut += int((deg["deg"] > cap).sum()) if key == "dev" else 0
        pairs = devices.select("account_id", col).drop_nulls().unique()
        hub = positions(pairs[col], ok)
        parts.append(
            pl.DataFrame(
                {"u": positions(pairs["account_id"], accounts), "v": hub + offset}
            ).drop_nulls()
        )
        offset += len(ok)
    edges = pl.concat([p.select(pl.col("u").cast(IDX), pl.col("v").cast(IDX)) for p in parts])
    return edges, offset, hubs_cut


def components(edges: pl.DataFrame, n_nodes: int) -> np.ndarray:
    """Connected-component label of every node (scipy, on integer arrays)."""
    u = edges["u"].to_numpy()
    v = edges["v"].to_numpy()
    m = sp.csr_matrix((np.ones(u.size, dtype=np.int8), (u, v)), shape=(n_nodes, n_nodes))
    return connected_components(m, directed=False)[1]


def pack(component: pl.Series, shard_accounts: int) -> pl.Series:
    """Shard of each account from its component label: whole components, in order of their
    first account, filled up to ``shard_accounts`` (a larger component is a shard alone)."""
    df = pl.DataFrame({"c": component}).with_row_index("i")
    comps = (
        df.group_by("c")
        .agg(pl.col("i").min().alias("first"), pl.len().alias("size"))
        .sort("first")
        .with_columns((pl.col("size").cum_sum() - pl.col("size")).alias("offset"))
    )
    # a new shard starts where the running count crosses a multiple of shard_accounts
    comps = comps.with_columns(
        (pl.col("offset") // shard_accounts).alias("bucket"),
    ).with_columns(pl.col("bucket").rank("dense").cast(SHARD).sub(1).alias("shard"))
    return df.join(comps.select("c", "shard"), on="c", how="left", maintain_order="left")["shard"]


def plan_shards(
    tables: Tables,
    as_of: datetime | str | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    shard_accounts: int = DEFAULT_SHARD_ACCOUNTS,
    policy: Policy | None = None,
    max_hub_accounts: int = DEFAULT_MAX_HUB_ACCOUNTS,
) -> ShardPlan:
    """Cut the book into shards of whole linked components (see the module docstring).

    Parameters
    ----------
    tables
        The validated tables of the book.
    as_of, lookback_days
        The scan's window (``as_of`` defaults to the latest timestamp, as in a scan).
    shard_accounts
        Most accounts a shard holds; components are never split.
    policy
        The scan's policy (for the address cap of its detectors).
    max_hub_accounts
        A device or external counterparty dealing with more accounts joins no components.
    """
    if shard_accounts < 1:
        from graphrisk.errors import UsageError

        raise UsageError(f"--shard-accounts must be a positive number, got {shard_accounts}")
    snapshot = latest_timestamp(tables) if _has_time(tables) else None
    resolved = parse_as_of(as_of) or snapshot
    assert resolved is not None
    cut = window(tables, resolved, lookback_days)
    degree = hub_degrees(cut["devices"])
    accounts = tables.accounts["account_id"].sort()
    edges, n_nodes, hubs_cut = link_edges(
        accounts, cut["transfers"], cut["devices"], degree, ip_cap(policy), max_hub_accounts
    )
    label = components(edges, n_nodes)[: len(accounts)]
    comp = pl.Series("c", label, dtype=pl.Int64)
    shard = pack(comp, shard_accounts)
    sizes = np.bincount(label) if label.size else np.zeros(0, dtype=np.int64)
    sizes = sizes[sizes > 0]
    per_shard = shard.value_counts().sort(shard.name)
    assignment = pl.DataFrame({"account_id": accounts, "shard": shard, "component": comp})
    stats = {
        "shards": int(per_shard.height),
        "shard_accounts": shard_accounts,
        "components": int(sizes.size),
        "largest_component": int(sizes.max()) if sizes.size else 0,
        "largest_shard": int(per_shard["count"].max()) if per_shard.height else 0,
        "oversized": int((sizes > shard_accounts).sum()),
        "max_hub_accounts": max_hub_accounts,
        "hubs_cut": int(hubs_cut),
    }
    facts = BookFacts(resolved, snapshot or resolved, degree)
    return ShardPlan(assignment, int(per_shard.height), facts, stats)


def _has_time(tables: Tables) -> bool:
    try:
        latest_timestamp(tables)
    except Exception:
        return False
    return True


def split(tables: Tables, plan: ShardPlan) -> list[Tables]:
    """The book's tables cut into the plan's shards (each row in exactly one shard).

    A transfer goes to the shard of its sending account, or of its receiving account when the
    sender is outside the book (both ends are in one shard unless one is a cut hub); a
    transfer between two outsiders goes with the receiver's other dealings, if any, else to
    shard 0.
    """
    a = plan.assignment.select("account_id", "shard")
    by_acc = {
        name: df.join(a, on="account_id", how="left")
        for name in ("accounts", "loans", "devices", "applications")
        if (df := tables.get(name)) is not None
    }
    tr = tables.transfers
    src = a.rename({"account_id": "src_account", "shard": "_s"})
    dst = a.rename({"account_id": "dst_account", "shard": "_d"})
    tr = (
        tr.join(src, on="src_account", how="left", maintain_order="left")
        .join(dst, on="dst_account", how="left", maintain_order="left")
        .with_columns(pl.coalesce("_s", "_d", pl.lit(0, SHARD)).alias("shard"))
        .drop("_s", "_d")
    )
    by_acc["transfers"] = tr
    parts: dict[str, dict[int, pl.DataFrame]] = {
        name: {
            int(k[0]): g.drop("shard")  # type: ignore[index]
            for k, g in df.partition_by("shard", as_dict=True, maintain_order=True).items()
        }
        for name, df in by_acc.items()
    }

    def part(name: str, s: int) -> pl.DataFrame | None:
        whole = tables.get(name)
        if whole is None:
            return None
        return parts[name].get(s, whole.clear())

    return [
        Tables(
            accounts=part("accounts", s),  # type: ignore[arg-type]
            loans=part("loans", s),  # type: ignore[arg-type]
            transfers=part("transfers", s),  # type: ignore[arg-type]
            devices=part("devices", s),  # type: ignore[arg-type]
            applications=part("applications", s),
            source=tables.source,
        )
        for s in range(plan.n_shards)
    ]
