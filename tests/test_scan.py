"""One end-to-end scan of a generated world through the CLI, checked against SPEC.md's run
directory; determinism, ``--as-of``/``--lookback``, atomic writes, and the library API."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import networkx as nx
import polars as pl
import pytest
from conftest import base_tables, set_col, write_data

import graphrisk

SPEC_CODES = {
    "MULTI_LENDER",
    "LOAN_STACKING",
    "SMALL_LOAN_BURST",
    "APPLICATION_BURST",
    "GROUP_MULTI_LENDER",
    "SHARED_DEVICE_RING",
    "IP_HOPPING",
    "LOAN_RECYCLING",
    "TRANSFER_CYCLE",
    "FAN_OUT_AFTER_LOAN",
    "FAN_IN_COLLECTOR",
    "SCATTER_GATHER",
    "ASSOCIATED_TRANSFER",
    "RISK_PROXIMITY",
    "OVERDUE_HISTORY",
    "UNSTABLE_INCOME",
    "LARGE_OUTFLOW",
    "HIGH_DEBT_RATIO",
}
EVENT_CODES = [
    "MULTI_LENDER",
    "SMALL_LOAN_BURST",
    "APPLICATION_BURST",
    "IP_HOPPING",
    "SHARED_DEVICE_RING",
    "TRANSFER_CYCLE",
    "SCATTER_GATHER",
    "FAN_OUT_AFTER_LOAN",
    "FAN_IN_COLLECTOR",
    "ASSOCIATED_TRANSFER",
]
ACTIONS = {"keep", "freeze_increase", "reduce", "suspend", "restore"}


@pytest.fixture(scope="module")
def run(world_run) -> Path:
    return world_run[0]


@pytest.fixture(scope="module")
def frames(run: Path) -> dict[str, pl.DataFrame]:
    return {n: pl.read_parquet(run / f"{n}.parquet") for n in ("flags", "decisions", "groups")}


@pytest.fixture(scope="module")
def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def accounts(world: Path) -> pl.DataFrame:
    return pl.read_parquet(world / "accounts.parquet")


def test_run_directory_files(run: Path, world_run) -> None:
    assert {p.name for p in run.iterdir()} >= {
        "flags.parquet",
        "decisions.parquet",
        "groups.parquet",
        "summary.json",
        "report.html",
    }
    assert [p.name for p in run.parent.iterdir()] == ["run"]  # no temporary left beside it
    html = (run / "report.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "<script src=" not in html and "<link " not in html  # self-contained
    assert world_run[1].err == ""  # a pipe stays quiet


def test_flags(frames, summary) -> None:
    f = frames["flags"]
    assert f.height > 0
    want = {
        "account_id": pl.String,
        "code": pl.String,
        "detector": pl.String,
        "score": pl.Float64,
        "group_id": pl.String,
        "evidence": pl.String,
    }
    for col, dtype in want.items():
        assert f.schema[col] == dtype, col
    assert f.schema["severity"].is_integer()
    assert isinstance(f.schema["as_of"], pl.Datetime)
    assert set(f["severity"].unique()) <= {1, 2, 3}
    assert set(f["code"].unique()) <= SPEC_CODES
    assert f["account_id"].null_count() == 0 and f["evidence"].null_count() == 0
    assert f["score"].is_finite().all()
    as_of = datetime.fromisoformat(summary["as_of"])
    assert f["as_of"].unique().to_list() == [as_of]
    for ev in f["evidence"].to_list():
        doc = json.loads(ev)
        assert isinstance(doc, dict) and doc
        assert "window" in doc


def test_evidence_windows_inside_as_of_and_lookback(frames, summary) -> None:
    as_of = datetime.fromisoformat(summary["as_of"])
    start = datetime.fromisoformat(summary["window_start"])
    assert start == as_of - timedelta(days=summary["lookback_days"])
    _check_windows(frames["flags"], as_of, start)


def _check_windows(flags: pl.DataFrame, as_of: datetime, start: datetime) -> None:
    assert flags.height > 0
    for ev in flags["evidence"].to_list():
        w = json.loads(ev)["window"]
        lo, hi = datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"])
        assert lo <= hi <= as_of, w
    if "window_end" in flags.columns:
        assert flags["window_end"].max() <= as_of
    # loans issued before the window and still outstanding in it are read (stacking, overdue,
    # recycling may start there); patterns of events in a short window must lie inside it
    recent = flags.filter(pl.col("code").is_in(EVENT_CODES))
    if "window_start" in recent.columns and recent.height:
        assert recent["window_start"].min() >= start


def test_decisions(frames, accounts: pl.DataFrame, summary) -> None:
    d = frames["decisions"]
    assert d.height == accounts.height
    assert d["account_id"].n_unique() == d.height
    assert set(d["account_id"]) == set(accounts["account_id"])
    schema = d.schema
    assert schema["account_id"] == pl.String and schema["action"] == pl.String
    assert schema["limit_before"].is_numeric() and schema["limit_after"].is_numeric()
    assert schema["increase_allowed"] == pl.Boolean
    assert schema["reason_codes"] == pl.List(pl.String)
    assert schema["explanation"] == pl.String
    assert schema["review_after"] == pl.Date
    assert isinstance(schema["as_of"], pl.Datetime)
    assert d["run_id"].unique().to_list() == [summary["run_id"]]
    assert set(d["action"].unique()) <= ACTIONS
    assert {"keep", "reduce", "suspend"} <= set(d["action"].unique())
    # limit_before is the limit of accounts.parquet
    joined = d.join(accounts.select("account_id", "credit_limit"), on="account_id")
    assert (joined["limit_before"] == joined["credit_limit"]).all()
    suspended = d.filter(pl.col("action") == "suspend")
    assert (suspended["limit_after"] == 0).all()
    reduced = d.filter(pl.col("action") == "reduce")
    assert (reduced["limit_after"] < reduced["limit_before"]).all()
    assert (reduced["limit_after"] > 0).all()
    same = d.filter(pl.col("action").is_in(["keep", "freeze_increase"]))
    assert (same["limit_after"] == same["limit_before"]).all()
    assert not d.filter(pl.col("action") == "freeze_increase")["increase_allowed"].any()
    assert not d.filter(pl.col("action").is_in(["reduce", "suspend"]))["increase_allowed"].any()
    # every cut has specific reasons, each a flag of that account
    cut = d.filter(pl.col("action").is_in(["reduce", "suspend", "freeze_increase"]))
    assert (cut["reason_codes"].list.len() > 0).all()
    assert cut["explanation"].str.len_chars().min() > 0
    flagged = frames["flags"].group_by("account_id").agg(pl.col("code").unique())
    have = dict(zip(flagged["account_id"], flagged["code"].to_list(), strict=True))
    for acc, codes in cut.select("account_id", "reason_codes").iter_rows():
        assert set(codes) <= set(have[acc]), acc
    unflagged = d.filter(~pl.col("account_id").is_in(flagged["account_id"].implode()))
    assert set(unflagged["action"].unique()) == {"keep"}
    # linkage alone never cuts a limit
    linkage_only = {"RISK_PROXIMITY", "IP_HOPPING"}
    for acc, action in d.select("account_id", "action").iter_rows():
        if action in ("reduce", "suspend"):
            assert not set(have[acc]) <= linkage_only, acc
    review = d.filter(pl.col("action") != "keep")["review_after"]
    as_of = datetime.fromisoformat(summary["as_of"]).date()
    assert review.null_count() == 0 and review.min() > as_of


def test_customer_explanations_name_no_other_account(frames) -> None:
    d = frames["decisions"].filter(pl.col("action").is_in(["reduce", "suspend"]))
    others = set(frames["groups"]["account_id"])
    for acc, text in d.select("account_id", "explanation").iter_rows():
        named = [o for o in others if o != acc and o in text]
        assert not named, (acc, named, text)
        assert "device:" not in text and "ip:" not in text


def test_groups(frames, accounts: pl.DataFrame) -> None:
    g = frames["groups"]
    assert g.height > 0
    assert {c: g.schema[c] for c in ("group_id", "kind", "account_id", "role")} == {
        "group_id": pl.String,
        "kind": pl.String,
        "account_id": pl.String,
        "role": pl.String,
    }
    assert g.select("group_id", "account_id").is_duplicated().sum() == 0
    assert g.null_count().row(0) == (0,) * g.width or g["role"].null_count() == 0
    assert (g.group_by("group_id").agg(pl.col("kind").n_unique())["kind"] == 1).all()
    assert (g.group_by("group_id").len()["len"] >= 2).all()
    # every group_id on a flag is a group of that account
    f = frames["flags"].filter(pl.col("group_id").is_not_null())
    pairs = set(g.select("group_id", "account_id").iter_rows())
    for pair in f.select("group_id", "account_id").iter_rows():
        assert pair in pairs, pair


def test_summary(summary, frames, world: Path) -> None:
    raw = {
        n: pl.scan_parquet(world / f"{n}.parquet").select(pl.len()).collect().item()
        for n in ("accounts", "loans", "transfers", "devices", "applications", "lenders")
    }
    assert summary["rows"]["read"] == raw
    assert summary["quarantine"] == {}
    f = frames["flags"]
    per_code = f.group_by("code").agg(pl.len(), pl.col("account_id").n_unique())
    assert summary["flags"] == {c: {"flags": n, "accounts": a} for c, n, a in per_code.iter_rows()}
    d = frames["decisions"]
    assert summary["actions"] == dict(d.group_by("action").len().iter_rows())
    assert sum(summary["actions"].values()) == raw["accounts"]
    g = frames["groups"]
    assert summary["groups"] == dict(
        g.group_by("kind").agg(pl.col("group_id").n_unique()).iter_rows()
    )
    assert summary["versions"]["graphrisk"] == graphrisk.__version__
    assert summary["policy"]["lookback_days"] == summary["lookback_days"] == 180
    stages = [t["stage"] for t in summary["timings"]]
    assert stages[0] == "load" and any(s.startswith("detector:") for s in stages)
    assert all(t["seconds"] >= 0 for t in summary["timings"])


def test_determinism(world: Path, frames) -> None:
    """A second scan (through the library) gives identical flags, decisions and groups."""
    again = graphrisk.scan(world)
    assert again.flags.equals(frames["flags"].select(again.flags.columns))
    assert again.decisions.equals(frames["decisions"])
    assert again.groups.equals(frames["groups"])
    assert frames["flags"].columns == again.flags.columns


def test_as_of_and_lookback(world: Path, tmp_path: Path, cli, frames) -> None:
    out = tmp_path / "run"
    ran = cli("scan", world, "--out", out, "--as-of", "2026-05-15", "--lookback", "60", "--json")
    assert ran.code == 0, ran.err
    s = json.loads((out / "summary.json").read_text())
    as_of = datetime.fromisoformat(s["as_of"])
    assert as_of.date() == date(2026, 5, 15)
    assert as_of.hour == 23  # a date means the end of that day
    assert s["lookback_days"] == 60
    start = datetime.fromisoformat(s["window_start"])
    assert start == as_of - timedelta(days=60)
    f = pl.read_parquet(out / "flags.parquet")
    _check_windows(f, as_of, start)
    d = pl.read_parquet(out / "decisions.parquet")
    assert d.height == frames["decisions"].height
    assert d["as_of"].unique().to_list() == [as_of]
    assert s["rows"]["in_window"]["transfers"] < s["rows"]["read"]["transfers"]
    assert not d.equals(frames["decisions"])


def test_existing_run_is_replaced_whole(small_data: Path, tmp_path: Path, cli) -> None:
    out = tmp_path / "run"
    assert cli("scan", small_data, "--out", out).code == 0
    (out / "stale.txt").write_text("left in an earlier run")
    ran = cli("scan", small_data, "--out", out)
    assert ran.code == 0, ran.err
    assert not (out / "stale.txt").exists()
    assert (out / "decisions.parquet").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "run"]


def test_failing_scan_leaves_old_run_intact(small_data: Path, tmp_path: Path, cli) -> None:
    out = tmp_path / "run"
    assert cli("scan", small_data, "--out", out).code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    t = base_tables()
    t["loans"] = set_col(t["loans"], "amount", [1.0, -1.0, 2.0])
    bad = write_data(tmp_path / "bad", t)
    cli("scan", bad, "--out", out).assert_clean_failure(3)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "data", "run"]


def test_failure_while_writing_leaves_old_run_intact(
    small_data: Path, tmp_path: Path, monkeypatch
) -> None:
    out = tmp_path / "run"
    graphrisk.scan(small_data).write(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(result):
        raise RuntimeError("disk full half-way")

    monkeypatch.setattr("graphrisk.report.render_report", boom)
    result = graphrisk.scan(small_data, as_of="2026-03-05")
    with pytest.raises(RuntimeError, match="disk full"):
        result.write(out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "run"]


def test_library_api(world: Path, frames) -> None:
    tables = graphrisk.load(world)
    assert tables.counts()["accounts"] == 3000
    result = graphrisk.scan(tables)
    for name in ("flags", "decisions", "groups"):
        assert isinstance(getattr(result, name), pl.DataFrame)
    assert result.decisions.equals(frames["decisions"])
    sizes = result.groups.group_by("group_id").len().sort("len", "group_id", descending=True)
    group_id = sizes["group_id"][0]
    members = set(result.groups.filter(pl.col("group_id") == group_id)["account_id"])
    g = result.to_networkx(group_id)
    assert isinstance(g, nx.Graph)
    nodes = {n for n, k in g.nodes(data="kind") if k in ("account", "external")}
    assert nodes == members
    assert g.number_of_edges() > 0
    with pytest.raises(KeyError):
        result.to_networkx("no-such-group")


def test_rows_read_counts_quarantined_rows_too(tmp_path: Path) -> None:
    """``rows.read`` is what the files hold: the rows kept plus the rows quarantined."""
    import pyarrow as pa

    t = base_tables()
    t["loans"] = set_col(t["loans"], "amount", [500.0, -1.0, 1200.0])  # L2 bad
    extra = t["devices"].slice(0, 1)
    extra = set_col(extra, "account_id", ["nobody"])  # dangling reference
    t["devices"] = pa.concat_tables([t["devices"], extra])
    data = write_data(tmp_path / "data", t)
    raw = {n: pl.scan_parquet(data / f"{n}.parquet").select(pl.len()).collect().item() for n in t}
    result = graphrisk.scan(data, quarantine=True)
    s = result.summary
    assert s["quarantine"] == {"devices": 1, "loans": 1}
    assert s["rows"]["read"] == raw
    kept = graphrisk.load(data, quarantine=True).counts()
    for name in raw:
        assert s["rows"]["read"][name] == kept[name] + s["quarantine"].get(name, 0), name
        assert s["rows"]["in_window"][name] <= kept[name], name
    assert s["rows"]["in_window"]["loans"] == 2 and s["rows"]["in_window"]["devices"] == 2


def test_run_id_names_one_set_of_outputs(world: Path) -> None:
    base = graphrisk.scan(world)
    same = graphrisk.scan(world, lookback_days=base.policy.lookback_days, lang="zh")
    english = graphrisk.scan(world, lang="en")
    longer = graphrisk.scan(world, lookback_days=base.policy.lookback_days + 30)
    assert same.run_id == base.run_id
    assert same.decisions.equals(base.decisions)
    assert not english.decisions["explanation"].equals(base.decisions["explanation"])
    assert len({base.run_id, english.run_id, longer.run_id}) == 3


def test_library_refuses_an_as_of_before_all_data(world: Path) -> None:
    with pytest.raises(graphrisk.errors.UsageError, match="before every loan"):
        graphrisk.scan(world, as_of="2001-01-01")


def test_run_differences_finds_a_changed_row_and_nothing_else(world_run, tmp_path: Path) -> None:
    """The run-directory comparison the Spark tests and benchmark rely on: a copy is equal,
    a copy with one decision changed (and its table split into part files) is not."""
    import shutil

    from graphrisk.testing import run_differences

    run, _ = world_run
    same = tmp_path / "same"
    shutil.copytree(run, same)
    assert run_differences(run, same)["differ"] == {}
    other = tmp_path / "other"
    shutil.copytree(run, other)
    dec = pl.read_parquet(other / "decisions.parquet")
    (other / "decisions.parquet").unlink()
    (other / "decisions.parquet").mkdir()
    at = int((dec["action"] != "suspend").arg_true()[0])
    changed = dec.with_columns(
        pl.when(pl.int_range(pl.len()) == at)
        .then(pl.lit("suspend"))
        .otherwise(pl.col("action"))
        .alias("action")
    )
    changed.head(100).write_parquet(other / "decisions.parquet" / "part-0.parquet")
    changed.slice(100).write_parquet(other / "decisions.parquet" / "part-1.parquet")
    diff = run_differences(run, other)
    assert list(diff["differ"]) == ["decisions"]
    assert diff["rows"] > dec.height
