"""MULTI_LENDER: distinct lenders in a sliding window, weighted by the lenders' kind."""

from __future__ import annotations

import dataclasses
import json

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors import MultiLender
from graphrisk.testing import tables


def _book(n: int, kind: str, lenders: dict[str, str] | None = None) -> ScanContext:
    loans = [("a", f"L{i}", 1000, f"2026-01-{i + 1:02d}") for i in range(n)]
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
    assert MultiLender().detect(_book(5, "bank")).flags["account_id"].to_list() == ["a"]
    assert MultiLender().detect(_book(4, "bank")).flags.height == 0


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
