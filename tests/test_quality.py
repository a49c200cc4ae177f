"""Detection quality against generator labels (the targets of issues 3 and 11).

Every planted pattern found under its expected codes with recall >= 0.95, and so is each of
its labelled variants (every planted pattern comes in three or more: tempo, size, link
kind); suppression precision >= 0.95; precision >= 0.95 at each alert budget (the top 0.5%,
1% and 2% of accounts by best flag score); no look-alike with more than 1% of its accounts
(nor of any of its variants) cut for the shape it resembles (``mistaken``), and at most 1%
of all look-alike accounts and of the clean population cut for any reason. (A look-alike of
10-20 accounts cut once for an unrelated reason, e.g. HIGH_DEBT_RATIO on ordinary loans,
which clean accounts get at the rate the ``clean`` row shows, is not a look-alike mistaken
for its risky twin; the pooled rate bounds it.)

Checked on four generated worlds, two sizes (8,000 and 20,000 accounts) by two seeds (3 and
8; no detector was developed on them), each generated and scanned once per module; on the
shipped sample (4,000 accounts, seed 7) with the default policy and the
``policies/slow_layering.toml`` preset; and on the session's world (3,000 accounts, seed 3).

``KNOWN_GAPS`` lists the variants a default detector finds less often than the target,
each with the lower recall it must still reach and the reason. ``KNOWN_LOOKALIKE_GAPS`` lists
the look-alike variants cut for their shape in some of the worlds (so no strict test fits
them), with the reason.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import graphrisk
from graphrisk.evaluate import evaluate, evaluate_frames
from graphrisk.generate import generate_world
from graphrisk.patterns import PATTERNS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "datasets" / "sample"
SLOW_LAYERING = ROOT / "policies" / "slow_layering.toml"

#: Two sizes by two seeds.
WORLDS = [(8000, 3), (8000, 8), (20000, 3), (20000, 8)]

#: Variants the default policy finds less often than 0.95 in some world:
#: pattern/variant -> (the recall it must still reach in every world, why).
KNOWN_GAPS: dict[str, tuple[float, str]] = {}  # none: every variant holds 0.95
#: Look-alike variants a default detector mistakes for their risky twin in some worlds
#: (look-alike/variant -> why); left out of the 1% check (the parent row too), still held
#: by the pooled look-alike bound, and reported by scripts/evaluate_all.py.
KNOWN_LOOKALIKE_GAPS: dict[str, str] = {}  # none: no look-alike variant is cut over 1%
#: The gaps that remain under the slow_layering preset (the default policy's SCATTER_GATHER
#: has the slow tempo too, so scatter_gather/slow is no gap of either).
SLOW_GAPS = dict(KNOWN_GAPS)


def _variants(ev: dict) -> dict[str, dict]:
    return {
        f"{k}/{name}": x
        for k, v in ev["planted"].items()
        for name, x in v.get("variants", {}).items()
    }


def _check(ev: dict, labels: pl.DataFrame, gaps: dict[str, tuple[float, str]] = KNOWN_GAPS) -> None:
    planted = {k for k, p in PATTERNS.items() if p.kind == "planted"}
    present = set(labels["pattern"].unique().to_list())
    assert planted <= present, f"world lacks planted patterns {sorted(planted - present)}"
    variants = _variants(ev)
    expected = {
        f"{p}/{v}" for p, v in labels.filter(pl.col("variant").is_not_null())
        .select("pattern", "variant").unique().iter_rows() if p in planted
    }  # fmt: skip
    assert expected and set(variants) == expected, (sorted(variants), sorted(expected))
    few = {p: n for p in planted if (n := sum(v.startswith(p + "/") for v in variants)) < 3}
    assert not few, f"planted patterns with fewer than three variants: {few}"
    low = {k: v["recall"] for k, v in ev["planted"].items() if v["recall"] < 0.95}
    assert not low, f"recall below 0.95: {low}"
    low = {
        k: x["recall"]
        for k, x in variants.items()
        if x["recall"] < (gaps[k][0] if k in gaps else 0.95)
    }
    assert not low, f"variant recall below its target (0.95, or KNOWN_GAPS'): {low}"
    s = ev["suppression"]
    assert s["suppressed"] > 0 and s["precision"] >= 0.95, s
    for budget, b in ev["budgets"].items():
        assert b["alerts"] == b["budget"] and b["precision"] >= 0.95, (budget, b)
    assert ev["lookalike"], "world has no look-alikes"
    skip = set(KNOWN_LOOKALIKE_GAPS) | {k.split("/")[0] for k in KNOWN_LOOKALIKE_GAPS}
    mistaken = {
        key: x["mistaken"]
        for k, v in ev["lookalike"].items()
        for name, x in [("", v), *v.get("variants", {}).items()]
        if x["mistaken_rate"] > 0.01 and (key := f"{k}{'/' + name if name else ''}") not in skip
    }
    assert not mistaken, f"look-alikes over 1% cut for the shape they resemble: {mistaken}"
    assert ev["overall"]["lookalike_suppressed_rate"] <= 0.01, ev["overall"]
    assert ev["clean"]["clean"]["suppressed_rate"] <= 0.01, ev["clean"]["clean"]


@pytest.fixture(scope="module", params=WORLDS, ids=[f"{n}:{s}" for n, s in WORLDS])
def grid(request, tmp_path_factory) -> tuple[dict, pl.DataFrame]:
    """One generated world of the grid, scanned with the default policy, and its labels."""
    n, seed = request.param
    path = tmp_path_factory.mktemp(f"quality_{n}_{seed}") / "data"
    generate_world(path, accounts=n, seed=seed)
    labels = pl.read_parquet(path / "labels.parquet")
    result = graphrisk.scan(path)
    return evaluate_frames(result.flags, result.decisions, labels), labels


def test_targets_on_every_variant(grid) -> None:
    _check(*grid)


def test_generated_world_through_the_cli(world: Path, world_run) -> None:
    run, _ = world_run
    _check(evaluate(run, world), pl.read_parquet(world / "labels.parquet"))


@pytest.mark.parametrize(
    "policy, gaps",
    [(None, KNOWN_GAPS), (SLOW_LAYERING, SLOW_GAPS)],
    ids=["default", "slow_layering"],
)
def test_shipped_sample(policy: Path | None, gaps: dict[str, str]) -> None:
    labels = pl.read_parquet(SAMPLE / "labels.parquet")
    result = graphrisk.scan(SAMPLE, policy=policy)
    _check(evaluate_frames(result.flags, result.decisions, labels), labels, gaps)


def test_slow_layering_on_generated_world(world: Path) -> None:
    labels = pl.read_parquet(world / "labels.parquet")
    result = graphrisk.scan(world, policy=SLOW_LAYERING)
    _check(evaluate_frames(result.flags, result.decisions, labels), labels, SLOW_GAPS)


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
