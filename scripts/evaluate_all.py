"""Reproduce every evaluation figure of the README with one command.

    .venv/bin/python scripts/evaluate_all.py [--worlds 4000:7,8000:3,...] [--out evaluation.json]
                                             [--readme README.md]

1. Generated worlds: for each ``N:SEED`` (default: the shipped sample, then the four worlds of
   ``tests/test_quality.py``: 8,000 and 20,000 accounts with seeds 3 and 8) generate the world
   (the 4,000/7 one is ``datasets/sample`` itself), scan it with the default policy and score
   it with :func:`graphrisk.evaluate.evaluate_frames`: recall per planted pattern and variant,
   look-alike cuts and flags per variant, precision at the alert budgets; then again with the
   ``policies/slow_layering.toml`` and ``policies/income_caps.toml`` presets (overall figures).
2. AMLSim (``datasets/amlsim/{typologies,1K}``, data no one here wrote): scan with a
   lookback covering its two years and report, per AMLSim typology, the share of its members
   flagged TRANSFER_CYCLE, SCATTER_GATHER and any transfer code (the last two also with the
   ``policies/slow_layering.toml`` preset), the share of clean accounts so flagged, and the
   precision at the alert budgets (an alert is right when its account is in an AMLSim alert).

Prints the markdown section; ``--readme`` writes it between the ``<!-- evaluation:start -->``
and ``<!-- evaluation:end -->`` markers of that file; ``--out`` writes the figures as JSON.
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
from graphrisk.evaluate import alert_budgets, evaluate_frames
from graphrisk.generate import generate_world

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the repository's benchmarks package
    sys.path.insert(0, str(ROOT))
from benchmarks.machine import replace_section  # noqa: E402

AMLSIM = ROOT / "datasets" / "amlsim"
SLOW_LAYERING = ROOT / "policies" / "slow_layering.toml"
INCOME_CAPS = ROOT / "policies" / "income_caps.toml"
WORLDS = "4000:7,8000:3,8000:8,20000:3,20000:8"
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
    return _amlsim_scan(path, policy)[0]


def _amlsim_scan(path: Path, policy: Path | None) -> tuple[pl.DataFrame, dict]:
    result = graphrisk.scan(path, lookback_days=800, policy=policy)
    labels = pl.read_parquet(path / "labels.parquet")
    bad = labels.filter(pl.col("pattern") != "clean")["account_id"]
    budgets = alert_budgets(result.flags, result.decisions.height, bad)
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
    ), budgets


def amlsim(name: str) -> dict:
    """Per AMLSim typology: members flagged, with the default policy and the slow preset."""
    path = AMLSIM / name
    default, budgets = _amlsim_scan(path, None)
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
    return {"typologies": {r.pop("pattern"): r for r in per.to_dicts()}, "budgets": budgets}


def _cell(x: dict | None, key: str = "recall") -> str:
    if not x:
        return "-"
    if key == "recall":
        return f"{x['recall']:.3f} ({x['found']}/{x['accounts']})"
    return f"{100 * x[key + '_rate']:.2f}% ({x[key]}/{x['accounts']})"


def markdown(out: dict) -> str:
    """The README section of an evaluation: every table and line, from the figures."""
    lines: list[str] = []
    add = lines.append
    keys = list(out["generated"])
    head = " | ".join(k.replace(":", " accounts, seed ") for k in keys)
    add(f"| planted pattern / variant | expected code | {head} |")
    add("|---|---|" + "---:|" * len(keys))
    first = out["generated"][keys[0]]
    for pat, v in first["planted"].items():
        row = [out["generated"][k]["planted"].get(pat) for k in keys]
        add(f"| {pat} | {', '.join(v['codes'])} | " + " | ".join(map(_cell, row)) + " |")
        for var in v.get("variants", {}):
            row = [
                out["generated"][k]["planted"].get(pat, {}).get("variants", {}).get(var)
                for k in keys
            ]
            add(f"| {pat} / {var} | | " + " | ".join(map(_cell, row)) + " |")
    add("")
    add(
        "Look-alikes, per world: accounts cut for the shape they resemble / cut for any reason"
        " / flagged with any code, of the accounts."
    )
    add("")
    add(f"| look-alike / variant | {head} |")
    add("|---|" + "---:|" * len(keys))
    for pat in list(first["lookalike"]) + list(first["clean"]):
        entries = [
            out["generated"][k]["lookalike"].get(pat) or out["generated"][k]["clean"].get(pat)
            for k in keys
        ]
        names = [None, *first.get("lookalike", {}).get(pat, {}).get("variants", {})]
        for var in names:
            cells = []
            for e in entries:
                x = e if var is None else (e or {}).get("variants", {}).get(var)
                cells.append(
                    "-"
                    if not x
                    else f"{x['mistaken']} / {x['suppressed']} / {x['flagged']} of {x['accounts']}"
                )
            label = pat if var is None else f"{pat} / {var}"
            add(f"| {label} | " + " | ".join(cells) + " |")
    add("")
    add(f"| alert budget (precision, recall of planted accounts) | {head} |")
    add("|---|" + "---:|" * len(keys))
    for b in first["budgets"]:
        cells = []
        for k in keys:
            x = out["generated"][k]["budgets"][b]
            cells.append(f"{x['precision']:.3f} ({x['planted']}/{x['alerts']}), {x['recall']:.3f}")
        add(f"| top {b} | " + " | ".join(cells) + " |")
    add("")
    for k in keys:
        g = out["generated"][k]
        s, o = g["suppression"], g["overall"]
        add(
            f"- {k}: suppression precision {s['precision']} ({s['correct']}/{s['suppressed']}), "
            f"look-alike accounts cut {100 * o['lookalike_suppressed_rate']:.2f}%, "
            f"scan {g['world']['scan_seconds']} s"
        )
        sl = g["slow_layering"]
        add(
            f"- {k} with policies/slow_layering.toml: min recall {sl['min_recall']}, "
            f"suppression precision {sl['suppression_precision']}, "
            f"max look-alike cut for its shape {sl['max_lookalike_mistaken_rate']}"
        )
        c = g["income_caps"]
        add(
            f"- {k} with policies/income_caps.toml: limits brought down to a cap "
            + ", ".join(f"{kind} {n}" for kind, n in c["capped"].items())
            + f" ({c['reduced_by_cap_alone']} reduced by the cap alone), min recall "
            f"{c['min_recall']}"
        )
    add("")
    add(
        "| AMLSim set | typology | members | TRANSFER_CYCLE | SCATTER_GATHER | any transfer code "
        "| SCATTER_GATHER, slow_layering | any transfer code, slow_layering |"
    )
    add("|---|---|---:|---:|---:|---:|---:|---:|")
    cols = (
        "transfer_cycle",
        "scatter_gather",
        "any_transfer_code",
        "scatter_gather_slow_layering",
        "any_transfer_code_slow_layering",
    )
    for name, res in out["amlsim"].items():
        for pat, v in res["typologies"].items():
            n = v["accounts"]
            cells = " | ".join(f"{v[c]} ({v[c] / n:.3f})" for c in cols)
            add(f"| {name} | {pat} | {n} | {cells} |")
    add("")
    add("| AMLSim set | " + " | ".join(f"top {b}" for b in BUDGET_NAMES) + " |")
    add("|---|" + "---:|" * len(BUDGET_NAMES))
    for name, res in out["amlsim"].items():
        cells = []
        for b in BUDGET_NAMES:
            x = res["budgets"][b]
            prec = "n/a" if x["precision"] is None else f"{x['precision']:.3f}"
            cells.append(f"{prec} ({x['planted']}/{x['alerts']} of {x['budget']})")
        add(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


BUDGET_NAMES = ("0.5%", "1%", "2%")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", default=WORLDS)
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    ap.add_argument(
        "--readme", default=None, help="write the section between this file's evaluation markers"
    )
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
    body = markdown(out)
    print(body, end="")
    if args.readme:
        replace_section(Path(args.readme), "evaluation", body)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
