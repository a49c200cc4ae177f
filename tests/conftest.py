"""Shared fixtures: small hand-written data directories, a generated world, CLI runners.

Two ways to run the CLI:

* :func:`run_cli` starts the real entry point in a subprocess (``python -m graphrisk``);
  slower (imports polars each time), used where the process boundary matters.
* the ``cli`` fixture calls :func:`graphrisk.cli.main` in this process with captured output:
  the same code path (argument parsing, error mapping, exit codes), much faster.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

T0 = dt.datetime(2026, 3, 1, 12, 0)


def _no_space(how: str) -> Exception:
    """A full disk as Python (``oserror``) or as polars' Parquet writer (``polars``) says it."""
    if how == "oserror":
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    import polars as pl

    return pl.exceptions.ComputeError(
        "parquet: File out of specification: underlying IO error: No space left on device"
        " (os error 28)"
    )


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch):
    """``full_disk(where, how="oserror", fits=0)``: from now on ``DataFrame.write_parquet``
    fails for lack of space on the files under the folder ``where`` (or those the predicate
    ``where(path)`` picks) once ``fits`` of them are written. Returns the list of those
    files, in the order they were tried."""
    import polars as pl

    def install(where, how: str = "oserror", fits: int = 0) -> list[Path]:
        real = pl.DataFrame.write_parquet
        tried: list[Path] = []

        def write(self, file, *a, **k):
            path = Path(file)
            if where(path) if callable(where) else path.resolve().is_relative_to(where.resolve()):
                tried.append(path)
                if len(tried) > fits:
                    raise _no_space(how)
            return real(self, file, *a, **k)

        monkeypatch.setattr(pl.DataFrame, "write_parquet", write)
        return tried

    return install


@dataclass
class Ran:
    """Outcome of one CLI run."""

    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)

    def assert_clean_failure(self, code: int) -> None:
        """Exit ``code``, no traceback anywhere, a message on stderr."""
        assert self.code == code, (self.code, self.out, self.err)
        assert "Traceback" not in self.err + self.out
        assert "internal error" not in self.err
        assert self.err.strip()


def _ts(*offsets_h: float) -> pa.Array:
    return pa.array([T0 + dt.timedelta(hours=h) for h in offsets_h], pa.timestamp("us"))


def base_tables() -> dict[str, pa.Table]:
    """A small valid data directory as Arrow tables (each test mutates its own copy)."""
    return {
        "accounts": pa.table(
            {
                "account_id": ["a", "b", "c"],
                "opened_at": _ts(-9000, -9000, -9000),
                "credit_limit": [1000.0, 2000.0, 3000.0],
                "customer_id": ["p1", "p2", "p3"],
                "city": ["Shanghai", "Beijing", "Wuhan"],
            }
        ),
        "loans": pa.table(
            {
                "loan_id": ["L1", "L2", "L3"],
                "account_id": ["a", "b", "c"],
                "lender_id": ["lenderA", "lenderB", "lenderA"],
                "amount": [500.0, 800.0, 1200.0],
                "issued_at": _ts(0, 1, 2),
                "due_at": _ts(720, 721, 722),
                "repaid_at": pa.array([None, T0 + dt.timedelta(days=10), None], pa.timestamp("us")),
                "overdue_days": pa.array([0, 0, 3], pa.int64()),
            }
        ),
        "transfers": pa.table(
            {
                "transfer_id": ["T1", "T2"],
                "src_account": ["a", "b"],
                "dst_account": ["b", "EXT-merchant"],
                "amount": [100.0, 50.0],
                "ts": _ts(3, 4),
            }
        ),
        "devices": pa.table(
            {
                "account_id": ["a", "b"],
                "device_id": ["d1", "d2"],
                "ts": _ts(5, 6),
                "ip": ["10.0.0.1", "10.0.0.2"],
                "city": ["Shanghai", "Beijing"],
            }
        ),
        "applications": pa.table(
            {
                "account_id": ["a", "c"],
                "lender_id": ["lenderA", "lenderC"],
                "applied_at": _ts(-1, 7),
            }
        ),
    }


def set_col(table: pa.Table, name: str, values) -> pa.Table:
    """Replace (or append) column ``name``."""
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, arr)
    return table.append_column(name, arr)


def drop_col(table: pa.Table, name: str) -> pa.Table:
    return table.drop_columns([name])


def write_data(path: Path, tables: dict[str, pa.Table | None]) -> Path:
    """Write ``tables`` as ``NAME.parquet`` files into ``path`` (``None`` = leave out)."""
    path.mkdir(parents=True, exist_ok=True)
    for name, t in tables.items():
        if t is not None:
            pq.write_table(t, path / f"{name}.parquet")
    return path


def run_cli(*args: str | os.PathLike, env: dict | None = None, timeout: float = 300, **kw) -> Ran:
    """Run ``python -m graphrisk ARGS`` in a subprocess with piped stdout/stderr."""
    full_env = {k: v for k, v in os.environ.items() if k != "GRAPHRISK_DEBUG"}
    full_env.update(env or {})
    p = subprocess.run(
        [sys.executable, "-m", "graphrisk", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        **kw,
    )
    return Ran(p.returncode, p.stdout, p.stderr)


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run :func:`graphrisk.cli.main` in-process: ``cli("validate", path) -> Ran``."""
    from graphrisk.cli import main

    monkeypatch.delenv("GRAPHRISK_DEBUG", raising=False)

    def run(*args: str | os.PathLike) -> Ran:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        else:  # pragma: no cover - main always exits
            code = 0
        cap = capsys.readouterr()
        return Ran(code, cap.out, cap.err)

    return run


@pytest.fixture
def tables() -> dict[str, pa.Table]:
    """A fresh copy of :func:`base_tables` to mutate."""
    return base_tables()


@pytest.fixture
def small_data(tmp_path) -> Path:
    """A valid small data directory."""
    return write_data(tmp_path / "data", base_tables())


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> Path:
    """A generated world (3,000 accounts, seed 3) with labels.parquet, shared by the session."""
    from graphrisk.generate import generate_world

    out = tmp_path_factory.mktemp("world") / "data"
    generate_world(out, accounts=3000, seed=3)
    return out


@pytest.fixture(scope="session")
def world_run(world, tmp_path_factory) -> tuple[Path, Ran]:
    """One scan of :func:`world` through the real CLI: (run directory, the run's outcome)."""
    run = tmp_path_factory.mktemp("world_run") / "run"
    ran = run_cli("scan", world, "--out", run, "--json")
    assert ran.code == 0, ran.err
    return run, ran
