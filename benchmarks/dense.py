"""Dense transfer graphs: does the loop search stay bounded where naive enumeration explodes?

Ordinary transfer graphs are full of loops, so TRANSFER_CYCLE must stay bounded in time on
dense graphs. These worlds are adversarial on purpose: ``accounts`` accounts each send
``per_account`` transfers to distinct random other accounts, all inside ``days`` (10, less
than the cycle window of 15), with amounts within 2% of each other. Every transfer is then
a *fresh* relation (no history before it, nothing after it), so the freshness rules prune
nothing, every loop of up to ``max_length`` hops is a candidate, and the number of simple
cycles grows like ``per_account ** max_length / max_length``.

Each measurement runs in a fresh subprocess (its peak memory, ``VmHWM``, is its own) under a time limit
and a resident-memory ceiling, so one case cannot hang the run or exhaust the machine:

    python -m benchmarks.dense case N D --detector transfer_cycle [--seed S] [--profile F]
    python -m benchmarks.dense nx N D [--seed S] [--length-bound L]

``case`` builds the tables in memory (SPEC columns and types: accounts, transfers, empty
loans and devices), then times ``ctx.graph`` and ``REGISTRY[NAME]().detect(ctx)`` and prints
one JSON object: seconds, CPU seconds, peak RSS, flags, flagged accounts, groups (for
TRANSFER_CYCLE: the loops kept, one per member set) and ``search_capped`` (true when any
evidence says a work cap cut the search). ``nx`` is the baseline: one ``nx.DiGraph`` of the
window's transfers and ``nx.simple_cycles(G, length_bound=L)`` counted to the end; it prints
a JSON line every second, so a stopped baseline still says how far it got.

The runner (``python -m benchmarks --dense``) calls :func:`run_dense` for every
(accounts, per_account) pair. Nothing is written to disk but the results.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.machine import replace_section
from graphrisk.scan import peak_rss_mb

HERE = Path(__file__).resolve().parent
DETECTORS = ("transfer_cycle", "scatter_gather")
START = datetime(2026, 3, 1)
AMOUNT = 1000.0
AMOUNT_SPREAD = 0.02  # amounts in AMOUNT * (1 +- spread): well inside amount_tolerance
PLANTED_HOPS = 6  # a clean laundering loop on its own accounts, long after the dense burst
PLANTED_DAY = 100


# ----------------------------------------------------------------------------- data


def dense_tables(
    accounts: int, per_account: int, seed: int, days: float = 10.0, planted: bool = True
) -> Any:
    """Seeded SPEC tables: every account pays ``per_account`` distinct others within ``days``.

    Returns :class:`graphrisk.io.Tables` with ``accounts`` (``A000000``...), ``transfers``
    (``T00000000``... in a random time order), and empty ``loans`` and ``devices``. With
    ``planted``, one more loop of :data:`PLANTED_HOPS` fresh transfers (``P0``..., 6 hours
    apart, amounts 1% down per hop) runs round accounts ``L0``... on day :data:`PLANTED_DAY`,
    far outside the dense burst: whatever the search does with the burst, it should find it.
    """
    import polars as pl

    from graphrisk.io import Tables
    from graphrisk.schema import DTYPES, TABLES, empty_frame

    if not 1 <= per_account < accounts:
        raise ValueError(f"need 1 <= per_account < accounts, got {per_account}, {accounts}")
    rng = np.random.default_rng(seed)
    src = np.repeat(np.arange(accounts), per_account)
    # distinct receivers per sender: offsets 1..accounts-1 drawn without replacement
    off = np.concatenate(
        [rng.choice(accounts - 1, size=per_account, replace=False) for _ in range(accounts)]
    )
    dst = (src + 1 + off) % accounts
    m = src.size
    micros = np.sort(rng.integers(0, int(days * 86_400_000_000), size=m))
    order = rng.permutation(m)  # transfer i goes from src[order[i]] at the i-th time
    src, dst = src[order], dst[order]
    amount = np.round(AMOUNT * (1 + rng.uniform(-AMOUNT_SPREAD, AMOUNT_SPREAD, size=m)), 2)
    ids = np.array([f"A{i:06d}" for i in range(accounts)])
    schema = {c.name: DTYPES[c.kind] for c in TABLES["transfers"].columns}
    transfers = pl.DataFrame(
        {
            "transfer_id": [f"T{i:08d}" for i in range(m)],
            "src_account": ids[src],
            "dst_account": ids[dst],
            "amount": amount,
            "ts": pl.Series(micros).cast(pl.Duration("us")) + START,
        },
        schema=schema,
    )
    if planted:
        loop = planted_loop()
        transfers = pl.concat([transfers, pl.DataFrame(loop, schema=schema, orient="row")])
        ids = np.concatenate([ids, [f"L{i}" for i in range(PLANTED_HOPS)]])
        accounts = ids.size
    acc = pl.DataFrame(
        {
            "account_id": ids,
            "opened_at": [datetime(2020, 1, 1)] * accounts,
            "credit_limit": [10_000.0] * accounts,
            "customer_id": [None] * accounts,
            "city": [None] * accounts,
            "monthly_income": [None] * accounts,
        },
        schema={c.name: DTYPES[c.kind] for c in TABLES["accounts"].columns},
    )
    return Tables(
        accounts=acc,
        loans=empty_frame("loans"),
        transfers=transfers,
        devices=empty_frame("devices"),
    )


def planted_loop() -> list[tuple[str, str, str, float, datetime]]:
    """The planted loop's transfers: ``L0 -> L1 -> ... -> L0`` on day :data:`PLANTED_DAY`."""
    day = START + timedelta(days=PLANTED_DAY)
    ids = [f"L{i}" for i in range(PLANTED_HOPS)]
    return [
        (
            f"P{i}",
            ids[i],
            ids[(i + 1) % PLANTED_HOPS],
            round(5000 * 0.99**i, 2),
            day + timedelta(hours=6 * i),
        )
        for i in range(PLANTED_HOPS)
    ]


def expected_cycles(accounts: int, per_account: int, length_bound: int) -> float:
    """Expected simple cycles of 2..``length_bound`` hops in the dense burst.

    Each account pays ``per_account`` of the ``accounts - 1`` others, so an ordered pair is
    an edge with probability ``p = per_account / (accounts - 1)`` and there are about
    ``(accounts)_k / k * p**k`` cycles of ``k`` hops (``≈ per_account**k / k``).
    """
    p = per_account / (accounts - 1)
    total, falling = 0.0, float(accounts)
    for k in range(2, length_bound + 1):
        falling *= accounts - k + 1
        total += falling / k * p**k
    return total


# ------------------------------------------------------------------------ measured runs


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_case(
    accounts: int, per_account: int, seed: int, detector: str, profile: Path | None = None
) -> dict[str, Any]:
    """Build the world, time the graph and one detector (public interface), count findings."""
    import polars as pl

    from graphrisk.context import ScanContext
    from graphrisk.detectors import REGISTRY

    t = time.perf_counter()
    tables = dense_tables(accounts, per_account, seed)
    ctx = ScanContext.build(tables)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    _ = ctx.graph
    graph_s = time.perf_counter() - t
    det = REGISTRY[detector]()
    rss0, cpu0 = peak_rss_mb(), _cpu()
    prof = None
    if profile is not None:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t = time.perf_counter()
    found = det.detect(ctx)
    seconds = time.perf_counter() - t
    cpu = _cpu() - cpu0
    if prof is not None:
        prof.disable()
        profile.parent.mkdir(parents=True, exist_ok=True)
        prof.dump_stats(str(profile))
    flags = found.flags
    planted = [f"L{i}" for i in range(PLANTED_HOPS)]
    capped = None
    if flags.height and detector == "transfer_cycle":
        capped = bool(
            flags.select(
                pl.col("evidence").str.json_path_match("$.search_capped").eq("true").any()
            ).item()
        )
    out: dict[str, Any] = {
        "detector": detector,
        "accounts": accounts,
        "per_account": per_account,
        "transfers": tables.transfers.height,
        "build_seconds": round(build_s, 3),
        "graph_seconds": round(graph_s, 3),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "rss_before_mb": round(rss0, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "flags": flags.height,
        "flagged_accounts": flags["account_id"].n_unique(),
        "groups": found.groups["group_id"].n_unique(),
        "search_capped": capped,
        # the most transfers one account sends inside the burst (max_branch follows only
        # the earliest max_branch of them per path and step; search_capped does not say so)
        "max_out_per_account": int(
            tables.transfers.filter(pl.col("ts") < START + timedelta(days=PLANTED_DAY))
            .group_by("src_account")
            .len()["len"]
            .max()
            or 0
        ),
        "planted_loop_flagged": (
            flags.filter(pl.col("account_id").is_in(planted))["account_id"].n_unique()
        ),
        "planted_loop_accounts": PLANTED_HOPS,
        "params": {
            k: v
            for k, v in det.get_params().items()
            if k in ("window_days", "max_length", "max_branch", "max_paths", "scatter_hours")
        },
    }
    if prof is not None:
        from benchmarks.worker import top_functions

        out["profile"] = {"path": str(profile), **top_functions(prof)}
    return out


def run_nx(
    accounts: int, per_account: int, seed: int, length_bound: int, every: float = 1.0
) -> dict[str, Any]:
    """Count ``nx.simple_cycles(G, length_bound=...)`` on the window graph, printing progress.

    A JSON line goes to stdout every ``every`` seconds (and one at the end, with
    ``finished``), so the caller can stop the process and still read how far it got.
    """
    import networkx as nx
    import polars as pl

    tables = dense_tables(accounts, per_account, seed)
    tr = tables.transfers.filter(pl.col("ts") < START + timedelta(days=15))  # the burst's window
    t = time.perf_counter()
    g = nx.DiGraph()
    g.add_edges_from(zip(tr["src_account"].to_list(), tr["dst_account"].to_list(), strict=True))
    graph_s = time.perf_counter() - t
    state: dict[str, Any] = {
        "accounts": accounts,
        "per_account": per_account,
        "transfers": tr.height,
        "edges": g.number_of_edges(),
        "length_bound": length_bound,
        "graph_seconds": round(graph_s, 3),
        "cycles": 0,
        "cycles_3plus": 0,
        "expected_cycles": expected_cycles(accounts, per_account, length_bound),
        "finished": False,
    }

    def emit(elapsed: float) -> None:
        state["seconds"] = round(elapsed, 3)
        state["peak_rss_mb"] = round(peak_rss_mb(), 1)
        print(json.dumps(state), flush=True)

    t = time.perf_counter()
    last = t
    n = n3 = 0
    for cyc in nx.simple_cycles(g, length_bound=length_bound):
        n += 1
        n3 += len(cyc) >= 3
        if n % 4096 == 0 and time.perf_counter() - last >= every:
            last = time.perf_counter()
            state["cycles"], state["cycles_3plus"] = n, n3
            emit(last - t)
    state["cycles"], state["cycles_3plus"], state["finished"] = n, n3, True
    emit(time.perf_counter() - t)
    return state


# ------------------------------------------------------------------- guarded subprocess


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return 0.0


def guarded(cmd: list[str], timeout: float, max_rss_mb: float) -> dict[str, Any]:
    """Run ``cmd`` in its own session; kill it past ``timeout`` s or ``max_rss_mb`` resident.

    Returns ``code`` (``None`` when stopped), ``stopped`` (``None``, ``"timeout"`` or
    ``"memory"``), ``out`` (stdout, also what a stopped process printed), ``wall`` and
    ``cpu`` seconds (the child's, from ``RUSAGE_CHILDREN``) and the largest RSS polled.
    """
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, start_new_session=True, cwd=HERE.parent
    ) as proc:
        chunks: list[str] = []
        reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        stopped = None
        seen = 0.0
        while proc.poll() is None:
            seen = max(seen, _rss_mb(proc.pid))
            elapsed = time.perf_counter() - t0
            if elapsed > timeout:
                stopped = "timeout"
            elif seen > max_rss_mb:
                stopped = "memory"
            if stopped:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            time.sleep(0.1)
        reader.join(timeout=10)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    return {
        "code": None if stopped else proc.returncode,
        "stopped": stopped,
        "out": "".join(chunks),
        "wall": round(time.perf_counter() - t0, 3),
        "cpu": round(cpu, 3),
        "max_rss_polled_mb": round(seen, 1),
    }


def _last_json(out: str) -> dict[str, Any] | None:
    lines = [x for x in out.strip().splitlines() if x.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def measure_detector(
    accounts: int, per_account: int, seed: int, detector: str, timeout: float, max_rss_mb: float
) -> dict[str, Any]:
    """One detector on one dense world in a fresh subprocess (see :func:`run_case`)."""
    cmd = [sys.executable, "-m", "benchmarks.dense", "case", str(accounts), str(per_account)]
    run = guarded([*cmd, "--seed", str(seed), "--detector", detector], timeout, max_rss_mb)
    res = _last_json(run["out"]) if run["code"] == 0 else None
    if run["code"] not in (0, None):
        raise SystemExit(f"dense case {accounts}x{per_account} {detector} failed ({run['code']})")
    if res is None:  # stopped: what we know is the limit it hit
        res = {"detector": detector, "accounts": accounts, "per_account": per_account}
        res["seconds"] = run["wall"]
        res["peak_rss_mb"] = run["max_rss_polled_mb"]
    res.update(stopped=run["stopped"], process_wall_seconds=run["wall"], limit_seconds=timeout)
    res["limit_rss_mb"] = max_rss_mb
    return res


def measure_nx(
    accounts: int, per_account: int, seed: int, length_bound: int, timeout: float, max_rss_mb: float
) -> dict[str, Any]:
    """The networkx enumeration on the same world in a subprocess, stopped at ``timeout``."""
    cmd = [sys.executable, "-m", "benchmarks.dense", "nx", str(accounts), str(per_account)]
    cmd += ["--seed", str(seed), "--length-bound", str(length_bound)]
    run = guarded(cmd, timeout, max_rss_mb)
    if run["code"] not in (0, None):
        raise SystemExit(f"dense baseline {accounts}x{per_account} failed ({run['code']})")
    res = _last_json(run["out"]) or {"cycles": None, "seconds": None, "finished": False}
    res.update(stopped=run["stopped"], process_wall_seconds=run["wall"], limit_seconds=timeout)
    # stopped: ``seconds`` and ``cycles`` are its last report (at most a second old), so
    # ``seconds`` is a lower bound of the enumeration's time and cycles / seconds its rate
    return res


def run_dense(
    sizes: list[int],
    degrees: list[int],
    seed: int,
    timeout: float,
    baseline_timeout: float,
    max_rss_mb: float,
    log: Any = sys.stderr,
) -> dict[str, Any]:
    """Every (accounts, per_account) case: both detectors, then the networkx baseline."""
    from graphrisk.detectors import REGISTRY

    length_bound = int(REGISTRY["transfer_cycle"]().get_params()["max_length"])
    cases = []
    for n in sizes:
        for d in degrees:
            if d >= n:
                continue
            case: dict[str, Any] = {"accounts": n, "per_account": d, "transfers": n * d}
            for name in DETECTORS:
                print(f"[dense {n}x{d}] {name}", file=log, flush=True)
                r = measure_detector(n, d, seed, name, timeout, max_rss_mb)
                case[name] = r
                print(f"[dense {n}x{d}] {name}: {_fmt_case(r)}", file=log, flush=True)
            if baseline_timeout > 0:
                print(f"[dense {n}x{d}] networkx simple_cycles", file=log, flush=True)
                b = measure_nx(n, d, seed, length_bound, baseline_timeout, max_rss_mb)
                case["networkx"] = b
                case["ratio"] = dense_ratio(case["transfer_cycle"], b)
                print(f"[dense {n}x{d}] networkx: {_fmt_nx(b)}", file=log, flush=True)
            cases.append(case)
    return {
        "seed": seed,
        "days": 10.0,
        "length_bound": length_bound,
        "timeout_seconds": timeout,
        "baseline_timeout_seconds": baseline_timeout,
        "max_rss_mb": max_rss_mb,
        "cases": cases,
    }


def dense_ratio(ours: dict[str, Any], base: dict[str, Any]) -> dict[str, Any] | None:
    """networkx enumeration seconds / TRANSFER_CYCLE seconds (``>`` when networkx stopped)."""
    if ours.get("stopped") or not ours.get("seconds") or base.get("seconds") is None:
        return None
    return {
        "value": float(f"{base['seconds'] / ours['seconds']:.2g}"),
        "lower_bound": not base.get("finished", False),
    }


# -------------------------------------------------------------------------- reporting


def _fmt_case(r: dict[str, Any]) -> str:
    if r.get("stopped"):
        lim = "time" if r["stopped"] == "timeout" else "memory"
        return f"stopped at the {lim} limit after {r['seconds']:.1f} s, {r['peak_rss_mb']:.0f} MB"
    return (
        f"{r['seconds']:.2f} s, {r['peak_rss_mb']:.0f} MB, {r['flags']} flags, "
        f"{r['groups']} groups, capped {r['search_capped']}"
    )


def _fmt_nx(b: dict[str, Any]) -> str:
    if b.get("finished"):
        return f"{b['seconds']:.2f} s, {b['cycles']} cycles"
    return f"> {b['limit_seconds']:.0f} s, stopped ({b.get('cycles')} cycles so far)"


def _cell_seconds(r: dict[str, Any] | None) -> str:
    if not r:
        return "-"
    if r.get("stopped") == "timeout":
        return f"> {r['limit_seconds']:.0f} (stopped)"
    if r.get("stopped") == "memory":
        return f"stopped at {r['limit_rss_mb']:.0f} MB after {r['seconds']:.0f}"
    return f"{r['seconds']:.2f}"


def _get(x: dict[str, Any] | None, k: str, fmt: str = "{}") -> str:
    return "-" if not x or x.get(k) is None else fmt.format(x[k])


def _duration(seconds: float) -> str:
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return (
                f"{seconds / size:,.0f} {unit}"
                if seconds / size >= 10
                else f"{seconds / size:.1f} {unit}"
            )
    return f"{seconds:.0f} s"


def _nx_cells(b: dict[str, Any] | None) -> tuple[str, str, str]:
    """networkx seconds, cycles enumerated, and the time to finish at its measured rate."""
    if b is None:
        return "-", "-", "-"
    if b.get("finished"):
        return f"{b['seconds']:.2f}", f"{b['cycles']:,}", "finished"
    if not b.get("cycles"):
        return f"> {b['limit_seconds']:.0f}, stopped", "-", "-"
    rate = b["cycles"] / max(b["seconds"], 1e-9)
    left = _duration(b["expected_cycles"] / rate)
    return f"> {b['limit_seconds']:.0f}, stopped", f"> {b['cycles']:,}", f"≈ {left}"


def dense_table(dense: dict[str, Any]) -> str:
    """Markdown tables: TRANSFER_CYCLE against networkx, then SCATTER_GATHER; a row per case."""
    head = (
        "| accounts | per account | burst transfers | **TRANSFER_CYCLE s** | CPU s | peak RSS MB "
        "| loops kept | flags | search_capped | branch cap hit | planted loop found "
        "| cycles in the burst (expected) | networkx s | networkx cycles | networkx to finish "
        "| ratio |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|---:|---:|---:|\n"
    )
    rows = []
    sg_rows = []
    for c in dense["cases"]:
        tc, sg = c.get("transfer_cycle"), c.get("scatter_gather")
        rat = c.get("ratio")
        r = "-" if not rat else f"{'> ' if rat['lower_bound'] else ''}{rat['value']}x"
        bs, bc, bl = _nx_cells(c.get("networkx"))
        branch = "-"
        if tc and tc.get("max_out_per_account") is not None:
            cap = tc["params"]["max_branch"]
            hit = tc["max_out_per_account"] > cap
            branch = f"{'yes' if hit else 'no'} ({tc['max_out_per_account']} > {cap})"
            branch = branch if hit else branch.replace(">", "≤")
        planted = "-"
        if tc and tc.get("planted_loop_flagged") is not None:
            planted = f"{tc['planted_loop_flagged']}/{tc['planted_loop_accounts']}"
        exp = expected_cycles(c["accounts"], c["per_account"], dense["length_bound"])
        rows.append(
            f"| {c['accounts']:,} | {c['per_account']} | {c['transfers']:,} "
            f"| **{_cell_seconds(tc)}** | {_get(tc, 'cpu_seconds', '{:.1f}')} "
            f"| {_get(tc, 'peak_rss_mb', '{:.0f}')} "
            f"| {_get(tc, 'groups', '{:,}')} | {_get(tc, 'flags', '{:,}')} "
            f"| {_get(tc, 'search_capped')} | {branch} | {planted} | {exp:.2g} "
            f"| {bs} | {bc} | {bl} | {r} |"
        )
        sg_rows.append(
            f"| {c['accounts']:,} | {c['per_account']} | {c['transfers']:,} "
            f"| **{_cell_seconds(sg)}** | {_get(sg, 'cpu_seconds', '{:.1f}')} "
            f"| {_get(sg, 'peak_rss_mb', '{:.0f}')} | {_get(sg, 'groups', '{:,}')} "
            f"| {_get(sg, 'flags', '{:,}')} |"
        )
    sg_head = (
        "| accounts | per account | burst transfers | **SCATTER_GATHER s** | CPU s | peak RSS MB "
        "| groups | flags |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    return head + "\n".join(rows) + "\n\n" + sg_head + "\n".join(sg_rows) + "\n"


def csv_rows(dense: dict[str, Any] | None) -> list[list[Any]]:
    """Rows for the runner's CSV (``accounts, engine, stage, seconds, peak_rss_mb, capped``).

    ``accounts`` is ``dense_NxD``; ``capped`` is true when the run was stopped (time or
    memory limit), as for the main baseline.
    """
    rows: list[list[Any]] = []
    for c in (dense or {}).get("cases", []):
        lab = f"dense_{c['accounts']}x{c['per_account']}"
        for name in DETECTORS:
            r = c.get(name)
            if r:
                rows.append(
                    [lab, "graphrisk", f"detector:{name}", r.get("seconds"), r.get("peak_rss_mb"),
                     bool(r.get("stopped"))]
                )  # fmt: skip
        b = c.get("networkx")
        if b:
            rows.append(
                [lab, "networkx", "simple_cycles", b.get("seconds"), b.get("peak_rss_mb"),
                 not b.get("finished", False)]
            )  # fmt: skip
    return rows


def update_readme(results: dict[str, Any], readme: Path) -> None:
    """Rewrite the text between the dense markers of ``readme`` (if both are there)."""
    dense = results.get("dense")
    if not dense:
        return
    m = dense.get("machine") or results["machine"]
    la = dense.get("loadavg_before", [None])[:1] + dense.get("loadavg_after", [None])[:1]
    body = (
        f"Measured {dense.get('finished', '?')} on {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gb']} GB; Python {m['python']}, polars {m['polars']}, networkx "
        f"{m['networkx']}; graphrisk checkout `{dense.get('source', {}).get('commit', '?')[:12]}` "
        f"plus {len(dense.get('source', {}).get('graphrisk_changed_files', []))} files changed "
        f"in the working tree by concurrent work. Seed {dense['seed']}, all transfers within "
        f"{dense['days']:g} days, limits {dense['timeout_seconds']:.0f} s and "
        f"{dense['max_rss_mb']:.0f} MB per detector run, {dense['baseline_timeout_seconds']:.0f} s "
        f"for networkx (length bound {dense['length_bound']}). Load average (1 min) before → "
        f"after: {' → '.join('-' if x is None else f'{x:.1f}' for x in la)}.\n\n"
        + dense_table(dense)
    )
    replace_section(readme, "dense", body)


# -------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.dense", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("case", help="one detector on one dense world (prints JSON)")
    c.add_argument("accounts", type=int)
    c.add_argument("per_account", type=int)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--detector", default="transfer_cycle", choices=DETECTORS)
    c.add_argument("--profile", type=Path, help="cProfile the detector into this .prof file")
    b = sub.add_parser("nx", help="networkx simple_cycles on the same world (JSON lines)")
    b.add_argument("accounts", type=int)
    b.add_argument("per_account", type=int)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--length-bound", type=int, default=12)
    args = ap.parse_args(argv)
    if args.cmd == "case":
        out = run_case(args.accounts, args.per_account, args.seed, args.detector, args.profile)
        print(json.dumps(out), flush=True)
    else:
        run_nx(args.accounts, args.per_account, args.seed, args.length_bound)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
