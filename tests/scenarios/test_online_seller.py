"""Seed case 1: the online seller whose 100,000 limit went to 0.

Logins from many cities within two days and small loans on six platforms within a week cut
the limit to 0 (suspend). The behaviour stopped (the loans were repaid on time); the cut was
held, not repeated, and the limit came back step by step to 100,000, then increases opened.
"""

from __future__ import annotations

from graphrisk.ledger import Ledger
from tests.scenarios._story import Story, day

CITIES = ["上海", "北京", "广州", "深圳", "成都", "武汉"]


def seller(tmp_path) -> Story:
    s = Story(tmp_path, "SELLER-7781", 100_000, others={"NEIGHBOUR-1202": 20_000})
    # an ordinary history: one bank loan repaid early, logins at home
    s.loan("BANK", 20_000, day("2025-10-01"), day("2025-12-31"), day("2025-12-20"))
    s.loan(
        "BANK",
        8_000,
        day("2025-11-05"),
        day("2026-02-05"),
        day("2026-01-30"),
        account="NEIGHBOUR-1202",
    )
    for w in range(30):
        s.login("DEV-SELLER-PHONE", day("2025-10-01", 24 * 7 * w), "10.1.0.1", "杭州")
        s.login(
            "DEV-NEIGHBOUR-PAD",
            day("2025-10-02", 24 * 7 * w),
            "10.9.9.9",
            "杭州",
            account="NEIGHBOUR-1202",
        )
    # January: six cities in 36 hours, then six small loans on six platforms in a week
    for i, city in enumerate(CITIES):
        s.login(f"DEV-SELLER-{i % 2}", day("2026-01-10", 6 * i), f"10.2.0.{i + 1}", city)
    for i in range(6):
        s.loan(
            f"PLATFORM-{i + 1}",
            2_000 + 150 * i,
            day("2026-01-12", 20 * i),
            day("2026-02-15"),
            day("2026-02-10"),
        )
    return s


def test_cut_to_zero_then_restored_step_by_step(tmp_path):
    s = seller(tmp_path)

    jan = s.scan("2026-01-31")
    assert jan.action == "suspend", jan
    assert (jan.decision["limit_before"], jan.limit) == (100_000, 0)
    assert not jan.decision["increase_allowed"]
    assert {"SMALL_LOAN_BURST", "MULTI_LENDER", "IP_HOPPING"} <= set(jan.codes), jan
    # the figures that matter to the customer, in both languages
    # (six platforms within five days: the 7-day window fired; six cities in 30 hours: the
    # 2-day window)
    assert "7天内借了6笔小额贷款" in jan.zh and "7天内在6家不同机构借款" in jan.zh, jan
    assert "2天内在6个不同城市登录" in jan.zh, jan
    assert "borrowed from 6 different lenders within 7 days" in jan.en, jan
    assert "signed in from 6 different cities within 2 days" in jan.en, jan
    assert "took 6 small loans within 7 days" in jan.en, jan
    assert "signed in from 6 different cities" in jan.en, jan
    assert "60天" in jan.zh and "逐步恢复" in jan.zh  # what would restore it
    # linkage (IP_HOPPING) is listed but alone never cuts: policy severity 1
    ip = [f for f in jan.analyst["flags"] if f["code"] == "IP_HOPPING"]
    assert ip and ip[0]["policy_severity"] == 1
    assert jan.analyst["policy_rule"]["rule"].startswith("actions.severity_3 = suspend")
    neighbour = s.limits["NEIGHBOUR-1202"]
    assert neighbour == 20_000  # the neighbour's ordinary loan changes nothing

    # the loans were repaid on 2026-02-10: the cut is held, never repeated
    feb = s.scan("2026-02-28")
    assert (feb.action, feb.limit) == ("freeze_increase", 0), feb
    assert feb.trace["situation"] == "hold"
    assert "调整前为100,000元" in feb.zh and "暂不开放提额" in feb.zh, feb
    mar = s.scan("2026-03-31")
    assert (mar.action, mar.limit) == ("freeze_increase", 0), mar

    # clean for 60 days since the last cut-level behaviour: a quarter back per month
    apr = s.scan("2026-04-30")
    assert (apr.action, apr.decision["limit_before"], apr.limit) == ("restore", 0, 25_000), apr
    assert "已由0元恢复至25,000元" in apr.zh and "调整前为100,000元" in apr.zh, apr
    assert "restored from 0 to 25,000 (it was 100,000 before the cut)" in apr.en, apr
    assert not apr.decision["increase_allowed"]

    # re-running the same scan applies no second step and appends nothing
    entries = len(Ledger(s.ledger).files())
    from graphrisk.scan import commit_ledger, scan

    again = scan(apr.run.parent / "data03", as_of=apr.as_of, ledger=s.ledger)
    assert again.run_id == apr.decision["run_id"]
    assert commit_ledger(again) is None
    assert len(Ledger(s.ledger).files()) == entries
    row = again.decisions.filter(again.decisions["account_id"] == s.account).row(0, named=True)
    assert (row["action"], row["limit_after"]) == ("restore", 25_000)

    limits = [s.scan(m).limit for m in ("2026-05-31", "2026-06-30", "2026-07-31")]
    assert limits == [50_000, 75_000, 100_000], s.steps[-3:]
    assert s.steps[-1].trace["situation"] == "restored"
    assert "全部恢复至100,000元" in s.steps[-1].zh, s.steps[-1]

    # back in full, the old behaviour out of the lookback: increases open again
    aug = s.scan("2026-08-31")
    assert (aug.action, aug.limit, aug.codes) == ("keep", 100_000, []), aug
    assert aug.decision["increase_allowed"], aug
    assert "可以申请提额" in aug.zh and "increases are open" in aug.en, aug
