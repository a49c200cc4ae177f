"""The scan context: the tables cut to the lookback window, ``as_of``, and the graph.

Every detector receives one :class:`ScanContext`. Building it applies SPEC's time rules once:
events after ``as_of`` are ignored, events before ``as_of - lookback`` are not read, and a
loan repaid after ``as_of`` counts as outstanding at ``as_of``.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

import polars as pl

from graphrisk.errors import UsageError
from graphrisk.io import Tables
from graphrisk.schema import EVENT_TIME

if TYPE_CHECKING:
    from graphrisk.graph import Graph
    from graphrisk.shards import BookFacts

DEFAULT_LOOKBACK_DAYS = 180


IDX = pl.UInt32


def sort_rows(df: pl.DataFrame, *by: str, maintain_order: bool = False) -> pl.DataFrame:
    """``df`` sorted by ``by``.

    A multi-column ``DataFrame.sort`` moves every column through the sort; sorting only the
    row indices and gathering the rows once is faster on millions of rows.
    """
    if df.height < 2:
        return df
    order = df.select(pl.arg_sort_by(*by, maintain_order=maintain_order)).to_series()
    return df.select(pl.all().gather(order))


def concat_sorted(parts: list[pl.DataFrame], by: str) -> pl.DataFrame:
    """The frames of ``parts`` as one, sorted by ``by`` (unique across them), **emptying**
    ``parts``.

    ``pl.concat(parts).sort(by)`` holds the parts and the sorted copy at once: twice the
    output. Here the parts' chunks are joined without a copy, the order is computed on ``by``
    alone, and the columns are put in order one at a time, each freeing the chunks it came
    from: the output plus one column. (A sharded scan's features, decisions and trace are
    as many rows as the book has accounts.)

    >>> parts = [pl.DataFrame({"k": [3, 1], "v": ["c", "a"]}), pl.DataFrame({"k": [2], "v": ["b"]})]
    >>> concat_sorted(parts, "k").rows(), parts
    ([(1, 'a'), (2, 'b'), (3, 'c')], [])
    """
    if not parts:
        raise ValueError("concat_sorted: no frames")
    whole = pl.concat(parts, how="vertical", rechunk=False)
    parts.clear()
    order = whole.get_column(by).arg_sort()
    columns = whole.get_columns()
    del whole
    for i in range(len(columns)):
        columns[i] = columns[i].gather(order)
    return pl.DataFrame(columns)


def positions(values: pl.Series, ids: pl.Series) -> pl.Series:
    """Index (``UInt32``) of each value in ``ids`` (unique strings); null where absent.

    Joins on 64-bit hashes, which is several times cheaper than a join on the strings, and
    checks every match against the string it claims; a hash collision (between two ids, or a
    value and an id) falls back to the join on the strings, so the result is always exact.
    """
    idx = pl.arange(0, len(ids), dtype=IDX, eager=True)
    h = ids.hash(7)
    if h.n_unique() == len(ids):
        found = (
            pl.DataFrame({"h": values.hash(7), "v": values})
            .join(pl.DataFrame({"h": h, "i": idx}), on="h", how="left", maintain_order="left")
            .select(pl.when(pl.col("v").is_not_null()).then(pl.col("i")).alias("i"))
            .to_series()
        )
        if bool((ids.gather(found) == values).fill_null(True).all()):
            return found
    return (
        pl.DataFrame({"v": values})
        .join(pl.DataFrame({"v": ids, "i": idx}), on="v", how="left", maintain_order="left")
        .to_series(1)
    )


def dense_ids(values: pl.Series, name: str) -> pl.DataFrame:
    """Sorted unique values (nulls left out) with their dense ``idx``."""
    uniq = values.drop_nulls().unique().sort()
    return pl.DataFrame({name: uniq, "idx": pl.arange(0, uniq.len(), dtype=IDX, eager=True)})


def latest_timestamp(tables: Tables) -> datetime:
    """The default ``as_of``: the latest event timestamp in the inputs (``due_at`` excluded)."""
    candidates: list[datetime] = []
    for name, col in {**EVENT_TIME, "accounts": "opened_at"}.items():
        df = tables.get(name)
        if df is not None and df.height:
            v = df.get_column(col).max()
            if v is not None:
                candidates.append(v)  # type: ignore[arg-type]
    if tables.loans.height:
        v = tables.loans.get_column("repaid_at").max()
        if v is not None:
            candidates.append(v)  # type: ignore[arg-type]
    if not candidates:
        raise UsageError("cannot infer as_of: the input has no timestamps; pass --as-of")
    return max(candidates)


def parse_as_of(value: str | date | datetime | None) -> datetime | None:
    """Parse ``--as-of``: a date (end of that day) or an ISO datetime."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, datetime.max.time()).replace(microsecond=999999)
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return datetime.combine(d, datetime.max.time())
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"--as-of: not a date or datetime: {value!r}") from exc
    if dt.tzinfo is not None:
        from datetime import UTC

        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


@dataclass
class ScanContext:
    """What a detector sees: tables inside the lookback window, ``as_of`` and the graph.

    Attributes
    ----------
    as_of, start
        The reference time and the start of the lookback window (``as_of - lookback``).
    accounts
        All accounts (not cut by time).
    loans
        Loans active inside the window: issued in it, or issued earlier and not repaid
        by ``start``. ``repaid_at`` after ``as_of`` is set to null. For loans still open at
        ``as_of``, ``overdue_days`` is the days past due at ``as_of``; at or after the data's
        snapshot (its latest event) the table's own value stands when it is larger, before it
        (a re-run at an earlier ``as_of``) later lateness is not seen.
    transfers, devices, applications
        Events with their timestamp in ``[start, as_of]``.
    """

    tables: Tables
    as_of: datetime
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    #: set when ``tables`` is one shard of a book: what the shard cannot see of the book
    #: (its snapshot time, the accounts on each device and address); see graphrisk.shards
    book: BookFacts | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        tables: Tables,
        as_of: datetime | str | None = None,
        lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    ) -> ScanContext:
        if lookback_days <= 0:
            raise UsageError(f"--lookback must be a positive number of days, got {lookback_days}")
        resolved = parse_as_of(as_of) or latest_timestamp(tables)
        return cls(tables=tables, as_of=resolved, lookback_days=lookback_days)

    @property
    def start(self) -> datetime:
        return self.as_of - timedelta(days=self.lookback_days)

    @cached_property
    def accounts(self) -> pl.DataFrame:
        return sort_rows(self.tables.accounts, "account_id")

    def _events(self, name: str) -> pl.DataFrame | None:
        df = self.tables.get(name)
        if df is None:
            return None
        col = EVENT_TIME[name]
        return df.filter(pl.col(col).is_between(self.start, self.as_of))

    @property
    def lenders(self) -> pl.DataFrame | None:
        """The lenders table (``lender_id, kind, name``), when the book has one."""
        return self.tables.lenders

    def lender_ids(self) -> pl.Series:
        """The lenders of the loans in the window (of the whole book when this context is a
        shard: a shard sees only its own accounts' loans)."""
        if self.book is not None and self.book.lender_ids is not None:
            return self.book.lender_ids
        return self.graph.lenders["lender_id"]

    def lender_kinds(self) -> pl.DataFrame:
        """``lender_id, lender_kind`` of every lender the book's loans and applications name:
        its ``lenders.kind``, ``unknown`` where the lenders table (or its row) is missing."""

        def make() -> pl.DataFrame:
            ids = [self.tables.loans["lender_id"]]
            if self.tables.applications is not None:
                ids.append(self.tables.applications["lender_id"])
            known = pl.DataFrame({"lender_id": pl.concat(ids).unique().sort()})
            if self.lenders is None:
                return known.with_columns(pl.lit("unknown").alias("lender_kind"))
            kinds = self.lenders.select("lender_id", pl.col("kind").alias("lender_kind"))
            return known.join(kinds, on="lender_id", how="left").with_columns(
                pl.col("lender_kind").fill_null("unknown")
            )

        return self.cached("context.lender_kinds", make)

    @cached_property
    def snapshot(self) -> datetime:
        """The data's own reference time: its latest event timestamp (of the whole book)."""
        if self.book is not None:
            return self.book.snapshot
        return latest_timestamp(self.tables)

    def first_transfer(self, internal: bool = False) -> datetime | None:
        """Time of the first transfer in the window (between two accounts, if ``internal``),
        in the whole book when this context is a shard of one; ``None`` without transfers.

        Detectors that ask "was this relation new?" count history from here.
        """
        if self.book is not None:
            return self.book.first_internal if internal else self.book.first_transfer
        tr = self.graph.transfers
        if internal:
            tr = tr.filter(pl.col("internal"))
        return tr["ts"].min() if tr.height else None  # type: ignore[return-value]

    def partners(self) -> pl.DataFrame | None:
        """``account_id, len``: the book's distinct transfer partners per account when this
        context is a shard; ``None`` for a whole book."""
        return None if self.book is None else self.book.partners

    def hub_degree(self, hub: str) -> pl.DataFrame | None:
        """The book's distinct accounts per device (``"dev"``: ``device_id, deg``) or address
        (``"ip"``: ``ip, deg``) when this context is a shard; ``None`` for a whole book."""
        if self.book is None:
            return None
        return self.book.hub_degree.get(hub)

    def window(self, name: str) -> pl.DataFrame | None:
        """Table ``name`` cut to the window as :attr:`loans`, :attr:`transfers`,
        :attr:`devices` and :attr:`applications` are, in no particular order (the sorted
        copy when one is built already): for steps that do not need the order, such as a
        shard plan's relational steps and row-hash sums."""
        if name in self.__dict__:
            return self.__dict__[name]
        if name == "accounts":
            return self.tables.accounts
        if name == "loans":
            return self._loans_in_window()
        return self._events(name)

    @cached_property
    def loans(self) -> pl.DataFrame:
        return sort_rows(self._loans_in_window(), "account_id", "issued_at", "loan_id")

    def _loans_in_window(self) -> pl.DataFrame:
        as_of = self.as_of
        df = self.tables.loans.filter(
            (pl.col("issued_at") <= as_of)
            & (
                (pl.col("issued_at") >= self.start)
                | pl.col("repaid_at").is_null()
                | (pl.col("repaid_at") >= self.start)
            )
        )
        repaid = pl.when(pl.col("repaid_at") <= as_of).then(pl.col("repaid_at"))
        late = ((pl.lit(as_of) - pl.col("due_at")).dt.total_days()).clip(lower_bound=0)
        # ``overdue_days`` in the table is "so far" at the data's snapshot. At (or after) the
        # snapshot it stands, raised to the days past due at as_of for loans still open. Before
        # the snapshot (a re-run at an earlier as_of) a loan still open at as_of cannot know its
        # later lateness: its days past due at as_of are used instead.
        # no loans, nothing to raise (and an empty book has no snapshot: as_of was given)
        at_snapshot = not self.tables.loans.height or as_of >= self.snapshot
        open_late = pl.max_horizontal(pl.col("overdue_days"), late) if at_snapshot else late
        df = df.with_columns(repaid.alias("repaid_at")).with_columns(
            pl.when(pl.col("repaid_at").is_null() & pl.col("due_at").is_not_null())
            .then(open_late)
            .otherwise(pl.col("overdue_days"))
            .cast(pl.Int64)
            .alias("overdue_days")
        )
        return df

    @cached_property
    def transfers(self) -> pl.DataFrame:
        df = self._events("transfers")
        assert df is not None
        return sort_rows(df, "ts", "transfer_id")

    @cached_property
    def _devices_keyed(self) -> tuple[pl.DataFrame, pl.DataFrame] | None:
        """Logins in the window sorted by (account_id, ts, device_id), with ``__acc`` (index
        in :attr:`accounts`) and ``__dev`` (index in the sorted device ids) added; and the
        device id frame. None if a login's account is not in accounts (unvalidated tables).

        Both ids sort like their strings (the frames they index are sorted), so the sort
        runs on three integer keys instead of two strings and a timestamp; the graph reuses
        the integer ids.
        """
        df = self._events("devices")
        assert df is not None
        devices = dense_ids(df["device_id"], "device_id")
        keyed = df.with_columns(
            positions(df["account_id"], self.accounts["account_id"]).alias("__acc"),
            positions(df["device_id"], devices["device_id"]).alias("__dev"),
        )
        if keyed["__acc"].null_count():
            return None
        keyed = sort_rows(keyed, "__acc", "ts", "__dev", maintain_order=True)
        return keyed, devices

    @cached_property
    def devices(self) -> pl.DataFrame:
        keyed = self._devices_keyed
        if keyed is not None:
            return keyed[0].drop("__acc", "__dev")
        df = self._events("devices")
        assert df is not None
        return df.sort("account_id", "ts", "device_id")

    @cached_property
    def applications(self) -> pl.DataFrame | None:
        df = self._events("applications")
        return None if df is None else sort_rows(df, "account_id", "applied_at", "lender_id")

    @cached_property
    def graph(self) -> Graph:
        """The graph of accounts, devices, addresses and transfers (built on first use)."""
        from graphrisk.graph import Graph

        return Graph.build(self)

    def keep_window_only(self) -> None:
        """Let go of the transfers and logins outside the window (a whole scan's largest
        tables, of which the window is often a third to a half).

        :attr:`tables` becomes a copy of itself whose ``transfers`` and ``devices`` are the
        window's rows (the sorted cuts :attr:`transfers` and :attr:`devices`, which the
        context keeps anyway), so one copy of those rows stays, not two; what was read from
        the whole tables (:attr:`snapshot`) is fixed first. Loans and applications stay
        whole (the lender kinds and the loans' window read all of them). Every cut made
        again from the tables (:meth:`release`, :meth:`window`) has the same rows. The
        ``Tables`` the context was built on are not changed.
        """
        with suppress(UsageError):  # not a timestamp in the book (as_of given): none to fix
            _ = self.snapshot
        self.tables = replace(self.tables, transfers=self.transfers, devices=self.devices)

    def release(self) -> None:
        """Drop what was built from the tables (window cuts, graph, shared results); they
        are built again on next use. ``accounts`` and ``snapshot`` stay."""
        for name in ("loans", "transfers", "_devices_keyed", "devices", "applications", "graph"):
            self.__dict__.pop(name, None)
        self._cache.clear()

    def drop_shared(self) -> None:
        """Drop the results the detectors shared (:meth:`cached`: link tables, income
        series, ...); they are built again on next use. A scan calls it once the feature
        table, their last reader, is made."""
        self._cache.clear()

    def cached(self, key: str, make):
        """Compute ``make()`` once per scan and share it between detectors."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


def check_window(ctx: ScanContext) -> None:
    """An explicit ``as_of`` before every event of the input is a mistake (``UsageError``).

    Its window holds nothing, and every account would be kept for lack of evidence (a typo
    in the year, or the wrong data directory). A window *after* the data is not refused:
    months without any event are how an account shows it has stayed clean (restore).
    Tables without any event (accounts only) pass: there is nothing to miss.
    """
    total = inside = 0
    first = last = None
    for name, col in EVENT_TIME.items():
        df = ctx.tables.get(name)
        if df is None or not df.height:
            continue
        ts = df.get_column(col)
        total += df.height
        inside += int(ts.is_between(ctx.start, ctx.as_of).sum())
        lo, hi = ts.min(), ts.max()
        first = lo if first is None or (lo is not None and lo < first) else first
        last = hi if last is None or (hi is not None and hi > last) else last
    if total and not inside and first is not None and ctx.as_of < first:
        raise UsageError(
            f"--as-of {ctx.as_of:%Y-%m-%d %H:%M:%S} is before every loan, transfer, login and"
            f" application of the input (lookback {ctx.lookback_days} days from"
            f" {ctx.start:%Y-%m-%d}); the input's events run from {first:%Y-%m-%d} to"
            f" {last:%Y-%m-%d}"
        )
