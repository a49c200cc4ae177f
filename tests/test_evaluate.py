"""graphrisk.evaluate on hand-made frames: variants, look-alikes mistaken for their shape,
alert budgets and the order alerts are ranked in."""

from __future__ import annotations

import polars as pl

from graphrisk.evaluate import alert_budgets, evaluate_frames, ranked_alerts, render


def _frames(n_clean: int = 190):
    labels = pl.DataFrame(
        {
            "account_id": ["m1", "m2", "m3", "t1", "t2", "t3", "t4"]
            + [f"c{i}" for i in range(n_clean)],
            "pattern": ["multi_lender"] * 3 + ["traveller"] * 4 + ["clean"] * n_clean,
            "variant": ["fast", "fast", "slow", "two_weeks", "two_weeks", "day_trip", "day_trip"]
            + [None] * n_clean,
        }
    )
    flags = pl.DataFrame(
        {
            "account_id": ["m1", "m3", "t1", "t3", "c0", "c0"],
            "code": ["MULTI_LENDER", "MULTI_LENDER", "IP_HOPPING", "HIGH_DEBT_RATIO",
                     "TRANSFER_CYCLE", "IP_HOPPING"],
            "severity": [2, 2, 1, 2, 2, 1],
            "score": [2.0, 1.0, 1.5, 1.1, 3.0, 0.5],
        }
    )  # fmt: skip
    cut = {"m1": ["MULTI_LENDER"], "m3": ["MULTI_LENDER"], "t1": ["IP_HOPPING"],
           "t3": ["HIGH_DEBT_RATIO"]}  # fmt: skip
    ids = labels["account_id"].to_list()
    decisions = pl.DataFrame(
        {
            "account_id": ids,
            "action": ["reduce" if a in cut else "keep" for a in ids],
            "reason_codes": [cut.get(a, []) for a in ids],
        }
    )
    return flags, decisions, labels


def test_recall_and_lookalike_rates_per_variant() -> None:
    ev = evaluate_frames(*_frames())
    ml = ev["planted"]["multi_lender"]
    assert (ml["found"], ml["accounts"]) == (2, 3)
    assert ml["variants"]["fast"]["recall"] == 0.5 and ml["variants"]["slow"]["recall"] == 1.0
    tr = ev["lookalike"]["traveller"]
    # t1 cut for IP_HOPPING (the shape a traveller resembles), t3 for an unrelated reason
    assert (tr["suppressed"], tr["mistaken"], tr["flagged"]) == (2, 1, 2)
    assert tr["variants"]["two_weeks"]["mistaken"] == 1
    assert tr["variants"]["day_trip"]["mistaken"] == 0
    assert tr["variants"]["day_trip"]["suppressed"] == 1
    assert ev["overall"]["lookalike_suppressed_rate"] == 0.5
    assert ev["overall"]["max_lookalike_mistaken_rate"] == 0.25
    assert "traveller/day_trip" in render(ev) and "top 1%" in render(ev)


def test_alerts_rank_by_best_score_then_severity_codes_and_id() -> None:
    flags, _, _ = _frames()
    order = ranked_alerts(flags)["account_id"].to_list()
    assert order == ["c0", "m1", "t1", "t3", "m3"]
    tie = pl.DataFrame(
        {"account_id": ["b", "a", "c", "c"], "code": ["X", "X", "X", "Y"],
         "severity": [2, 1, 1, 1], "score": [1.0, 1.0, 1.0, 0.2]}
    )  # fmt: skip
    assert ranked_alerts(tie)["account_id"].to_list() == ["b", "c", "a"]


def test_budgets_count_the_top_share_of_all_accounts() -> None:
    flags, decisions, labels = _frames()  # 197 accounts: 0.5% -> 1, 1% -> 2, 2% -> 4
    ev = evaluate_frames(flags, decisions, labels)["budgets"]
    assert ev["0.5%"] == {"budget": 1, "alerts": 1, "planted": 0, "precision": 0.0,
                          "recall": 0.0}  # fmt: skip
    assert (ev["1%"]["alerts"], ev["1%"]["planted"]) == (2, 1)
    # top 4: c0, m1, t1, t3; one of the three planted accounts
    assert (ev["2%"]["budget"], ev["2%"]["planted"], ev["2%"]["recall"]) == (4, 1, 0.3333)
    # fewer flagged accounts than the budget: the alerts are the flagged ones
    few = alert_budgets(flags.head(1), 1000, pl.Series(["m1"]))["2%"]
    assert (few["budget"], few["alerts"], few["precision"]) == (20, 1, 1.0)
