"""The whole scan on Spark: load, plan, the shard kernel, decisions and the run directory.

``graphrisk scan DATA --out RUN --engine spark`` runs here. No input table and no flags table
reaches the driver: it holds the policy, the lenders table (reference data, one row per
lender), a few rows of examples when the input is bad, and the per-run summary.

How the work is split (the design is the sharded scan's, :mod:`graphrisk.shards`):

1. **Load** (:func:`load_book`): the Spark loader's reading and row rules
   (:mod:`graphrisk.engines.spark`), with the counts of each broken rule computed by one Spark
   aggregation and only the first rows in file order collected as examples; the clean rows
   stay Spark DataFrames, the quarantined ones are written by Spark.
2. **Plan**: the link graph's edges are :mod:`graphrisk.linkplan`'s star-local steps, the same
   narwhals code the local engine runs, here on Spark DataFrames; its connected components are
   computed on Spark (:func:`graphrisk.engines.spark_graph.connected_components`, ids hashed
   to 64 bits: a collision only merges two components, which is always safe); components are
   packed into shards. The book's facts (accounts per device and address, transfer partners)
   are the same narwhals steps.
3. **Route**: each table's rows get the shard of their account (a transfer goes to the shards
   of both ends, the far end's account row as a *ghost*), each shard's rows are packed into
   Arrow IPC blobs (one ``groupBy(shard).applyInArrow`` per table) and the blobs of all tables
   are grouped by shard again: one Python call per shard sees exactly the shard's rows.
4. **Kernel**: that call runs the local engine's code on the shard (context, graph, every
   detector, the feature table, the decisions of its own accounts) and returns its outputs as
   blobs, plus its part of the book's fingerprint (row counts and row-hash sums, which add up
   over shards). A shard is never more than one process holds at a time; a component larger
   than ``shard_accounts`` is a shard of its own and still scanned whole.
5. **Write**: the run id is made from the fingerprint parts (a few numbers per table), stamped
   on the decisions, and every output table is written by Spark, sorted, as a folder of part
   files inside a temporary directory beside ``--out`` that is renamed in when complete.
"""

from __future__ import annotations

import functools
import io as _io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from graphrisk.errors import DataError, Problem, UsageError
from graphrisk.io import N_EXAMPLES, _examples
from graphrisk.schema import DTYPES, TABLE_ORDER, TABLES, Table, empty_frame

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from graphrisk.policy import Policy

__all__ = ["SparkBook", "SparkScanResult", "load_book", "scan_on_spark"]

_FILE, _ROW = "__gr_file", "__gr_row"
#: The rows of one shard's table travel as Arrow IPC blobs of at most this many rows and
#: about this many bytes: a blob is one value in a JVM's heap (an executor's, with 512 MB,
#: holds a few), whatever the shard's size
BLOB_ROWS = 500_000
BLOB_BYTES = 8 << 20
ENVELOPE = "shard long, name string, part int, data binary"
ENVELOPE_ARROW = pa.schema(
    [("shard", pa.int64()), ("name", pa.string()), ("part", pa.int32()), ("data", pa.binary())]
)
#: Options of every Spark write: no ``.crc`` file beside each part and no ``_SUCCESS`` marker
#: (a run's tables are then folders of part files that polars and pyarrow read as one table).
WRITE_OPTIONS: dict[str, str] = {
    "fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
    "fs.file.impl.disable.cache": "true",
    "mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
}


# ---------------------------------------------------------------------------------------
# load: the Spark loader's rules, nothing collected but counts and examples


@dataclass
class SparkBook:
    """A validated book as Spark DataFrames (SPEC columns, plus file and row number)."""

    frames: dict[str, DataFrame]
    quarantine: dict[str, DataFrame]
    read: dict[str, int]
    quarantined: dict[str, int]
    warnings: list[Problem]
    source: str
    spark: SparkSession

    def get(self, name: str) -> DataFrame | None:
        return self.frames.get(name)


def _spark_split(
    spec: Table,
    rules: list[tuple[str, str, str]],
    flagged: DataFrame,
    quarantine: bool,
    problems: list[Problem],
    text_problems: Callable[[], bool] | None = None,
) -> tuple[DataFrame, DataFrame | None, list[str], int, int, bool]:
    """(rows kept, rows quarantined, rule flags hit, rows read, rows set aside, bad text).

    ``text_problems`` is asked when a string is not UTF-8: true when the table-level
    problems say so (then no row problem is added)."""
    from pyspark.sql import functions as F

    from graphrisk.engines.spark import _polars

    flags = [f"__gr_bad{i}" for i in range(len(rules))]
    texts = [c for c in flagged.columns if c.startswith("__gr_text")]
    row = flagged.agg(
        F.count(F.lit(1)).alias("__n"),
        *[F.sum(F.col(f).cast("long")).alias(f) for f in flags],
        *[F.max(F.col(t)).alias(t) for t in texts],
    ).collect()[0]
    total = int(row["__n"])
    bad_text = any(bool(row[t]) for t in texts)
    hit = [(f, int(row[f] or 0), r) for f, r in zip(flags, rules, strict=True) if row[f]]
    columns = [c.name for c in spec.columns]
    keep_cols = [*columns, _FILE, _ROW]
    if bad_text and text_problems is not None and text_problems():
        # text that is not UTF-8 is a table-level problem (graphrisk.io's reader says which)
        return flagged.select(*keep_cols), None, [], total, 0, True
    if not quarantine and hit:
        # the first rows in file order of every broken rule, in one Spark job
        from pyspark.sql import Window

        picked = flagged.where(functools.reduce(lambda a, b: a | b, [F.col(f) for f, _, _ in hit]))
        firsts = []
        for i, (f, _, _) in enumerate(hit):
            w = Window.partitionBy(F.col(f)).orderBy(_FILE, _ROW)
            picked = picked.withColumn(f"__gr_rank{i}", F.row_number().over(w))
            firsts.append(F.col(f) & (F.col(f"__gr_rank{i}") <= N_EXAMPLES))
        first = picked.where(functools.reduce(lambda a, b: a | b, firsts))
        rows = pl.from_arrow(first.select(*keep_cols, *[f for f, _, _ in hit]).toArrow())
        assert isinstance(rows, pl.DataFrame)
        for f, n, (rule, column, message) in hit:
            mine = _polars(rows.filter(pl.col(f)).drop([h for h, _, _ in hit]).to_arrow(), spec)
            problems.append(
                Problem(spec.name, column, rule, n, message, _examples(mine, spec, [column]))
            )
    if not hit:
        return flagged.select(*keep_cols), None, [], total, 0, bad_text
    bad_any = functools.reduce(lambda a, b: a | b, [F.col(f) for f, _, _ in hit])
    reason = F.concat_ws(
        "; ", *[F.when(F.col(f), F.lit(f"{rule}: {message}")) for f, _, (rule, _, message) in hit]
    )
    kept = flagged.where(~bad_any).select(*keep_cols)
    rejected = flagged.where(bad_any).select(*columns, reason.alias("reason"), _FILE, _ROW)
    return kept, rejected, [f for f, _, _ in hit], total, sum(n for _, n, _ in hit), bad_text


def load_book(
    path: str | os.PathLike, quarantine: bool = False, spark: SparkSession | None = None
) -> SparkBook:
    """Read and validate a data directory on Spark, keeping the tables on Spark.

    The same rules, counts, examples and quarantine as :func:`graphrisk.io.load` (the
    examples are the first rows in file order), but the rows themselves stay Spark
    DataFrames: only one row of counts per table and at most
    :data:`~graphrisk.io.N_EXAMPLES` rows per broken rule reach the driver.

    Raises
    ------
    DataError
        Listing every problem found, as :func:`graphrisk.io.load` would.
    UsageError
        If ``path`` is not a directory, pyspark is not installed, or Spark cannot start.
    """
    from graphrisk.engines.spark import (
        _flagged,
        _inspect,
        _local_problems,
        _read,
        _require_pyspark,
        _spark_failure,
        spark_session,
    )

    root = Path(path)
    if not root.is_dir():
        raise UsageError(f"data directory not found: {root}")
    _require_pyspark()  # before any pyspark import: a missing pyspark is a usage error
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    spark_errors = (PySparkException, Py4JError)
    problems: list[Problem] = []
    parts: dict[str, Any] = {}
    for name in TABLE_ORDER:
        parts[name] = _inspect(root, TABLES[name])
        if parts[name] is None:
            readable, found = _local_problems(root, TABLES[name])
            if readable:
                raise RuntimeError(f"graphrisk.io reads {name}, the Spark engine does not")
            problems.extend(found)
    session = spark_session(spark)
    clean: dict[str, DataFrame] = {}
    out: dict[str, DataFrame] = {}
    rejected_frames: dict[str, DataFrame] = {}
    read: dict[str, int] = {}
    set_aside: dict[str, int] = {}
    for name in TABLE_ORDER:
        table_parts = parts[name]
        if table_parts is None:
            continue
        spec = TABLES[name]
        try:
            df = _read(session, spec, table_parts)
            if name == "loans":
                df = df.withColumn(
                    "overdue_days", F.coalesce(F.col("overdue_days"), F.lit(0).cast("bigint"))
                )
            flagged, rules = _flagged(spec, df, clean)
            flagged = flagged.persist()
            local: list[Problem] = []

            def text_problems(spec: Table = spec, local: list[Problem] = local) -> bool:
                local.extend(_local_problems(root, spec)[1])
                return bool(local)

            kept, rejected, _hit, total, n_bad, bad_text = _spark_split(
                spec, rules, flagged, quarantine, problems, text_problems
            )
        except DataError as exc:
            problems.extend(exc.problems)
            continue
        except spark_errors as exc:
            _, local = _local_problems(root, spec)
            problems.extend(local or [_spark_failure(name, exc)])
            continue
        if bad_text and local:
            problems.extend(local)
            continue
        out[name] = kept
        read[name] = total
        if rejected is not None and quarantine:
            rejected_frames[name] = rejected
            set_aside[name] = n_bad
        clean[name] = kept if quarantine else flagged
    if problems:
        problems.sort(key=lambda p: TABLE_ORDER.index(p.table))
        raise DataError(problems)
    return SparkBook(
        out,
        rejected_frames,
        {k: read[k] - set_aside.get(k, 0) for k in read},
        set_aside,
        _lender_warnings(out),
        str(root),
        session,
    )


def _lender_warnings(frames: dict[str, DataFrame]) -> list[Problem]:
    """:func:`graphrisk.io.lender_warnings` on Spark (counts, ids and examples only)."""
    from pyspark.sql import functions as F

    from graphrisk.engines.spark import _polars

    lenders = frames.get("lenders")
    if lenders is None:
        return []
    found = []
    known = lenders.select("lender_id")
    for name in ("loans", "applications"):
        df = frames.get(name)
        if df is None:
            continue
        bad = df.join(known, on="lender_id", how="left_anti")
        row = bad.agg(
            F.count(F.lit(1)).alias("n"), F.countDistinct("lender_id").alias("k")
        ).collect()[0]
        if not row["n"]:
            continue
        k = int(row["k"])
        first = _polars(bad.orderBy(_FILE, _ROW).limit(N_EXAMPLES).toArrow(), TABLES[name])
        found.append(
            Problem(
                name,
                "lender_id",
                "unknown_lender",
                int(row["n"]),
                f"lender_id not found in lenders.lender_id ({k} lender"
                f"{'s' if k != 1 else ''}; their kind is unknown)",
                _examples(first, TABLES[name], ["lender_id"]),
            )
        )
    return found


# ---------------------------------------------------------------------------------------
# the window and the book's facts


def _us(column: str) -> Any:
    """Microseconds since the epoch of a ``timestamp_ntz`` column (the session is in UTC)."""
    from pyspark.sql import functions as F

    return F.unix_micros(F.col(column).cast("timestamp"))


def _from_us(us: int | None) -> datetime | None:
    if us is None:
        return None
    return pl.Series([us], dtype=pl.Int64).cast(pl.Datetime("us"))[0]


def _event_bounds(book: SparkBook, start_us: int | None, as_of_us: int | None) -> dict[str, Any]:
    """Per event table: rows, rows inside the window, first and last time (microseconds);
    and the latest timestamp of the book (``due_at`` excluded, ``opened_at`` included)."""
    from pyspark.sql import functions as F

    from graphrisk.schema import EVENT_TIME

    out: dict[str, Any] = {"tables": {}, "latest": None}
    cols = {**EVENT_TIME, "accounts": "opened_at"}
    for name, col in cols.items():
        df = book.get(name)
        if df is None:
            continue
        us = _us(col)
        inside = (
            F.sum(((us >= start_us) & (us <= as_of_us)).cast("long"))
            if start_us is not None
            else F.lit(0)
        )
        r = df.agg(
            F.count(F.col(col)).alias("n"), inside.alias("inside"), F.min(us).alias("lo"),
            F.max(us).alias("hi"),
        ).collect()[0]  # fmt: skip
        out["tables"][name] = r.asDict()
        if r["hi"] is not None and (out["latest"] is None or r["hi"] > out["latest"]):
            out["latest"] = int(r["hi"])
    return out


def _link_inputs(book: SparkBook, start_us: int, as_of_us: int) -> Any:
    """The window as :class:`graphrisk.linkplan.LinkInputs` over Spark DataFrames."""
    import narwhals as nw
    from pyspark.sql import functions as F

    from graphrisk.engines.spark_graph import cut
    from graphrisk.linkplan import LinkInputs

    accounts = book.frames["accounts"].select("account_id")
    tr = (
        book.frames["transfers"]
        .where((_us("ts") >= start_us) & (_us("ts") <= as_of_us))
        .select(
            F.col("src_account").alias("src"),
            F.col("dst_account").alias("dst"),
            "amount",
            _us("ts").alias("us"),
        )
        .join(
            accounts.select(F.col("account_id").alias("src"), F.lit(True).alias("_s")),
            "src",
            "left",
        )
        .join(
            accounts.select(F.col("account_id").alias("dst"), F.lit(True).alias("_d")),
            "dst",
            "left",
        )
        .select(
            "src",
            "dst",
            "amount",
            "us",
            (F.coalesce("_s", F.lit(False)) & F.coalesce("_d", F.lit(False))).alias("internal"),
        )
        .persist()
    )
    logins = (
        book.frames["devices"]
        .where((_us("ts") >= start_us) & (_us("ts") <= as_of_us))
        .select("account_id", "device_id", "ip", _us("ts").alias("us"))
        .persist()
    )
    loans = (
        book.frames["loans"]
        .where(_us("issued_at") <= as_of_us)
        .select(
            "account_id",
            "loan_id",
            "amount",
            _us("issued_at").alias("issued_us"),
            _us("repaid_at").alias("repaid_us"),
            _us("due_at").alias("due_us"),
            "overdue_days",
        )
        .persist()
    )
    origin = tr.where(F.col("internal")).agg(F.min("us")).collect()[0][0]

    def materialise(lf: Any) -> Any:
        return nw.from_native(cut(nw.to_native(lf)))

    return LinkInputs(
        nw.from_native(tr),
        nw.from_native(logins),
        nw.from_native(loans),
        as_of_us,
        start_us,
        None if origin is None else int(origin),
        materialise,
    )


# ---------------------------------------------------------------------------------------
# blobs: one shard's rows of one table as Arrow IPC


def _to_blobs(tbl: pa.Table) -> list[bytes]:
    out = []
    # rows per blob: BLOB_ROWS, fewer where rows are wide (the feature table's 251 columns)
    step = BLOB_ROWS
    if tbl.num_rows and tbl.nbytes > BLOB_BYTES:
        step = max(1, min(BLOB_ROWS, BLOB_BYTES * tbl.num_rows // tbl.nbytes))
    for start in range(0, max(tbl.num_rows, 1), step):
        piece = tbl.slice(start, step)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, piece.schema) as writer:
            writer.write_table(piece)
        out.append(sink.getvalue().to_pybytes())
    return out


def _from_blobs(blobs: list[bytes]) -> pa.Table:
    tables = [pa.ipc.open_stream(_io.BytesIO(b)).read_all() for b in blobs]
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def _packer(name: str) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """Arrow batches of a frame with a ``shard`` column -> envelope rows (one blob per shard
    and batch; no shuffle: the kernel's ``groupBy(shard)`` brings a shard's blobs together)."""

    def pack(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if not batch.num_rows:
                continue
            df = pl.from_arrow(batch)
            assert isinstance(df, pl.DataFrame)
            shards, parts, blobs = [], [], []
            for (shard,), piece in df.group_by("shard"):
                for i, blob in enumerate(_to_blobs(piece.drop("shard").to_arrow())):
                    shards.append(shard)
                    parts.append(i)
                    blobs.append(blob)
            yield pa.RecordBatch.from_pydict(
                {
                    "shard": pa.array(shards, pa.int64()),
                    "name": pa.array([name] * len(blobs), pa.string()),
                    "part": pa.array(parts, pa.int32()),
                    "data": pa.array(blobs, pa.binary()),
                }
            )

    return pack


def _packed(df: DataFrame, name: str) -> DataFrame:
    """``shard, name, part, data`` of a frame with a ``shard`` column."""
    return df.mapInArrow(_packer(name), ENVELOPE)


def _spark_type(t: pa.DataType) -> pa.DataType:
    """An Arrow type Spark can hold: unsigned integers widened to the next signed type
    (``uint64`` to ``int64``: counts never reach 2**63), views and large types made plain."""
    widen = {
        pa.uint8(): pa.int16(),
        pa.uint16(): pa.int32(),
        pa.uint32(): pa.int64(),
        pa.uint64(): pa.int64(),
        pa.large_string(): pa.string(),
        pa.large_binary(): pa.binary(),
    }
    if t in widen:
        return widen[t]
    if pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(_spark_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _spark_type(f.type)) for f in t])
    return t


def spark_schema(schema: pa.Schema) -> pa.Schema:
    """:func:`_spark_type` of every field."""
    return pa.schema([pa.field(f.name, _spark_type(f.type)) for f in schema])


def _unpacked(envelope: DataFrame, name: str, schema: pa.Schema) -> DataFrame:
    """The rows of the blobs called ``name`` of an envelope, as a Spark frame."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    def decode(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for blob in batch.column("data").to_pylist():
                tbl = _from_blobs([blob])
                if tbl.num_rows:
                    yield from tbl.cast(schema).to_batches()

    schema = spark_schema(schema)
    return (
        envelope.where(F.col("name") == name)
        .select("data")
        .mapInArrow(decode, from_arrow_schema(schema, prefer_timestamp_ntz=True))
    )


# ---------------------------------------------------------------------------------------
# plan: components of the link graph, packed into shards


def _plan(
    book: SparkBook,
    inp: Any,
    policy: Policy,
    shard_accounts: int,
    max_hub_accounts: int,
) -> tuple[DataFrame, DataFrame, dict[str, Any]]:
    """``account_id, shard``, ``id, shard`` of linked outside counterparties, the figures."""
    import narwhals as nw
    from pyspark.sql import functions as F

    from graphrisk import linkplan
    from graphrisk.engines.spark_graph import connected_components, cut
    from graphrisk.shards import ip_cap, linkers

    dets = [d for d in linkers(policy) if all(book.get(t) is not None for t in d.tables)]
    edges = cut(nw.to_native(linkplan.link_edges(inp, dets, max_hub_accounts, ip_cap(policy))))
    n_edges = edges.count()
    comp = cut(
        connected_components(edges.select(F.xxhash64("u").alias("u"), F.xxhash64("v").alias("v")))
    )
    # read twice (the sizes, the assignment): cut, so the join runs once
    accounts = cut(
        book.frames["accounts"]
        .select("account_id", F.xxhash64("account_id").alias("node"))
        .join(comp, "node", "left")
        .select("account_id", F.coalesce("component", "node").alias("component"))
    )
    sizes = cut(accounts.groupBy("component").agg(F.count(F.lit(1)).alias("size")))
    n_accounts = book.read["accounts"]
    n_small = max(1, -(-n_accounts // shard_accounts))
    # a component of more than half a shard gets a shard of its own; the rest are spread
    # by a hash of their component over ceil(accounts / shard_accounts) shards
    big = [
        r["component"]
        for r in sizes.where(F.col("size") > shard_accounts // 2)
        .orderBy("component")
        .select("component")
        .collect()
    ]
    own = book.spark.createDataFrame(
        [(c, n_small + i) for i, c in enumerate(big)], "component long, own long"
    )
    shard_of = sizes.join(F.broadcast(own), "component", "left").select(
        "component",
        F.coalesce("own", F.pmod("component", F.lit(n_small))).alias("shard"),
    )
    assignment = cut(accounts.join(shard_of, "component").select("account_id", "shard"))
    names = (
        edges.select(F.col("u").alias("id"))
        .union(edges.select(F.col("v").alias("id")))
        .distinct()
        .where(~F.col("id").startswith(linkplan.DEVICE[0]))
        .join(book.frames["accounts"].select(F.col("account_id").alias("id")), "id", "left_anti")
    )
    external = (
        names.select("id", F.xxhash64("id").alias("node"))
        .join(comp, "node")
        .join(shard_of, "component")
        .select("id", "shard")
    )
    external = cut(external)
    agg = sizes.agg(
        F.count(F.lit(1)).alias("components"),
        F.max("size").alias("largest"),
        F.sum((F.col("size") > shard_accounts).cast("long")).alias("oversized"),
    ).collect()[0]
    per_shard = assignment.groupBy("shard").count()
    sh = per_shard.agg(F.count(F.lit(1)).alias("n"), F.max("count").alias("largest")).collect()[0]
    hubs_cut = (
        linkplan.hub_degree(inp, "device_id")
        .filter(nw.col("deg") > max_hub_accounts)
        .to_native()
        .count()
    )
    stats = {
        "shards": int(sh["n"] or 0),
        "shard_accounts": shard_accounts,
        "components": int(agg["components"] or 0),
        "largest_component": int(agg["largest"] or 0),
        "largest_shard": int(sh["largest"] or 0),
        "oversized": int(agg["oversized"] or 0),
        "link_edges": int(n_edges),
        "max_hub_accounts": max_hub_accounts,
        "hubs_cut": int(hubs_cut),
    }
    return assignment, external, stats


def _routed(
    book: SparkBook,
    assignment: DataFrame,
    external: DataFrame,
    inp: Any,
    policy: Policy,
    at_snapshot: bool,
) -> dict[str, DataFrame]:
    """Each table's rows with the ``shard`` they go to (see :func:`graphrisk.shards.split`),
    and the per-shard book facts (``hub_dev``, ``hub_ip``, ``partners``, ``near``)."""
    import narwhals as nw
    from pyspark.sql import functions as F

    from graphrisk import linkplan
    from graphrisk.engines.spark_graph import cut

    a = assignment
    out: dict[str, DataFrame] = {}
    for name in ("loans", "devices", "applications"):
        df = book.get(name)
        if df is not None:
            out[name] = df.join(a, "account_id")
    anchor = a.select(F.col("account_id").alias("id"), "shard").union(external)
    tr = (
        book.frames["transfers"]
        .join(anchor.select(F.col("id").alias("src_account"), F.col("shard").alias("_s")),
              "src_account", "left")
        .join(anchor.select(F.col("id").alias("dst_account"), F.col("shard").alias("_d")),
              "dst_account", "left")
    )  # fmt: skip
    first = tr.withColumn("shard", F.coalesce("_s", "_d", F.lit(0).cast("long"))).withColumn(
        "__gr_primary", F.lit(True)
    )
    second = (
        tr.where(F.col("_s").isNotNull() & F.col("_d").isNotNull() & (F.col("_s") != F.col("_d")))
        .withColumn("shard", F.col("_d"))
        .withColumn("__gr_primary", F.lit(False))
    )
    out["transfers"] = cut(first.unionByName(second).drop("_s", "_d"))
    ends = (
        out["transfers"]
        .select("shard", F.col("src_account").alias("account_id"))
        .union(out["transfers"].select("shard", F.col("dst_account").alias("account_id")))
        .distinct()
        .join(a, ["account_id", "shard"], "left_anti")
    )
    accounts = book.frames["accounts"]
    members = accounts.join(a, "account_id").withColumn("__gr_member", F.lit(True))
    ghosts = accounts.join(ends, "account_id").withColumn("__gr_member", F.lit(False))
    out["accounts"] = cut(members.unionByName(ghosts))
    shard_accounts = out["accounts"].select("shard", "account_id")
    for key, col in (("hub_dev", "device_id"), ("hub_ip", "ip")):
        deg = nw.to_native(linkplan.hub_degree(inp, col))
        used = out["devices"].select("shard", col).where(F.col(col).isNotNull()).distinct()
        out[key] = used.join(deg, col).select("shard", col, F.col("deg").cast("int"))
    partners = nw.to_native(linkplan.partner_counts(inp))
    out["partners"] = shard_accounts.join(partners, "account_id").select(
        "shard", "account_id", F.col("partners").cast("int").alias("len")
    )
    from graphrisk.shards import NEAR_SCHEMA, near_facts

    near = nw.to_native(near_facts(policy, inp, at_snapshot)[0])
    out["near"] = shard_accounts.join(
        near.withColumnRenamed("m", "account_id"), "account_id"
    ).select("shard", F.col("account_id").alias("m"), *[c for c in NEAR_SCHEMA if c != "m"])
    return out


# ---------------------------------------------------------------------------------------
# the kernel: the local engine's code on one shard

#: Output tables of the kernel, with the columns they are sorted by when written.
OUTPUTS: dict[str, tuple[str, ...]] = {
    "flags": ("account_id", "code", "detector", "window_end", "group_id", "evidence"),
    "decisions": ("account_id",),
    "groups": ("group_id", "account_id", "role"),
    "features": ("account_id",),
    "trace": ("account_id",),
}
FP_SCHEMA = pa.schema([("table", pa.string()), ("rows", pa.int64()), ("hash", pa.string())])


@dataclass(frozen=True)
class _Job:
    """What every shard's kernel needs besides its rows (pickled into the Spark tasks)."""

    policy: dict[str, Any]
    as_of: datetime
    lookback: int
    lang: str
    snapshot: datetime
    first_transfer: datetime | None
    first_internal: datetime | None
    lender_ids: list[str]
    lenders: bytes | None  # the lenders table as one Arrow blob
    present: tuple[str, ...]  # the input tables the book has
    has_ledger: bool = False  # decisions read a ledger's prior state (the shard's rows)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)  # outputs' dtypes


def _frame(name: str, df: pl.DataFrame | None) -> pl.DataFrame:
    """A shard's rows of an input table: SPEC dtypes, in file order, SPEC columns only."""
    spec = TABLES[name]
    if df is None or not df.height:
        return empty_frame(name)
    dtypes = {c.name: DTYPES[c.kind] for c in spec.columns}
    return df.sort(_FILE, _ROW).select(list(dtypes)).cast(dtypes)


def shard_outputs(frames: dict[str, pl.DataFrame], job: _Job) -> dict[str, pl.DataFrame]:
    """The outputs of one shard (its own accounts only) and its fingerprint parts."""
    from graphrisk.context import ScanContext
    from graphrisk.decisions import decide_with_trace
    from graphrisk.features import proximity
    from graphrisk.io import Tables
    from graphrisk.policy import Policy
    from graphrisk.scan import FINGERPRINT_TABLES, account_features, run_detectors
    from graphrisk.shards import NEAR_SCHEMA, BookFacts

    policy = Policy.from_dict(job.policy)
    acc = frames.get("accounts")
    members = (
        acc.filter(pl.col("__gr_member"))["account_id"]
        if acc is not None and acc.height
        else pl.Series("account_id", [], pl.String)
    )
    tr = frames.get("transfers")
    primary = (
        tr.filter(pl.col("__gr_primary"))["transfer_id"]
        if tr is not None and tr.height
        else pl.Series("transfer_id", [], pl.String)
    )
    lenders = None
    if job.lenders is not None:
        lenders = pl.from_arrow(_from_blobs([job.lenders]))
    tables = Tables(
        accounts=_frame("accounts", acc),
        loans=_frame("loans", frames.get("loans")),
        transfers=_frame("transfers", tr),
        devices=_frame("devices", frames.get("devices")),
        applications=_frame("applications", frames.get("applications"))
        if "applications" in job.present
        else None,
        source="spark",
        lenders=lenders,
    )

    def fact(name: str, col: str) -> pl.DataFrame:
        df = frames.get(name)
        if df is None or not df.height:
            return pl.DataFrame(schema={col: pl.String, "deg": pl.UInt32})
        return df.select(col, pl.col("deg").cast(pl.UInt32)).sort(col)

    partners = frames.get("partners")
    partners = (
        pl.DataFrame(schema={"account_id": pl.String, "len": pl.UInt32})
        if partners is None or not partners.height
        else partners.select("account_id", pl.col("len").cast(pl.UInt32)).sort("account_id")
    )
    near = frames.get("near")
    near = (
        pl.DataFrame(schema=NEAR_SCHEMA)
        if near is None or not near.height
        else near.select(list(NEAR_SCHEMA)).cast(NEAR_SCHEMA).sort("m", "d")  # type: ignore[arg-type]
    )
    facts = BookFacts(
        job.as_of,
        job.snapshot,
        {"dev": fact("hub_dev", "device_id"), "ip": fact("hub_ip", "ip")},
        job.first_transfer,
        job.first_internal,
        partners,
        pl.Series("lender_id", job.lender_ids, pl.String),
        near,
        proximity(policy).near_params(),
    )
    ctx = ScanContext(tables, job.as_of, job.lookback, facts)
    flags, groups = run_detectors(ctx, policy)
    keep = members.implode()
    flags = flags.filter(pl.col("account_id").is_in(keep))
    groups = groups.filter(pl.col("account_id").is_in(keep))
    feats = account_features(ctx, flags, groups, policy).filter(pl.col("account_id").is_in(keep))
    prior = None
    if job.has_ledger:
        from graphrisk.decisions import PRIOR_SCHEMA

        rows = frames.get("prior")
        prior = (
            pl.DataFrame(schema=PRIOR_SCHEMA)
            if rows is None or not rows.height
            else rows.select(list(PRIOR_SCHEMA)).cast(PRIOR_SCHEMA)  # type: ignore[arg-type]
        )
    decisions, trace = decide_with_trace(
        ctx.accounts.filter(pl.col("account_id").is_in(keep)),
        flags,
        policy,
        job.as_of,
        "",
        prior,
        job.lang,
        job.lookback,
        loans=ctx.loans,  # settled behaviour reads them, as the local scan does
    )
    owned = {
        "accounts": ctx.accounts.filter(pl.col("account_id").is_in(keep)),
        "loans": ctx.loans,
        "transfers": ctx.transfers.filter(pl.col("transfer_id").is_in(primary.implode())),
        "devices": ctx.devices,
        "applications": ctx.applications,
    }
    fp = pl.DataFrame(
        [
            (
                name,
                df.height,
                str(int(df.hash_rows(seed=7).sum()) if df.height else 0),
            )
            for name in FINGERPRINT_TABLES
            if (df := owned[name]) is not None
        ],
        schema={"table": pl.String, "rows": pl.Int64, "hash": pl.String},
        orient="row",
    )
    from graphrisk.ledger import entry

    return {
        "flags": flags,
        "decisions": decisions,
        "groups": groups,
        "features": feats,
        "trace": trace,
        "entry": entry(decisions, trace),
        "fp": fp,
    }


def _kernel(job: _Job) -> Callable[[pa.Table], pa.Table]:
    def run(tbl: pa.Table) -> pa.Table:
        shard = tbl.column("shard")[0].as_py()
        rows = pl.from_arrow(tbl.select(["name", "part", "data"]))
        assert isinstance(rows, pl.DataFrame)
        frames: dict[str, pl.DataFrame] = {}
        for (name,), part in rows.group_by("name", maintain_order=True):
            df = pl.from_arrow(_from_blobs(part["data"].to_list()))
            assert isinstance(df, pl.DataFrame)
            frames[str(name)] = df
        out = shard_outputs(frames, job)
        names, parts, blobs = [], [], []
        for name, df in out.items():
            if name in job.schemas:
                df = df.select(list(job.schemas[name])).cast(job.schemas[name])
            for i, blob in enumerate(_to_blobs(df.to_arrow())):
                names.append(name)
                parts.append(i)
                blobs.append(blob)
        # one Arrow batch per blob: the executor's JVM takes the output batch by batch, so
        # it holds one blob at a time, not the shard's whole output
        return pa.Table.from_batches(
            [
                pa.RecordBatch.from_pydict(
                    {
                        "shard": pa.array([shard], pa.int64()),
                        "name": pa.array([name], pa.string()),
                        "part": pa.array([part], pa.int32()),
                        "data": pa.array([blob], pa.binary()),
                    }
                )
                for name, part, blob in zip(names, parts, blobs, strict=True)
            ],
            schema=ENVELOPE_ARROW,
        )

    return run


# ---------------------------------------------------------------------------------------
# the scan


def _check_window(bounds: dict[str, Any], as_of: datetime, start: datetime, lookback: int) -> None:
    """:func:`graphrisk.context.check_window` from Spark's counts."""
    from graphrisk.schema import EVENT_TIME

    rows = [bounds["tables"][n] for n in EVENT_TIME if n in bounds["tables"]]
    rows = [r for r in rows if r["n"]]
    total = sum(r["n"] for r in rows)
    inside = sum(r["inside"] or 0 for r in rows)
    if not total or inside:
        return
    first = _from_us(min(r["lo"] for r in rows))
    last = _from_us(max(r["hi"] for r in rows))
    assert first is not None and last is not None
    if as_of < first:
        raise UsageError(
            f"--as-of {as_of:%Y-%m-%d %H:%M:%S} is before every loan, transfer, login and"
            f" application of the input (lookback {lookback} days from"
            f" {start:%Y-%m-%d}); the input's events run from {first:%Y-%m-%d} to"
            f" {last:%Y-%m-%d}"
        )


def _lenders_blob(book: SparkBook) -> tuple[bytes | None, pl.DataFrame | None]:
    from graphrisk.engines.spark import _polars

    df = book.get("lenders")
    if df is None:
        return None, None
    frame = _polars(df.toArrow(), TABLES["lenders"])
    return _to_blobs(frame.to_arrow())[0], frame


def scan_on_spark(
    path: str | os.PathLike,
    as_of: datetime | str | None = None,
    policy: Policy | None = None,
    lookback_days: int | None = None,
    quarantine: bool = False,
    lang: str = "zh",
    spark: SparkSession | None = None,
    shard_accounts: int | None = None,
    progress: Callable[[str], None] | None = None,
    max_hub_accounts: int | None = None,
    ledger: str | os.PathLike | None = None,
) -> SparkScanResult:
    """The whole scan of a data directory on Spark (see the module docstring).

    Parameters are those of :func:`graphrisk.scan` (``shard_accounts``: most accounts per
    shard, default :data:`DEFAULT_SPARK_SHARD_ACCOUNTS`); ``spark``: a session to run on
    (default: a local one, or the master named by ``SPARK_MASTER``).
    """
    from graphrisk.engines.spark import _require_pyspark

    _require_pyspark()  # before any pyspark import: a missing pyspark is a usage error
    from pyspark.sql import functions as F

    from graphrisk.context import parse_as_of
    from graphrisk.linkplan import epoch_us
    from graphrisk.policy import Policy as _Policy
    from graphrisk.scan import Stages, run_id_for
    from graphrisk.shards import DEFAULT_MAX_HUB_ACCOUNTS

    policy = policy if policy is not None else _Policy.load(None)
    stages = Stages()
    shard_accounts = shard_accounts or DEFAULT_SPARK_SHARD_ACCOUNTS
    hub_cap = max_hub_accounts or DEFAULT_MAX_HUB_ACCOUNTS
    lookback = lookback_days or policy.lookback_days
    with stages.timed("load", progress):
        book = load_book(path, quarantine=quarantine, spark=spark)
    with stages.timed("plan", progress):
        _size_shuffles(book)
        given = parse_as_of(as_of)
        # one pass over the event times: the latest (the snapshot) and, for a given as_of,
        # the counts inside its window
        window = None if given is None else given - timedelta(days=lookback)
        bounds = _event_bounds(
            book,
            None if window is None else epoch_us(window),
            None if given is None else epoch_us(given),
        )
        snapshot = _from_us(bounds["latest"])
        resolved = given or snapshot
        if resolved is None:
            raise UsageError("the input holds no timestamp: give --as-of")
        start = resolved - timedelta(days=lookback)
        start_us, as_of_us = epoch_us(start), epoch_us(resolved)
        if given is not None:
            _check_window(bounds, resolved, start, lookback)
        inp = _link_inputs(book, start_us, as_of_us)
        assignment, external, plan_stats = _plan(book, inp, policy, shard_accounts, hub_cap)
        at_snapshot = snapshot is None or resolved >= snapshot
        routed = _routed(book, assignment, external, inp, policy, at_snapshot)
        led = prior = None
        if ledger is not None:
            from graphrisk.engines.spark_ledger import SparkLedger, prior_digest

            # the ledger's state before as_of (one row per account with a cut or a watch),
            # read and folded by Spark; the driver gets its digest, for the run id
            led = SparkLedger(ledger, book.spark)
            state = led.prior_frame(resolved)
            prior = prior_digest(state)
            if state is not None and prior is not None:
                routed["prior"] = state.join(assignment, "account_id")
        loans = book.frames["loans"]
        in_window = loans.where(
            (_us("issued_at") <= as_of_us)
            & (
                (_us("issued_at") >= start_us)
                | F.col("repaid_at").isNull()
                | (_us("repaid_at") >= start_us)
            )
        )
        lender_ids = sorted(
            r[0] for r in in_window.select("lender_id").distinct().collect() if r[0] is not None
        )
        first_us = nw_min(inp.transfers, "us")
        blob, lenders = _lenders_blob(book)
        job = _Job(
            policy=policy.data,
            as_of=resolved,
            lookback=lookback,
            lang=lang,
            snapshot=snapshot or resolved,
            first_transfer=_from_us(first_us),
            first_internal=_from_us(inp.origin_us),
            lender_ids=lender_ids,
            lenders=blob,
            present=tuple(n for n in TABLE_ORDER if book.get(n) is not None),
            has_ledger=ledger is not None,
        )
        probe = shard_outputs({}, job)
        schemas = {k: dict(v.schema) for k, v in probe.items() if k != "fp"}
        job = _Job(**{**job.__dict__, "schemas": schemas})
        envelope = functools.reduce(
            lambda a, b: a.unionByName(b),
            [_packed(df, name) for name, df in routed.items()],
        )
    with stages.timed("shards", progress):
        from pyspark import StorageLevel

        from graphrisk.engines.spark_graph import cut

        # the blobs on disk, not in the (driver's, in local mode) heap: each is read once
        # per output table
        out = cut(
            envelope.groupBy("shard").applyInArrow(_kernel(job), ENVELOPE), StorageLevel.DISK_ONLY
        )
        n_blobs = out.count()
        fp_rows = _unpacked(out, "fp", FP_SCHEMA).toArrow().to_pylist()
    fingerprint: dict[str, tuple[int, int] | None] = {}
    if lenders is not None:
        fingerprint["lenders"] = (lenders.height, int(lenders.hash_rows(seed=7).sum()))
    from graphrisk.scan import FINGERPRINT_TABLES

    for name in FINGERPRINT_TABLES:
        mine = [r for r in fp_rows if r["table"] == name]
        if name not in job.present:
            fingerprint[name] = None
            continue
        fingerprint[name] = (
            sum(r["rows"] for r in mine),
            sum(int(r["hash"]) for r in mine) % (1 << 64),
        )

    @dataclass
    class _Window:
        as_of: datetime
        lookback_days: int

    run_id = run_id_for(_Window(resolved, lookback), policy, prior, lang, fingerprint)  # type: ignore[arg-type]
    outputs = {  # decoded once: the summary, the page and the write all read them
        name: cut(_unpacked(out, name, pl.DataFrame(schema=schemas[name]).to_arrow().schema))
        for name in OUTPUTS
    }
    outputs["decisions"] = outputs["decisions"].withColumn("run_id", F.lit(run_id))
    entries = None
    if led is not None:
        entries = _unpacked(
            out, "entry", pl.DataFrame(schema=schemas["entry"]).to_arrow().schema
        ).withColumn("run_id", F.lit(run_id))
    in_window_rows = {n: v[0] for n, v in fingerprint.items() if v is not None and n != "lenders"}
    result = SparkScanResult(
        outputs=outputs,
        quarantine=book.quarantine,
        run_id=run_id,
        stages=stages,
        policy=policy,
        book=book,
        as_of=resolved,
        start=start,
        lookback_days=lookback,
        lang=lang,
        plan=plan_stats,
        blobs=n_blobs,
        in_window=in_window_rows,
        schemas=schemas,
        ledger=led,
        entries=entries,
        _envelope=out,
    )
    with stages.timed("summary", progress):
        result.summary = result._summary()
    return result


#: Accounts the analyst page of a Spark scan lists (decisions.parquet has them all).
REPORT_ACCOUNTS = 1_000
#: Default most accounts per shard on Spark (a task holds one shard).
DEFAULT_SPARK_SHARD_ACCOUNTS = 100_000
#: Input rows per shuffle partition: a scan raises its session's
#: ``spark.sql.shuffle.partitions`` (never lowers it) to the book's rows read / this. Measured
#: on the 1M-account benchmark world (19M rows), local mode with 2g: 4 partitions ran out of
#: execution memory in a hash aggregate of the plan ("UNABLE_TO_ACQUIRE_MEMORY"), 32 ran
#: through; a book under 2M rows keeps the 4 of local mode.
SHUFFLE_ROWS_PER_PARTITION = 500_000


def _size_shuffles(book: SparkBook) -> int:
    """Raise the engine session's shuffle partitions to the book's size; the count used."""
    conf = book.spark.conf
    now = int(conf.get("spark.sql.shuffle.partitions") or 200)
    want = -(-sum(book.read.values()) // SHUFFLE_ROWS_PER_PARTITION)
    if want > now:
        conf.set("spark.sql.shuffle.partitions", str(want))
        return want
    return now


def nw_min(lf: Any, col: str) -> int | None:
    """The smallest value of a column of a narwhals lazy frame (one number collected)."""
    import narwhals as nw

    got = nw.to_native(lf.select(nw.col(col).min())).collect()[0][0]
    return None if got is None else int(got)


@dataclass
class SparkScanResult:
    """What a Spark scan found: its outputs as Spark DataFrames, the summary, the run id.

    ``flags``, ``decisions``, ``groups``, ``features`` and ``trace`` collect the output to
    polars when asked (for a library user on a book that fits; the CLI never asks):
    :meth:`write` has Spark write them.
    """

    outputs: dict[str, DataFrame]
    quarantine: dict[str, DataFrame]
    run_id: str
    stages: Any
    policy: Policy
    book: SparkBook
    as_of: datetime
    start: datetime
    lookback_days: int
    lang: str
    plan: dict[str, Any]
    blobs: int
    in_window: dict[str, int]
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    ledger: Any = None
    entries: Any = None  # the ledger entry's rows (a Spark frame), with a ledger
    summary: dict[str, Any] = field(default_factory=dict)
    _envelope: Any = None

    def _collect(self, name: str) -> pl.DataFrame:
        df = pl.from_arrow(self.outputs[name].toArrow())
        assert isinstance(df, pl.DataFrame)
        schema = self.schemas[name]
        return df.select(list(schema)).cast(schema).sort(list(OUTPUTS[name]), nulls_last=True)

    @property
    def flags(self) -> pl.DataFrame:
        return self._collect("flags")

    @property
    def decisions(self) -> pl.DataFrame:
        return self._collect("decisions")

    @property
    def groups(self) -> pl.DataFrame:
        return self._collect("groups")

    @property
    def features(self) -> pl.DataFrame:
        return self._collect("features")

    @property
    def trace(self) -> pl.DataFrame:
        return self._collect("trace")

    def _summary(self) -> dict[str, Any]:
        import platform
        import sys

        import pyspark
        from pyspark.sql import functions as F

        from graphrisk import __version__
        from graphrisk.scan import effective_policy

        flags = self.outputs["flags"]
        per_code = (
            flags.groupBy("code")
            .agg(F.count(F.lit(1)).alias("flags"), F.countDistinct("account_id").alias("accounts"))
            .orderBy("code")
            .collect()
        )
        flagged = flags.agg(F.countDistinct("account_id")).collect()[0][0]
        actions = self.outputs["decisions"].groupBy("action").count().orderBy("action").collect()
        kinds = (
            self.outputs["groups"]
            .groupBy("kind")
            .agg(F.countDistinct("group_id").alias("n"))
            .orderBy("kind")
            .collect()
        )
        read = {
            n: self.book.read[n] + self.book.quarantined.get(n, 0)
            for n in TABLE_ORDER
            if n in self.book.read
        }
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "lookback_days": self.lookback_days,
            "window_start": self.start.isoformat(),
            "source": self.book.source,
            "engine": "spark",
            "rows": {"read": read, "in_window": self.in_window},
            "quarantine": dict(sorted(self.book.quarantined.items())),
            "warnings": [w.to_dict() for w in self.book.warnings],
            "flags": {
                r["code"]: {"flags": r["flags"], "accounts": r["accounts"]} for r in per_code
            },
            "flagged_accounts": int(flagged or 0),
            "actions": {r["action"]: int(r["count"]) for r in actions},
            "groups": {r["kind"]: int(r["n"]) for r in kinds},
            "shards": self.plan,
            "versions": {
                "graphrisk": __version__,
                "python": sys.version.split()[0],
                "polars": pl.__version__,
                "pyspark": pyspark.__version__,
                "platform": platform.platform(),
                "spark_master": self.book.spark.sparkContext.master,
            },
            "policy": effective_policy(self.policy),
        }

    def write(self, out: str | Path, progress: Callable[[str], None] | None = None) -> Path:
        """Write the run directory: every output table written by Spark (a folder of part
        files, sorted), the quarantined rows, ``summary.json`` and ``report.html``, into a
        temporary directory beside ``out`` that replaces it when complete."""

        out = Path(out)
        pending: list[Any] = []

        def commit() -> None:
            for p in pending:
                if p is not None:
                    p.commit()

        try:
            self._write(out, progress, pending, commit)
        except BaseException:
            for p in pending:
                if p is not None:
                    p.abort()
            raise
        return out

    def _write(
        self,
        out: Path,
        progress: Callable[[str], None] | None,
        pending: list[Any],
        commit: Callable[[], None],
    ) -> None:
        from graphrisk.io import atomic_dir
        from graphrisk.ledger import tmp_beside

        with atomic_dir(out, then=commit) as tmp, self.stages.timed("write", progress):
            if self.ledger is not None and self.entries is not None:
                entries = self.entries

                def write_entry(final: Path) -> Path:
                    tmp_entry = tmp_beside(final)
                    entries.orderBy("account_id").write.options(**WRITE_OPTIONS).parquet(
                        str(tmp_entry)
                    )
                    return tmp_entry

                pending.append(self.ledger.prepare_with(write_entry, self.as_of, self.run_id))
            from graphrisk.explain import TRACE_FILE

            for name, keys in OUTPUTS.items():
                file = TRACE_FILE if name == "trace" else f"{name}.parquet"
                self.outputs[name].orderBy(*keys).write.options(**WRITE_OPTIONS).parquet(
                    str(tmp / file)
                )
            if self.quarantine:
                (tmp / "quarantine").mkdir()
                for name, df in sorted(self.quarantine.items()):
                    df.orderBy(_FILE, _ROW).drop(_FILE, _ROW).write.options(
                        **WRITE_OPTIONS
                    ).parquet(str(tmp / "quarantine" / f"{name}.parquet"))
            self.summary["timings"] = self.stages.merged()
            (tmp / "report.html").write_text(self._report(), encoding="utf-8")
            (tmp / "summary.json").write_text(
                json.dumps(self.summary, indent=2, ensure_ascii=False, default=str) + "\n",
                encoding="utf-8",
            )

    def report_view(self, max_accounts: int = REPORT_ACCOUNTS) -> Any:
        """A small :class:`~graphrisk.scan.ScanResult` for the analyst page: the first
        ``max_accounts`` accounts the page lists (worst action, then severity and score, as
        :func:`graphrisk.report.render_report` orders them), the largest groups of every
        kind, and those accounts' own rows; the summary is the whole scan's."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        from graphrisk.context import ScanContext
        from graphrisk.io import Tables
        from graphrisk.report import ACTIONS, MAX_GROUPS
        from graphrisk.scan import ScanResult

        dec = self.outputs["decisions"]
        flags = self.outputs["flags"]
        groups = self.outputs["groups"]
        rank = F.create_map(*[x for i, a in enumerate(ACTIONS) for x in (F.lit(a), F.lit(i))])
        per = flags.groupBy("account_id").agg(
            F.max("severity").alias("severity"), F.max("score").alias("score")
        )
        listed = [
            r[0]
            for r in dec.where(F.col("action") != "keep")
            .join(per, "account_id", "left")
            .orderBy(
                F.coalesce(rank[F.col("action")], F.lit(len(ACTIONS))),
                F.col("severity").desc_nulls_last(),
                F.col("score").desc_nulls_last(),
                "account_id",
            )
            .select("account_id")
            .limit(max_accounts)
            .collect()
        ]
        sizes = groups.groupBy("group_id", "kind").agg(F.countDistinct("account_id").alias("n"))
        w = Window.partitionBy("kind").orderBy(F.col("n").desc(), "group_id")
        top = sizes.withColumn("_r", F.row_number().over(w)).where(F.col("_r") <= MAX_GROUPS)
        ids = self.book.spark.createDataFrame([(a,) for a in listed], "account_id string")
        chosen = groups.join(top.select("group_id"), "group_id").unionByName(
            groups.join(F.broadcast(ids), "account_id")
        )
        group_rows = pl.from_arrow(chosen.distinct().toArrow())
        assert isinstance(group_rows, pl.DataFrame)
        group_rows = group_rows.select(list(self.schemas["groups"])).cast(self.schemas["groups"])
        wanted = sorted(set(listed) | set(group_rows["account_id"].to_list()))
        keep = F.broadcast(
            self.book.spark.createDataFrame([(a,) for a in wanted], "account_id string")
        )

        def rows(name: str, df: DataFrame) -> pl.DataFrame:
            out = pl.from_arrow(df.toArrow())
            assert isinstance(out, pl.DataFrame)
            schema = self.schemas[name]
            return out.select(list(schema)).cast(schema).sort(list(OUTPUTS[name]), nulls_last=True)

        def table(name: str) -> pl.DataFrame | None:
            df = self.book.get(name)
            if df is None:
                return None
            if name == "transfers":
                df = (
                    df.join(
                        keep.select(F.col("account_id").alias("src_account")),
                        "src_account",
                        "left_semi",
                    )
                    .unionByName(
                        df.join(
                            keep.select(F.col("account_id").alias("dst_account")),
                            "dst_account",
                            "left_semi",
                        )
                    )
                    .distinct()
                )
            else:
                df = df.join(keep, "account_id", "left_semi")
            from graphrisk.engines.spark import _polars

            return _polars(df.toArrow(), TABLES[name])

        sub = Tables(
            accounts=table("accounts"),  # type: ignore[arg-type]
            loans=table("loans"),  # type: ignore[arg-type]
            transfers=table("transfers"),  # type: ignore[arg-type]
            devices=table("devices"),  # type: ignore[arg-type]
            applications=table("applications"),
            source=self.book.source,
        )
        return ScanResult(
            flags=rows("flags", flags.join(keep, "account_id", "left_semi")),
            decisions=rows("decisions", dec.join(keep, "account_id", "left_semi")),
            groups=group_rows.sort(list(OUTPUTS["groups"])),
            summary=self.summary,
            context=ScanContext(sub, self.as_of, self.lookback_days),
            policy=self.policy,
            run_id=self.run_id,
            stages=self.stages,
            trace=rows("trace", self.outputs["trace"].join(keep, "account_id", "left_semi")),
        )

    def _report(self) -> str:
        from graphrisk.report import render_report

        return render_report(self.report_view())
