"""LOAN_STACKING: loans from different lenders outstanding at the same time."""

from __future__ import annotations

import json

import polars as pl

from graphrisk.detectors import LoanStacking
from graphrisk.testing import world

AS_OF = "2026-06-30"


def _flags(ctx, **params) -> pl.DataFrame:
    return LoanStacking(**params).detect(ctx).flags


def _stack(acc: str, n: int, repaid: str | None = None, start_day: int = 1) -> list[tuple]:
    """``n`` loans from ``n`` lenders, issued 10 days apart from March ``start_day``."""
    return [
        (acc, f"L{i}", 1000.0 * (i + 1), f"2026-03-{start_day + 7 * i:02d}", None, repaid)
        for i in range(n)
    ]


def test_stack_is_flagged_with_the_loans_at_the_peak() -> None:
    loans = [
        *_stack("a", 4),
        # repaid before the stack builds: never outstanding together with the others
        ("a", "L9", 800.0, "2026-01-01", None, "2026-02-01", 0, "old"),
    ]
    flags = _flags(world(as_of=AS_OF, loans=loans))
    assert flags["account_id"].to_list() == ["a"]
    row = flags.row(0, named=True)
    assert row["code"] == "LOAN_STACKING" and row["severity"] == 2
    ev = json.loads(row["evidence"])
    assert ev["n_outstanding"] == 4 and ev["n_lenders"] == 4
    assert ev["lenders"] == ["L0", "L1", "L2", "L3"]
    assert "old" not in ev["loans"] and len(ev["loans"]) == 4
    assert ev["outstanding_amount"] == 1000 + 2000 + 3000 + 4000
    assert ev["peak_at"] == "2026-03-22T00:00:00"
    assert ev["still_outstanding"] == 4
    # still standing: the window ends at as_of
    assert ev["window"] == {"start": "2026-03-01T00:00:00", "end": "2026-06-30T23:59:59"}
    assert row["window_end"] == row["as_of"]
    assert ev["threshold"]["min_outstanding"] == 4


def test_sequential_loans_do_not_stack() -> None:
    # each loan repaid before the next one: never more than one outstanding
    loans = [
        ("b", f"L{i}", 2000.0, f"2026-0{i + 1}-01", None, f"2026-0{i + 1}-25") for i in range(6)
    ]
    assert _flags(world(as_of=AS_OF, loans=loans)).is_empty()


def test_repayment_at_the_issue_instant_is_not_an_overlap() -> None:
    loans = [
        ("a", "L0", 1000.0, "2026-03-01", None, "2026-03-22"),
        ("a", "L1", 1000.0, "2026-03-08"),
        ("a", "L2", 1000.0, "2026-03-15"),
        ("a", "L3", 1000.0, "2026-03-22"),  # issued the moment L0 is repaid
    ]
    assert _flags(world(as_of=AS_OF, loans=loans)).is_empty()
    loans[0] = ("a", "L0", 1000.0, "2026-03-01", None, "2026-03-22T00:00:01")
    assert _flags(world(as_of=AS_OF, loans=loans))["account_id"].to_list() == ["a"]


def test_same_lender_stack_needs_min_lenders() -> None:
    # four loans outstanding together but from two lenders only
    loans = [("c", f"L{i % 2}", 1000.0, f"2026-03-{1 + 7 * i:02d}") for i in range(4)]
    ctx = world(as_of=AS_OF, loans=loans)
    assert _flags(ctx).is_empty()
    assert _flags(ctx, min_lenders=2)["account_id"].to_list() == ["c"]


def test_threshold_edge_and_override() -> None:
    ctx = world(as_of=AS_OF, loans=_stack("d", 3))
    assert _flags(ctx).is_empty()  # 3 < 4
    flags = _flags(ctx, min_outstanding=3)
    assert flags["account_id"].to_list() == ["d"]
    assert flags["score"][0] == 1.0


def test_dissolved_on_time_stack_is_history() -> None:
    # reformed: a stack in January, all repaid on time by early February, clean since
    loans = [
        ("r", f"L{i}", 2000.0, f"2026-01-{1 + 3 * i:02d}", "2026-02-05", "2026-02-04")
        for i in range(5)
    ]
    flags = _flags(world(as_of=AS_OF, loans=loans))
    assert flags["severity"].to_list() == [1]
    ev = json.loads(flags["evidence"][0])
    assert ev["resolved"] is True and ev["window"]["end"] == "2026-02-04T00:00:00"
    # the same stack dissolved a week before as_of is still current
    recent = world(as_of="2026-02-11", loans=loans)
    assert _flags(recent)["severity"].to_list() == [2]
    assert _flags(recent, resolved_days=5)["severity"].to_list() == [1]


def test_late_loan_keeps_a_dissolved_stack_current() -> None:
    loans = [
        ("r", f"L{i}", 2000.0, f"2026-01-{1 + 3 * i:02d}", "2026-02-05", "2026-02-04", 0)
        for i in range(4)
    ] + [("r", "L9", 2000.0, "2026-01-14", "2026-02-05", "2026-03-20", 43)]
    assert _flags(world(as_of=AS_OF, loans=loans))["severity"].to_list() == [2]


def test_current_stack_beats_a_bigger_old_one() -> None:
    old = [("a", f"M{i}", 500.0, f"2026-01-{1 + 2 * i:02d}", None, "2026-02-01") for i in range(6)]
    flags = _flags(world(as_of=AS_OF, loans=old + _stack("a", 4)))
    assert flags["severity"].to_list() == [2]
    ev = json.loads(flags["evidence"][0])
    assert ev["n_outstanding"] == 4 and ev["resolved"] is False


def test_loans_issued_before_the_lookback_count_from_its_start() -> None:
    loans = [("e", f"L{i}", 1000.0, f"2025-0{i + 1}-01") for i in range(4)]
    flags = _flags(world(as_of=AS_OF, loans=loans))
    ev = json.loads(flags["evidence"][0])
    assert ev["n_outstanding"] == 4
    # the peak is the start of the lookback, the evidence keeps the real issue dates
    assert ev["peak_at"] == "2026-01-01T23:59:59"
    assert ev["window"]["start"] == "2025-01-01T00:00:00"
