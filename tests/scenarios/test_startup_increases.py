"""Seed case 2: the start-up that kept clean records and was allowed increases.

A bank loan and a second lender's loan repaid on time, payments to outside suppliers, a few
credit applications, logins from one phone in one city: nothing to flag. Every month the
limit is kept with increases open; when the lender raises the limit the next scan keeps the
new limit (the ledger holds no cut that would override it).
"""

from __future__ import annotations

from tests.scenarios._story import Story, day


def test_clean_start_up_is_allowed_increases(tmp_path):
    s = Story(tmp_path, "STARTUP-0301", 50_000)
    for m in range(5):  # a working-capital loan a month, repaid before it is due
        month = f"2025-{7 + m:02d}"
        s.loan("BANK", 30_000, day(f"{month}-03"), day(f"2025-{8 + m:02d}-01"), day(f"{month}-28"))
        s.transfer("STARTUP-0301", f"X-SUPPLIER-{m % 3}", 12_000, day(f"{month}-10"))
    s.loan("CITY-BANK", 20_000, day("2025-09-15"), day("2025-12-15"), day("2025-12-10"))
    for lender in ("BANK", "CITY-BANK", "COOP-BANK"):  # comparing offers is no burst
        s.apply(lender, day("2025-09-01", 5))
    for w in range(26):
        s.login("DEV-FOUNDER-PHONE", day("2025-07-01", 24 * 7 * w), "10.3.0.1", "苏州")

    for month in ("2025-10-31", "2025-11-30"):
        st = s.scan(month)
        assert (st.action, st.limit, st.codes) == ("keep", 50_000, []), st
        assert st.decision["increase_allowed"], st
        assert "可以申请提额" in st.zh and "没有发现异常" in st.zh, st
        assert "increases are open" in st.en, st
        assert st.analyst["policy_rule"]["rule"] == "no flag: keep"

    s.limits["STARTUP-0301"] = 80_000  # the lender raised the limit
    st = s.scan("2025-12-31")
    assert (st.action, st.decision["limit_before"], st.limit) == ("keep", 80_000, 80_000), st
    assert st.decision["increase_allowed"], st
