"""The benchmark run: worlds, one fresh subprocess per measured scan, the baseline, the report."""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from benchmarks import dense as dense_case
from benchmarks import sharded as sharded_case
from benchmarks import spark as spark_case
from benchmarks.machine import load_average, machine, replace_section, source_state
from benchmarks.worlds import SHAPES, existing, shaped_dir
from graphrisk.testing import input_size

HERE = Path(__file__).resolve().parent
TARGETS = {
    "scan_1m_wall_seconds": 120,
    "scan_1m_peak_rss_mb": 8192,
    "baseline_ratio_100k": 20,
}
SHARED = ("load", "context")  # stages the baseline reuses from graphrisk (same rows)


def parse_size(text: str) -> int:
    """``10k`` -> 10000, ``1m`` -> 1000000, ``2500`` -> 2500."""
    t = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    return int(float(t[:-1] if mult > 1 else t) * mult)


def label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _run(cmd: list[str], timeout: float | None = None) -> tuple[int | None, str, float, float]:
    """Run ``cmd`` in its own session: (exit code or None on timeout, stdout, wall, cpu)."""
    cpu0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, start_new_session=True, cwd=HERE.parent
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        code = None
    return code, out, time.perf_counter() - t0, _children_cpu() - cpu0


def ensure_world(
    workdir: Path, n: int, seed: int, shape: str = "default"
) -> tuple[Path, dict[str, Any]]:
    """The world of ``n`` accounts, ``seed`` and ``shape``, generated (or derived from the
    default shape's, :func:`benchmarks.worlds.high_cardinality`) unless already there."""
    path = shaped_dir(workdir, n, seed, shape)
    meta = existing(path, n, seed, shape)
    tag = label(n) if shape == "default" else f"{label(n)} {shape}"
    if meta is not None:
        print(f"[{tag}] reusing world {path}", file=sys.stderr)
        return path, {**meta, "reused": True}
    if shape == "default":
        print(f"[{tag}] generating world {path}", file=sys.stderr)
        cmd = [sys.executable, "-m", "benchmarks.worker", "generate", str(path)]
        cmd += ["--accounts", str(n), "--seed", str(seed)]
    else:
        src, _ = ensure_world(workdir, n, seed)
        print(f"[{tag}] deriving world {path} from {src}", file=sys.stderr)
        cmd = [sys.executable, "-m", "benchmarks.worker", "derive", str(src), str(path)]
        cmd += ["--seed", str(seed)]
    code, out, _, _ = _run(cmd)
    if code != 0:
        raise SystemExit(f"making {path} failed ({code})")
    return path, {**json.loads(out), "reused": False}


def run_read(world: Path) -> dict[str, Any]:
    """Only reading the world's inputs with polars, in a fresh subprocess (the yardstick)."""
    code, out, wall, _ = _run([sys.executable, "-m", "benchmarks.worker", "read", str(world)])
    if code != 0:
        raise SystemExit(f"reading {world} failed ({code})")
    return {**json.loads(out), "process_wall_seconds": round(wall, 3)}


def run_scan(
    world: Path, run: Path, profile: Path | None = None, shard_accounts: int | None = None
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.worker", "scan", str(world), str(run)]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    if shard_accounts is not None:
        cmd += ["--shard-accounts", str(shard_accounts)]
    before = load_average()
    code, out, wall, _ = _run(cmd)
    if code != 0:
        raise SystemExit(f"scan of {world} failed ({code})")
    res = json.loads(out)
    res["process_wall_seconds"] = round(wall, 3)
    res["loadavg_before"], res["loadavg_after"] = before, load_average()
    return res


def run_baseline(world: Path, progress: Path, timeout: float) -> dict[str, Any]:
    progress.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "benchmarks.baseline_nx", str(world), "--progress", str(progress)]
    before = load_average()
    code, out, wall, cpu = _run(cmd, timeout=timeout)
    stages = []
    if progress.exists():
        stages = [json.loads(x) for x in progress.read_text(encoding="utf-8").splitlines() if x]
    res: dict[str, Any] = {
        "stages": stages,
        "capped": code is None,
        "timeout_seconds": timeout,
        "process_wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "loadavg_before": before,
        "loadavg_after": load_average(),
    }
    if code == 0:
        done = json.loads(out.strip().splitlines()[-1])
        res["flags"], res["peak_rss_mb"] = done["flags"], done["peak_rss_mb"]
    elif code is not None:
        raise SystemExit(f"baseline on {world} failed ({code})")
    res["seconds"] = round(wall if code is None else sum(r["seconds"] for r in stages), 3)
    return res


def ratios(gr: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """Baseline seconds / graphrisk seconds: whole scan, graph + detectors, and per stage.

    The baseline has no decide or write stage (nor features, nor the cash-flow detectors), so
    the whole-scan ratio compares the baseline's load..detectors with graphrisk's whole scan
    (which favours the baseline); graph + detectors compares the detectors both run. A capped
    baseline gives lower bounds (``"lower_bound": true``): it would have taken longer.
    """
    g = {r["stage"]: r["seconds"] for r in gr["stages"]}
    b = {r["stage"]: r["seconds"] for r in base["stages"]}
    capped = base["capped"]
    g_total = sum(g.values())
    # graph + the detectors the baseline has too (not the cash-flow ones, not features)
    analysis = [s for s in g if s not in SHARED and (s == "graph" or s in b)]
    g_an = sum(g[s] for s in analysis)
    b_an = (
        (base["seconds"] - sum(b.get(s, 0.0) for s in SHARED))
        if capped
        else sum(b.get(s, 0.0) for s in analysis)
    )
    per = {s: round(b[s] / g[s], 1) for s in analysis if s in b and g[s] > 0}
    return {
        "lower_bound": capped,
        "whole_scan": round(base["seconds"] / g_total, 1),
        "graph_and_detectors": round(b_an / g_an, 1) if g_an else None,
        "cpu_whole_scan": round(base["cpu_seconds"] / gr["cpu_seconds"], 1),
        "per_stage": per,
    }


def scaling(results: dict[str, Any]) -> dict[str, Any]:
    """Growth of total wall and CPU seconds between consecutive sizes (linear = size factor)."""
    out = {}
    items = [(k, v) for k, v in results["sizes"].items() if v.get("shape", "default") == "default"]
    for (la, a), (lb, b) in pairwise(items):
        out[f"{la}->{lb}"] = {
            "size_x": round(b["accounts"] / a["accounts"], 2),
            "wall_x": round(b["scan"]["total_seconds"] / a["scan"]["total_seconds"], 2),
            "cpu_x": round(b["scan"]["cpu_seconds"] / a["scan"]["cpu_seconds"], 2),
            "peak_rss_x": round(b["scan"]["peak_rss_mb"] / a["scan"]["peak_rss_mb"], 2),
        }
    return out


def target_check(results: dict[str, Any]) -> dict[str, Any]:
    """The targets against what was measured (``None`` where the size was not run)."""
    big = results["sizes"].get("1m")
    mid = results["sizes"].get("100k")
    ratio = mid.get("ratio") if mid else None
    return {
        "scan_1m_wall_seconds": big and big["scan"]["total_seconds"],
        "scan_1m_wall_ok": big and big["scan"]["total_seconds"] < TARGETS["scan_1m_wall_seconds"],
        "scan_1m_peak_rss_mb": big and big["scan"]["peak_rss_mb"],
        "scan_1m_peak_rss_ok": big and big["scan"]["peak_rss_mb"] < TARGETS["scan_1m_peak_rss_mb"],
        "baseline_ratio_100k": ratio and ratio["whole_scan"],
        "baseline_ratio_100k_lower_bound": ratio and ratio["lower_bound"],
        "baseline_ratio_100k_ok": ratio and ratio["whole_scan"] >= TARGETS["baseline_ratio_100k"],
    }


def _fmt_ratio(r: dict[str, Any] | None, key: str = "whole_scan") -> str:
    if not r or r.get(key) is None:
        return "-"
    return f"{'> ' if r['lower_bound'] else ''}{r[key]}x"


def summary_table(results: dict[str, Any]) -> str:
    """The markdown table of the results: one row per size."""
    head = (
        "| accounts | load | context | graph | detectors | decide | write | **total s** "
        "| CPU s | peak RSS MB | read s | x read (s) | read MB | x read (MB) "
        "| baseline s | ratio (whole) | ratio (graph+detectors) | load avg |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for lab, r in results["sizes"].items():
        st = {x["stage"]: x["seconds"] for x in r["scan"]["stages"]}
        det = sum(v for k, v in st.items() if k.startswith("detector:"))
        base = r.get("baseline")
        b = "-" if not base else f"{'> ' if base['capped'] else ''}{base['seconds']:.1f}"
        la = r["scan"]["loadavg_before"][:1] + r["scan"]["loadavg_after"][:1]
        rd = r.get("read")
        read_cells = (
            "- | - | - | -"
            if not rd
            else f"{rd['seconds']:.1f} | {sum(st.values()) / rd['seconds']:.1f}x "
            f"| {rd['peak_rss_mb']:.0f} | {r['scan']['peak_rss_mb'] / rd['peak_rss_mb']:.1f}x"
        )
        lines.append(
            f"| {lab} | {st.get('load', 0):.2f} | {st.get('context', 0):.2f} "
            f"| {st.get('graph', 0):.2f} | {det:.2f} | {st.get('decide', 0):.2f} "
            f"| {st.get('write', 0):.2f} | **{sum(st.values()):.1f}** "
            f"| {r['scan']['cpu_seconds']:.1f} | {r['scan']['peak_rss_mb']:.0f} | {read_cells} "
            f"| {b} | {_fmt_ratio(r.get('ratio'))} "
            f"| {_fmt_ratio(r.get('ratio'), 'graph_and_detectors')} "
            f"| {' → '.join(f'{x:.1f}' for x in la)} |"
        )
    return head + "\n".join(lines) + "\n"


def detector_table(results: dict[str, Any]) -> str:
    """Seconds per detector stage and size, with the baseline ratio where measured."""
    sizes = list(results["sizes"])
    stages: list[str] = []
    for r in results["sizes"].values():
        for x in r["scan"]["stages"]:
            if x["stage"] not in stages:
                stages.append(x["stage"])
    ratio_sizes = [s for s in sizes if results["sizes"][s].get("ratio")]
    cols = ["stage", *(f"{s} s" for s in sizes), *(f"baseline ratio {s}" for s in ratio_sizes)]
    head = "| " + " | ".join(cols) + " |\n|---|" + "---:|" * (len(cols) - 1) + "\n"
    lines = []
    for st in stages:
        cells = []
        for s in sizes:
            row = {x["stage"]: x["seconds"] for x in results["sizes"][s]["scan"]["stages"]}
            cells.append(f"{row[st]:.2f}" if st in row else "-")
        for s in sizes:
            rat = results["sizes"][s].get("ratio")
            if rat:
                v = rat["per_stage"].get(st)
                cells.append("-" if v is None else f"{v}x")
        lines.append(f"| {st} | " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def scaling_table(results: dict[str, Any]) -> str:
    rows = ["| sizes | size x | wall x | CPU x | peak RSS x |", "|---|---:|---:|---:|---:|"]
    for k, v in results.get("scaling", {}).items():
        rows.append(f"| {k} | {v['size_x']} | {v['wall_x']} | {v['cpu_x']} | {v['peak_rss_x']} |")
    return "\n".join(rows) + "\n"


def quality_table(results: dict[str, Any]) -> str:
    head = "| accounts | min recall | suppression precision | max look-alike suppressed |\n"
    head += "|---:|---:|---:|---:|\n"
    rows = []
    for lab, r in results["sizes"].items():
        q = r["scan"].get("quality")
        if q:
            rows.append(
                f"| {lab} | {q['min_recall']} | {q['suppression_precision']} "
                f"| {q['max_lookalike_suppressed_rate']} |"
            )
    return head + "\n".join(rows) + "\n"


def hot_spot_table(profile: dict[str, Any], n: int = 3, min_seconds: float = 0.5) -> str:
    """Top project functions per profiled stage (stages under ``min_seconds`` left out)."""
    lines = [
        "| stage | function (file:line:name) | local s incl. library calls | cum s |",
        "|---|---|---:|---:|",
    ]
    for stage, v in profile.items():
        spots = [s for s in v["hot_spots"][:n] if s["local_incl_libs"] >= min_seconds / n]
        if not spots or spots[0]["cumtime"] < min_seconds:
            continue
        for s in spots:
            lines.append(
                f"| {stage} | `{s['function']}` | {s['local_incl_libs']:.2f} | {s['cumtime']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def write_csv(results: dict[str, Any], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["accounts", "engine", "stage", "seconds", "peak_rss_mb", "capped"])
        for lab, r in results["sizes"].items():
            for x in r["scan"]["stages"]:
                w.writerow([lab, "graphrisk", x["stage"], x["seconds"], x["peak_rss_mb"], False])
            w.writerow(
                [
                    lab,
                    "graphrisk",
                    "TOTAL",
                    r["scan"]["total_seconds"],
                    r["scan"]["peak_rss_mb"],
                    False,
                ]
            )
            base = r.get("baseline")
            if base:
                for x in base["stages"]:
                    w.writerow([lab, "networkx", x["stage"], x["seconds"], x["peak_rss_mb"], False])
                w.writerow(
                    [
                        lab,
                        "networkx",
                        "TOTAL",
                        base["seconds"],
                        base.get("peak_rss_mb"),
                        base["capped"],
                    ]
                )
        for row in dense_case.csv_rows(results.get("dense")):
            w.writerow(row)


def update_readme(results: dict[str, Any], readme: Path) -> None:
    """Replace the text between the results markers of ``readme`` with the latest tables."""
    m = results["machine"]
    body = [
        f"Measured {results['finished']} on {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gb']} GB; Python {m['python']}, polars {m['polars']}, "
        f"networkx {m['networkx']}. Load average (1 min) before → after each scan in the "
        "last column: the machine was shared, so wall times are upper bounds.\n",
        f"graphrisk checkout: `{results.get('source', {}).get('commit', '?')[:12]}` plus "
        f"{len(results.get('source', {}).get('graphrisk_changed_files', []))} files changed "
        "in the working tree by concurrent work.\n",
        summary_table(results),
        "\nGrowth of the total between sizes (linear = the size factor):\n",
        scaling_table(results),
        "\nSeconds per stage (graphrisk) and the baseline's ratio for the same stage:\n",
        detector_table(results),
        "\nDetection quality (`graphrisk.evaluate.evaluate_frames` on the same scan):\n",
        quality_table(results),
    ]
    if results.get("profile"):
        body += [
            f"\nHot spots of the profiled {results['profile']['accounts']} scan (cProfile per "
            "stage; profiled times are inflated):\n",
            hot_spot_table(results["profile"]["stages"]),
        ]
    replace_section(readme, "results", "\n".join(body))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument(
        "--sizes", default="10k,100k,1m", help="accounts per world (default %(default)s)"
    )
    ap.add_argument(
        "--baseline-sizes",
        default="10k,100k",
        help="sizes to run the networkx baseline on ('' for none)",
    )
    ap.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    ap.add_argument(
        "--workdir",
        type=Path,
        default=HERE / "worlds",
        help="worlds and run directories (ignored by git)",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--shapes",
        default="default",
        help="world shapes at every size: default (the generator's) and hicard (many more"
        " distinct devices and addresses, benchmarks/worlds.py); e.g. default,hicard",
    )
    ap.add_argument(
        "--baseline-timeout",
        type=float,
        default=1800.0,
        help="seconds before the baseline is stopped (ratio becomes a lower bound)",
    )
    ap.add_argument(
        "--profile-size",
        default="largest",
        help="size to profile per stage with cProfile: a size, 'largest' or 'none'",
    )
    ap.add_argument(
        "--readme",
        type=Path,
        default=HERE / "README.md",
        help="README whose results section is rewritten ('' to leave it)",
    )
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: print the tables of --out and rewrite the README",
    )
    ap.add_argument(
        "--dense",
        action="store_true",
        help="run only the dense-graph cases (benchmarks/dense.py); other results in --out are kept",
    )
    ap.add_argument(
        "--sharded",
        type=int,
        default=None,
        metavar="N",
        help="only whole vs sharded scans (shards of N accounts) at --sizes; other results kept",
    )
    ap.add_argument(
        "--engine",
        choices=["local", "spark"],
        default="local",
        help="spark: only local vs Spark local mode vs standalone clusters at --sizes",
    )
    ap.add_argument(
        "--spark-shards",
        default="20000",
        help="accounts per shard of the Spark scans; a list (20000,50000) runs local mode once"
        " per size (the partitions), the clusters with the first",
    )
    ap.add_argument(
        "--spark-workers", default="1,2", help="standalone clusters to run on ('' for none)"
    )
    ap.add_argument(
        "--spark-memory",
        default="1g",
        help="JVM heap of the driver and of each executor in the cluster runs (e.g. 512m)",
    )
    ap.add_argument("--dense-sizes", default="200,1000,5000", help="accounts per dense world")
    ap.add_argument("--dense-per-account", default="5,10,20", help="transfers sent per account")
    ap.add_argument("--dense-timeout", type=float, default=300.0, help="seconds per detector run")
    ap.add_argument(
        "--dense-baseline-timeout",
        type=float,
        default=30.0,
        help="seconds before networkx simple_cycles is stopped (0: no baseline)",
    )
    ap.add_argument(
        "--dense-max-rss-mb", type=float, default=10_000.0, help="RSS ceiling per dense run"
    )
    args = ap.parse_args(argv)
    if args.dense:
        return run_dense_only(args)
    if args.sharded is not None:
        return run_sharded_only(args)
    if args.engine == "spark":
        return run_spark_only(args)
    if args.report_only:
        results = json.loads(args.out.read_text(encoding="utf-8"))
        report(results, args)
        return 0

    sizes = sorted({parse_size(s) for s in args.sizes.split(",") if s.strip()})
    base_sizes = {parse_size(s) for s in args.baseline_sizes.split(",") if s.strip()}
    workdir = args.workdir.resolve()
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "source": source_state(str(HERE.parent)),
        "loadavg_before": load_average(),
        "seed": args.seed,
        "targets": TARGETS,
        "sizes": {},
    }
    shapes = [x.strip() for x in args.shapes.split(",") if x.strip()]
    for bad in sorted(set(shapes) - set(SHAPES)):
        raise SystemExit(f"--shapes: unknown shape {bad!r} (known: {', '.join(SHAPES)})")
    for n, shape in [(n, sh) for n in sizes for sh in shapes]:
        lab = label(n) if shape == "default" else f"{label(n)}-{shape}"
        world, meta = ensure_world(workdir, n, args.seed, shape)
        print(f"[{lab}] reading the inputs only (fresh subprocess)", file=sys.stderr)
        read = run_read(world)
        print(f"[{lab}] graphrisk scan (fresh subprocess)", file=sys.stderr)
        scan = run_scan(world, workdir / "runs" / f"graphrisk_{lab}")
        scan["total_seconds"] = round(sum(x["seconds"] for x in scan["stages"]), 3)
        entry: dict[str, Any] = {
            "accounts": n,
            "shape": shape,
            "world": {"path": str(world), **meta},
            "read": read,
            "scan": scan,
        }
        print(
            f"[{lab}] total {scan['total_seconds']:.1f} s, peak {scan['peak_rss_mb']:.0f} MB "
            f"(reading alone {read['seconds']:.1f} s, {read['peak_rss_mb']:.0f} MB), "
            f"load {scan['loadavg_before']} -> {scan['loadavg_after']}",
            file=sys.stderr,
        )
        if n in base_sizes and shape == "default":
            print(
                f"[{lab}] networkx baseline (timeout {args.baseline_timeout:.0f} s)",
                file=sys.stderr,
            )
            base = run_baseline(world, workdir / f"baseline_{lab}.jsonl", args.baseline_timeout)
            entry["baseline"] = base
            entry["ratio"] = ratios(scan, base)
            print(
                f"[{lab}] baseline {base['seconds']:.1f} s, ratio {_fmt_ratio(entry['ratio'])}",
                file=sys.stderr,
            )
        results["sizes"][lab] = entry
    prof = args.profile_size.strip().lower()
    if prof not in ("none", "") and sizes:
        n = sizes[-1] if prof == "largest" else parse_size(prof)
        world, _ = ensure_world(workdir, n, args.seed)
        print(f"[{label(n)}] profiled scan (cProfile per stage)", file=sys.stderr)
        pdir = workdir / "profiles" / label(n)
        res = run_scan(world, workdir / "runs" / f"profiled_{label(n)}", profile=pdir)
        results["profile"] = {
            "accounts": label(n),
            "prof_dir": str(pdir),
            "stages": res.pop("profile"),
            "stage_seconds_profiled": res["stages"],
            "loadavg_before": res["loadavg_before"],
            "loadavg_after": res["loadavg_after"],
        }
    results["scaling"] = scaling(results)
    results["target_check"] = target_check(results)
    results["loadavg_after"] = load_average()
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    if args.out.is_file():  # side runs (--dense, --sharded, --engine spark): keep the last ones
        previous = json.loads(args.out.read_text(encoding="utf-8"))
        for key in ("dense", "sharded", "spark"):
            if previous.get(key):
                results[key] = previous[key]
    save_results(results, args.out)
    report(results, args)
    return 0


def save_results(results: dict[str, Any], out: Path) -> None:
    """Write the results JSON atomically (temporary file, then rename) and the CSV beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)
    write_csv(results, out.with_suffix(".csv"))


def _side_run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The results JSON already at ``--out`` (kept, the side run is merged into it) and the
    side run's header: when, where, which checkout, the load before."""
    results: dict[str, Any] = {"sizes": {}}
    if args.out.is_file():
        results = json.loads(args.out.read_text(encoding="utf-8"))
    results.setdefault("machine", machine())
    header: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "source": source_state(str(HERE.parent)),
        "loadavg_before": load_average(),
    }
    return results, header


def run_sharded_only(args: argparse.Namespace) -> int:
    """``--sharded N``: whole and sharded scans of each size, merged into ``--out``."""
    results, out = _side_run(args)
    out |= {"seed": args.seed, "shard_accounts": args.sharded, "sizes": {}}
    workdir = args.workdir.resolve()
    for n in sorted({parse_size(s) for s in args.sizes.split(",") if s.strip()}):
        lab = label(n)
        world, _ = ensure_world(workdir, n, args.seed)
        runs, dirs = {}, {}
        for mode, shard in (("whole", None), ("sharded", args.sharded)):
            print(f"[{lab}] {mode} scan (fresh subprocess)", file=sys.stderr)
            dirs[mode] = workdir / "runs" / f"{mode}_{lab}"
            runs[mode] = run_scan(world, dirs[mode], shard_accounts=shard)
        out["sizes"][lab] = {"accounts": n, **runs, **sharded_case.compare(**runs, dirs=dirs)}
    out["loadavg_after"] = load_average()
    out["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["sharded"] = out
    save_results(results, args.out)
    if args.readme and Path(args.readme).is_file():
        sharded_case.update_readme(results, Path(args.readme))
    print(sharded_case.table(out))
    print(f"results: {args.out} and {args.out.with_suffix('.csv')}")
    return 0


def run_spark_only(args: argparse.Namespace) -> int:
    """``--engine spark``: local, Spark local mode and standalone clusters, merged into ``--out``."""
    results, out = _side_run(args)
    shards = [parse_size(x) for x in args.spark_shards.split(",") if x.strip()]
    out |= {
        "seed": args.seed,
        "shard_accounts": shards[0] if len(shards) == 1 else shards,
        "jvm_memory": args.spark_memory,
        "sizes": {},
    }
    workdir = args.workdir.resolve()
    workers = [int(x) for x in args.spark_workers.split(",") if x.strip()]
    for n in sorted({parse_size(s) for s in args.sizes.split(",") if s.strip()}):
        lab = label(n)
        world, _ = ensure_world(workdir, n, args.seed)
        out.setdefault("inputs", {})[lab] = input_size(world)
        out["sizes"][lab] = spark_case.run(workdir, world, lab, shards, workers, args.spark_memory)
    out["loadavg_after"] = load_average()
    out["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["spark"] = out
    save_results(results, args.out)
    if args.readme and Path(args.readme).is_file():
        spark_case.update_readme(results, Path(args.readme))
    print(spark_case.table(out))
    print(f"results: {args.out} and {args.out.with_suffix('.csv')}")
    return 0


def run_dense_only(args: argparse.Namespace) -> int:
    """``--dense``: the dense cases alone, merged into the results JSON already at ``--out``."""
    results, dense = _side_run(args)
    dense |= dense_case.run_dense(
        sizes=[parse_size(s) for s in args.dense_sizes.split(",") if s.strip()],
        degrees=[int(s) for s in args.dense_per_account.split(",") if s.strip()],
        seed=args.seed,
        timeout=args.dense_timeout,
        baseline_timeout=args.dense_baseline_timeout,
        max_rss_mb=args.dense_max_rss_mb,
    )
    dense["loadavg_after"] = load_average()
    dense["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["dense"] = dense
    save_results(results, args.out)
    if args.readme and Path(args.readme).is_file():
        dense_case.update_readme(results, Path(args.readme))
    print(dense_case.dense_table(dense))
    print(f"results: {args.out} and {args.out.with_suffix('.csv')}")
    return 0


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    """Print the tables and rewrite the README's results section."""
    if args.readme and Path(args.readme).is_file():
        update_readme(results, Path(args.readme))
        dense_case.update_readme(results, Path(args.readme))
        sharded_case.update_readme(results, Path(args.readme))
    print(summary_table(results))
    print(quality_table(results))
    if results.get("dense"):
        print(dense_case.dense_table(results["dense"]))
    print(f"results: {args.out} and {args.out.with_suffix('.csv')}")
