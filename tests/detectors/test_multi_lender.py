"""MULTI_LENDER: distinct lenders in a sliding window, weighted by the lenders' kind."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors import MultiLender
from graphrisk.testing import tables


def _book(
    n: int, kind: str, lenders: dict[str, str] | None = None, every_days: int = 1
) -> ScanContext:
    day = datetime(2026, 1, 1)
    loans = [
        ("a", f"L{i}", 1000, (day + timedelta(days=i * every_days)).isoformat()) for i in range(n)
    ]
    loans += [("b", "L1", 1000, "2026-01-01"), ("b", "L2", 900, "2026-01-03")]
    t = tables(loans=loans)
    kinds = lenders or {f"L{i}": kind for i in range(n)}
    t = dataclasses.replace(
        t,
        lenders=pl.DataFrame(
            {"lender_id": list(kinds), "kind": list(kinds.values()), "name": [None] * len(kinds)},
            schema={"lender_id": pl.String, "kind": pl.String, "name": pl.String},
        ),
    )
    return ScanContext.build(t)


def test_five_lenders_in_a_month_flag_four_do_not() -> None:
    # one a week: five within 29 days reach the month window, four within 22 days nothing
    assert MultiLender().detect(_book(5, "bank", every_days=7)).flags["account_id"].to_list() == [
        "a"
    ]
    assert MultiLender().detect(_book(4, "bank", every_days=7)).flags.height == 0


def _evidence(ctx: ScanContext, **params) -> dict:
    (ev,) = MultiLender(**params).detect(ctx).flags["evidence"].to_list()
    return json.loads(ev)


def test_each_window_has_its_own_threshold_and_names_itself() -> None:
    fast = _evidence(_book(4, "bank", every_days=1))  # four lenders in four days
    assert (fast["window_name"], fast["window_days"], fast["n_lenders"]) == ("fast", 7, 4)
    assert fast["threshold"] == {"min_lenders": 4, "window_days": 7}
    slow = _evidence(_book(7, "bank", every_days=12))  # seven over 72 days
    assert (slow["window_name"], slow["window_days"], slow["n_lenders"]) == ("slow", 90, 7)
    long = _evidence(_book(9, "bank", every_days=20))  # nine over 160 days
    assert (long["window_name"], long["window_days"]) == ("long", 180)
    assert MultiLender().detect(_book(8, "bank", every_days=20)).flags.is_empty()
    # a window at 0 is off; its length and threshold come from the policy
    assert MultiLender(fast_min_lenders=0).detect(_book(4, "bank")).flags.is_empty()
    assert _evidence(_book(7, "bank", every_days=12), slow_days=100)["window_days"] == 100


def test_faster_behaviour_scores_higher() -> None:
    scores = [
        MultiLender().detect(_book(9, "bank", every_days=d)).flags["score"][0]
        for d in (0, 3, 10, 20)  # nine lenders in one day, 24, 80 and 160 days
    ]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 4
    # at the slowest window's threshold the score is 1
    assert scores[-1] == 1.0


def test_evidence_counts_the_lenders_by_kind() -> None:
    kinds = {"L0": "microloan", "L1": "microloan", "L2": "bank", "L3": "p2p"}
    ctx = _book(5, "", kinds)  # L4 is not in the lenders table
    ev = json.loads(MultiLender().detect(ctx).flags["evidence"][0])
    assert ev["kinds"] == [
        {"kind": "microloan", "n_lenders": 2},
        {"kind": "bank", "n_lenders": 1},
        {"kind": "p2p", "n_lenders": 1},
        {"kind": "unknown", "n_lenders": 1},
    ]
    assert (ev["n_lenders"], ev["weighted_lenders"]) == (5, 5.0)


def test_the_policy_weighs_kinds() -> None:
    # four microloan companies count as five when a microloan weighs 1.25
    heavy = MultiLender(weight_microloan=1.25)
    found = heavy.detect(_book(4, "microloan")).flags
    assert found["account_id"].to_list() == ["a"]
    assert json.loads(found["evidence"][0])["weighted_lenders"] == 5.0
    # six banks weighing 0.5 each are three: no flag
    assert MultiLender(weight_bank=0.5).detect(_book(6, "bank")).flags.height == 0
    assert MultiLender().detect(_book(6, "bank")).flags.height == 1
