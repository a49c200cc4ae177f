"""Seed case 6: increases closed (提额关闭) while the limit stayed.

Nine credit applications at six lenders in five days is a watch-level behaviour: the limit
stays, increases close, and the text says from when they open again. A traveller signing
in from six cities in two days (linkage alone, IP_HOPPING) is only watched too: linkage
never cuts a limit, even repeated month after month. Neither ever builds a cut in the
ledger; once the behaviour has left the lookback, increases open again.
"""

from __future__ import annotations

from tests.scenarios._story import Story, day, other

CITIES = ["上海", "北京", "广州", "深圳", "成都", "西安"]


def test_increases_closed_limit_kept(tmp_path):
    s = Story(tmp_path, "FREEZE-4411", 40_000, others={"TRAVELLER-77": 25_000})
    s.loan("BANK", 10_000, day("2025-11-01"), day("2025-12-01"), day("2025-11-28"))
    for i in range(9):
        s.apply(f"SHOP-LENDER-{i % 6}", day("2026-01-10", 13 * i))
    for w in range(12):
        s.login("DEV-FREEZE", day("2025-11-01", 24 * 7 * w), "10.7.0.1", "南京")
    for m, month in enumerate(("2026-01", "2026-02", "2026-03")):
        for i, city in enumerate(CITIES):
            s.login("DEV-TRAVEL", day(f"{month}-12", 7 * i), f"10.8.{m}.{i}", city, "TRAVELLER-77")

    jan = s.scan("2026-01-31")
    assert (jan.action, jan.decision["limit_before"], jan.limit) == (
        "freeze_increase",
        40_000,
        40_000,
    )
    assert jan.codes == ["APPLICATION_BURST"] and not jan.decision["increase_allowed"], jan
    assert "您的额度保持40,000元不变，但暂不开放提额" in jan.zh, jan
    assert "7天内向6家机构提交了9次借款申请" in jan.zh, jan
    assert "applied for credit 9 times at 6 lenders within 7 days" in jan.en, jan
    assert "increases will open again from 2026-07-" in jan.en, jan
    assert jan.analyst["policy_rule"]["rule"] == "actions.severity_1 = freeze_increase"

    for month in ("2026-02-28", "2026-03-31"):
        st = s.scan(month)
        assert (st.action, st.limit) == ("freeze_increase", 40_000), st
        t = other(st, "TRAVELLER-77")
        assert (t["action"], t["limit_after"]) == ("freeze_increase", 25_000), t
        assert t["reason_codes"] == ["IP_HOPPING"] and "6个不同城市登录" in t["explanation"]
        assert st.trace["last_cut_at"] is None

    aug = s.scan("2026-08-31")
    assert (aug.action, aug.limit, aug.codes) == ("keep", 40_000, []), aug
    assert aug.decision["increase_allowed"], aug
