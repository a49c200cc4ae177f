"""Build small hand-made worlds for tests, doctests and examples.

:func:`tables` turns short row tuples into validated :class:`~graphrisk.io.Tables`;
:func:`world` wraps them in a :class:`~graphrisk.context.ScanContext`. Accounts are created
for every id used in loans, devices and applications and for transfer ends that do not
start with ``X`` (``X...`` ids stay external counterparties).

Examples
--------
>>> ctx = world(loans=[("a", "L1", 500, "2026-01-03")],
...             transfers=[("a", "b", 100, "2026-01-04"), ("b", "X1", 50, "2026-01-05")])
>>> ctx.accounts["account_id"].to_list()
['a', 'b']
>>> str(ctx.as_of)
'2026-01-05 00:00:00'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path

import polars as pl

from graphrisk.context import DEFAULT_LOOKBACK_DAYS, ScanContext
from graphrisk.io import Tables, load
from graphrisk.schema import DTYPES, TABLES

Row = Sequence | dict


def _ts(v: object) -> datetime | None:
    if v is None or isinstance(v, datetime):
        return v  # type: ignore[return-value]
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day)
    s = str(v)
    return datetime.fromisoformat(s if len(s) > 10 else s + "T00:00:00")


def _frame(table: str, rows: Iterable[Row], order: list[str]) -> pl.DataFrame:
    spec = TABLES[table]
    records = []
    for r in rows:
        rec = dict(r) if isinstance(r, dict) else dict(zip(order, r, strict=False))
        records.append(rec)
    data: dict[str, list] = {c.name: [] for c in spec.columns}
    for rec in records:
        for c in spec.columns:
            v = rec.get(c.name)
            data[c.name].append(_ts(v) if c.kind.startswith("timestamp") else v)
    df = pl.DataFrame(data, schema={c.name: DTYPES[c.kind] for c in spec.columns})
    if table == "loans":
        df = df.with_columns(pl.col("overdue_days").fill_null(0))
    if table == "loans" and df.height:
        df = df.with_columns(
            pl.col("loan_id").fill_null(
                pl.concat_str([pl.lit("ln"), pl.int_range(pl.len()).cast(pl.String)])
            )
        )
    if table == "transfers" and df.height:
        df = df.with_columns(
            pl.col("transfer_id").fill_null(
                pl.concat_str([pl.lit("tr"), pl.int_range(pl.len()).cast(pl.String).str.zfill(6)])
            )
        )
    return df


def tables(
    loans: Iterable[Row] = (),
    transfers: Iterable[Row] = (),
    devices: Iterable[Row] = (),
    applications: Iterable[Row] | None = None,
    accounts: Iterable[Row] | None = None,
) -> Tables:
    """Tables from short rows.

    Row tuples follow these column orders (dicts may name any column):

    * loans: ``account_id, lender_id, amount, issued_at, due_at, repaid_at, overdue_days, loan_id``
    * transfers: ``src_account, dst_account, amount, ts, transfer_id``
    * devices: ``account_id, device_id, ts, ip, city``
    * applications: ``account_id, lender_id, applied_at``
    * accounts: ``account_id, opened_at, credit_limit, customer_id, city, monthly_income``
      (default: every id used, opened 2020-01-01 with a limit of 10,000, income unknown)
    """
    lo = _frame(
        "loans",
        loans,
        [
            "account_id",
            "lender_id",
            "amount",
            "issued_at",
            "due_at",
            "repaid_at",
            "overdue_days",
            "loan_id",
        ],
    )
    tr = _frame(
        "transfers", transfers, ["src_account", "dst_account", "amount", "ts", "transfer_id"]
    )
    dv = _frame("devices", devices, ["account_id", "device_id", "ts", "ip", "city"])
    ap = (
        None
        if applications is None
        else _frame("applications", applications, ["account_id", "lender_id", "applied_at"])
    )
    if accounts is None:
        ids = (
            pl.concat(
                [
                    lo["account_id"],
                    dv["account_id"],
                    tr["src_account"],
                    tr["dst_account"],
                    *([ap["account_id"]] if ap is not None else []),
                ]
            )
            .unique()
            .sort()
        )
        ids = ids.filter(~ids.str.starts_with("X"))
        acc = pl.DataFrame(
            {"account_id": ids, "opened_at": datetime(2020, 1, 1), "credit_limit": 10_000.0}
        ).cast({"opened_at": pl.Datetime("us")})
        acc = acc.with_columns(
            pl.lit(None, pl.String).alias("customer_id"),
            pl.lit(None, pl.String).alias("city"),
            pl.lit(None, pl.Float64).alias("monthly_income"),
        )
    else:
        acc = _frame(
            "accounts",
            accounts,
            ["account_id", "opened_at", "credit_limit", "customer_id", "city", "monthly_income"],
        )
    return Tables(accounts=acc, loans=lo, transfers=tr, devices=dv, applications=ap)


def world(
    as_of: str | datetime | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    **kwargs: object,
) -> ScanContext:
    """A :class:`ScanContext` over :func:`tables` (same keyword arguments)."""
    return ScanContext.build(tables(**kwargs), as_of=as_of, lookback_days=lookback_days)  # type: ignore[arg-type]


def write(t: Tables, path: str | Path) -> Path:
    """Write tables as Parquet files into ``path`` (a real data directory), return it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    from graphrisk.schema import TABLE_ORDER

    for name in TABLE_ORDER:
        df = t.get(name)
        if df is not None:
            df.write_parquet(path / f"{name}.parquet")
    return path


def roundtrip(t: Tables, path: str | Path) -> Tables:
    """Write then load again: the tables as the real loader sees them."""
    return load(write(t, path))


def run_differences(a: str | Path, b: str | Path, rel_tol: float = 1e-9) -> dict[str, object]:
    """Compare the output tables of two run directories (either engine's: a table may be one
    file or a folder of part files).

    Every table of :data:`graphrisk.engines.spark_scan.OUTPUTS` is read from both, cast to
    ``a``'s columns and types, sorted by its keys and compared (floats to ``rel_tol``
    relative: sums may differ in their last digits between engines). Returns ``rows`` (rows
    compared, counted in ``a``), ``differ`` (the tables that differ, with the first line of
    the difference) and the two ``run_id``s."""
    import json

    from polars.testing import assert_frame_equal

    from graphrisk.engines.spark_scan import OUTPUTS
    from graphrisk.explain import TRACE_FILE

    a, b = Path(a), Path(b)
    rows, differ = 0, {}
    for name, keys in OUTPUTS.items():
        file = TRACE_FILE if name == "trace" else f"{name}.parquet"
        mine, theirs = pl.read_parquet(a / file), pl.read_parquet(b / file)
        try:
            theirs = theirs.select(mine.columns).cast(mine.schema)
            assert_frame_equal(
                mine.sort(list(keys), nulls_last=True),
                theirs.sort(list(keys), nulls_last=True),
                check_exact=False,
                rel_tol=rel_tol,
            )
        except (AssertionError, pl.exceptions.PolarsError) as exc:
            differ[name] = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        rows += mine.height
    ids = [json.loads((d / "summary.json").read_text())["run_id"] for d in (a, b)]
    return {"rows": rows, "differ": differ, "run_ids": ids}


def input_size(data: str | Path) -> dict[str, int]:
    """Rows, Parquet MB and in-memory (Arrow) MB of a data directory's input tables.

    Every ``*.parquet`` file or folder of part files but ``labels`` (a generated world's answer
    key) counts. The Arrow figure is what the tables take once read, which is what "a book
    larger than a process's memory" is measured against.
    """
    import pyarrow.parquet as pq

    rows = parquet = arrow = 0
    for f in sorted(Path(data).glob("*.parquet")):
        if f.stem == "labels":
            continue
        t = pq.read_table(f)
        rows += t.num_rows
        arrow += t.nbytes
        parts = [f] if f.is_file() else sorted(f.rglob("*.parquet"))
        parquet += sum(x.stat().st_size for x in parts)
    return {"rows": rows, "parquet_mb": round(parquet / 2**20), "arrow_mb": round(arrow / 2**20)}
