"""HIGH_DEBT_RATIO on hand-built worlds, as_of 2026-06-30."""

import json

from graphrisk.detectors import HighDebtRatio
from graphrisk.testing import world

AS_OF = "2026-06-30"


def acc(name: str, income: float | None) -> tuple:
    return (name, "2020-01-01", 10000, None, None, income)


def detect(**kw):
    return HighDebtRatio().detect(world(as_of=AS_OF, **kw)).flags


def test_debt_of_many_months_of_income_reduces_and_a_moderate_one_watches():
    accounts = [acc("a", 5000.0), acc("b", 5000.0), acc("c", 5000.0)]
    loans = [("a", "L1", 40000, "2026-02-01"), ("a", "L2", 25000, "2026-03-15"),  # 13 months
             ("b", "L1", 25000, "2026-02-01"),  # 5 months
             ("c", "L1", 15000, "2026-02-01")]  # 3 months: below the watch line  # fmt: skip
    f = detect(accounts=accounts, loans=loans)
    assert f.select("account_id", "severity").rows() == [("a", 2), ("b", 1)]
    ev = json.loads(f["evidence"][0])
    assert ev["kind"] == "debt" and ev["debt_outstanding"] == 65000 and ev["debt_months"] == 13
    assert ev["income"] == 5000 and ev["income_source"] == "declared"
    assert ev["n_outstanding_loans"] == 2 and ev["borrowed_recent"] == 0


def test_fresh_borrowing_against_income():
    loans = [("a", "L1", 35000, "2026-06-10")]  # 7 months of income in 30 days
    f = detect(accounts=[acc("a", 5000.0)], loans=loans)
    ev = json.loads(f["evidence"][0])
    assert f["severity"].to_list() == [2] and ev["kind"] == "new" and ev["new_months"] == 7


def test_repaid_loans_high_earner_and_unknown_income_stay_clean():
    accounts = [acc("a", 5000.0), acc("h", 60000.0), acc("u", None)]
    loans = [("a", "L1", 90000, "2026-02-01", None, "2026-04-01"),  # repaid
             ("h", "L1", 150000, "2026-02-01"), ("h", "L2", 60000, "2026-03-01"),  # 3.5 months
             ("u", "L1", 90000, "2026-02-01")]  # no income known: no ratio  # fmt: skip
    assert detect(accounts=accounts, loans=loans).is_empty()


def test_observed_income_when_larger_than_declared():
    pay = [("X1", "a", 20000, f"2026-{m:02d}-10") for m in range(1, 7)]
    loans = [("a", "L1", 90000, "2026-02-01")]
    # declared 5,000 would make 18 months; the 20,000 coming in makes 4.5: a watch
    f = detect(accounts=[acc("a", 5000.0)], loans=loans, transfers=pay)
    ev = json.loads(f["evidence"][0])
    assert f["severity"].to_list() == [1] and ev["income_source"] == "observed"
    assert ev["observed_income"] == 20000 and ev["declared_income"] == 5000


def test_a_cut_on_income_only_seen_in_transfers_is_a_watch():
    pay = [("X1", "a", 5000, f"2026-{m:02d}-10") for m in range(1, 7)]
    loans = [("a", "L1", 90000, "2026-02-01")]  # 18 months of the income seen
    ctx = world(as_of=AS_OF, accounts=[acc("a", None)], loans=loans, transfers=pay)
    f = HighDebtRatio().detect(ctx).flags
    assert f["severity"].to_list() == [1]
    assert json.loads(f["evidence"][0])["income_source"] == "observed"
    assert HighDebtRatio(observed_severity=2).detect(ctx).flags["severity"].to_list() == [2]


def test_thresholds_from_the_policy():
    loans = [("a", "L1", 25000, "2026-02-01")]
    ctx = world(as_of=AS_OF, accounts=[acc("a", 5000.0)], loans=loans)
    assert HighDebtRatio(cut_debt_months=5).detect(ctx).flags["severity"].to_list() == [2]
    assert HighDebtRatio(watch_debt_months=6).detect(ctx).flags.is_empty()
