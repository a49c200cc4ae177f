""":func:`graphrisk.io.atomic_dir`: whole or nothing, never deletes what it did not write,
and cleans up after writers that were killed half-way (real directories, real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphrisk.errors import UsageError
from graphrisk.io import atomic_dir


def _write_run(target: Path, text: str = "new") -> None:
    with atomic_dir(target) as tmp:
        (tmp / "summary.json").write_text(text)


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.fixture
def live_pid() -> Iterator[int]:
    """The pid of a process that runs for the duration of the test."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield p.pid
    finally:
        p.kill()
        p.wait()


def _leftover(path: Path) -> Path:
    path.mkdir()
    (path / "flags.parquet").write_bytes(b"half-written")
    return path


def test_leftovers_of_dead_writers_are_removed(tmp_path: Path, dead_pid: int, live_pid: int):
    run = tmp_path / "run"
    _write_run(run, "old")
    old = _leftover(tmp_path / f".run.old-{dead_pid}")
    tmp = _leftover(tmp_path / f".run.{dead_pid}.k2j4x9qa.tmp")
    busy = _leftover(tmp_path / f".run.{live_pid}.z8y7x6wv.tmp")  # a scan writing right now
    other = _leftover(tmp_path / f".runs.old-{dead_pid}")  # another target's
    notes = tmp_path / ".run.notes"
    notes.write_text("mine")

    _write_run(run)

    assert (run / "summary.json").read_text() == "new"
    assert not old.exists() and not tmp.exists()
    assert busy.exists() and other.exists() and notes.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["run", busy.name, other.name, notes.name]
    )


def test_leftover_with_this_process_pid_does_not_block_the_replace(tmp_path: Path) -> None:
    """A dead process that had our pid left ``.run.old-PID``: moving the old run aside works."""
    run = tmp_path / "run"
    _write_run(run, "old")
    _leftover(tmp_path / f".run.old-{os.getpid()}")
    _write_run(run)
    assert (run / "summary.json").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_a_failed_write_leaves_the_target_and_no_temporary(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write_run(run, "old")
    with pytest.raises(RuntimeError), atomic_dir(run) as tmp:
        (tmp / "summary.json").write_text("half")
        raise RuntimeError("killed")
    assert (run / "summary.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_an_empty_directory_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    _write_run(tmp_path / "run")
    assert (tmp_path / "run" / "summary.json").read_text() == "new"


def test_a_file_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "run"
    target.write_text("precious")
    with pytest.raises(UsageError, match="not a directory"):
        _write_run(target)
    assert target.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_a_directory_that_is_not_a_run_is_not_replaced(tmp_path: Path) -> None:
    """``--out`` pointed at the data (or any folder of documents) must not delete it."""
    target = tmp_path / "data"
    target.mkdir()
    (target / "accounts.parquet").write_bytes(b"data")
    with pytest.raises(UsageError, match="not a run directory"):
        _write_run(target)
    assert (target / "accounts.parquet").read_bytes() == b"data"
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


def test_a_directory_appearing_while_writing_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "run"
    with pytest.raises(UsageError), atomic_dir(target) as tmp:
        (tmp / "summary.json").write_text("new")
        target.mkdir()
        (target / "notes.txt").write_text("someone else's")
    assert (target / "notes.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
