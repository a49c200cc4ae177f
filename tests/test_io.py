"""Every input rule of SPEC.md against real broken Parquet files.

Each fatal case is checked three ways: :func:`graphrisk.load` raises a DataError naming the
table, the column, the count and example rows; ``graphrisk validate`` and ``graphrisk scan``
exit 3 with a message and no traceback; and the scan leaves no run directory behind.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import T0, base_tables, drop_col, run_cli, set_col, write_data

from graphrisk.errors import DataError
from graphrisk.io import TABLE_LEVEL_RULES, load

Tables = dict[str, pa.Table]


# ---------------------------------------------------------------------------------------
# fatal cases


@dataclass
class Fatal:
    """A broken data directory and the problem it must be reported as."""

    id: str
    build: Callable[[Tables, Path], None]  # mutate the tables, or the written directory
    table: str
    column: str | None
    rule: str
    count: int
    examples: list[dict] | None = None  # each must match one example (on the given keys)
    after_write: bool = False  # build runs on the directory after the tables are written
    message: str = ""  # a substring of the problem's message


def _t(name: str, col: str, values) -> Callable[[Tables, Path], None]:
    def build(t: Tables, _: Path) -> None:
        t[name] = set_col(t[name], col, values)

    return build


def _drop(name: str, col: str) -> Callable[[Tables, Path], None]:
    def build(t: Tables, _: Path) -> None:
        t[name] = drop_col(t[name], col)

    return build


def _missing_table(t: Tables, _: Path) -> None:
    t["transfers"] = None  # type: ignore[assignment]


def _empty_folder(t: Tables, d: Path) -> None:
    t["transfers"] = None  # type: ignore[assignment]
    (d / "transfers").mkdir(parents=True)


def _garbage_file(d: Path) -> None:
    (d / "devices.parquet").write_bytes(b"this is not parquet\n" * 20)


def _truncated_file(d: Path) -> None:
    raw = (d / "loans.parquet").read_bytes()
    (d / "loans.parquet").write_bytes(raw[: len(raw) // 2])


def _empty_file(d: Path) -> None:
    (d / "devices.parquet").write_bytes(b"")


def _corrupt_part_in_folder(d: Path) -> None:
    loans = pq.read_table(d / "loans.parquet")
    (d / "loans.parquet").unlink()
    (d / "loans").mkdir()
    pq.write_table(loans.slice(0, 2), d / "loans" / "part-0.parquet")
    (d / "loans" / "part-1.parquet").write_bytes(b"PAR1 broken")


def _file_and_folder(d: Path) -> None:
    loans = pq.read_table(d / "loans.parquet")
    (d / "loans").mkdir()
    pq.write_table(loans.slice(0, 1), d / "loans" / "part-0.parquet")


def _csv_in_folder(d: Path) -> None:
    transfers = pq.read_table(d / "transfers.parquet")
    (d / "transfers.parquet").unlink()
    (d / "transfers").mkdir()
    pq.write_table(transfers.slice(0, 1), d / "transfers" / "part-0.parquet")
    pl.from_arrow(transfers.slice(1)).write_csv(d / "transfers" / "part-1.csv")


def _csv_renamed(d: Path) -> None:
    pl.read_parquet(d / "accounts.parquet").write_csv(d / "accounts.csv")
    (d / "accounts.csv").replace(d / "accounts.parquet")


def _broken_link(d: Path) -> None:
    (d / "devices.parquet").unlink()
    (d / "devices.parquet").symlink_to(d / "gone.parquet")


def _column_twice(t: Tables, _: Path) -> None:
    loans = t["loans"]
    t["loans"] = pa.table([*loans.columns, loans["amount"]], names=[*loans.column_names, "amount"])


def _invalid_utf8(t: Tables, _: Path) -> None:
    ids = pa.array([b"a", b"\xff\xfeb", b"c"], pa.binary())
    # a string column whose bytes are not UTF-8: pyarrow writes it as it is, polars cannot read it
    t["accounts"] = set_col(
        t["accounts"], "account_id", pa.Array.from_buffers(pa.string(), 3, ids.buffers())
    )


def _string_amount_in_one_part(d: Path) -> None:
    loans = pq.read_table(d / "loans.parquet")
    bad = set_col(loans.slice(2), "amount", ["1200"])
    _part_folder(d, "loans", [loans.slice(0, 2), bad])


def _dup(name: str, col: str, values) -> Callable[[Tables, Path], None]:
    return _t(name, col, values)


FATAL = [
    Fatal("missing-table", _missing_table, "transfers", None, "missing_table", 0),
    Fatal(
        "empty-folder",
        _empty_folder,
        "transfers",
        None,
        "missing_table",
        0,
        message="empty folder",
    ),
    Fatal(
        "garbage-file",
        lambda t, d: _garbage_file(d),
        "devices",
        None,
        "unreadable_file",
        0,
        after_write=True,
        message="devices.parquet",
    ),
    Fatal(
        "truncated-file",
        lambda t, d: _truncated_file(d),
        "loans",
        None,
        "unreadable_file",
        0,
        after_write=True,
    ),
    Fatal(
        "zero-byte-file",
        lambda t, d: _empty_file(d),
        "devices",
        None,
        "unreadable_file",
        0,
        after_write=True,
    ),
    Fatal(
        "corrupt-part-in-folder",
        lambda t, d: _corrupt_part_in_folder(d),
        "loans",
        None,
        "unreadable_file",
        0,
        after_write=True,
        message="part-1.parquet",
    ),
    Fatal(
        "missing-column-lender",
        _drop("loans", "lender_id"),
        "loans",
        "lender_id",
        "missing_column",
        3,
    ),
    Fatal("missing-column-ts", _drop("devices", "ts"), "devices", "ts", "missing_column", 2),
    Fatal(
        "missing-column-limit",
        _drop("accounts", "credit_limit"),
        "accounts",
        "credit_limit",
        "missing_column",
        3,
    ),
    Fatal(
        "missing-column-applications",
        _drop("applications", "applied_at"),
        "applications",
        "applied_at",
        "missing_column",
        2,
    ),
    Fatal(
        "amount-as-string",
        _t("loans", "amount", ["500", "800", "1200"]),
        "loans",
        "amount",
        "wrong_type",
        3,
        [{"amount": "500"}],
        message="string",
    ),
    Fatal(
        "ts-as-string",
        _t("transfers", "ts", ["2026-03-01 12:00", "2026-03-01 13:00"]),
        "transfers",
        "ts",
        "wrong_type",
        2,
        [{"ts": "2026-03-01 12:00"}],
    ),
    Fatal(
        "id-as-integer",
        _t("accounts", "account_id", pa.array([1, 2, 3], pa.int64())),
        "accounts",
        "account_id",
        "wrong_type",
        3,
        [{"account_id": 1}],
    ),
    Fatal(
        "overdue-days-as-float",
        _t("loans", "overdue_days", [0.0, 1.5, 2.0]),
        "loans",
        "overdue_days",
        "wrong_type",
        3,
    ),
    Fatal(
        "issued-at-as-date",  # only opened_at may be a date
        _t("loans", "issued_at", [dt.date(2026, 3, 1)] * 3),
        "loans",
        "issued_at",
        "wrong_type",
        3,
    ),
    Fatal(
        "limit-as-bool",
        _t("accounts", "credit_limit", [True, False, True]),
        "accounts",
        "credit_limit",
        "wrong_type",
        3,
    ),
    Fatal(
        "overdue-days-beyond-int64",
        _t("loans", "overdue_days", pa.array([2**63 + 5, 0, 0], pa.uint64())),
        "loans",
        "overdue_days",
        "bad_value",
        3,
    ),
    Fatal(
        "null-account-id",
        _t("accounts", "account_id", pa.array(["a", None, "c"], pa.string())),
        "accounts",
        "account_id",
        "null_value",
        1,
        [{"account_id": None, "credit_limit": 2000.0}],
    ),
    Fatal(
        "null-loan-id",
        _t("loans", "loan_id", pa.array([None, "L2", None], pa.string())),
        "loans",
        "loan_id",
        "null_value",
        2,
        [{"loan_id": None, "account_id": "a", "lender_id": "lenderA", "amount": 500.0}],
    ),
    Fatal(
        "null-transfer-id",
        _t("transfers", "transfer_id", pa.array([None, "T2"], pa.string())),
        "transfers",
        "transfer_id",
        "null_value",
        1,
        [{"transfer_id": None, "src_account": "a", "dst_account": "b"}],
    ),
    Fatal(
        "null-issued-at",
        _t("loans", "issued_at", pa.array([T0, None, T0], pa.timestamp("us"))),
        "loans",
        "issued_at",
        "null_value",
        1,
        [{"loan_id": "L2", "issued_at": None}],
    ),
    Fatal(
        "null-device-id",
        _t("devices", "device_id", pa.array(["d1", None], pa.string())),
        "devices",
        "device_id",
        "null_value",
        1,
        [{"account_id": "b", "device_id": None}],
    ),
    Fatal(
        "duplicate-account-id",
        _dup("accounts", "account_id", ["a", "b", "b"]),
        "accounts",
        "account_id",
        "duplicate_id",
        2,
        [{"account_id": "b", "credit_limit": 2000.0}, {"account_id": "b", "credit_limit": 3000.0}],
    ),
    Fatal(
        "duplicate-loan-id",
        _dup("loans", "loan_id", ["L1", "L1", "L3"]),
        "loans",
        "loan_id",
        "duplicate_id",
        2,
        [{"loan_id": "L1", "account_id": "a"}, {"loan_id": "L1", "account_id": "b"}],
    ),
    Fatal(
        "duplicate-transfer-id",
        _dup("transfers", "transfer_id", ["T1", "T1"]),
        "transfers",
        "transfer_id",
        "duplicate_id",
        2,
        [{"transfer_id": "T1", "src_account": "b"}],
    ),
    Fatal(
        "negative-limit",
        _t("accounts", "credit_limit", [1000.0, -1.0, -5.0]),
        "accounts",
        "credit_limit",
        "negative_limit",
        2,
        [{"account_id": "b", "credit_limit": -1.0}, {"account_id": "c", "credit_limit": -5.0}],
    ),
    Fatal(
        "nan-limit",
        _t("accounts", "credit_limit", [1000.0, float("nan"), 3000.0]),
        "accounts",
        "credit_limit",
        "not_finite",
        1,
        [{"account_id": "b"}],
    ),
    Fatal(
        "loan-amount-zero-or-negative",
        _t("loans", "amount", [0.0, -800.0, 1200.0]),
        "loans",
        "amount",
        "non_positive_amount",
        2,
        [{"loan_id": "L1", "amount": 0.0}, {"loan_id": "L2", "amount": -800.0}],
    ),
    Fatal(
        "loan-amount-nan",
        _t("loans", "amount", [500.0, float("nan"), 1200.0]),
        "loans",
        "amount",
        "not_finite",
        1,
        [{"loan_id": "L2"}],
    ),
    Fatal(
        "transfer-amount-zero",
        _t("transfers", "amount", [0.0, 50.0]),
        "transfers",
        "amount",
        "non_positive_amount",
        1,
        [{"transfer_id": "T1", "amount": 0.0}],
    ),
    Fatal(
        "transfer-amount-negative-int",
        _t("transfers", "amount", pa.array([100, -50], pa.int32())),
        "transfers",
        "amount",
        "non_positive_amount",
        1,
        [{"transfer_id": "T2", "amount": -50.0}],
    ),
    Fatal(
        "transfer-amount-infinite",
        _t("transfers", "amount", [float("inf"), 50.0]),
        "transfers",
        "amount",
        "not_finite",
        1,
        [{"transfer_id": "T1"}],
    ),
    Fatal(
        "due-before-issue",
        _t(
            "loans",
            "due_at",
            pa.array(
                [T0 - dt.timedelta(days=1), None, T0 + dt.timedelta(days=30)], pa.timestamp("us")
            ),
        ),
        "loans",
        "due_at",
        "due_before_issue",
        1,
        [{"loan_id": "L1", "due_at": T0 - dt.timedelta(days=1)}],
    ),
    Fatal(
        "repaid-before-issue",
        _t(
            "loans",
            "repaid_at",
            pa.array([None, T0 - dt.timedelta(hours=1), None], pa.timestamp("us")),
        ),
        "loans",
        "repaid_at",
        "repaid_before_issue",
        1,
        [{"loan_id": "L2", "repaid_at": T0 - dt.timedelta(hours=1)}],
    ),
    Fatal(
        "negative-overdue",
        _t("loans", "overdue_days", pa.array([0, -2, 3], pa.int32())),
        "loans",
        "overdue_days",
        "negative_overdue",
        1,
        [{"loan_id": "L2", "overdue_days": -2}],
    ),
    Fatal(
        "self-transfer",
        _t("transfers", "dst_account", ["a", "EXT-merchant"]),
        "transfers",
        "dst_account",
        "self_transfer",
        1,
        [{"transfer_id": "T1"}],
    ),
    Fatal(
        "dangling-loan-account",
        _t("loans", "account_id", ["a", "ghost", "ghost2"]),
        "loans",
        "account_id",
        "dangling_reference",
        2,
        [{"loan_id": "L2", "account_id": "ghost"}, {"loan_id": "L3", "account_id": "ghost2"}],
    ),
    Fatal(
        "dangling-device-account",
        _t("devices", "account_id", ["a", "ghost"]),
        "devices",
        "account_id",
        "dangling_reference",
        1,
        [{"account_id": "ghost", "device_id": "d2"}],
    ),
    Fatal(
        "dangling-application-account",
        _t("applications", "account_id", ["ghost", "c"]),
        "applications",
        "account_id",
        "dangling_reference",
        1,
        [{"account_id": "ghost", "lender_id": "lenderA"}],
    ),
    Fatal(
        "file-and-folder",
        lambda t, d: _file_and_folder(d),
        "loans",
        None,
        "ambiguous_table",
        0,
        after_write=True,
        message="both loans.parquet and loans/",
    ),
    Fatal(
        "csv-in-folder",
        lambda t, d: _csv_in_folder(d),
        "transfers",
        None,
        "not_parquet",
        0,
        after_write=True,
        message="part-1.csv is not a Parquet file",
    ),
    Fatal(
        "csv-renamed-parquet",
        lambda t, d: _csv_renamed(d),
        "accounts",
        None,
        "unreadable_file",
        0,
        after_write=True,
        message="a CSV file?",
    ),
    Fatal(
        "broken-link",
        lambda t, d: _broken_link(d),
        "devices",
        None,
        "unreadable_file",
        0,
        after_write=True,
        message="broken symbolic link",
    ),
    Fatal("column-twice", _column_twice, "loans", "amount", "duplicate_column", 3),
    Fatal(
        "invalid-utf8",
        _invalid_utf8,
        "accounts",
        "account_id",
        "invalid_utf8",
        1,
        [{"account_id": b"\xff\xfeb"}],
    ),
    Fatal(
        "wrong-type-in-one-part",
        lambda t, d: _string_amount_in_one_part(d),
        "loans",
        "amount",
        "wrong_type",
        1,
        [{"amount": "1200"}],
        after_write=True,
        message="in loans/part-00001.parquet",
    ),
    Fatal(
        "placeholder-repaid-at",
        _t(
            "loans",
            "repaid_at",
            pa.array([None, dt.datetime(9999, 12, 31), None], pa.timestamp("ms")),
        ),
        "loans",
        "repaid_at",
        "far_future",
        1,
        [{"loan_id": "L2"}],
        message="placeholder",
    ),
    Fatal(
        "placeholder-opened-at",
        _t("accounts", "opened_at", pa.array([dt.date(2999, 1, 1)] * 3, pa.date32())),
        "accounts",
        "opened_at",
        "far_future",
        3,
        [{"account_id": "a"}],
    ),
    Fatal(
        # a millisecond timestamp beyond Python's year 9999 (the example is shown as text)
        "timestamp-beyond-year-9999",
        _t(
            "loans",
            "repaid_at",
            pa.array([None, 565_000_000_000_000, None], pa.int64()).cast(pa.timestamp("ms")),
        ),
        "loans",
        "repaid_at",
        "far_future",
        1,
        [{"loan_id": "L2"}],
        message="placeholder",
    ),
]


def _build(case: Fatal, d: Path) -> Path:
    t = base_tables()
    if not case.after_write:
        case.build(t, d)
    write_data(d, t)
    if case.after_write:
        case.build(t, d)
    return d


def _matches(example: dict, want: dict) -> bool:
    def same(a, b):
        if isinstance(a, float) and isinstance(b, float) and a != a:
            return b != b
        return a == b

    return all(k in example and same(example[k], v) for k, v in want.items())


@pytest.mark.parametrize("case", FATAL, ids=[c.id for c in FATAL])
def test_fatal_problem_is_reported_and_stops_the_scan(case: Fatal, tmp_path: Path, cli) -> None:
    data = _build(case, tmp_path / "data")

    with pytest.raises(DataError) as info:
        load(data)
    found = [
        p
        for p in info.value.problems
        if (p.table, p.column, p.rule) == (case.table, case.column, case.rule)
    ]
    assert found, [p.render() for p in info.value.problems]
    p = found[0]
    assert p.count == case.count, p.render()
    assert case.message in p.message
    for want in case.examples or []:
        assert any(_matches(e, want) for e in p.examples), (want, p.examples)
    if case.rule not in (
        "missing_table",
        "unreadable_file",
        "missing_column",
        "ambiguous_table",
        "not_parquet",
        "duplicate_column",
    ):
        assert 1 <= len(p.examples) <= 3

    where = case.table + (f".{case.column}" if case.column else "")
    ran = cli("validate", data)
    ran.assert_clean_failure(3)
    assert where in ran.err
    assert "(0 rows)" not in ran.err  # a missing table or file has no rows to count
    assert ran.out == ""

    ran = cli("validate", data, "--json")
    assert ran.code == 3
    doc = ran.json()
    assert doc["valid"] is False
    assert any(
        (q["table"], q["column"], q["rule"], q["count"])
        == (case.table, case.column, case.rule, case.count)
        for q in doc["problems"]
    )

    out = tmp_path / "run"
    ran = cli("scan", data, "--out", out)
    ran.assert_clean_failure(3)
    assert where in ran.err
    assert not out.exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["data"]  # no temporary left behind

    # row-level problems can be quarantined; table-level problems stay fatal
    table_level = case.rule in TABLE_LEVEL_RULES
    ran = cli("scan", data, "--out", out, "--quarantine")
    if table_level:
        ran.assert_clean_failure(3)
        assert not out.exists()
    else:
        assert ran.code == 0, ran.err
        q = pl.read_parquet(out / "quarantine" / f"{case.table}.parquet")
        assert q.height >= case.count
        assert q["reason"].str.contains(case.rule).sum() == case.count


def test_fatal_through_the_real_entry_point(tmp_path: Path) -> None:
    """The subprocess entry point maps a DataError to exit 3, message on stderr, no run dir."""
    data = _build(FATAL[[c.id for c in FATAL].index("negative-limit")], tmp_path / "data")
    for args in (("validate", data), ("scan", data, "--out", tmp_path / "run")):
        ran = run_cli(*args)
        ran.assert_clean_failure(3)
        assert "accounts.credit_limit" in ran.err
        assert "account_id='b'" in ran.err
    assert not (tmp_path / "run").exists()


def several_row_problems(d: Path) -> Path:
    """A data directory with row problems in four tables (also used by the Spark parity)."""
    t = base_tables()
    t["accounts"] = set_col(t["accounts"], "credit_limit", [1000.0, -1.0, 3000.0])
    t["loans"] = set_col(t["loans"], "amount", [-1.0, 800.0, 1200.0])
    t["loans"] = set_col(t["loans"], "loan_id", ["L1", "L1", "L3"])
    t["transfers"] = set_col(t["transfers"], "dst_account", ["a", "EXT"])
    t["devices"] = set_col(t["devices"], "account_id", ["a", "ghost"])
    return write_data(d, t)


def test_several_problems_are_all_reported(tmp_path: Path, cli) -> None:
    data = several_row_problems(tmp_path / "data")
    with pytest.raises(DataError) as info:
        load(data)
    got = {(p.table, p.column, p.rule) for p in info.value.problems}
    assert got == {
        ("accounts", "credit_limit", "negative_limit"),
        ("loans", "amount", "non_positive_amount"),
        ("loans", "loan_id", "duplicate_id"),
        ("transfers", "dst_account", "self_transfer"),
        ("devices", "account_id", "dangling_reference"),
    }
    ran = cli("validate", data)
    ran.assert_clean_failure(3)
    assert "5 problems" in ran.err
    for table, column, _ in got:
        assert f"{table}.{column}" in ran.err


def test_several_table_level_problems_are_all_reported(tmp_path: Path) -> None:
    t = base_tables()
    t["transfers"] = None  # type: ignore[assignment]
    t["loans"] = set_col(t["loans"], "amount", ["1", "2", "3"])
    t["devices"] = drop_col(t["devices"], "device_id")
    data = write_data(tmp_path / "data", t)
    with pytest.raises(DataError) as info:
        load(data)
    got = {(p.table, p.column, p.rule) for p in info.value.problems}
    assert got == {
        ("transfers", None, "missing_table"),
        ("loans", "amount", "wrong_type"),
        ("devices", "device_id", "missing_column"),
    }


# ---------------------------------------------------------------------------------------
# accepted variants


def test_base_data_is_valid(small_data: Path, cli) -> None:
    t = load(small_data)
    assert t.counts() == {
        "accounts": 3,
        "loans": 3,
        "transfers": 2,
        "devices": 2,
        "applications": 2,
    }
    ran = cli("validate", small_data)
    assert ran.code == 0, ran.err
    assert ran.err == ""
    assert "accounts 3 rows" in ran.out
    ran = cli("validate", small_data, "--json")
    assert ran.json() == {"valid": True, "rows": t.counts(), "warnings": []}


def _loads(tmp_path: Path, t: Tables):
    return load(write_data(tmp_path / "data", t))


def _part_folder(d: Path, name: str, parts: list[pa.Table], folder: str | None = None) -> None:
    (d / f"{name}.parquet").unlink()
    (d / (folder or name)).mkdir()
    for i, part in enumerate(parts):
        pq.write_table(part, d / (folder or name) / f"part-{i:05d}.parquet")


def test_folder_of_files_with_mixed_integer_widths(tmp_path: Path) -> None:
    t = base_tables()
    d = write_data(tmp_path / "data", t)
    loans = t["loans"]
    parts = [
        set_col(loans.slice(0, 1), "amount", pa.array([500], pa.int32())),
        set_col(loans.slice(1, 1), "amount", pa.array([800], pa.int64())),
        set_col(loans.slice(2, 1), "amount", pa.array([1200.0], pa.float32())),
    ]
    parts[1] = set_col(parts[1], "overdue_days", pa.array([0], pa.int8()))
    parts[2] = drop_col(parts[2], "repaid_at")  # optional column absent in one part only
    _part_folder(d, "loans", parts)
    # a folder may nest (Hive-style partitions) and carry bookkeeping files
    tr = t["transfers"]
    (d / "transfers.parquet").unlink()
    (d / "transfers" / "day=1").mkdir(parents=True)
    pq.write_table(tr.slice(0, 1), d / "transfers" / "day=1" / "a.parquet")
    pq.write_table(tr.slice(1, 1), d / "transfers" / "b.parquet")
    (d / "transfers" / "_SUCCESS").write_text("")
    got = load(d)
    assert got.loans.height == 3
    assert got.loans.schema["amount"] == pl.Float64
    assert got.loans.schema["overdue_days"] == pl.Int64
    assert sorted(got.loans["amount"].to_list()) == [500.0, 800.0, 1200.0]
    assert got.loans.filter(pl.col("loan_id") == "L3")["repaid_at"].to_list() == [None]
    assert sorted(got.transfers["transfer_id"].to_list()) == ["T1", "T2"]


def test_spark_style_name_parquet_directory(tmp_path: Path) -> None:
    t = base_tables()
    d = write_data(tmp_path / "data", t)
    _part_folder(
        d, "devices", [t["devices"].slice(0, 1), t["devices"].slice(1, 1)], "devices.parquet"
    )
    (d / "devices.parquet" / "_SUCCESS").write_text("")
    (d / "devices.parquet" / "_temporary").mkdir()
    (d / "devices.parquet" / "_temporary" / "half.parquet").write_bytes(b"partial")
    assert load(d).devices.height == 2


def test_optional_columns_absent(tmp_path: Path) -> None:
    t = base_tables()
    for c in ("due_at", "repaid_at", "overdue_days"):
        t["loans"] = drop_col(t["loans"], c)
    for c in ("customer_id", "city"):
        t["accounts"] = drop_col(t["accounts"], c)
    for c in ("ip", "city"):
        t["devices"] = drop_col(t["devices"], c)
    got = _loads(tmp_path, t)
    assert got.loans["overdue_days"].to_list() == [0, 0, 0]
    assert got.loans.schema["overdue_days"] == pl.Int64
    assert got.loans["due_at"].null_count() == 3
    assert got.accounts.schema["customer_id"] == pl.String
    assert got.devices["ip"].null_count() == 2


def test_overdue_days_null_defaults_to_zero(tmp_path: Path) -> None:
    t = base_tables()
    t["loans"] = set_col(t["loans"], "overdue_days", pa.array([None, 4, None], pa.int16()))
    assert _loads(tmp_path, t).loans["overdue_days"].to_list() == [0, 4, 0]


def test_all_null_optional_column_of_null_type(tmp_path: Path) -> None:
    t = base_tables()
    t["loans"] = set_col(t["loans"], "repaid_at", pa.nulls(3))
    got = _loads(tmp_path, t)
    assert got.loans.schema["repaid_at"] == pl.Datetime("us")
    assert got.loans["repaid_at"].null_count() == 3


@pytest.mark.parametrize(
    "arr",
    [
        pa.array([500, 800, 1200], pa.int32()),
        pa.array([500, 800, 1200], pa.int64()),
        pa.array([500, 800, 1200], pa.uint16()),
        pa.array([500.0, 800.0, 1200.0], pa.float32()),
        pa.array([500.0, 800.0, 1200.0], pa.float64()),
        pa.array(
            [decimal.Decimal("500.00"), decimal.Decimal("800"), decimal.Decimal("1200")],
            pa.decimal128(12, 2),
        ),
    ],
    ids=lambda a: str(a.type),
)
def test_amount_number_types(arr: pa.Array, tmp_path: Path) -> None:
    t = base_tables()
    t["loans"] = set_col(t["loans"], "amount", arr)
    t["accounts"] = set_col(t["accounts"], "credit_limit", arr)
    got = _loads(tmp_path, t)
    assert got.loans.schema["amount"] == pl.Float64
    assert got.loans["amount"].to_list() == [500.0, 800.0, 1200.0]
    assert got.accounts["credit_limit"].to_list() == [500.0, 800.0, 1200.0]


@pytest.mark.parametrize(
    "kind",
    ["string", "large_string", "dictionary", "dictionary_large", "string_view"],
)
def test_string_types(kind: str, tmp_path: Path) -> None:
    def conv(values: list[str]) -> pa.Array:
        if kind == "string":
            return pa.array(values, pa.string())
        if kind == "large_string":
            return pa.array(values, pa.large_string())
        if kind == "dictionary":
            return pa.array(values, pa.string()).dictionary_encode()
        if kind == "dictionary_large":
            return pa.array(values, pa.large_string()).dictionary_encode()
        return pa.array(values, pa.string_view())

    t = base_tables()
    t["accounts"] = set_col(t["accounts"], "account_id", conv(["a", "b", "c"]))
    t["loans"] = set_col(t["loans"], "account_id", conv(["a", "b", "c"]))
    t["loans"] = set_col(t["loans"], "lender_id", conv(["lenderA", "lenderB", "lenderA"]))
    t["devices"] = set_col(t["devices"], "device_id", conv(["d1", "d1"]))
    got = _loads(tmp_path, t)
    assert got.accounts.schema["account_id"] == pl.String
    assert got.loans["lender_id"].to_list() == ["lenderA", "lenderB", "lenderA"]
    assert got.devices["device_id"].to_list() == ["d1", "d1"]


def test_dictionary_strings_with_duplicates_are_still_caught(tmp_path: Path) -> None:
    t = base_tables()
    t["accounts"] = set_col(
        t["accounts"], "account_id", pa.array(["a", "a", "c"]).dictionary_encode()
    )
    with pytest.raises(DataError) as info:
        _loads(tmp_path, t)
    assert any(p.rule == "duplicate_id" and p.count == 2 for p in info.value.problems)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_timestamp_units(unit: str, tmp_path: Path) -> None:
    t = base_tables()
    when = dt.datetime(2026, 3, 1, 12, 30, 15)
    t["transfers"] = set_col(t["transfers"], "ts", pa.array([when, when], pa.timestamp(unit)))
    t["loans"] = set_col(t["loans"], "issued_at", pa.array([when] * 3, pa.timestamp(unit)))
    got = _loads(tmp_path, t)
    assert got.transfers.schema["ts"] == pl.Datetime("us")
    assert got.transfers.schema["ts"].time_zone is None
    assert got.transfers["ts"].to_list() == [when, when]
    assert got.loans["issued_at"].to_list() == [when] * 3


def test_nanoseconds_below_a_microsecond_are_truncated(tmp_path: Path) -> None:
    t = base_tables()
    base_ns = int(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC).timestamp()) * 10**9
    t["transfers"] = set_col(
        t["transfers"], "ts", pa.array([base_ns + 1_234_567, base_ns + 1], pa.timestamp("ns"))
    )
    got = _loads(tmp_path, t)
    assert got.transfers["ts"].to_list() == [
        dt.datetime(2026, 3, 1, 12, 0, 0, 1234),
        dt.datetime(2026, 3, 1, 12),
    ]


@pytest.mark.parametrize("tz", ["Asia/Shanghai", "+08:00"])
def test_timezone_aware_timestamps_become_utc(tz: str, tmp_path: Path) -> None:
    t = base_tables()
    # 2026-03-01 08:00 in Beijing is 00:00 UTC
    local = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    t["devices"] = set_col(t["devices"], "ts", pa.array([local, local], pa.timestamp("ms", tz=tz)))
    got = _loads(tmp_path, t)
    assert got.devices.schema["ts"] == pl.Datetime("us")
    assert got.devices.schema["ts"].time_zone is None
    assert got.devices["ts"].to_list() == [dt.datetime(2026, 3, 1, 0, 0)] * 2


def test_timezone_aware_written_by_polars(tmp_path: Path) -> None:
    d = write_data(tmp_path / "data", base_tables())
    pl.DataFrame(
        {"account_id": ["a"], "lender_id": ["x"], "applied_at": [dt.datetime(2026, 3, 1, 20, 0)]}
    ).with_columns(pl.col("applied_at").dt.replace_time_zone("America/New_York")).write_parquet(
        d / "applications.parquet"
    )
    assert load(d).applications["applied_at"].to_list() == [dt.datetime(2026, 3, 2, 1, 0)]


@pytest.mark.parametrize("date_type", [pa.date32(), pa.date64()])
def test_opened_at_as_date(date_type: pa.DataType, tmp_path: Path) -> None:
    t = base_tables()
    t["accounts"] = set_col(
        t["accounts"], "opened_at", pa.array([dt.date(2020, 5, 17)] * 3, date_type)
    )
    got = _loads(tmp_path, t)
    assert got.accounts.schema["opened_at"] == pl.Datetime("us")
    assert got.accounts["opened_at"].to_list() == [dt.datetime(2020, 5, 17)] * 3


def test_external_counterparties_are_kept(tmp_path: Path) -> None:
    t = base_tables()
    t["transfers"] = set_col(t["transfers"], "src_account", ["EXT-1", "b"])
    got = _loads(tmp_path, t)
    assert got.transfers.height == 2
    assert set(got.transfers["src_account"]) | set(got.transfers["dst_account"]) >= {
        "EXT-1",
        "EXT-merchant",
    }
    assert not got.quarantine


def test_extra_columns_are_kept_and_ignored(tmp_path: Path, cli) -> None:
    t = base_tables()
    t["loans"] = set_col(t["loans"], "channel", ["app", "web", "app"])
    t["loans"] = set_col(t["loans"], "weird", pa.array([[1], [2], [3]]))  # even an odd type
    t["accounts"] = set_col(t["accounts"], "credit_limit_raw", ["x", "y", "z"])
    d = write_data(tmp_path / "data", t)
    got = load(d)
    assert "channel" not in got.loans.columns and "weird" not in got.loans.columns
    assert got.loans.height == 3
    ran = cli("scan", d, "--out", tmp_path / "run")
    assert ran.code == 0, ran.err


def test_applications_table_is_optional(tmp_path: Path, cli) -> None:
    t = base_tables()
    t["applications"] = None  # type: ignore[assignment]
    d = write_data(tmp_path / "data", t)
    got = load(d)
    assert got.applications is None
    assert "applications" not in got.counts()
    ran = cli("scan", d, "--out", tmp_path / "run", "--json")
    assert ran.code == 0, ran.err
    assert "applications" not in ran.json()["rows"]["read"]


def test_missing_data_directory_is_a_usage_error(tmp_path: Path, cli) -> None:
    for args in (
        ("validate", tmp_path / "nope"),
        ("scan", tmp_path / "nope", "--out", tmp_path / "r"),
    ):
        ran = cli(*args)
        ran.assert_clean_failure(2)
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------------------------------
# quarantine


def _messy(tmp_path: Path) -> Path:
    """Row-level problems in every table, one fine row in each at least."""
    t = base_tables()
    t["accounts"] = pa.table(
        {
            "account_id": pa.array(["a", "b", "c", "d", "d", None]),
            "opened_at": pa.array([T0 - dt.timedelta(days=400)] * 6, pa.timestamp("us")),
            "credit_limit": [1000.0, -5.0, 3000.0, 10.0, 20.0, 30.0],
        }
    )
    # a, c are fine; b negative limit; d duplicated; one null id
    t["loans"] = pa.table(
        {
            "loan_id": ["L1", "L2", "L3", "L4", "L5", "L6"],
            "account_id": ["a", "b", "c", "ghost", "d", "a"],
            "lender_id": ["x", "y", "z", "x", "y", "z"],
            "amount": [500.0, 800.0, -1.0, 100.0, 100.0, 300.0],
            "issued_at": pa.array([T0] * 6, pa.timestamp("us")),
        }
    )
    # L1, L6 fine; L2 loan of quarantined account b (cascade); L3 negative amount AND fine
    # account; L4 dangling; L5 loan of duplicated d (cascade)
    t["transfers"] = pa.table(
        {
            "transfer_id": ["T1", "T2", "T2", "T4"],
            "src_account": ["a", "c", "a", "a"],
            "dst_account": ["c", "c", "EXT", "EXT"],
            "amount": [10.0, 10.0, 10.0, 0.0],
            "ts": pa.array([T0] * 4, pa.timestamp("us")),
        }
    )
    # T1 fine; T2 twice (one also self); T4 zero amount
    t["devices"] = pa.table(
        {
            "account_id": ["a", "b", "ghost"],
            "device_id": ["d1", "d1", "d1"],
            "ts": pa.array([T0] * 3, pa.timestamp("us")),
        }
    )
    t["applications"] = pa.table(
        {
            "account_id": ["a", "d"],
            "lender_id": ["x", "y"],
            "applied_at": pa.array([T0] * 2, pa.timestamp("us")),
        }
    )
    return write_data(tmp_path / "data", t)


RAW_ROWS = {"accounts": 6, "loans": 6, "transfers": 4, "devices": 3, "applications": 2}


def test_quarantine_in_the_library(tmp_path: Path) -> None:
    d = _messy(tmp_path)
    got = load(d, quarantine=True)
    q = got.quarantine
    assert got.accounts["account_id"].to_list() == ["a", "c"]
    assert sorted(got.loans["loan_id"]) == ["L1", "L6"]
    assert got.transfers["transfer_id"].to_list() == ["T1"]
    assert got.devices["account_id"].to_list() == ["a"]
    assert got.applications["account_id"].to_list() == ["a"]
    for name, raw in RAW_ROWS.items():  # nothing dropped silently
        assert got.get(name).height + (q[name].height if name in q else 0) == raw, name
    reasons = dict(zip(q["loans"]["loan_id"], q["loans"]["reason"], strict=True))
    assert reasons["L2"].startswith("dangling_reference")  # cascade from account b
    assert reasons["L5"].startswith("dangling_reference")  # cascade from duplicated d
    assert "non_positive_amount" in reasons["L3"]
    assert "dangling_reference" in reasons["L4"]
    acc = q["accounts"]
    assert acc.filter(pl.col("account_id") == "b")["reason"].item().startswith("negative_limit")
    assert acc.filter(pl.col("account_id") == "d")["reason"].str.contains("duplicate_id").all()
    assert acc.filter(pl.col("account_id").is_null())["reason"].item().startswith("null_value")
    tr = q["transfers"].sort("transfer_id", "src_account")
    # a row with two problems names both
    both = tr.filter(pl.col("src_account") == "c")["reason"].item()
    assert "duplicate_id" in both and "self_transfer" in both
    assert "non_positive_amount" in tr.filter(pl.col("transfer_id") == "T4")["reason"].item()
    # quarantined rows keep the table's columns and types
    assert q["loans"].schema["amount"] == pl.Float64
    assert q["loans"].columns[-1] == "reason"


def test_quarantine_through_the_cli(tmp_path: Path) -> None:
    d = _messy(tmp_path)
    out = tmp_path / "run"
    ran = run_cli("scan", d, "--out", out, "--quarantine", "--json")
    assert ran.code == 0, ran.err
    assert ran.err == ""
    summary = json.loads((out / "summary.json").read_text())
    files = {p.stem: pl.read_parquet(p) for p in (out / "quarantine").glob("*.parquet")}
    assert set(files) == set(RAW_ROWS)
    assert summary["quarantine"] == {k: v.height for k, v in files.items()}
    assert ran.json()["quarantine"] == summary["quarantine"]
    for name, raw in RAW_ROWS.items():
        assert "reason" in files[name].columns
        assert files[name]["reason"].null_count() == 0
        # rows.read is what the files held: kept plus quarantined
        assert summary["rows"]["read"][name] == raw, name
    decisions = pl.read_parquet(out / "decisions.parquet")
    assert sorted(decisions["account_id"]) == ["a", "c"]
    # without --quarantine the same data is fatal and writes nothing
    shutil.rmtree(out)
    ran = run_cli("scan", d, "--out", out)
    ran.assert_clean_failure(3)
    assert not out.exists()


def test_quarantine_of_clean_data_writes_no_quarantine_folder(
    small_data: Path, tmp_path: Path, cli
) -> None:
    out = tmp_path / "run"
    ran = cli("scan", small_data, "--out", out, "--quarantine")
    assert ran.code == 0, ran.err
    assert not (out / "quarantine").exists()
    assert json.loads((out / "summary.json").read_text())["quarantine"] == {}
