"""Reproduce every evaluation figure of the README with one command.

    .venv/bin/python scripts/evaluate_all.py [--worlds 4000:7,50000:11] [--out evaluation.json]

1. Generated worlds: for each ``N:SEED`` (default: the shipped sample, then 50,000 accounts with
   seed 11) generate the world (the 4,000/7 one is ``datasets/sample`` itself), scan it with the
   default policy and score it with :func:`graphrisk.evaluate.evaluate_frames`; then again with
   the ``policies/slow_layering.toml`` preset (overall figures only).
2. AMLSim (``datasets/amlsim/{typologies,1K}``, data no one here wrote): scan with a
   lookback covering its two years and report, per AMLSim typology, the share of its members
   flagged TRANSFER_CYCLE, SCATTER_GATHER and any transfer code (the last two also with the
   ``policies/slow_layering.toml`` preset), and the share of clean accounts so flagged.

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
AMLSIM = ROOT / "datasets" / "amlsim"
SLOW_LAYERING = ROOT / "policies" / "slow_layering.toml"
INCOME_CAPS = ROOT / "policies" / "income_caps.toml"
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
    slow = graphrisk.scan(path, policy=SLOW_LAYERING)
    labels = pl.read_parquet(path / "labels.parquet")
    ev["slow_layering"] = evaluate_frames(slow.flags, slow.decisions, labels)["overall"]
    capped = graphrisk.scan(path, policy=INCOME_CAPS)
    kinds = capped.trace.filter(pl.col("cap").is_not_null()).group_by("cap_kind").len()
    ev["income_caps"] = {
        "capped": dict(kinds.sort("cap_kind").iter_rows()),
        "reduced_by_cap_alone": int((capped.trace["situation"] == "cap").sum()),
        **evaluate_frames(capped.flags, capped.decisions, labels)["overall"],
    }
    return ev


def _amlsim_counts(path: Path, policy: Path | None) -> pl.DataFrame:
    result = graphrisk.scan(path, lookback_days=800, policy=policy)
    labels = pl.read_parquet(path / "labels.parquet")
    codes = result.flags.group_by("account_id").agg(pl.col("code").unique())
    lab = labels.join(codes, on="account_id", how="left").with_columns(pl.col("code").fill_null([]))
    return (
        lab.group_by("pattern")
        .agg(
            pl.len().alias("accounts"),
            pl.col("code").list.contains("TRANSFER_CYCLE").sum().alias("transfer_cycle"),
            pl.col("code").list.contains("SCATTER_GATHER").sum().alias("scatter_gather"),
            pl.col("code")
            .list.eval(pl.element().is_in(TRANSFER_CODES))
            .list.any()
            .sum()
            .alias("any_transfer_code"),
        )
        .sort("pattern")
    )


def amlsim(name: str) -> dict:
    """Per AMLSim typology: members flagged, with the default policy and the slow preset."""
    path = AMLSIM / name
    default = _amlsim_counts(path, None)
    slow = _amlsim_counts(path, SLOW_LAYERING).rename(
        {
            "scatter_gather": "scatter_gather_slow_layering",
            "any_transfer_code": "any_transfer_code_slow_layering",
        }
    )
    per = default.join(
        slow.select("pattern", "scatter_gather_slow_layering", "any_transfer_code_slow_layering"),
        on="pattern",
    )
    return {r.pop("pattern"): r for r in per.to_dicts()}


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
        for var in v.get("variants", {}):
            cells = []
            for k in keys:
                x = out["generated"][k]["planted"][pat].get("variants", {}).get(var)
                cells.append(f"{x['recall']:.3f} ({x['found']}/{x['accounts']})" if x else "-")
            print(f"| {pat} / {var} | {', '.join(v['codes'])} | " + " | ".join(cells) + " |")
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
        o = out["generated"][k]["slow_layering"]
        print(
            f"- {k} with policies/slow_layering.toml: min recall {o['min_recall']}, "
            f"suppression precision {o['suppression_precision']}, "
            f"max look-alike suppressed {o['max_lookalike_suppressed_rate']}"
        )
        c = out["generated"][k]["income_caps"]
        print(
            f"- {k} with policies/income_caps.toml: limits brought down to a cap "
            + ", ".join(f"{kind} {n}" for kind, n in c["capped"].items())
            + f" ({c['reduced_by_cap_alone']} reduced by the cap alone), min recall "
            f"{c['min_recall']}"
        )
    print()
    print(
        "| AMLSim set | typology | members | TRANSFER_CYCLE | SCATTER_GATHER | any transfer code "
        "| SCATTER_GATHER, slow_layering | any transfer code, slow_layering |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    cols = (
        "transfer_cycle",
        "scatter_gather",
        "any_transfer_code",
        "scatter_gather_slow_layering",
        "any_transfer_code_slow_layering",
    )
    for name, per in out["amlsim"].items():
        for pat, v in per.items():
            n = v["accounts"]
            cells = " | ".join(f"{v[c]} ({v[c] / n:.3f})" for c in cols)
            print(f"| {name} | {pat} | {n} | {cells} |")
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
