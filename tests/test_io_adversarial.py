"""Input a lender's export really produces, beyond one broken rule per table (real Parquet files).

* table folders as other tools write them: Hive part files without a suffix, bookkeeping files,
  an unreadable subfolder;
* every problem in one pass: row rules still run on the tables that could be read when another
  table is broken, and references into a broken table are not checked;
* messages stay readable with very long values; -inf is one problem, not two.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import base_tables, set_col, write_data

from graphrisk.errors import DataError
from graphrisk.io import load


def _to_folder(d: Path, name: str, parts: dict[str, pa.Table]) -> Path:
    (d / f"{name}.parquet").unlink()
    (d / name).mkdir()
    for rel, part in parts.items():
        (d / name / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(part, d / name / rel)
    return d / name


def _problems(data: Path) -> list:
    with pytest.raises(DataError) as info:
        load(data)
    return info.value.problems


# ---------------------------------------------------------------------------------------
# table folders


def test_hive_part_files_without_suffix_are_read(tmp_path: Path) -> None:
    """Hive names its part files ``000000_0``: they are Parquet and their rows count."""
    t = base_tables()
    d = write_data(tmp_path / "data", t)
    _to_folder(d, "loans", {"000000_0": t["loans"].slice(0, 2), "000001_0": t["loans"].slice(2)})
    assert load(d).loans["loan_id"].to_list() == ["L1", "L2", "L3"]


def test_bookkeeping_entries_of_a_folder_are_ignored(tmp_path: Path) -> None:
    t = base_tables()
    d = write_data(tmp_path / "data", t)
    folder = _to_folder(d, "transfers", {"part-0.parquet": t["transfers"]})
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".part-0.parquet.crc").write_bytes(b"crc")
    (folder / "_temporary").mkdir()
    (folder / "_temporary" / "half-written.csv").write_text("a,b\n")
    assert load(d).transfers.height == 2


_LOAD_UNPRIVILEGED = """
import json, sys
from graphrisk.errors import DataError
from graphrisk.io import load
try:
    load(sys.argv[1])
except DataError as e:
    print(json.dumps([[p.table, p.rule, p.message] for p in e.problems]))
"""


def test_unreadable_subfolder_is_reported_not_skipped(tmp_path: Path) -> None:
    t = base_tables()
    d = write_data(tmp_path / "data", t)
    folder = _to_folder(
        d,
        "devices",
        {"part-0.parquet": t["devices"].slice(0, 1), "day=2/part-1.parquet": t["devices"].slice(1)},
    )
    os.chmod(folder / "day=2", 0)
    try:
        if os.access(folder / "day=2", os.R_OK):
            # root reads anything: load in a child without the capabilities that bypass
            # file permissions (still root, so the rest of the data and the venv stay readable)
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root and setpriv (util-linux) is not installed")
            drop = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
            ran = subprocess.run(
                [*drop, sys.executable, "-c", _LOAD_UNPRIVILEGED, str(d)],
                capture_output=True,
                text=True,
                check=False,
            )
            assert ran.returncode == 0, ran.stderr
            problems = json.loads(ran.stdout)
        else:
            problems = [[p.table, p.rule, p.message] for p in _problems(d)]
        ((table, rule, message),) = problems
        assert (table, rule) == ("devices", "unreadable_file")
        assert "day=2" in message
    finally:
        os.chmod(folder / "day=2", 0o755)


def test_placeholder_due_at_is_accepted(tmp_path: Path) -> None:
    """``due_at`` is not read for as_of: an open-ended 9999-12-31 due date does no harm."""
    t = base_tables()
    due = pa.array([dt.datetime(9999, 12, 31)] * 3, pa.timestamp("ms"))
    t["loans"] = set_col(t["loans"], "due_at", due)
    assert load(write_data(tmp_path / "data", t)).loans.height == 3


# ---------------------------------------------------------------------------------------
# every problem at once


def test_row_problems_are_reported_with_the_table_level_ones(tmp_path: Path, cli) -> None:
    """A broken table does not hide the row problems of the tables that could be read."""
    t = base_tables()
    t["accounts"] = set_col(t["accounts"], "credit_limit", [1000.0, -1.0, 3000.0])
    t["transfers"] = set_col(t["transfers"], "ts", ["2026-03-01 12:00", "2026-03-01 13:00"])
    t["devices"] = set_col(t["devices"], "account_id", ["a", "ghost"])
    data = write_data(tmp_path / "data", t)

    got = [(p.table, p.column, p.rule, p.count) for p in _problems(data)]
    assert got == [  # table by table, in SPEC order
        ("accounts", "credit_limit", "negative_limit", 1),
        ("transfers", "ts", "wrong_type", 2),
        ("devices", "account_id", "dangling_reference", 1),
    ]
    ran = cli("validate", data, "--json")
    assert ran.code == 3
    assert [q["rule"] for q in ran.json()["problems"]] == [g[2] for g in got]
    ran = cli("scan", data, "--out", tmp_path / "run")
    ran.assert_clean_failure(3)
    assert "3 problems" in ran.err
    assert not (tmp_path / "run").exists()


def test_references_into_a_broken_table_are_not_checked(tmp_path: Path) -> None:
    """With accounts unreadable, every loan and login would 'dangle': only real problems show."""
    t = base_tables()
    t["accounts"] = set_col(t["accounts"], "account_id", pa.array([1, 2, 3], pa.int64()))
    t["loans"] = set_col(t["loans"], "amount", [500.0, -800.0, 1200.0])
    got = [(p.table, p.column, p.rule) for p in _problems(write_data(tmp_path / "data", t))]
    assert got == [
        ("accounts", "account_id", "wrong_type"),
        ("loans", "amount", "non_positive_amount"),
    ]


def test_a_broken_part_stops_the_row_rules_of_its_own_table_only(tmp_path: Path) -> None:
    t = base_tables()
    t["accounts"] = set_col(t["accounts"], "credit_limit", [1000.0, -1.0, 3000.0])
    d = write_data(tmp_path / "data", t)
    loans = t["loans"]
    bad = set_col(loans.slice(2), "amount", ["1200"])
    _to_folder(d, "loans", {"part-0.parquet": set_col(loans.slice(0, 2), "amount", [-1.0, 1.0])})
    pq.write_table(bad, d / "loans" / "part-1.parquet")
    got = {(p.table, p.rule) for p in _problems(d)}
    # the negative amount in part-0 is not reported: loans as a whole could not be read
    assert got == {("accounts", "negative_limit"), ("loans", "wrong_type")}


# ---------------------------------------------------------------------------------------
# messages


def test_very_long_values_are_cut_in_the_message_not_in_json(tmp_path: Path, cli) -> None:
    t = base_tables()
    long_id = "x" * 100_000
    t["loans"] = set_col(t["loans"], "account_id", ["a", long_id, "c"])
    data = write_data(tmp_path / "data", t)
    ran = cli("validate", data)
    ran.assert_clean_failure(3)
    assert "loans.account_id" in ran.err and "L2" in ran.err
    assert "(100,000 characters)" in ran.err
    assert len(ran.err) < 1_000
    ran = cli("validate", data, "--json")
    (q,) = ran.json()["problems"]
    assert q["examples"][0]["account_id"] == long_id


def test_minus_infinity_is_one_problem(tmp_path: Path) -> None:
    t = base_tables()
    t["transfers"] = set_col(t["transfers"], "amount", [float("-inf"), -5.0])
    got = [(p.rule, p.count) for p in _problems(write_data(tmp_path / "data", t))]
    assert got == [("non_positive_amount", 1), ("not_finite", 1)]


def test_invalid_utf8_is_reported_as_bytes(tmp_path: Path, cli) -> None:
    t = base_tables()
    raw = pa.array([b"d1", b"d\xe9v"], pa.binary())  # Latin-1 'é', not UTF-8
    t["devices"] = set_col(
        t["devices"], "device_id", pa.Array.from_buffers(pa.string(), 2, raw.buffers())
    )
    data = write_data(tmp_path / "data", t)
    ran = cli("validate", data)
    ran.assert_clean_failure(3)
    assert "devices.device_id: is not valid UTF-8 text (1 row)" in ran.err
    assert "b'd\\xe9v'" in ran.err
    ran = cli("validate", data, "--json")
    assert json.loads(ran.out)["problems"][0]["rule"] == "invalid_utf8"
