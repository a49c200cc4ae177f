"""ScanContext: the time rules of SPEC applied once (as_of, lookback, open loans)."""

from __future__ import annotations

import polars as pl

from graphrisk.testing import world

LOANS = [
    # repaid 40 days late, after the early as_of below: open at that as_of
    {
        "account_id": "a",
        "lender_id": "L1",
        "amount": 1000,
        "issued_at": "2026-01-01",
        "due_at": "2026-02-01",
        "repaid_at": "2026-03-13",
        "overdue_days": 40,
    },
    # still open; the lender says 60 days past due so far (an earlier instalment was late)
    {
        "account_id": "b",
        "lender_id": "L2",
        "amount": 1000,
        "issued_at": "2026-01-01",
        "due_at": "2026-02-01",
        "overdue_days": 60,
    },
    {"account_id": "c", "lender_id": "L3", "amount": 1000, "issued_at": "2026-03-23"},
]


def overdue(ctx) -> dict[str, int]:
    return dict(ctx.loans.select("account_id", "overdue_days").iter_rows())


def test_earlier_as_of_does_not_see_later_lateness() -> None:
    ctx = world(loans=LOANS, as_of="2026-02-11")  # 10 days after both due dates
    assert overdue(ctx) == {"a": 10, "b": 10}
    assert ctx.loans.filter(pl.col("account_id") == "a")["repaid_at"].to_list() == [None]


def test_at_snapshot_the_lenders_record_stands() -> None:
    ctx = world(loans=LOANS)  # default as_of: the latest event, 2026-03-23
    assert ctx.as_of == ctx.snapshot
    assert overdue(ctx) == {"a": 40, "b": 60, "c": 0}
