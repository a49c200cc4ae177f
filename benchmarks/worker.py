"""One measured run, meant to be started in a fresh subprocess (so its peak memory is its own).

    python -m benchmarks.worker generate WORLD --accounts N --seed S
    python -m benchmarks.worker scan WORLD RUN [--profile DIR] [--shard-accounts N]
    python -m benchmarks.worker read WORLD          # only read the inputs (the yardstick)
    python -m benchmarks.worker derive SRC DST --seed S   # the high-cardinality shape of SRC

``scan`` runs ``graphrisk.scan(WORLD)`` then ``result.write(RUN)`` and prints one JSON object:
the scan's own stage rows (wall seconds, peak RSS after each stage), the whole wall and CPU
time, the process's peak RSS, flag counts and, when ``WORLD/labels.parquet`` exists, the
detection quality from :func:`graphrisk.evaluate.evaluate_frames` (computed after the timing).
With ``--profile DIR`` every stage gets its own ``cProfile`` (``DIR/STAGE.prof``) and the JSON
carries each stage's top functions; profiled timings are inflated and are not results.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import sys
import time
from pathlib import Path
from typing import Any

from graphrisk.scan import peak_rss_mb

REPO = Path(__file__).resolve().parent.parent


def _cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _where(key: tuple[str, int, str]) -> str:
    file, line, func = key
    try:
        file = str(Path(file).resolve().relative_to(REPO))
    except ValueError:
        file = Path(file).name if file != "~" else "<builtin>"
    return f"{file}:{line}:{func}" if line else f"{file}:{func}"


def top_functions(prof: cProfile.Profile, n: int = 8) -> dict[str, list[dict[str, Any]]]:
    """The ``n`` functions with most own time, and the project functions with most cumulative."""
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    rows = [
        {"function": _where(k), "calls": v[1], "tottime": round(v[2], 3), "cumtime": round(v[3], 3)}
        for k, v in stats.items()
    ]
    own = sorted(rows, key=lambda r: -r["tottime"])[:n]
    # A graphrisk function's "own" time including the library calls (polars, numpy, igraph)
    # it makes directly: its cumulative time minus what its graphrisk callees took for it.
    proj = {k for k in stats if _where(k).startswith("graphrisk/")}
    local = {k: stats[k][3] for k in proj}
    for callee in proj:
        for caller, entry in stats[callee][4].items():
            if caller in proj and caller != callee:
                local[caller] -= entry[3]
    spots = [
        {
            "function": _where(k),
            "calls": stats[k][1],
            "local_incl_libs": round(v, 3),
            "cumtime": round(stats[k][3], 3),
        }
        for k, v in sorted(local.items(), key=lambda kv: -kv[1])[:n]
    ]
    return {"hot_spots": spots, "tottime": own}


def _install_profiler(out: Path, profiles: dict[str, Any]) -> None:
    """Wrap ``Stages.timed`` so that each stage of the scan runs under its own profiler."""
    from graphrisk.scan import Stages

    original = Stages.timed

    def timed(self: Stages, name: str, progress: Any = None) -> Any:
        inner = original(self, name, progress)

        class _Profiled:
            def __enter__(self) -> None:
                inner.__enter__()
                self.prof = cProfile.Profile()
                self.prof.enable()

            def __exit__(self, *exc: object) -> None:
                self.prof.disable()
                inner.__exit__(*exc)
                safe = name.replace(":", "_")
                self.prof.dump_stats(str(out / f"{safe}.prof"))
                profiles[name] = top_functions(self.prof)

        return _Profiled()

    Stages.timed = timed  # type: ignore[method-assign]


def scan(
    world: Path, run: Path, profile: Path | None = None, shard_accounts: int | None = None
) -> dict[str, Any]:
    import polars as pl

    from graphrisk.scan import scan as run_scan

    profiles: dict[str, Any] = {}
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
        _install_profiler(profile, profiles)
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    result = run_scan(world, shard_accounts=shard_accounts)
    result.write(run)
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    out: dict[str, Any] = {
        "stages": result.stages.rows,
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rows": result.summary["rows"]["in_window"],
        "flags": result.flags.height,
        "flagged_accounts": result.summary["flagged_accounts"],
        "actions": result.summary["actions"],
        "run_id": result.run_id,
        "shards": result.summary.get("shards"),
    }
    labels = world / "labels.parquet"
    if labels.exists():
        from graphrisk.evaluate import evaluate_frames

        ev = evaluate_frames(result.flags, result.decisions, pl.read_parquet(labels))
        out["quality"] = {
            **ev["overall"],
            "recall": {k: v["recall"] for k, v in ev["planted"].items()},
            "lookalike_suppressed_rate": {
                k: v["suppressed_rate"] for k, v in ev["lookalike"].items()
            },
        }
    if profiles:
        out["profile"] = profiles
    return out


def read_inputs(world: Path) -> dict[str, Any]:
    """Read every input table of ``world`` with polars, nothing else: the yardstick a scan's
    time and memory are divided by (``x read``). Every ``*.parquet`` file or folder of part
    files but ``labels`` counts, as in :func:`graphrisk.testing.input_size`."""
    import polars as pl

    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    rows, frames = {}, []
    for f in sorted(world.iterdir()):
        name = f.name.removesuffix(".parquet")
        if name == "labels" or not (f.suffix == ".parquet" or f.is_dir()):
            continue
        df = pl.read_parquet(f / "*.parquet" if f.is_dir() else f)
        rows[name] = df.height
        frames.append(df)  # all held at once, as a scan holds them
    return {
        "seconds": round(time.perf_counter() - t0, 3),
        "cpu_seconds": round(_cpu_seconds() - cpu0, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("world", type=Path)
    g.add_argument("--accounts", type=int, required=True)
    g.add_argument("--seed", type=int, default=1)
    d = sub.add_parser("derive")
    d.add_argument("src", type=Path)
    d.add_argument("dst", type=Path)
    d.add_argument("--seed", type=int, default=1)
    r = sub.add_parser("read")
    r.add_argument("world", type=Path)
    s = sub.add_parser("scan")
    s.add_argument("world", type=Path)
    s.add_argument("run", type=Path)
    s.add_argument("--profile", type=Path)
    s.add_argument("--shard-accounts", type=int, default=None)
    args = ap.parse_args(argv)
    if args.cmd == "generate":
        from benchmarks.worlds import generate

        out = generate(args.world, args.accounts, args.seed)
    elif args.cmd == "derive":
        from benchmarks.worlds import high_cardinality

        out = high_cardinality(args.src, args.dst, args.seed)
    elif args.cmd == "read":
        out = read_inputs(args.world)
    else:
        out = scan(args.world, args.run, args.profile, args.shard_accounts)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
