"""Seed case 4 (资金流水异常, 负债率): the salaried borrower who borrowed far beyond his pay,
and the one whose salary stopped.

The seed's way back is "降低负债率 ... 必要时可提前偿还部分贷款" and "稳定收入来源". The first
borrower owes 14 months of his declared pay: the limit is cut and the text says what he owes
against what he earns. He repays two loans early: what is left (6 months of pay) only
watches, and once no cut-level behaviour was seen for clean_days the limit comes back step
by step. The second one's salary stops after a steady run: cut; paid again, the limit comes
back.
"""

from __future__ import annotations

from tests.scenarios._story import Story, day


def salaried(s: Story, employer: str, amount: float, first: str, months: int) -> None:
    y, m = (int(x) for x in first.split("-"))
    for _ in range(months):
        s.transfer(employer, s.account, amount, day(f"{y}-{m:02d}-05", 10))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def test_debt_far_above_income_cut_then_early_repayment_restores(tmp_path):
    s = Story(tmp_path, "CLERK-2207", 40_000)
    s.incomes[s.account] = 10_000.0
    salaried(s, "X-EMPLOYER", 10_000, "2025-08", 12)
    s.loan("BANK", 3_000, day("2025-09-01"), day("2025-10-01"), day("2025-09-28"))
    dec = s.scan("2025-12-31")
    assert (dec.action, dec.limit) == ("keep", 40_000), dec

    s.loan("CAR-FIN", 60_000, day("2026-01-10"), day("2027-01-10"))
    s.loan("PLATFORM-B", 50_000, day("2026-02-15"), day("2027-02-15"), day("2026-04-20"))
    s.loan("PLATFORM-C", 30_000, day("2026-03-01"), day("2027-03-01"), day("2026-04-20"))
    mar = s.scan("2026-03-31")  # owes 140,000 against 10,000 a month
    assert (mar.action, mar.limit) == ("reduce", 20_000) and mar.codes == ["HIGH_DEBT_RATIO"], mar
    assert "借款余额140,000元，约为月收入10,000元的14倍（按您申报的月收入计）" in mar.zh, mar
    assert "提前偿还部分借款，使借款余额降至月收入的4倍以下" in mar.zh, mar
    assert "owes 140,000 on loans, about 14 times the monthly income of 10,000" in mar.en, mar
    ev = next(f for f in mar.analyst["flags"] if f["code"] == "HIGH_DEBT_RATIO")["evidence"]
    assert ev["income_source"] == "declared" and ev["observed_income"] == 10_000, ev

    # two loans repaid early on 2026-04-20: 60,000 left, 6 months of pay: a watch only
    apr = s.scan("2026-04-30")
    assert (apr.action, apr.limit) == ("freeze_increase", 20_000), apr
    assert apr.trace["situation"] == "hold" and "6.0倍" in apr.zh, apr
    jun = s.scan("2026-06-30")  # 91 days without cut-level behaviour: a step back
    assert jun.action == "restore" and jun.limit == 30_000, jun


def test_salary_that_stops_cuts_and_coming_back_restores(tmp_path):
    s = Story(tmp_path, "WORKER-0318", 30_000)
    salaried(s, "X-FACTORY", 9_000, "2025-06", 10)  # June 2025 .. March 2026, then nothing
    s.login("DEV-WORKER", day("2025-06-01"), "10.3.0.1", "苏州")
    feb = s.scan("2026-02-28")
    assert (feb.action, feb.limit) == ("keep", 30_000), feb
    may = s.scan("2026-05-31")  # April and May brought nothing
    assert (may.action, may.limit) == ("reduce", 15_000), may
    assert may.codes == ["UNSTABLE_INCOME"], may
    assert "账户收入近2个月几乎中断：此前月收入约9,000元，此后几乎没有收入" in may.zh, may
    assert "保持稳定的收入来源（连续3个月收入稳定）" in may.zh, may
    assert "fell away in the last 2 months: about 9,000 a month before" in may.en, may

    salaried(s, "X-NEWJOB", 8_500, "2026-06", 6)  # a new job from June
    jun = s.scan("2026-06-30")
    assert jun.codes == [] and jun.trace["situation"] == "hold", jun
    aug = s.scan("2026-08-31")  # the stop was last seen in May: clean for 90+ days
    assert aug.action == "restore" and aug.limit == 22_500, aug
