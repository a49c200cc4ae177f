import json

from graphrisk.detectors import FanOutAfterLoan
from graphrisk.testing import world

HISTORY = [("h1", "h2", 50, "2025-11-01")]
LOAN = [("a", "L1", 10000, "2026-03-01T10:00", None, None, 0, "LN1")]


def _run(transfers, loans=LOAN, **params):
    return FanOutAfterLoan(**params).detect(world(loans=loans, transfers=HISTORY + transfers))


def _scatter(n, amount, day="2026-03-02"):
    return [("a", f"r{i}", amount, f"{day}T{10 + i:02d}:00") for i in range(n)]


def test_loan_scattered_to_new_accounts_is_flagged():
    flags = _run(_scatter(5, 1300)).flags
    assert flags.select("account_id", "code", "severity").rows() == [("a", "FAN_OUT_AFTER_LOAN", 2)]
    ev = json.loads(flags["evidence"][0])
    assert ev["loan_id"] == "LN1" and ev["n_recipients"] == 5
    assert ev["recipients"] == ["r0", "r1", "r2", "r3", "r4"]
    assert ev["amount_sent"] == 6500 and ev["share"] == 0.65
    assert ev["window"]["start"] == "2026-03-01T10:00:00"
    assert ev["threshold"] == {"window_days": 3.0, "min_recipients": 5, "min_share": 0.6}


def test_thresholds_edges():
    assert _run(_scatter(4, 2000)).flags.is_empty()  # four recipients
    assert _run(_scatter(5, 1100)).flags.is_empty()  # 55% of the loan
    assert _run(_scatter(5, 1200)).flags.height == 1  # exactly 60%
    late = _scatter(5, 1300, day="2026-03-04")  # after the 3-day window
    assert _run(late).flags.is_empty()
    assert _run(late, window_days=4.0).flags.height == 1
    assert _run(_scatter(4, 2000), min_recipients=4).flags.height == 1


def test_payroll_employer_after_business_loan_stays_clean():
    months = ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    pay = [("a", f"e{i}", 3000, f"{m}-02T10:00") for m in months for i in range(12)]
    assert _run(pay).flags.is_empty()
    # the same transfers to first-time recipients would be a fan-out
    assert _run([p for p in pay if p[3].startswith("2026-03")]).flags.height == 1


def test_short_history_needs_recipients_not_paid_again():
    # payroll whose earlier months fell before the data: paid again next month -> clean
    loan = [("a", "L1", 10000, "2025-11-02T09:00")]
    pay = [("a", f"e{i}", 3000, f"{m}-02T10:00") for m in ("2025-11", "2025-12") for i in range(6)]
    assert FanOutAfterLoan().detect(world(loans=loan, transfers=pay)).flags.is_empty()
    once = [p for p in pay if p[3].startswith("2025-11")]
    assert FanOutAfterLoan().detect(world(loans=loan, transfers=once)).flags.height == 1
