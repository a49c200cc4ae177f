"""The feature table's cost, step by step, on one world (a measurement, not a test).

    python -m benchmarks.features_profile WORLD [--save F.parquet] [--compare F.parquet]

Runs what a whole scan runs before the feature table (load, context, graph, every detector of
the default policy, so the detectors' shared results are cached as in a scan), then each step
of :func:`graphrisk.features.steps` and :func:`graphrisk.features.assemble` one by one. For
every stage it prints wall and CPU seconds, the resident memory after it and the peak during
it (Linux: the high-water mark is reset before each stage through ``/proc/self/clear_refs``;
CPU seconds are less disturbed by a busy machine than wall seconds). ``--save``
writes the feature table; ``--compare`` checks it equals one written before (values, dtypes,
column order), so a faster version can be checked against the old one on a large world.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any


def _status(field: str) -> float:
    """A ``/proc/self/status`` field in MB (0 where unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


class Timer:
    """Rows of ``stage, seconds, cpu_seconds, rss_mb`` (after), ``peak_mb`` (during)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def run(self, name: str, fn: Any) -> Any:
        _reset_peak()
        t, cpu = time.perf_counter(), time.process_time()
        out = fn()
        sec = time.perf_counter() - t
        self.rows.append(
            {
                "stage": name,
                "seconds": round(sec, 3),
                "cpu_seconds": round(time.process_time() - cpu, 3),
                "rss_mb": round(_status("VmRSS")),
                "peak_mb": round(_status("VmHWM")),
            }
        )
        print(json.dumps(self.rows[-1]), file=sys.stderr, flush=True)
        return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.features_profile")
    ap.add_argument("world", type=Path)
    ap.add_argument("--save", type=Path, help="write the feature table here")
    ap.add_argument("--compare", type=Path, help="check the feature table equals this file")
    ap.add_argument("--no-detectors", action="store_true", help="features on a cold cache")
    args = ap.parse_args(argv)

    import polars as pl

    import graphrisk
    from graphrisk import features as F
    from graphrisk.context import ScanContext
    from graphrisk.policy import Policy
    from graphrisk.scan import Stages, combine, run_detectors

    tm = Timer()
    policy = Policy.load(None)
    tables = tm.run("load", lambda: graphrisk.load(args.world))

    def context() -> ScanContext:
        ctx = ScanContext.build(tables, lookback_days=policy.lookback_days)
        _ = ctx.loans, ctx.transfers, ctx.devices, ctx.applications
        return ctx

    ctx = tm.run("context", context)
    tm.run("graph", lambda: ctx.graph)
    stages = Stages()
    if args.no_detectors:
        flags, groups = combine([], [])
    else:
        flags, groups = tm.run("detectors", lambda: run_detectors(ctx, policy, stages))
    parts: list[pl.DataFrame] = []
    for name, make in F.steps(ctx, flags, groups, policy):
        parts += tm.run(f"features:{name}", make)
    feats = tm.run("features:assemble", lambda: F.assemble(ctx, parts))
    rows = tm.rows
    feat_s = sum(r["seconds"] for r in rows if r["stage"].startswith("features:"))
    rest_s = sum(r["seconds"] for r in rows if not r["stage"].startswith("features:"))
    feat_cpu = sum(r["cpu_seconds"] for r in rows if r["stage"].startswith("features:"))
    rest_cpu = sum(r["cpu_seconds"] for r in rows if not r["stage"].startswith("features:"))
    summary = {
        "features_seconds": round(feat_s, 2),
        "rest_seconds": round(rest_s, 2),
        "features_share": round(feat_s / rest_s, 3) if rest_s else None,
        "features_cpu_seconds": round(feat_cpu, 2),
        "rest_cpu_seconds": round(rest_cpu, 2),
        "peak_mb": max(r["peak_mb"] for r in rows),
        "shape": list(feats.shape),
        "detectors": {r["stage"]: r["seconds"] for r in stages.rows},
    }
    print(json.dumps({"stages": rows, **summary}))
    if args.save is not None:
        feats.write_parquet(args.save)
    if args.compare is not None:
        from polars.testing import assert_frame_equal

        assert_frame_equal(feats, pl.read_parquet(args.compare), check_exact=True)
        print("features equal to", args.compare, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
