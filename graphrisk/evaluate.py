"""Score a run against ``labels.parquet``: recall per planted pattern, suppression precision,
and how many look-alikes were wrongly suppressed.

Definitions (``graphrisk.patterns`` holds the expected codes):

* recall of a planted pattern: share of its accounts flagged with one of its codes;
* suppressed: decision ``reduce`` or ``suspend``;
* suppression precision: share of suppressed accounts that carry a planted pattern the policy
  is meant to cut (``Pattern.suppress``);
* look-alike rate: share of each look-alike pattern's accounts that were suppressed
  (target: at most 1%);
* variants: where ``labels.parquet`` has a ``variant`` column (the shape a pattern was
  planted in, e.g. ``stop`` or ``swing`` of ``unstable_income``), recall per variant too
  (``planted[NAME]["variants"]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from graphrisk.errors import DataError, Problem, UsageError
from graphrisk.patterns import PATTERNS


def _read(path: Path, what: str) -> pl.DataFrame:
    if not path.is_file():
        raise UsageError(f"{what} not found: {path}")
    return pl.read_parquet(path)


def evaluate(run: str | Path, labels: str | Path) -> dict[str, Any]:
    """Evaluate a run directory against a labels file (or a data dir holding labels.parquet)."""
    run, labels = Path(run), Path(labels)
    if labels.is_dir():
        labels = labels / "labels.parquet"
    lab = _read(labels, "labels file")
    flags = _read(run / "flags.parquet", "run flags")
    dec = _read(run / "decisions.parquet", "run decisions")
    return evaluate_frames(flags, dec, lab)


def evaluate_frames(
    flags: pl.DataFrame, decisions: pl.DataFrame, labels: pl.DataFrame
) -> dict[str, Any]:
    """:func:`evaluate` on frames already in memory.

    Raises
    ------
    UsageError
        If the labels name a pattern :data:`graphrisk.patterns.PATTERNS` does not know.
    DataError
        If labelled accounts are not in ``decisions`` (which holds every account of the run):
        labels of another world, scored, would count every such account as missed.
    """
    unknown = set(labels["pattern"].unique().to_list()) - set(PATTERNS)
    if unknown:
        raise UsageError(f"labels: unknown patterns {sorted(unknown)}")
    check_labels_match(labels, decisions)
    codes_of = flags.group_by("account_id").agg(pl.col("code").unique())
    suppressed = decisions.filter(pl.col("action").is_in(["reduce", "suspend"]))["account_id"]
    if "variant" not in labels.columns:
        labels = labels.with_columns(pl.lit(None, pl.String).alias("variant"))
    lab = labels.join(codes_of, on="account_id", how="left").with_columns(
        pl.col("code").fill_null([]),
        pl.col("account_id").is_in(suppressed.implode()).alias("suppressed"),
    )
    out: dict[str, Any] = {"planted": {}, "lookalike": {}, "clean": {}}
    for name, p in sorted(PATTERNS.items()):
        rows = lab.filter(pl.col("pattern") == name)
        if not rows.height:
            continue
        n = rows.height
        n_supp = int(rows["suppressed"].sum())
        n_any = int((rows["code"].list.len() > 0).sum())
        if p.kind == "planted":
            hit = pl.col("code").list.eval(pl.element().is_in(list(p.codes))).list.any()
            rows = rows.with_columns(hit.alias("hit"))
            found = int(rows["hit"].sum())
            out["planted"][name] = {
                "accounts": n,
                "found": found,
                "recall": round(found / n, 4),
                "codes": list(p.codes),
                "suppressed": n_supp,
                "cut_expected": p.suppress,
            }
            per = (
                rows.filter(pl.col("variant").is_not_null())
                .group_by("variant")
                .agg(pl.len().alias("n"), pl.col("hit").sum().alias("found"),
                     pl.col("suppressed").sum().alias("suppressed"))
                .sort("variant")
            )  # fmt: skip
            if per.height:
                out["planted"][name]["variants"] = {
                    r["variant"]: {
                        "accounts": r["n"],
                        "found": r["found"],
                        "recall": round(r["found"] / r["n"], 4),
                        "suppressed": r["suppressed"],
                    }
                    for r in per.iter_rows(named=True)
                }
        else:
            out[p.kind if p.kind == "lookalike" else "clean"][name] = {
                "accounts": n,
                "suppressed": n_supp,
                "suppressed_rate": round(n_supp / n, 4),
                "flagged": n_any,
                "flagged_rate": round(n_any / n, 4),
            }
    cut_ok = set(
        labels.filter(pl.col("pattern").is_in([k for k, p in PATTERNS.items() if p.suppress]))[
            "account_id"
        ].to_list()
    )
    n_supp = suppressed.len()
    good = int(suppressed.is_in(list(cut_ok)).sum()) if n_supp else 0
    recalls = [v["recall"] for v in out["planted"].values()]
    recalls += [
        x["recall"] for v in out["planted"].values() for x in v.get("variants", {}).values()
    ]
    look = [v["suppressed_rate"] for v in out["lookalike"].values()]
    out["suppression"] = {
        "suppressed": n_supp,
        "correct": good,
        "precision": round(good / n_supp, 4) if n_supp else None,
    }
    out["overall"] = {
        "min_recall": min(recalls) if recalls else None,
        "max_lookalike_suppressed_rate": max(look) if look else None,
        "suppression_precision": out["suppression"]["precision"],
    }
    return out


def check_labels_match(labels: pl.DataFrame, decisions: pl.DataFrame) -> None:
    """Raise :class:`DataError` (exit 3) naming the labelled accounts the run did not decide.

    Parameters
    ----------
    labels
        ``account_id, pattern`` rows.
    decisions
        The run's decisions: one row per account it scanned.
    """
    missing = labels.filter(~pl.col("account_id").is_in(decisions["account_id"].implode()))
    if not missing.height:
        return
    n_ids = labels["account_id"].n_unique()
    none = missing["account_id"].n_unique() == n_ids
    message = (
        f"labelled account not in the run ({missing['account_id'].n_unique():,} of {n_ids:,}"
        " labelled accounts"
        + ("; none overlaps the run: labels of another world?)" if none else ")")
    )
    examples = missing.sort("account_id").head(3).select("account_id", "pattern").to_dicts()
    raise DataError(
        [Problem("labels", "account_id", "not_in_run", missing.height, message, examples)]
    )


def render(result: dict[str, Any]) -> str:
    """A plain-text table of an evaluation."""
    lines = [f"{'planted pattern':<28}{'accounts':>9}{'found':>7}{'recall':>8}{'cut':>6}  codes"]
    for k, v in result["planted"].items():
        lines.append(
            f"{k:<28}{v['accounts']:>9}{v['found']:>7}{v['recall']:>8.3f}{v['suppressed']:>6}  "
            + ",".join(v["codes"])
        )
        for name, x in v.get("variants", {}).items():
            label = f"  {k}/{name}"
            lines.append(
                f"{label:<28}{x['accounts']:>9}{x['found']:>7}{x['recall']:>8.3f}"
                f"{x['suppressed']:>6}"
            )
    lines.append("")
    lines.append(
        f"{'look-alike / clean':<28}{'accounts':>9}{'cut':>7}{'cut %':>8}{'flagged %':>11}"
    )
    for group in ("lookalike", "clean"):
        for k, v in result[group].items():
            lines.append(
                f"{k:<28}{v['accounts']:>9}{v['suppressed']:>7}{100 * v['suppressed_rate']:>7.2f}%"
                f"{100 * v['flagged_rate']:>10.2f}%"
            )
    s = result["suppression"]
    prec = "n/a" if s["precision"] is None else f"{s['precision']:.4f}"
    lines.append("")
    lines.append(
        f"suppression precision: {prec} ({s['correct']} of {s['suppressed']} suppressed accounts "
        "carry a pattern meant to be cut)"
    )
    o = result["overall"]
    lines.append(
        f"min recall: {o['min_recall']}   max look-alike suppressed rate: "
        f"{o['max_lookalike_suppressed_rate']}"
    )
    return "\n".join(lines)
