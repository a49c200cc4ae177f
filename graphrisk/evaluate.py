"""Score a run against ``labels.parquet``: recall per planted pattern and variant,
suppression precision, how many look-alikes were wrongly suppressed or flagged, and the
precision of an analyst's queue at alert budgets.

Definitions (``graphrisk.patterns`` holds the expected codes):

* recall of a planted pattern: share of its accounts flagged with one of its codes;
* suppressed: decision ``reduce`` or ``suspend``;
* suppression precision: share of suppressed accounts that carry a planted pattern the policy
  is meant to cut (``Pattern.suppress``);
* look-alike rate: share of each look-alike pattern's accounts that were suppressed
  (target: at most 1%); ``mistaken`` counts those suppressed with one of the codes of the
  shapes the look-alike resembles among the decision's reasons (``Pattern.codes``: a
  traveller cut for IP_HOPPING), the rest were cut for unrelated reasons any account can
  get (the ``clean`` row shows how often); ``overall.lookalike_suppressed_rate`` pools
  every look-alike account;
* variants: where ``labels.parquet`` has a ``variant`` column (the shape a pattern was
  planted in, e.g. ``stop`` or ``swing`` of ``unstable_income``), recall per variant too
  (``planted[NAME]["variants"]``), and the suppressed and flagged rates of each look-alike
  variant (``lookalike[NAME]["variants"]``);
* alert budgets (``budgets``): the flagged accounts are ranked by their best flag
  ``score`` (highest first; ties: the higher severity, then the more distinct codes, then
  ``account_id``, so the order is deterministic). A budget of ``b`` (0.5%, 1%, 2%) is the
  top ``ceil(b * accounts)`` of that ranking, ``accounts`` being every account the run
  decided (fewer when fewer accounts are flagged); its precision is the share of those
  alerts that carry a planted pattern (any: an alert on a linkage pattern is a true alert
  too), its recall the share of all planted accounts it holds.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl

from graphrisk.errors import DataError, Problem, UsageError
from graphrisk.patterns import PATTERNS

#: The alert budgets :func:`evaluate_frames` reports, as shares of the accounts scanned.
BUDGETS = (0.005, 0.01, 0.02)


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
    cut = decisions.filter(pl.col("action").is_in(["reduce", "suspend"]))
    suppressed = cut["account_id"]
    reasons = cut.select("account_id", pl.col("reason_codes").alias("reasons"))
    if "variant" not in labels.columns:
        labels = labels.with_columns(pl.lit(None, pl.String).alias("variant"))
    lab = (
        labels.join(codes_of, on="account_id", how="left")
        .join(reasons, on="account_id", how="left")
        .with_columns(
            pl.col("code").fill_null([]),
            pl.col("reasons").fill_null([]),
            pl.col("account_id").is_in(suppressed.implode()).alias("suppressed"),
        )
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
            shape = pl.col("reasons").list.eval(pl.element().is_in(list(p.codes))).list.any()
            rows = rows.with_columns((pl.col("suppressed") & shape).alias("mistaken"))
            n_mis = int(rows["mistaken"].sum())
            entry = out[p.kind if p.kind == "lookalike" else "clean"][name] = {
                "accounts": n,
                "suppressed": n_supp,
                "suppressed_rate": round(n_supp / n, 4),
                "mistaken": n_mis,
                "mistaken_rate": round(n_mis / n, 4),
                "flagged": n_any,
                "flagged_rate": round(n_any / n, 4),
            }
            per = (
                rows.filter(pl.col("variant").is_not_null())
                .group_by("variant")
                .agg(pl.len().alias("n"), pl.col("suppressed").sum().alias("suppressed"),
                     pl.col("mistaken").sum().alias("mistaken"),
                     (pl.col("code").list.len() > 0).sum().alias("flagged"))
                .sort("variant")
            )  # fmt: skip
            if per.height:
                entry["variants"] = {
                    r["variant"]: {
                        "accounts": r["n"],
                        "suppressed": r["suppressed"],
                        "suppressed_rate": round(r["suppressed"] / r["n"], 4),
                        "mistaken": r["mistaken"],
                        "mistaken_rate": round(r["mistaken"] / r["n"], 4),
                        "flagged": r["flagged"],
                        "flagged_rate": round(r["flagged"] / r["n"], 4),
                    }
                    for r in per.iter_rows(named=True)
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
    n_look = sum(v["accounts"] for v in out["lookalike"].values())
    n_look_cut = sum(v["suppressed"] for v in out["lookalike"].values())
    out["suppression"] = {
        "suppressed": n_supp,
        "correct": good,
        "precision": round(good / n_supp, 4) if n_supp else None,
    }
    planted = [k for k, p in PATTERNS.items() if p.kind == "planted"]
    bad = labels.filter(pl.col("pattern").is_in(planted))["account_id"]
    out["budgets"] = alert_budgets(flags, decisions["account_id"].n_unique(), bad)
    out["overall"] = {
        "min_recall": min(recalls) if recalls else None,
        "max_lookalike_suppressed_rate": max(look) if look else None,
        "max_lookalike_mistaken_rate": (
            max(v["mistaken_rate"] for v in out["lookalike"].values()) if look else None
        ),
        "lookalike_suppressed_rate": round(n_look_cut / n_look, 4) if n_look else None,
        "suppression_precision": out["suppression"]["precision"],
    }
    return out


def ranked_alerts(flags: pl.DataFrame) -> pl.DataFrame:
    """The flagged accounts in the order an analyst works them (see the module doc).

    Examples
    --------
    >>> f = pl.DataFrame({"account_id": ["a", "b", "b", "c"], "code": ["X", "X", "Y", "Y"],
    ...                   "severity": [1, 1, 2, 2], "score": [1.5, 1.2, 0.9, 1.5]})
    >>> ranked_alerts(f)["account_id"].to_list()
    ['c', 'a', 'b']
    """
    return (
        flags.group_by("account_id")
        .agg(
            pl.col("score").max().alias("score"),
            pl.col("severity").max().alias("severity"),
            pl.col("code").n_unique().alias("n_codes"),
        )
        .sort(
            ["score", "severity", "n_codes", "account_id"],
            descending=[True, True, True, False],
        )
    )


def alert_budgets(
    flags: pl.DataFrame,
    accounts: int,
    bad: pl.Series,
    budgets: tuple[float, ...] = BUDGETS,
) -> dict[str, dict[str, Any]]:
    """Precision and recall of the top ``budget`` share of ``accounts`` ranked by
    :func:`ranked_alerts`, ``bad`` being the accounts an alert should find; keys are the
    budgets in percent (``"0.5%"``).

    Examples
    --------
    >>> f = pl.DataFrame({"account_id": ["a", "b", "c"], "code": ["X"] * 3,
    ...                   "severity": [1, 1, 1], "score": [3.0, 2.0, 1.0]})
    >>> alert_budgets(f, 200, pl.Series(["a", "c"]))["1%"]
    {'budget': 2, 'alerts': 2, 'planted': 1, 'precision': 0.5, 'recall': 0.5}
    """
    bad = bad.unique()
    ranked = ranked_alerts(flags).with_columns(
        pl.col("account_id").is_in(bad.implode()).alias("planted")
    )
    n = accounts
    out: dict[str, dict[str, Any]] = {}
    for b in budgets:
        k = math.ceil(b * n)
        top = ranked.head(k)
        hit = int(top["planted"].sum())
        out[f"{100 * b:g}%"] = {
            "budget": k,
            "alerts": top.height,
            "planted": hit,
            "precision": round(hit / top.height, 4) if top.height else None,
            "recall": round(hit / bad.len(), 4) if bad.len() else None,
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
    lines = [f"{'planted pattern':<40}{'accounts':>9}{'found':>7}{'recall':>8}{'cut':>6}  codes"]
    for k, v in result["planted"].items():
        lines.append(
            f"{k:<40}{v['accounts']:>9}{v['found']:>7}{v['recall']:>8.3f}{v['suppressed']:>6}  "
            + ",".join(v["codes"])
        )
        for name, x in v.get("variants", {}).items():
            label = f"  {k}/{name}"
            lines.append(
                f"{label:<40}{x['accounts']:>9}{x['found']:>7}{x['recall']:>8.3f}"
                f"{x['suppressed']:>6}"
            )
    lines.append("")
    lines.append(
        f"{'look-alike / clean':<40}{'accounts':>9}{'cut':>7}{'cut %':>8}{'mistaken':>10}"
        f"{'flagged %':>11}"
    )
    for group in ("lookalike", "clean"):
        for k, v in result[group].items():
            lines.append(
                f"{k:<40}{v['accounts']:>9}{v['suppressed']:>7}{100 * v['suppressed_rate']:>7.2f}%"
                f"{v['mistaken']:>10}{100 * v['flagged_rate']:>10.2f}%"
            )
            for name, x in v.get("variants", {}).items():
                label = f"  {k}/{name}"
                lines.append(
                    f"{label:<40}{x['accounts']:>9}{x['suppressed']:>7}"
                    f"{100 * x['suppressed_rate']:>7.2f}%{x['mistaken']:>10}"
                    f"{100 * x['flagged_rate']:>10.2f}%"
                )
    if result.get("budgets"):
        lines.append("")
        lines.append(
            f"{'alert budget':<40}{'alerts':>9}{'planted':>9}{'precision':>11}{'recall':>8}"
        )
        for k, x in result["budgets"].items():
            prec = "n/a" if x["precision"] is None else f"{x['precision']:.3f}"
            rec = "n/a" if x["recall"] is None else f"{x['recall']:.3f}"
            label = f"top {k} ({x['budget']} accounts)"
            lines.append(f"{label:<40}{x['alerts']:>9}{x['planted']:>9}{prec:>11}{rec:>8}")
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
