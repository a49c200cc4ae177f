"""The dense-graph benchmark's own correctness (not timings): data, measurements, limits."""

from __future__ import annotations

import json
import sys

import networkx as nx
import polars as pl
import pytest

from benchmarks import dense
from graphrisk.testing import roundtrip


def test_dense_tables_are_spec_tables_the_loader_accepts(tmp_path):
    t = dense.dense_tables(40, 4, seed=3)
    back = roundtrip(t, tmp_path)
    assert not back.quarantine
    assert back.transfers.equals(t.transfers)
    assert back.accounts.equals(t.accounts)
    assert back.counts() == {
        "accounts": 40 + dense.PLANTED_HOPS,
        "loans": 0,
        "transfers": 40 * 4 + dense.PLANTED_HOPS,
        "devices": 0,
    }


def test_dense_burst_shape_and_seed():
    t = dense.dense_tables(50, 5, seed=7)
    assert t.transfers.equals(dense.dense_tables(50, 5, seed=7).transfers)
    assert not t.transfers.equals(dense.dense_tables(50, 5, seed=8).transfers)
    burst = t.transfers.filter(pl.col("transfer_id").str.starts_with("T"))
    # every account sends per_account transfers to distinct others, within 10 days
    per = burst.group_by("src_account").agg(pl.col("dst_account").n_unique(), pl.len())
    assert per.height == 50
    assert (per["dst_account"] == 5).all() and (per["len"] == 5).all()
    assert (burst["src_account"] != burst["dst_account"]).all()
    span = burst["ts"].max() - burst["ts"].min()
    assert span.total_seconds() < 10 * 86400
    lo, hi = dense.AMOUNT * (1 - dense.AMOUNT_SPREAD), dense.AMOUNT * (1 + dense.AMOUNT_SPREAD)
    assert burst["amount"].is_between(lo, hi).all()


def test_expected_cycles_matches_networkx_count_on_average():
    counts = []
    for seed in range(4):
        tr = dense.dense_tables(30, 3, seed=seed, planted=False).transfers
        g = nx.DiGraph(tr.select("src_account", "dst_account").rows())
        counts.append(sum(1 for _ in nx.simple_cycles(g, length_bound=12)))
    mean = sum(counts) / len(counts)
    assert 0.7 < mean / dense.expected_cycles(30, 3, 12) < 1.3


def test_run_case_reports_findings_and_the_planted_loop():
    r = dense.run_case(20, 2, seed=1, detector="transfer_cycle")
    assert r["transfers"] == 20 * 2 + dense.PLANTED_HOPS
    assert r["planted_loop_flagged"] == dense.PLANTED_HOPS
    assert r["flags"] >= dense.PLANTED_HOPS and r["groups"] >= 1
    assert isinstance(r["search_capped"], bool)  # the per-start loop budget may fire here
    assert r["max_out_per_account"] == 2
    assert r["peak_rss_mb"] >= r["rss_before_mb"] > 0
    sg = dense.run_case(20, 2, seed=1, detector="scatter_gather")
    assert sg["search_capped"] is None and sg["seconds"] >= 0


def test_run_nx_counts_every_cycle(capsys):
    res = dense.run_nx(20, 2, seed=1, length_bound=12)
    tr = dense.dense_tables(20, 2, seed=1).transfers.filter(
        pl.col("transfer_id").str.starts_with("T")
    )
    g = nx.DiGraph(tr.select("src_account", "dst_account").rows())
    assert res["finished"] and res["cycles"] == sum(1 for _ in nx.simple_cycles(g, 12))
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["finished"]


@pytest.mark.parametrize(
    ("code", "limit"),
    [
        ("import time; print('{\"n\": 1}', flush=True); time.sleep(30)", "timeout"),
        ("b = b'x' * (400 * 2**20); import time; time.sleep(30)", "memory"),
    ],
)
def test_guarded_stops_a_run_at_its_limit_and_keeps_its_output(code, limit):
    run = dense.guarded([sys.executable, "-c", code], timeout=1.5, max_rss_mb=200)
    assert run["stopped"] == limit and run["code"] is None
    assert run["wall"] < 10
    if limit == "timeout":
        assert dense._last_json(run["out"]) == {"n": 1}


def test_tables_and_csv_rows_from_a_result():
    res = {
        "seed": 1,
        "days": 10.0,
        "length_bound": 12,
        "timeout_seconds": 300.0,
        "baseline_timeout_seconds": 30.0,
        "max_rss_mb": 10000.0,
        "cases": [
            {
                "accounts": 200,
                "per_account": 5,
                "transfers": 1006,
                "transfer_cycle": {"stopped": "timeout", "seconds": 300.0, "limit_seconds": 300},
                "scatter_gather": dense.run_case(20, 2, seed=1, detector="scatter_gather"),
                "networkx": {
                    "finished": False,
                    "cycles": 1000,
                    "seconds": 2.0,
                    "expected_cycles": 2e7,
                    "limit_seconds": 30.0,
                    "peak_rss_mb": 150.0,
                },
                "ratio": None,
            }
        ],
    }
    table = dense.dense_table(res)
    assert "> 300 (stopped)" in table and "> 30, stopped" in table and "> 1,000" in table
    assert "≈ 11 h" in table  # 2e7 cycles at 500 per second
    rows = dense.csv_rows(res)
    assert [r[:3] for r in rows] == [
        ["dense_200x5", "graphrisk", "detector:transfer_cycle"],
        ["dense_200x5", "graphrisk", "detector:scatter_gather"],
        ["dense_200x5", "networkx", "simple_cycles"],
    ]
    assert rows[0][5] is True and rows[1][5] is False and rows[2][5] is True
