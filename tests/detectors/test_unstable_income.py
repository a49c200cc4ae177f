"""UNSTABLE_INCOME on hand-built worlds: as_of 2026-06-30, complete months Feb..Jun."""

import json

from graphrisk.detectors import UnstableIncome
from graphrisk.testing import world

AS_OF = "2026-06-30"
MONTHS = [2, 3, 4, 5, 6]


def pay(acc: str, amounts: list[float], src: str = "X1", day: int = 10) -> list[tuple]:
    return [
        (src, acc, a, f"2026-{m:02d}-{day:02d}")
        for m, a in zip(MONTHS, amounts, strict=False)
        if a > 0
    ]


def flags(**kw):
    return UnstableIncome().detect(world(as_of=AS_OF, **kw)).flags


def test_income_that_stops_after_a_steady_run_reduces():
    f = flags(transfers=pay("a", [8000, 8100, 7900, 0, 0]) + pay("s", [8000] * 5))
    assert f.select("account_id", "severity").rows() == [("a", 2)]
    ev = json.loads(f["evidence"][0])
    assert ev["kind"] == "stop" and ev["stopped_months"] == 2 and ev["usual_income"] == 8000
    assert [m["income"] for m in ev["months"]] == [8000, 8100, 7900, 0, 0]
    assert ev["income_source"] == "observed" and ev["declared_income"] is None


def test_a_fade_to_a_trickle_is_a_stop_and_a_longer_stop_is_found_whole():
    f = flags(transfers=pay("a", [9000, 9000, 9000, 900, 1200]))
    assert json.loads(f["evidence"][0])["kind"] == "stop"
    # three empty months after two paid ones: the steady run is too short (min 3 months)
    assert flags(transfers=pay("b", [9000, 9000, 0, 0, 0])).is_empty()
    f = (
        UnstableIncome(min_history_months=2)
        .detect(world(as_of=AS_OF, transfers=pay("b", [9000, 9000, 0, 0, 0])))
        .flags
    )
    assert json.loads(f["evidence"][0])["stopped_months"] == 3


def test_swings_far_above_own_history_watch():
    f = flags(transfers=pay("a", [8000, 8000, 2000, 15000, 2500]))
    assert f.select("account_id", "severity").rows() == [("a", 1)]
    ev = json.loads(f["evidence"][0])
    assert ev["kind"] == "swing" and ev["recent_min_change"] == 6000 and ev["history_change"] == 0


def test_bonus_on_steady_salary_and_seasonal_earner_stay_clean():
    bonus = pay("b", [8000, 8000, 8000, 26000, 8000])  # one month up, one back
    bonus_last = pay("c", [8000, 8000, 8000, 8000, 30000])
    seasonal = pay("d", [12000, 3000, 12500, 2800, 12000])  # swung as much before
    assert flags(transfers=bonus + bonus_last + seasonal).is_empty()


def test_money_from_own_circle_round_trips_and_small_sums_are_not_income():
    # e's only "income" comes from an account on its own device; it stops
    dev = [("e", "D1", "2026-01-05"), ("f", "D1", "2026-01-06")]
    circle = pay("e", [8000, 8000, 8000, 0, 0], src="f")
    # g pays X7 and gets it back: its own round trip, not income
    trips = [("g", "X7", 8000, f"2026-{m:02d}-05") for m in (2, 3, 4)]
    trips += [("X7", "g", 7900, f"2026-{m:02d}-06") for m in (2, 3, 4)]
    small = pay("h", [900, 1000, 950, 0, 0])  # below min_income
    assert flags(transfers=circle + trips + small, devices=dev).is_empty()
    # the same money from an unlinked sender is income, and its stop is seen
    assert flags(transfers=circle).select("account_id").rows() == [("e",)]


def test_declared_income_is_shown_beside_the_observed_flow():
    acc = [("a", "2020-01-01", 10000, None, None, 9000.0)]
    f = flags(transfers=pay("a", [8000, 8000, 8000, 0, 0]), accounts=acc)
    ev = json.loads(f["evidence"][0])
    assert ev["declared_income"] == 9000 and ev["judged_on"] == "observed"
    assert ev["income"] == 9000 and ev["income_source"] == "declared"


def test_thresholds_move_the_line():
    t = pay("a", [8000, 8000, 5000, 9000, 5000])  # changes of 3,000-4,000
    assert flags(transfers=t).is_empty()
    ctx = world(as_of=AS_OF, transfers=t)
    assert UnstableIncome(min_swing=0.3).detect(ctx).flags.height == 1
    assert UnstableIncome(min_swing=0.3, min_income=9000).detect(ctx).flags.is_empty()
