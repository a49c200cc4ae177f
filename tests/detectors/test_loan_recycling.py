"""LOAN_RECYCLING (以贷养贷): new loans repay old ones, directly or through a linked account."""

from __future__ import annotations

import json

import polars as pl

from graphrisk.detectors import LoanRecycling
from graphrisk.testing import world

AS_OF = "2026-06-30"


def _run(ctx, **params):
    return LoanRecycling(**params).detect(ctx)


def _flags(ctx, **params) -> pl.DataFrame:
    return _run(ctx, **params).flags


def _chain(acc: str, amounts: list[float], gap_days: int = 1) -> list[tuple]:
    """Loans from lenders L0, L1, ... each repaid ``gap_days`` after the next is issued."""
    rows = []
    for i, amount in enumerate(amounts):
        issued = f"2026-0{i + 1}-10"
        repaid = f"2026-0{i + 2}-{10 + gap_days:02d}" if i + 1 < len(amounts) else None
        rows.append((acc, f"L{i}", amount, issued, None, repaid, 0, f"{acc}{i}"))
    return rows


# -- direct -----------------------------------------------------------------------------------
def test_direct_chain_is_flagged_with_steps() -> None:
    flags = _flags(world(as_of=AS_OF, loans=_chain("a", [5000, 5200, 5100, 5000])))
    assert flags["account_id"].to_list() == ["a"]
    row = flags.row(0, named=True)
    assert (row["code"], row["severity"], row["group_id"]) == ("LOAN_RECYCLING", 3, None)
    ev = json.loads(row["evidence"])
    assert ev["linked"] is None
    direct = ev["direct"]
    assert direct["repeats"] == 3
    assert direct["lenders"] == ["L0", "L1", "L2", "L3"]
    first = direct["steps"][0]
    assert (first["old_loan"], first["new_loan"]) == ("a0", "a1")
    assert (first["old_amount"], first["new_amount"]) == (5000.0, 5200.0)
    assert first["gap_days"] == 1.0
    assert ev["window"] == {"start": "2026-02-10T00:00:00", "end": "2026-04-11T00:00:00"}
    assert ev["threshold"]["min_repeats"] == 2
    assert row["score"] == 1.5


def test_refinance_once_is_ordinary() -> None:
    ctx = world(as_of=AS_OF, loans=_chain("b", [8000, 8100]))
    assert _flags(ctx).is_empty()
    assert _flags(ctx, min_repeats=1)["account_id"].to_list() == ["b"]


def test_regular_borrower_with_one_lender_is_clean() -> None:
    # a new loan from the same lender each month, issued the day before the old one is repaid
    loans = [(*row[:1], "L1", *row[2:]) for row in _chain("m", [3000] * 6)]
    ctx = world(as_of=AS_OF, loans=loans)
    assert _flags(ctx).is_empty()
    # the same timing across lenders is recycling
    assert _flags(world(as_of=AS_OF, loans=_chain("m", [3000] * 6))).height == 1


def test_gap_and_amount_edges() -> None:
    # new loans exactly max_gap_days before the repayment are in, a day more is out
    assert _flags(world(as_of=AS_OF, loans=_chain("c", [5000] * 3, gap_days=3))).height == 1
    four = world(as_of=AS_OF, loans=_chain("c", [5000] * 3, gap_days=4))
    assert _flags(four).is_empty()
    assert _flags(four, max_gap_days=4.0).height == 1
    # 15% more is within the tolerance, 16% is not
    assert _flags(world(as_of=AS_OF, loans=_chain("d", [5000, 5750, 6612.5]))).height == 1
    far = world(as_of=AS_OF, loans=_chain("d", [5000, 5800, 6728]))
    assert _flags(far).is_empty()
    assert _flags(far, amount_tolerance=0.2).height == 1


def test_loans_of_one_burst_do_not_refinance_each_other() -> None:
    # loans a few days apart, each old one repaid a day after the next is issued
    loans = [
        ("e", f"L{i}", 500.0, f"2026-05-{1 + 3 * i:02d}", None, f"2026-05-{5 + 3 * i:02d}")
        for i in range(5)
    ]
    ctx = world(as_of=AS_OF, loans=loans)
    assert _flags(ctx).is_empty()
    assert _flags(ctx, min_age_days=2.0)["account_id"].to_list() == ["e"]


# -- through a linked account ----------------------------------------------------------------
def _linked(times: int, device: bool = True, share: float = 0.95, repaid: str = "02T12:00"):
    """X borrows and passes ``share`` of it to Y, who repays a loan of the same size."""
    loans, transfers = [], []
    for k in range(times):
        m = k + 2  # months February, March, ...
        loans.append(("x", "LX", 6000.0, f"2026-0{m}-01", None, f"2026-0{m + 2}-01", 0, f"x{k}"))
        loans.append(("y", "LY", 6000.0, f"2026-0{m - 1}-05", f"2026-0{m}-02",
                      f"2026-0{m}-{repaid}", 0, f"y{k}"))  # fmt: skip
        transfers += [
            ("x", "y", 6000.0 * share * 0.6, f"2026-0{m}-01T10:00", f"t{k}a"),
            ("x", "y", 6000.0 * share * 0.4, f"2026-0{m}-01T12:00", f"t{k}b"),
        ]
    devices = [("x", "dx", "2026-01-02"), ("y", "dy", "2026-01-02")]
    if device:
        devices.append(("x", "dy", "2026-01-03"))
    return world(as_of=AS_OF, loans=loans, transfers=transfers, devices=devices)


def test_linked_recycling_flags_both_with_a_group() -> None:
    found = _run(_linked(2))
    flags = found.flags
    assert flags.select("account_id", "severity").rows() == [("x", 3), ("y", 3)]
    assert flags["group_id"].n_unique() == 1 and flags["group_id"][0].startswith("recycling_chain-")
    groups = found.groups
    assert groups.select("account_id", "kind", "role").rows() == [
        ("x", "recycling_chain", "borrower"),
        ("y", "recycling_chain", "repayer"),
    ]
    assert groups["group_id"].to_list() == [flags["group_id"][0]] * 2
    ev = json.loads(flags.filter(pl.col("account_id") == "x")["evidence"][0])
    linked = ev["linked"]
    assert linked["repeats"] == 2 and linked["roles"] == ["borrower"]
    assert linked["linked_accounts"] == ["y"]
    step = linked["steps"][0]
    assert step["loan"] == "x0" and step["repaid_loan"] == "y0"
    assert step["transfers"] == ["t0a", "t0b"]
    assert step["transferred"] == 5700.0 and step["shared_device"] is True
    assert step["transfer_gap_days"] == round(10 / 24, 2)
    assert step["repay_gap_days"] == 1.0
    assert ev["window"] == {"start": "2026-02-01T00:00:00", "end": "2026-03-02T12:00:00"}


def test_one_tight_linked_recycle_is_only_watched() -> None:
    ctx = _linked(1)
    assert _flags(ctx).select("account_id", "severity").rows() == [("x", 1), ("y", 1)]
    assert _flags(ctx, min_repeats_linked=1)["severity"].to_list() == [3, 3]


def test_unlinked_accounts_once_are_clean() -> None:
    # no common device and no earlier transfer between them: one step proves nothing
    ctx = _linked(1, device=False)
    assert _flags(ctx).is_empty()
    assert _flags(ctx, min_repeats_linked=1).is_empty()


def test_linked_share_and_repay_edges() -> None:
    # 60% of the loan passed on is below min_share
    low = _linked(2, share=0.6)
    assert _flags(low).is_empty()
    assert _flags(low, min_share=0.5)["account_id"].to_list() == ["x", "y"]
    # Y repays four days after the money: too late for repay_days=3
    slow = _linked(2, repaid="05T13:00")
    assert _flags(slow).is_empty()
    assert _flags(slow, repay_days=5.0)["account_id"].to_list() == ["x", "y"]
