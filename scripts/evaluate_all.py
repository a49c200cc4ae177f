"""Reproduce every evaluation figure of the README with one command.

    .venv/bin/python scripts/evaluate_all.py [--worlds 4000:7,50000:11] [--out evaluation.json]

1. Generated worlds: for each ``N:SEED`` (default: the shipped sample, then 50,000 accounts with
   seed 11) generate the world (the 4,000/7 one is ``datasets/sample`` itself), scan it with the
   default policy and score it with :func:`graphrisk.evaluate.evaluate_frames`.
2. AMLSim (``../shared/data/amlsim/{typologies,1K}``, data no one here wrote): scan with a
   lookback covering its two years and report, per AMLSim typology, the share of its members
   flagged TRANSFER_CYCLE and flagged with any transfer code, and the share of clean accounts
   given any transfer code.

Prints markdown tables and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

import graphrisk
from graphrisk.evaluate import evaluate_frames
from graphrisk.generate import generate_world

ROOT = Path(__file__).resolve().parents[1]
AMLSIM = ROOT.parent / "shared" / "data" / "amlsim"
TRANSFER_CODES = [
    "TRANSFER_CYCLE",
    "SCATTER_GATHER",
    "FAN_OUT_AFTER_LOAN",
    "FAN_IN_COLLECTOR",
    "ASSOCIATED_TRANSFER",
]


def generated(n: int, seed: int, work: Path) -> dict:
    if (n, seed) == (4000, 7):
        path = ROOT / "datasets" / "sample"
    else:
        path = work / f"world_{n}_{seed}"
        generate_world(path, accounts=n, seed=seed)
    t = time.perf_counter()
    result = graphrisk.scan(path)
    seconds = time.perf_counter() - t
    ev = evaluate_frames(result.flags, result.decisions, pl.read_parquet(path / "labels.parquet"))
    ev["world"] = {
        "accounts": n,
        "seed": seed,
        "path": str(path),
        "scan_seconds": round(seconds, 2),
    }
    return ev


def amlsim(name: str) -> dict:
    path = AMLSIM / name
    result = graphrisk.scan(path, lookback_days=800)
    labels = pl.read_parquet(path / "labels.parquet")
    codes = result.flags.group_by("account_id").agg(pl.col("code").unique())
    lab = labels.join(codes, on="account_id", how="left").with_columns(pl.col("code").fill_null([]))
    lab = lab.with_columns(
        pl.col("code").list.contains("TRANSFER_CYCLE").alias("cycle"),
        pl.col("code")
        .list.eval(pl.element().is_in(TRANSFER_CODES))
        .list.any()
        .alias("any_transfer"),
    )
    per = (
        lab.group_by("pattern")
        .agg(pl.len().alias("accounts"), pl.col("cycle").sum(), pl.col("any_transfer").sum())
        .sort("pattern")
    )
    return {
        r["pattern"]: {
            "accounts": r["accounts"],
            "transfer_cycle": r["cycle"],
            "any_transfer_code": r["any_transfer"],
        }
        for r in per.to_dicts()
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", default="4000:7,50000:11")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    args = ap.parse_args(argv)
    out: dict = {"generated": {}, "amlsim": {}}
    with tempfile.TemporaryDirectory(prefix="graphrisk-eval-") as tmp:
        for spec in args.worlds.split(","):
            n, seed = (int(x) for x in spec.split(":"))
            out["generated"][f"{n}:{seed}"] = generated(n, seed, Path(tmp))
    for name in ("typologies", "1K"):
        if not (AMLSIM / name).is_dir():
            print(f"AMLSim data not found at {AMLSIM / name}", file=sys.stderr)
            return 2
        out["amlsim"][name] = amlsim(name)

    keys = list(out["generated"])
    print(
        "| planted pattern | expected code | "
        + " | ".join(f"recall {k.replace(':', ' accounts, seed ')}" for k in keys)
        + " |"
    )
    print("|---|---|" + "---:|" * len(keys))
    first = out["generated"][keys[0]]
    for pat, v in first["planted"].items():
        cells = []
        for k in keys:
            p = out["generated"][k]["planted"][pat]
            cells.append(f"{p['recall']:.3f} ({p['found']}/{p['accounts']})")
        print(f"| {pat} | {', '.join(v['codes'])} | " + " | ".join(cells) + " |")
    print()
    print("| look-alike | " + " | ".join(f"suppressed {k}" for k in keys) + " |")
    print("|---|" + "---:|" * len(keys))
    for pat in list(first["lookalike"]) + list(first["clean"]):
        cells = []
        for k in keys:
            g = out["generated"][k]
            p = g["lookalike"].get(pat) or g["clean"][pat]
            cells.append(f"{100 * p['suppressed_rate']:.2f}% ({p['suppressed']}/{p['accounts']})")
        print(f"| {pat} | " + " | ".join(cells) + " |")
    print()
    for k in keys:
        s = out["generated"][k]["suppression"]
        print(
            f"- {k}: suppression precision {s['precision']} ({s['correct']}/{s['suppressed']}), "
            f"scan {out['generated'][k]['world']['scan_seconds']} s"
        )
    print()
    print("| AMLSim set | typology | members | TRANSFER_CYCLE | any transfer code |")
    print("|---|---|---:|---:|---:|")
    for name, per in out["amlsim"].items():
        for pat, v in per.items():
            n = v["accounts"]
            print(
                f"| {name} | {pat} | {n} | {v['transfer_cycle']} ({v['transfer_cycle'] / n:.3f}) | "
                f"{v['any_transfer_code']} ({v['any_transfer_code'] / n:.3f}) |"
            )
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
