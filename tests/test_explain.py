"""Explanations: every code in both languages, the customer's own figures, never an id."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import polars as pl
import pytest

from graphrisk.codes import CODES
from graphrisk.explain import (
    ACTION_TEXT,
    BEHAVIOURS,
    GLUE,
    KIND_REASONS,
    LANGS,
    REASONS,
    REMEDIES,
    _all_figures,
    cash_figures,
    customer_text,
    explain_account,
    figures,
    reason_text,
    remedy_text,
)
from graphrisk.scan import commit_ledger, scan
from graphrisk.testing import tables, write

CJK = re.compile(r"[\u4e00-\u9fff]")
CASH_CODES = ("UNSTABLE_INCOME", "LARGE_OUTFLOW", "HIGH_DEBT_RATIO")


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_has_text_in_both_languages(code):
    for table in (REASONS, REMEDIES, BEHAVIOURS):
        assert set(table[code]) == set(LANGS), (code, table[code])
        assert CJK.search(table[code]["zh"]) and not CJK.search(table[code]["en"])
    for lang in LANGS:
        text = reason_text(code, {}, lang)  # no figures: neutral words, no braces
        assert text and "{" not in text and "}" not in text, text
        for action in ("reduce", "suspend", "freeze_increase"):
            t = customer_text(action, [code], {}, lang, 10_000, 5_000, False, 60, "2026-09-01")
            assert remedy_text(code, {}, lang) in t and "{" not in t


def test_no_stray_codes_and_templates_use_known_figures():
    assert set(REASONS) == set(REMEDIES) == set(BEHAVIOURS) == set(CODES)
    allowed = {
        "days",
        "n_lenders",
        "n_loans",
        "n_applications",
        "n_cities",
        "overdue_days",
        "n_accounts",
        # the length of the window that fired (IP_HOPPING: hours or days)
        "period",
        # the account's own money and links (_money_figures): amounts, dates, sizes
        "kinds",
        "others",
        "amount",
        "sent",
        "amount_sent",
        "loan_amount",
        "scattered",
        "length",
        "start",
        "end",
        "repeats",
        "n_feeders",
        "n_recipients",
        "n_defaulters",
        "n_intermediaries",
    }
    # the cash-flow codes may also use the money figures cash_figures builds from evidence
    full = {
        "income": 5000.0,
        "income_source": "declared",
        "usual_income": 5000.0,
        "latest_share": 0.1,
        "recent_min_change": 3000.0,
        "stopped_months": 2,
        "swing_months": 3,
        "outflow": 30000.0,
        "multiple": 6.0,
        "funded_by": "loans",
        "debt_outstanding": 60000.0,
        "borrowed_recent": 30000.0,
        "debt_months": 12.0,
        "new_months": 6.0,
        "recent_days": 30,
        "window_days": 7,
        "threshold": {"watch_debt_months": 4.0, "swing_months": 3},
    }
    templates = [(c, t) for c, by_lang in REASONS.items() for t in by_lang.values()]
    templates += [(c, t) for (c, _), by_lang in KIND_REASONS.items() for t in by_lang.values()]
    templates += [(c, t) for c, by_lang in REMEDIES.items() for t in by_lang.values()]
    for code, text in templates:
        names = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        extra = set(cash_figures(code, full, "en")) if code in CASH_CODES else set()
        assert names <= allowed | extra, (code, names)
        if code in CASH_CODES:  # every figure of a cash-flow text is filled from evidence
            assert names <= set(_all_figures(code, full, "zh")), (code, names)
    for key, by_lang in ACTION_TEXT.items():
        assert set(by_lang) == set(LANGS), key
    assert set(GLUE["zh"]) == set(GLUE["en"])


def test_cash_flow_texts_show_own_figures_and_the_way_back():
    stop = {
        "kind": "stop",
        "usual_income": 8000.0,
        "latest_share": 0.0,
        "stopped_months": 2,
        "income": 8000.0,
        "income_source": "observed",
        "threshold": {"swing_months": 3},
    }
    zh = customer_text("reduce", ["UNSTABLE_INCOME"], {"UNSTABLE_INCOME": stop}, "zh",
                       10_000, 5_000, False, 60, "2026-09-01")  # fmt: skip
    assert "8,000元" in zh and "几乎没有收入" in zh and "连续3个月收入稳定" in zh
    stop["latest_share"] = 0.1
    en = reason_text("UNSTABLE_INCOME", stop, "en")
    assert "about 8,000 a month before, only about 800 a month since" in en
    debt = {
        "kind": "debt",
        "debt_outstanding": 60000.0,
        "income": 5000.0,
        "debt_months": 12.0,
        "income_source": "declared",
        "threshold": {"watch_debt_months": 4.0},
    }
    en = customer_text("reduce", ["HIGH_DEBT_RATIO"], {"HIGH_DEBT_RATIO": debt}, "en",
                       10_000, 5_000, False, 60, "2026-09-01")  # fmt: skip
    assert "owes 60,000 on loans, about 12 times the monthly income of 5,000" in en
    assert "(the income you declared)" in en and "falls below 4 months of income" in en
    out = {
        "outflow": 36000.0,
        "income": 6000.0,
        "multiple": 6.0,
        "funded_by": "loans",
        "income_source": "observed",
        "window_days": 7,
    }
    zh = reason_text("LARGE_OUTFLOW", out, "zh")
    assert zh.startswith("7天内转出36,000元") and "6.0倍" in zh and "新借款" in zh


def test_figures_read_the_detectors_evidence_keys():
    assert figures("OVERDUE_HISTORY", {"max_days_overdue": 47, "n_loans": 1}) == {
        "n_loans": 1,
        "overdue_days": 47,
    }
    assert figures("LOAN_STACKING", {"n_outstanding": 5, "n_lenders": 4})["n_loans"] == 5
    ev = {"cities": ["a", "b"], "n_cities": 6, "threshold": {"window_hours": 48}}
    assert figures("IP_HOPPING", ev) == {"days": 2, "n_cities": 6}
    # the text names the window that fired, in hours below two days
    fast = {"n_cities": 4, "window_hours": 12, "threshold": {"window_hours": 12}}
    assert reason_text("IP_HOPPING", fast, "zh") == "12小时内在4个不同城市登录"
    week = {"n_cities": 7, "window_hours": 168, "threshold": {"window_hours": 168}}
    assert (
        reason_text("IP_HOPPING", week, "en") == "signed in from 7 different cities within 7 days"
    )
    ev = {"window": {"start": "2026-01-01T00:00:00", "end": "2026-01-04T06:00:00"}, "loans": [1, 2]}
    assert figures("SMALL_LOAN_BURST", ev) == {"days": 4, "n_loans": 2}
    # ids in the evidence never become figures
    assert figures("SHARED_DEVICE_RING", {"devices": ["D1"], "accounts": ["A2"]}) == {}


def test_real_detector_evidence_fills_the_customer_figures(tmp_path):
    """The figures come from the detectors' actual evidence, not only from hand-made dicts."""
    loans = [("a", f"P{i}", 1500, f"2026-01-{i + 2:02d}") for i in range(6)]
    loans += [("b", "BANK", 4000, "2025-12-01", "2025-12-31", None)]
    loans += [("e", f"Q{i}", 9000, f"2026-01-{7 * i + 1:02d}") for i in range(5)]
    devices = [
        ("c", "DV-C", f"2026-01-10T{2 * i:02d}:00:00", f"10.0.0.{i}", f"City{i}") for i in range(6)
    ]
    data = write(tables(loans=loans, devices=devices), tmp_path / "data")
    result = scan(data, as_of="2026-02-05")
    result.write(tmp_path / "run")
    d = {r["account_id"]: r for r in result.decisions.iter_rows(named=True)}
    # each account's own figures and the window that fired: six lenders in six days are
    # the 7-day window's, five lenders one a week the 30-day window's
    assert "7天内在6家不同机构借款" in d["a"]["explanation"]
    assert "30天内在5家不同机构借款" in d["e"]["explanation"], d["e"]
    assert "7天内借了6笔小额贷款" in d["a"]["explanation"]
    assert "逾期36天" in d["b"]["explanation"], d["b"]
    assert "6个不同城市登录" in d["c"]["explanation"] and d["c"]["action"] == "freeze_increase"
    en = explain_account(tmp_path / "run", "b", lang="en")["text"]
    assert "a recent loan was 36 days overdue" in en and not CJK.search(en)
    for acc in "abc":
        assert "多" not in reason_text(d[acc]["reason_codes"][0], _evidence(result, acc), "zh")


def _evidence(result, acc: str) -> str:
    return result.flags.filter(pl.col("account_id") == acc)["evidence"][0]


def test_explain_cli_customer_analyst_json(cli, tmp_path):
    loans = [("a", f"P{i}", 2000, f"2026-01-{3 * i + 1:02d}") for i in range(6)]
    data = write(tables(loans=loans), tmp_path / "data")
    run = tmp_path / "run"
    assert cli("scan", data, "--out", run, "--ledger", tmp_path / "L").code == 0
    dec = pl.read_parquet(run / "decisions.parquet").row(0, named=True)

    zh = cli("explain", "a", "--run", run)
    assert zh.code == 0 and zh.out.strip() == dec["explanation"]
    en = cli("explain", "a", "--run", run, "--lang", "en", "--json").json()
    assert (
        en["action"] == dec["action"] and en["lang"] == "en" and "6 different lenders" in en["text"]
    )
    assert "flags" not in en  # the customer view has no evidence

    an = cli("explain", "a", "--run", run, "--audience", "analyst", "--json").json()
    ml = next(f for f in an["flags"] if f["code"] == "MULTI_LENDER")
    assert ml["evidence"]["lenders"] == [f"P{i}" for i in range(6)]  # the full evidence
    assert an["policy_rule"]["rule"].startswith("actions.severity_")
    assert an["ledger_state"]["reference_limit"] == 10_000
    text = cli("explain", "a", "--run", run, "--audience", "analyst", "--lang", "en").out
    assert "policy: actions.severity_" in text and "evidence: {" in text and "P3" in text

    cli("explain", "nobody", "--run", run).assert_clean_failure(2)
    cli("explain", "a", "--run", tmp_path).assert_clean_failure(2)


# ---------------------------------------------------------------------------------------
# no customer text ever names an account, a device or an IP of the data


def _leaks(texts: list[str], secrets: set[str]) -> list[tuple[str, str]]:
    """(secret, text) for each text that contains an id of ``secrets`` or any IP address."""
    found = []
    for text in set(texts):
        tokens = set(re.findall(r"[A-Za-z0-9_.:\-]+", text))
        for s in tokens & secrets:
            found.append((s, text))
        for ip in re.findall(r"\d{1,3}(?:\.\d{1,3}){3}", text):
            found.append((ip, text))
        if any(len(s) > 3 and s in text for s in secrets & tokens):
            found.append(("substring", text))
    return found


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    from graphrisk.generate import generate_world

    out = tmp_path_factory.mktemp("privacy") / "data"
    generate_world(out, accounts=4000, seed=7)
    return out


def test_no_customer_text_names_an_account_device_or_ip(generated, tmp_path):
    acc = pl.read_parquet(generated / "accounts.parquet")
    dev = pl.read_parquet(generated / "devices.parquet")
    tr = pl.read_parquet(generated / "transfers.parquet")
    secrets = set(acc["account_id"]) | set(dev["device_id"]) | set(dev["ip"].drop_nulls())
    secrets |= set(tr["src_account"]) | set(tr["dst_account"])
    secrets |= set(acc["customer_id"].drop_nulls())
    assert _leaks(["额度由A0001调整"], secrets) and _leaks(["login 10.1.2.3"], set())  # can fail

    texts = []
    ledger = tmp_path / "L"
    for lang, as_of in (("zh", None), ("en", None)):
        r = scan(generated, as_of=as_of, lang=lang, ledger=ledger)
        r.write(tmp_path / f"run-{lang}")
        commit_ledger(r)
        flagged = r.decisions.filter(pl.col("reason_codes").list.len() > 0)
        assert flagged.height > 100 and flagged["action"].n_unique() >= 3
        texts += r.decisions["explanation"].to_list()
        if lang == "en":
            assert not any(CJK.search(t) for t in r.decisions["explanation"])
    # a later scan with the ledger: hold and restore texts too
    later = scan(generated, as_of="2026-09-30", ledger=ledger, lang="en")
    assert {"freeze_increase"} <= set(later.decisions["action"])
    texts += later.decisions["explanation"].to_list()
    run = tmp_path / "run-zh"
    for a in flagged["account_id"].head(30):
        doc = explain_account(run, a, lang="en")
        texts.append(doc["text"])
    assert not _leaks(texts, secrets)
    # the analyst view does show the evidence (ids included): it is not customer text
    a = flagged.filter(pl.col("reason_codes").list.contains("SHARED_DEVICE_RING"))["account_id"]
    if a.len():
        doc = explain_account(run, a[0], audience="analyst")
        assert json.dumps(doc["flags"]).count('"D') > 0


def test_every_reason_text_carries_own_figures_and_no_one_elses_ids():
    """On a real scan, each code's customer text is filled from its evidence (no neutral
    word stands in for a missing figure) and names no account, device, address or lender."""
    import json
    import re
    from pathlib import Path

    import polars as pl

    import graphrisk

    sample = Path(__file__).resolve().parents[1] / "datasets" / "sample"
    r = graphrisk.scan(sample)
    seen = set()
    for code, ev in r.flags.select("code", "evidence").unique("code", keep="first").iter_rows():
        seen.add(code)
        for lang in ("zh", "en"):
            text = reason_text(code, ev, lang)
            assert "多" not in text.replace("多头", "") if lang == "zh" else True, (code, text)
            assert "several" not in text and "many" not in text, (code, text)
            # ids: accounts A0001, lenders L01, devices, addresses, transfers, loans
            assert not re.search(r"\b(A\d{4}|L\d{2}|D\d+|T\d+|LN\d+|\d+\.\d+\.\d+\.\d+)\b", text), (
                code,
                text,
            )
        if code == "MULTI_LENDER":
            kinds = json.loads(ev)["kinds"]
            assert any(k["kind"] != "unknown" for k in kinds)
            assert "（其中" in reason_text(code, ev, "zh")
    assert len(seen) >= 15  # the sample plants every code
    assert set(r.flags["code"].unique()) == seen
    assert pl.Series(sorted(seen)).len() == len(seen)


def test_a_kinds_phrase_is_said_once():
    kinds = [{"kind": "bank", "n_lenders": 3}, {"kind": "microloan", "n_lenders": 3}]
    ev = {
        "MULTI_LENDER": {"n_lenders": 6, "kinds": kinds, "threshold": {"window_days": 30}},
        "LOAN_STACKING": {"n_outstanding": 6, "kinds": kinds},
    }
    codes = ["MULTI_LENDER", "LOAN_STACKING"]
    t = customer_text("reduce", codes, ev, "en", 9000, 4500, False, 60, "2026-08-28")
    assert t.count("(3 banks, 3 microloan companies)") == 1
    assert "borrowed from 6 different lenders within 30 days (3 banks" in t
