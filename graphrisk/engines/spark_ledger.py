"""The decision ledger read and its snapshots written by Spark (the Spark scan's ``--ledger``).

The ledger stays one folder of Parquet files (:mod:`graphrisk.ledger`); which files a read
takes (the newest usable snapshot, the entries after it) is decided from their names, in the
driver. The rows are read, folded and written by Spark, with the same narwhals steps the local
engine runs (:func:`graphrisk.ledger.entry_state`, :func:`~graphrisk.ledger.latest_rows`,
:func:`~graphrisk.ledger.fold_state`, :func:`~graphrisk.ledger.prior_of`): the driver never
holds the ledger's rows, which number one per account with a cut or a watch (the state) and
one per account of the book (each entry).

The run id covers the state read (:func:`graphrisk.scan.prior_digest`); :func:`prior_digest`
computes the same digest over a Spark frame, partition by partition: the row count and the
sum of polars' row hashes modulo 2**64, which neither row order nor partitioning changes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import narwhals as nw
import polars as pl
import pyarrow as pa

from graphrisk.ledger import (
    Ledger,
    _fsync_dir,
    _naive_utc,
    _remove,
    entry_state,
    fold_state,
    latest_rows,
    prior_of,
    tmp_beside,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: What :func:`prior_digest`'s tasks send back: rows and hash sum (as text: it is a uint64).
_DIGEST = "rows long, hash string"


def _hashes(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    from graphrisk.scan import prior_parts

    rows, total = 0, 0
    for batch in batches:
        df = pl.from_arrow(batch)
        assert isinstance(df, pl.DataFrame)
        n, h = prior_parts(df)
        rows, total = rows + n, (total + h) % (1 << 64)
    yield pa.RecordBatch.from_pydict(
        {"rows": pa.array([rows], pa.int64()), "hash": pa.array([str(total)], pa.string())}
    )


def prior_digest(prior: DataFrame | None) -> str | None:
    """:func:`graphrisk.scan.prior_digest` of a Spark frame of prior state (``None`` when it
    is empty): one small row per partition comes back to the driver."""
    from graphrisk.scan import digest_of

    if prior is None:
        return None
    parts = prior.mapInArrow(_hashes, _DIGEST).collect()
    return digest_of(sum(int(r["rows"]) for r in parts), sum(int(r["hash"]) for r in parts))


class SparkLedger(Ledger):
    """A :class:`~graphrisk.ledger.Ledger` whose reads and snapshots run on ``spark``.

    Appending (name, temporary file, rename) is the ledger's own; the entry itself is
    written by the Spark scan's ``write`` (a folder of part files).
    """

    def __init__(self, path: str | os.PathLike[str], spark: SparkSession) -> None:
        super().__init__(path)
        self.spark = spark

    def _read_spark(self, f: Path, pos: int, before: datetime | None) -> nw.LazyFrame:
        from pyspark.sql import functions as F

        df = self.spark.read.parquet(str(f))
        if before is not None:
            # in microseconds, not against a datetime literal (whose meaning on Spark
            # depends on the Python process's time zone)
            from graphrisk.linkplan import epoch_us

            us = F.unix_micros(F.col("as_of").cast("timestamp"))
            df = df.where(us < F.lit(epoch_us(_naive_utc(before))))
        return entry_state(nw.from_native(df), pos)

    def _state_frame(
        self, files: list[Path], upto: int | None, before: datetime | None
    ) -> DataFrame | None:
        snapshot, entries = self._reads(files, upto, before)
        later = None
        if entries:
            reads = [self._read_spark(f, pos, before) for pos, f in entries]
            later = latest_rows(nw.concat(reads, how="vertical"), None)
        kept = None
        if snapshot is not None:
            kept = nw.from_native(self.spark.read.parquet(str(snapshot)))
        state = fold_state(later, kept)
        return None if state is None else state.to_native()

    def prior_frame(self, as_of: datetime) -> DataFrame | None:
        """The prior state before ``as_of`` (``PRIOR_SCHEMA``'s columns) as a Spark frame,
        cut from its lineage (it is read by the shards and by the digest); ``None`` for a
        ledger with no state to read."""
        from graphrisk.engines.spark_graph import cut

        state = self._state_frame(self.files(), None, as_of)
        if state is None:
            return None
        return cut(prior_of(nw.from_native(state)).to_native())

    def _snapshot(self, files: list[Path], k: int) -> Path:
        """Write (once) the snapshot of the first ``k`` entries, with Spark: a folder of
        part files written beside its name, then renamed (best effort, as the local one:
        a snapshot is derived data)."""
        final = self._snapshot_path(files, k)
        if final.exists():
            return final
        from graphrisk.engines.spark_scan import WRITE_OPTIONS

        self.snapshots.mkdir(parents=True, exist_ok=True)
        tmp = tmp_beside(final)
        try:
            state = self._state_frame(files, k, None)
            if state is None:
                return final
            state.orderBy("account_id").write.options(**WRITE_OPTIONS).parquet(str(tmp))
            os.rename(tmp, final)
            _fsync_dir(final.parent)
        except Exception as e:  # Spark's errors too; the next append writes it again
            _remove(tmp)
            raise OSError(f"snapshot {final.name} not written: {e}") from e
        return final
