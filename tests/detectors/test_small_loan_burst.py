"""SMALL_LOAN_BURST: many small loans within a short window."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import polars as pl

from graphrisk.detectors import SmallLoanBurst
from graphrisk.testing import world

AS_OF = "2026-06-30"


def _flags(ctx, **params) -> pl.DataFrame:
    return SmallLoanBurst(**params).detect(ctx).flags


def _burst(acc: str, n: int, amount: float = 800.0, day: int = 1) -> list[tuple]:
    """``n`` loans of ``amount`` from two lenders, twelve hours apart from May ``day``."""
    return [
        (acc, f"L{i % 2}", amount, f"2026-05-{day + i // 2:02d}T{12 * (i % 2):02d}:00")
        for i in range(n)
    ]


def test_burst_is_flagged_with_its_loans() -> None:
    flags = _flags(world(as_of=AS_OF, loans=_burst("a", 7)))
    assert flags["account_id"].to_list() == ["a"]
    row = flags.row(0, named=True)
    assert (row["code"], row["severity"]) == ("SMALL_LOAN_BURST", 2)
    ev = json.loads(row["evidence"])
    assert ev["n_loans"] == 7 and len(ev["loans"]) == 7
    assert ev["lenders"] == ["L0", "L1"]
    assert ev["amount"] == 7 * 800 and ev["largest"] == 800
    assert ev["window"] == {"start": "2026-05-01T00:00:00", "end": "2026-05-04T00:00:00"}
    assert ev["threshold"] == {"min_loans": 5, "max_amount": 3000.0, "window_days": 7}
    assert (ev["window_name"], ev["window_days"]) == ("week", 7)
    # past the week's threshold by 7/5, at the week's tempo against the 30-day window
    assert row["score"] == round(7 / 5 * (30 / 7) ** 0.25, 6)


def test_hours_and_month_windows_have_their_own_thresholds() -> None:
    three = [("h", f"L{i}", 500.0, f"2026-05-01T{9 + 3 * i:02d}:00") for i in range(3)]
    ev = json.loads(_flags(world(as_of=AS_OF, loans=three))["evidence"][0])
    assert (ev["window_name"], ev["n_loans"], ev["threshold"]["min_loans"]) == ("fast", 3, 3)
    assert _flags(world(as_of=AS_OF, loans=three), fast_min_loans=0).is_empty()
    # eight over 28 days (one every four days): only the month window sees them
    month = [("m", "L1", 500.0, f"2026-05-{1 + 4 * i:02d}") for i in range(8)]
    ev = json.loads(_flags(world(as_of=AS_OF, loans=month))["evidence"][0])
    assert (ev["window_name"], ev["window_days"], ev["n_loans"]) == ("slow", 30, 8)
    assert _flags(world(as_of=AS_OF, loans=month[:7])).is_empty()


def test_the_same_loans_score_higher_when_faster() -> None:
    def score(hours: int) -> float:
        base = datetime(2026, 5, 1)
        loans = [
            ("s", "L1", 500.0, (base + timedelta(hours=hours * i)).isoformat()) for i in range(8)
        ]
        return _flags(world(as_of=AS_OF, loans=loans))["score"][0]

    assert score(2) > score(20) > score(90)


def test_regular_monthly_small_borrower_is_clean() -> None:
    loans = [("m", "L1", 1500.0, f"2026-0{i + 1}-10", None, f"2026-0{i + 1}-28") for i in range(6)]
    assert _flags(world(as_of=AS_OF, loans=loans)).is_empty()


def test_large_loans_do_not_count() -> None:
    ctx = world(as_of=AS_OF, loans=_burst("b", 6, amount=3000.01))
    assert _flags(ctx).is_empty()
    assert _flags(ctx, max_amount=5000.0)["account_id"].to_list() == ["b"]


def test_threshold_edge_on_count_and_window() -> None:
    four = world(as_of=AS_OF, loans=_burst("c", 4))
    assert _flags(four).is_empty()
    assert _flags(four, min_loans=4)["account_id"].to_list() == ["c"]
    # five loans spread over exactly 7 days: the first falls out of a 7-day window
    days = ["2026-05-01", "2026-05-02", "2026-05-04", "2026-05-06", "2026-05-08"]
    spread = [("d", "L1", 500.0, d) for d in days]
    ctx = world(as_of=AS_OF, loans=spread)
    assert _flags(ctx).is_empty()
    assert _flags(ctx, window_days=8)["account_id"].to_list() == ["d"]


def test_strongest_window_is_kept() -> None:
    loans = _burst("e", 5, day=1) + _burst("e", 8, day=20)
    flags = _flags(world(as_of=AS_OF, loans=loans))
    assert flags.height == 1
    assert json.loads(flags["evidence"][0])["n_loans"] == 8
