"""The feature table on a hand-built world whose every figure is worked out by hand below."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import graphrisk
from graphrisk.context import ScanContext
from graphrisk.features import DICTIONARY, dictionary_markdown, features
from graphrisk.testing import tables

AS_OF = "2026-06-30T00:00:00"


def _day(d: int, hour: int = 12) -> str:
    """``d`` days before as_of (2026-06-30 00:00), at ``hour``:00 of the day before."""
    from datetime import datetime, timedelta

    return (datetime(2026, 6, 30) - timedelta(days=d) + timedelta(hours=hour - 24)).isoformat()


def _book():
    loans = [
        # a: two loans this month (one repaid), one old one still open and 40 days late
        ("a", "L1", 500, _day(3), None, None, 0, "la1"),
        ("a", "L2", 700, _day(10), None, _day(2), 0, "la2"),
        ("a", "L3", 1000, _day(100), _day(70), None, 40, "la3"),
        # d: in default (120 days past due)
        ("d", "L1", 2000, _day(170), _day(150), None, 120, "ld1"),
    ]
    transfers = [
        ("X1", "a", 1000, _day(5, 9), "t1"),  # money in from outside, 5 days ago
        ("a", "b", 600, _day(4, 9), "t2"),  # sent on within a day: passes through
        ("a", "c", 300, _day(20), "t3"),  # a new counterparty 20 days ago
        ("b", "a", 50, _day(60), "t4"),  # b is an old counterparty of a
        ("b", "d", 80, _day(40), "t5"),  # b pays the defaulter
    ]
    devices = [
        ("a", "D1", _day(30), "10.0.0.1", "SH"),
        ("b", "D1", _day(29), "10.0.0.2", "SH"),
        ("a", "P-a", _day(28), "1.1.1.1", "SH"),
        ("c", "P-c", _day(28), "1.1.1.1", "SH"),
    ]
    # a terminal used by 60 accounts: links nobody, but is a's busiest device
    devices += [(f"k{i:02d}", "KIOSK", _day(15), None, "SH") for i in range(59)]
    devices.append(("a", "KIOSK", _day(15), None, "SH"))
    applications = [
        ("a", "L1", _day(2)),
        ("a", "L1", _day(3)),
        ("a", "L2", _day(6)),
        ("a", "L4", _day(20)),
    ]
    return tables(loans=loans, transfers=transfers, devices=devices, applications=applications)


@pytest.fixture(scope="module")
def feats() -> pl.DataFrame:
    return features(ScanContext.build(_book(), as_of=AS_OF))


def row(feats: pl.DataFrame, account: str) -> dict:
    return feats.filter(pl.col("account_id") == account).to_dicts()[0]


def test_bureau_counts_per_window(feats) -> None:
    a = row(feats, "a")
    assert (a["apps_7d"], a["app_lenders_7d"]) == (3, 2)  # L1 twice, L2
    assert (a["apps_30d"], a["app_lenders_30d"]) == (4, 3)  # and L4
    assert (a["loans_7d"], a["loan_lenders_7d"], a["borrowed_7d"]) == (1, 1, 500.0)
    assert (a["loans_15d"], a["loan_lenders_15d"], a["borrowed_15d"]) == (2, 2, 1200.0)
    assert (a["loans_90d"], a["borrowed_90d"]) == (2, 1200.0)
    assert (a["loans_180d"], a["loan_lenders_180d"], a["borrowed_180d"]) == (3, 3, 2200.0)


def test_outstanding_and_lateness(feats) -> None:
    a = row(feats, "a")
    # L1 and L3 are open at as_of; L3 is 40 days late (its due date, 70 days ago, says more:
    # the context raises an open loan's lateness to its days past due at as_of)
    assert (a["loans_outstanding"], a["lenders_outstanding"]) == (2, 2)
    assert a["amount_outstanding"] == 1500.0
    assert a["max_overdue_days"] == 70
    assert a["days_since_last_loan"] == pytest.approx(3.5)  # noon, three days before as_of


def test_devices_addresses_and_the_linked_group(feats) -> None:
    a, b, c = row(feats, "a"), row(feats, "b"), row(feats, "c")
    assert (a["device_accounts"], a["ip_accounts"]) == (1, 1)  # b on D1, c on 1.1.1.1
    assert a["max_device_accounts"] == 60  # the kiosk
    assert (b["device_accounts"], b["ip_accounts"], c["ip_accounts"]) == (1, 0, 1)
    assert a["linked_group_size"] == b["linked_group_size"] == c["linked_group_size"] == 3
    assert row(feats, "k00")["linked_group_size"] == 1  # the kiosk links nobody


def test_money_in_out_and_pass_through(feats) -> None:
    a = row(feats, "a")
    assert (a["money_in_7d"], a["money_out_7d"]) == (1000.0, 600.0)
    assert (a["money_in_30d"], a["money_out_30d"]) == (1000.0, 900.0)
    assert (a["senders_30d"], a["recipients_30d"]) == (1, 2)
    # 600 of the 1,000 received left within 2 days; the 300 to c went before it arrived
    assert a["pass_through_share_30d"] == pytest.approx(0.6)
    # first dealt with: X1 this week, c 20 days ago (b 60 days ago: an old counterparty)
    assert (a["new_counterparties_7d"], a["new_counterparties_30d"]) == (1, 2)
    assert row(feats, "c")["pass_through_share_30d"] == 0.0  # received 300, sent nothing
    assert row(feats, "k00")["pass_through_share_30d"] is None  # received nothing


def test_nearest_defaulter(feats) -> None:
    assert row(feats, "d")["defaulter_hops"] == 0
    assert (row(feats, "b")["defaulter_hops"], row(feats, "b")["defaulters_near"]) == (1, 1)
    assert (row(feats, "a")["defaulter_hops"], row(feats, "a")["defaulters_near"]) == (2, 1)
    assert row(feats, "c")["defaulter_hops"] is None
    # b pays d (one kind of link); a reaches d through b, whom it shares a device and money
    # with (device + transfer: the strongest path's kinds)
    assert row(feats, "b")["defaulter_tie"] == 1
    assert row(feats, "a")["defaulter_tie"] == 2
    assert row(feats, "c")["defaulter_tie"] == 0
    # RISK_PROXIMITY's weights: b pays d once (one way: 0.5 + 0.5 * 0.4); a is b's close
    # tie (shared device, money both ways: 1.0), two links away: 0.25 * 1.0 * 0.7
    assert row(feats, "b")["defaulter_weight"] == pytest.approx(0.7)
    assert row(feats, "a")["defaulter_weight"] == pytest.approx(0.175)
    assert row(feats, "c")["defaulter_weight"] == 0.0


def test_loops_through_an_account() -> None:
    """Four accounts pass the same money round a loop over fresh relations: one loop each."""
    ring = ["p", "q", "r", "s"]
    tr = [(ring[i], ring[(i + 1) % 4], 5000 - 50 * i, f"2026-05-0{i + 1}T10:00") for i in range(4)]
    tr += [("u", "v", 100, f"2026-0{m}-02") for m in range(1, 6)]  # history before the loop
    r = graphrisk.scan(tables(transfers=tr))
    assert r.flags.filter(pl.col("code") == "TRANSFER_CYCLE")["account_id"].n_unique() == 4
    assert [row(r.features, x)["loops"] for x in (*ring, "u")] == [1, 1, 1, 1, 0]


def test_flag_counts_from_a_scan() -> None:
    from graphrisk.testing import tables as make

    loans = [("m", f"L{i}", 5000, f"2026-01-{4 * i + 1:02d}", None, f"2026-01-{4 * i + 3:02d}")
             for i in range(6)]  # fmt: skip
    r = graphrisk.scan(make(loans=[*loans, ("n", "L1", 800, "2026-01-02")]))
    m = row(r.features, "m")
    own = r.flags.filter((pl.col("account_id") == "m") & (pl.col("code") == "MULTI_LENDER"))
    assert own.height >= 1
    assert m["flags_MULTI_LENDER"] == own.height
    assert m["max_severity"] == r.flags.filter(pl.col("account_id") == "m")["severity"].max()
    assert row(r.features, "n")["max_severity"] == 0


def test_one_row_per_account_with_every_documented_column(tmp_path: Path) -> None:
    t = _book()
    r = graphrisk.scan(t, as_of=AS_OF)
    assert r.features.columns == [f.name for f in DICTIONARY]
    assert r.features["account_id"].to_list() == sorted(t.accounts["account_id"].to_list())
    r.write(tmp_path / "run")
    assert pl.read_parquet(tmp_path / "run" / "features.parquet").equals(r.features)


def test_readme_has_the_data_dictionary() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert dictionary_markdown() in readme


def _with_lenders(kinds: dict[str, str]):
    import dataclasses

    lenders = pl.DataFrame(
        {"lender_id": list(kinds), "kind": list(kinds.values()), "name": [None] * len(kinds)},
        schema={"lender_id": pl.String, "kind": pl.String, "name": pl.String},
    )
    return dataclasses.replace(_book(), lenders=lenders)


def test_counts_per_lender_kind() -> None:
    # L3 and L4 are not in the lenders table: their kind is unknown
    t = _with_lenders({"L1": "bank", "L2": "microloan"})
    a = row(features(ScanContext.build(t, as_of=AS_OF)), "a")
    assert (a["loans_7d_bank"], a["loans_7d_microloan"]) == (1, 0)
    assert (a["loans_15d_bank"], a["loans_15d_microloan"], a["borrowed_15d_microloan"]) == (
        1,
        1,
        700.0,
    )
    assert (a["loans_180d_unknown"], a["borrowed_180d_unknown"]) == (1, 1000.0)
    assert (a["apps_7d_bank"], a["app_lenders_7d_bank"], a["apps_7d_microloan"]) == (2, 1, 1)
    assert (a["apps_7d_unknown"], a["apps_30d_unknown"]) == (0, 1)
    # the kinds add up to the totals
    for w in (7, 15, 30, 90, 180):
        kinds = [c for c in a if c.startswith(f"loans_{w}d_")]
        assert sum(a[c] for c in kinds) == a[f"loans_{w}d"]


def test_kinds_without_a_lenders_table_and_outside_spec() -> None:
    a = row(features(ScanContext.build(_book(), as_of=AS_OF)), "a")
    assert a["loans_180d_unknown"] == a["loans_180d"] == 3
    t = _with_lenders({"L1": "pawnshop", "L2": "bank", "L3": "bank"})
    a = row(features(ScanContext.build(t, as_of=AS_OF)), "a")
    assert (a["loans_180d_other"], a["loans_180d_bank"], a["loan_lenders_180d_bank"]) == (1, 2, 2)


def test_unknown_lenders_are_a_warning_not_an_error(tmp_path: Path, cli) -> None:
    from graphrisk.testing import write

    t = _with_lenders({"L1": "bank", "L2": "microloan"})
    back = graphrisk.load(write(t, tmp_path / "data"))
    assert back.lenders is not None and back.lenders.height == 2
    assert [(w.table, w.column, w.rule, w.count) for w in back.warnings] == [
        ("loans", "lender_id", "unknown_lender", 1),  # la3, from L3
        ("applications", "lender_id", "unknown_lender", 1),  # the one to L4
    ]
    ran = cli("validate", str(tmp_path / "data"))
    assert ran.code == 0 and "warnings: 2" in ran.out and "L3" in ran.out
    r = graphrisk.scan(back, as_of=AS_OF)
    assert [w["count"] for w in r.summary["warnings"]] == [1, 1]


def test_income_outflow_and_debt_against_income() -> None:
    """m declares 4,000 a month and is paid 4,500 by an employer on the 5th of every month;
    it owes 8,000 from a loan 10 days old and paid 3,000 to a shop last week."""
    salary = [("X7", "m", 4500, f"2026-{mo:02d}-05T09:00") for mo in range(1, 7)]
    t = tables(
        loans=[("m", "L1", 8000, "2026-06-20T10:00")],
        transfers=[*salary, ("m", "X5", 3000, "2026-06-25T10:00")],
        accounts=[
            {"account_id": "m", "opened_at": "2020-01-01", "credit_limit": 10000.0,
             "monthly_income": 4000.0},
            {"account_id": "n", "opened_at": "2020-01-01", "credit_limit": 10000.0},
        ],
    )  # fmt: skip
    f = features(ScanContext.build(t, as_of="2026-06-30"))
    m, n = row(f, "m"), row(f, "n")
    # complete months inside the lookback: February to June; the median is the salary
    assert (m["income_declared"], m["income_observed"]) == (4000.0, 4500.0)
    assert (m["income_used"], m["income_source"]) == (4500.0, "observed")
    assert m["outflow_outside_30d"] == 3000.0
    assert m["debt_months"] == m["borrowed_30d_months"] == pytest.approx(8000 / 4500, abs=1e-3)
    assert n["income_used"] is None and n["debt_months"] is None and n["income_source"] is None


def test_a_book_with_transfers_only_has_every_column() -> None:
    """AMLSim-like: no loans, no logins; every column is there, counts 0, ratios null."""
    t = tables(transfers=[("a", "b", 100, "2026-01-01"), ("b", "a", 90, "2026-01-02")])
    f = features(ScanContext.build(t))
    assert f.columns == [c.name for c in DICTIONARY]
    a = row(f, "a")
    assert (a["loans_180d"], a["amount_outstanding"], a["money_out_30d"]) == (0, 0.0, 100.0)
    assert a["debt_months"] is None


def test_a_lender_seen_before_and_inside_a_window_and_counterparties_both_ways() -> None:
    """A lender applied to 100 and 5 days ago counts once in 7 days; a counterparty paid and
    paying back, and the account itself (a transfer to its own account), are new once each;
    one seen 40 days ago is not new."""
    applications = [("e", "L1", _day(100)), ("e", "L2", _day(20)), ("e", "L1", _day(5))]
    transfers = [
        ("X1", "e", 70, _day(40), "u1"),  # an old counterparty of e
        ("e", "f", 100, _day(3), "u2"),
        ("f", "e", 40, _day(2), "u3"),  # f pays back: still one new counterparty
        ("e", "e", 10, _day(1), "u4"),  # e to itself
        ("e", "X1", 20, _day(1, 15), "u5"),
    ]
    f = features(ScanContext.build(tables(transfers=transfers, applications=applications),
                                   as_of=AS_OF))  # fmt: skip
    e = row(f, "e")
    assert (e["apps_7d"], e["app_lenders_7d"], e["app_lenders_7d_unknown"]) == (1, 1, 1)
    assert (e["apps_30d"], e["app_lenders_30d"], e["app_lenders_30d_unknown"]) == (2, 2, 2)
    assert (e["apps_180d"], e["app_lenders_180d"]) == (3, 2)
    assert (e["new_counterparties_7d"], e["new_counterparties_30d"]) == (2, 2)  # f, e
    assert (e["senders_7d"], e["recipients_7d"]) == (2, 3)  # f, e; f, e, X1
    assert (e["money_in_7d"], e["money_out_7d"]) == (50.0, 130.0)
    assert row(f, "f")["new_counterparties_7d"] == 1
