"""Whole vs sharded scans of the same world, each in a fresh subprocess.

    python -m benchmarks --sharded 100000 --sizes 1m

For each size: one whole scan and one scan in shards of at most ``--sharded`` accounts
(``graphrisk.scan(..., shard_accounts=N)``), with wall and CPU seconds and peak RSS per stage,
the ratio sharded / whole, and whether both gave the same run id and every output row
(:func:`graphrisk.testing.run_differences`). The table goes
between the ``sharded`` markers of ``benchmarks/README.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.machine import replace_section
from graphrisk.testing import run_differences


def _stage(scan: dict[str, Any], name: str) -> float:
    return round(sum(r["seconds"] for r in scan["stages"] if r["stage"] == name), 2)


def _detectors(scan: dict[str, Any]) -> float:
    return round(sum(r["seconds"] for r in scan["stages"] if r["stage"].startswith("detector:")), 2)


def table(sharded: dict[str, Any]) -> str:
    """The markdown table of one ``--sharded`` run."""
    head = (
        "| accounts | scan | shards | largest shard | load | plan | spill | context | graph "
        "| detectors | decide | combine | **total s** | CPU s | peak RSS MB | time x | memory x "
        "| same run id, rows |\n"
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
    )
    rows = []
    for lab, e in sharded["sizes"].items():
        w, s = e["whole"], e["sharded"]
        for name, r in (("whole", w), (f"shards of {sharded['shard_accounts']:,}", s)):
            info = r.get("shards") or {}
            rows.append(
                f"| {lab} | {name} | {info.get('shards', 1)} | "
                f"{info.get('largest_shard', e['accounts']):,} | {_stage(r, 'load')} | "
                f"{_stage(r, 'plan')} | {_stage(r, 'spill')} | {_stage(r, 'context')} | "
                f"{_stage(r, 'graph')} | {_detectors(r)} | {_stage(r, 'decide')} | "
                f"{_stage(r, 'combine')} | **{r['wall_seconds']:.1f}** | "
                f"{r['cpu_seconds']:.1f} | {r['peak_rss_mb']:.0f} | "
                + (
                    "1.00 | 1.00 | |"
                    if r is w
                    else f"{e['time_ratio']:.2f} | {e['memory_ratio']:.2f} | {e['same']} |"
                )
            )
    return head + "\n".join(rows) + "\n"


def compare(
    whole: dict[str, Any], sharded: dict[str, Any], dirs: dict[str, Path]
) -> dict[str, Any]:
    """Ratios sharded / whole and whether the outputs agree: the run id and every output row
    of the two run directories ``dirs["whole"]``, ``dirs["sharded"]``
    (:func:`graphrisk.testing.run_differences`)."""
    diff = run_differences(dirs["whole"], dirs["sharded"])
    same = whole["run_id"] == sharded["run_id"] and not diff["differ"]
    return {
        "time_ratio": round(sharded["wall_seconds"] / whole["wall_seconds"], 3),
        "memory_ratio": round(sharded["peak_rss_mb"] / whole["peak_rss_mb"], 3),
        "same": "yes" if same else "NO",
        "rows_compared": diff["rows"],
        **({"differ": diff["differ"]} if diff["differ"] else {}),
    }


def update_readme(results: dict[str, Any], readme: Path) -> None:
    """Rewrite the text between the sharded markers of ``readme`` (if both are there)."""
    sharded = results.get("sharded")
    if not sharded:
        return
    m = sharded["machine"]
    la = sharded["loadavg_before"][:1] + sharded["loadavg_after"][:1]
    body = (
        f"Measured {sharded['finished']} on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; "
        f"Python {m['python']}, polars {m['polars']}; graphrisk checkout "
        f"`{sharded['source'].get('commit', '?')[:12]}`. World seed {sharded['seed']}. Load "
        f"average (1 min) before → after: {' → '.join(f'{x:.1f}' for x in la)}.\n\n"
        + table(sharded)
    )
    replace_section(readme, "sharded", body)
