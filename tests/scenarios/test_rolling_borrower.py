"""Seed case 3: the borrower who rolled short-term loans, went overdue and was cut.

Four 30-day loans on four platforms, each repaid by the next (以贷养贷), the last one left
overdue: the limit is cut. He stops the other platforms, repays the overdue loan and pays
the bank on time: the cut is held while the record is fresh, then the limit comes back step
by step. When a new loan goes overdue after the restore, the limit is cut again, deeper.
"""

from __future__ import annotations

from tests.scenarios._story import Story, day


def roller(tmp_path) -> Story:
    s = Story(tmp_path, "ROLLER-5150", 30_000)
    for w in range(60):
        s.login("DEV-ROLLER-PHONE", day("2025-08-01", 24 * 7 * w), "10.4.0.1", "郑州")
    s.loan("BANK", 3_000, day("2025-08-01"), day("2025-09-01"), day("2025-08-30"))
    rolls = [  # lender, amount, issued, due, repaid by the next loan
        ("QUICK-1", 5_000, "2025-11-01", "2025-12-01", "2025-11-29"),
        ("QUICK-2", 5_200, "2025-11-28", "2025-12-28", "2025-12-27"),
        ("QUICK-3", 5_400, "2025-12-26", "2026-01-25", "2026-01-24"),
    ]
    for lender, amount, issued, due, repaid in rolls:
        s.loan(lender, amount, day(issued), day(due), day(repaid))
    # the fourth is not repaid on time: due 2026-02-22, repaid 2026-04-10 (47 days late)
    s.loan("QUICK-4", 5_500, day("2026-01-23"), day("2026-02-22"), day("2026-04-10"), 47)
    # then only the bank, on time
    s.loan("BANK", 10_000, day("2026-05-01"), day("2026-06-01"), day("2026-05-30"))
    s.loan("BANK", 10_000, day("2026-07-01"), day("2026-08-01"), day("2026-07-30"))
    return s


def test_rolled_overdue_cut_recovered_then_relapse_cuts_deeper(tmp_path):
    s = roller(tmp_path)
    oct_ = s.scan("2025-10-31")
    assert (oct_.action, oct_.limit) == ("keep", 30_000), oct_

    mar = s.scan("2026-03-31")  # rolled four times, the last loan 37 days overdue
    assert (mar.action, mar.limit) == ("reduce", 6_000), mar  # two cut-level codes: 0.8 deep
    assert "reduce_fraction_repeat" in mar.trace["rule"], mar
    assert mar.codes[:2] == ["LOAN_RECYCLING", "OVERDUE_HISTORY"], mar
    assert "以贷养贷" in mar.zh and "逾期37天" in mar.zh, mar
    assert "repaid earlier loans with new loans" in mar.en and "37 days overdue" in mar.en, mar
    assert "按时还清逾期借款" in mar.zh and "停止以新借款偿还旧借款" in mar.zh, mar

    # repaid on 2026-04-10: the overdue record is fresh, the cut is held
    for month in ("2026-04-30", "2026-05-31"):
        st = s.scan(month)
        assert (st.action, st.limit) == ("freeze_increase", 6_000), st
        assert st.trace["situation"] == "hold", st
    assert s.steps[-1].trace["clean_days"] == 51

    steps = [s.scan(m) for m in ("2026-06-30", "2026-07-31", "2026-08-31", "2026-09-30")]
    assert [st.action for st in steps] == ["restore"] * 4, steps
    # a quarter of the pre-cut 30,000 per month, never above it
    assert [st.limit for st in steps] == [13_500, 21_000, 28_500, 30_000], steps
    assert "已由6,000元恢复至13,500元" in steps[0].zh and "以贷养贷" in steps[0].zh, steps[0]
    assert steps[3].trace["situation"] == "restored"
    octo = s.scan("2026-10-31")  # back in full; nothing new: no further step, no cut
    assert (octo.action, octo.limit) in {("keep", 30_000), ("freeze_increase", 30_000)}, octo

    # a new loan from another platform goes overdue: a relapse, cut deeper than the first cut
    s.loan("QUICK-5", 5_000, day("2026-10-10"), day("2026-11-09"))
    nov = s.scan("2026-12-15")
    assert nov.action == "reduce" and nov.trace["situation"] == "relapse", nov
    assert nov.decision["limit_before"] == 30_000
    # one code alone would go reduce_fraction 0.5 deep (15,000): a relapse goes 0.8 deep
    assert nov.limit == 6_000, nov
    assert "reduce_fraction_repeat" in nov.trace["rule"], nov
    assert "再次出现下述情况" in nov.zh and "逾期36天" in nov.zh, nov
    assert "reduced further, from 30,000 to 6,000" in nov.en, nov
