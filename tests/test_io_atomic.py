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


# ---------------------------------------------------------------------------------------
# the replace is one atomic exchange: the name never goes missing

_KILL_AFTER_REPLACE = """
import os, sys
from pathlib import Path
import graphrisk.io as gio

target = Path(sys.argv[1])
real_rename = os.rename

def rename(src, dst, *a, **k):
    # the second half of a two-rename replace (the old run already moved aside): die here
    if Path(dst) == target and not target.exists():
        os._exit(9)
    return real_rename(src, dst, *a, **k)

def remove(p):  # right after the new run is in place: die before the old one is removed
    os._exit(9)

os.rename = rename
gio._remove = remove
with gio.atomic_dir(target) as tmp:
    (tmp / "summary.json").write_text("new")
    (tmp / "flags.parquet").write_text("complete")
"""


def test_a_writer_killed_during_the_replace_leaves_a_whole_run(tmp_path: Path) -> None:
    """Killed between the swap and the removal of the old run, or where a two-rename replace
    would have moved the old run aside: the name holds a complete run (here the new one)."""
    run = tmp_path / "run"
    _write_run(run, "old")
    p = subprocess.run([sys.executable, "-c", _KILL_AFTER_REPLACE, str(run)], check=False)
    assert p.returncode == 9
    assert (run / "summary.json").read_text() == "new"
    assert (run / "flags.parquet").read_text() == "complete"
    leftovers = [x.name for x in tmp_path.iterdir() if x.name != "run"]
    assert len(leftovers) == 1 and leftovers[0].endswith(".tmp")  # the old run, swapped out
    _write_run(run, "next")  # the next writer removes it
    assert sorted(x.name for x in tmp_path.iterdir()) == ["run"]
    assert (run / "summary.json").read_text() == "next"


def test_the_replace_uses_the_atomic_exchange(tmp_path: Path, monkeypatch) -> None:
    import graphrisk.io as gio

    calls: list[tuple[str, str]] = []
    real = gio._exchange

    def spy(a: Path, b: Path) -> bool:
        calls.append((Path(a).name, Path(b).name))
        return real(a, b)

    monkeypatch.setattr(gio, "_exchange", spy)
    run = tmp_path / "run"
    _write_run(run, "old")
    assert calls == []  # nothing to exchange with: a plain rename
    _write_run(run, "new")
    assert len(calls) == 1 and calls[0][1] == "run" and calls[0][0].endswith(".tmp")
    assert (run / "summary.json").read_text() == "new"
    assert [x.name for x in tmp_path.iterdir()] == ["run"]


def test_without_the_exchange_the_two_renames_still_replace(tmp_path: Path, monkeypatch) -> None:
    """Where ``renameat2`` is unavailable (not Linux, or a file system without it)."""
    import graphrisk.io as gio

    monkeypatch.setattr(gio, "_exchange", lambda a, b: False)
    run = tmp_path / "run"
    _write_run(run, "old")
    _write_run(run, "new")
    assert (run / "summary.json").read_text() == "new"
    assert [x.name for x in tmp_path.iterdir()] == ["run"]


def test_exchange_swaps_two_directories(tmp_path: Path) -> None:
    import graphrisk.io as gio

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_text("a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("b")
    if sys.platform != "linux":  # no renameat2: nothing changes, the caller falls back
        assert gio._exchange(tmp_path / "a", tmp_path / "b") is False
        assert (tmp_path / "a" / "x").read_text() == "a"
        return
    assert gio._exchange(tmp_path / "a", tmp_path / "b") is True
    assert (tmp_path / "a" / "x").read_text() == "b"
    assert (tmp_path / "b" / "x").read_text() == "a"
    with pytest.raises(FileNotFoundError):
        gio._exchange(tmp_path / "a", tmp_path / "missing")


def test_a_failed_commit_after_the_exchange_puts_the_old_run_back(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write_run(run, "old")

    def fail() -> None:
        assert (run / "summary.json").read_text() == "new"  # called with the new run in place
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError), atomic_dir(run, then=fail) as tmp:
        (tmp / "summary.json").write_text("new")
    assert (run / "summary.json").read_text() == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["run"]
