"""The Spark scan on a real standalone cluster: a master and two workers on 127.0.0.1.

The daemons are separate processes started from the pyspark package's own launcher
(``tests/spark_cluster.py``) and stopped at the end. The CLI runs as a driver process of its
own with 512 MB of JVM heap and executors of 512 MB (one core each, so both workers take
shards); the run directory it writes must equal a local scan's, with the same run id, and the
master must have run the application on both workers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from spark_cluster import standalone_cluster

from graphrisk.testing import run_differences

SAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "sample"
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
        "spark.driver.memory=512m;spark.executor.memory=512m;spark.executor.cores=1"
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
