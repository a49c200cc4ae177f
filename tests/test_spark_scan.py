"""The whole scan on Spark gives the local scan's outputs, row for row, and the same run id.

``graphrisk.engines.spark_scan`` runs load, plan, the shard kernel, decisions and the run
directory on Spark (local mode here; a scan on a standalone cluster is not tested yet). Each test scans real Parquet books (the shipped sample,
a generated world, a broken copy) with both engines and compares every output table.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

import graphrisk
from graphrisk.engines.spark import spark_session
from graphrisk.engines.spark_scan import OUTPUTS, load_book, scan_on_spark
from graphrisk.errors import DataError
from graphrisk.explain import TRACE_FILE
from graphrisk.generate import generate_world
from graphrisk.testing import run_differences

SAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "sample"


@pytest.fixture(scope="module", autouse=True)
def spark():
    return spark_session()


def assert_same_scan(remote, local) -> int:
    """Every output table equal (columns, dtypes, rows); returns the rows compared."""
    assert remote.run_id == local.run_id
    rows = 0
    for name, keys in OUTPUTS.items():
        mine = getattr(remote, name)
        theirs = getattr(local, name)
        assert theirs is not None, name
        theirs = theirs.select(mine.columns).sort(list(keys), nulls_last=True)
        assert_frame_equal(mine, theirs, check_exact=False, rel_tol=1e-9)
        rows += mine.height
    assert remote.summary["flags"] == local.summary["flags"]
    assert remote.summary["actions"] == local.summary["actions"]
    assert remote.summary["groups"] == local.summary["groups"]
    assert remote.summary["rows"] == local.summary["rows"]
    return rows


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory):
    """The sample scanned by the CLI with each engine (Spark in shards of 1,000 accounts)."""
    from conftest import run_cli

    root = tmp_path_factory.mktemp("runs")
    local = run_cli("scan", SAMPLE, "--out", root / "local")
    assert local.code == 0, local.err
    spark = run_cli(
        "scan",
        SAMPLE,
        "--out",
        root / "spark",
        "--engine",
        "spark",
        "--shard-accounts",
        "1000",
        timeout=1800,
    )
    assert spark.code == 0, spark.err
    return root / "local", root / "spark"


def test_sample_run_on_spark_equals_local(sample_runs) -> None:
    """Every table of the run directory Spark wrote equals the local one, and the run id."""
    out_local, out_spark = sample_runs
    summary = json.loads((out_spark / "summary.json").read_text())
    theirs = json.loads((out_local / "summary.json").read_text())
    assert summary["run_id"] == theirs["run_id"]
    assert summary["engine"] == "spark" and summary["shards"]["shards"] >= 4
    for key in ("flags", "actions", "groups", "rows", "flagged_accounts"):
        assert summary[key] == theirs[key], key
    assert (out_spark / "flags.parquet").is_dir()  # a folder of part files, written by Spark
    diff = run_differences(out_local, out_spark)
    assert diff["differ"] == {} and diff["rows"] > 4000
    for name, keys in OUTPUTS.items():  # Spark wrote each table sorted by its keys
        file = TRACE_FILE if name == "trace" else f"{name}.parquet"
        mine = pl.read_parquet(out_spark / file)
        assert mine.equals(mine.sort(list(keys), nulls_last=True)), name
    html = (out_spark / "report.html").read_text()
    assert summary["run_id"] in html and "<table" in html


def test_generated_world_in_small_shards(tmp_path: Path, sample_runs) -> None:
    """A world of another seed, cut into shards of at most 500 accounts (oversized
    components, if any, alone): the same outputs as one local scan. Written over the
    sample's Spark run, it leaves no file of that run (the folder is swapped in whole)."""
    d = tmp_path / "w"
    generate_world(d, accounts=6000, seed=29)
    local = graphrisk.scan(d)
    remote = scan_on_spark(d, shard_accounts=500)
    assert remote.plan["shards"] >= 10
    assert_same_scan(remote, local)

    _, out_spark = sample_runs
    out = tmp_path / "runs" / "run"
    shutil.copytree(out_spark, out)
    (out / "flags.parquet" / "stale-part.parquet").write_bytes(b"")
    remote.write(out)
    assert not (out / "flags.parquet" / "stale-part.parquet").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]
    assert json.loads((out / "summary.json").read_text())["run_id"] == remote.run_id
    assert pl.read_parquet(out / "decisions.parquet").height == 6000


def test_shuffle_partitions_grow_with_the_book(monkeypatch) -> None:
    """A book of more rows than SHUFFLE_ROWS_PER_PARTITION times the session's shuffle
    partitions raises them (a 1M-account book ran out of execution memory with 4); a small
    one keeps them; a scan on the raised count is the local scan row for row."""
    from graphrisk.engines import spark_scan

    book = load_book(SAMPLE)
    rows = sum(book.read.values())
    book.spark.conf.set("spark.sql.shuffle.partitions", "4")
    assert rows < 4 * spark_scan.SHUFFLE_ROWS_PER_PARTITION
    assert spark_scan._size_shuffles(book) == 4
    monkeypatch.setattr(spark_scan, "SHUFFLE_ROWS_PER_PARTITION", rows // 10)
    want = -(-rows // (rows // 10))
    assert spark_scan._size_shuffles(book) == want > 4
    assert book.spark.conf.get("spark.sql.shuffle.partitions") == str(want)
    book.spark.conf.set("spark.sql.shuffle.partitions", str(want + 5))
    assert spark_scan._size_shuffles(book) == want + 5  # never lowered
    assert_same_scan(scan_on_spark(SAMPLE, shard_accounts=1000), graphrisk.scan(SAMPLE))


def _broken_sample(dst: Path) -> Path:
    """The sample with a few rows breaking row rules (quarantined) in two tables."""
    shutil.copytree(SAMPLE, dst)
    t = pq.read_table(dst / "transfers.parquet")
    amount = t.column("amount").to_pylist()
    for i in (5, 77, 1234):
        amount[i] = -amount[i]
    t = t.set_column(t.schema.get_field_index("amount"), "amount", [amount])
    pq.write_table(t, dst / "transfers.parquet")
    loans = pq.read_table(dst / "loans.parquet")
    acc = loans.column("account_id").to_pylist()
    acc[3] = "NO_SUCH_ACCOUNT"
    loans = loans.set_column(loans.schema.get_field_index("account_id"), "account_id", [acc])
    pq.write_table(loans, dst / "loans.parquet")
    return dst


def test_quarantine_on_spark_equals_local(tmp_path: Path) -> None:
    d = _broken_sample(tmp_path / "broken")
    local = graphrisk.scan(d, quarantine=True)
    remote = scan_on_spark(d, quarantine=True)
    assert (
        remote.summary["quarantine"]
        == local.summary["quarantine"]
        == {
            "loans": 1,
            "transfers": 3,
        }
    )
    assert_same_scan(remote, local)
    for name, rows in local.quarantine.items():
        got = pl.from_arrow(remote.quarantine[name].drop("__gr_file", "__gr_row").toArrow())
        assert_frame_equal(got.cast(rows.schema).sort(rows.columns), rows.sort(rows.columns))


def test_bad_input_is_the_local_error(tmp_path: Path) -> None:
    d = _broken_sample(tmp_path / "broken")
    with pytest.raises(DataError) as local:
        graphrisk.load(d)
    with pytest.raises(DataError) as remote:
        load_book(d)
    assert repr([p.to_dict() for p in remote.value.problems]) == repr(
        [p.to_dict() for p in local.value.problems]
    )


def test_ledger_over_two_dates_on_spark_equals_local(tmp_path: Path) -> None:
    """Two scans against a ledger (the second reads the first's cuts): the same run ids,
    decisions and ledger entries with either engine; a re-run appends nothing."""
    from graphrisk.ledger import Ledger

    dates = ["2026-05-15", "2026-06-29"]
    ids = {}
    for engine in ("local", "spark"):
        led = tmp_path / f"ledger_{engine}"
        ids[engine] = []
        for i, as_of in enumerate(dates):
            r = graphrisk.scan(SAMPLE, as_of=as_of, ledger=led, engine=engine)
            r.write(tmp_path / f"run_{engine}_{i}")
            ids[engine].append(r.run_id)
        again = graphrisk.scan(SAMPLE, as_of=dates[-1], ledger=led, engine=engine)
        again.write(tmp_path / f"run_{engine}_again")
        assert again.run_id == ids[engine][-1] and len(Ledger(led).files()) == 2
    assert ids["spark"] == ids["local"]
    local, spark = (Ledger(tmp_path / f"ledger_{e}").history() for e in ("local", "spark"))
    assert spark["situation"].is_in(["restore", "hold", "relapse"]).any()  # state was read
    cols = local.columns
    assert_frame_equal(
        spark.select(cols).cast(local.schema).sort("seq", "account_id"),
        local.sort("seq", "account_id"),
        check_exact=False,
    )
    for i in range(2):
        mine = pl.read_parquet(tmp_path / f"run_spark_{i}" / "decisions.parquet")
        theirs = pl.read_parquet(tmp_path / f"run_local_{i}" / "decisions.parquet")
        assert_frame_equal(mine.select(theirs.columns).cast(theirs.schema), theirs)
    # the Spark scan wrote its snapshots itself (folders of part files), holding the state
    # the local ledger's snapshots hold
    snaps = {e: sorted((tmp_path / f"ledger_{e}" / "snapshots").glob("*.parquet")) for e in ids}
    assert [p.name for p in snaps["spark"]] == [p.name for p in snaps["local"]]
    assert len(snaps["spark"]) == 2 and all(p.is_dir() for p in snaps["spark"])
    for mine_p, theirs_p in zip(snaps["spark"], snaps["local"], strict=True):
        theirs = pl.read_parquet(theirs_p)
        mine = pl.read_parquet(mine_p).select(theirs.columns).cast(theirs.schema)
        assert theirs.height > 0
        assert_frame_equal(mine.sort("account_id"), theirs.sort("account_id"))
