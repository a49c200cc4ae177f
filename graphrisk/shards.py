"""Shards: the book cut into pieces of whole linked groups, one kernel per piece.

A scan of a large book does not need the whole book in one graph. Every detector looks at one
account's own rows, along its device and address links, or along the few transfers that can
make one of its findings. So the book is cut along the connected components of the **link
graph**, and each piece (a *shard*: whole components, packed up to ``shard_accounts``
accounts) is scanned on its own by the same kernel, in this process (``scan(...,
shard_accounts=N)``) or, later, in a Spark task.

Transfers alone would not cut anything: friends, shops and payroll join almost every account
of a book into one component (3,986 of the sample's 4,000 accounts). The link graph holds:

* account -- device, for every device used by at most ``max_hub_accounts`` accounts;
* account -- address, for every address used by at most ``ip_cap`` accounts, the largest
  ``max_ip_accounts`` of the enabled detectors (a busier address links nobody in any detector);
* the pairs each enabled detector declares with
  :meth:`~graphrisk.detectors.base.Detector.links`: the transfers a loop search may follow,
  the legs of a scatter-gather, loan money fed to a collector or passed on to a repayer,
  money with a defaulter, money between identity-linked accounts.

Every other transfer goes to the shards of both of its ends, and the account at the far end
of one (a *ghost*) is in the shard's accounts table, with none of its own rows: a shard sees
every transfer of its own accounts, and what their counterparties are, and leaves the ghost's
findings to the ghost's shard. What a shard cannot see of the book is handed to it as
:class:`BookFacts`: ``as_of`` and the snapshot time, the accounts on each device and
address, each account's transfer partners, its ties to accounts in default (the middle of
RISK_PROXIMITY's paths two links long: ``acc -- m -- d`` needs ``m``'s ties, not ``d`` in the
shard of ``acc``; as edges, those paths joined a third of a generated book into one
component) and the first transfer of the window. The flags,
decisions and groups of a sharded scan are then those of a whole scan, row for row, and its
run id is the same (``tests/test_shards.py`` forces dozens of shards and compares; removing
one detector's ``links`` makes it fail).

In a scan (``scan(..., shard_accounts=N)``) the shards are written to a temporary directory
once the plan is made (:class:`Spill`) and the book's tables are let go: the process then
holds one shard at a time, the plan's facts and the outputs so far, and each shard's
members are decided with it.

A device used by more than ``max_hub_accounts`` accounts joins no components (its number is
``shards.hubs_cut`` in the summary); a component larger than ``shard_accounts`` is never split,
it becomes a shard of its own (``shards.oversized``).

The plan itself (:func:`plan_shards`) takes its edges from :mod:`graphrisk.linkplan`: star-local
relational steps written once in narwhals, which the Spark scan runs on Spark DataFrames
(supersets of the detectors' exact ``links``; ``tests/test_linkplan.py`` checks every pair of
every ``links`` falls in one shard). No graph of the whole book is built; the heavy work (loop
search, Leiden, evidence) runs per shard.

Examples
--------
>>> from graphrisk.testing import tables
>>> t = tables(transfers=[("a", "b", 100, "2026-01-01"), ("c", "X1", 50, "2026-01-02")],
...            devices=[("a", "D1", "2026-01-01"), ("b", "D1", "2026-01-02")],
...            accounts=["a", "b", "c", "d"])
>>> plan = plan_shards(t, shard_accounts=2)
>>> plan.assignment.select("account_id", "shard").rows()
[('a', 0), ('b', 0), ('c', 1), ('d', 1)]
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from graphrisk.context import (
    DEFAULT_LOOKBACK_DAYS,
    IDX,
)
from graphrisk.errors import UsageError
from graphrisk.io import Tables, environment_errno

if TYPE_CHECKING:
    from graphrisk.policy import Policy

#: Default most accounts a shard holds (whole components; a larger component is its own shard).
DEFAULT_SHARD_ACCOUNTS = 500_000
#: Default: a device used by more accounts than this joins no components (its accounts may
#: then be scanned in several shards; `shards.hubs_cut` in the summary counts such devices).
DEFAULT_MAX_HUB_ACCOUNTS = 1_000
SHARD = pl.UInt32
#: The columns of :attr:`BookFacts.near` (:func:`graphrisk.linkplan.near_defaulters`).
NEAR_SCHEMA: dict[str, Any] = {
    "m": pl.String,
    "d": pl.String,
    "w": pl.Float64,
    **{p: pl.Float64 for p in ("device", "ip", "money", "often", "large")},
    "n_transfers": pl.Int64,
    "amount": pl.Float64,
    "through": pl.Boolean,
    "max_overdue_days": pl.Int64,
    "first_issued_us": pl.Int64,
}


@dataclass(frozen=True)
class BookFacts:
    """What every shard must know of the whole book.

    Attributes
    ----------
    as_of, snapshot
        The scan's reference time and the data's own latest timestamp (loans' overdue rule).
    hub_degree
        ``"dev"``: ``device_id, deg``; ``"ip"``: ``ip, deg`` (distinct accounts in the window).
    first_transfer, first_internal
        The first transfer in the window (between two accounts): where "a new relation"
        starts to be observable.
    partners
        ``account_id, len``: distinct accounts each account exchanged money with (a shard
        holds only part of a ghost's transfers).
    lender_ids
        The lenders of the window's loans (money from one is a payout, not income).
    near, near_params
        Every tie of an account of the shard to an account in default (:data:`NEAR_SCHEMA`,
        :func:`graphrisk.linkplan.near_defaulters`): RISK_PROXIMITY's direct ties and the
        middles of its paths two links long, whose defaulters may lie in other shards; and
        the parameters they were made with (:meth:`~graphrisk.detectors.risk_proximity.RiskProximity.near_params`).
    """

    as_of: datetime
    snapshot: datetime
    hub_degree: dict[str, pl.DataFrame] = field(default_factory=dict)
    first_transfer: datetime | None = None
    first_internal: datetime | None = None
    partners: pl.DataFrame | None = None
    lender_ids: pl.Series | None = None
    near: pl.DataFrame | None = None
    near_params: tuple[Any, ...] | None = None

    def for_shard(self, accounts: pl.DataFrame, devices: pl.DataFrame) -> BookFacts:
        """The facts a shard needs: those of the accounts, devices and addresses it holds."""
        hub = {}
        for key, col in (("dev", "device_id"), ("ip", "ip")):
            deg = self.hub_degree.get(key)
            if deg is not None:
                hub[key] = deg.join(devices.select(col).unique(), on=col, how="semi")
        partners = None
        if self.partners is not None:
            partners = self.partners.join(
                accounts.select("account_id"), on="account_id", how="semi"
            )
        near = None
        if self.near is not None:
            near = self.near.join(
                accounts.select(pl.col("account_id").alias("m")), on="m", how="semi"
            )
        return BookFacts(
            self.as_of,
            self.snapshot,
            hub,
            self.first_transfer,
            self.first_internal,
            partners,
            self.lender_ids,
            near,
            self.near_params,
        )


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
    external
        ``id, shard`` of the outside counterparties linked to accounts of a shard.
    """

    assignment: pl.DataFrame
    n_shards: int
    facts: BookFacts
    stats: dict[str, Any]
    external: pl.DataFrame
    book: Any = None  # the whole book's ScanContext the plan was made on


def ip_cap(policy: Policy | None) -> int:
    """The largest ``max_ip_accounts`` of the enabled detectors and the feature table
    (addresses used by more accounts link nobody anywhere)."""
    if policy is None:
        from graphrisk.policy import Policy

        policy = Policy.load(None)
    from graphrisk.features import MAX_IP_ACCOUNTS, proximity

    caps = [int(getattr(d, "max_ip_accounts", 0)) for d in policy.detectors()]
    return max([*caps, MAX_IP_ACCOUNTS, proximity(policy).max_ip_accounts])


def _graph_hub_degrees(ctx: Any) -> dict[str, pl.DataFrame]:
    """Distinct accounts per device (``device_id, deg``) and per address (``ip, deg``) in the
    window, from the graph's integer login pairs (what the link detectors count with)."""
    from graphrisk.detectors import _links

    g = ctx.graph
    out = {}
    for key, col, names in (("dev", "device_id", g.devices), ("ip", "ip", g.ips)):
        deg = (
            _links.hub_accounts(ctx, key)
            .group_by(key)
            .agg(pl.col("deg").first())
            .select(pl.col(key).alias("_hub"), "deg")
        )
        out[key] = (
            names.select(pl.col(col).alias("_name"), pl.col("idx").alias("_hub"))
            .join(deg, on="_hub")
            .select(pl.col("_name").alias(col), pl.col("deg").cast(pl.UInt32))
            .sort(col)
        )
    return out


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


def polars_inputs(ctx: Any) -> Any:
    """The window of ``ctx`` as :class:`graphrisk.linkplan.LinkInputs` over polars lazy
    frames (the local engine's side of the link plan)."""
    import narwhals as nw

    from graphrisk.linkplan import LinkInputs, epoch_us

    accounts = ctx.accounts.select("account_id").lazy()
    us = pl.col("ts").dt.epoch("us")
    # the window's rows in the tables' own order: every step here is relational (no sorted
    # copy of the largest tables is made for the plan)
    tr = (
        ctx.window("transfers")
        .lazy()
        .select(
            pl.col("src_account").alias("src"),
            pl.col("dst_account").alias("dst"),
            "amount",
            us.alias("us"),
        )
        .join(
            accounts.select(pl.col("account_id").alias("src"), pl.lit(True).alias("_s")),
            on="src",
            how="left",
        )
        .join(
            accounts.select(pl.col("account_id").alias("dst"), pl.lit(True).alias("_d")),
            on="dst",
            how="left",
        )
        .with_columns(
            (pl.col("_s").fill_null(False) & pl.col("_d").fill_null(False)).alias("internal")
        )
        .drop("_s", "_d")
    )
    logins = ctx.window("devices").lazy().select("account_id", "device_id", "ip", us.alias("us"))
    loans = (
        ctx.tables.loans.lazy()
        .filter(pl.col("issued_at") <= ctx.as_of)
        .select(
            "account_id",
            "loan_id",
            "amount",
            pl.col("issued_at").dt.epoch("us").alias("issued_us"),
            pl.col("repaid_at").dt.epoch("us").alias("repaid_us"),
            pl.col("due_at").dt.epoch("us").alias("due_us"),
            "overdue_days",
        )
    )
    # the first transfer between two accounts: the internal flag already says which
    origin = tr.filter(pl.col("internal")).select(pl.col("us").min()).collect().item()

    def materialise(lf: Any) -> Any:
        return nw.from_native(nw.to_native(lf).collect().lazy())

    return LinkInputs(
        nw.from_native(tr),
        nw.from_native(logins),
        nw.from_native(loans),
        epoch_us(ctx.as_of),
        epoch_us(ctx.start),
        None if origin is None else int(origin),
        materialise,
    )


def encoded_inputs(ctx: Any, inp: Any) -> tuple[Any, pl.Series, int, dict[str, pl.Series]]:
    """``inp`` with every id an integer code (``UInt32``), the node name of each code of an
    account or outside counterparty, the number of nodes, and the name of each device and
    address code (``"device_id"``, ``"ip"``: before the offset).

    Accounts are codes ``0..n-1`` (in ``ctx.accounts`` order), the other ends of transfers
    follow; devices and addresses are coded apart and offset after them
    (``LinkInputs.hub_offsets``). The link plan's joins then run on integers.
    """
    import narwhals as nw

    from graphrisk.linkplan import LinkInputs

    tr = nw.to_native(inp.transfers).collect()
    accounts = ctx.accounts["account_id"]
    others = (
        pl.concat([tr["src"], tr["dst"]])
        .unique()
        .sort()
        .to_frame("name")
        .join(accounts.to_frame("name"), on="name", how="anti")["name"]
    )
    names = pl.concat([accounts, others])

    def enc(df: pl.LazyFrame, col: str, table: pl.DataFrame) -> pl.LazyFrame:
        return (
            df.join(table.lazy().rename({"_name": col}), on=col, how="left")
            .drop(col)
            .rename({"_i": col})
        )

    code = pl.DataFrame({"_name": names}).with_row_index("_i")
    offsets: dict[str, int] = {}
    hub_names: dict[str, pl.Series] = {}
    start = names.len()
    logins = nw.to_native(inp.logins)
    for hub in ("device_id", "ip"):
        uniq = logins.select(pl.col(hub).alias("_name")).drop_nulls().unique().sort("_name")
        table = uniq.collect().with_row_index("_i")
        logins = enc(logins, hub, table)
        offsets[hub] = start
        hub_names[hub] = table["_name"]
        start += table.height
    transfers = enc(enc(tr.lazy(), "src", code), "dst", code)
    logins = enc(logins, "account_id", code)
    loans = enc(nw.to_native(inp.loans), "account_id", code)

    def materialise(lf: Any) -> Any:
        return nw.from_native(nw.to_native(lf).collect().lazy())

    out = LinkInputs(
        nw.from_native(transfers.collect().lazy()),
        nw.from_native(logins.collect().lazy()),
        nw.from_native(loans.collect().lazy()),
        inp.as_of_us,
        inp.start_us,
        inp.origin_us,
        materialise,
        offsets,
    )
    return out, names, start, hub_names


def linkers(policy: Policy) -> list[Any]:
    """The detectors whose money links cut the book: the enabled ones, and the feature
    table's paths to defaulters when RISK_PROXIMITY itself is off."""
    from graphrisk.features import proximity

    found = policy.detectors()
    if "risk_proximity" not in {d.name for d in found}:
        found.append(proximity(policy))
    return found


def plan_shards(
    tables: Tables,
    as_of: datetime | str | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    shard_accounts: int = DEFAULT_SHARD_ACCOUNTS,
    policy: Policy | None = None,
    max_hub_accounts: int = DEFAULT_MAX_HUB_ACCOUNTS,
) -> ShardPlan:
    """Cut the book into shards of whole linked components (see the module docstring).

    The link graph's edges come from :mod:`graphrisk.linkplan` (the same steps the Spark
    scan runs); no graph of the whole book is built.

    Parameters
    ----------
    tables
        The validated tables of the book.
    as_of, lookback_days
        The scan's window (``as_of`` defaults to the latest timestamp, as in a scan).
    shard_accounts
        Most accounts a shard holds; components are never split.
    policy
        The scan's policy: its enabled detectors say which transfers link (``link_plan``)
        and the largest ``max_ip_accounts`` which addresses do.
    max_hub_accounts
        A device used by more accounts joins no components.
    """
    import narwhals as nw

    from graphrisk import linkplan
    from graphrisk.context import ScanContext
    from graphrisk.policy import Policy as _Policy

    if shard_accounts < 1:
        from graphrisk.errors import UsageError

        raise UsageError(f"--shard-accounts must be a positive number, got {shard_accounts}")
    policy = policy if policy is not None else _Policy.load(None)
    ctx = ScanContext.build(tables, as_of=as_of, lookback_days=lookback_days)
    inp = polars_inputs(ctx)
    coded, names, n_nodes, hub_names = encoded_inputs(ctx, inp)
    dets = [d for d in linkers(policy) if all(ctx.tables.get(t) is not None for t in d.tables)]
    edges = nw.to_native(
        linkplan.link_edges(coded, dets, max_hub_accounts, ip_cap(policy))
    ).collect()
    accounts = ctx.accounts["account_id"]
    n = accounts.len()
    label = components(edges.select(pl.col("u").cast(IDX), pl.col("v").cast(IDX)), n_nodes)
    label = label[: names.len()]  # accounts and outside counterparties (hubs dropped)
    comp = pl.Series("c", label[:n], dtype=pl.Int64)
    shard = pack(comp, shard_accounts)
    assignment = pl.DataFrame({"account_id": accounts, "shard": shard, "component": comp})
    # an outside counterparty linked to accounts goes with them (its transfers join them)
    by_comp = assignment.group_by("component").agg(pl.col("shard").first())
    others = pl.DataFrame({"id": names.slice(n), "component": label[n:]}).cast(
        {"component": pl.Int64}
    )
    external = others.join(by_comp, on="component", how="inner").select("id", "shard")
    sizes = np.bincount(label[:n]) if n else np.zeros(0, dtype=np.int64)
    sizes = sizes[sizes > 0]
    per_shard = shard.value_counts().sort(shard.name)
    facts = book_facts(ctx, inp, policy, (coded, names, hub_names))
    stats = {
        "shards": int(per_shard.height),
        "shard_accounts": shard_accounts,
        "components": int(sizes.size),
        "largest_component": int(sizes.max()) if sizes.size else 0,
        "largest_shard": int(per_shard["count"].max()) if per_shard.height else 0,
        "oversized": int((sizes > shard_accounts).sum()),
        "link_edges": int(edges.height),
        "max_hub_accounts": max_hub_accounts,
        "hubs_cut": int((facts.hub_degree["dev"]["deg"] > max_hub_accounts).sum()),
    }
    return ShardPlan(assignment, int(per_shard.height), facts, stats, external, ctx)


def near_facts(policy: Policy | None, inp: Any, at_snapshot: bool) -> tuple[Any, tuple[Any, ...]]:
    """The book's ties to defaulters (:attr:`BookFacts.near`, a lazy frame of the engine
    ``inp`` is on) and the parameters they are made with: those of RISK_PROXIMITY, which
    the feature table uses even when the code itself is off."""
    from graphrisk.features import proximity

    det = proximity(policy)
    return det.near(inp, at_snapshot), det.near_params()


def book_facts(
    ctx: Any,
    inp: Any,
    policy: Policy | None = None,
    coded: tuple[Any, pl.Series, dict[str, pl.Series]] | None = None,
) -> BookFacts:
    """The :class:`BookFacts` of a whole book's window (from the link plan's inputs).

    ``coded``: the same inputs with integer ids, the name of each account or counterparty
    code and of each device and address code (:func:`encoded_inputs`): the counts and the
    ties to defaulters are then found on integers (the joins of the whole book's logins and
    transfers) and named after."""
    import narwhals as nw

    from graphrisk import linkplan

    on, accounts, hubs = (inp, None, {}) if coded is None else coded

    def named(df: pl.DataFrame, col: str, names: pl.Series | None) -> pl.DataFrame:
        # integer codes back to ids (``names`` is None when the inputs are not coded)
        return df if names is None else df.with_columns(names.gather(df[col]).alias(col))

    degree = {}
    for key, col in (("dev", "device_id"), ("ip", "ip")):
        deg = named(nw.to_native(linkplan.hub_degree(on, col)).collect(), col, hubs.get(col))
        degree[key] = deg.select(col, pl.col("deg").cast(pl.UInt32)).sort(col)
    partners = named(nw.to_native(linkplan.partner_counts(on)).collect(), "account_id", accounts)
    partners = partners.select("account_id", pl.col("partners").cast(pl.UInt32).alias("len")).sort(
        "account_id"
    )
    tr = ctx.window("transfers")
    acc = ctx.accounts["account_id"].implode()
    internal = tr.filter(pl.col("src_account").is_in(acc) & pl.col("dst_account").is_in(acc))
    at_snapshot = not ctx.tables.loans.height or ctx.as_of >= ctx.snapshot
    near, params = near_facts(policy, on, at_snapshot)
    if ctx.tables.get("loans") is None:
        near = None
    else:
        near = nw.to_native(near).collect()
        for col in ("m", "d"):
            near = named(near, col, accounts)
        near = near.select(list(NEAR_SCHEMA)).cast(NEAR_SCHEMA).sort("m", "d")
    return BookFacts(
        ctx.as_of,
        ctx.snapshot,
        degree,
        tr["ts"].min() if tr.height else None,  # type: ignore[arg-type]
        internal["ts"].min() if internal.height else None,  # type: ignore[arg-type]
        partners,
        ctx.window("loans")["lender_id"].unique().sort(),
        near,
        params,
    )


def split(tables: Tables, plan: ShardPlan) -> Iterator[tuple[Tables, pl.Series]]:
    """The book's tables cut into the plan's shards: per shard its tables and its members.

    Accounts, loans, logins and applications go to their account's shard. A transfer goes
    to the shard of each end (an account, or an outside counterparty linked to accounts),
    once or twice; one between two unlinked outsiders to shard 0. A shard's tables also hold
    the accounts at the other end of its transfers (*ghosts*: the account row only, so that
    a transfer between two accounts stays one), whose findings are left to their own shard.
    """
    a = plan.assignment.select("account_id", "shard")
    anchor = pl.concat([a.rename({"account_id": "id"}), plan.external])

    def shard_of(keys: pl.Series, table: pl.DataFrame, col: str) -> pl.Series:
        # the shard of each row's key, in row order: a column of its own, not a copy of
        # the table with one more column (the tables stay the only copy of the book)
        return (
            keys.to_frame(col)
            .join(table.rename({table.columns[0]: col}), on=col, how="left", maintain_order="left")
            .get_column("shard")
        )

    by_acc = {
        name: (df, shard_of(df["account_id"], a, "account_id"))
        for name in ("accounts", "loans", "devices", "applications")
        if (df := tables.get(name)) is not None
    }
    tr = tables.transfers
    s_src = shard_of(tr["src_account"], anchor, "src_account")
    s_dst = shard_of(tr["dst_account"], anchor, "dst_account")
    # a transfer goes to its sender's shard (else its receiver's, else shard 0), and also
    # to its receiver's when that is another
    ends = pl.DataFrame({"_s": s_src, "_d": s_dst}).select(
        pl.coalesce("_s", "_d", pl.lit(0, SHARD)).alias("first"),
        pl.when(pl.col("_s").is_not_null() & (pl.col("_s") != pl.col("_d")))
        .then(pl.col("_d"))
        .alias("second"),
    )
    first, second = ends["first"], ends["second"]
    del s_src, s_dst, ends
    # one shard at a time: a filter per shard and table, so only one shard's copy is alive
    for s in range(plan.n_shards):

        def part(name: str, s: int = s) -> pl.DataFrame | None:
            if name not in by_acc:
                return None
            df, shard = by_acc[name]
            return df.filter(shard == s)

        members = part("accounts")
        transfers = pl.concat([tr.filter(first == s), tr.filter(second == s)])
        assert members is not None
        ends = pl.concat([transfers["src_account"], transfers["dst_account"]]).unique()
        ghosts = tables.accounts.join(
            pl.DataFrame({"account_id": ends}), on="account_id", how="semi"
        ).join(members.select("account_id"), on="account_id", how="anti")
        yield (
            Tables(
                accounts=pl.concat([members, ghosts]),
                loans=part("loans"),  # type: ignore[arg-type]
                transfers=transfers,
                devices=part("devices"),  # type: ignore[arg-type]
                applications=part("applications"),
                source=tables.source,
                lenders=tables.lenders,
            ),
            members["account_id"],
        )


#: The tables a shard is written with (``accounts`` holds its ghosts too).
SPILLED = ("accounts", "loans", "transfers", "devices", "applications")


class Spill:
    """A book's shards written to a temporary directory, read back one at a time.

    A sharded scan holds the whole book only until its shards are written: then the book's
    tables are let go, and each shard's tables are read back when its turn comes (the
    process then holds one shard, the plan's facts and the outputs so far). The files are
    :func:`split`'s tables, one folder per shard; :meth:`rows` reads the rows of a few
    accounts back (a report's drawings, a networkx view of a group). The directory is
    removed by :meth:`close`, or when the object is collected.

    Parameters
    ----------
    tables, plan
        The book and its plan.
    root
        Where the temporary directory goes (default: the system's, ``TMPDIR``). The shards
        take about the book's size in lz4 Parquet (the input files' size, give or take).

    Raises
    ------
    UsageError
        If ``root`` is not a writable directory, or the shards cannot be written there for
        lack of space or permission (the message names the directory, the space the book's
        tables take in memory and the space free there; nothing is left behind).
    """

    def __init__(self, tables: Tables, plan: ShardPlan, root: str | Path | None = None) -> None:
        import tempfile

        check_spill_dir(root)
        try:
            self._tmp = tempfile.TemporaryDirectory(prefix="graphrisk-shards-", dir=root)
        except OSError as e:
            raise _spill_error(e, root or tempfile.gettempdir(), tables) from e
        self.root = Path(self._tmp.name)
        self.n_shards = plan.n_shards
        self.present = [n for n in SPILLED if tables.get(n) is not None]
        self.source, self.lenders = tables.source, tables.lenders
        self.shard_of = plan.assignment.select("account_id", "shard")
        try:
            for s, (part, members) in enumerate(split(tables, plan)):
                d = self.folder(s)
                d.mkdir()
                # lz4: written once, read once, soon removed (a third faster to write than
                # zstd, the default, for 1.6x the disk; 13M logins: 1.8 s against 2.8 s)
                for name in self.present:
                    part.get(name).write_parquet(  # type: ignore[union-attr]
                        self.file(s, name), compression="lz4"
                    )
                members.to_frame("account_id").write_parquet(self.file(s, "members"))
        except BaseException as e:
            self._tmp.cleanup()  # nothing half-written is left behind
            if isinstance(e, Exception) and environment_errno(e) is not None:
                raise _spill_error(e, self.root.parent, tables) from e
            raise

    def folder(self, s: int) -> Path:
        return self.root / f"shard={s}"

    def file(self, s: int, name: str) -> Path:
        """Shard ``s``'s file of table ``name`` (or of its ``members``)."""
        return self.folder(s) / f"{name}.parquet"

    def _read(self, s: int, name: str) -> pl.DataFrame | None:
        if name not in self.present:
            return None
        return pl.read_parquet(self.file(s, name))

    def shard(self, s: int) -> tuple[Tables, pl.Series]:
        """Shard ``s``'s tables (as :func:`split` made them) and its members."""
        return (
            Tables(
                accounts=self._read(s, "accounts"),  # type: ignore[arg-type]
                loans=self._read(s, "loans"),  # type: ignore[arg-type]
                transfers=self._read(s, "transfers"),  # type: ignore[arg-type]
                devices=self._read(s, "devices"),  # type: ignore[arg-type]
                applications=self._read(s, "applications"),
                source=self.source,
                lenders=self.lenders,
            ),
            pl.read_parquet(self.file(s, "members"))["account_id"],
        )

    def __iter__(self) -> Iterator[tuple[Tables, pl.Series]]:
        for s in range(self.n_shards):
            yield self.shard(s)

    def rows(self, accounts: list[str] | None) -> Tables:
        """The rows of ``accounts`` (``None``: every account): their own account rows, loans,
        logins and applications, and every transfer they sent or received, read from the
        shards they are in (a transfer between two shards is stored in both: kept once)."""
        if accounts is None:
            shards = list(range(self.n_shards))
            keep = None
        else:
            keep = pl.Series(list(accounts), dtype=pl.String).implode()
            shards = (
                self.shard_of.filter(pl.col("account_id").is_in(keep))["shard"]
                .unique()
                .sort()
                .to_list()
            )

        def gather(name: str, mine: pl.Expr | None) -> pl.DataFrame | None:
            if name not in self.present:
                return None
            if not shards:  # none of them is in the book: the table's columns, no rows
                return pl.read_parquet(self.file(0, name)).clear()
            lf = pl.scan_parquet([str(self.file(s, name)) for s in shards])
            return (lf if mine is None else lf.filter(mine)).collect()

        def own(col: str = "account_id") -> pl.Expr | None:
            return None if keep is None else pl.col(col).is_in(keep)

        # each account's row from its own shard (where it is a member, not a ghost)
        accounts_rows = pl.concat(
            [
                pl.read_parquet(self.file(s, "accounts")).join(
                    pl.read_parquet(self.file(s, "members")), on="account_id", how="semi"
                )
                for s in shards
            ]
            or [pl.read_parquet(self.file(0, "accounts")).clear()]
        )
        if keep is not None:
            accounts_rows = accounts_rows.filter(own())
        moved = None if keep is None else own("src_account") | own("dst_account")
        transfers = gather("transfers", moved)
        assert transfers is not None
        return Tables(
            accounts=accounts_rows.sort("account_id"),
            loans=gather("loans", own()),  # type: ignore[arg-type]
            transfers=transfers.unique("transfer_id", keep="first", maintain_order=True),
            devices=gather("devices", own()),  # type: ignore[arg-type]
            applications=gather("applications", own()),
            source=self.source,
            lenders=self.lenders,
        )

    def close(self) -> None:
        """Remove the directory (the shards can no longer be read)."""
        self._tmp.cleanup()


def check_spill_dir(root: str | Path | None) -> None:
    """Raise :class:`UsageError` (exit 2) when a given spill folder is not a directory."""
    if root is not None and not Path(root).is_dir():
        raise UsageError(f"--spill-dir: {root} is not a directory")


def _spill_error(e: BaseException, where: str | Path, tables: Tables) -> UsageError:
    """The :class:`UsageError` of shards that could not be written to ``where``."""
    import shutil

    code = environment_errno(e)
    why = os.strerror(code) if code is not None else (getattr(e, "strerror", None) or str(e))
    mb = 2**20
    held = sum(df.estimated_size() for n in SPILLED if (df := tables.get(n)) is not None)
    try:
        free = f"{shutil.disk_usage(where).free / mb:,.0f} MB are free there"
    except OSError:
        free = "its free space is unknown"
    return UsageError(
        f"--spill-dir: cannot write the shards to {where}: {why}; the book's tables take"
        f" {held / mb:,.0f} MB in memory (the shards, lz4 Parquet, take less) and {free}."
        " Point --spill-dir (scan(..., spill_dir=...)) or TMPDIR at a larger, writable disk."
    )
