"""Load and validate the input tables with Spark; hand the result to polars through Arrow.

:func:`load_with_spark` is the Spark twin of :func:`graphrisk.io.load`: the same tables, the same
rules, the same :class:`~graphrisk.errors.DataError` (same rules, counts and example rows), the
same quarantine, and the same :class:`~graphrisk.io.Tables` (frame-equal, row order included).

How the work is split
---------------------
* **Table-level rules** (missing table, missing column, wrong type, unreadable footer) are
  decided from each file's Parquet footer with pyarrow, file by file, exactly as
  :mod:`graphrisk.io` does: a footer is metadata (no data is read), and Spark's merged
  schema would hide what the contract talks about (dictionary or ``large_string`` columns,
  unsigned integers, nanosecond or zoned timestamps, a column missing from one file of many).
  The accepted Arrow types per kind are :mod:`graphrisk.io`'s (``_arrow_kind_ok``), not
  restated here.
* **Reading and type normalisation** is Spark's: each table's files (grouped by identical
  footer schema) are read by ``spark.read.parquet``; timestamps become ``timestamp_ntz`` in UTC
  (zoned ones are converted, dates become midnight, nanoseconds are truncated to
  microseconds), numbers ``double``, integers ``bigint``. Every row keeps its file number and
  its ``_metadata.row_index`` so that examples and the final order match the local loader.
* **Row rules** are Spark aggregations derived from :data:`graphrisk.schema.TABLES`: a null
  required column; a duplicate key (a window count); every ``Table.checks`` polars expression,
  *translated* to a Spark column from its serialised expression tree (:func:`translate`; no rule
  is restated here); and dangling references (a left join against the referenced table's clean
  keys). One aggregation per table counts every rule; examples are the first rows by file
  order. With ``quarantine=True`` bad rows are split off with the same ``reason`` text.
* **Hand-over**: the clean tables (and quarantined rows) are collected with ``toArrow()``,
  sorted back into file order in polars and cast to :data:`graphrisk.schema.DTYPES`.

Spark runs in local mode (``local[2]``, 4 shuffle partitions, no UI, error-level logs) unless a
session is given; the engine always works in a ``newSession()`` so its SQL settings
(``spark.sql.session.timeZone=UTC``, case-sensitive names, nanosecond timestamps read as
integers) never change the caller's session.
"""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from graphrisk.errors import DataError, Problem, UsageError
from graphrisk.io import (
    N_EXAMPLES,
    Tables,
    _arrow_kind_ok,
    _examples,
    _files,
    _normalise,
    missing_column,
    missing_table,
    unreadable_file,
    wrong_type,
)
from graphrisk.schema import DTYPES, TABLE_ORDER, TABLES, Column, Table

if TYPE_CHECKING:
    from pyspark.sql import Column as SparkColumn
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["INSTALL_HINT", "load_with_spark", "spark_session", "translate"]

#: What to tell a user whose Python has no pyspark.
INSTALL_HINT = "pip install 'graphrisk[spark]'"

#: Settings of the local session started when none is given.
SPARK_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.memory": os.environ.get("GRAPHRISK_SPARK_DRIVER_MEMORY", "2g"),
    "spark.sql.session.timeZone": "UTC",
    # one job per query instead of one per shuffle stage: on one machine the re-planning
    # costs more than it saves (a caller's own session keeps its own setting)
    "spark.sql.adaptive.enabled": "false",
}

#: SQL settings of the engine's own ``newSession()`` (never the caller's session).
SESSION_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.caseSensitive": "true",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    "spark.sql.legacy.parquet.nanosAsLong": "true",
}

#: Spark SQL types of the SPEC kinds (compare :data:`graphrisk.schema.DTYPES`).
SPARK_TYPES: dict[str, str] = {
    "string": "string",
    "timestamp": "timestamp_ntz",
    "timestamp_or_date": "timestamp_ntz",
    "number": "double",
    "integer": "bigint",
}

_FILE, _ROW = "__gr_file", "__gr_row"
_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
"""

_LOCK = threading.Lock()
_DEFAULT: SparkSession | None = None


# ---------------------------------------------------------------------------------------
# the session


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            f"--engine spark needs pyspark, which is not installed: {INSTALL_HINT} "
            "(Spark also needs Java 17)"
        ) from exc


def spark_session(spark: SparkSession | None = None) -> SparkSession:
    """A session for the engine: a ``newSession()`` of ``spark`` or of a local default one.

    The default session (``local[2]``, settings :data:`SPARK_CONF`) is started on first use
    and kept for the life of the process. The returned session has :data:`SESSION_CONF`.

    Raises
    ------
    UsageError
        If pyspark is not installed or Spark cannot start (no Java, ...).
    """
    global _DEFAULT
    _require_pyspark()
    from pyspark.sql import SparkSession

    with _LOCK:
        if spark is None:
            alive = _DEFAULT is not None and _DEFAULT.sparkContext._jsc is not None
            if not alive:
                _DEFAULT = _start_local(SparkSession)
            spark = _DEFAULT
        assert spark is not None
        session = spark.newSession()
    for key, value in SESSION_CONF.items():
        session.conf.set(key, value)
    return session


def _start_local(session_class: Any) -> SparkSession:
    fd, log_conf = tempfile.mkstemp(prefix="graphrisk-log4j2-", suffix=".properties")
    with os.fdopen(fd, "w") as fh:
        fh.write(_LOG4J2)
    builder = session_class.builder.master("local[2]").appName("graphrisk")
    for key, value in SPARK_CONF.items():
        builder = builder.config(key, value)
    builder = builder.config(
        "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log_conf}"
    )
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: no Java, no memory, ...
        raise UsageError(
            f"cannot start a local Spark session ({type(exc).__name__}: {exc}); "
            "Spark needs Java 17 on PATH or JAVA_HOME"
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


# ---------------------------------------------------------------------------------------
# polars expression -> Spark column


class Untranslatable(ValueError):
    """A polars check expression with a node :func:`translate` does not know."""


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "Eq": lambda a, b: a == b,
    "NotEq": lambda a, b: a != b,
    "Lt": lambda a, b: a < b,
    "LtEq": lambda a, b: a <= b,
    "Gt": lambda a, b: a > b,
    "GtEq": lambda a, b: a >= b,
    "And": lambda a, b: a & b,
    "LogicalAnd": lambda a, b: a & b,
    "Or": lambda a, b: a | b,
    "LogicalOr": lambda a, b: a | b,
    "Plus": lambda a, b: a + b,
    "Minus": lambda a, b: a - b,
    "Multiply": lambda a, b: a * b,
    "TrueDivide": lambda a, b: a / b,
}
_UNARY: dict[str, Callable[[Any], Any]] = {
    "IsNull": lambda a: a.isNull(),
    "IsNotNull": lambda a: a.isNotNull(),
    "Not": lambda a: ~a,
    # polars gives null for a null input; Spark's isnan(null) is false, hence the when()
    "IsNan": lambda a: _when_not_null(a, _isnan(a)),
    "IsNotNan": lambda a: _when_not_null(a, ~_isnan(a)),
    "IsInfinite": lambda a: _when_not_null(a, _isinf(a)),
    "IsFinite": lambda a: _when_not_null(a, ~_isnan(a) & ~_isinf(a)),
}


def _when_not_null(a: Any, value: Any) -> Any:
    from pyspark.sql import functions as F

    return F.when(a.isNotNull(), value)


def _isnan(a: Any) -> Any:
    from pyspark.sql import functions as F

    return F.isnan(a)


def _isinf(a: Any) -> Any:
    from pyspark.sql import functions as F

    return F.abs(a) == F.lit(float("inf"))


_SCALARS = (
    "String",
    "Boolean",
    "Float32",
    "Float64",
    *tuple(f"{s}Int{n}" for s in ("", "U") for n in (8, 16, 32, 64)),
)


def translate(expr: pl.Expr) -> SparkColumn:
    """The Spark column computing the same value as a polars check expression.

    Understood: columns, numeric/string/boolean literals, comparisons, ``& |``, ``+ - * /``,
    ``is_null``, ``is_not_null`` and ``~``. Null semantics agree (a comparison with null is
    null in both; ``&``/``|`` are three-valued in both; NaN is the largest float and equal to
    itself in both).

    Raises
    ------
    Untranslatable
        For any other node: add it here rather than restating the rule.
    """
    _require_pyspark()
    tree = json.loads(expr.meta.serialize(format="json"))
    return _node(tree, str(expr))


def _node(node: Any, where: str) -> SparkColumn:
    from pyspark.sql import functions as F

    if isinstance(node, dict) and len(node) == 1:
        kind, body = next(iter(node.items()))
        if kind == "Column" and isinstance(body, str):
            return F.col(body)
        if kind == "Literal" and isinstance(body, dict) and len(body) == 1:
            ((lit_kind, value),) = body.items()
            if isinstance(value, dict) and len(value) == 1:
                ((vtype, v),) = value.items()
                ok = (lit_kind == "Dyn" and vtype in ("Int", "Float", "Str")) or (
                    lit_kind == "Scalar" and vtype in _SCALARS
                )
                if ok and isinstance(v, (int, float, str, bool)):
                    return F.lit(v)
        if kind == "BinaryExpr" and body.get("op") in _BINARY:
            left, right = _node(body["left"], where), _node(body["right"], where)
            return _BINARY[body["op"]](left, right)
        if kind == "Function" and isinstance(body, dict):
            fn, args = body.get("function"), body.get("input", [])
            if isinstance(fn, dict) and fn.get("Boolean") in _UNARY and len(args) == 1:
                return _UNARY[fn["Boolean"]](_node(args[0], where))
    raise Untranslatable(f"cannot translate {json.dumps(node)[:200]} in check {where}")


# ---------------------------------------------------------------------------------------
# table-level rules from Parquet footers


@dataclass(frozen=True)
class _Part:
    """One readable Parquet file of a table: its place in file order and its column types."""

    path: Path
    index: int
    types: tuple[tuple[str, str], ...]  # (column, Arrow type) of the known columns present


def _inspect(root: Path, spec: Table, problems: list[Problem]) -> list[_Part] | None:
    """The files of a table if all pass the table-level rules; else ``None`` (problems added)."""
    files = _files(root, spec.name)
    if files is None or not files:
        if spec.optional:
            return None
        problems.append(missing_table(spec.name, files, root))
        return None
    parts: list[_Part] = []
    known = [c.name for c in spec.columns]
    for index, f in enumerate(files):
        try:
            pf = pq.ParquetFile(f)
            schema, rows = pf.schema_arrow, pf.metadata.num_rows
        except Exception as exc:  # pyarrow raises several types for a broken file
            problems.append(unreadable_file(spec.name, f, exc))
            continue
        present = [n for n in known if n in schema.names]
        missing = [c for c in spec.columns if c.required and c.name not in present]
        for c in missing:
            problems.append(missing_column(spec.name, c.name, rows, f))
        bad_type = False
        for c in spec.columns:
            if c.name not in present:
                continue
            t = schema.field(c.name).type
            if not _arrow_kind_ok(c.kind, t):
                bad_type = True
                problems.append(wrong_type(spec.name, c, rows, t, _type_examples(f, c.name)))
            elif _may_not_convert(pf, c, t):
                problem = _conversion_problem(spec, f, c, rows)
                if problem is not None:
                    bad_type = True
                    problems.append(problem)
        if not missing and not bad_type:
            types = tuple((n, str(schema.field(n).type)) for n in present)
            parts.append(_Part(f, index, types))
    return parts if len(parts) == len(files) else None


#: |raw Parquet statistic| that cannot overflow the conversion, per (kind, Arrow type):
#: number from 64-bit integers (pyarrow's safe cast to float64 keeps |v| <= 2**53); integer
#: from uint64; timestamps in s or ms (stored as ms) and dates (stored as days) to microseconds.
def _bound(kind: str, t: pa.DataType) -> int | None:
    if kind == "number" and (pa.types.is_int64(t) or pa.types.is_uint64(t)):
        return 2**53
    if kind == "integer" and pa.types.is_uint64(t):
        return 2**63 - 1
    if kind.startswith("timestamp") and pa.types.is_timestamp(t) and t.unit in ("s", "ms"):
        return (2**63 - 1) // 1000
    if kind == "timestamp_or_date" and pa.types.is_date(t):
        return (2**63 - 1) // 86_400_000_000
    return None


def _may_not_convert(pf: pq.ParquetFile, c: Column, t: pa.DataType) -> bool:
    """Whether the SPEC conversion of a column could fail, judged by its footer statistics.

    Spark would convert such values silently (overflow, rounding); :mod:`graphrisk.io`
    reports them as ``bad_value``. Only columns whose statistics do not rule it out are
    read (with pyarrow) and converted as :mod:`graphrisk.io` does.
    """
    if pa.types.is_dictionary(t):
        t = t.value_type
    bound = _bound(c.kind, t)
    if bound is None:
        return False
    meta = pf.metadata
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        chunk = next(
            (rg.column(j) for j in range(rg.num_columns) if rg.column(j).path_in_schema == c.name),
            None,
        )
        stats = chunk.statistics if chunk is not None else None
        if stats is None or not stats.has_min_max:
            if chunk is not None and stats is not None and stats.null_count == rg.num_rows:
                continue
            return True
        lo, hi = stats.min_raw, stats.max_raw
        if pa.types.is_uint64(t):
            lo, hi = stats.min, stats.max  # the raw values are the signed bit patterns
        if not (isinstance(lo, int) and isinstance(hi, int)) or max(-lo, hi) > bound:
            return True
    return False


def _conversion_problem(spec: Table, path: Path, c: Column, rows: int) -> Problem | None:
    """The ``bad_value`` problem :mod:`graphrisk.io` reports for a column, if any."""
    try:
        col = pq.read_table(path, columns=[c.name]).column(c.name)
    except Exception:  # the data pages are broken: Spark will say so when it reads them
        return None
    try:
        _normalise(col, c)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        return Problem(
            spec.name,
            c.name,
            "bad_value",
            rows,
            f"values of type {col.type} cannot be converted to {c.kind.replace('_', ' ')} ({exc})",
            [{c.name: v} for v in col.drop_null().slice(0, N_EXAMPLES).to_pylist()],
        )
    return None


def _type_examples(path: Path, column: str) -> list[dict]:
    """The first non-null values of a column of the wrong type (read with pyarrow)."""
    try:
        col = pq.read_table(path, columns=[column]).column(column)
    except Exception:  # the footer was fine but the data is not: no examples then
        return []
    return [{column: v} for v in col.drop_null().slice(0, N_EXAMPLES).to_pylist()]


# ---------------------------------------------------------------------------------------
# reading with Spark


def _normalised(c: Column, spark_type: Any, arrow_type: str | None) -> SparkColumn:
    """The column ``c`` of a Spark read as its SPEC type (see :data:`SPARK_TYPES`)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    target = SPARK_TYPES[c.kind]
    if spark_type is None or arrow_type in (None, "null"):
        return F.lit(None).cast(target).alias(c.name)
    col = F.col(f"`{c.name}`")
    if c.kind.startswith("timestamp") and isinstance(spark_type, T.IntegralType):
        # a nanosecond timestamp, read as its integer value (nanosAsLong)
        assert arrow_type.startswith("timestamp[ns")
        col = F.timestamp_micros(F.expr(f"`{c.name}` div 1000"))
    return col.cast(target).alias(c.name)


def _read(spark: SparkSession, spec: Table, parts: list[_Part]) -> DataFrame:
    """One Spark frame of a table's files: SPEC columns and types, file number, row number."""
    from pyspark.sql import functions as F

    groups: dict[tuple[tuple[str, str], ...], list[_Part]] = {}
    for p in parts:
        groups.setdefault(p.types, []).append(p)
    frames: list[DataFrame] = []
    for types, group in groups.items():
        raw = spark.read.parquet(*[str(p.path) for p in group])
        if len(group) == 1:
            file_no = F.lit(group[0].index)
        else:
            file_no = F.create_map(*_file_numbers(raw.inputFiles(), group))[
                F.regexp_replace(F.col("_metadata.file_path"), _FILE_SCHEME, "file:///")
            ]
        fields = {f.name: f.dataType for f in raw.schema.fields}
        present = dict(types)
        frames.append(
            raw.select(
                *[_normalised(c, fields.get(c.name), present.get(c.name)) for c in spec.columns],
                file_no.cast("int").alias(_FILE),
                F.col("_metadata.row_index").alias(_ROW),
            )
        )
    return functools.reduce(lambda a, b: a.unionByName(b), frames)


#: Spark names one local file ``file:///x`` in ``inputFiles()`` and ``file:/x`` in
#: ``_metadata.file_path``: both sides of the file-number map are written ``file:///x``.
_FILE_SCHEME = "^file:/+"


def _file_numbers(uris: list[str], group: list[_Part]) -> list[SparkColumn]:
    """``(uri, file number)`` literals for ``create_map``, matching Spark's URIs to our files."""
    from pyspark.sql import functions as F

    number = {os.path.abspath(p.path): p.index for p in group}
    pairs: list[SparkColumn] = []
    for uri in uris:
        local = os.path.abspath(unquote(urlparse(uri).path))
        if local not in number:
            raise DataError(
                [Problem(group[0].path.parent.name, None, "unreadable_file", 0,
                         f"Spark lists a file graphrisk did not: {uri}")]
            )  # fmt: skip
        pairs += [F.lit(re.sub(_FILE_SCHEME, "file:///", uri)), F.lit(number.pop(local))]
    if number:
        raise DataError(
            [
                Problem(
                    group[0].path.parent.name,
                    None,
                    "unreadable_file",
                    0,
                    f"Spark does not read {', '.join(sorted(number))} "
                    "(names starting with '_' or '.' are hidden files to Spark)",
                )
            ]
        )
    return pairs


# ---------------------------------------------------------------------------------------
# row rules


def _row_rules(
    spec: Table, df: DataFrame, clean: dict[str, DataFrame]
) -> tuple[DataFrame, list[tuple[str, str, str, SparkColumn]]]:
    """``df`` with helper columns, and (rule, column, message, bad-row column) per row rule.

    The same rules, in the same order, with the same messages as ``graphrisk.io._row_rules``,
    all derived from ``spec``.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    rules: list[tuple[str, str, str, SparkColumn]] = []
    for c in spec.columns:
        if c.required:
            rules.append(("null_value", c.name, f"{c.name} is null", F.col(c.name).isNull()))
    if spec.key:
        df = df.withColumn("__gr_n", F.count(F.lit(1)).over(Window.partitionBy(spec.key)))
        rules.append(
            (
                "duplicate_id",
                spec.key,
                f"{spec.key} is not unique",
                (F.col("__gr_n") > 1) & F.col(spec.key).isNotNull(),
            )
        )
    for rule, column, expr, message in spec.checks:
        rules.append((rule, column, message, translate(expr)))
    for i, (column, ref_table, ref_column) in enumerate(spec.references):
        ref = clean.get(ref_table)
        if ref is None:
            continue
        keys = (
            ref.select(F.col(ref_column).alias(f"__gr_ref{i}"))
            .where(F.col(f"__gr_ref{i}").isNotNull())
            .distinct()
            .withColumn(f"__gr_ok{i}", F.lit(True))
        )
        df = df.join(keys, F.col(column) == F.col(f"__gr_ref{i}"), "left")
        rules.append(
            (
                "dangling_reference",
                column,
                f"{column} not found in {ref_table}.{ref_column}",
                F.col(column).isNotNull() & F.col(f"__gr_ok{i}").isNull(),
            )
        )
    return df, rules


def _check_rows(
    spec: Table,
    df: DataFrame,
    clean: dict[str, DataFrame],
    quarantine: bool,
    problems: list[Problem],
) -> tuple[DataFrame, DataFrame | None]:
    """(rows kept, rows quarantined) of a table; problems added unless ``quarantine``."""
    from pyspark.sql import functions as F

    columns = [c.name for c in spec.columns]
    df, rules = _row_rules(spec, df, clean)
    flags = [f"__gr_bad{i}" for i in range(len(rules))]
    checked = df.select(
        *columns,
        _FILE,
        _ROW,
        *[
            F.coalesce(e, F.lit(False)).alias(f)
            for f, (_, _, _, e) in zip(flags, rules, strict=False)
        ],
    )
    # not persisted: building Spark's in-memory cache cost twice as much (measured) as
    # reading and checking the table again for the hand-over
    if not rules:
        return checked.select(*columns, _FILE, _ROW), None
    row = checked.agg(*[F.sum(F.col(f).cast("long")).alias(f) for f in flags]).first()
    counts = [int(row[f] or 0) if row is not None else 0 for f in flags]
    if not quarantine:
        for f, n, (rule, column, message, _) in zip(flags, counts, rules, strict=False):
            if n:
                first = checked.where(F.col(f)).orderBy(_FILE, _ROW).limit(N_EXAMPLES)
                examples = _examples(
                    _collect(first.select(*columns, _FILE, _ROW), spec), spec, [column]
                )
                problems.append(Problem(spec.name, column, rule, n, message, examples))
        return checked.select(*columns, _FILE, _ROW), None
    hit = [(f, r) for f, n, r in zip(flags, counts, rules, strict=False) if n]
    if not hit:
        return checked.select(*columns, _FILE, _ROW), None
    bad_any = functools.reduce(lambda a, b: a | b, [F.col(f) for f, _ in hit])
    reason = F.concat_ws(
        "; ", *[F.when(F.col(f), F.lit(f"{rule}: {message}")) for f, (rule, _, message, _) in hit]
    )
    kept = checked.where(~bad_any).select(*columns, _FILE, _ROW)
    bad = checked.where(bad_any).select(*columns, reason.alias("reason"), _FILE, _ROW)
    return kept, bad


# ---------------------------------------------------------------------------------------
# hand-over to polars


def _collect(sdf: DataFrame, spec: Table) -> pl.DataFrame:
    """A Spark frame as polars, back in file order, SPEC columns cast to their dtypes."""
    if hasattr(sdf, "toArrow"):
        arrow = sdf.toArrow()
    else:  # pyspark 3.5
        batches = sdf._collect_as_arrow()
        if batches:
            arrow = pa.Table.from_batches(batches)
        else:
            from pyspark.sql.pandas.types import to_arrow_schema

            arrow = to_arrow_schema(sdf.schema).empty_table()
    df = pl.from_arrow(arrow)
    assert isinstance(df, pl.DataFrame)
    if df.get_column(_FILE).null_count():  # the order would be wrong: never silently
        raise RuntimeError(f"{spec.name}: Spark read rows from a file it did not name")
    dtypes = {c.name: DTYPES[c.kind] for c in spec.columns if c.name in df.columns}
    if "reason" in df.columns:
        dtypes["reason"] = pl.String()
    return df.sort(_FILE, _ROW).drop(_FILE, _ROW).cast(dtypes)


def _spark_failure(table: str, exc: Exception) -> DataError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return DataError(
        [
            Problem(
                table,
                None,
                "unreadable_file",
                0,
                f"Spark cannot read {table}: {type(exc).__name__}: {first[:500]}",
            )
        ]
    )


# ---------------------------------------------------------------------------------------
# public


def load_with_spark(
    path: str | os.PathLike, quarantine: bool = False, spark: SparkSession | None = None
) -> Tables:
    """Read and validate a data directory with Spark; return polars :class:`Tables`.

    Parameters
    ----------
    path
        A directory with one ``NAME.parquet`` file or one ``NAME/`` folder of Parquet files
        per table, as for :func:`graphrisk.io.load`.
    quarantine
        Set rows breaking a row rule aside (``Tables.quarantine``, with a ``reason``) instead
        of failing. Table-level problems are always fatal.
    spark
        A ``SparkSession`` to run on (the engine uses a ``newSession()`` of it); default a
        local ``local[2]`` session started on first use.

    Returns
    -------
    Tables
        Frame-equal to ``graphrisk.io.load(path, quarantine)``: same columns, dtypes, rows and
        row order, same quarantined rows and reasons.

    Raises
    ------
    DataError
        Listing every problem found, as :func:`graphrisk.io.load` would.
    UsageError
        If ``path`` is not a directory, pyspark is not installed, or Spark cannot start.
    """
    root = Path(path)
    if not root.is_dir():
        raise UsageError(f"data directory not found: {root}")
    _require_pyspark()
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    spark_errors = (PySparkException, Py4JError)
    problems: list[Problem] = []
    parts: dict[str, list[_Part] | None] = {
        n: _inspect(root, TABLES[n], problems) for n in TABLE_ORDER
    }
    if problems:  # table-level problems need no Spark job (nor a JVM)
        raise DataError(problems)
    session = spark_session(spark)
    clean: dict[str, DataFrame] = {}
    bad: dict[str, DataFrame] = {}
    for name in TABLE_ORDER:
        table_parts = parts[name]
        if table_parts is None:
            continue
        spec = TABLES[name]
        try:
            df = _read(session, spec, table_parts)
            if name == "loans":
                from pyspark.sql import functions as F

                df = df.withColumn(
                    "overdue_days", F.coalesce(F.col("overdue_days"), F.lit(0).cast("bigint"))
                )
            kept, rejected = _check_rows(spec, df, clean, quarantine, problems)
        except spark_errors as exc:
            raise _spark_failure(name, exc) from exc
        clean[name] = kept
        if rejected is not None:
            bad[name] = rejected
    if problems:
        raise DataError(problems)
    out: dict[str, pl.DataFrame] = {}
    quarantined: dict[str, pl.DataFrame] = {}
    for name, sdf in clean.items():
        try:
            out[name] = _collect(sdf, TABLES[name])
            if name in bad:
                rows = _collect(bad[name], TABLES[name])
                if rows.height:
                    quarantined[name] = rows
        except spark_errors as exc:
            raise _spark_failure(name, exc) from exc
    return Tables(
        accounts=out["accounts"],
        loans=out["loans"],
        transfers=out["transfers"],
        devices=out["devices"],
        applications=out.get("applications"),
        source=str(root),
        quarantine=quarantined,
    )
