"""OVERDUE_HISTORY: the account's own overdue record inside the lookback."""

from __future__ import annotations

import json

import polars as pl

from graphrisk.detectors import OverdueHistory
from graphrisk.testing import world

AS_OF = "2026-06-30"


def _flags(ctx, **params) -> pl.DataFrame:
    return OverdueHistory(**params).detect(ctx).flags


def test_late_repaid_loan_is_severity_2_with_evidence() -> None:
    loans = [
        ("a", "L1", 5000.0, "2026-02-01", "2026-03-01", "2026-04-15", 45, "late"),
        ("a", "L2", 900.0, "2026-03-01", "2026-04-01", "2026-04-10", 9, "short"),
    ]
    flags = _flags(world(as_of=AS_OF, loans=loans))
    row = flags.row(0, named=True)
    assert (row["account_id"], row["code"], row["severity"]) == ("a", "OVERDUE_HISTORY", 2)
    ev = json.loads(row["evidence"])
    assert ev["loans"] == [
        {"loan_id": "late", "lender_id": "L1", "amount": 5000.0, "days_overdue": 45,
         "outstanding": False}
    ]  # fmt: skip
    assert ev["max_days_overdue"] == 45 and ev["default"] is False
    assert ev["window"] == {"start": "2026-03-01T00:00:00", "end": "2026-04-15T00:00:00"}
    assert row["score"] == 1.5


def test_outstanding_default_is_severity_3_measured_at_as_of() -> None:
    loans = [("b", "L3", 3000.0, "2026-01-10", "2026-02-10")]  # unpaid since
    ctx = world(as_of=AS_OF, loans=loans)
    flags = _flags(ctx)
    assert flags["severity"].to_list() == [3]
    ev = json.loads(flags["evidence"][0])
    assert ev["default"] is True and ev["still_outstanding"] is True
    assert ev["loans"][0]["days_overdue"] == 140
    assert flags["window_end"][0] == flags["as_of"][0]
    # as of an earlier date the same loan was only 40 days late: severity 2
    earlier = _flags(world(as_of="2026-03-22", loans=loans))
    assert earlier["severity"].to_list() == [2]


def test_short_delays_are_ordinary() -> None:
    loans = [
        ("c", "L1", 2000.0, "2026-02-01", "2026-03-01", "2026-03-21", 20),
        ("c", "L2", 2000.0, "2026-04-01", "2026-05-01", "2026-05-30", 29),
    ]
    ctx = world(as_of=AS_OF, loans=loans)
    assert _flags(ctx).is_empty()
    assert _flags(ctx, min_overdue_days=20)["account_id"].to_list() == ["c"]


def test_threshold_edges() -> None:
    loans = [
        ("d", "L1", 2000.0, "2026-02-01", "2026-03-01", "2026-03-31", 30),
        ("e", "L1", 2000.0, "2026-01-01", "2026-02-01", "2026-05-02", 90),
        ("f", "L1", 2000.0, "2026-01-01", "2026-02-01", "2026-05-01", 89),
    ]
    flags = _flags(world(as_of=AS_OF, loans=loans))
    assert flags.select("account_id", "severity").rows() == [("d", 2), ("e", 3), ("f", 2)]
    high = _flags(world(as_of=AS_OF, loans=loans), default_days=120)
    assert high["severity"].to_list() == [2, 2, 2]


def test_overdue_repaid_before_the_lookback_is_not_read() -> None:
    loans = [("g", "L1", 2000.0, "2025-01-01", "2025-02-01", "2025-05-01", 89)]
    assert _flags(world(as_of=AS_OF, loans=loans)).is_empty()
    assert _flags(world(as_of=AS_OF, lookback_days=600, loans=loans)).height == 1
