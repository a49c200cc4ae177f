"""Income and outflow as the book sees them (private helper of the cash-flow detectors).

Every figure is per account and uses only the account's own transfers and the accounts
linked to it, so it can be computed shard by shard (no book-wide statistic).

* :func:`flows` - every transfer of an account, seen from the account: direction, the
  counterparty, and whether the counterparty belongs to the account's own *circle*
  (an account linked to it by a device or an address, or one with the same ``customer_id``),
  is a lender (a loan payout), or sends back money the account paid it shortly before
  (its own round trip).
* :func:`income_flows`, :func:`outflows` - the incoming transfers that count as income and
  the outgoing ones that leave the circle (cached; the full :func:`flows` frame is not).
* :func:`monthly_income` - money in from outside the circle, per account and calendar month
  (complete months inside the lookback only), zero-filled.
* :func:`usual_income` - per account: the declared ``accounts.monthly_income``, the
  observed monthly income (median over the complete months), the income used against
  outflows and debt (the larger of the two) and which one it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from graphrisk.context import ScanContext, sort_rows
from graphrisk.detectors import _links
from graphrisk.detectors.base import Detector, param
from graphrisk.graph import IDX


def complete_months(start: datetime, as_of: datetime) -> list[datetime]:
    """First days of the calendar months inside ``[start, as_of]``: a month counts from its
    first instant, and once ``as_of`` has reached its last day (a scan on the evening of
    the 31st sees that month; one on the 29th of a 30-day month does not).

    Examples
    --------
    >>> [m.month for m in complete_months(datetime(2025, 12, 31, 23), datetime(2026, 6, 29))]
    [1, 2, 3, 4, 5]
    >>> [m.month for m in complete_months(datetime(2025, 12, 31, 23), datetime(2026, 6, 30, 18))]
    [1, 2, 3, 4, 5, 6]
    """
    y, m = start.year, start.month
    first = datetime(y, m, 1)
    if first < start:
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    out = []
    while True:
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        if datetime(ny, nm, 1) - timedelta(days=1) > as_of:
            return out
        out.append(datetime(y, m, 1))
        y, m = ny, nm


def flows(
    ctx: ScanContext, max_device_accounts: int, max_ip_accounts: int, round_trip_days: float
) -> pl.DataFrame:
    """Each transfer of each account, seen from the account.

    Columns ``acc`` (the account), ``other`` (the counterparty, account or external),
    ``incoming`` (bool), ``amount``, ``ts``, ``circle`` (the counterparty is linked to the
    account by a device or address, or has the same ``customer_id``), ``lender`` (the
    counterparty is a lender: a loan payout or a repayment) and ``round_trip`` (an incoming
    transfer from a counterparty the account paid at least half as much within
    ``round_trip_days`` before). Sorted by ``acc, ts, other``.
    """
    sides = _sides(ctx, max_device_accounts, max_ip_accounts, round_trip_days)
    # by account, stably: rows in (ts, acc, other) order end up in (acc, ts, other) order
    return sort_rows(sides, "acc", maintain_order=True)


def _sides(
    ctx: ScanContext, max_device_accounts: int, max_ip_accounts: int, round_trip_days: float
) -> pl.DataFrame:
    """:func:`flows`' rows in time order (``ts, acc, other, incoming``).

    Every pair test runs on integer keys: a (account, counterparty) pair is one ``UInt64``,
    a customer one code per graph node (externals have none).
    """
    g = ctx.graph
    n = g.n_accounts
    t = g.transfers
    sides = pl.concat(
        [
            t.filter(pl.col("dst") < n).select(
                pl.col("dst").alias("acc"),
                pl.col("src").alias("other"),
                pl.lit(True).alias("incoming"),
                "amount",
                "ts",
            ),
            t.filter(pl.col("src") < n).select(
                pl.col("src").alias("acc"),
                pl.col("dst").alias("other"),
                pl.lit(False).alias("incoming"),
                "amount",
                "ts",
            ),
        ]
    )
    # stably: rows equal on all four keep the transfers' order (ts, transfer_id)
    sides = sort_rows(sides, "ts", "acc", "other", "incoming", maintain_order=True)
    pair = pl.col("acc").cast(pl.UInt64) * (1 << 32) + pl.col("other").cast(pl.UInt64)
    links = _links.both_ways(
        _links.links(ctx, max_device_accounts, max_ip_accounts, transfers=False)
    )
    linked = links.select(
        (pl.col("src").cast(pl.UInt64) * (1 << 32) + pl.col("dst").cast(pl.UInt64)).alias("k")
    )["k"]
    circle = pair.is_in(linked.implode())
    cust = ctx.accounts.get_column("customer_id") if "customer_id" in ctx.accounts else None
    if cust is not None and cust.null_count() < cust.len():
        code = pl.concat(
            [
                cust.cast(pl.Categorical).to_physical().cast(IDX),
                pl.repeat(None, g.nodes.height - n, dtype=IDX, eager=True),
            ]
        )
        same = code.gather(sides["acc"]) == code.gather(sides["other"])
        circle = circle | pl.lit(same.fill_null(False))
    lender_ids = ctx.lender_ids()
    lenders = getattr(ctx.tables, "lenders", None)
    if isinstance(lenders, pl.DataFrame) and "lender_id" in lenders.columns:
        lender_ids = pl.concat([lender_ids, lenders["lender_id"].cast(pl.String)])
    lender_nodes = g.nodes.filter((pl.col("idx") >= n) & pl.col("id").is_in(lender_ids.implode()))[
        "idx"
    ]
    sides = sides.with_columns(
        circle.alias("circle"),
        pl.col("other").is_in(lender_nodes.implode()).alias("lender"),
        pair.alias("_pair"),
    )
    paid = sides.filter(~pl.col("incoming")).select(
        "_pair", pl.col("ts").alias("_paid_at"), pl.col("amount").alias("_paid")
    )
    back = (
        sides.select("_pair", "incoming", "amount", "ts")
        .with_row_index("_i")
        .filter(pl.col("incoming"))
        .join_asof(
            paid,
            left_on="ts",
            right_on="_paid_at",
            by="_pair",
            strategy="backward",
            tolerance=timedelta(days=round_trip_days),
            check_sortedness=False,  # sorted by ts, so sorted inside every group
        )
        .filter(pl.col("_paid") >= 0.5 * pl.col("amount"))["_i"]
    )
    trip = np.zeros(sides.height, dtype=bool)
    trip[back.to_numpy()] = True
    return sides.drop("_pair").with_columns(pl.Series("round_trip", trip))


def _split(
    ctx: ScanContext, max_device_accounts: int, max_ip_accounts: int, round_trip_days: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The two parts of :func:`flows` the detectors read, cached (the full frame is not
    kept: on a large book it is twice the transfers table; each part is sorted on its own)."""

    def make() -> tuple[pl.DataFrame, pl.DataFrame]:
        f = _sides(ctx, max_device_accounts, max_ip_accounts, round_trip_days)
        inc = f.filter(
            pl.col("incoming") & ~pl.col("circle") & ~pl.col("lender") & ~pl.col("round_trip")
        ).select("acc", "other", "amount", "ts")
        out = f.filter(~pl.col("incoming") & ~pl.col("circle") & ~pl.col("lender")).select(
            "acc", "other", "amount", "ts"
        )
        del f
        # by account, stably: rows already in (ts, acc, other) order end up in (acc, ts, other)
        return sort_rows(inc, "acc", maintain_order=True), sort_rows(
            out, "acc", maintain_order=True
        )

    key = f"_income.split.{max_device_accounts}.{max_ip_accounts}.{round_trip_days}"
    return ctx.cached(key, make)


def income_flows(
    ctx: ScanContext, max_device_accounts: int, max_ip_accounts: int, round_trip_days: float
) -> pl.DataFrame:
    """Incoming transfers that count as income (from outside the circle, no lender, no
    round trip): ``acc, other, amount, ts``, by account and time."""
    return _split(ctx, max_device_accounts, max_ip_accounts, round_trip_days)[0]


def outflows(
    ctx: ScanContext, max_device_accounts: int, max_ip_accounts: int, round_trip_days: float
) -> pl.DataFrame:
    """Outgoing transfers to counterparties outside the circle that are not lenders:
    ``acc, other, amount, ts``, by account and time."""
    return _split(ctx, max_device_accounts, max_ip_accounts, round_trip_days)[1]


def monthly_income(
    ctx: ScanContext, max_device_accounts: int, max_ip_accounts: int, round_trip_days: float
) -> pl.DataFrame:
    """Income per account and complete calendar month: ``acc, pos, month, income``.

    ``pos`` is 0 for the oldest complete month of the lookback; every account with income
    in any of them has one row per month (zero where nothing came in).
    """

    def make() -> pl.DataFrame:
        months = complete_months(ctx.start, ctx.as_of)
        schema = {"acc": IDX, "pos": pl.Int32, "month": pl.Datetime("us"), "income": pl.Float64}
        if not months:
            return pl.DataFrame(schema=schema)
        inc = income_flows(ctx, max_device_accounts, max_ip_accounts, round_trip_days)
        first = months[0].year * 12 + months[0].month - 1
        pos = (pl.col("ts").dt.year().cast(pl.Int32) * 12 + pl.col("ts").dt.month() - 1) - first
        rows = inc.select("acc", pos.cast(pl.Int32).alias("pos"), "amount").filter(
            pl.col("pos").is_between(0, len(months) - 1)
        )
        # one row per (account with income, month), zero where nothing came in; each sum
        # added up in the rows' order (by account and time) whatever the frame's size, so a
        # shard of the book adds exactly as the whole book does
        accs = rows["acc"].unique().sort()
        k = len(months)
        cell = (accs.search_sorted(rows["acc"]).cast(pl.Int64) * k + rows["pos"]).to_numpy()
        income = np.bincount(cell, weights=rows["amount"].to_numpy(), minlength=accs.len() * k)
        cal = pl.DataFrame({"month": months}, schema={"month": pl.Datetime("us")})["month"]
        return pl.DataFrame(
            {
                "acc": accs.cast(IDX).gather(np.repeat(np.arange(accs.len()), k)),
                "pos": pl.Series(np.tile(np.arange(k, dtype=np.int32), accs.len())),
                "month": cal.gather(np.tile(np.arange(k), accs.len())),
                "income": income,
            },
            schema=schema,
        )

    key = f"_income.monthly.{max_device_accounts}.{max_ip_accounts}.{round_trip_days}"
    return ctx.cached(key, make)


def usual_income(
    ctx: ScanContext,
    max_device_accounts: int,
    max_ip_accounts: int,
    round_trip_days: float,
    min_income: float,
) -> pl.DataFrame:
    """Per account (every account): ``acc, declared, observed, n_months, income, source``.

    ``observed`` is the median monthly income over the complete months of the lookback,
    null when it is below ``min_income`` (too little coming in to stand for an income).
    ``income`` is the larger of ``declared`` and ``observed`` (null when neither is known
    or it is 0) and ``source`` says which: ``declared`` or ``observed``. The larger one is
    used so that a cut never rests on a declared figure below what the account visibly
    earns, nor on an incomplete view of its transfers when it declared more.
    """

    def make() -> pl.DataFrame:
        n = ctx.graph.n_accounts
        months = complete_months(ctx.start, ctx.as_of)
        m = monthly_income(ctx, max_device_accounts, max_ip_accounts, round_trip_days)
        obs = m.group_by("acc").agg(pl.col("income").median().alias("observed"))
        acc = pl.DataFrame({"acc": pl.arange(0, n, dtype=IDX, eager=True)})
        declared = (
            ctx.accounts.get_column("monthly_income").cast(pl.Float64)
            if "monthly_income" in ctx.accounts
            else pl.Series("monthly_income", [None] * n, dtype=pl.Float64)
        )
        df = (
            acc.with_columns(declared.alias("declared"))
            .join(obs, on="acc", how="left")
            .with_columns(
                pl.when(pl.col("observed") >= min_income).then(pl.col("observed")),
                pl.lit(len(months)).alias("n_months"),
            )
        )
        best = pl.max_horizontal("declared", "observed")
        return df.with_columns(
            pl.when(best > 0).then(best).alias("income"),
            pl.when(best <= 0)
            .then(None)
            .when(pl.col("declared") >= pl.col("observed").fill_null(-1.0))
            .then(pl.lit("declared"))
            .when(pl.col("observed").is_not_null())
            .then(pl.lit("observed"))
            .alias("source"),
        ).sort("acc")

    key = f"_income.usual.{max_device_accounts}.{max_ip_accounts}.{round_trip_days}.{min_income}"
    return ctx.cached(key, make)


def income_fields(prefix: str = "") -> dict[str, pl.Expr]:
    """Evidence fields of the income used: declared, observed, income, source."""
    return {
        "declared_income": pl.col(f"{prefix}declared").round(2),
        "observed_income": pl.col(f"{prefix}observed").round(2),
        "income": pl.col(f"{prefix}income").round(2),
        "income_source": pl.col(f"{prefix}source"),
    }


@dataclass
class IncomeDetector(Detector):
    """The cash-flow detectors' common parameters: what is the account's own circle (linked
    accounts, round trips) and so not income, nor money leaving it."""

    round_trip_days: float = param(
        30.0, "money back from a counterparty paid this many days before is not income", min=0.0
    )
    max_device_accounts: int = param(10, "a device used by more accounts links nobody", min=2)
    max_ip_accounts: int = param(10, "an address used by more accounts links nobody", min=2)

    def circle(self) -> tuple[int, int, float]:
        """The arguments of :func:`flows` and the income functions built on it."""
        return (self.max_device_accounts, self.max_ip_accounts, self.round_trip_days)
