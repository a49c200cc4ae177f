"""Time the detectors issue 11 changed, one at a time, on a generated world.

    python -m benchmarks.linkage_money DIR [--accounts 200000] [--seed 5] [--repeat 2]

``DIR/world`` is generated once (reused when it exists). Each detector runs on a fresh scan
context (graph built beforehand, not timed); the best of ``--repeat`` runs is printed, with
its flag count: RISK_PROXIMITY with tie strength and with the old rule's parameters
(``base_weight = 1, decay = 0.5, min_score = 2``: same work, the count rule),
SCATTER_GATHER at the fast tempo only and at both tempos (the default), TRANSFER_CYCLE and
ASSOCIATED_TRANSFER. Nothing is written outside ``DIR``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from graphrisk.context import ScanContext
from graphrisk.detectors import AssociatedTransfer, RiskProximity, ScatterGather, TransferCycle
from graphrisk.detectors.base import Detector
from graphrisk.generate import generate_world
from graphrisk.io import load

CASES: list[tuple[str, Callable[[], Detector]]] = [
    ("risk_proximity (tie strength)", RiskProximity),
    ("risk_proximity (count rule)", lambda: RiskProximity(base_weight=1.0, decay=0.5, min_score=2.0)),
    ("scatter_gather (fast only)", lambda: ScatterGather(slow_scatter_hours=0)),
    ("scatter_gather (fast + slow)", ScatterGather),
    ("transfer_cycle", TransferCycle),
    ("associated_transfer", AssociatedTransfer),
]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--accounts", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    path = args.dir / "world"
    if not (path / "labels.parquet").exists():
        generate_world(path, accounts=args.accounts, seed=args.seed)
    tables = load(path)
    print(f"| detector ({args.accounts:,} accounts, seed {args.seed}) | seconds | flags |")
    print("|---|---:|---:|")
    for name, make in CASES:
        best, n = float("inf"), 0
        for _ in range(args.repeat):
            ctx = ScanContext.build(tables)
            _ = ctx.graph
            t = time.perf_counter()
            n = make().detect(ctx).flags.height
            best = min(best, time.perf_counter() - t)
        print(f"| {name} | {best:.2f} | {n:,} |")


if __name__ == "__main__":
    main()
