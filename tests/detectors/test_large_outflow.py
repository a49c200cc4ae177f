"""LARGE_OUTFLOW on hand-built worlds: a salary of 6,000 a month, as_of 2026-06-30."""

import json

from graphrisk.detectors import LargeOutflow
from graphrisk.testing import world

AS_OF = "2026-06-30"


def salary(acc: str, amount: float = 6000) -> list[tuple]:
    return [("X1", acc, amount, f"2026-{m:02d}-10") for m in range(1, 7)]


def detect(**kw):
    return LargeOutflow().detect(world(as_of=AS_OF, **kw)).flags


def test_outflow_paid_with_fresh_loans_reduces():
    tr = salary("a") + [("a", "X9", 12000, f"2026-06-2{d}") for d in range(0, 3)]
    f = detect(
        transfers=tr, loans=[("a", "L1", 20000, "2026-06-17"), ("a", "L2", 15000, "2026-06-19")]
    )
    assert f.select("account_id", "severity").rows() == [("a", 2)]
    ev = json.loads(f["evidence"][0])
    assert ev["outflow"] == 36000 and ev["n_transfers"] == 3 and ev["multiple"] == 6.0
    assert ev["funded_by"] == "loans" and ev["loan_money"] == 35000 and len(ev["loans"]) == 2
    assert ev["income"] == 6000 and ev["income_source"] == "observed"


def test_saved_up_purchase_is_only_a_watch():
    tr = [*salary("b"), ("b", "X9", 28000, "2026-06-20")]
    f = detect(transfers=tr)
    assert f.select("account_id", "severity").rows() == [("b", 1)]
    ev = json.loads(f["evidence"][0])
    assert ev["funded_by"] == "savings" and ev["saved_before"] == 36000 and ev["loan_share"] == 0


def test_own_accounts_no_income_and_small_outflows_stay_clean():
    dev = [("c", "D1", "2026-01-05"), ("c2", "D1", "2026-01-06")]
    own = [*salary("c"), ("c", "c2", 30000, "2026-06-20")]  # to its own linked account
    same_customer = [*salary("e"), ("e", "e2", 30000, "2026-06-20")]
    acc = [(x, "2020-01-01", 10000, "P1" if x in ("e", "e2") else None, None, None)
           for x in ("c", "c2", "d", "e", "e2", "g")]  # fmt: skip
    no_income = [("d", "X9", 30000, "2026-06-20")]  # nothing to compare with
    small = [*salary("g"), ("g", "X9", 9000, "2026-06-20")]  # 1.5 months of income
    loans = [("d", "L1", 30000, "2026-06-19")]
    f = detect(transfers=own + same_customer + no_income + small, devices=dev, accounts=acc,
               loans=loans)  # fmt: skip
    assert f.is_empty()


def test_declared_income_counts_and_the_larger_income_is_used():
    acc = [("h", "2020-01-01", 10000, None, None, 4000.0),
           ("k", "2020-01-01", 10000, None, None, 20000.0)]  # fmt: skip
    tr = [("h", "X9", 15000, "2026-06-20"), ("k", "X9", 15000, "2026-06-20"), *salary("k")]
    f = detect(transfers=tr, accounts=acc)
    assert f["account_id"].to_list() == ["h"]
    ev = json.loads(f["evidence"][0])
    assert ev["income_source"] == "declared" and ev["declared_income"] == 4000
    assert ev["observed_income"] is None and ev["funded_by"] == "other"


def test_window_and_multiple_edges():
    tr = [*salary("a"), ("a", "X9", 10000, "2026-06-01"), ("a", "X9", 10000, "2026-06-12")]
    assert detect(transfers=tr).is_empty()  # 11 days apart: never 18,000 in one week
    ctx = world(as_of=AS_OF, transfers=tr)
    assert LargeOutflow(window_days=14).detect(ctx).flags.height == 1
    assert LargeOutflow(window_days=14, min_multiple=4).detect(ctx).flags.is_empty()
