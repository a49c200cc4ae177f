"""Read and validate the input tables; write run directories atomically.

Every rule of SPEC.md is checked here, once, and every problem is reported with
the table, the column, the count and a few example rows (:class:`~graphrisk.errors.DataError`,
exit code 3). With ``quarantine=True`` row-level problems do not stop the load: the
offending rows are set aside with a ``reason`` column and counted.

Examples
--------
>>> import tempfile, datetime as dt, polars as pl
>>> d = tempfile.mkdtemp()
>>> pl.DataFrame({"account_id": ["a", "b"], "opened_at": [dt.date(2024, 1, 1)] * 2,
...               "credit_limit": [1000, -5]}).write_parquet(f"{d}/accounts.parquet")
>>> for t in ("loans", "transfers", "devices"):
...     empty_frame(t).write_parquet(f"{d}/{t}.parquet")
>>> try:
...     load(d)
... except DataError as e:
...     print(e.problems[0].render())
accounts.credit_limit: credit_limit < 0 (1 row)
    e.g. account_id='b', credit_limit=-5.0
>>> load(d, quarantine=True).quarantine["accounts"]["reason"].to_list()
['negative_limit: credit_limit < 0']
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from graphrisk.errors import DataError, Problem, UsageError
from graphrisk.schema import (
    DTYPES,
    LATEST_TIME,
    TABLE_ORDER,
    TABLES,
    Column,
    Table,
    empty_frame,
)

N_EXAMPLES = 3

#: Problem rules about a whole table (its files, columns or types): they stop a load even
#: with ``quarantine=True``. Every other rule is a row rule, which quarantine sets aside.
TABLE_LEVEL_RULES = frozenset(
    {
        "missing_table",
        "unreadable_file",
        "missing_column",
        "wrong_type",
        "bad_value",
        "ambiguous_table",
        "not_parquet",
        "duplicate_column",
        "invalid_utf8",
    }
)


@dataclass
class Tables:
    """The validated input tables as polars DataFrames (types normalised per SPEC)."""

    accounts: pl.DataFrame
    loans: pl.DataFrame
    transfers: pl.DataFrame
    devices: pl.DataFrame
    applications: pl.DataFrame | None = None
    source: str | None = None
    #: rows set aside by ``quarantine=True``, per table, with a ``reason`` column
    quarantine: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: the optional lenders table: ``lender_id, kind, name``
    lenders: pl.DataFrame | None = None
    #: what is odd but not wrong (lender ids the lenders table does not know)
    warnings: list[Problem] = field(default_factory=list)

    def get(self, name: str) -> pl.DataFrame | None:
        return getattr(self, name)

    def counts(self) -> dict[str, int]:
        """Rows per table (``None`` tables are left out)."""
        return {t: self.get(t).height for t in TABLE_ORDER if self.get(t) is not None}


# ---------------------------------------------------------------------------------------
# reading


def _find_files(path: Path, table: str) -> tuple[list[Path] | None, list[Problem]]:
    """The Parquet files of ``table`` in ``path``, and the problems met finding them.

    Files: ``None`` if there is neither ``NAME.parquet`` nor ``NAME/``; ``[]`` for an empty
    folder or when a problem makes the table unreadable (both given, a broken link, an
    unreadable folder, a file in the folder that is not Parquet).
    """
    single = path / f"{table}.parquet"
    folder = path / table
    present = [p for p in (single, folder) if p.exists() or p.is_symlink()]
    if not present:
        return None, []
    if len(present) > 1:
        return [], [
            Problem(
                table,
                None,
                "ambiguous_table",
                0,
                f"both {single.name} and {folder.name}/ exist in {path}: keep one of them"
                " (the rows of the other would not be read)",
            )
        ]
    (where,) = present
    if not where.exists():
        return [], [
            Problem(
                table,
                None,
                "unreadable_file",
                0,
                f"cannot read {where}: a broken symbolic link (to {os.readlink(where)})",
            )
        ]
    if where.is_file():
        return [where], []
    if not where.is_dir():
        return [], [
            Problem(
                table, None, "unreadable_file", 0, f"cannot read {where}: not a file or a folder"
            )
        ]
    # a folder NAME/, or what Spark writes for df.write.parquet("NAME.parquet")
    return _folder_files(where, table)


def _folder_files(folder: Path, table: str) -> tuple[list[Path], list[Problem]]:
    """Every data file under ``folder``; unreadable subfolders and non-Parquet files are problems.

    Hidden and ``_``-prefixed entries (``_temporary/``, ``_SUCCESS``, ``.part-0.crc``) are
    bookkeeping, not data. A file without the ``.parquet`` suffix is read when it is Parquet
    (Hive writes ``000000_0``); any other file would have its rows silently left out, so it
    is reported.
    """
    files: list[Path] = []
    problems: list[Problem] = []

    def unreadable(exc: OSError) -> None:
        problems.append(unreadable_file(table, Path(exc.filename or folder), exc))

    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(folder, onerror=unreadable, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a symbolic link back up the tree
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in sorted(filenames):
            if name.startswith((".", "_")):
                continue
            f = Path(dirpath) / name
            if name.endswith(".parquet"):
                files.append(f)
                continue
            try:
                with open(f, "rb") as fh:
                    is_parquet = fh.read(4) == _MAGIC
            except OSError as exc:
                problems.append(unreadable_file(table, f, exc))
                continue
            if is_parquet:
                files.append(f)
            else:
                problems.append(
                    Problem(
                        table,
                        None,
                        "not_parquet",
                        0,
                        f"{f} is not a Parquet file ({_sniff(f)}): its rows would not be read;"
                        f" convert it to Parquet or move it out of {folder.name}/",
                    )
                )
    return (sorted(files) if not problems else []), problems


def _files(path: Path, table: str) -> list[Path] | None:
    """The Parquet files of ``table`` (``None``: no file or folder; ``[]``: an empty folder).

    For callers that do not collect problems (the Spark engine): a problem finding the files
    (``NAME.parquet`` and ``NAME/`` both given, a file that is not Parquet in the folder, an
    unreadable folder) raises :class:`DataError` at once instead of leaving rows out.
    """
    files, problems = _find_files(path, table)
    if problems:
        raise DataError(problems)
    return files


_MAGIC = b"PAR1"


def _sniff(f: Path) -> str:
    """What a file that is not Parquet looks like, for a message (``""`` if it is Parquet)."""
    try:
        with open(f, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return ""
    if not head:
        return "it is empty: 0 bytes"
    if head[:4] == _MAGIC:
        return ""
    lines = head.decode("utf-8", errors="replace").splitlines()
    line = lines[0] if lines else ""
    if line and line.replace("\t", " ").isprintable():
        csv = any(sep in line for sep in (",", ";", "\t"))
        return f"it starts with {line[:40]!r}" + (", a CSV file?" if csv else "")
    return f"it starts with the bytes {head[:8]!r}"


def _arrow_kind_ok(kind: str, t: pa.DataType) -> bool:
    if pa.types.is_null(t):
        return True
    if pa.types.is_dictionary(t):
        t = t.value_type
    if kind == "string":
        return (
            pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or (hasattr(pa.types, "is_string_view") and pa.types.is_string_view(t))
        )
    if kind == "timestamp":
        return pa.types.is_timestamp(t)
    if kind == "timestamp_or_date":
        return pa.types.is_timestamp(t) or pa.types.is_date(t)
    if kind == "number":
        return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    if kind == "integer":
        return pa.types.is_integer(t)
    raise ValueError(kind)


def _normalise(col: pa.ChunkedArray, column: Column) -> pa.ChunkedArray:
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if column.kind.startswith("timestamp"):
        if pa.types.is_timestamp(t) and t.tz is not None:
            col = col.cast(pa.timestamp(t.unit, tz="UTC")).cast(pa.timestamp(t.unit))
        # ns -> us truncates sub-microsecond digits (cannot overflow); other units cast safely
        ns = pa.types.is_timestamp(col.type) and col.type.unit == "ns"
        return col.cast(pa.timestamp("us"), safe=not ns)
    if column.kind == "string":
        return col.cast(pa.large_string())
    if column.kind == "number":
        return col.cast(pa.float64())
    if column.kind == "integer":
        return col.cast(pa.int64())
    return col


def _plain_type(kind: str, t: pa.DataType) -> bool:
    """Types polars reads and casts exactly as :func:`_normalise` would (the fast path)."""
    if kind == "string":
        return (
            pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or (hasattr(pa.types, "is_string_view") and pa.types.is_string_view(t))
        )
    if kind.startswith("timestamp"):
        if pa.types.is_timestamp(t):
            return t.unit == "us" and t.tz is None
        return kind == "timestamp_or_date" and pa.types.is_date32(t)
    if kind == "number":
        return pa.types.is_float64(t) or pa.types.is_float32(t)
    if kind == "integer":
        return t in (pa.int64(), pa.int32(), pa.int16(), pa.int8())
    return False


def _read_plain(f: Path, spec: Table, schema: pa.Schema, present: list[str]) -> pl.DataFrame | None:
    """Read a file whose columns all have plain types with polars' native reader.

    Returns None when the file needs the careful pyarrow path (a missing required column,
    a type that needs converting or checking, or a file polars cannot read).
    """
    kinds = {c.name: c.kind for c in spec.columns}
    if any(c.required and c.name not in present for c in spec.columns):
        return None
    if len(set(schema.names)) != len(schema.names):
        return None
    if not all(_plain_type(kinds[n], schema.field(n).type) for n in present):
        return None
    try:
        df = pl.read_parquet(f, columns=present, hive_partitioning=False)
    except Exception:  # let the pyarrow path read it or report it
        return None
    missing = [
        pl.lit(None, dtype=DTYPES[c.kind]).alias(c.name)
        for c in spec.columns
        if c.name not in present
    ]
    if missing:
        df = df.with_columns(missing)
    return df.select([c.name for c in spec.columns]).cast(
        {c.name: DTYPES[c.kind] for c in spec.columns}
    )


def missing_table(table: str, files: list[Path] | None, root: Path) -> Problem:
    """The problem of a required table with no file (``files`` None) or an empty folder."""
    if files is None:
        what = f"no file {table}.parquet or folder {table}/ in {root}"
    else:
        what = f"an empty folder (no Parquet file in {table}/ or {table}.parquet/ in {root})"
    return Problem(table, None, "missing_table", 0, f"table is missing: {what}")


def unreadable_file(table: str, f: Path, exc: Exception) -> Problem:
    """The problem of a file that cannot be read (shared by every engine)."""
    looks = _sniff(f) if isinstance(f, Path) and f.is_file() else ""
    why = f"not a Parquet file ({looks})" if looks else f"{type(exc).__name__}: {exc}"
    return Problem(table, None, "unreadable_file", 0, f"cannot read {f}: {why}")


def missing_column(table: str, column: str, rows: int, f: Path) -> Problem:
    """The problem of a required column missing in one file."""
    return Problem(table, column, "missing_column", rows, f"required column is missing in {f.name}")


def wrong_type(
    table: str,
    column: Column,
    rows: int,
    t: pa.DataType,
    examples: list[dict],
    part: str | None = None,
) -> Problem:
    """The problem of a column whose Arrow type is not its SPEC kind (``part``: which file)."""
    return Problem(
        table,
        column.name,
        "wrong_type",
        rows,
        f"has type {t}{f' in {part}' if part else ''}, expected {column.kind.replace('_', ' ')}",
        examples,
    )


def _part_name(root: Path, f: Path) -> str | None:
    """How to name one file of a folder table in a message (``None`` for ``NAME.parquet``)."""
    return None if f.parent == root else str(f.relative_to(root))


def _invalid_utf8(
    table: str, column: str, col: pa.ChunkedArray, part: str | None
) -> Problem | None:
    """The problem of strings that are not valid UTF-8 (Parquet can hold them; polars cannot)."""
    try:
        col.validate(full=True)
        return None
    except pa.ArrowInvalid:
        pass
    bad = []
    for v in col.cast(pa.large_binary()).to_pylist():
        if v is None:
            continue
        try:
            v.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(v)
    return Problem(
        table,
        column,
        "invalid_utf8",
        len(bad),
        f"is not valid UTF-8 text{f' in {part}' if part else ''}",
        [{column: v} for v in bad[:N_EXAMPLES]],
    )


def _read_table(path: Path, spec: Table, problems: list[Problem]) -> pl.DataFrame | None:
    """One table with SPEC types, or ``None`` when it is absent or broken (problems added)."""
    files, found = _find_files(path, spec.name)
    if found:
        problems.extend(found)
        return None
    if not files:
        if spec.optional:
            return None
        problems.append(missing_table(spec.name, files, path))
        return None
    frames: list[pl.DataFrame] = []
    known = [c.name for c in spec.columns]
    for f in files:
        part = _part_name(path, f)
        try:
            schema = pq.read_schema(f)
            present = [n for n in known if n in schema.names]
        except Exception as exc:  # pyarrow raises several types for a broken file
            problems.append(unreadable_file(spec.name, f, exc))
            continue
        twice = [n for n in present if schema.names.count(n) > 1]
        if twice:
            rows = pq.read_metadata(f).num_rows
            for n in twice:
                problems.append(
                    Problem(
                        spec.name,
                        n,
                        "duplicate_column",
                        rows,
                        f"the column appears {schema.names.count(n)} times in {part or f.name}:"
                        " keep one",
                    )
                )
            continue
        plain = _read_plain(f, spec, schema, present)
        if plain is not None:
            frames.append(plain)
            continue
        try:
            table = pq.read_table(f, columns=present)
        except Exception as exc:  # pyarrow raises several types for a broken file
            problems.append(unreadable_file(spec.name, f, exc))
            continue
        missing = [c for c in spec.columns if c.required and c.name not in present]
        for c in missing:
            problems.append(missing_column(spec.name, c.name, table.num_rows, f))
        bad_type = False
        arrays: dict[str, pa.ChunkedArray] = {}
        for c in spec.columns:
            if c.name not in present:
                continue
            col = table.column(c.name)
            if not _arrow_kind_ok(c.kind, col.type):
                bad_type = True
                examples = [{c.name: v} for v in _arrow_examples(col)]
                problems.append(wrong_type(spec.name, c, table.num_rows, col.type, examples, part))
                continue
            try:
                arrays[c.name] = _normalise(col, c)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                # e.g. a timestamp beyond the year 294247 or an unsigned integer beyond int64
                bad_type = True
                problems.append(
                    Problem(
                        spec.name,
                        c.name,
                        "bad_value",
                        table.num_rows,
                        f"values of type {col.type}{f' in {part}' if part else ''} cannot be"
                        f" converted to {c.kind.replace('_', ' ')} ({exc})",
                        [{c.name: v} for v in _arrow_examples(col)],
                    )
                )
                continue
            if c.kind == "string":
                problem = _invalid_utf8(spec.name, c.name, arrays[c.name], part)
                if problem is not None:
                    bad_type = True
                    problems.append(problem)
        if missing or bad_type:
            continue
        df = pl.from_arrow(pa.table(arrays)) if arrays else pl.DataFrame()
        assert isinstance(df, pl.DataFrame)
        for c in spec.columns:
            if c.name not in df.columns:
                df = df.with_columns(pl.lit(None, dtype=DTYPES[c.kind]).alias(c.name))
        frames.append(df.select(known).cast({c.name: DTYPES[c.kind] for c in spec.columns}))
    if len(frames) != len(files):
        return None
    return pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]


# ---------------------------------------------------------------------------------------
# row rules


def _examples(df: pl.DataFrame, spec: Table, columns: list[str]) -> list[dict]:
    keep = ([spec.key] if spec.key and spec.key not in columns else []) + columns
    if spec.key is None or spec.key in columns:
        # no key to find the row by (devices, applications, a null or duplicate id):
        # show the whole required row
        keep += [c.name for c in spec.columns if c.required and c.name not in keep]
    rows = df.select(keep).head(N_EXAMPLES)
    try:
        return rows.to_dicts()
    except (ValueError, OverflowError):  # a date beyond Python's year 9999: show it as text
        return rows.with_columns(pl.col(pl.Datetime, pl.Date).cast(pl.String)).to_dicts()


def _arrow_examples(col: pa.ChunkedArray) -> list[Any]:
    """A few non-null values of a raw column, as Python values (as text where Python can't)."""
    head = col.drop_null().slice(0, N_EXAMPLES)
    try:
        return head.to_pylist()
    except (ValueError, OverflowError, pa.ArrowInvalid):
        return [str(v) for v in head.cast(pa.string(), safe=False).to_pylist()]


def _row_rules(
    spec: Table, df: pl.DataFrame, tables: dict[str, pl.DataFrame]
) -> list[tuple[str, str, str, pl.Expr]]:
    """(rule, column, message, bad-row expression) for every row rule of a table."""
    rules: list[tuple[str, str, str, pl.Expr]] = []
    for c in spec.columns:
        if c.required:
            rules.append(("null_value", c.name, f"{c.name} is null", pl.col(c.name).is_null()))
    if spec.key:
        dup = pl.col(spec.key).is_duplicated() & pl.col(spec.key).is_not_null()
        # distinct 64-bit hashes prove distinct ids, and hashing is much cheaper than
        # is_duplicated on strings; only a collision (or a real duplicate) takes the slow path
        if df.height and df.select(pl.col(spec.key).hash().n_unique()).item() == df.height:
            dup = pl.repeat(False, pl.len())
        rules.append(("duplicate_id", spec.key, f"{spec.key} is not unique", dup))
    for rule, column, expr, message in spec.checks:
        rules.append((rule, column, message, expr.fill_null(False)))
    for c in spec.columns:
        if c.kind.startswith("timestamp") and c.name != "due_at":  # see schema.LATEST_TIME
            rules.append(
                (
                    "far_future",
                    c.name,
                    f"{c.name} is on or after {LATEST_TIME:%Y-%m-%d}: a placeholder such as"
                    " 9999-12-31, not a real time",
                    (pl.col(c.name) >= LATEST_TIME).fill_null(False),
                )
            )
    for column, ref_table, ref_column in spec.references:
        ref = tables.get(ref_table)
        if ref is None:
            continue
        rules.append(
            (
                "dangling_reference",
                column,
                f"{column} not found in {ref_table}.{ref_column}",
                ~pl.col(column).is_in(ref.get_column(ref_column).implode())
                & pl.col(column).is_not_null(),
            )
        )
    return rules


def _check_rows(
    spec: Table,
    df: pl.DataFrame,
    tables: dict[str, pl.DataFrame],
    quarantine: bool,
    problems: list[Problem],
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    rules = _row_rules(spec, df, tables)
    if not rules:
        return df, None
    flags = df.select([e.alias(f"__bad{i}") for i, (_, _, _, e) in enumerate(rules)])
    counts = flags.select(pl.all().sum()).row(0)
    bad_any: pl.Series | None = None
    reasons: list[pl.Expr] = []
    for i, (rule, column, message, _) in enumerate(rules):
        n = int(counts[i] or 0)
        if not n:
            continue
        mask = flags.get_column(f"__bad{i}")
        bad_any = mask if bad_any is None else bad_any | mask
        reasons.append(pl.when(pl.col(f"__bad{i}")).then(pl.lit(f"{rule}: {message}")))
        if not quarantine:
            problems.append(
                Problem(
                    spec.name, column, rule, n, message, _examples(df.filter(mask), spec, [column])
                )
            )
    if not quarantine or bad_any is None:
        return df, None
    both = pl.concat([df, flags], how="horizontal")
    bad = (
        both.filter(bad_any)
        .with_columns(pl.concat_str(reasons, separator="; ", ignore_nulls=True).alias("reason"))
        .select([*df.columns, "reason"])
    )
    return df.filter(~bad_any), bad


# ---------------------------------------------------------------------------------------
# public


def load(path: str | os.PathLike, quarantine: bool = False) -> Tables:
    """Read and validate a data directory.

    Parameters
    ----------
    path
        A directory with one ``NAME.parquet`` file or one ``NAME/`` folder of Parquet files
        per table (accounts, loans, transfers, devices, and optionally applications).
    quarantine
        If true, rows that break a row rule (null, duplicate, negative, dangling reference, ...)
        are set aside in ``Tables.quarantine`` instead of stopping the load. Table-level
        problems (missing table or column, wrong type, unreadable file) are always fatal.

    Returns
    -------
    Tables
        The tables with SPEC types: strings, ``Datetime("us")`` in UTC, ``Float64`` amounts.

    Raises
    ------
    DataError
        Listing every problem found in one pass, with table, column, count and example rows:
        the table-level problems of every table, and the row problems of every table that
        could be read (a reference into a table that could not be read is not checked).
    UsageError
        If ``path`` is not a directory.
    """
    root = Path(path)
    if not root.is_dir():
        raise UsageError(f"data directory not found: {root}")
    problems: list[Problem] = []
    raw: dict[str, pl.DataFrame | None] = {}
    for name in TABLE_ORDER:
        raw[name] = _read_table(root, TABLES[name], problems)
    # Row rules run on every table that was read, even when another table is broken, so one
    # pass reports every problem; a reference into a broken table is not checked (the table
    # is absent from ``clean``, see _row_rules).
    clean: dict[str, pl.DataFrame] = {}
    quarantined: dict[str, pl.DataFrame] = {}
    for name in TABLE_ORDER:
        df = raw[name]
        if df is None:
            continue
        spec = TABLES[name]
        if name == "loans":
            df = df.with_columns(pl.col("overdue_days").fill_null(0))
        df, bad = _check_rows(spec, df, clean, quarantine, problems)
        clean[name] = df
        if bad is not None and bad.height:
            quarantined[name] = bad
    return finish_load(clean, problems, root, quarantined)


def finish_load(
    frames: dict[str, pl.DataFrame],
    problems: list[Problem],
    source: str | os.PathLike,
    quarantined: dict[str, pl.DataFrame],
) -> Tables:
    """The end of a load (local or Spark): every problem at once, or the tables.

    Raises :class:`DataError` with the problems table by table in ``TABLE_ORDER``,
    table-level problems first within a table (the sort is stable).
    """
    if problems:
        problems.sort(key=lambda p: TABLE_ORDER.index(p.table))
        raise DataError(problems)
    return Tables(
        accounts=frames["accounts"],
        loans=frames["loans"],
        transfers=frames["transfers"],
        devices=frames["devices"],
        applications=frames.get("applications"),
        source=str(source),
        quarantine=quarantined,
        lenders=frames.get("lenders"),
        warnings=lender_warnings(frames),
    )


def lender_warnings(frames: dict[str, pl.DataFrame]) -> list[Problem]:
    """Lender ids of loans and applications that the lenders table does not list.

    Books often miss a few lenders, so these are warnings (counted in ``summary.json`` and
    printed by ``validate``), not errors: such a lender's kind is ``unknown``.
    """
    lenders = frames.get("lenders")
    if lenders is None:
        return []
    out = []
    known = lenders.select("lender_id")
    for name in ("loans", "applications"):
        df = frames.get(name)
        if df is None or not df.height:
            continue
        bad = df.join(known, on="lender_id", how="anti")
        if bad.height:
            ids = bad["lender_id"].unique().sort()
            out.append(
                Problem(
                    name,
                    "lender_id",
                    "unknown_lender",
                    bad.height,
                    f"lender_id not found in lenders.lender_id ({ids.len()} lender"
                    f"{'s' if ids.len() != 1 else ''}; their kind is unknown)",
                    _examples(bad, TABLES[name], ["lender_id"]),
                )
            )
    return out


#: The file that marks a directory written by :func:`atomic_dir` for a scan (a run directory).
RUN_MARKER = "summary.json"


def check_replaceable(target: str | os.PathLike, marker: str = RUN_MARKER) -> None:
    """Raise :class:`UsageError` unless :func:`atomic_dir` may replace ``target``.

    It may if ``target`` does not exist, is an empty directory, or is a directory holding
    ``marker`` (a run directory written before). Anything else (a file, the data directory,
    a folder of other documents) is refused rather than deleted.
    """
    target = Path(target)
    if not (target.exists() or target.is_symlink()):
        return
    if not target.is_dir():
        raise UsageError(f"refusing to replace {target}: it exists and is not a directory")
    if (target / marker).exists():
        return
    try:
        empty = not any(target.iterdir())
    except OSError:
        empty = False
    if not empty:
        raise UsageError(
            f"refusing to replace {target}: it exists and is not a run directory"
            f" (no {marker} in it); choose another path or remove it"
        )


def _remove(p: Path) -> None:
    if p.is_symlink() or not p.is_dir():
        p.unlink(missing_ok=True)
    else:
        shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (when unsure: yes)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OverflowError:
        return False
    except OSError:  # PermissionError: it runs, as another user
        return True
    return True


def _remove_stale(target: Path) -> list[Path]:
    """Remove what killed writers of ``target`` left beside it; returns what was removed.

    A writer that dies after moving the old ``target`` aside leaves ``.NAME.old-PID``; one that
    dies while writing leaves ``.NAME.PID.XXXXXXXX.tmp``. Those of processes still running
    (another scan writing the same target right now) are left alone.
    """
    prefix = f".{target.name}."
    removed: list[Path] = []
    try:
        entries = [p for p in target.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return removed
    for p in sorted(entries):
        m = re.fullmatch(r"old-(\d+)|(\d+)\.[^.]+\.tmp", p.name[len(prefix) :])
        if m is None or _alive(int(m.group(1) or m.group(2))):
            continue
        _remove(p)
        removed.append(p)
    return removed


#: ``errno`` values of a write that failed because of the user's environment (a full disk, a
#: quota, a read-only file system, missing permission): usage errors (exit 2), not bugs.
ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def environment_errno(exc: BaseException) -> int | None:
    """The ``errno`` of a failed write if it is one of :data:`ENVIRONMENT_ERRNOS`, else ``None``.

    Polars reports I/O failures as its own errors with the OS error in the message
    (``... No space left on device (os error 28)``); those are recognised too.

    Examples
    --------
    >>> environment_errno(OSError(errno.ENOSPC, "No space left on device")) == errno.ENOSPC
    True
    >>> environment_errno(RuntimeError("parquet: underlying IO error: (os error 13)"))
    13
    >>> environment_errno(ValueError("bad")) is None
    True
    """
    code = exc.errno if isinstance(exc, OSError) else None
    if code is None:
        m = re.search(r"\(os error (\d+)\)", str(exc))
        code = int(m.group(1)) if m else None
    return code if code in ENVIRONMENT_ERRNOS else None


#: ``renameat2`` flag: swap two existing paths atomically (Linux >= 3.15).
RENAME_EXCHANGE = 2
_AT_FDCWD = -100
#: ``renameat2`` system call numbers where libc lacks the wrapper (glibc < 2.28).
_SYS_RENAMEAT2 = {"x86_64": 316, "aarch64": 276, "i686": 353, "i386": 353}


def _renameat2() -> Callable[..., int] | None:
    """libc's ``renameat2``, or the raw system call, or ``None`` (not Linux)."""
    import ctypes
    import platform

    if sys.platform != "linux":
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    fn = getattr(libc, "renameat2", None)
    if fn is not None:
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        fn.restype = ctypes.c_int
        return fn
    nr = _SYS_RENAMEAT2.get(platform.machine())
    if nr is None:
        return None
    syscall = libc.syscall
    syscall.restype = ctypes.c_long
    return lambda *args: syscall(ctypes.c_long(nr), *args)


def _exchange(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Swap the paths ``a`` and ``b`` in one atomic step (``renameat2(RENAME_EXCHANGE)``).

    Returns ``False``, having changed nothing, where the exchange is not available: not
    Linux, a kernel before 3.15, or a file system that does not support it. Any other failure
    raises :class:`OSError`.
    """
    import ctypes

    fn = _renameat2()
    if fn is None:
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), os.fspath(b))


@contextmanager
def atomic_dir(
    target: str | os.PathLike,
    marker: str | Callable[[Path], None] | None = RUN_MARKER,
    then: Callable[[], None] | None = None,
) -> Iterator[Path]:
    """Write a directory completely or not at all.

    Yields a temporary directory beside ``target``; on success it replaces ``target``. On
    Linux an existing ``target`` is swapped with the new directory in one atomic step
    (``renameat2(RENAME_EXCHANGE)``, :func:`_exchange`), so at every instant ``target``
    holds the old directory or the new one, whenever the writer is killed; the old one,
    now at the temporary name, is then removed. Where the exchange is unavailable (other
    systems, file systems without it) the old ``target`` is renamed aside and the new one
    renamed in: a writer killed between the two renames leaves ``target`` missing (its
    leftovers are still removed by the next writer). On error the temporary directory is
    removed and ``target`` is left as it was. Leftovers of earlier writers of ``target``
    that were killed half-way (see :func:`_remove_stale`) are removed after a success.

    Parameters
    ----------
    target
        The directory to write.
    marker
        An existing ``target`` is replaced only if it is empty or holds this file (see
        :func:`check_replaceable`); or a function that raises :class:`UsageError` for a
        ``target`` that may not be replaced; ``None`` replaces any directory.
    then
        Called once the new directory is in place and before the old one is removed (to
        commit something that belongs with it, such as a ledger entry). If it raises, the
        old directory is put back and the error propagates.

    Raises
    ------
    UsageError
        If ``target`` exists and may not be replaced (checked before and after the body).
    """
    target = Path(target)
    check: Callable[[Path], None] | None = (
        (lambda t: check_replaceable(t, marker)) if isinstance(marker, str) else marker
    )
    if check is not None:
        check(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{pid}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        if check is not None:  # it may have appeared while the body ran
            check(target)
        old = None  # where the old target is while ``then`` runs
        exchanged = False
        aside = target.parent / f".{target.name}.old-{pid}"
        if aside.exists() or aside.is_symlink():  # left by a dead process that had our pid
            _remove(aside)
        if target.exists() or target.is_symlink():
            exchanged = _exchange(tmp, target)
            if exchanged:
                old = tmp
            else:
                old = aside
                os.rename(target, old)
        if not exchanged:
            try:
                os.rename(tmp, target)
            except BaseException:
                if old is not None:
                    os.rename(old, target)
                raise
        try:
            if then is not None:
                then()
        except BaseException:
            _put_back(target, tmp, old, exchanged)
            raise
        if old is not None:
            _remove(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove_stale(target)


def _put_back(target: Path, tmp: Path, old: Path | None, exchanged: bool) -> None:
    """Undo a replace: the old ``target`` back at its name, the new directory at ``tmp``."""
    if exchanged:
        _exchange(tmp, target)
        return
    os.rename(target, tmp)
    if old is not None:
        os.rename(old, target)


__all__ = [
    "TABLE_LEVEL_RULES",
    "Tables",
    "atomic_dir",
    "check_replaceable",
    "empty_frame",
    "environment_errno",
    "load",
]
