"""APPLICATION_BURST: many credit applications to many lenders in a short window."""

from __future__ import annotations

import json

import polars as pl

from graphrisk.detectors import ApplicationBurst
from graphrisk.testing import world

AS_OF = "2026-06-30"


def _flags(ctx, **params) -> pl.DataFrame:
    return ApplicationBurst(**params).detect(ctx).flags


def _apps(acc: str, n: int, lenders: int, day: int = 1) -> list[tuple]:
    return [
        (acc, f"L{i % lenders}", f"2026-05-{day + i // 4:02d}T{3 * (i % 4):02d}:00")
        for i in range(n)
    ]


def test_burst_is_a_watch_flag_with_lenders() -> None:
    flags = _flags(world(as_of=AS_OF, applications=_apps("a", 12, 6)))
    assert flags["account_id"].to_list() == ["a"]
    row = flags.row(0, named=True)
    assert (row["code"], row["severity"]) == ("APPLICATION_BURST", 1)
    ev = json.loads(row["evidence"])
    assert ev["n_applications"] == 12 and ev["n_lenders"] == 6
    assert ev["lenders"] == [f"L{i}" for i in range(6)]
    assert ev["window"] == {"start": "2026-05-01T00:00:00", "end": "2026-05-03T09:00:00"}
    assert (ev["window_name"], ev["window_days"]) == ("week", 7)
    assert ev["threshold"] == {"min_applications": 8, "min_lenders": 5, "window_days": 7}
    # 12/8 applications, 6/5 lenders: the smaller, at the week's tempo against 30 days
    assert row["score"] == round(1.2 * (30 / 7) ** 0.25, 6)


def test_a_day_and_a_month_have_their_own_thresholds() -> None:
    day = [("f", f"L{i % 4}", f"2026-05-01T{8 + 2 * i:02d}:00") for i in range(5)]
    ev = json.loads(_flags(world(as_of=AS_OF, applications=day))["evidence"][0])
    assert (ev["window_name"], ev["n_applications"], ev["n_lenders"]) == ("fast", 5, 4)
    assert _flags(world(as_of=AS_OF, applications=day[:4])).is_empty()
    # sixteen applications to eight lenders over 30 days (one every other day): the month
    month = [
        ("m", f"L{i % 8}", f"2026-05-{1 + 2 * (i % 15):02d}T{i // 15:02d}:00") for i in range(16)
    ]
    ev = json.loads(_flags(world(as_of=AS_OF, applications=month))["evidence"][0])
    assert (ev["window_name"], ev["window_days"]) == ("slow", 30)
    assert _flags(world(as_of=AS_OF, applications=month), slow_min_lenders=9).is_empty()


def test_many_applications_to_few_lenders_is_clean() -> None:
    # a borrower retrying the same two lenders
    ctx = world(as_of=AS_OF, applications=_apps("b", 12, 2))
    assert _flags(ctx).is_empty()
    assert _flags(ctx, min_lenders=2)["account_id"].to_list() == ["b"]


def test_spread_out_applications_are_clean() -> None:
    apps = [("c", f"L{i}", f"2026-0{1 + i // 2}-{1 + 14 * (i % 2):02d}") for i in range(10)]
    assert _flags(world(as_of=AS_OF, applications=apps)).is_empty()


def test_threshold_edge_and_override() -> None:
    ctx = world(as_of=AS_OF, applications=_apps("d", 7, 7))
    assert _flags(ctx).is_empty()  # 7 < 8
    assert _flags(ctx, min_applications=7)["account_id"].to_list() == ["d"]
    assert _flags(ctx, min_applications=7, severity=2)["severity"].to_list() == [2]


def test_no_applications_table_no_flags() -> None:
    ctx = world(as_of=AS_OF, loans=[("a", "L1", 100.0, "2026-05-01")])
    assert ctx.applications is None
    assert _flags(ctx).is_empty()
