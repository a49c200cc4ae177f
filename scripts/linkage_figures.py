"""The figures of issue 11's linkage and money part, with one command.

    .venv/bin/python scripts/linkage_figures.py [--worlds 4000:7,50000:11]

1. AMLSim (``datasets/amlsim``): a whole scan with the default policy and a lookback over its
   two years; members of cycle alerts whose loop closes in the data flagged TRANSFER_CYCLE,
   scatter_gather members flagged SCATTER_GATHER, clean accounts with any transfer code.
2. Generated worlds (``N:SEED``; 4000:7 is ``datasets/sample``): the accounts flagged by the
   codes on the shared 0..1 score scale (TRANSFER_CYCLE, SCATTER_GATHER, ASSOCIATED_TRANSFER,
   RISK_PROXIMITY), ranked by their highest such score; in the top 0.5%, 1% and 2% of all
   accounts the share whose labels list that code ("expected code") and the share that
   carries any planted pattern. Then the RISK_PROXIMITY cases of ``generate/_linkage.py`` and
   the ``settled`` decisions (recency.settled_keep).

Prints plain text.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import networkx as nx
import polars as pl

import graphrisk
from graphrisk.generate import generate_world
from graphrisk.patterns import PATTERNS

ROOT = Path(__file__).resolve().parents[1]
SHARED = ["TRANSFER_CYCLE", "SCATTER_GATHER", "ASSOCIATED_TRANSFER", "RISK_PROXIMITY"]
TRANSFER = ["TRANSFER_CYCLE", "SCATTER_GATHER", "FAN_OUT_AFTER_LOAN", "FAN_IN_COLLECTOR",
            "ASSOCIATED_TRANSFER"]  # fmt: skip


def amlsim() -> None:
    for name in ("1K", "typologies"):
        path = ROOT / "datasets" / "amlsim" / name
        r = graphrisk.scan(path, lookback_days=800)
        lab = pl.read_parquet(path / "labels.parquet")
        cyc = lab.filter(pl.col("pattern") == "cycle")["account_id"]
        tr = r.context.transfers
        inner = tr.filter(
            pl.col("src_account").is_in(cyc.implode()) & pl.col("dst_account").is_in(cyc.implode())
        )
        g = nx.DiGraph(inner.select("src_account", "dst_account").rows())
        closed = {n for c in nx.strongly_connected_components(g) if len(c) > 1 for n in c}

        def flagged(codes: list[str], flags: pl.DataFrame = r.flags) -> set[str]:
            return set(flags.filter(pl.col("code").is_in(codes))["account_id"])

        sg = set(lab.filter(pl.col("pattern") == "scatter_gather")["account_id"])
        clean = set(lab.filter(pl.col("pattern") == "clean")["account_id"])
        hit, sgh, coded = (
            flagged(["TRANSFER_CYCLE"]),
            flagged(["SCATTER_GATHER"]),
            flagged(TRANSFER),
        )
        print(
            f"AMLSim {name}: closed-loop members {len(closed & hit)}/{len(closed)}, "
            f"cycle members {len(set(cyc) & hit)}/{cyc.len()}, scatter_gather members "
            f"{len(sg & sgh)}/{len(sg)}, clean with a transfer code {len(clean & coded)}/"
            f"{len(clean)} ({len(clean & coded) / len(clean):.4f})"
        )


def world(n: int, seed: int, work: Path) -> None:
    path = ROOT / "datasets" / "sample" if (n, seed) == (4000, 7) else work / f"w{n}_{seed}"
    if (n, seed) != (4000, 7):
        generate_world(path, accounts=n, seed=seed)
    r = graphrisk.scan(path)
    lab = pl.read_parquet(path / "labels.parquet")
    expected = pl.DataFrame(
        [(k, c) for k, p in PATTERNS.items() for c in p.codes], schema=["pattern", "code"],
        orient="row",
    )  # fmt: skip
    f = r.flags.filter(pl.col("code").is_in(SHARED)).select("account_id", "code", "score")
    right = f.join(lab, on="account_id").join(expected, on=["pattern", "code"], how="semi")
    planted = [k for k, p in PATTERNS.items() if p.kind == "planted"]
    risky = lab.filter(pl.col("pattern").is_in(planted))["account_id"].implode()
    acc = (
        f.join(
            right.select("account_id", "code").unique().with_columns(ok=pl.lit(True)),
            on=["account_id", "code"],
            how="left",
        )
        .group_by("account_id")
        .agg(pl.col("score").max(), pl.col("ok").fill_null(False).any())
        .with_columns(pl.col("account_id").is_in(risky).alias("risky"))
        .sort(["score", "account_id"], descending=[True, False])
    )
    print(f"world {n}:{seed}: {acc.height} accounts flagged by {', '.join(SHARED)}")
    for b in (0.005, 0.01, 0.02):
        k = max(1, round(b * r.decisions.height))
        top = acc.head(k)
        print(f"  top {b:.1%} ({k}): expected code {top['ok'].mean():.3f}, "
              f"any planted pattern {top['risky'].mean():.3f}")  # fmt: skip
    prox = set(r.flags.filter(pl.col("code") == "RISK_PROXIMITY")["account_id"])
    # risk_proximity's 2-3 defaulter links: its device, money and mixed variants and, without
    # a variant, the accounts chance linked to two defaulters
    several = (None, "device", "money", "mixed")
    for pattern, variants in [("risk_proximity", ("one_close_tie",)), ("risk_proximity", several),
                              ("household_shared_device", ("relative_of_defaulter",)),
                              ("office_shared_ip", ("old_address_of_defaulter",))]:  # fmt: skip
        rows = lab.filter(pl.col("pattern") == pattern)
        keep = pl.col("variant").is_in([v for v in variants if v is not None])
        if None in variants:
            keep = keep | pl.col("variant").is_null()
        ids = set(rows.filter(keep)["account_id"])
        name = "/".join(str(v) for v in variants)
        print(f"  RISK_PROXIMITY on {pattern} / {name}: {len(ids & prox)}/{len(ids)}")
    settled = r.trace.filter(pl.col("situation") == "settled").join(lab, on="account_id")
    print(f"  settled (keep, increases open): {settled.height}, by pattern "
          f"{dict(settled.group_by('pattern').len().sort('pattern').iter_rows())}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", default="4000:7,50000:11")
    args = ap.parse_args(argv)
    amlsim()
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.worlds.split(","):
            n, seed = (int(x) for x in spec.split(":"))
            world(n, seed, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
