"""Connected components on Spark (large-star / small-star) against scipy on the same edges.

Every graph is run through :func:`graphrisk.engines.spark_graph.connected_components` and
through :func:`scipy.sparse.csgraph.connected_components`; the labels must be equal node for
node (both give each node the smallest id of its component here). Shapes: many small
components, a 2,000-node path (the most iterations), a star with a hub of degree 5,000,
self-loops, duplicates and null ends, ids far from 0 and random 64-bit ids, the link graph of
the shipped sample (against the shard plan's own components), and a real standalone cluster
(master and two workers as separate processes, :mod:`spark_cluster`).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
import scipy.sparse as sp
from pyspark.sql import DataFrame, SparkSession
from scipy.sparse.csgraph import connected_components as scipy_components
from spark_cluster import StandaloneCluster, standalone_cluster

import graphrisk.shards as shards
from graphrisk.engines.spark import spark_session
from graphrisk.engines.spark_graph import (
    IterationStats,
    component_sizes,
    connected_components,
)
from graphrisk.io import load

SAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "sample"
PATH_NODES = 2_000
HUB_DEGREE = 5_000


@pytest.fixture(scope="module")
def spark() -> SparkSession:
    """The engine's local session (``local[2]``, 4 shuffle partitions)."""
    return spark_session()


def to_spark(spark: SparkSession, u: np.ndarray, v: np.ndarray) -> DataFrame:
    table = pa.table({"u": pa.array(u, pa.int64()), "v": pa.array(v, pa.int64())})
    return spark.createDataFrame(table)


def scipy_labels(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted node ids, smallest id of each node's component), by scipy."""
    nodes = np.unique(np.concatenate([u, v]))
    iu, iv = np.searchsorted(nodes, u), np.searchsorted(nodes, v)
    m = sp.coo_matrix((np.ones(iu.size, dtype=np.int8), (iu, iv)), shape=(nodes.size,) * 2)
    _, label = scipy_components(m.tocsr(), directed=False)
    smallest = np.full(label.max() + 1 if label.size else 0, np.iinfo(np.int64).max)
    np.minimum.at(smallest, label, nodes)
    return nodes, smallest[label]


def spark_labels(components: DataFrame) -> tuple[np.ndarray, np.ndarray]:
    rows = components.orderBy("node").toArrow()
    return rows["node"].to_numpy(), rows["component"].to_numpy()


def run(spark: SparkSession, u: np.ndarray, v: np.ndarray) -> list[IterationStats]:
    """Components by Spark equal scipy's, node for node; sizes too. Returns the iterations."""
    stats: list[IterationStats] = []
    comp = connected_components(to_spark(spark, u, v), on_iteration=stats.append)
    nodes, label = spark_labels(comp)
    want_nodes, want = scipy_labels(u, v)
    np.testing.assert_array_equal(nodes, want_nodes)
    np.testing.assert_array_equal(label, want)
    sizes = component_sizes(comp).orderBy("component").toArrow()
    ids, counts = np.unique(want, return_counts=True)
    np.testing.assert_array_equal(sizes["component"].to_numpy(), ids)
    np.testing.assert_array_equal(sizes["size"].to_numpy(), counts)
    assert stats[-1].added == stats[-1].removed == 0  # stopped at the fixed point
    return stats


# ---------------------------------------------------------------------------------------
# graphs


def many_small(n: int = 3_000, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Random sparse graph below the giant-component threshold (mean degree 0.8), with a
    few triangles: hundreds of small trees and cycles."""
    rng = np.random.default_rng(seed)
    m = int(0.4 * n)
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    t = rng.integers(0, n - 2, 30)
    return np.concatenate([u, t, t + 1, t + 2]), np.concatenate([v, t + 1, t + 2, t])


def long_path(n: int = PATH_NODES) -> tuple[np.ndarray, np.ndarray]:
    """0 - 1 - 2 - ... - n-1: the diameter, hence the iteration count, is largest."""
    return np.arange(n - 1), np.arange(1, n)


def star(degree: int = HUB_DEGREE) -> tuple[np.ndarray, np.ndarray]:
    """One hub (id in the middle, so the component's smallest id is a leaf) and its leaves."""
    hub = degree // 2
    leaves = np.delete(np.arange(degree + 1), hub)
    return np.full(degree, hub), leaves


def test_many_small_components(spark: SparkSession) -> None:
    u, v = many_small()
    run(spark, u, v)
    assert np.unique(scipy_labels(u, v)[1]).size > 300  # the shape is what it says


def test_long_path(spark: SparkSession) -> None:
    stats = run(spark, *long_path())
    # the paper's bound is O(log² n); in practice about log2(diameter) + 1
    assert len(stats) <= 2 * math.ceil(math.log2(PATH_NODES)) + 2, stats


def test_star_with_a_big_hub(spark: SparkSession) -> None:
    stats = run(spark, *star())
    assert stats[-1].edges == HUB_DEGREE  # every leaf but the smallest on it, and the hub


def test_self_loops_duplicates_and_null_ends(spark: SparkSession) -> None:
    u, v = long_path(50)
    # every edge three times, in both orientations; self-loops on path nodes and alone
    lone = np.array([100, 200, 300])
    uu = np.concatenate([u, v, u, lone, u[:10]])
    vv = np.concatenate([v, u, v, lone, u[:10]])
    run(spark, uu, vv)
    # a null end is no node; the other end is
    table = pa.table({"u": pa.array([1, 7, None], pa.int64()), "v": pa.array([2, None, None])})
    nodes, label = spark_labels(connected_components(spark.createDataFrame(table)))
    assert nodes.tolist() == [1, 2, 7]
    assert label.tolist() == [1, 1, 7]


def test_ids_far_from_zero_and_sparse_64_bit(spark: SparkSession) -> None:
    u, v = many_small(1_500, seed=7)
    rng = np.random.default_rng(3)
    # random ids over the whole signed 64-bit range (negatives and near 2**63 - 1 included)
    ids = np.unique(rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, 4_000))[:1_500]
    rng.shuffle(ids)
    ids[:2] = [np.iinfo(np.int64).min + 1, np.iinfo(np.int64).max]
    pu, pv = long_path(200)
    offset = 10**15
    run(
        spark,
        np.concatenate([ids[u], pu + offset, ids[pu % 7]]),
        np.concatenate([ids[v], pv + offset, ids[pv % 7]]),
    )


def test_no_partial_answer(spark: SparkSession) -> None:
    edges = to_spark(spark, *long_path(64))
    with pytest.raises(RuntimeError, match="no convergence after 1 iterations"):
        connected_components(edges, max_iterations=1)
    with pytest.raises(ValueError, match="at least 1"):
        connected_components(edges, checkpoint_every=0)
    with pytest.raises(ValueError, match="missing"):
        connected_components(edges.withColumnRenamed("v", "w"))
    empty = connected_components(spark.createDataFrame([], "u long, v long"))
    assert empty.count() == 0


# ---------------------------------------------------------------------------------------
# the sample's link graph, against the shard plan


@pytest.fixture(scope="module")
def sample_links() -> tuple[shards.ShardPlan, pl.DataFrame]:
    """The shard plan of the sample and the link edges it was made from (captured from the
    plan's own call of :func:`graphrisk.shards.components`)."""
    captured: list[pl.DataFrame] = []
    original = shards.components

    def spy(edges: pl.DataFrame, n_nodes: int) -> np.ndarray:
        captured.append(edges)
        return original(edges, n_nodes)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(shards, "components", spy)
        plan = shards.plan_shards(load(SAMPLE))
    assert len(captured) == 1
    return plan, captured[0].cast({"u": pl.Int64, "v": pl.Int64})


def account_partition(plan: shards.ShardPlan, node: np.ndarray, label: np.ndarray) -> set:
    """The accounts' partition (a set of frozensets of account ids) from node labels; an
    account in no edge is alone."""
    g = plan.book.graph
    accounts = g.nodes.head(g.n_accounts).select(pl.col("idx").cast(pl.Int64), "id")
    labels = pl.DataFrame({"idx": node, "c": label})
    joined = accounts.join(labels, on="idx", how="left").with_columns(
        pl.coalesce("c", pl.col("idx")).alias("c")
    )
    return {frozenset(ids) for ids in joined.group_by("c").agg("id")["id"].to_list()}


def plan_partition(plan: shards.ShardPlan) -> set:
    groups = plan.assignment.group_by("component").agg("account_id")["account_id"]
    return {frozenset(ids) for ids in groups.to_list()}


def test_sample_link_graph_matches_the_shard_plan(
    spark: SparkSession, sample_links: tuple[shards.ShardPlan, pl.DataFrame]
) -> None:
    plan, edges = sample_links
    u, v = edges["u"].to_numpy(), edges["v"].to_numpy()
    run(spark, u, v)  # node for node against scipy
    comp = connected_components(to_spark(spark, u, v))
    node, label = spark_labels(comp)
    got = account_partition(plan, node, label)
    assert got == plan_partition(plan)
    assert len(got) == plan.stats["components"]
    assert max(len(c) for c in got) == plan.stats["largest_component"] > 100


# ---------------------------------------------------------------------------------------
# a real standalone cluster: master and two workers, a driver in its own process


DRIVER = """
import json, sys, time
from pyspark.sql import SparkSession
from graphrisk.engines.spark_graph import connected_components

master, work = sys.argv[1], sys.argv[2]
spark = (
    SparkSession.builder.master(master)
    .appName("graphrisk-cluster-test")
    .config("spark.driver.memory", "512m")
    .config("spark.executor.memory", "512m")
    .config("spark.executor.cores", "1")
    .config("spark.sql.shuffle.partitions", "4")
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .config("spark.driver.host", "127.0.0.1")
    .config("spark.driver.bindAddress", "127.0.0.1")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
spark.sparkContext.setCheckpointDir(work + "/checkpoints")  # reliable checkpoints
report = {"adaptive": spark.conf.get("spark.sql.adaptive.enabled")}
for name in ("path", "sample"):
    stats = []
    t0 = time.perf_counter()
    edges = spark.read.parquet(f"{work}/{name}.parquet")
    comp = connected_components(edges, on_iteration=stats.append)
    comp.write.parquet(f"{work}/{name}-out")
    report[name] = {"iterations": len(stats), "seconds": round(time.perf_counter() - t0, 1)}
# block managers: the driver's and one per executor that took part
report["executors"] = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1
spark.stop()
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneCluster]:
    with standalone_cluster(tmp_path_factory.mktemp("spark-cluster"), workers=2) as c:
        yield c


def test_standalone_cluster(
    cluster: StandaloneCluster,
    sample_links: tuple[shards.ShardPlan, pl.DataFrame],
    tmp_path: Path,
) -> None:
    assert len(cluster.alive_workers()) == 2
    pu, pv = long_path()
    pl.DataFrame({"u": pu, "v": pv}).write_parquet(tmp_path / "path.parquet")
    plan, edges = sample_links
    edges.write_parquet(tmp_path / "sample.parquet")
    (tmp_path / "driver.py").write_text(DRIVER)
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(tmp_path / "driver.py"), cluster.master_url, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=cluster.client_env(),
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["total_seconds"] = round(time.perf_counter() - t0, 1)
    print("cluster:", json.dumps(report))
    assert report["executors"] == 2  # one per worker: the work ran off the driver
    for name, (u, v) in {
        "path": (pu, pv),
        "sample": (edges["u"].to_numpy(), edges["v"].to_numpy()),
    }.items():
        got = pl.read_parquet(tmp_path / f"{name}-out" / "*.parquet").sort("node")
        want_nodes, want = scipy_labels(u, v)
        np.testing.assert_array_equal(got["node"].to_numpy(), want_nodes)
        np.testing.assert_array_equal(got["component"].to_numpy(), want)
    got = pl.read_parquet(tmp_path / "sample-out" / "*.parquet")
    assert account_partition(plan, got["node"].to_numpy(), got["component"].to_numpy()) == (
        plan_partition(plan)
    )
