"""The decision ledger (``--ledger DIR``): every scan appends its decisions; never rewritten.

Layout: ``DIR/entries/<as_of>--<run_id>.parquet``, one file per scan, holding every decision
of that scan plus the state restore needs (``reference_limit``, ``last_cut_at``,
``last_step_at``). A file is written beside its final name, flushed to disk, then renamed:
a scan killed at any point leaves either no entry or the whole entry. A scan whose run id is
already in the ledger (same data, as_of and policy) appends nothing, so re-running it never
applies a second restore step. The prior state of a scan is read from entries with an
earlier ``as_of`` only.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import polars as pl

from graphrisk.decisions import PRIOR_SCHEMA
from graphrisk.errors import UsageError

CUTS = ["reduce", "suspend"]


class Ledger:
    """An append-only ledger directory."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.entries = self.path / "entries"
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"--ledger: not a directory: {self.path}")

    def files(self) -> list[Path]:
        if not self.entries.is_dir():
            return []
        return sorted(p for p in self.entries.glob("*.parquet") if not p.name.startswith("."))

    def has_run(self, run_id: str) -> bool:
        return any(p.stem.endswith("--" + run_id) for p in self.files())

    def history(self) -> pl.DataFrame | None:
        files = self.files()
        return pl.concat([pl.read_parquet(f) for f in files], how="vertical") if files else None

    def prior(self, as_of: datetime) -> pl.DataFrame:
        """Per account, the state left by the latest entry strictly before ``as_of``."""
        hist = self.history()
        if hist is None:
            return pl.DataFrame(schema=PRIOR_SCHEMA)
        last = (
            hist.filter(pl.col("as_of") < as_of)
            .sort("account_id", "as_of")
            .group_by("account_id", maintain_order=True)
            .last()
        )
        return (
            last.filter(pl.col("reference_limit").is_not_null())
            .select(
                "account_id",
                "reference_limit",
                pl.col("limit_after").alias("current_limit"),
                "last_cut_at",
                "last_step_at",
            )
            .cast(PRIOR_SCHEMA)
        )  # type: ignore[arg-type]

    def append(self, decisions: pl.DataFrame, prior: pl.DataFrame, run_id: str) -> Path | None:
        """Append one scan's entry atomically; nothing if ``run_id`` is already there."""
        if self.has_run(run_id):
            return None
        entry = next_state(decisions, prior)
        as_of = decisions["as_of"][0] if decisions.height else datetime.min
        name = f"{as_of:%Y%m%dT%H%M%S}--{run_id}.parquet"
        self.entries.mkdir(parents=True, exist_ok=True)
        final = self.entries / name
        tmp = self.entries / f".{name}.{os.getpid()}.tmp"
        entry.write_parquet(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.rename(tmp, final)
        dirfd = os.open(self.entries, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
        return final


def next_state(decisions: pl.DataFrame, prior: pl.DataFrame) -> pl.DataFrame:
    """The ledger rows of a scan: its decisions plus the restore state they leave."""
    d = decisions.join(prior, on="account_id", how="left")
    cut = pl.col("action").is_in(CUTS)
    outstanding = pl.col("current_limit").is_not_null() & (
        pl.col("current_limit") < pl.col("reference_limit")
    )
    reference = (
        pl.when(outstanding).then(pl.col("reference_limit")).when(cut).then(pl.col("limit_before"))
    )
    return d.with_columns(
        reference.alias("reference_limit"),
        pl.when(cut).then(pl.col("as_of")).otherwise(pl.col("last_cut_at")).alias("last_cut_at"),
        pl.when(cut | (pl.col("action") == "restore"))
        .then(pl.col("as_of"))
        .otherwise(pl.col("last_step_at"))
        .alias("last_step_at"),
    ).select(
        "account_id",
        "as_of",
        "run_id",
        "action",
        "limit_before",
        "limit_after",
        "reason_codes",
        "reference_limit",
        "last_cut_at",
        "last_step_at",
    )
