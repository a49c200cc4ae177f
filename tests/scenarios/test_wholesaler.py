"""Seed case 4: the wholesaler whose business borrowing restricted the personal limit.

Stock for the spring season financed on five platforms within three weeks, all outstanding
together: borrowing from many lenders and stacked loans cut the personal limit. He repays
the platforms on time and keeps to his bank: the cut is held while the stack stands, then
the limit comes back step by step, never above the limit it had before the cut. Money
moved to his own shop account and to suppliers never shows in the customer text.
"""

from __future__ import annotations

from tests.scenarios._story import Story, day


def test_business_borrowing_restricts_then_restores(tmp_path):
    s = Story(tmp_path, "WHOLESALE-88", 50_000, others={"SHOP-ACCOUNT-2": 0})
    for w in range(50):
        s.login("DEV-WHOLESALER-PC", day("2025-09-01", 24 * 7 * w), "10.5.0.1", "义乌")
        s.login(
            "DEV-SHOP-TILL", day("2025-09-02", 24 * 7 * w), "10.5.0.2", "义乌", "SHOP-ACCOUNT-2"
        )
    s.loan("BANK", 40_000, day("2025-09-05"), day("2025-12-05"), day("2025-12-01"))
    for i in range(5):  # spring stock: five platforms, due in April, repaid on time
        issued = day("2026-02-01", 24 * 4 * i)
        s.loan(
            f"BIZ-LOAN-{i + 1}", 20_000 + 5_000 * i, issued, day("2026-04-15"), day("2026-04-10")
        )
        s.transfer(
            "WHOLESALE-88",
            "SHOP-ACCOUNT-2",
            15_000,
            issued + (day("2026-01-02") - day("2026-01-01")),
        )
        s.transfer("WHOLESALE-88", f"X-FACTORY-{i}", 8_000, day("2026-02-25", i))

    feb = s.scan("2026-02-28")
    assert feb.action == "reduce", feb
    assert set(feb.codes) == {"MULTI_LENDER", "LOAN_STACKING"}, feb
    # two cut-level codes: reduce_fraction_repeat (0.8) deep
    assert (feb.decision["limit_before"], feb.limit) == (50_000, 10_000), feb
    assert "reduce_fraction_repeat" in feb.trace["rule"], feb
    assert "30天内在5家不同机构借款" in feb.zh and "5笔来自不同机构的借款未还清" in feb.zh, feb
    assert "borrowed from 5 different lenders within 30 days" in feb.en, feb
    assert "had 5 loans from different lenders outstanding at the same time" in feb.en, feb
    assert "减少在其他平台的借款" in feb.zh and "borrow from fewer platforms" in feb.en, feb
    # analyst: the full evidence (lenders, loans) and the rule
    ev = {f["code"]: f["evidence"] for f in feb.analyst["flags"]}
    assert ev["MULTI_LENDER"]["lenders"] == [f"BIZ-LOAN-{i}" for i in range(1, 6)]
    assert feb.analyst["policy_rule"]["final_action"] == "reduce"

    # the stack still stands in March: not clean, held, not cut again
    mar = s.scan("2026-03-31")
    assert (mar.action, mar.limit, mar.trace["situation"]) == ("freeze_increase", 10_000, "hold")
    apr = s.scan("2026-04-30")  # repaid on 2026-04-10: 20 days clean
    assert (apr.action, apr.limit, apr.trace["clean_days"]) == ("freeze_increase", 10_000, 20)
    may = s.scan("2026-05-31")
    assert (may.action, may.limit) == ("freeze_increase", 10_000), may

    steps = [s.scan(m) for m in ("2026-06-30", "2026-07-31", "2026-08-31", "2026-09-30")]
    assert [st.limit for st in steps] == [22_500, 35_000, 47_500, 50_000], steps
    assert all(st.action == "restore" for st in steps), steps
    assert "恢复至22,500元（调整前为50,000元）" in steps[0].zh, steps[0]
    assert "多头借款" in steps[0].zh and "borrowing from many lenders" in steps[0].en, steps[0]
