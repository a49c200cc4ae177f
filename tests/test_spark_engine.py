"""The Spark engine against the local loader, on a real local Spark session.

The contract: for any data directory, ``load_with_spark`` gives the same ``Tables`` (frames
equal, row order included) or the same ``DataError`` (same problems: table, column, rule,
count, message, example rows) as :func:`graphrisk.io.load`, with and without quarantine, and a
scan gives the same flags, decisions and groups whichever engine loaded the data.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from graphrisk.engines import LocalEngine, SparkEngine, get_engine
from graphrisk.errors import DataError, UsageError
from graphrisk.io import Tables, _row_rules, load
from graphrisk.schema import LATEST_TIME, TABLE_ORDER, TABLES, empty_frame

pytest.importorskip("pyspark")

from pyspark.sql import functions as F

from graphrisk.engines.spark import load_with_spark, spark_session, translate

T0 = dt.datetime(2026, 3, 1, 12, 0)


@pytest.fixture(scope="module")
def spark():
    """One local Spark session for the module (the engine's default session)."""
    return spark_session()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from graphrisk.generate import generate_world

    d = tmp_path_factory.mktemp("world")
    generate_world(d, accounts=2000, seed=4)
    return d


def assert_tables_equal(a: Tables, b: Tables) -> None:
    for name in TABLE_ORDER:
        x, y = a.get(name), b.get(name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert_frame_equal(x, y, check_exact=True)
    assert a.source == b.source
    assert sorted(a.quarantine) == sorted(b.quarantine)
    for name, q in a.quarantine.items():
        assert_frame_equal(q, b.quarantine[name], check_exact=True)


def both(path: Path, quarantine: bool = False) -> tuple[Tables, Tables]:
    return load(path, quarantine=quarantine), load_with_spark(path, quarantine=quarantine)


def problems(path: Path, loader: Callable[..., Tables]) -> list[dict]:
    with pytest.raises(DataError) as info:
        loader(path)
    return [p.to_dict() for p in info.value.problems]


# ---------------------------------------------------------------------------------------
# a tiny hand-made directory to break


def tiny() -> dict[str, pl.DataFrame]:
    ts = [T0 + dt.timedelta(hours=h) for h in range(4)]
    return {
        "accounts": pl.DataFrame(
            {
                "account_id": ["a", "b", "c"],
                "opened_at": [T0 - dt.timedelta(days=400)] * 3,
                "credit_limit": [1000.0, 2000.0, 3000.0],
                "city": ["Shanghai", "Beijing", "Wuhan"],
            }
        ),
        "loans": pl.DataFrame(
            {
                "loan_id": ["L1", "L2", "L3", "L4"],
                "account_id": ["a", "a", "b", "c"],
                "lender_id": ["p1", "p2", "p1", "p3"],
                "amount": [500.0, 800.0, 300.0, 200.0],
                "issued_at": ts,
                "due_at": [t + dt.timedelta(days=30) for t in ts],
                "overdue_days": [0, None, 3, 0],
            }
        ),
        "transfers": pl.DataFrame(
            {
                "transfer_id": ["T1", "T2"],
                "src_account": ["a", "b"],
                "dst_account": ["b", "X9"],
                "amount": [100.0, 50.0],
                "ts": ts[:2],
            }
        ),
        "devices": pl.DataFrame(
            {"account_id": ["a", "b", "c"], "device_id": ["d1", "d1", "d2"], "ts": ts[:3]}
        ),
    }


def write(tables: dict[str, pl.DataFrame | pa.Table], d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name, t in tables.items():
        if isinstance(t, pl.DataFrame):
            t.write_parquet(d / f"{name}.parquet")
        else:
            pq.write_table(t, d / f"{name}.parquet")
    return d


def _set(table: str, column: str, row: int, value: object) -> Callable[[dict], None]:
    def change(t: dict[str, pl.DataFrame]) -> None:
        df = t[table]
        values = df[column].to_list()
        values[row] = value
        t[table] = df.with_columns(pl.Series(column, values, dtype=df.schema[column]))

    return change


def _wrong_type(t: dict[str, pl.DataFrame]) -> None:
    t["loans"] = t["loans"].with_columns(pl.col("amount").cast(pl.String))


def _missing_column(t: dict[str, pl.DataFrame]) -> None:
    t["devices"] = t["devices"].drop("device_id")


def _many(t: dict[str, pl.DataFrame]) -> None:
    _set("accounts", "account_id", 2, "a")(t)  # duplicate, and loan L4 of 'c' dangles
    _set("loans", "amount", 0, -5.0)(t)
    _set("loans", "amount", 1, float("nan"))(t)
    _set("transfers", "dst_account", 0, "a")(t)  # self transfer
    _set("devices", "device_id", 1, None)(t)


BROKEN = {
    "null_id": _set("accounts", "account_id", 1, None),
    "duplicate_id": _set("loans", "loan_id", 3, "L1"),
    "dangling_reference": _set("devices", "account_id", 2, "zz"),
    "wrong_type": _wrong_type,
    "missing_column": _missing_column,
    "many": _many,
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_same_data_error(spark, tmp_path: Path, case: str) -> None:
    t = tiny()
    BROKEN[case](t)
    d = write(t, tmp_path / case)
    local = problems(d, load)
    assert local, "the case must break a rule"
    assert repr(problems(d, load_with_spark)) == repr(local)  # repr: nan == nan


def test_quarantine_equal(spark, tmp_path: Path) -> None:
    t = tiny()
    _many(t)
    d = write(t, tmp_path / "q")
    a, b = both(d, quarantine=True)
    assert sum(q.height for q in a.quarantine.values()) >= 5
    assert_tables_equal(a, b)


def test_folder_tables_and_arrow_types(spark, tmp_path: Path) -> None:
    """Several files per table, in folders, with the type variants SPEC accepts."""
    t = tiny()
    d = write({k: v for k, v in t.items() if k != "loans"}, tmp_path / "f")
    loans = t["loans"].to_arrow()
    (d / "loans").mkdir()
    first = loans.slice(0, 2)
    second = pa.table(
        {
            "loan_id": pa.array(loans["loan_id"].to_pylist()[2:]).dictionary_encode(),
            "account_id": pa.array(loans["account_id"].to_pylist()[2:], pa.large_string()),
            "lender_id": loans["lender_id"].slice(2),
            "amount": pa.array([300, 200], pa.int32()),
            "issued_at": loans["issued_at"].slice(2).cast(pa.timestamp("ns")),
            "due_at": loans["due_at"].slice(2).cast(pa.timestamp("ms", tz="Asia/Shanghai")),
            "extra": pa.array(["x", "y"]),
        }
    )
    pq.write_table(second, d / "loans" / "part-1.parquet")
    pq.write_table(first, d / "loans" / "part-0.parquet")
    (d / "applications").mkdir()
    pq.write_table(
        pa.table(
            {
                "account_id": ["a", "b"],
                "lender_id": ["p1", "p2"],
                "applied_at": pa.array([dt.date(2026, 1, 1)] * 2).cast(pa.timestamp("s")),
            }
        ),
        d / "applications" / "a.parquet",
    )
    a, b = both(d)
    assert b.loans["loan_id"].to_list() == ["L1", "L2", "L3", "L4"]
    assert_tables_equal(a, b)


def test_parts_of_one_schema_keep_file_order(spark, tmp_path: Path) -> None:
    """Files read by one Spark read (same footer schema) are put back in file order."""
    t = tiny()
    d = write({k: v for k, v in t.items() if k != "loans"}, tmp_path / "p")
    loans = t["loans"].to_arrow()
    (d / "loans" / "day=2").mkdir(parents=True)
    pq.write_table(loans.slice(0, 1), d / "loans" / "day=2" / "part-9.parquet")
    pq.write_table(loans.slice(1, 2), d / "loans" / "part-0.parquet")
    pq.write_table(loans.slice(3), d / "loans" / "part-1.parquet")
    a, b = both(d)
    assert a.loans["loan_id"].to_list() == ["L1", "L2", "L3", "L4"]
    assert_tables_equal(a, b)


# ---------------------------------------------------------------------------------------
# a generated world


def test_world_equal(spark, world: Path) -> None:
    assert_tables_equal(*both(world))


def test_world_quarantine_equal(spark, world: Path, tmp_path: Path) -> None:
    d = tmp_path / "w"
    shutil.copytree(world, d)
    accounts = pl.read_parquet(d / "accounts.parquet")
    gone = accounts["account_id"][:3].to_list()
    accounts.filter(~pl.col("account_id").is_in(gone)).write_parquet(d / "accounts.parquet")
    loans = pl.read_parquet(d / "loans.parquet")
    loans.with_columns(
        amount=pl.when(pl.int_range(pl.len()) % 97 == 5).then(-1.0).otherwise("amount")
    ).write_parquet(d / "loans.parquet")
    a, b = both(d, quarantine=True)
    assert {"loans", "devices"} <= set(a.quarantine)
    assert_tables_equal(a, b)


def test_scan_equal(spark, world: Path) -> None:
    from graphrisk.scan import scan

    local, remote = scan(world, engine="local"), scan(world, engine="spark")
    assert local.flags.height and local.groups.height
    assert local.run_id == remote.run_id
    for part in ("flags", "decisions", "groups"):
        assert_frame_equal(getattr(local, part), getattr(remote, part), check_exact=True)
    assert remote.summary["engine"] == "spark"


# ---------------------------------------------------------------------------------------
# the seam


def test_every_row_rule_translates(spark) -> None:
    """Every row rule of graphrisk.io (far_future's datetime literal included) but the
    dangling reference, whose polars expression holds the referenced keys (a join in Spark)."""
    for name, spec in TABLES.items():
        for rule, _, _, expr in _row_rules(spec, empty_frame(name), {}):
            assert translate(expr) is not None, rule


def test_translated_rules_agree_with_polars(spark) -> None:
    """Translated rules (far_future, fill_null, is_duplicated, literals) agree with polars."""
    at = [dt.datetime(2199, 12, 31, 23, 59, 59, 999999), dt.datetime(2200, 1, 1), None]
    df = pl.DataFrame({"ts": at, "id": ["a", "a", "b'\\c"], "x": [1.0, float("nan"), None]})
    exprs = {
        "far": pl.col("ts") >= LATEST_TIME,
        "far_filled": (pl.col("ts") >= LATEST_TIME).fill_null(False),
        "dup": pl.col("id").is_duplicated(),
        "finite": pl.col("x").is_finite().fill_null(True),
        "quoted": pl.col("id") == "b'\\c",  # a SQL string literal, escaped
        "half": (pl.col("x") < 0.5) | (pl.col("x") * 2 > 1.5),
    }
    want = df.select(**exprs).to_dicts()
    sdf = spark.createDataFrame(df.with_columns(n=pl.int_range(pl.len())).to_arrow())
    sdf = sdf.withColumn("ts", F.col("ts").cast("timestamp_ntz"))
    got = sdf.select("n", *[translate(e).alias(n) for n, e in exprs.items()]).toArrow()
    assert pl.from_arrow(got).sort("n").drop("n").to_dicts() == want


def test_get_engine() -> None:
    assert isinstance(get_engine("local"), LocalEngine)
    assert isinstance(get_engine("spark"), SparkEngine)
    with pytest.raises(UsageError):
        get_engine("dask")


def test_no_pyspark_is_a_usage_error(tmp_path: Path, monkeypatch) -> None:
    from graphrisk.cli import main

    d = write(tiny(), tmp_path / "d")
    for mod in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark -> ImportError
    with pytest.raises(UsageError, match=r"pip install 'graphrisk\[spark\]'"):
        load_with_spark(d)
    with pytest.raises(SystemExit) as exit_:
        main(["scan", str(d), "--out", str(tmp_path / "run"), "--engine", "spark"])
    assert exit_.value.code == 2
    assert not (tmp_path / "run").exists()
