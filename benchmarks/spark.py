"""The scan on the local engine, on Spark in local mode and on a standalone cluster.

    python -m benchmarks --engine spark --sizes 100k [--spark-shards N] [--spark-workers 1,2]

For each size: one local scan, one Spark scan in local mode (``local[2]``) and one per count of
workers of a standalone cluster started on 127.0.0.1 (one core and ``--spark-worker-memory``
each; the daemons are ``tests/spark_cluster.py``'s), each in a fresh subprocess that runs the
CLI. While a scan runs, every process of its tree is sampled twice a second from ``/proc``
(resident memory) and the peak is kept per role: the driver's Python, the driver's JVM, the
executors' JVMs (on a cluster, the workers' children) and the Python workers. The table goes
between the ``spark`` markers of ``benchmarks/README.md``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from benchmarks.machine import replace_section
from graphrisk.testing import run_differences

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from spark_cluster import run_watched, standalone_cluster  # noqa: E402  (tests/spark_cluster.py)


def run_cli_scan(
    world: Path, run: Path, args: list[str], env: dict[str, str], watch: list[int]
) -> dict[str, Any]:
    """``graphrisk scan WORLD --out RUN ARGS --json`` in a fresh process: wall seconds, the
    summary's stage timings, peak memory per role (``watch``: more roots, e.g. a cluster's
    workers)."""
    cmd = [sys.executable, "-m", "graphrisk", "scan", str(world), "--out", str(run), "--json"]
    ran = run_watched([*cmd, *args], env, REPO, watch)
    if ran.returncode != 0:
        raise SystemExit(f"scan {args} of {world} failed ({ran.returncode}): {ran.err[-2000:]}")
    out, wall, s = ran.out, ran.wall_seconds, ran.memory
    summary = json.loads(out.strip().splitlines()[-1])
    return {
        "run": str(run),
        "wall_seconds": round(wall, 2),
        "stages": summary["timings"],
        "run_id": summary["run_id"],
        "flags": summary["flags"],
        "actions": summary["actions"],
        "peak_mb": {k: round(v) for k, v in sorted(s.peak.items())},
    }


def run(
    workdir: Path,
    world: Path,
    label: str,
    sizes: list[int],
    workers: list[int],
    memory: str = "1g",
) -> dict[str, Any]:
    """Local, Spark local mode (once per shard size in ``sizes``: the partitions of the
    scan), and a cluster of each size in ``workers`` (shards of the first size; driver and
    executors with ``memory`` of JVM heap each), for one world."""
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_MASTER", "GRAPHRISK_DEBUG")}
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYTHONPATH"] = str(REPO)  # executors import this checkout's graphrisk
    rows: dict[str, Any] = {}
    print(f"[{label}] local scan", file=sys.stderr)
    rows["local"] = run_cli_scan(world, workdir / "runs" / f"spark_local_{label}", [], env, [])
    for size in sizes:
        name = "spark local[2]" if len(sizes) == 1 else f"spark local[2], shards of {size:,}"
        print(f"[{label}] {name}", file=sys.stderr)
        rows[name] = run_cli_scan(
            world,
            workdir / "runs" / f"spark_lm_{label}_{size}",
            ["--engine", "spark", "--shard-accounts", str(size)],
            env,
            [],
        )
    spark_args = ["--engine", "spark", "--shard-accounts", str(sizes[0])]
    for n in workers:
        print(f"[{label}] spark standalone, {n} worker(s)", file=sys.stderr)
        root = workdir / "spark_cluster" / f"{label}_{n}"
        with standalone_cluster(root, workers=n, cores=1, memory="2g") as c:
            cenv = {**env, **c.client_env()}
            cenv["GRAPHRISK_SPARK_CONF"] = (
                f"spark.executor.memory={memory};spark.executor.cores=1;"
                f"spark.driver.memory={memory}"
            )
            pids = [d.process.pid for d in c.daemons]
            rows[f"cluster, {n} worker{'s' if n > 1 else ''}"] = run_cli_scan(
                world,
                workdir / "runs" / f"spark_c{n}_{label}",
                [*spark_args, "--spark-master", c.master_url],
                cenv,
                pids,
            )
    base = rows["local"]
    for r in rows.values():
        r["time_x"] = round(r["wall_seconds"] / base["wall_seconds"], 2)
        diff = run_differences(base["run"], r["run"])
        r["rows_compared"] = diff["rows"]
        r["same"] = "yes" if r["run_id"] == base["run_id"] and not diff["differ"] else "NO"
        if diff["differ"]:
            r["differ"] = diff["differ"]
    return rows


def table(spark: dict[str, Any]) -> str:
    head = (
        "| accounts | engine | **wall s** | x local | driver Python MB | driver JVM MB "
        "| executors MB | Python workers MB | rows compared | same run id and rows |\n"
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|\n"
    )
    lines = []
    for lab, rows in spark["sizes"].items():
        for name, r in rows.items():
            p = r["peak_mb"]
            lines.append(
                f"| {lab} | {name} | **{r['wall_seconds']:.1f}** | {r['time_x']:.2f} | "
                f"{p.get('driver_python', 0):,} | {p.get('driver_jvm', 0):,} | "
                f"{p.get('executor_jvm', 0):,} | {p.get('python_workers', 0):,} | "
                f"{r.get('rows_compared', 0):,} | {r['same']} |"
            )
    return head + "\n".join(lines) + "\n"


def _shards(sizes: int | list[int]) -> str:
    sizes = [sizes] if isinstance(sizes, int) else sizes
    text = ", ".join(f"{n:,}" for n in sizes)
    return text if len(sizes) == 1 else f"{text} (the clusters: {sizes[0]:,})"


def update_readme(results: dict[str, Any], readme: Path) -> None:
    spark = results.get("spark")
    if not spark:
        return
    m = spark["machine"]
    la = spark["loadavg_before"][:1] + spark["loadavg_after"][:1]
    body = (
        f"Measured {spark['finished']} on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; "
        f"graphrisk checkout `{spark['source'].get('commit', '?')[:12]}`, shards of "
        f"{_shards(spark['shard_accounts'])} accounts; on the clusters, "
        f"{spark.get('jvm_memory', '1g')} of JVM heap for the driver and each executor. "
        "Load average (1 min) before → after: "
        f"{' → '.join(f'{x:.1f}' for x in la)}. Memory: peak resident set per role, summed "
        "over the processes of a role alive at once. Inputs: "
        + "; ".join(
            f"{lab}: {v['rows']:,} rows, {v['parquet_mb']} MB of Parquet, {v['arrow_mb']} MB in "
            "Arrow"
            for lab, v in spark.get("inputs", {}).items()
        )
        + ".\n\n"
        + table(spark)
    )
    replace_section(readme, "spark", body)
