"""ScanContext: the time rules of SPEC applied once (as_of, lookback, open loans)."""

from __future__ import annotations

import polars as pl

from graphrisk.testing import tables, world

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


def test_keep_window_only_drops_the_events_outside_and_cuts_the_same_rows() -> None:
    from graphrisk.context import ScanContext

    t = tables(
        loans=[("a", "L1", 500, "2026-01-05"), ("b", "L2", 700, "2026-03-02")],
        transfers=[
            ("a", "b", 10, "2026-01-01"),  # before the window
            ("a", "b", 20, "2026-03-01"),
            ("b", "a", 30, "2026-03-10"),
            ("b", "a", 40, "2026-06-01"),  # after as_of: the data's latest event
        ],
        devices=[
            ("a", "D1", "2026-01-02", "1.1.1.1"),
            ("a", "D1", "2026-03-03", "1.1.1.1"),
            ("b", "D1", "2026-03-04", "1.1.1.2"),
            ("b", "D2", "2026-05-30", "1.1.1.2"),
        ],
        applications=[("a", "L1", "2026-01-04"), ("b", "L2", "2026-03-01")],
    )
    ctx = ScanContext.build(t, as_of="2026-03-15", lookback_days=30)
    cuts = {n: getattr(ctx, n).clone() for n in ("loans", "transfers", "devices", "applications")}
    kinds = ctx.lender_kinds()
    ctx.keep_window_only()
    # the window's rows only, of the two event tables; the caller's tables untouched
    assert ctx.tables.transfers["amount"].sort().to_list() == [20.0, 30.0]
    assert ctx.tables.devices.height == 2
    assert (t.transfers.height, t.devices.height) == (4, 4)
    assert ctx.tables.loans.height == 2 and ctx.tables.applications.height == 2
    # the snapshot is read from the whole tables (June's transfer, after as_of), also when
    # nothing had asked for it before
    fresh = ScanContext.build(t, as_of="2026-03-15", lookback_days=30)
    fresh.keep_window_only()
    assert str(fresh.snapshot) == str(ctx.snapshot) == "2026-06-01 00:00:00"
    ctx.release()
    for name, before in cuts.items():
        assert getattr(ctx, name).equals(before), name
    assert ctx.lender_kinds().equals(kinds)
