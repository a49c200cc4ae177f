"""``graphrisk scan`` with arguments that do not fit: exit 2 with a message, and nothing destroyed.

The run directory replaces ``--out`` whole, so an ``--out`` that is (or holds) the data, the
ledger, a file or a folder of other documents is refused before any work; an ``--as-of`` /
``--lookback`` that leaves no event in the window, or no representable window at all, is
refused too (it would keep every account, or call open loans overdue for years nobody saw).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import base_tables, run_cli, write_data


def _digest(d: Path) -> str:
    h = hashlib.sha1()
    for p in sorted(d.rglob("*")):
        h.update(str(p.relative_to(d)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_data(tmp_path / "data", base_tables())


# ---------------------------------------------------------------------------------------
# --out


def test_out_is_the_data_directory(data: Path, cli) -> None:
    before = _digest(data)
    ran = cli("scan", data, "--out", data)
    ran.assert_clean_failure(2)
    assert "would replace the input" in ran.err
    assert _digest(data) == before


def test_out_holds_the_data_directory(data: Path, cli) -> None:
    before = _digest(data.parent)
    ran = cli("scan", data, "--out", data.parent)
    ran.assert_clean_failure(2)
    assert _digest(data.parent) == before


@pytest.mark.parametrize("name", ["applications", "loans.parquet"])
def test_out_where_a_table_is_read_from(data: Path, name: str, cli) -> None:
    (data / "applications.parquet").unlink()
    ran = cli("scan", data, "--out", data / name)
    ran.assert_clean_failure(2)
    assert "is where table" in ran.err
    assert not (data / "applications").exists()


def test_out_inside_the_data_directory_under_another_name_is_fine(data: Path, cli) -> None:
    ran = cli("scan", data, "--out", data / "runs" / "r1")
    assert ran.code == 0, ran.err
    assert cli("validate", data).code == 0


def test_out_is_an_existing_file(data: Path, tmp_path: Path, cli) -> None:
    out = tmp_path / "report.txt"
    out.write_text("precious")
    ran = cli("scan", data, "--out", out)
    ran.assert_clean_failure(2)
    assert "not a directory" in ran.err
    assert out.read_text() == "precious"


def test_out_is_a_folder_of_other_documents(data: Path, tmp_path: Path, cli) -> None:
    out = tmp_path / "docs"
    out.mkdir()
    (out / "notes.md").write_text("precious")
    ran = cli("scan", data, "--out", out)
    ran.assert_clean_failure(2)
    assert "not a run directory" in ran.err
    assert [p.name for p in out.iterdir()] == ["notes.md"]


def test_out_under_a_file(data: Path, cli) -> None:
    ran = cli("scan", data, "--out", data / "accounts.parquet" / "run")
    ran.assert_clean_failure(2)
    assert "is a file" in ran.err


def test_an_earlier_run_is_replaced(data: Path, tmp_path: Path, cli) -> None:
    out = tmp_path / "run"
    assert cli("scan", data, "--out", out).code == 0
    (out / "stale.txt").write_text("from before")
    ran = cli("scan", data, "--out", out)
    assert ran.code == 0, ran.err
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "run"]


def test_ledger_inside_out(data: Path, tmp_path: Path, cli) -> None:
    out = tmp_path / "run"
    ran = cli("scan", data, "--out", out, "--ledger", out / "ledger")
    ran.assert_clean_failure(2)
    assert "would delete the ledger" in ran.err
    assert not out.exists()


# ---------------------------------------------------------------------------------------
# --as-of and --lookback


@pytest.mark.parametrize(
    "args, message",
    [
        (("--as-of", "0001-01-01"), "before the year 1"),
        (("--as-of", "9999-12-31"), "must be before 2200-01-01"),
        (("--lookback", "1000000000"), "--lookback"),
        (("--as-of", "2020-01-01"), "the input's events run from 2026-03-01 to 2026-03-01"),
        (("--as-of", "2026-02-01", "--lookback", "30"), "before every loan, transfer, login"),
    ],
    ids=["year-1", "year-9999", "lookback-huge", "before-data", "just-before-data"],
)
def test_as_of_and_lookback_without_a_window(
    args: tuple[str, ...], message: str, data: Path, tmp_path: Path, cli
) -> None:
    out = tmp_path / "run"
    ran = cli("scan", data, "--out", out, *args)
    ran.assert_clean_failure(2)
    assert message in ran.err
    assert not out.exists()


@pytest.mark.parametrize("as_of", ["2026-06-01", "2035-01-01"])
def test_as_of_after_the_data_is_a_quiet_window_not_an_error(
    as_of: str, data: Path, tmp_path: Path, cli
) -> None:
    # months without any event is how an account shows it has stayed clean (restore)
    ran = cli("scan", data, "--out", tmp_path / "run", "--as-of", as_of, "--lookback", "30")
    assert ran.code == 0, ran.err
    assert (tmp_path / "run" / "decisions.parquet").exists()


def test_as_of_inside_the_data_still_works(data: Path, tmp_path: Path, cli) -> None:
    ran = cli("scan", data, "--out", tmp_path / "run", "--as-of", "2026-03-05", "--json")
    assert ran.code == 0, ran.err
    assert ran.json()["as_of"].startswith("2026-03-05")


def test_bad_as_of_is_reported_before_the_data_is_read(tmp_path: Path, cli) -> None:
    t = base_tables()
    t["loans"] = None  # type: ignore[assignment]
    data = write_data(tmp_path / "data", t)
    ran = cli("scan", data, "--out", tmp_path / "run", "--as-of", "yesterday")
    ran.assert_clean_failure(2)
    assert "--as-of" in ran.err


def test_through_the_real_entry_point(data: Path) -> None:
    ran = run_cli("scan", data, "--out", data)
    ran.assert_clean_failure(2)
    ran = run_cli("scan", data, "--out", data.parent / "run", "--as-of", "0001-01-01")
    ran.assert_clean_failure(2)
