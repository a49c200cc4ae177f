"""The one detector interface.

A detector is a dataclass: its fields are its parameters (declared with :func:`param`,
each with a default and a one-line meaning), ``name`` is its policy section, ``codes`` the
reason codes it can raise. Its one method, :meth:`Detector.run`, maps a
:class:`~graphrisk.context.ScanContext` to :class:`Findings`: a flags table (one row per
finding, evidence as JSON) and, for group detectors, a groups table.

Constructors only store and check parameters (no work); the work starts in ``run``.
Parameters round-trip through the policy TOML: ``[detectors.NAME] param = value``.

Examples
--------
>>> from graphrisk.detectors import MultiLender
>>> d = MultiLender(min_lenders=6)
>>> d.get_params()["min_lenders"]
6
>>> MultiLender(min_lenders="six")
Traceback (most recent call last):
...
graphrisk.errors.UsageError: multi_lender.min_lenders: expected int, got 'six'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.errors import UsageError

#: Columns and types of ``flags.parquet`` (SPEC columns, then window_start / window_end).
FLAG_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "code": pl.String(),
    "detector": pl.String(),
    "severity": pl.Int8(),
    "score": pl.Float64(),
    "group_id": pl.String(),
    "evidence": pl.String(),
    "window_start": pl.Datetime("us"),
    "window_end": pl.Datetime("us"),
    "as_of": pl.Datetime("us"),
}

#: Decimals a flag's ``score`` keeps (the same on every engine and shard size).
SCORE_DIGITS = 6

#: Columns and types of ``groups.parquet``.
GROUP_SCHEMA: dict[str, pl.DataType] = {
    "group_id": pl.String(),
    "kind": pl.String(),
    "account_id": pl.String(),
    "role": pl.String(),
}


def param(default: Any, doc: str, *, min: float | None = None, max: float | None = None) -> Any:
    """Declare a detector parameter: its default, a one-line meaning, optional bounds."""
    return dataclasses.field(default=default, metadata={"doc": doc, "min": min, "max": max})


def severity_param(default: int, of: str = "the flag") -> Any:
    """A severity parameter (1 watch, 2 suppress, 3 suspend) defaulting to ``default``."""
    return param(default, f"severity of {of} (1 watch, 2 suppress, 3 suspend)", min=1, max=3)


@dataclass(frozen=True)
class ParamInfo:
    """What ``policy show`` prints for one parameter."""

    name: str
    type: type
    default: Any
    doc: str


def empty_flags() -> pl.DataFrame:
    return pl.DataFrame(schema=FLAG_SCHEMA)


def empty_groups() -> pl.DataFrame:
    return pl.DataFrame(schema=GROUP_SCHEMA)


@dataclass
class Findings:
    """What a detector returns: flags (``FLAG_SCHEMA``) and groups (``GROUP_SCHEMA``)."""

    flags: pl.DataFrame
    groups: pl.DataFrame = dataclasses.field(default_factory=empty_groups)


@dataclass
class Detector:
    """Base class of every detector. Subclasses set ``name``, ``codes`` and ``run``."""

    name: ClassVar[str] = ""
    codes: ClassVar[tuple[str, ...]] = ()
    #: tables the detector reads; a missing optional table makes ``run`` return no flags
    tables: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            typ = _resolve(f.type)
            if typ is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
                setattr(self, f.name, value)
            if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
                raise UsageError(f"{self.name}.{f.name}: expected {typ.__name__}, got {value!r}")
            lo, hi = f.metadata.get("min"), f.metadata.get("max")
            if lo is not None and value < lo:
                raise UsageError(f"{self.name}.{f.name}: must be >= {lo}, got {value!r}")
            if hi is not None and value > hi:
                raise UsageError(f"{self.name}.{f.name}: must be <= {hi}, got {value!r}")

    @classmethod
    def params(cls) -> list[ParamInfo]:
        """The declared parameters with type, default and meaning."""
        return [
            ParamInfo(f.name, _resolve(f.type), f.default, f.metadata.get("doc", ""))
            for f in dataclasses.fields(cls)
        ]

    def get_params(self) -> dict[str, Any]:
        """The parameters as given (printable, and valid in ``[detectors.NAME]``)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def threshold(self, *names: str) -> pl.Expr:
        """The ``threshold`` struct of a flag's evidence: the named parameters as applied."""
        return pl.struct([pl.lit(getattr(self, n)).alias(n) for n in names])

    def links(self, ctx: ScanContext) -> pl.DataFrame | None:
        """Pairs of graph nodes (``u, v``: :class:`~graphrisk.graph.Graph` indices, accounts
        or external counterparties) that one finding may join through money.

        A sharded scan (:mod:`graphrisk.shards`) keeps each pair in one shard, beside the
        device and address links every shard keeps whole; every other transfer reaches the
        shards of both its ends. ``None`` (the default): each finding is about one account's
        own rows and its device and address links. A superset is safe (larger shards); a
        pair left out is a finding a sharded scan can miss.
        """
        return None

    def link_plan(self, inp: Any) -> Any:
        """The money edges of the link graph a sharded scan is cut along, as a narwhals lazy
        frame ``u, v`` (ids) over :class:`graphrisk.linkplan.LinkInputs`, for both engines.

        A superset of :meth:`links` built from star-local steps (see
        :mod:`graphrisk.linkplan`); ``None`` (the default): no money links.
        """
        return None

    def run(self, ctx: ScanContext) -> Findings:  # pragma: no cover - abstract
        """Find the pattern in ``ctx`` and return flags with evidence (and groups)."""
        raise NotImplementedError

    def detect(self, ctx: ScanContext) -> Findings:
        """Run and normalise: columns, types and order of ``FLAG_SCHEMA``, sorted, deduplicated."""
        if any(ctx.tables.get(t) is None for t in self.tables):
            return Findings(empty_flags())
        found = self.run(ctx)
        flags = found.flags
        if "detector" not in flags.columns:
            flags = flags.with_columns(pl.lit(self.name).alias("detector"))
        if "as_of" not in flags.columns:
            flags = flags.with_columns(pl.lit(ctx.as_of).alias("as_of"))
        for col in ("group_id", "window_start", "window_end"):
            if col not in flags.columns:
                flags = flags.with_columns(pl.lit(None).alias(col))
        flags = flags.select(list(FLAG_SCHEMA)).cast(FLAG_SCHEMA)  # type: ignore[arg-type]
        # six decimals: a score is a ranking figure, and its last binary digits depend on how
        # polars evaluated it (a frame of one row vs many), not on the data
        flags = flags.with_columns(pl.col("score").round(SCORE_DIGITS))
        unknown = set(flags["code"].unique().to_list()) - set(self.codes)
        if unknown:
            raise RuntimeError(f"detector {self.name} raised undeclared codes {sorted(unknown)}")
        flags = flags.sort(
            "account_id", "code", "window_end", "group_id", "evidence", nulls_last=True
        )
        groups = (
            found.groups.select(list(GROUP_SCHEMA))
            .cast(GROUP_SCHEMA)
            .unique()
            .sort(  # type: ignore[arg-type]
                "group_id", "account_id"
            )
        )
        return Findings(flags, groups)


def _resolve(t: Any) -> type:
    return (
        {"int": int, "float": float, "bool": bool, "str": str}.get(t, t)
        if isinstance(t, str)
        else t
    )


def evidence(**fields: pl.Expr) -> pl.Expr:
    """Build the evidence JSON string from named expressions (a struct encoded as JSON).

    Datetime fields are written as ISO strings; lists stay lists.
    """
    exprs = []
    for k, e in fields.items():
        exprs.append(e.alias(k))
    return pl.struct(exprs).struct.json_encode()


def window_json(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    """A ``{"start": ..., "end": ...}`` struct for evidence, ISO formatted."""
    return pl.struct(
        start.dt.to_string("%Y-%m-%dT%H:%M:%S").alias("start"),
        end.dt.to_string("%Y-%m-%dT%H:%M:%S").alias("end"),
    )


def group_id(kind: str, members: pl.Expr) -> pl.Expr:
    """A deterministic group id: ``KIND-`` + 12 hex of the SHA-1 of the sorted member ids.

    ``members`` is a list expression of account ids. Stable across runs, machines and
    library versions (the digest is computed by :mod:`hashlib`, once per group).

    Examples
    --------
    >>> df = pl.DataFrame({"m": [["b", "a"], ["a", "b"]]})
    >>> df.select(group_id("ring", pl.col("m")).alias("g"))["g"].to_list()
    ['ring-5d8b1241b048', 'ring-5d8b1241b048']
    """
    joined = members.list.sort().list.join(",")
    return pl.lit(kind + "-") + joined.map_elements(_digest, return_dtype=pl.String)


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def json_dumps(obj: Any) -> str:
    """JSON for evidence built in Python (small subgraphs): sorted keys, ISO datetimes."""

    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return o.isoformat(timespec="seconds")
        return str(o)

    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=default)


def member_findings(
    found: pl.DataFrame,
    ctx: ScanContext,
    code: str,
    kind: str,
    roles: list[tuple[str, str, int]],
    one_role_per_member: bool = False,
) -> Findings:
    """Flags and groups rows for every member of the groups a detector found.

    Parameters
    ----------
    found
        One row per group with ``group_id, score, evidence, window_start, window_end`` and,
        per role, a column holding one account id or a list of them.
    ctx
        The scan context; members that are not accounts (external counterparties) are left out.
    code, kind
        The reason code of the flags and the ``kind`` of the groups rows.
    roles
        ``(column, role, severity)`` per role, in order of precedence.
    one_role_per_member
        Keep one row per (group, account), the first role listed (e.g. a source that is
        also the sink).

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> from datetime import datetime
    >>> ctx = world(transfers=[("s", "m", 10, "2026-01-01"), ("m", "X1", 10, "2026-01-02")])
    >>> found = pl.DataFrame({"group_id": ["g"], "score": [1.0], "evidence": ["{}"],
    ...     "window_start": [datetime(2026, 1, 1)], "window_end": [datetime(2026, 1, 2)],
    ...     "src": ["s"], "mids": [["m", "X1"]]})
    >>> f = member_findings(found, ctx, "SCATTER_GATHER", "scatter_gather",
    ...                     [("src", "source", 2), ("mids", "intermediary", 1)])
    >>> f.groups.select("account_id", "role").rows()
    [('s', 'source'), ('m', 'intermediary')]
    """
    keep = ["group_id", "score", "evidence", "window_start", "window_end"]
    parts = []
    for column, role, severity in roles:
        part = found.select(pl.col(column).alias("account_id"), *keep)
        if isinstance(part.schema["account_id"], pl.List):
            part = part.explode("account_id")
        parts.append(
            part.with_columns(
                pl.lit(role).alias("role"), pl.lit(severity, pl.Int8).alias("severity")
            )
        )
    rows = pl.concat(parts).filter(pl.col("account_id").is_in(ctx.accounts["account_id"].implode()))
    if one_role_per_member:
        rows = rows.unique(["group_id", "account_id"], keep="first", maintain_order=True)
    flags = rows.select(
        "account_id",
        pl.lit(code).alias("code"),
        "severity",
        "score",
        "group_id",
        "evidence",
        "window_start",
        "window_end",
    )
    return Findings(
        flags, rows.select("group_id", pl.lit(kind).alias("kind"), "account_id", "role")
    )
