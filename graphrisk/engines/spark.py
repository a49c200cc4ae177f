"""Load and validate the input tables with Spark; hand the result to polars through Arrow.

:func:`load_with_spark` is the Spark twin of :func:`graphrisk.io.load`: the same tables, the same
rules, the same :class:`~graphrisk.errors.DataError` (same rules, counts and example rows), the
same quarantine, and the same :class:`~graphrisk.io.Tables` (frame-equal, row order included).

How the work is split
---------------------
* **Finding the files** is :mod:`graphrisk.io`'s (``_find_files``): the same folder rules
  (part files without a ``.parquet`` suffix, hidden and ``_``-prefixed entries ignored, any
  other file, ``NAME.parquet`` beside ``NAME/`` or an unreadable subfolder a problem).
* **Table-level rules** (missing table, missing column, a column twice, wrong type, a value
  that cannot be converted, unreadable footer) are decided from each file's Parquet footer
  with pyarrow, as :mod:`graphrisk.io` decides them (``_arrow_kind_ok``, ``_normalise``): a
  footer is metadata (no data is read), and Spark's merged schema would hide what the
  contract talks about (dictionary or ``large_string`` columns, unsigned integers,
  nanosecond or zoned timestamps, a column missing from one file of many). A table that
  fails is not read by Spark: :mod:`graphrisk.io`'s reader reports its problems, so they
  are the local ones by construction (messages, counts, examples).
* **Reading and type normalisation** is Spark's: each table's files (grouped by identical
  footer schema) are read by ``spark.read.parquet``; timestamps become ``timestamp_ntz`` in UTC
  (zoned ones are converted, dates become midnight, nanoseconds are truncated to
  microseconds), numbers ``double``, integers ``bigint``. Every row keeps its file number and
  its ``_metadata.row_index`` so that examples and the final order match the local loader.
* **Row rules** are :mod:`graphrisk.io`'s own list (``_row_rules``: null, duplicate id, every
  ``Table.checks`` rule of :data:`graphrisk.schema.TABLES`, far_future), each polars
  expression *translated* to a Spark column from its serialised expression tree
  (:func:`translate`; no rule is restated here), and dangling references as left joins
  against the referenced table's kept keys. Spark computes one flag per rule and row, and
  one per string column for text that is not UTF-8 (a table-level problem, reported by
  :mod:`graphrisk.io`'s reader as above).
* **Counts and examples** (:func:`graphrisk.engines.spark_scan.load_book`, which the whole
  Spark scan uses without collecting anything else): one Spark aggregation per table counts
  the rows breaking each rule; the first rows in file order of each broken rule are
  collected as examples; the quarantine split (the same ``reason`` text) stays on Spark.
* **Hand-over** (:func:`load_with_spark` only): one Spark job per table collects its clean
  rows, sorted back into file order and cast to :data:`graphrisk.schema.DTYPES`.

As in :mod:`graphrisk.io`, every problem is reported in one pass: row rules run on every table
that could be read even when another is broken, and references into a broken table are not
checked.

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
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from graphrisk.errors import DataError, Problem, UsageError
from graphrisk.io import (
    Tables,
    _arrow_kind_ok,
    _find_files,
    _normalise,
    _read_table,
    finish_load,
)
from graphrisk.io import _row_rules as _local_rules
from graphrisk.schema import DTYPES, TABLES, Column, Table, empty_frame

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
    # the checkpointed kernel output is rows of blobs of up to 8 MB: Java serialization keeps
    # the last 100 objects it wrote (objectStreamReset), 800 MB of blobs, more than a 512 MB
    # executor has (measured: out of heap on a 250,000-account world); Kryo keeps none
    "spark.serializer": "org.apache.spark.serializer.KryoSerializer",
}

#: SQL settings of the engine's own ``newSession()`` (never the caller's session).
SESSION_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.caseSensitive": "true",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    # no join is broadcast on Spark's own estimate: after a Python step (the shard kernel's
    # blobs) the estimates are guesses, and a wrong one fills the driver; the few small sides
    # known to be small (ids, the oversized components) are broadcast explicitly
    "spark.sql.autoBroadcastJoinThreshold": "-1",
}

#: Options of every Spark read. Hadoop's default local file system checks each file against a
#: ``.NAME.crc`` beside it; the local loader ignores those (hidden entries are bookkeeping), so
#: a stale or foreign checksum file must not make Spark fail where it does not.
READ_OPTIONS: dict[str, str] = {
    "fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
    "fs.file.impl.disable.cache": "true",
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


def spark_session(spark: SparkSession | None = None, master: str | None = None) -> SparkSession:
    """A session for the engine: a ``newSession()`` of ``spark`` or of a default one.

    The default session is started on first use and kept for the life of the process:
    on ``master`` (a URL such as ``spark://127.0.0.1:7077``), else on the master named by
    the ``SPARK_MASTER`` environment variable, else in local mode (``local[2]``); with the
    settings :data:`SPARK_CONF` and this Python for the executors' Python workers. The
    returned session has :data:`SESSION_CONF`.

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
            want = master or os.environ.get("SPARK_MASTER") or "local[2]"
            if alive and _DEFAULT is not None and _DEFAULT.sparkContext.master != want:
                _DEFAULT.stop()
                alive = False
            if not alive:
                _DEFAULT = _start_local(SparkSession, want)
            spark = _DEFAULT
        assert spark is not None
        session = spark.newSession()
    for key, value in SESSION_CONF.items():
        session.conf.set(key, value)
    return session


def extra_conf() -> dict[str, str]:
    """Spark settings from ``GRAPHRISK_SPARK_CONF`` (``key=value`` pairs separated by ``;``,
    e.g. ``spark.executor.memory=512m;spark.executor.pyspark.memory=600m``), applied when the
    engine starts its session."""
    text = os.environ.get("GRAPHRISK_SPARK_CONF", "")
    out = {}
    for item in text.split(";"):
        if item.strip():
            key, sep, value = item.partition("=")
            if not sep:
                raise UsageError(f"GRAPHRISK_SPARK_CONF: {item!r} is not key=value")
            out[key.strip()] = value.strip()
    return out


def _start_local(session_class: Any, master: str = "local[2]") -> SparkSession:
    import sys

    fd, log_conf = tempfile.mkstemp(prefix="graphrisk-log4j2-", suffix=".properties")
    with os.fdopen(fd, "w") as fh:
        fh.write(_LOG4J2)
    builder = session_class.builder.master(master).appName("graphrisk")
    for key, value in {**SPARK_CONF, **extra_conf()}.items():
        builder = builder.config(key, value)
    # the shard kernel runs graphrisk in the executors' Python workers: this Python has it
    # (pyspark reads the workers' Python from the environment when the context starts)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = builder.config("spark.pyspark.python", os.environ["PYSPARK_PYTHON"])
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


#: polars binary operators as Spark SQL operators (same null and NaN semantics).
_BINARY: dict[str, str] = {
    "Eq": "=",
    "NotEq": "<>",
    "Lt": "<",
    "LtEq": "<=",
    "Gt": ">",
    "GtEq": ">=",
    "And": "AND",
    "LogicalAnd": "AND",
    "Or": "OR",
    "LogicalOr": "OR",
    "Plus": "+",
    "Minus": "-",
    "Multiply": "*",
    "TrueDivide": "/",
}
#: polars boolean functions of one argument as Spark SQL (``{a}``: the argument).
_UNARY: dict[str, str] = {
    "IsNull": "{a} IS NULL",
    "IsNotNull": "{a} IS NOT NULL",
    "Not": "NOT {a}",
    # polars gives null for a null input; Spark's isnan(null) is false, hence the CASE
    "IsNan": "CASE WHEN {a} IS NOT NULL THEN isnan({a}) END",
    "IsNotNan": "CASE WHEN {a} IS NOT NULL THEN NOT isnan({a}) END",
    "IsInfinite": "CASE WHEN {a} IS NOT NULL THEN abs({a}) = double('inf') END",
    "IsFinite": "CASE WHEN {a} IS NOT NULL THEN NOT (isnan({a}) OR abs({a}) = double('inf')) END",
    # null is a value like any other in both (polars: [None, None] are duplicates)
    "IsDuplicated": "count(1) OVER (PARTITION BY {a}) > 1",
}


def _name(column: str) -> str:
    """A column name as a Spark SQL identifier."""
    return "`" + column.replace("`", "``") + "`"


def _string(text: str) -> str:
    """A Spark SQL string literal (backslash escapes are on by default)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


#: Microseconds per unit of a polars datetime literal.
_MICROS = {"Milliseconds": 1000, "Microseconds": 1}


def _datetime_literal(value: Any, unit: Any, tz: Any, where: str) -> str:
    """A polars ``Datetime`` literal (a naive UTC time) as a Spark ``TIMESTAMP_NTZ`` literal.

    Written as SQL text, not ``F.lit(datetime)``: pyspark turns a naive ``datetime`` into a
    zoned timestamp in the Python process's local time zone.
    """
    if tz is not None or unit not in (*_MICROS, "Nanoseconds") or not isinstance(value, int):
        raise Untranslatable(f"cannot translate the datetime literal {value, unit, tz} in {where}")
    micros, rest = divmod(value, 1000) if unit == "Nanoseconds" else (value * _MICROS[unit], 0)
    try:
        when = datetime(1970, 1, 1) + timedelta(microseconds=micros)
    except OverflowError:
        when = None
    if rest or when is None:  # below a microsecond, or beyond the year 9999
        raise Untranslatable(f"cannot translate the datetime literal {value, unit} in {where}")
    return f"TIMESTAMP_NTZ '{when.isoformat(sep=' ')}'"


def _literal(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):  # a double, not a decimal; inf and nan included
        return f"CAST('{v!r}' AS DOUBLE)"
    assert isinstance(v, str)
    return _string(v)


_SCALARS = (
    "String",
    "Boolean",
    "Float32",
    "Float64",
    *tuple(f"{s}Int{n}" for s in ("", "U") for n in (8, 16, 32, 64)),
)


def translate(expr: pl.Expr) -> SparkColumn:
    """The Spark column computing the same value as a polars check expression.

    Understood: columns, numeric/string/boolean literals, naive datetime literals, comparisons,
    ``& |``, ``+ - * /``, ``is_null``, ``is_not_null``, ``~``, ``is_nan``, ``is_finite`` (and
    their kin), ``is_duplicated`` (a window count) and ``fill_null``. Null semantics agree (a
    comparison with null is null in both; ``&``/``|`` are three-valued in both; NaN is the
    largest float and equal to itself in both).

    The column is built from Spark SQL text (:func:`_sql`): one call into the JVM, where
    building it with ``pyspark.sql.functions`` took dozens per rule.

    Raises
    ------
    Untranslatable
        For any other node: add it here rather than restating the rule.
    """
    _require_pyspark()
    from pyspark.sql import functions as F

    return F.expr(_sql(expr))


def _sql(expr: pl.Expr) -> str:
    """A polars check expression as Spark SQL text (see :func:`translate`)."""
    tree = json.loads(expr.meta.serialize(format="json"))
    return _node(tree, str(expr))


def _node(node: Any, where: str) -> str:
    if isinstance(node, dict) and len(node) == 1:
        kind, body = next(iter(node.items()))
        if kind == "Column" and isinstance(body, str):
            return _name(body)
        if kind == "Literal" and isinstance(body, dict) and len(body) == 1:
            ((lit_kind, value),) = body.items()
            if isinstance(value, dict) and len(value) == 1:
                ((vtype, v),) = value.items()
                ok = (lit_kind == "Dyn" and vtype in ("Int", "Float", "Str")) or (
                    lit_kind == "Scalar" and vtype in _SCALARS
                )
                if ok and isinstance(v, (int, float, str, bool)):
                    return _literal(v)
                datetime_ = lit_kind == "Scalar" and vtype == "Datetime"
                if datetime_ and isinstance(v, list) and len(v) == 3:
                    return _datetime_literal(*v, where)
        if kind == "BinaryExpr" and body.get("op") in _BINARY:
            left, right = _node(body["left"], where), _node(body["right"], where)
            return f"({left}) {_BINARY[body['op']]} ({right})"
        if kind == "Function" and isinstance(body, dict):
            fn, args = body.get("function"), body.get("input", [])
            if fn == "FillNull" and len(args) == 2:
                return f"coalesce({_node(args[0], where)}, {_node(args[1], where)})"
            if isinstance(fn, dict) and fn.get("Boolean") in _UNARY and len(args) == 1:
                return _UNARY[fn["Boolean"]].format(a=f"({_node(args[0], where)})")
    raise Untranslatable(f"cannot translate {json.dumps(node)[:200]} in check {where}")


# ---------------------------------------------------------------------------------------
# table-level rules from Parquet footers


@dataclass(frozen=True)
class _Part:
    """One readable Parquet file of a table: its place in file order and its column types."""

    path: Path
    index: int
    types: tuple[tuple[str, str], ...]  # (column, Arrow type) of the known columns present


def _inspect(root: Path, spec: Table) -> list[_Part] | None:
    """The files of a table if they pass every table-level rule; ``None`` if not, or if absent.

    The files are :mod:`graphrisk.io`'s (``_find_files``: the same folder rules). The rules
    are decided from each file's footer (no data is read): readable, no known column twice,
    no required column missing, every type accepted (``_arrow_kind_ok``); a column whose
    conversion could fail by its statistics (:func:`_may_not_convert`) is read and converted
    as :mod:`graphrisk.io` does. Text that is not UTF-8 is found later, by Spark
    (:func:`_flagged`). The problems of a table that fails are not built here but by
    :func:`_local_problems`.
    """
    files, found = _find_files(root, spec.name)
    if found or not files:
        return None
    parts: list[_Part] = []
    known = [c.name for c in spec.columns]
    for index, f in enumerate(files):
        try:
            with pq.ParquetFile(f) as pf:
                if not _passes(pf, f, spec):
                    return None
                schema = pf.schema_arrow
        except Exception:  # pyarrow raises several types for a broken file
            return None
        present = [n for n in known if n in schema.names]
        parts.append(_Part(f, index, tuple((n, str(schema.field(n).type)) for n in present)))
    return parts


def _passes(pf: pq.ParquetFile, f: Path, spec: Table) -> bool:
    """Whether one file passes the table-level rules (see :func:`_inspect`)."""
    names = pf.schema_arrow.names
    present = [c for c in spec.columns if c.name in names]
    if any(names.count(c.name) > 1 for c in present):
        return False
    if any(c.required and c.name not in names for c in spec.columns):
        return False
    for c in present:
        t = pf.schema_arrow.field(c.name).type
        if not _arrow_kind_ok(c.kind, t) or (_may_not_convert(pf, c, t) and not _converts(f, c)):
            return False
    return True


def _local_problems(root: Path, spec: Table) -> tuple[bool, list[Problem]]:
    """(whether :mod:`graphrisk.io` can read the table, the problems it reports reading it).

    For a table that fails a table-level rule the problem list is :mod:`graphrisk.io`'s own,
    by construction (same order, messages, counts and examples): the local reader reads the
    broken table. Only such tables are read in this process, never a valid one.
    """
    found: list[Problem] = []
    frame = _read_table(root, spec, found)
    return frame is not None, found


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


def _converts(path: Path, c: Column) -> bool:
    """Whether a column reads and converts to its SPEC type as in :mod:`graphrisk.io`."""
    try:
        _normalise(pq.read_table(path, columns=[c.name]).column(c.name), c)
    except Exception:  # a bad value, or data pages that cannot be read
        return False
    return True


# ---------------------------------------------------------------------------------------
# reading with Spark


def _normalised(c: Column, spark_type: Any, arrow_type: str | None) -> str:
    """The column ``c`` of a Spark read as its SPEC type, as SQL (see :data:`SPARK_TYPES`)."""
    from pyspark.sql import types as T

    target = SPARK_TYPES[c.kind]
    if spark_type is None or arrow_type in (None, "null"):
        return f"CAST(NULL AS {target}) AS {_name(c.name)}"
    col = _name(c.name)
    if c.kind.startswith("timestamp") and isinstance(spark_type, T.IntegralType):
        # a nanosecond timestamp, read as its integer value (nanosAsLong)
        assert arrow_type.startswith("timestamp[ns")
        col = f"timestamp_micros({col} div 1000)"
    return f"CAST({col} AS {target}) AS {_name(c.name)}"


def _read(spark: SparkSession, spec: Table, parts: list[_Part]) -> DataFrame:
    """One Spark frame of a table's files: SPEC columns and types, file number, row number."""
    from pyspark.sql import functions as F

    groups: dict[tuple[tuple[str, str], ...], list[_Part]] = {}
    for p in parts:
        groups.setdefault(p.types, []).append(p)
    frames: list[DataFrame] = []
    for types, group in groups.items():
        raw = spark.read.options(**READ_OPTIONS).parquet(*[str(p.path) for p in group])
        if len(group) == 1:
            file_no = F.lit(group[0].index)
        else:
            file_no = F.create_map(*_file_numbers(spec.name, raw.inputFiles(), group))[
                F.regexp_replace(F.col("_metadata.file_path"), _FILE_SCHEME, "file:///")
            ]
        fields = {f.name: f.dataType for f in raw.schema.fields}
        present = dict(types)
        frames.append(
            raw.select(
                *[
                    F.expr(_normalised(c, fields.get(c.name), present.get(c.name)))
                    for c in spec.columns
                ],
                file_no.cast("int").alias(_FILE),
                F.col("_metadata.row_index").alias(_ROW),
            )
        )
    return functools.reduce(lambda a, b: a.unionByName(b), frames)


#: Spark names one local file ``file:///x`` in ``inputFiles()`` and ``file:/x`` in
#: ``_metadata.file_path``: both sides of the file-number map are written ``file:///x``.
_FILE_SCHEME = "^file:/+"


def _file_numbers(table: str, uris: list[str], group: list[_Part]) -> list[SparkColumn]:
    """``(uri, file number)`` literals for ``create_map``, matching Spark's URIs to our files."""
    from pyspark.sql import functions as F

    number = {os.path.abspath(p.path): p.index for p in group}
    pairs: list[SparkColumn] = []
    for uri in uris:
        local = os.path.abspath(unquote(urlparse(uri).path))
        if local not in number:
            raise DataError(
                [Problem(table, None, "unreadable_file", 0,
                         f"Spark lists a file graphrisk did not: {uri}")]
            )  # fmt: skip
        pairs += [F.lit(re.sub(_FILE_SCHEME, "file:///", uri)), F.lit(number.pop(local))]
    if number:
        raise DataError(
            [
                Problem(
                    table,
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
) -> tuple[DataFrame, list[tuple[str, str, str, str]]]:
    """``df`` with helper columns, and (rule, column, message, bad-row SQL) per row rule.

    The rules are :mod:`graphrisk.io`'s own: ``graphrisk.io._row_rules`` of an empty frame
    gives them in its order with its messages (null, duplicate id, every ``Table.checks``
    rule, far_future, dangling references), and each polars expression is translated
    (:func:`translate`). A dangling reference, whose polars expression holds the referenced
    keys themselves, becomes a left join against the keys of the referenced table; as in
    :mod:`graphrisk.io`, only references into a table that could be read (in ``clean``) count.
    """
    from pyspark.sql import functions as F

    references = [r for r in spec.references if r[1] in clean]
    local = _local_rules(
        spec, empty_frame(spec.name), {t: empty_frame(t) for _, t, _ in references}
    )
    pending = iter(references)
    rules: list[tuple[str, str, str, str]] = []
    for i, (rule, column, message, expr) in enumerate(local):
        if rule != "dangling_reference":
            rules.append((rule, column, message, _sql(expr)))
            continue
        own, ref_table, ref_column = next(pending)
        assert own == column, (own, column)
        key, ok = f"__gr_ref{i}", f"__gr_ok{i}"
        keys = (
            clean[ref_table]
            .selectExpr(f"{_name(ref_column)} AS {key}", f"true AS {ok}")
            .where(f"{key} IS NOT NULL")
            .distinct()
        )
        df = df.join(keys, F.expr(f"{_name(column)} = {key}"), "left")
        rules.append((rule, column, message, f"{_name(column)} IS NOT NULL AND {ok} IS NULL"))
    return df, rules


def _not_utf8(c: str) -> str:
    """SQL: true for a string that is not valid UTF-8 (Parquet can hold one; Spark reads it)."""
    from pyspark.sql import functions as F

    if hasattr(F, "is_valid_utf8"):  # Spark 4
        return f"NOT is_valid_utf8({_name(c)})"
    raw = f"CAST({_name(c)} AS BINARY)"  # Spark 3.5: decode() replaces bad bytes with U+FFFD
    return f"encode(decode({raw}, 'UTF-8'), 'UTF-8') <> {raw}"


def _flagged(
    spec: Table, df: DataFrame, clean: dict[str, DataFrame]
) -> tuple[DataFrame, list[tuple[str, str, str]]]:
    """A table's rows with one flag per row rule and one per string column that is not UTF-8.

    Columns: the SPEC columns, file and row number, ``__gr_bad{i}`` (True: the row breaks
    rule ``i``), ``__gr_text{j}`` (True: the ``j``-th string column is not UTF-8 text). Also
    the (rule, column, message) of each rule.
    """
    df, rules = _row_rules(spec, df, clean)
    texts = [c.name for c in spec.columns if c.kind == "string"]
    flagged = df.selectExpr(
        *[_name(c.name) for c in spec.columns],
        _FILE,
        _ROW,
        *[f"coalesce({sql}, false) AS __gr_bad{i}" for i, (*_, sql) in enumerate(rules)],
        *[f"coalesce({_not_utf8(c)}, false) AS __gr_text{j}" for j, c in enumerate(texts)],
    )
    return flagged, [(rule, column, message) for rule, column, message, _ in rules]


# ---------------------------------------------------------------------------------------
# hand-over to polars


def _to_arrow(sdf: DataFrame) -> pa.Table:
    """A Spark frame collected as Arrow (one Spark job)."""
    if hasattr(sdf, "toArrow"):
        return sdf.toArrow()
    batches = sdf._collect_as_arrow()  # pyspark 3.5
    if batches:
        return pa.Table.from_batches(batches)
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(sdf.schema).empty_table()


def _polars(rows: pa.Table, spec: Table) -> pl.DataFrame:
    """Collected rows as polars, back in file order, SPEC columns cast to their dtypes."""
    df = pl.from_arrow(rows)
    assert isinstance(df, pl.DataFrame)
    if df.get_column(_FILE).null_count():  # the order would be wrong: never silently
        raise RuntimeError(f"{spec.name}: Spark read rows from a file it did not name")
    dtypes = {c.name: DTYPES[c.kind] for c in spec.columns if c.name in df.columns}
    return df.sort(_FILE, _ROW).drop(_FILE, _ROW).cast(dtypes)


def _spark_failure(table: str, exc: Exception) -> Problem:
    """The problem of a table Spark cannot read (when :mod:`graphrisk.io` can)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return Problem(
        table,
        None,
        "unreadable_file",
        0,
        f"Spark cannot read {table}: {type(exc).__name__}: {first[:500]}",
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
    from graphrisk.engines.spark_scan import load_book

    book = load_book(path, quarantine=quarantine, spark=spark)
    out: dict[str, pl.DataFrame] = {}
    for name, df in book.frames.items():  # one Spark job per table collects its rows
        out[name] = _polars(_to_arrow(df), TABLES[name])
    quarantined: dict[str, pl.DataFrame] = {}
    for name, df in book.quarantine.items():
        rows = pl.from_arrow(_to_arrow(df))
        assert isinstance(rows, pl.DataFrame)
        dtypes = {c.name: DTYPES[c.kind] for c in TABLES[name].columns}
        quarantined[name] = rows.sort(_FILE, _ROW).drop(_FILE, _ROW).cast(dtypes)
    return finish_load(out, [], Path(path), quarantined)
