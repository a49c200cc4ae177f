"""Policy TOML: defaults, overrides, validation naming the key, ``policy show``."""

from __future__ import annotations

import tomllib

import pytest

from graphrisk.errors import UsageError
from graphrisk.policy import Policy, default_text, render_toml


def test_default_actions_follow_spec():
    p = Policy.default()
    assert [p.action_for(s) for s in (0, 1, 2, 3)] == [
        "keep",
        "freeze_increase",
        "reduce",
        "suspend",
    ]
    for key in ("relapse_days", "escalate_at_codes"):
        assert key in p.data["repetition"]
    assert set(p.data["restore"]) == {"clean_days", "step_fraction", "min_days_between_steps"}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"actions": {"reduce_fraction": 2}}, "actions.reduce_fraction must be between 0 and 1"),
        ({"actions": {"severity_2": "restore"}}, "actions.severity_2 must be keep"),
        ({"actions": {"reduce_fraction_repeat": 0.1}}, "actions.reduce_fraction_repeat must be >="),
        ({"actions": 3}, "actions must be a table"),
        ({"recency": {"stale_days": 10}}, "recency.stale_days must be >= 60"),
        ({"repetition": {"relapse_days": -1}}, "repetition.relapse_days must be >= 0"),
        ({"restore": {"clean_days": "soon"}}, "restore.clean_days must be a whole number"),
        ({"restore": {"step_fraction": 0}}, "restore.step_fraction must be above 0"),
        ({"review": {"restore": True}}, "review.restore must be a whole number"),
        ({"restor": {}}, "unknown key 'restor'"),
        ({"restore": {"clean": 3}}, "unknown key 'restore.clean'"),
        ({"codes": {"NOT_A_CODE": {"severity": 2}}}, r"unknown reason code \[codes.NOT_A_CODE\]"),
        ({"codes": {"MULTI_LENDER": {"weight": 2}}}, "unknown key codes.MULTI_LENDER.weight"),
        (
            {"codes": {"MULTI_LENDER": {"severity": 4}}},
            "codes.MULTI_LENDER.severity must be between",
        ),
        ({"codes": {"IP_HOPPING": {"severity": 2}}}, "linkage alone never cuts a limit"),
        ({"codes": {"RISK_PROXIMITY": {"severity": 3}}}, "RISK_PROXIMITY cannot be above 1"),
        ({"detectors": {"nope": {}}}, r"unknown detector \[detectors.nope\]"),
        (
            {"detectors": {"multi_lender": {"window": 3}}},
            "unknown parameter detectors.multi_lender.window",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_key(override, message):
    with pytest.raises(UsageError, match=message):
        Policy.from_dict(override)


def test_policy_file_errors(tmp_path):
    with pytest.raises(UsageError, match="policy file not found"):
        Policy.load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[actions\n", encoding="utf-8")
    with pytest.raises(UsageError, match="not valid TOML"):
        Policy.load(bad)
    good = tmp_path / "p.toml"
    good.write_text("[restore]\nclean_days = 90\n[codes.OVERDUE_HISTORY]\nseverity = 3\n")
    p = Policy.load(good)
    assert p.data["restore"]["clean_days"] == 90 and p.code_rule("OVERDUE_HISTORY") == {
        "severity": 3
    }
    assert p.data["restore"]["step_fraction"] == 0.25  # the rest stays default


def test_render_is_commented_valid_toml_that_round_trips():
    text = render_toml()
    assert text.startswith(default_text().splitlines()[0])
    assert text.count("\n#") > 20  # comments explain every section and detector parameter
    assert Policy.from_dict(tomllib.loads(text)).data["actions"] == Policy.default().data["actions"]
    custom = Policy.from_dict({"restore": {"clean_days": 90}, "actions": {"round_to": 1000}})
    shown = tomllib.loads(render_toml(custom))
    assert shown["restore"]["clean_days"] == 90 and shown["actions"]["round_to"] == 1000


def test_policy_show_cli(cli, tmp_path):
    ran = cli("policy", "show")
    assert ran.code == 0 and "[restore]" in ran.out and "# With --ledger" in ran.out
    assert tomllib.loads(ran.out)["actions"]["severity_3"] == "suspend"
    f = tmp_path / "p.toml"
    f.write_text("[codes.IP_HOPPING]\nseverity = 3\n")
    bad = cli("policy", "show", "--policy", f)
    bad.assert_clean_failure(2)
    assert "codes.IP_HOPPING" in bad.err
