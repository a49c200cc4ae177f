"""The link graph of a sharded scan, written once for both engines (narwhals).

A sharded scan (:mod:`graphrisk.shards`) cuts the book along the connected components of a
*link graph*: accounts joined by a shared device or a rare address, and by the transfers one
finding may follow. This module says which edges that graph has, as narwhals expressions over
lazy frames, so the same code runs on polars (in this process, lazily) and on Spark
DataFrames (on a cluster, nothing collected): the Splink lesson of ``../shared/STYLE.md``, a
pipeline of relational steps handed to an engine, with narwhals as the dialect.

Every step is **star-local**: it reads one node's rows (its logins, loans, transfers) or one
pair's transfers, joined with small per-node facts ("has a fresh transfer in this window
bucket", "is in default") by equi-joins. Nothing needs the whole graph in one place: the one
whole-graph algorithm, connected components, is the engine's (scipy in process,
large-star/small-star on Spark, :mod:`graphrisk.engines.spark_graph`).

Each detector that links accounts through money declares its edges with
:meth:`~graphrisk.detectors.base.Detector.link_plan`. They are **supersets** of what the
detector's own prefilter keeps (:meth:`~graphrisk.detectors.base.Detector.links`, exact, on
one process's whole graph): a superset only makes shards larger, a pair left out would make a
sharded scan miss a finding. ``tests/test_linkplan.py`` checks on generated worlds that every
pair of every detector's ``links`` lies inside one component of this graph, and that the
components stay small. The one place where a superset is more than "the same filter": the
loop search keeps transfers inside a strongly connected part of a time window (a whole-graph
algorithm); here the transfers are *trimmed* instead, a fixed number of rounds of dropping
those whose sender received nothing, or whose receiver sent nothing, within the same
three-window span (an edge of a strongly connected part is never dropped; the three windows
cover any two-window span the detector's grid can start at). On a generated 100,000-account
world this keeps 13,249 of 99,741 searchable transfers where strong connection keeps 13,080,
and the largest component grows from 6,885 to 7,006 accounts.

Node ids are the book's own strings: account ids, outside counterparties' ids, and devices and
addresses prefixed with :data:`DEVICE` / :data:`IP` (control characters no id of the SPEC
contains).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import narwhals as nw

#: Microseconds per day (times are integer microseconds since the epoch in every frame here).
DAY_US = 86_400_000_000
#: Prefixes of device and address nodes.
DEVICE, IP = "\x1fD", "\x1fI"


class Materialise(Protocol):
    """Compute a lazy frame once and return it as a lazy frame (cuts the plan)."""

    def __call__(self, lf: nw.LazyFrame) -> nw.LazyFrame: ...


@dataclass(frozen=True)
class LinkInputs:
    """The book's window as narwhals lazy frames (polars or Spark), times in microseconds.

    Attributes
    ----------
    transfers
        ``src, dst, amount, us, internal`` (``internal``: both ends are accounts).
    logins
        ``account_id, device_id, ip, us``.
    loans
        ``account_id, amount, issued_us, repaid_us, due_us, overdue_days`` (every loan of the
        book issued by ``as_of``; ``repaid_us`` null while open).
    as_of_us, start_us
        The window's end and start.
    origin_us
        The first transfer between two accounts in the window (``None``: none).
    materialise
        The engine's way to compute an intermediate result once.
    hub_offsets
        With integer codes (the local engine), where device and address nodes start.
    """

    transfers: nw.LazyFrame
    logins: nw.LazyFrame
    loans: nw.LazyFrame
    as_of_us: int
    start_us: int
    origin_us: int | None
    materialise: Materialise
    #: ``None``: ids are the book's strings (hubs prefixed); else every id is an integer
    #: code and ``device_id`` / ``ip`` codes are offset by these to be nodes of their own
    hub_offsets: dict[str, int] | None = None


def epoch_us(dt: Any) -> int:
    """Microseconds since the epoch of a naive (UTC) datetime, as the frames here count."""
    import polars as pl

    return int(pl.Series([dt]).dt.epoch("us")[0])


def edges(u: Any, v: Any) -> list[nw.Expr]:
    """The two columns of an edge frame (``u``, ``v``: node ids, strings or integer codes)."""
    return [nw.col(u).alias("u"), nw.col(v).alias("v")]


def hub_degree(inp: LinkInputs, hub: str) -> nw.LazyFrame:
    """``hub, deg``: distinct accounts that logged in on each device or address."""
    return (
        inp.logins.filter(~nw.col(hub).is_null())
        .group_by(hub)
        .agg(nw.col("account_id").n_unique().alias("deg"))
    )


def hub_accounts(inp: LinkInputs, hub: str, max_accounts: int) -> nw.LazyFrame:
    """``account_id, hub``: accounts on a device or address used by 2..``max_accounts``."""
    ok = hub_degree(inp, hub).filter((nw.col("deg") >= 2) & (nw.col("deg") <= max_accounts))
    return (
        inp.logins.select("account_id", hub)
        .filter(~nw.col(hub).is_null())
        .unique()
        .join(ok.select(hub), on=hub, how="semi")
    )


def identity_edges(inp: LinkInputs, max_device_accounts: int, max_ip_accounts: int) -> nw.LazyFrame:
    """Account -- device and account -- address edges (hubs of 2..max accounts)."""
    parts = []
    for hub, cap, prefix in (
        ("device_id", max_device_accounts, DEVICE),
        ("ip", max_ip_accounts, IP),
    ):
        ha = hub_accounts(inp, hub, cap)
        if inp.hub_offsets is not None:  # integer codes: hubs numbered after the accounts
            node = (nw.col("v") + inp.hub_offsets[hub]).cast(nw.UInt32)
        else:
            node = nw.concat_str([nw.lit(prefix), nw.col("v")])
        parts.append(ha.select(*edges("account_id", hub)).with_columns(node.alias("v")))
    return nw.concat(parts, how="vertical")


def tied_accounts(inp: LinkInputs, max_device_accounts: int, max_ip_accounts: int) -> nw.LazyFrame:
    """``account_id`` of every account sharing a device or an address with another."""
    return nw.concat(
        [
            hub_accounts(inp, "device_id", max_device_accounts).select("account_id"),
            hub_accounts(inp, "ip", max_ip_accounts).select("account_id"),
        ],
        how="vertical",
    ).unique()


def ordered(a: str = "src", b: str = "dst") -> list[nw.Expr]:
    """The two ends of a transfer as an unordered pair ``lo < hi``."""
    lo = nw.when(nw.col(a) < nw.col(b)).then(nw.col(a)).otherwise(nw.col(b))
    hi = nw.when(nw.col(a) < nw.col(b)).then(nw.col(b)).otherwise(nw.col(a))
    return [lo.alias("lo"), hi.alias("hi")]


def transfer_pairs(inp: LinkInputs) -> nw.LazyFrame:
    """``lo, hi``: pairs of accounts with money between them (either way)."""
    return (
        inp.transfers.filter(nw.col("internal") & (nw.col("src") != nw.col("dst")))
        .select(*ordered())
        .unique()
    )


def partner_counts(inp: LinkInputs) -> nw.LazyFrame:
    """``account_id, partners``: distinct accounts each account exchanged money with."""
    pairs = transfer_pairs(inp)
    ends = nw.concat(
        [
            pairs.select(nw.col("lo").alias("account_id")),
            pairs.select(nw.col("hi").alias("account_id")),
        ],
        how="vertical",
    )
    return ends.group_by("account_id").agg(nw.len().alias("partners"))


def bursty(transfers: nw.LazyFrame, who: str, other: str, seconds: float, k: int) -> nw.LazyFrame:
    """Transfers of ``who`` with ``k``+ distinct ``other`` ends in two adjacent time buckets
    of ``seconds`` (``bucket`` kept; times in ``us``): SCATTER_GATHER's cheap superset of the
    senders and receivers a window of that length can hold ``k`` of (it lies in two
    buckets), shared by the detector and the shard plan."""
    size = max(int(seconds * 1_000_000), 1)
    df = transfers.with_columns((nw.col("us") // size).alias("bucket"))
    cnt = df.group_by(who, "bucket").agg(nw.col(other).n_unique().alias("c"))
    nxt = cnt.select(who, (nw.col("bucket") - 1).alias("bucket"), nw.col("c").alias("c_next"))
    prv = cnt.select(who, (nw.col("bucket") + 1).alias("bucket"), nw.col("c").alias("c_prev"))
    ok = (
        cnt.join(nxt, on=[who, "bucket"], how="left")
        .join(prv, on=[who, "bucket"], how="left")
        .filter(
            (nw.col("c") + nw.col("c_next").fill_null(0) >= k)
            | (nw.col("c") + nw.col("c_prev").fill_null(0) >= k)
        )
        .select(who, "bucket")
    )
    return df.join(ok, on=[who, "bucket"], how="semi")


def trim(
    tr: nw.LazyFrame, span_us: int, origin_us: int, rounds: int, materialise: Materialise
) -> nw.LazyFrame:
    """``src, dst`` of the transfers left after ``rounds`` rounds of trimming (see the module
    docstring): each transfer sits in the three spans of ``span_us`` that cover its time; a
    round drops, per span, the transfers whose sender received nothing in it or whose receiver
    sent nothing in it. A transfer of a cycle that lies within one span is never dropped."""
    layer = (nw.col("us") - origin_us) // span_us
    copies = nw.concat(
        [tr.select("src", "dst", (layer - i).alias("layer")) for i in range(3)], how="vertical"
    ).unique()
    cur = materialise(copies)
    for _ in range(rounds):
        into = cur.select(nw.col("dst").alias("src"), "layer").unique()
        out_of = cur.select(nw.col("src").alias("dst"), "layer").unique()
        cur = materialise(
            cur.join(into, on=["src", "layer"], how="semi").join(
                out_of, on=["dst", "layer"], how="semi"
            )
        )
    return cur.select("src", "dst").unique()


def defaulters(inp: LinkInputs, default_days: int) -> nw.LazyFrame:
    """``account_id`` of every account with a loan ``default_days`` or more past due at
    ``as_of`` (a superset of the scan's rule: the table's own days, or an open loan's days
    since its due date)."""
    late_us = inp.as_of_us - default_days * DAY_US
    still_open = nw.col("repaid_us").is_null() | (nw.col("repaid_us") > inp.as_of_us)
    bad = (nw.col("overdue_days") >= default_days) | (
        still_open & ~nw.col("due_us").is_null() & (nw.col("due_us") <= late_us)
    )
    return inp.loans.filter(bad).select("account_id").unique()


#: Rounds of trimming of the loop search's transfers (each round only drops transfers, so
#: stopping early keeps a superset; 6 rounds reach the fixed point on generated worlds).
TRIM_ROUNDS = 8


def cycle_edges(
    inp: LinkInputs,
    window_days: float,
    max_relation_days: float,
    min_history_days: float,
    rounds: int = TRIM_ROUNDS,
) -> nw.LazyFrame | None:
    """Transfers a loop search may follow (a superset of TRANSFER_CYCLE's ``links``): fresh
    transfers and the non-fresh ones between two accounts with fresh transfers nearby in
    time, trimmed (see the module docstring)."""
    if inp.origin_us is None:
        return None
    t = ((nw.col("us") - inp.origin_us) / DAY_US).alias("t")
    tr = inp.transfers.filter(nw.col("internal")).select("src", "dst", "us", *ordered(), t)
    span = tr.group_by("lo", "hi").agg(
        nw.col("t").min().alias("first"), nw.col("t").max().alias("last")
    )
    w = window_days
    seen = (nw.col("t") >= min_history_days) | (nw.col("last") <= nw.col("t") + w)
    fresh = (
        (nw.col("first") >= nw.col("t") - w)
        & (nw.col("last") - nw.col("first") <= max_relation_days)
        & seen
    )
    window_us = max(int(w * DAY_US), 1)
    tr = inp.materialise(
        tr.join(span, on=["lo", "hi"], how="left").select(
            "src",
            "dst",
            "us",
            fresh.alias("fresh"),
            ((nw.col("us") - inp.origin_us) // window_us).alias("bucket"),
        )
    )
    # a node with a fresh transfer within w days of t has one in t's bucket or a neighbour
    ends = nw.concat(
        [
            tr.filter(nw.col("fresh")).select(nw.col(c).alias("node"), "bucket")
            for c in ("src", "dst")
        ],
        how="vertical",
    ).unique()
    near = nw.concat(
        [ends.with_columns(nw.col("bucket") + d) for d in (-1, 0, 1)], how="vertical"
    ).unique()
    stale = tr.filter(~nw.col("fresh"))
    bridges = stale.join(
        near.select(nw.col("node").alias("src"), "bucket"), on=["src", "bucket"], how="semi"
    ).join(near.select(nw.col("node").alias("dst"), "bucket"), on=["dst", "bucket"], how="semi")
    search = nw.concat(
        [tr.filter(nw.col("fresh")).select("src", "dst", "us"), bridges.select("src", "dst", "us")],
        how="vertical",
    )
    return trim(search, window_us, inp.origin_us, rounds, inp.materialise).select(
        *edges("src", "dst")
    )


def scatter_edges(
    inp: LinkInputs, scatter_hours: float, gather_days: float, k: int, min_forward_share: float
) -> nw.LazyFrame:
    """Source -- intermediary -- sink legs of a possible scatter-gather (a superset of
    SCATTER_GATHER's ``links``: its bursty senders and receivers, time order, forwarded share
    and ``k`` intermediaries per source and sink)."""
    tr = inp.transfers.select("src", "dst", "us", "amount")
    src_ok = bursty(tr, "src", "dst", scatter_hours * 3600, k)
    sink_ok = bursty(tr, "dst", "src", scatter_hours * 3600 + gather_days * 86400, k)
    # each step computed once (a lazy frame used twice would be computed twice, and the
    # rounds below use each one's result in the next)
    as_scatter = {"src": "source", "dst": "mid", "us": "sent", "amount": "sent_amount"}
    as_forward = {"src": "mid", "dst": "sink", "us": "fwd", "amount": "fwd_amount"}

    def legs_of(transfers: nw.LazyFrame, names: dict[str, str]) -> nw.LazyFrame:
        return inp.materialise(transfers.select(*names).rename(names))

    def again(legs: nw.LazyFrame, names: dict[str, str], *rule: Any) -> nw.LazyFrame:
        return legs_of(bursty(legs.rename({v: k for k, v in names.items()}), *rule), names)

    scatter = legs_of(src_ok, as_scatter)
    forward = legs_of(sink_ok, as_forward)
    scatter = inp.materialise(scatter.join(forward.select("mid").unique(), on="mid", how="semi"))
    forward = inp.materialise(forward.join(scatter.select("mid").unique(), on="mid", how="semi"))
    # again among those only, as the detector does: a source needs k intermediaries that
    # forward at all, a sink k senders that received from such a source (at the slow
    # tempo's wide windows this cuts the join below by an order of magnitude)
    gather_s = scatter_hours * 3600 + gather_days * 86400
    for _ in range(2):
        scatter = again(scatter, as_scatter, "src", "dst", scatter_hours * 3600, k)
        forward = forward.join(scatter.select("mid").unique(), on="mid", how="semi")
        forward = again(forward, as_forward, "dst", "src", gather_s, k)
        scatter = inp.materialise(
            scatter.join(forward.select("mid").unique(), on="mid", how="semi")
        )
    gather_us = int(gather_days * DAY_US)
    legs = inp.materialise(
        scatter.join(forward, on="mid", how="inner")
        .filter(
            (nw.col("sink") != nw.col("source"))
            & (nw.col("fwd") >= nw.col("sent"))
            & (nw.col("fwd") <= nw.col("sent") + gather_us)
        )
        .group_by("source", "mid", "sent", "sent_amount", "sink")
        .agg(nw.col("fwd_amount").sum())
        .filter(nw.col("fwd_amount") >= min_forward_share * nw.col("sent_amount"))
        .select("source", "mid", "sink")
        .unique()
    )
    many = (
        legs.group_by("source", "sink")
        .agg(nw.col("mid").n_unique().alias("n"))
        .filter(nw.col("n") >= k)
        .select("source", "sink")
    )
    legs = legs.join(many, on=["source", "sink"], how="semi")
    return nw.concat(
        [legs.select(*edges("source", "mid")), legs.select(*edges("mid", "sink"))],
        how="vertical",
    )


def feed_edges(
    inp: LinkInputs, max_lag_days: float, min_share: float, min_feeders: int
) -> nw.LazyFrame:
    """Feeder -- collector of loan money passed on within the lag to a collector fed by
    ``min_feeders`` borrowers (FAN_IN_COLLECTOR's ``links``)."""
    loans = inp.loans.filter(nw.col("issued_us") >= inp.start_us).select(
        nw.col("account_id").alias("feeder"),
        "loan_id",
        nw.col("amount").alias("loan_amount"),
        "issued_us",
    )
    tr = inp.transfers.select(
        nw.col("src").alias("feeder"), nw.col("dst").alias("collector"), "amount", "us"
    )
    lag_us = int(max_lag_days * DAY_US)
    feeds = (
        loans.join(tr, on="feeder", how="inner")
        .filter(
            (nw.col("us") >= nw.col("issued_us")) & (nw.col("us") <= nw.col("issued_us") + lag_us)
        )
        .group_by("collector", "feeder", "loan_id")
        .agg(nw.col("loan_amount").max(), nw.col("amount").sum().alias("fed"))
        .filter(nw.col("fed") >= min_share * nw.col("loan_amount"))
        .select("collector", "feeder")
        .unique()
    )
    feeds = inp.materialise(feeds)
    many = (
        feeds.group_by("collector")
        .agg(nw.col("feeder").n_unique().alias("n"))
        .filter(nw.col("n") >= min_feeders)
    )
    return feeds.join(many.select("collector"), on="collector", how="semi").select(
        *edges("feeder", "collector")
    )


def pass_on_edges(inp: LinkInputs, transfer_days: float, min_share: float) -> nw.LazyFrame:
    """Sender -- receiver of ``min_share`` of one of the sender's loans, sent within
    ``transfer_days`` of its payout to an account that repays a loan in the window (a
    superset of LOAN_RECYCLING's ``links``; its sums are rounded to cents, hence half a cent
    of slack)."""
    tw_us = int(transfer_days * DAY_US)
    x_loans = inp.loans.filter(nw.col("issued_us") >= inp.start_us - tw_us).select(
        nw.col("account_id").alias("x"),
        "loan_id",
        nw.col("amount").alias("x_amount"),
        "issued_us",
    )
    repayers = (
        inp.loans.filter(nw.col("repaid_us") >= inp.start_us)
        .select(nw.col("account_id").alias("y"))
        .unique()
    )
    tr = (
        inp.transfers.filter(nw.col("src") != nw.col("dst"))
        .select(nw.col("src").alias("x"), nw.col("dst").alias("y"), "us", "amount")
        .join(repayers, on="y", how="semi")
    )
    after = (nw.col("us") >= nw.col("issued_us")) & (nw.col("us") <= nw.col("issued_us") + tw_us)
    return (
        tr.join(x_loans, on="x", how="inner")
        .filter(after)
        .group_by("x", "loan_id", "y")
        .agg(nw.col("x_amount").max(), nw.col("amount").sum().alias("moved"))
        .filter(nw.col("moved") >= min_share * nw.col("x_amount") - 0.005)
        .select(*edges("x", "y"))
        .unique()
    )


def scan_defaulters(inp: LinkInputs, default_days: int, at_snapshot: bool) -> nw.LazyFrame:
    """``account_id, max_overdue_days, first_issued_us``: the accounts in default by the
    scan's own rule (:attr:`graphrisk.context.ScanContext.loans` and
    :func:`graphrisk.detectors._links.defaulters`), exactly, not a superset.

    A loan of the window still open at ``as_of`` counts its days past due then, or the
    table's own days when larger and ``as_of`` is at or after the data's snapshot
    (``at_snapshot``)."""
    in_window = (
        (nw.col("issued_us") >= inp.start_us)
        | nw.col("repaid_us").is_null()
        | (nw.col("repaid_us") >= inp.start_us)
    )
    repaid = nw.when(nw.col("repaid_us") <= inp.as_of_us).then(nw.col("repaid_us"))
    # whole days, as polars' Duration.total_days counts them (clipped at 0 below)
    late = ((nw.lit(inp.as_of_us) - nw.col("due_us")) // DAY_US).clip(lower_bound=0)
    open_late = nw.max_horizontal("overdue_days", late) if at_snapshot else late
    days = (
        nw.when(nw.col("_repaid").is_null() & ~nw.col("due_us").is_null())
        .then(open_late)
        .otherwise(nw.col("overdue_days"))
        .cast(nw.Int64)
    )
    return (
        inp.loans.filter((nw.col("issued_us") <= inp.as_of_us) & in_window)
        .with_columns(repaid.alias("_repaid"))
        .with_columns(days.alias("_days"))
        .filter(nw.col("_days") >= default_days)
        .group_by("account_id")
        .agg(
            nw.col("_days").max().alias("max_overdue_days"),
            nw.col("issued_us").min().alias("first_issued_us"),
        )
    )


def near_defaulters(
    inp: LinkInputs,
    detector: Any,
    at_snapshot: bool,
) -> nw.LazyFrame:
    """Every tie of an account ``m`` to an account ``d`` in default: ``m, d, w`` (the weight
    of ``d`` behind the tie), the tie's parts ``device, ip, money, often, large``,
    ``n_transfers, amount``, ``through`` (``m`` has at most ``max_partners`` transfer
    partners, so a path may run through it), and ``d``'s ``max_overdue_days,
    first_issued_us``.

    These are RISK_PROXIMITY's direct ties (``acc = m``) and the middles of its paths two
    links long (``acc -- m -- d``), handed to each shard as a book fact, so that neither
    needs ``d`` in the shard. The ties are :func:`graphrisk.detectors._ties.tie_table`'s,
    the one rule the detector weighs with, on the whole book. ``detector`` is the
    :class:`~graphrisk.detectors.risk_proximity.RiskProximity` whose parameters apply."""
    from graphrisk.detectors import _ties

    bad = inp.materialise(scan_defaulters(inp, detector.default_days, at_snapshot))
    hub_rows = {}
    for key, col in (("dev", "device_id"), ("ip", "ip")):
        last = (
            inp.logins.filter(~nw.col(col).is_null())
            .group_by("account_id", col)
            .agg(nw.col("us").max().alias("last"))
        )
        hub_rows[key] = last.join(hub_degree(inp, col), on=col).select(
            nw.col("account_id").alias("acc"), nw.col(col).alias("hub"), "deg", "last"
        )
    transfers = inp.transfers.filter(nw.col("internal")).select("src", "dst", "amount", "us")
    hubs = (
        partner_counts(inp)
        .filter(nw.col("partners") > detector.max_partners)
        .select(nw.col("account_id").alias("acc"))
    )
    hubs = inp.materialise(hubs)
    caps = {"dev": detector.max_device_accounts, "ip": detector.max_ip_accounts}
    ends = bad.select(nw.col("account_id").alias("acc"))
    cols = [*_ties._PARTS, "n_transfers", "amount"]  # parts rounded by tie_table
    tie = inp.materialise(
        _ties.tie_table(hub_rows, transfers, hubs, inp.as_of_us, caps, detector.weights(), ends)
        .filter(nw.col("a") != nw.col("b"))
        .select("a", "b", _ties.tie_weight(detector.base_weight).alias("w"), *cols)
    )
    rest = ["w", *_ties._PARTS, "n_transfers", "amount"]
    info = bad.select(nw.col("account_id").alias("d"), "max_overdue_days", "first_issued_us")
    directed = nw.concat(
        [
            tie.select(nw.col("b").alias("m"), nw.col("a").alias("d"), *rest),
            tie.select(nw.col("a").alias("m"), nw.col("b").alias("d"), *rest),
        ],
        how="vertical",
    )
    busy = hubs.select(nw.col("acc").alias("m"), nw.lit(False).alias("_through"))
    return (
        directed.join(info, on="d")
        .join(busy, on="m", how="left")
        .with_columns(nw.col("_through").fill_null(True).alias("through"))
        .drop("_through")
    )


def tied_transfer_edges(
    inp: LinkInputs, max_device_accounts: int, max_ip_accounts: int
) -> nw.LazyFrame:
    """Money between two accounts that both share a device or an address with someone
    (GROUP_MULTI_LENDER's money links; its device and address links are identity edges)."""
    tied = inp.materialise(tied_accounts(inp, max_device_accounts, max_ip_accounts))
    return (
        transfer_pairs(inp)
        .join(tied.select(nw.col("account_id").alias("lo")), on="lo", how="semi")
        .join(tied.select(nw.col("account_id").alias("hi")), on="hi", how="semi")
        .select(*edges("lo", "hi"))
    )


def fresh_relation_edges(
    inp: LinkInputs, min_transfers: int, relation_days: float, history_days: float
) -> nw.LazyFrame:
    """New money relations (GROUP_MULTI_LENDER's ``fresh_weight`` links): pairs of accounts
    with ``min_transfers`` or more transfers either way, all within ``relation_days``, the
    first ``history_days`` or more after the window's start (the same rule as the detector,
    so the same pairs)."""
    tr = inp.transfers.filter(nw.col("internal") & (nw.col("src") != nw.col("dst")))
    span = (
        tr.select(*ordered(), "us")
        .group_by("lo", "hi")
        .agg(
            nw.len().alias("n"), nw.col("us").min().alias("first"), nw.col("us").max().alias("last")
        )
    )
    return span.filter(
        (nw.col("n") >= min_transfers)
        & (nw.col("last") - nw.col("first") <= relation_days * DAY_US)
        & (nw.col("first") >= inp.start_us + history_days * DAY_US)
    ).select(*edges("lo", "hi"))


def link_edges(
    inp: LinkInputs,
    detectors: list[Any],
    max_device_accounts: int,
    max_ip_accounts: int,
) -> nw.LazyFrame:
    """Every edge of the link graph: identity edges and each detector's
    :meth:`~graphrisk.detectors.base.Detector.link_plan`."""
    parts = [identity_edges(inp, max_device_accounts, max_ip_accounts)]
    for det in detectors:
        found = det.link_plan(inp)
        if found is not None:
            parts.append(found)
    return nw.concat(parts, how="vertical")
