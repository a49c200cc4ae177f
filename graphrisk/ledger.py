"""The decision ledger (``--ledger DIR``): every scan appends its decisions; never rewritten.

Layout: ``DIR/entries/<as_of>--<seq>--<run_id>.parquet``, one file per scan, holding every
decision of that scan plus the state restore needs (``reference_limit``, ``last_cut_at``,
``cut_severity``, ``cut_reasons``, ``last_step_at``, ``last_bad_at``; see
:data:`graphrisk.decisions.TRACE_SCHEMA`).

* Snapshots: ``DIR/snapshots/<k>--<name of entry k>.parquet`` holds the state the first
  ``k`` entries (in name order) leave, one row per account with a state. Each append writes
  one after its entry; :meth:`Ledger.prior` starts from the newest snapshot that fits and
  reads only the entries after it (usually none or one), instead of the whole history. A
  snapshot is derived data: never rewritten, ignored once an entry with an earlier
  ``as_of`` is appended before its k-th entry, and a ledger without snapshots (older, or a
  scan killed between its entry and its snapshot) reads the same state from its entries.
* Atomic: an entry (and a snapshot) is written to a hidden temporary file beside its final
  name, flushed to disk, then renamed (and the directory flushed). A scan killed at any
  point leaves either no entry or the whole entry; a temporary file left by a dead process
  is removed by the next append and is never read.
* Idempotent: a scan reads its prior state from entries with an earlier ``as_of`` only,
  and its run id covers that state (with the data, ``as_of`` and policy; see
  :func:`graphrisk.scan.run_id_for`). Re-running it against the same ledger reads the same
  state, gets the same run id and decisions, appends nothing and never applies a second
  restore step.
* Backfill: an entry with an earlier ``as_of`` appended after a later scan changes what
  that later scan reads. Its re-run is then another decision set under another run id, and
  is appended beside the first (both stay: nothing is rewritten); for one ``as_of`` the
  entry appended last is the state later scans read.

Examples
--------
>>> import tempfile
>>> from datetime import datetime
>>> led = Ledger(tempfile.mkdtemp())
>>> led.prior(datetime(2026, 1, 1)).height
0
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import narwhals as nw
import polars as pl

from graphrisk.decisions import PRIOR_SCHEMA, TRACE_SCHEMA
from graphrisk.errors import UsageError

#: Columns of a ledger entry: the decision, then the state it leaves.
ENTRY_COLUMNS = (
    "account_id",
    "as_of",
    "run_id",
    "action",
    "limit_before",
    "limit_after",
    "reason_codes",
    "situation",
    "reference_limit",
    "last_cut_at",
    "cut_severity",
    "cut_reasons",
    "last_step_at",
    "last_bad_at",
)

_STATE = [c for c in PRIOR_SCHEMA if c not in ("account_id", "current_limit")]
#: The columns of an entry that prior state is made of (what a snapshot holds).
_READ: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "limit_after": pl.Float64(),
    **{c: PRIOR_SCHEMA[c] for c in _STATE},
}
#: The same columns as narwhals types (a column an older entry lacks is a typed null).
_NW: dict[str, Any] = {
    c: nw.from_native(pl.DataFrame(schema={c: t})).schema[c] for c, t in _READ.items()
}
_NAME_AS_OF = "%Y%m%dT%H%M%S"
_BATCH = 16  # entries read at once when there is no snapshot to start from


def _second(path: Path) -> datetime | None:
    """The ``as_of`` in an entry's name (to the second, rounded down); ``None`` if unreadable."""
    try:
        return datetime.strptime(path.name.split("--", 1)[0], _NAME_AS_OF)
    except ValueError:
        return None


def _naive_utc(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def tmp_beside(final: Path) -> Path:
    """The hidden temporary name of ``final`` for this process (what :meth:`Ledger._clean_stale`
    recognises and removes once the process is gone)."""
    return final.parent / f".{final.name}.{os.getpid()}.tmp"


def _write_tmp(df: pl.DataFrame, final: Path) -> Path:
    """Write ``df`` to a hidden temporary beside ``final`` and flush it; returns its path."""
    tmp = tmp_beside(final)
    try:
        df.write_parquet(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _remove(path: Path) -> None:
    """Remove a file or a folder (an entry written by Spark is a folder of part files)."""
    if path.is_dir() and not path.is_symlink():
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    dirfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


def _write_atomic(df: pl.DataFrame, final: Path) -> None:
    """Write ``df`` to a hidden temporary beside ``final``, flush, rename, flush the folder."""
    tmp = _write_tmp(df, final)
    try:
        os.rename(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(final.parent)


def entry_state(entry: nw.LazyFrame, pos: int) -> nw.LazyFrame:
    """``as_of``, the ``_READ`` columns (null where an older entry lacks one) and ``_pos`` of
    one entry, on any engine narwhals reads (polars here, Spark in the Spark scan)."""
    have = set(entry.collect_schema().names())
    state = [(nw.col(c) if c in have else nw.lit(None)).cast(_NW[c]).alias(c) for c in _READ]
    return entry.select(nw.col("as_of"), *state).with_columns(nw.lit(pos, nw.Int64()).alias("_pos"))


def latest_rows(rows: nw.LazyFrame, before: datetime | None) -> nw.LazyFrame:
    """Each account's latest row by (``as_of``, ``_pos``) among ``rows`` with ``as_of``
    before ``before`` (all if ``None``): group-bys and joins only, so every engine gives the
    same rows (an entry has one row per account, so the pair is unique per account)."""
    if before is not None:
        rows = rows.filter(nw.col("as_of") < _naive_utc(before))
    last = rows.group_by("account_id").agg(nw.col("as_of").max().alias("_last"))
    rows = rows.join(last, on="account_id").filter(nw.col("as_of") == nw.col("_last"))
    top = rows.group_by("account_id").agg(nw.col("_pos").max().alias("_top"))
    rows = rows.join(top, on="account_id").filter(nw.col("_pos") == nw.col("_top"))
    return rows.drop("_last", "_top")


def fold_state(later: nw.LazyFrame | None, snapshot: nw.LazyFrame | None) -> nw.LazyFrame | None:
    """The state (``_READ``): the entries' latest rows (:func:`latest_rows`), and what the
    snapshot holds where no later entry speaks; only accounts with a state worth keeping."""
    parts = []
    if later is not None:
        parts.append(later.select(list(_READ)))
    if snapshot is not None:
        kept = snapshot.select([nw.col(c).cast(_NW[c]) for c in _READ])
        if later is not None:
            kept = kept.join(later.select("account_id"), on="account_id", how="anti")
        parts.append(kept)
    if not parts:
        return None
    state = parts[0] if len(parts) == 1 else nw.concat(parts, how="vertical")
    return state.filter(
        ~nw.col("reference_limit").is_null()
        | ~nw.col("last_cut_at").is_null()
        | ~nw.col("last_bad_at").is_null()
    )


def prior_of(state: nw.LazyFrame) -> nw.LazyFrame:
    """The prior state a scan's decisions read (``PRIOR_SCHEMA``'s columns) from a state."""
    return state.select(
        "account_id",
        "reference_limit",
        nw.col("limit_after").alias("current_limit"),
        *[c for c in _STATE if c != "reference_limit"],
    ).select(list(PRIOR_SCHEMA))


@dataclass
class PendingEntry:
    """An entry written in full to a hidden temporary file, not yet part of the ledger.

    :meth:`commit` renames it to its final name (one atomic step), :meth:`abort` removes it.
    This is how a scan commits its run directory and its ledger entry together
    (:meth:`graphrisk.scan.ScanResult.write`): everything that can fail for lack of space or
    permission happens before the run is swapped in.
    """

    ledger: Ledger
    tmp: Path
    final: Path

    def commit(self) -> Path:
        """Rename the entry in; then flush the folder and write its snapshot (best effort).

        Only the rename can fail (the ledger is then unchanged). The snapshot is derived data
        (see the module docs): when it cannot be written, the next read takes the state from
        the entries and the next append writes a snapshot again.
        """
        os.rename(self.tmp, self.final)
        try:
            _fsync_dir(self.final.parent)
            files = self.ledger.files()
            self.ledger._snapshot(files, files.index(self.final) + 1)
        except (OSError, pl.exceptions.PolarsError):
            pass
        return self.final

    def abort(self) -> None:
        """Remove the temporary file (or folder): the ledger stays as it was."""
        _remove(self.tmp)


class Ledger:
    """An append-only ledger directory.

    Parameters
    ----------
    path
        The ledger directory (created on the first append).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.entries = self.path / "entries"
        self.snapshots = self.path / "snapshots"
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"--ledger: not a directory: {self.path}")

    def files(self) -> list[Path]:
        """The complete entries, oldest ``as_of`` first (then in append order)."""
        if not self.entries.is_dir():
            return []
        return sorted(p for p in self.entries.glob("*.parquet") if not p.name.startswith("."))

    def has_run(self, run_id: str) -> bool:
        """Whether a scan with ``run_id`` was already appended."""
        return any(p.stem.endswith("--" + run_id) for p in self.files())

    def history(self) -> pl.DataFrame | None:
        """Every entry, concatenated, with ``seq`` (the entry's position), or ``None``."""
        files = self.files()
        if not files:
            return None
        frames = [
            pl.read_parquet(f).with_columns(pl.lit(i, pl.Int64).alias("seq"))
            for i, f in enumerate(files)
        ]
        return pl.concat(frames, how="diagonal_relaxed")

    def prior(self, as_of: datetime) -> pl.DataFrame:
        """Per account, the state left by the latest entry strictly before ``as_of``.

        Only accounts with a state worth keeping (a cut, or cut-level behaviour seen).
        "Latest" orders by the entry's ``as_of``, then by append order. Reads the newest
        usable snapshot and only the entries after it (see :meth:`_state`).
        """
        state = self._state(self.files(), None, as_of)
        return prior_of(nw.from_native(state.lazy())).collect().to_native().cast(PRIOR_SCHEMA)  # type: ignore[arg-type]

    # -- snapshots (see the module docstring); a snapshot holds the ``_READ`` columns

    def _snapshots(self, files: list[Path]) -> dict[int, Path]:
        """The snapshots that match the current entries, by the number of entries covered."""
        if not self.snapshots.is_dir():
            return {}
        found: dict[int, Path] = {}
        for p in self.snapshots.glob("*.parquet"):
            k_text, _, stem = p.stem.partition("--")
            if p.name.startswith(".") or not k_text.isdigit():
                continue
            k = int(k_text)
            if 1 <= k <= len(files) and files[k - 1].stem == stem:
                found[k] = p
        return found

    def _base(
        self, files: list[Path], upto: int, before: datetime | None
    ) -> tuple[int, Path | None]:
        """The largest k whose snapshot may stand for ``files[:k]`` in a read of
        ``files[:upto]`` before ``before``, and the snapshot; ``(0, None)`` if none.

        Entry names carry ``as_of`` to the second, so: every entry covered must end before
        the second of ``before``, and the first entry after the snapshot must be of a later
        second than the last one covered (then each of its rows is later than every row
        covered, and overrides it, whatever the microseconds).
        """
        cut = None if before is None else _naive_utc(before).replace(microsecond=0)
        found = self._snapshots(files)
        for k in sorted(found, reverse=True):
            last = _second(files[k - 1])
            if k > upto or last is None or (cut is not None and last >= cut):
                continue
            if k < upto:
                nxt = _second(files[k])
                if nxt is None or nxt <= last:
                    continue
            return k, found[k]
        return 0, None

    def _read(self, f: Path, pos: int) -> nw.LazyFrame:
        """``as_of`` and the ``_READ`` columns of one entry (a state column an older entry
        lacks is null), with the entry's position ``_pos``."""
        return entry_state(nw.from_native(pl.scan_parquet(f)), pos)

    def _reads(
        self, files: list[Path], upto: int | None, before: datetime | None
    ) -> tuple[Path | None, list[tuple[int, Path]]]:
        """What a read of the state ``files[:upto]`` leave before ``before`` reads: the
        newest usable snapshot (or ``None``) and the entries after it, by position, without
        those whose name says they are at or after ``before``."""
        upto = len(files) if upto is None else upto
        base, snapshot = self._base(files, upto, before)
        cut = None if before is None else _naive_utc(before).replace(microsecond=0)
        entries = []
        for pos in range(base, upto):
            second = _second(files[pos])
            if cut is not None and second is not None and second > cut:
                continue  # the whole entry is at or after ``before``
            entries.append((pos, files[pos]))
        return snapshot, entries

    def _state(self, files: list[Path], upto: int | None, before: datetime | None) -> pl.DataFrame:
        """The state (``_READ``, by account) the entries ``files[:upto]`` leave, reading
        only rows with ``as_of`` before ``before`` (all if ``None``).

        Same as reading every entry and keeping each account's latest row by (``as_of``,
        position), but starts from the newest usable snapshot.
        """
        snapshot, entries = self._reads(files, upto, before)
        scans = [self._read(f, pos) for pos, f in entries]
        # fold the entries in batches (memory stays about a batch plus one row per account);
        # each account's latest row by (as_of, position), kept with its as_of and position
        later: pl.DataFrame | None = None
        for i in range(0, len(scans), _BATCH):
            batch = scans[i : i + _BATCH]
            if later is not None:
                batch.append(nw.from_native(later.lazy()))
            folded = latest_rows(nw.concat(batch, how="vertical"), before)
            later = folded.collect().to_native()  # type: ignore[assignment]
        kept = None
        if snapshot is not None:
            kept = nw.from_native(pl.scan_parquet(snapshot))
        rest = None if later is None else nw.from_native(later.lazy())
        state = fold_state(rest, kept)
        if state is None:
            return pl.DataFrame(schema=_READ)
        return state.collect().to_native().cast(_READ).sort("account_id")  # type: ignore[arg-type]

    def _snapshot_path(self, files: list[Path], k: int) -> Path:
        """Where the snapshot of the first ``k`` entries goes (see :meth:`_snapshots`)."""
        return self.snapshots / f"{k:06d}--{files[k - 1].stem}.parquet"

    def _snapshot(self, files: list[Path], k: int) -> Path:
        """Write (once) the snapshot of the first ``k`` entries."""
        final = self._snapshot_path(files, k)
        if not final.exists():
            self.snapshots.mkdir(parents=True, exist_ok=True)
            _write_atomic(self._state(files, k, None), final)
        return final

    def _clean_stale(self) -> None:
        """Remove temporary files of processes that no longer run (killed mid-append)."""
        for folder in (self.entries, self.snapshots):
            for p in folder.glob(".*.tmp"):
                try:
                    pid = int(p.name.rsplit(".", 2)[-2])
                    os.kill(pid, 0)
                except ProcessLookupError:
                    _remove(p)
                except (ValueError, PermissionError, IndexError):
                    continue

    def prepare(self, entry: pl.DataFrame, run_id: str) -> PendingEntry | None:
        """Write one scan's entry (:func:`entry`) to a temporary file; ``None`` if ``run_id``
        is in the ledger already. :meth:`PendingEntry.commit` makes it part of the ledger."""
        as_of = entry["as_of"][0] if entry.height else datetime.min
        return self.prepare_with(lambda final: _write_tmp(entry, final), as_of, run_id)

    def prepare_with(
        self, write: Callable[[Path], Path], as_of: datetime, run_id: str
    ) -> PendingEntry | None:
        """:meth:`prepare` with the writing left to ``write(final) -> temporary path``: the
        Spark scan writes its entry as a folder of part files (read like one file)."""
        if self.has_run(run_id):
            return None
        self.entries.mkdir(parents=True, exist_ok=True)
        self._clean_stale()
        seq = len(self.files())
        final = self.entries / f"{as_of:{_NAME_AS_OF}}--{seq:06d}--{run_id}.parquet"
        return PendingEntry(self, write(final), final)

    def append(self, entry: pl.DataFrame, run_id: str) -> Path | None:
        """Append one scan's entry (:func:`entry`) atomically; nothing if ``run_id`` is there.

        Then writes the snapshot of the entries up to this one (the entry is committed
        first: a scan killed in between only leaves the next read a little more to read).
        Returns the entry's path, or ``None`` when the run was already in the ledger.
        """
        pending = self.prepare(entry, run_id)
        if pending is None:
            return None
        try:
            return pending.commit()
        except BaseException:
            pending.abort()
            raise


def entry(decisions: pl.DataFrame, trace: pl.DataFrame) -> pl.DataFrame:
    """The ledger rows of a scan: its decisions plus the state they leave (from the trace).

    Examples
    --------
    >>> from datetime import datetime
    >>> from graphrisk.decisions import decide_with_trace, FLAG_COLUMNS
    >>> from graphrisk.policy import Policy
    >>> acc = pl.DataFrame({"account_id": ["a"], "credit_limit": [5000.0]})
    >>> d, t = decide_with_trace(acc, pl.DataFrame(schema=FLAG_COLUMNS), Policy.default(),
    ...                          datetime(2026, 1, 1), "r1")
    >>> entry(d, t).columns == list(ENTRY_COLUMNS)
    True
    """
    state = trace.select("account_id", "situation", *_STATE).cast(
        {k: TRACE_SCHEMA[k] for k in ("reference_limit", "last_cut_at")}
    )  # type: ignore[dict-item]
    return decisions.join(state, on="account_id", how="left").select(list(ENTRY_COLUMNS))
