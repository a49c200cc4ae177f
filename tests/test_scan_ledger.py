"""A scan with a ledger commits its run directory and its ledger entry together.

The library does what the CLI does (``ScanResult.write`` appends the entry), and a write that
fails for the user's environment (no space left, a read-only ledger) is a plain usage error
(exit 2) naming the path, with the run directory and the ledger both left as they were.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from conftest import run_cli

import graphrisk
from graphrisk.ledger import Ledger
from graphrisk.testing import tables, write


@pytest.fixture
def data(tmp_path: Path) -> Path:
    loans = [
        ("a", f"P{i}", 2000, f"2026-01-{3 * i + 1:02d}", "2026-03-01", "2026-02-20")
        for i in range(6)
    ]
    return write(tables(loans=[*loans, ("b", "BANK", 800, "2026-01-02")]), tmp_path / "data")


def _state(run: Path, ledger: Path) -> dict[str, bytes]:
    """Every file of the run directory and the ledger (and their folders' other entries)."""
    files = {}
    for root in (run, ledger):
        for p in sorted(root.rglob("*")):
            files[str(p)] = p.read_bytes() if p.is_file() else b"<dir>"
    for p in sorted(run.parent.iterdir()):  # no temporary left beside the run
        files.setdefault(str(p), b"<entry>")
    return files


def test_library_write_appends_the_ledger_like_the_cli(data: Path, tmp_path: Path) -> None:
    L = tmp_path / "L"
    result = graphrisk.scan(data, as_of="2026-01-31", ledger=L)
    assert Ledger(L).files() == []  # scanning alone does not append
    result.write(tmp_path / "run")
    (entry,) = Ledger(L).files()
    assert entry.name.endswith(f"--{result.run_id}.parquet")
    assert pl.read_parquet(entry)["account_id"].to_list() == ["a", "b"]
    result.write(tmp_path / "again")  # the same run: nothing appended twice
    assert Ledger(L).files() == [entry]
    # the CLI appends the same entry once
    L2 = tmp_path / "L2"
    ran = run_cli("scan", data, "--out", tmp_path / "cli", "--as-of", "2026-01-31", "--ledger", L2)
    assert ran.code == 0, ran.err
    assert [p.name for p in Ledger(L2).files()] == [entry.name]


def _earlier(data: Path, tmp_path: Path, cli) -> tuple[Path, Path]:
    run, L = tmp_path / "run", tmp_path / "L"
    ran = cli("scan", data, "--out", run, "--as-of", "2026-01-31", "--ledger", L)
    assert ran.code == 0, ran.err
    return run, L


@pytest.mark.parametrize("how", ["oserror", "polars"])
def test_no_space_for_the_ledger_entry(how: str, data, tmp_path, cli, full_disk) -> None:
    run, L = _earlier(data, tmp_path, cli)
    before = _state(run, L)
    full_disk(L, how)
    ran = cli("scan", data, "--out", run, "--as-of", "2026-05-31", "--ledger", L)
    ran.assert_clean_failure(2)
    assert ran.err.startswith("error: --ledger:") and str(L) in ran.err
    assert "No space left on device" in ran.err
    assert _state(run, L) == before


def test_a_failed_rename_into_the_ledger_puts_the_old_run_back(
    data, tmp_path, cli, monkeypatch
) -> None:
    """The last step (the entry renamed in, with the new run already in place) fails."""
    run, L = _earlier(data, tmp_path, cli)
    before = _state(run, L)
    real = os.rename

    def rename(src, dst, *a, **k):
        if Path(dst).parent == L / "entries":
            assert (run / "summary.json").read_bytes() != before[str(run / "summary.json")]
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "rename", rename)
    ran = cli("scan", data, "--out", run, "--as-of", "2026-05-31", "--ledger", L)
    ran.assert_clean_failure(2)
    assert str(L) in ran.err
    assert _state(run, L) == before


def test_no_space_for_the_run_directory(data, tmp_path, cli, full_disk) -> None:
    run, L = _earlier(data, tmp_path, cli)
    before = _state(run, L)
    full_disk(lambda path: path.name == "decisions.parquet")
    ran = cli("scan", data, "--out", run, "--as-of", "2026-05-31", "--ledger", L)
    ran.assert_clean_failure(2)
    assert ran.err.startswith("error: --out:") and str(run) in ran.err
    assert _state(run, L) == before


def test_a_read_only_ledger_folder(data, tmp_path, cli) -> None:
    run, L = _earlier(data, tmp_path, cli)
    before = _state(run, L)
    for p in (L, L / "entries", L / "snapshots"):
        p.chmod(0o555)
    try:
        cmd = [sys.executable, "-m", "graphrisk", "scan", str(data), "--out", str(run)]
        cmd += ["--as-of", "2026-05-31", "--ledger", str(L)]
        if os.access(L / "entries", os.W_OK):
            # root writes anywhere: run without the capabilities that bypass permissions
            setpriv = shutil.which("setpriv")
            assert setpriv, "running as root: setpriv (util-linux) is needed for this test"
            cmd = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *cmd]
        env = {k: v for k, v in os.environ.items() if k != "GRAPHRISK_DEBUG"}
        ran = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    finally:
        for p in (L, L / "entries", L / "snapshots"):
            p.chmod(0o755)
    assert ran.returncode == 2, (ran.stdout, ran.stderr)
    assert "Traceback" not in ran.stderr and "internal error" not in ran.stderr
    assert ran.stderr.startswith("error: --ledger:") and str(L) in ran.stderr
    assert "Permission denied" in ran.stderr
    assert _state(run, L) == before
