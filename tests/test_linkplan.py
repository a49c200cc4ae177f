"""The link plan (graphrisk.linkplan): a superset of every detector's own links, small parts.

A sharded scan is exact only if every pair a detector's finding may join lies in one shard.
The detectors' ``links`` are their exact prefilters on one process's whole graph; the link plan
is what both engines cut the book with. These tests check, on generated worlds of two seeds
and the shipped sample, that every pair of every ``links`` falls inside one component of the
link plan's graph, that the components stay small, and that the book facts computed from the
plan's inputs are the ones a whole scan counts.
"""

from __future__ import annotations

from pathlib import Path

import narwhals as nw
import polars as pl
import pytest

from graphrisk import linkplan
from graphrisk.context import ScanContext
from graphrisk.detectors import _links
from graphrisk.generate import generate_world
from graphrisk.io import load
from graphrisk.policy import Policy
from graphrisk.shards import _graph_hub_degrees, book_facts, linkers, plan_shards, polars_inputs

SAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "sample"


@pytest.fixture(scope="module", params=[("gen", 11), ("gen", 23), ("sample", 0)])
def book(request, tmp_path_factory):
    kind, seed = request.param
    if kind == "sample":
        return load(SAMPLE)
    d = tmp_path_factory.mktemp(f"w{seed}")
    generate_world(d, accounts=3000, seed=seed)
    return load(d)


def test_every_detector_link_lies_in_one_component(book) -> None:
    policy = Policy.load(None)
    plan = plan_shards(book, shard_accounts=1, policy=policy)  # one component per shard
    ctx = ScanContext.build(book)
    nodes = ctx.graph.nodes["id"]
    n = ctx.graph.n_accounts
    shard_of = dict(plan.assignment.select("account_id", "shard").iter_rows())
    shard_of.update(dict(plan.external.iter_rows()))
    checked = 0
    for det in linkers(policy):
        found = det.links(ctx)
        if found is None or not found.height:
            continue
        u = nodes.gather(found["u"].cast(pl.UInt32))
        v = nodes.gather(found["v"].cast(pl.UInt32))
        pairs = pl.DataFrame({"u": u, "v": v}).unique()
        su = pairs["u"].replace_strict(shard_of, default=None)
        sv = pairs["v"].replace_strict(shard_of, default=None)
        apart = pairs.filter((su != sv) | su.is_null() | sv.is_null())
        assert apart.is_empty(), (
            f"{det.name}: {apart.height} pairs split, e.g. {apart.head(3).rows()}"
        )
        checked += pairs.height
    assert checked > 0
    assert n == plan.assignment.height


def test_components_stay_small(book) -> None:
    plan = plan_shards(book, shard_accounts=1)
    accounts = plan.assignment.height
    # transfers alone join almost every account (3,986 of the sample's 4,000). With
    # RISK_PROXIMITY's paths two links long as edges, the largest component held 1,074 of
    # 3,000 at seed 11 (1,083 at seed 23, 1,356 of the sample's 4,000); with its ties to
    # defaulters a book fact instead of edges it holds 355 (481, 591).
    assert plan.stats["largest_component"] <= 0.25 * accounts, plan.stats
    assert plan.stats["components"] >= 0.5 * accounts, plan.stats


def test_largest_component_holds_a_fifth_at_most(book) -> None:
    plan = plan_shards(book, shard_accounts=1)
    assert plan.stats["largest_component"] <= 0.2 * plan.assignment.height, plan.stats


def test_book_facts_are_the_whole_scans_counts(book) -> None:
    ctx = ScanContext.build(book)
    facts = book_facts(ctx, polars_inputs(ctx))
    g = ctx.graph
    degree = _graph_hub_degrees(ctx)  # what the graph's link detectors count
    for key in ("dev", "ip"):
        assert facts.hub_degree[key].equals(degree[key])
    partners = (
        _links.partner_counts(ctx)
        .join(
            g.nodes.select(pl.col("idx").alias("acc"), pl.col("id").alias("account_id")), on="acc"
        )
        .select("account_id", pl.col("len").cast(pl.UInt32))
        .sort("account_id")
    )
    assert facts.partners.equals(partners)
    # the plan counts on integer codes and names them after: the same frames
    planned = plan_shards(book, shard_accounts=1).facts
    for key in ("dev", "ip"):
        assert planned.hub_degree[key].equals(degree[key])
    assert planned.partners.equals(partners)
    assert facts.lender_ids.equals(g.lenders["lender_id"])
    assert facts.first_internal == ctx.first_transfer(internal=True)
    assert facts.first_transfer == ctx.first_transfer()
    # the ties to defaulters a shard is handed: RISK_PROXIMITY's direct ties and the middles
    # of its paths, as the whole scan finds them
    det = Policy.load(None).detector("risk_proximity")
    bad = _links.defaulters(ctx, det.default_days)
    whole = det._direct(ctx, bad)
    handed = det._handed(ctx, facts.near, bad)
    assert whole.height > 50  # generated worlds plant money and devices near defaulters
    assert handed.schema == whole.schema
    assert handed.equals(whole.sort("acc", "d"))
    assert facts.near_params == det.near_params()
    # the plan finds the same ties on integer codes and names them
    assert plan_shards(book, shard_accounts=1).facts.near.equals(facts.near)


def test_trimming_keeps_every_loop_and_drops_dead_ends() -> None:
    """Hand-built: a three-account loop inside one window survives any number of rounds;
    a chain into the loop and out of it is trimmed away from both ends."""
    day = linkplan.DAY_US
    rows = [("a", "b", 0), ("b", "c", 1), ("c", "a", 2), ("x", "a", 1), ("c", "y", 2)]
    tr = nw.from_native(
        pl.DataFrame(rows, schema=["src", "dst", "d"], orient="row")
        .with_columns((pl.col("d") * day).alias("us"))
        .lazy()
    )

    def materialise(lf):
        return nw.from_native(nw.to_native(lf).collect().lazy())

    kept = nw.to_native(linkplan.trim(tr, 15 * day, 0, 8, materialise)).collect()
    assert sorted(kept.rows()) == [("a", "b"), ("b", "c"), ("c", "a")]
    zero = nw.to_native(linkplan.trim(tr, 15 * day, 0, 0, materialise)).collect()
    assert zero.height == len(rows)  # no round: nothing dropped (a superset)


def test_a_pair_of_two_defaulters_is_one_tie_however_its_sums_come_out() -> None:
    """Hand-built: the ties of pairs with an end among ``ends`` are read once. Each time the
    transfers are read their amounts differ in the last bits (as a parallel group-by's float
    sums may); a pair with both ends among ``ends`` must still be one row, and so must a
    pair with one end."""
    from graphrisk.detectors import _ties

    calls = iter(range(1_000))

    def jitter(s: pl.Series) -> pl.Series:  # a different last bit on every read
        return s + next(calls) * 1e-9

    tr = pl.DataFrame(
        {"src": ["a", "b", "a", "c"], "dst": ["b", "a", "c", "a"], "amount": [100.0] * 4,
         "us": [0, 1, 2, 3]}
    ).lazy().with_columns(pl.col("amount").map_batches(jitter, return_dtype=pl.Float64))  # fmt: skip
    empty = pl.DataFrame(schema={"acc": pl.String, "hub": pl.String, "deg": pl.Int64,
                                 "last": pl.Int64}).lazy()  # fmt: skip
    hub_rows = {"dev": nw.from_native(empty), "ip": nw.from_native(empty)}
    nobody = nw.from_native(pl.DataFrame(schema={"acc": pl.String}).lazy())
    ends = nw.from_native(pl.DataFrame({"acc": ["a", "b"]}).lazy())
    ties = _ties.tie_table(
        hub_rows, nw.from_native(tr), nobody, 10, {"dev": 10, "ip": 10}, _ties.TieWeights(), ends
    )
    got = nw.to_native(ties).collect().sort("a", "b")
    assert got.select("a", "b").rows() == [("a", "b"), ("a", "c")]
    assert got["n_transfers"].to_list() == [2, 2]
    assert got["amount"].to_list() == [200.0, 200.0]  # to the cent, whichever read it was
