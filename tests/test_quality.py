"""Detection quality against generator labels (the targets of issue 3).

Every planted pattern found under its expected codes with recall >= 0.95 (and each variant
of a pattern planted in several shapes: unstable_income, large_outflow, high_debt_ratio),
suppression precision >= 0.95, and no look-alike (nor the clean population) with more than 1% of its
accounts suppressed. Checked on the shipped sample (4,000 accounts, seed 7) and on the
session's generated world (3,000 accounts, seed 3, a seed no detector was developed on),
with the default policy and with the ``policies/slow_layering.toml`` preset.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import graphrisk
from graphrisk.evaluate import evaluate, evaluate_frames
from graphrisk.patterns import PATTERNS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "datasets" / "sample"
SLOW_LAYERING = ROOT / "policies" / "slow_layering.toml"


def _check(ev: dict, labels: pl.DataFrame) -> None:
    planted = {k for k, p in PATTERNS.items() if p.kind == "planted"}
    present = set(labels["pattern"].unique().to_list())
    assert planted <= present, f"world lacks planted patterns {sorted(planted - present)}"
    low = {k: v["recall"] for k, v in ev["planted"].items() if v["recall"] < 0.95}
    assert not low, f"recall below 0.95: {low}"
    variants = {
        f"{k}/{name}": x["recall"]
        for k, v in ev["planted"].items()
        for name, x in v.get("variants", {}).items()
    }
    expected = {
        f"{p}/{v}" for p, v in labels.filter(pl.col("variant").is_not_null()
                                             & pl.col("pattern").is_in(list(planted)))
        .select("pattern", "variant").unique().iter_rows()
    }  # fmt: skip
    assert expected and set(variants) == expected, (sorted(variants), sorted(expected))
    low = {k: r for k, r in variants.items() if r < 0.95}
    assert not low, f"variant recall below 0.95: {low}"
    s = ev["suppression"]
    assert s["suppressed"] > 0 and s["precision"] >= 0.95, s
    groups = {**ev["lookalike"], **ev["clean"]}
    assert ev["lookalike"], "world has no look-alikes"
    over = {k: v["suppressed"] for k, v in groups.items() if v["suppressed_rate"] > 0.01}
    assert not over, f"look-alikes over 1% suppressed: {over}"


def test_generated_world_through_the_cli(world: Path, world_run) -> None:
    run, _ = world_run
    _check(evaluate(run, world), pl.read_parquet(world / "labels.parquet"))


@pytest.mark.parametrize("policy", [None, SLOW_LAYERING], ids=["default", "slow_layering"])
def test_shipped_sample(policy: Path | None) -> None:
    labels = pl.read_parquet(SAMPLE / "labels.parquet")
    result = graphrisk.scan(SAMPLE, policy=policy)
    _check(evaluate_frames(result.flags, result.decisions, labels), labels)


def test_slow_layering_on_generated_world(world: Path) -> None:
    labels = pl.read_parquet(world / "labels.parquet")
    result = graphrisk.scan(world, policy=SLOW_LAYERING)
    _check(evaluate_frames(result.flags, result.decisions, labels), labels)


def test_cash_flow_lookalikes_stay_below_a_cut_and_the_saved_purchase_watches(world: Path) -> None:
    """The look-alikes of the cash-flow codes: a bonus or a season is no instability, a
    saved-up purchase is at most a watch, a high earner's large loans and an account with
    no income data are not over-indebted."""
    labels = pl.read_parquet(world / "labels.parquet")
    result = graphrisk.scan(world)
    cash = ("UNSTABLE_INCOME", "LARGE_OUTFLOW", "HIGH_DEBT_RATIO")
    f = result.flags.filter(pl.col("code").is_in(cash)).join(labels, on="account_id")
    by = {p: f.filter(pl.col("pattern") == p) for p in PATTERNS}
    assert by["salary_bonus"].filter(pl.col("code") == "UNSTABLE_INCOME").is_empty()
    assert by["seasonal_earner"].filter(pl.col("code") == "UNSTABLE_INCOME").is_empty()
    saved = by["saved_purchase"].filter(pl.col("code") == "LARGE_OUTFLOW")
    n_saved = labels.filter(pl.col("pattern") == "saved_purchase").height
    assert saved.height >= 0.95 * n_saved and saved["severity"].max() == 1
    assert by["high_earner_loans"].filter(pl.col("code") == "HIGH_DEBT_RATIO").is_empty()
    assert by["no_income_data"].is_empty()
    # the risky shapes score higher than their look-alikes
    funded = by["large_outflow"].filter(pl.col("code") == "LARGE_OUTFLOW")
    assert funded["severity"].min() == 2 and funded["score"].min() > saved["score"].max()
