"""The Spark engine gives the local loader's outcome on every bad input the local tests know.

The bad inputs are not restated here: the fatal cases are ``tests/test_io.py``'s ``FATAL`` list
(built by its ``_build``), and the cases of ``tests/test_io_adversarial.py`` are rebuilt with its
helpers (the mutations are written inline in its test functions, so they are repeated below in
one line or two each). For each data directory, with and without quarantine,
:func:`~graphrisk.engines.spark.load_with_spark` must raise the same
:class:`~graphrisk.errors.DataError` as :func:`graphrisk.io.load` (the same problems, in the same
order: table, column, rule, count, message and example rows) or return equal tables (the same
rows in the same order, the same quarantined rows and reasons).

One local Spark session serves the whole module (the engine's default session).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import base_tables, set_col, write_data
from polars.testing import assert_frame_equal
from test_io import FATAL, Fatal, _build, _messy, several_row_problems
from test_io_adversarial import _to_folder

from graphrisk.errors import DataError
from graphrisk.io import TABLE_LEVEL_RULES as TABLE_LEVEL
from graphrisk.io import Tables, load
from graphrisk.schema import TABLE_ORDER

pytest.importorskip("pyspark")

from graphrisk.engines.spark import load_with_spark, spark_session


@pytest.fixture(scope="module", autouse=True)
def spark():
    """One local Spark session for the module (the engine's default session)."""
    return spark_session()


def _outcome(loader: Callable[..., Tables], d: Path, quarantine: bool) -> Tables | list[dict]:
    try:
        return loader(d, quarantine=quarantine)
    except DataError as e:
        return [p.to_dict() for p in e.problems]


def assert_same_outcome(d: Path, quarantine: bool = False) -> Tables | list[dict]:
    """Both loaders give the same problems, or equal tables; returns the local outcome."""
    local = _outcome(load, d, quarantine)
    remote = _outcome(load_with_spark, d, quarantine)
    if isinstance(local, list):
        assert isinstance(remote, list), f"local: {local}; spark loaded the data"
        assert repr(remote) == repr(local)  # repr: nan == nan
        return local
    assert not isinstance(remote, list), f"local loaded the data; spark: {remote}"
    for name in TABLE_ORDER:
        x, y = local.get(name), remote.get(name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert_frame_equal(x, y, check_exact=True)
    assert sorted(local.quarantine) == sorted(remote.quarantine)
    for name, q in local.quarantine.items():
        assert_frame_equal(q, remote.quarantine[name], check_exact=True)
    return local


# ---------------------------------------------------------------------------------------
# tests/test_io.py: FATAL


@pytest.mark.parametrize("case", FATAL, ids=[c.id for c in FATAL])
def test_fatal_case(case: Fatal, tmp_path: Path) -> None:
    d = _build(case, tmp_path / "data")
    local = assert_same_outcome(d)
    assert isinstance(local, list) and local, "the case must break a rule"
    if case.rule not in TABLE_LEVEL:  # with quarantine the same rows are set aside
        kept = assert_same_outcome(d, quarantine=True)
        assert isinstance(kept, Tables) and case.table in kept.quarantine


# ---------------------------------------------------------------------------------------
# tests/test_io_adversarial.py, and several problems at once (tests/test_io.py)


def _hive_parts(d: Path) -> None:
    t = base_tables()
    write_data(d, t)
    _to_folder(d, "loans", {"000000_0": t["loans"].slice(0, 2), "000001_0": t["loans"].slice(2)})


def _bookkeeping(d: Path) -> None:
    t = base_tables()
    write_data(d, t)
    folder = _to_folder(d, "transfers", {"part-0.parquet": t["transfers"]})
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".part-0.parquet.crc").write_bytes(b"crc")
    (folder / "_temporary").mkdir()
    (folder / "_temporary" / "half-written.csv").write_text("a,b\n")


def _nested_parts(d: Path) -> None:
    """A Hive-style partition folder beside a plain part (read as files, no partition column)."""
    t = base_tables()
    write_data(d, t)
    _to_folder(
        d,
        "devices",
        {"part-0.parquet": t["devices"].slice(0, 1), "day=2/part-1.parquet": t["devices"].slice(1)},
    )


def _placeholder_due_at(d: Path) -> None:
    t = base_tables()
    due = pa.array([dt.datetime(9999, 12, 31)] * 3, pa.timestamp("ms"))
    write_data(d, {**t, "loans": set_col(t["loans"], "due_at", due)})


def _row_and_table_problems(d: Path) -> None:
    t = base_tables()
    t["accounts"] = set_col(t["accounts"], "credit_limit", [1000.0, -1.0, 3000.0])
    t["transfers"] = set_col(t["transfers"], "ts", ["2026-03-01 12:00", "2026-03-01 13:00"])
    t["devices"] = set_col(t["devices"], "account_id", ["a", "ghost"])
    write_data(d, t)


def _references_into_broken(d: Path) -> None:
    t = base_tables()
    t["accounts"] = set_col(t["accounts"], "account_id", pa.array([1, 2, 3], pa.int64()))
    t["loans"] = set_col(t["loans"], "amount", [500.0, -800.0, 1200.0])
    write_data(d, t)


def _broken_part(d: Path) -> None:
    t = base_tables()
    t["accounts"] = set_col(t["accounts"], "credit_limit", [1000.0, -1.0, 3000.0])
    write_data(d, t)
    loans = t["loans"]
    _to_folder(d, "loans", {"part-0.parquet": set_col(loans.slice(0, 2), "amount", [-1.0, 1.0])})
    pq.write_table(set_col(loans.slice(2), "amount", ["1200"]), d / "loans" / "part-1.parquet")


def _long_value(d: Path) -> None:
    t = base_tables()
    write_data(d, {**t, "loans": set_col(t["loans"], "account_id", ["a", "x" * 100_000, "c"])})


def _minus_infinity(d: Path) -> None:
    t = base_tables()
    amount = [float("-inf"), -5.0]
    write_data(d, {**t, "transfers": set_col(t["transfers"], "amount", amount)})


def _invalid_utf8_devices(d: Path) -> None:
    t = base_tables()
    raw = pa.array([b"d1", b"d\xe9v"], pa.binary())  # Latin-1 'é', not UTF-8
    ids = pa.Array.from_buffers(pa.string(), 2, raw.buffers())
    write_data(d, {**t, "devices": set_col(t["devices"], "device_id", ids)})


def _invalid_utf8_and_missing_column(d: Path) -> None:
    """A file with a missing column is still checked for bad text (one pass, every problem)."""
    _invalid_utf8_devices(d)
    devices = pq.read_table(d / "devices.parquet")
    pq.write_table(devices.drop_columns(["ts"]), d / "devices.parquet")


def _several_table_problems(d: Path) -> None:
    t = base_tables()
    t["transfers"] = None  # type: ignore[assignment]
    t["loans"] = set_col(t["loans"], "amount", ["1", "2", "3"])
    t["devices"] = t["devices"].drop_columns(["device_id"])
    write_data(d, t)


def _ambiguous_and_rows(d: Path) -> None:
    """A table-finding problem (NAME.parquet and NAME/) beside row problems elsewhere."""
    t = base_tables()
    t["transfers"] = set_col(t["transfers"], "amount", [0.0, 50.0])
    write_data(d, t)
    (d / "loans").mkdir()
    pq.write_table(t["loans"].slice(0, 1), d / "loans" / "part-0.parquet")


def _messy_data(d: Path) -> None:
    assert _messy(d.parent) == d  # row problems in every table (tests/test_io.py)


def _placeholders_everywhere(d: Path) -> None:
    """far_future in several tables and columns, nanosecond and zoned timestamps included."""
    t = base_tables()
    far = dt.datetime(2200, 1, 1)
    t["loans"] = set_col(
        t["loans"], "issued_at", pa.array([far, far - dt.timedelta(microseconds=1), None])
    )
    t["devices"] = set_col(
        t["devices"],
        "ts",
        pa.array([dt.datetime(2262, 1, 1), dt.datetime(2026, 3, 1)], pa.timestamp("ns", "UTC")),
    )
    t["applications"] = set_col(
        t["applications"],
        "applied_at",
        pa.array([dt.datetime(9999, 12, 31)] * 2, pa.timestamp("s")),
    )
    write_data(d, t)


CASES: dict[str, Callable[[Path], None]] = {
    "hive-part-files": _hive_parts,
    "bookkeeping-entries": _bookkeeping,
    "nested-part-folder": _nested_parts,
    "placeholder-due-at": _placeholder_due_at,
    "row-and-table-problems": _row_and_table_problems,
    "references-into-broken-table": _references_into_broken,
    "broken-part-own-table-only": _broken_part,
    "very-long-value": _long_value,
    "minus-infinity": _minus_infinity,
    "invalid-utf8-devices": _invalid_utf8_devices,
    "invalid-utf8-and-missing-column": _invalid_utf8_and_missing_column,
    "several-row-problems": several_row_problems,
    "several-table-problems": _several_table_problems,
    "ambiguous-and-rows": _ambiguous_and_rows,
    "messy": _messy_data,
    "placeholders-everywhere": _placeholders_everywhere,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_case(case: str, tmp_path: Path) -> None:
    d = tmp_path / "data"
    CASES[case](d)
    assert_same_outcome(d)
    assert_same_outcome(d, quarantine=True)


# ---------------------------------------------------------------------------------------
# through the CLI: exit codes and the quarantine folder


def test_scan_exit_codes_and_quarantine_agree(tmp_path: Path, cli) -> None:
    """A 9999-12-31 timestamp was an internal error (exit 1) with --engine spark."""
    (case,) = [c for c in FATAL if c.id == "placeholder-repaid-at"]
    d = _build(case, tmp_path / "data")
    for engine in ("local", "spark"):
        ran = cli("scan", d, "--out", tmp_path / engine, "--engine", engine)
        ran.assert_clean_failure(3)
        assert "loans.repaid_at" in ran.err
    for engine in ("local", "spark"):
        ran = cli("scan", d, "--out", tmp_path / engine, "--engine", engine, "--quarantine")
        assert ran.code == 0, ran.err
    local, spark = (
        pl.read_parquet(tmp_path / e / "quarantine" / "loans.parquet") for e in ("local", "spark")
    )
    assert local["loan_id"].to_list() == ["L2"]
    assert_frame_equal(local, spark, check_exact=True)
