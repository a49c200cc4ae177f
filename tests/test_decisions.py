"""decide / decide_with_trace: severity, linkage, recency, repetition, zero limits, restore."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import polars as pl
import pytest

from graphrisk.decisions import (
    DECISION_SCHEMA,
    FLAG_COLUMNS,
    PRIOR_SCHEMA,
    TRACE_SCHEMA,
    decide_with_trace,
)
from graphrisk.policy import Policy

AS_OF = datetime(2026, 6, 30)
EV = {
    "MULTI_LENDER": {"n_lenders": 6, "threshold": {"window_days": 30}},
    "OVERDUE_HISTORY": {"max_days_overdue": 40},
}


def flag(acc: str, code: str, sev: int, ended_days_ago: float = 5, lasted: float = 10) -> dict:
    end = AS_OF - timedelta(days=ended_days_ago)
    return {
        "account_id": acc,
        "code": code,
        "severity": sev,
        "score": 1.0,
        "evidence": json.dumps(EV.get(code, {})),
        "window_start": end - timedelta(days=lasted),
        "window_end": end,
    }


def decide(flags, limits=None, prior=None, policy=None, as_of=AS_OF):
    limits = limits or {a: 10_000.0 for a in sorted({f["account_id"] for f in flags} | {"z"})}
    acc = pl.DataFrame({"account_id": list(limits), "credit_limit": list(limits.values())})
    fl = pl.DataFrame(flags, schema=FLAG_COLUMNS) if flags else pl.DataFrame(schema=FLAG_COLUMNS)
    pr = None if prior is None else pl.DataFrame(prior, schema=PRIOR_SCHEMA)
    d, t = decide_with_trace(acc, fl, policy or Policy.default(), as_of, "run", pr)
    return {r["account_id"]: r for r in d.join(t, on="account_id").iter_rows(named=True)}, d, t


def test_one_decision_per_account_with_the_spec_schema():
    out, d, t = decide([flag("a", "MULTI_LENDER", 2), flag("a", "MULTI_LENDER", 1)])
    assert d.schema == pl.Schema(DECISION_SCHEMA) and t.schema == pl.Schema(TRACE_SCHEMA)
    assert d["account_id"].to_list() == ["a", "z"]
    assert out["z"]["action"] == "keep" and out["z"]["increase_allowed"]


@pytest.mark.parametrize(
    ("sev", "action", "after"),
    [(3, "suspend", 0), (2, "reduce", 5_000), (1, "freeze_increase", 10_000)],
)
def test_severity_to_action(sev, action, after):
    out, _, _ = decide([flag("a", "OVERDUE_HISTORY", sev)])
    a = out["a"]
    assert (a["action"], a["limit_before"], a["limit_after"]) == (action, 10_000, after)
    assert not a["increase_allowed"] and a["reason_codes"] == ["OVERDUE_HISTORY"]
    assert a["rule"].startswith(f"actions.severity_{sev} = {action}")


def test_linkage_alone_never_cuts():
    flags = [
        flag("a", "IP_HOPPING", 3),
        flag("a", "RISK_PROXIMITY", 3),
        flag("a", "RISK_PROXIMITY", 2),
    ]
    out, _, _ = decide(flags)
    assert (out["a"]["action"], out["a"]["limit_after"]) == ("freeze_increase", 10_000)
    # not even three linkage codes escalate
    assert out["a"]["severity"] == 1


def test_repetition_depth_and_escalation():
    two = [flag("a", "MULTI_LENDER", 2), flag("a", "LOAN_STACKING", 2)]
    out, _, _ = decide(two)
    assert (out["a"]["action"], out["a"]["limit_after"]) == ("reduce", 2_000)  # 0.8 deep
    out, _, _ = decide([*two, flag("a", "SMALL_LOAN_BURST", 2)])
    assert out["a"]["action"] == "suspend"  # three cut-level codes: severity 3


def test_recency_weighs_old_flags_less():
    out, _, _ = decide([flag("a", "MULTI_LENDER", 2, ended_days_ago=90)])
    assert out["a"]["action"] == "freeze_increase"
    out, _, _ = decide([flag("a", "MULTI_LENDER", 3, ended_days_ago=90)])
    assert out["a"]["action"] == "reduce"
    out, _, _ = decide([flag("a", "MULTI_LENDER", 3, ended_days_ago=150)])
    assert out["a"]["action"] == "freeze_increase"


def test_code_rules_disable_and_override():
    p = Policy.from_dict(
        {"codes": {"MULTI_LENDER": {"enabled": False}, "OVERDUE_HISTORY": {"severity": 3}}}
    )
    out, _, _ = decide([flag("a", "MULTI_LENDER", 3), flag("b", "OVERDUE_HISTORY", 2)], policy=p)
    assert (out["a"]["action"], out["a"]["reason_codes"]) == ("keep", [])
    assert out["b"]["action"] == "suspend"


def test_zero_limit_has_reasons_but_nothing_to_cut():
    out, _, _ = decide([flag("a", "MULTI_LENDER", 3)], limits={"a": 0.0, "z": 0.0})
    a, z = out["a"], out["z"]
    assert (a["action"], a["limit_after"], a["situation"]) == ("freeze_increase", 0, "zero_limit")
    assert a["reason_codes"] == ["MULTI_LENDER"] and not a["increase_allowed"]
    assert a["last_cut_at"] is None
    assert "6家不同机构" in a["explanation"] and "使额度保持为0" in a["explanation"]
    assert (z["action"], z["increase_allowed"], z["situation"]) == ("keep", True, "zero_limit")


def _cut(days_ago: int, current: float = 2_500.0, step_days_ago: int | None = None, sev: int = 2):
    at = AS_OF - timedelta(days=days_ago)
    step = AS_OF - timedelta(days=step_days_ago if step_days_ago is not None else days_ago)
    return [
        {
            "account_id": "a",
            "reference_limit": 10_000.0,
            "current_limit": current,
            "last_cut_at": at,
            "cut_severity": sev,
            "cut_reasons": ["MULTI_LENDER"],
            "last_step_at": step,
            "last_bad_at": at - timedelta(days=3),
        }
    ]


def test_behaviour_already_cut_is_held_not_cut_again():
    # the flag that caused the cut 20 days ago is still recent: hold, never a second cut
    old = flag("a", "MULTI_LENDER", 2, ended_days_ago=23)
    out, _, _ = decide([old], prior=_cut(20))
    a = out["a"]
    assert (a["action"], a["limit_before"], a["limit_after"]) == ("freeze_increase", 2_500, 2_500)
    assert a["situation"] == "hold" and not a["increase_allowed"]
    assert "调整前为10,000元" in a["explanation"]


def test_relapse_cuts_again_deeper():
    new = flag("a", "OVERDUE_HISTORY", 2, ended_days_ago=2, lasted=5)  # started after the cut
    out, _, _ = decide([new], prior=_cut(40))
    a = out["a"]
    assert (a["action"], a["situation"]) == ("reduce", "relapse")
    assert (a["limit_before"], a["limit_after"]) == (2_500, 500)  # 0.8 deep, not 0.5
    assert a["reference_limit"] == 10_000  # still measured against the pre-cut limit
    # after a full restore, a relapse also cuts 0.8 deep
    restored = _cut(200, current=10_000.0, step_days_ago=20)
    restored[0]["reference_limit"] = None
    out, _, _ = decide([new], prior=restored)
    assert (out["a"]["action"], out["a"]["limit_after"]) == ("reduce", 2_000)


def test_worse_behaviour_than_the_cut_escalates():
    worse = flag("a", "OVERDUE_HISTORY", 3, ended_days_ago=0, lasted=60)  # started before
    out, _, _ = decide([worse], prior=_cut(30, sev=2))
    assert (out["a"]["action"], out["a"]["limit_after"]) == ("suspend", 0)


def test_restore_only_when_clean_since_the_cut():
    # cut 100 days ago; cut-level behaviour (started before the cut) went on until 70 days
    # ago. Recency has weighed it down to a watch, but it is only 70 days clean: with
    # clean_days = 90 there is no restore yet.
    p = Policy.from_dict({"restore": {"clean_days": 90}})
    lingering = flag("a", "MULTI_LENDER", 2, ended_days_ago=70, lasted=40)
    out, _, _ = decide([lingering], prior=_cut(100), policy=p)
    assert (out["a"]["action"], out["a"]["clean_days"]) == ("freeze_increase", 70)
    out, _, _ = decide([lingering], prior=_cut(100), policy=p, as_of=AS_OF + timedelta(days=20))
    assert (out["a"]["action"], out["a"]["limit_after"]) == ("restore", 5_000)


def test_restore_steps_are_paced_and_capped():
    out, _, _ = decide([], prior=_cut(90, step_days_ago=10), limits={"a": 2_500.0})
    assert out["a"]["action"] == "freeze_increase"  # min_days_between_steps = 30
    out, _, _ = decide([], prior=_cut(90, step_days_ago=30), limits={"a": 2_500.0})
    a = out["a"]
    assert (a["action"], a["limit_after"], a["situation"]) == ("restore", 5_000, "restore")
    assert "恢复至5,000元" in a["explanation"] and "多头借款" in a["explanation"]
    out, _, _ = decide([], prior=_cut(90, current=9_000.0, step_days_ago=30), limits={"a": 9e3})
    a = out["a"]
    assert (a["limit_after"], a["situation"], a["reference_limit"]) == (10_000, "restored", None)


def test_no_ledger_no_memory():
    out, _, _ = decide([flag("a", "MULTI_LENDER", 2, ended_days_ago=23)])
    assert out["a"]["action"] == "reduce" and out["a"]["limit_before"] == 10_000


# ---------------------------------------------------------------------------------- caps

CAPS = Policy.load(
    __import__("pathlib").Path(__file__).parents[1] / "policies" / "income_caps.toml"
)


def _capped(flags, limits, incomes, policy=CAPS, prior=None, lang="en"):
    acc = pl.DataFrame(
        {"account_id": list(limits), "credit_limit": list(limits.values()),
         "monthly_income": [incomes.get(a) for a in limits]},
        schema={"account_id": pl.String, "credit_limit": pl.Float64, "monthly_income": pl.Float64},
    )  # fmt: skip
    fl = pl.DataFrame(flags, schema=FLAG_COLUMNS) if flags else pl.DataFrame(schema=FLAG_COLUMNS)
    pr = None if prior is None else pl.DataFrame(prior, schema=PRIOR_SCHEMA)
    d, t = decide_with_trace(acc, fl, policy, AS_OF, "run", pr, lang)
    return {r["account_id"]: r for r in d.join(t, on="account_id").iter_rows(named=True)}


def test_caps_are_off_by_default():
    assert Policy.default().data["caps"]["enabled"] is False
    out = _capped([], {"a": 50_000.0}, {"a": 1000.0}, policy=Policy.default())
    assert out["a"]["action"] == "keep" and out["a"]["limit_after"] == 50_000
    assert out["a"]["cap"] is None


def test_income_cap_brings_the_limit_down_and_says_the_limit_follows_income():
    limits = {"a": 50_000.0, "b": 10_000.0, "c": 400_000.0, "u": 50_000.0}
    out = _capped([], limits, {"a": 5000.0, "b": 5000.0})
    a = out["a"]  # 1/3 of 60,000 a year, rounded down to 100
    assert a["action"] == "reduce" and a["limit_after"] == 19_900 and a["situation"] == "cap"
    assert a["cap_kind"] == "income" and "caps.income_share = 0.3333" in a["rule"]
    assert not a["increase_allowed"] and "follows your income" in a["explanation"]
    assert "60,000" in a["explanation"] and "19,900" in a["explanation"]
    assert a["cap_income"] == 5000
    assert out["b"]["action"] == "keep" and out["b"]["limit_after"] == 10_000  # under the cap
    c = out["c"]  # no income declared: only the absolute cap
    assert c["limit_after"] == 300_000 and c["cap_kind"] == "absolute"
    assert "caps.absolute = 300000.0" in c["rule"]
    assert out["u"]["action"] == "keep" and out["u"]["cap"] is None
    zh = _capped([], {"a": 50_000.0}, {"a": 5000.0}, lang="zh")["a"]["explanation"]
    assert "随收入确定" in zh


def test_a_cap_is_not_a_behaviour_cut_and_clamps_a_reduction():
    out = _capped([flag("a", "MULTI_LENDER", 2)], {"a": 50_000.0, "b": 50_000.0}, {"a": 3000.0})
    a = out["a"]  # reduce to 25,000 by behaviour, then the cap: 0.3333 x 36,000 rounded down
    assert a["action"] == "reduce" and a["limit_after"] == 11_900 and a["situation"] == ""
    assert a["last_cut_at"] == AS_OF and a["reference_limit"] == 50_000
    b = _capped([], {"b": 50_000.0}, {"b": 3000.0})["b"]
    assert b["action"] == "reduce" and b["last_cut_at"] is None and b["reference_limit"] is None
    with pytest.raises(Exception, match=r"caps\.income_share"):
        Policy.from_dict({"caps": {"income_share": -1}})


def test_a_restore_step_stops_at_the_cap_and_never_lowers_the_limit_as_a_restore():
    cut_at = AS_OF - timedelta(days=100)
    prior = [
        {
            "account_id": "a",
            "reference_limit": 40_000.0,
            "current_limit": 20_000.0,
            "last_cut_at": cut_at,
            "cut_severity": 2,
            "cut_reasons": ["MULTI_LENDER"],
            "last_step_at": cut_at,
            "last_bad_at": cut_at - timedelta(days=5),
        }
    ]
    limits = {"a": 20_000.0, "b": 20_000.0}
    # a's restore step (20,000 -> 30,000) stops at the cap of 24,000 (1/3 of 72,000)
    a = _capped([], limits, {"a": 6000.0}, prior=prior)["a"]
    assert a["action"] == "restore" and a["limit_after"] == 23_900 and a["cap_kind"] == "income"
    # with a cap below the held limit the step becomes a reduction by the cap alone
    prior[0]["account_id"] = "b"
    b = _capped([], limits, {"b": 3000.0}, prior=prior)["b"]
    assert b["action"] == "reduce" and b["situation"] == "cap" and b["limit_after"] == 11_900
    assert b["last_cut_at"] == cut_at  # not a new behaviour cut
    # held at the cap already: the step gives nothing back, the limit stays
    c = _capped([], {"b": 11_900.0}, {"b": 3000.0}, prior=[{**prior[0], "current_limit": 11_900.0}])
    assert c["b"]["action"] == "freeze_increase" and c["b"]["limit_after"] == 11_900
