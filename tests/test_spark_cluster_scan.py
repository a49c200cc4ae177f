"""The Spark scan on a real standalone cluster: a master and two workers on 127.0.0.1.

The daemons are separate processes started from the pyspark package's own launcher
(``tests/spark_cluster.py``) and stopped at the end. The CLI runs as a driver process of its
own with 512 MB of JVM heap and executors of 512 MB (one core each, so both workers take
shards); the run directory it writes must equal a local scan's, with the same run id, and the
master must have run the application on both workers.

The second test scans a generated world whose input tables take more memory (in Arrow) than
any JVM of the run is given (512 MB heaps), compares it with a local scan row for row, and
samples every process's resident memory from ``/proc``: the driver's Python stays below the
book's tables (nothing is collected), the largest shard is a minority of the accounts, and no
Python worker needs what the local scan of the whole book needs, but the worker of a shard
larger than ``--shard-accounts`` (one giant linked group, which is never split) may.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import run_cli
from spark_cluster import run_watched, standalone_cluster

from graphrisk.testing import input_size, run_differences

SAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "sample"
REPO = SAMPLE.parents[1]
#: JVM heap of the driver and of each executor (Spark's floor is 450 MB)
HEAP_MB = 512
#: accounts of the larger-than-memory world: its input tables take about 2.4 KB per account
#: in Arrow, so 250,000 accounts hold about 600 MB, more than HEAP_MB (the test checks it)
BIG_ACCOUNTS = 250_000
pytest.importorskip("pyspark")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with standalone_cluster(tmp_path_factory.mktemp("spark"), workers=2, memory="1g") as c:
        yield c


def test_scan_on_a_standalone_cluster(cluster, tmp_path: Path) -> None:
    env = cluster.client_env()
    # the executors' Python workers import this checkout's graphrisk
    env["PYTHONPATH"] = str(SAMPLE.parents[1])
    env["GRAPHRISK_SPARK_CONF"] = (
        f"spark.driver.memory={HEAP_MB}m;spark.executor.memory={HEAP_MB}m;spark.executor.cores=1"
    )
    out = tmp_path / "spark"
    ran = run_cli(
        "scan", SAMPLE, "--out", out, "--engine", "spark", "--spark-master", cluster.master_url,
        "--shard-accounts", "1000", env=env, timeout=1800,
    )  # fmt: skip
    assert ran.code == 0, ran.err[-3000:]
    local = tmp_path / "local"
    assert run_cli("scan", SAMPLE, "--out", local).code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["versions"]["spark_master"] == cluster.master_url
    diff = run_differences(local, out)
    assert diff["differ"] == {} and diff["rows"] > 4000
    assert diff["run_ids"][0] == diff["run_ids"][1]
    # the work ran on the workers' executors, not in the driver
    state = cluster.state()
    apps = state.get("completedapps", []) + state.get("activeapps", [])
    (app,) = [a for a in apps if a.get("name") == "graphrisk"]
    # one executor on each worker (1 core, 512 MB each), each with its own work folder
    executors = [p for p in (cluster.root / "work" / app["id"]).iterdir() if p.is_dir()]
    assert len(executors) == 2, executors


def test_a_book_larger_than_every_process(cluster, tmp_path: Path) -> None:
    from graphrisk.generate import generate_world

    world = tmp_path / "world"
    generate_world(world, accounts=BIG_ACCOUNTS, seed=23)
    size = input_size(world)
    # the premise: the book does not fit in the memory any JVM of the run is given
    assert size["arrow_mb"] > HEAP_MB, size
    env = cluster.client_env()
    env["PYTHONPATH"] = str(REPO)
    env["GRAPHRISK_SPARK_CONF"] = (
        f"spark.driver.memory={HEAP_MB}m;spark.executor.memory={HEAP_MB}m;spark.executor.cores=1"
    )
    out = tmp_path / "spark"
    cmd = [sys.executable, "-m", "graphrisk", "scan", str(world), "--out", str(out)]
    ran = run_watched(
        [*cmd, "--engine", "spark", "--spark-master", cluster.master_url,
         "--shard-accounts", "25000"],
        env, REPO, [d.process.pid for d in cluster.daemons],
    )  # fmt: skip
    assert ran.returncode == 0, ran.err[-3000:]
    # the whole book in one process: the same scan on the local engine, its memory sampled too
    local = tmp_path / "local"
    whole = run_watched([*cmd[:-1], str(local)], env, REPO)
    assert whole.returncode == 0, whole.err[-3000:]
    # the same answers as the local engine, row for row
    diff = run_differences(local, out)
    assert diff["differ"] == {}, diff["differ"]
    assert diff["rows"] > BIG_ACCOUNTS and diff["run_ids"][0] == diff["run_ids"][1]
    peaks = ran.memory.process_peak
    driver = [mb for (role, _), mb in peaks.items() if role == "driver_python"]
    workers = [mb for (role, _), mb in peaks.items() if role == "python_workers"]
    assert driver and workers, sorted(peaks)
    book_mb = max(
        mb for (role, _), mb in whole.memory.process_peak.items() if role == "driver_python"
    )
    report = {f"{role} {pid}": round(mb) for (role, pid), mb in sorted(peaks.items())}
    plan = json.loads((out / "summary.json").read_text())["shards"]
    print(f"book {size}; whole-book scan {book_mb:.0f} MB; plan {plan}; peak MB {report}")
    # nothing was collected: the driver's Python peaked below the book's tables
    assert max(driver) < size["arrow_mb"], (size, report)
    # no task held the book: the largest shard is a minority of its accounts, and every
    # Python worker (which may run several shards in turn) peaked below what the scan of the
    # whole book needs in one process, but for the shards larger than --shard-accounts (one
    # giant linked group each, scanned whole, never split)
    assert plan["shards"] > 2 and plan["largest_shard"] < BIG_ACCOUNTS // 2, plan
    assert sum(mb >= book_mb for mb in workers) <= plan["oversized"], (book_mb, report)
