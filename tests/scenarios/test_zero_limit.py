"""Seed case 5: the account that has the entry but no limit (有窗口没额度, credit_limit 0).

A zero limit has nothing to cut, but its decision still has reasons: one account with a
zero limit borrowed on five platforms in a month; its decision says that this keeps it at
zero and what would open it, and from when. Another zero-limit account has a clean record:
its decision says no behaviour keeps it at zero and increases are open. Once the behaviour
has left the lookback, the first account is open too.
"""

from __future__ import annotations

from tests.scenarios._story import Story, day, other


def test_zero_limit_has_reasons_and_a_way_to_open(tmp_path):
    s = Story(tmp_path, "ZERO-MULTI-02", 0, others={"ZERO-CLEAN-01": 0})
    s.loan(
        "BANK",
        3_000,
        day("2025-12-01"),
        day("2026-01-01"),
        day("2025-12-28"),
        account="ZERO-CLEAN-01",
    )
    for i in range(5):
        s.loan(
            f"APP-LENDER-{i}",
            1_000 + 500 * i,
            day("2026-01-05", 24 * 5 * i),
            day("2026-03-01"),
            day("2026-02-20"),
        )
    for w in range(20):
        s.login("DEV-ZERO-2", day("2025-11-01", 24 * 7 * w), "10.6.0.2", "长沙")
        s.login("DEV-ZERO-1", day("2025-11-02", 24 * 7 * w), "10.6.0.1", "长沙", "ZERO-CLEAN-01")

    jan = s.scan("2026-01-31")
    assert (jan.action, jan.decision["limit_before"], jan.limit) == ("freeze_increase", 0, 0), jan
    assert not jan.decision["increase_allowed"]
    assert "MULTI_LENDER" in jan.codes and jan.trace["situation"] == "zero_limit", jan
    assert jan.trace["last_cut_at"] is None  # nothing was cut
    assert "没有可用额度" in jan.zh and "使额度保持为0的是上述情况" in jan.zh, jan
    assert "30天内在5家不同机构借款" in jan.zh and "减少在其他平台的借款" in jan.zh, jan
    assert "重新评估开通额度" in jan.zh, jan
    assert "This is what keeps the limit at 0" in jan.en, jan
    # from when: the lookback (180 days) after the behaviour was last seen
    opens = jan.trace["increase_opens"]
    assert opens.isoformat() > "2026-07-01" and f"considered again from {opens}" in jan.en, jan
    assert f"自{opens}起" in jan.zh, jan
    assert "limit: 0" in jan.en
    clean = other(jan, "ZERO-CLEAN-01")
    assert (clean["action"], clean["limit_after"], clean["reason_codes"]) == ("keep", 0, [])
    assert clean["increase_allowed"] and clean["situation"] == "zero_limit"
    assert "没有发现会使额度保持为0的借款或转账行为" in clean["explanation"], clean
    assert "nothing of that kind stands in the way of a limit" in clean["en"], clean

    # months later the behaviour weighs less (a watch), but still keeps increases closed
    may = s.scan("2026-05-31")
    assert (may.action, may.limit) == ("freeze_increase", 0), may
    assert "使额度保持为0的是上述情况" in may.zh, may
    # once it has left the lookback the account is open like the clean one
    sep = s.scan("2026-09-30")
    assert (sep.action, sep.limit, sep.codes) == ("keep", 0, []), sep
    assert sep.decision["increase_allowed"], sep
    assert "没有发现会使额度保持为0" in sep.zh, sep
