"""Old, settled behaviour stops counting (recency.settled_keep) on hand-built books.

Every case scans a small book twice: the day its findings' age reaches
``recency.stale_days`` (still a watch) and the day after (settled: ``keep``, increases open),
taking the findings' end from the scan's own flags rather than from a date written here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

import graphrisk
from graphrisk.decisions import FLAG_COLUMNS, LOAN_COLUMNS, PRIOR_SCHEMA, decide_with_trace
from graphrisk.policy import Policy
from graphrisk.testing import tables

START = datetime(2026, 1, 5)
STALE = Policy.default().data["recency"]["stale_days"]


def burst(late_days: int = 0, open_loan: int | None = None) -> list[tuple]:
    """Six loans from six lenders in six days (MULTI_LENDER and more), repaid before due;
    loan ``open_loan`` never repaid, every loan ``late_days`` late when given."""
    rows = []
    for i in range(6):
        issued = START + timedelta(days=i)
        due = issued + timedelta(days=30)
        repaid = due - timedelta(days=5) + timedelta(days=late_days)
        rows.append(
            ("a", f"L{i}", 1000, issued, due, None if i == open_loan else repaid, late_days)
        )
    return rows


ACCOUNTS = [("a", "2020-01-01", 10_000.0), ("z", "2020-01-01", 10_000.0)]


def run(loans, as_of, policy=None, lang="en"):
    r = graphrisk.scan(
        tables(loans=loans, accounts=ACCOUNTS), as_of=as_of, policy=policy, lang=lang
    )
    d = r.decisions.join(r.trace.select("account_id", "situation", "rule"), on="account_id")
    return {row["account_id"]: row for row in d.iter_rows(named=True)}, r.flags


def last_end(loans) -> datetime:
    """The end of the findings' windows in a scan once every loan of the behaviour is over."""
    _, flags = run(loans, START + timedelta(days=100))
    assert flags.filter(pl.col("account_id") == "a").height, "the burst must be found"
    return flags.filter(pl.col("account_id") == "a")["window_end"].max()


def test_settled_at_the_boundary_both_ways():
    loans = burst()
    end = last_end(loans)
    at, _ = run(loans, end + timedelta(days=STALE))
    after, flags = run(loans, end + timedelta(days=STALE + 1))
    assert flags.filter(pl.col("account_id") == "a").height  # the findings are still there
    a = at["a"]
    assert (a["action"], a["increase_allowed"]) == ("freeze_increase", False)
    a = after["a"]
    assert (a["action"], a["increase_allowed"], a["situation"]) == ("keep", True, "settled")
    assert a["limit_after"] == a["limit_before"] == 10_000
    assert a["reason_codes"]  # the old findings still show, for the analyst
    assert f"ended {STALE + 1} days ago" in a["explanation"]
    assert "repaid on time" in a["explanation"]
    assert "recency.settled_keep" in a["rule"] and f"stale_days = {STALE}" in a["rule"]


def test_customer_text_in_chinese_says_why():
    loans = burst()
    out, _ = run(loans, last_end(loans) + timedelta(days=STALE + 1), lang="zh")
    text = out["a"]["explanation"]
    assert "可以申请提额" in text and f"{STALE + 1}天前结束" in text and "按时还清" in text


@pytest.mark.parametrize(
    ("loans", "why"),
    [
        (burst(late_days=10), "loans of the burst repaid late"),
        (burst(open_loan=2), "a loan of the burst never repaid"),
    ],
)
def test_not_settled_when_the_loans_are_not(loans, why):
    out, flags = run(loans, last_end(loans) + timedelta(days=STALE + 5))
    assert flags.filter(pl.col("account_id") == "a").height, why
    assert out["a"]["action"] != "keep", why
    assert not out["a"]["increase_allowed"], why
    assert out["a"]["situation"] != "settled", why


def test_a_late_loan_since_the_behaviour_keeps_the_watch():
    loans = burst()
    end = last_end(loans)
    later = end + timedelta(days=40)
    late = ("a", "L9", 800, later, later + timedelta(days=30), later + timedelta(days=45), 15)
    out, _ = run([*loans, late], end + timedelta(days=STALE + 1))
    assert out["a"]["action"] == "freeze_increase"


def test_a_current_loan_taken_since_does_not_unsettle():
    loans = burst()
    end = last_end(loans)
    as_of = end + timedelta(days=STALE + 1)
    fresh = ("a", "L9", 800, as_of - timedelta(days=3), as_of + timedelta(days=27), None, 0)
    out, flags = run([*loans, fresh], as_of)
    assert flags.filter(pl.col("account_id") == "a").height
    assert (out["a"]["action"], out["a"]["situation"]) == ("keep", "settled")


def test_an_old_overdue_repaid_then_on_time_is_settled():
    due = START + timedelta(days=30)
    overdue = ("a", "L1", 1000, START, due, due + timedelta(days=40), 40)
    on_time = [
        (
            "a",
            "L2",
            500,
            due + timedelta(days=60),
            due + timedelta(days=90),
            due + timedelta(days=85),
            0,
        )
    ]
    end = last_end([overdue])
    out, flags = run([overdue, *on_time], end + timedelta(days=STALE + 1))
    assert "OVERDUE_HISTORY" in flags.filter(pl.col("account_id") == "a")["code"].to_list()
    assert (out["a"]["action"], out["a"]["situation"]) == ("keep", "settled")
    at, _ = run([overdue, *on_time], end + timedelta(days=STALE))
    assert at["a"]["action"] == "freeze_increase"


def test_the_policy_can_keep_the_watch():
    loans = burst()
    p = Policy.from_dict({"recency": {"settled_keep": False}})
    out, _ = run(loans, last_end(loans) + timedelta(days=STALE + 1), policy=p)
    assert (out["a"]["action"], out["a"]["increase_allowed"]) == ("freeze_increase", False)


def test_stale_days_from_the_policy_moves_the_boundary():
    loans = burst()
    end = last_end(loans)
    p = Policy.from_dict({"recency": {"stale_days": STALE + 20}})
    out, _ = run(loans, end + timedelta(days=STALE + 1), policy=p)
    assert out["a"]["action"] == "freeze_increase"
    out, _ = run(loans, end + timedelta(days=STALE + 21), policy=p)
    assert out["a"]["action"] == "keep"


def test_a_held_cut_is_not_given_back_at_once():
    # a cut that is still held is given back by the [restore] steps, not all at once
    as_of = datetime(2026, 9, 1)
    end = as_of - timedelta(days=STALE + 30)
    fl = pl.DataFrame(
        [
            {
                "account_id": "a",
                "code": "MULTI_LENDER",
                "severity": 2,
                "score": 1.0,
                "evidence": "{}",
                "window_start": end - timedelta(days=5),
                "window_end": end,
            }
        ],
        schema=FLAG_COLUMNS,
    )
    prior = pl.DataFrame(
        [
            {
                "account_id": "a",
                "reference_limit": 10_000.0,
                "current_limit": 5_000.0,
                "last_cut_at": end + timedelta(days=1),
                "cut_severity": 2,
                "cut_reasons": ["MULTI_LENDER"],
                "last_step_at": as_of - timedelta(days=5),
                "last_bad_at": end,
            }
        ],
        schema=PRIOR_SCHEMA,
    )
    acc = pl.DataFrame({"account_id": ["a"], "credit_limit": [5_000.0]})
    loans = pl.DataFrame(schema=LOAN_COLUMNS)
    d, t = decide_with_trace(acc, fl, Policy.default(), as_of, "r", prior, "en", loans=loans)
    assert d["action"].to_list() == ["freeze_increase"] and t["situation"].to_list() == ["hold"]
    assert d["limit_after"].to_list() == [5_000.0]
