"""Account-to-account links shared by the linkage detectors (private helper).

Every function works on the scan graph's dense integer ids (``acc`` ``0..n_accounts-1``) and
returns polars frames; results are cached on the :class:`~graphrisk.context.ScanContext` so
several detectors share one computation.

* :func:`hub_pairs` - account pairs that logged in on the same device (or through the same IP
  address), for hubs used by at most ``max_accounts`` accounts.
* :func:`transfer_pairs` - account pairs that sent money to each other (internal transfers).
* :func:`links` - the union: one row per (pair, kind) with ``a < b``.
* :func:`defaulters` - accounts with a loan ``default_days`` or more past due.
"""

from __future__ import annotations

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.graph import IDX

LINK_SCHEMA = {"a": IDX, "b": IDX, "kind": pl.String(), "via": pl.String(), "n": pl.UInt32()}


def hub_accounts(ctx: ScanContext, hub: str) -> pl.DataFrame:
    """Unique ``(acc, hub)`` login pairs with ``deg``, the number of accounts on the hub."""

    def make() -> pl.DataFrame:
        pairs = ctx.graph.logins.select("acc", hub).drop_nulls().unique()
        book = ctx.hub_degree(hub)
        if book is None:
            deg = pl.len().over(hub).cast(pl.UInt32).alias("deg")
            return pairs.with_columns(deg).sort(hub, "acc")
        # a shard of a book: a hub's accounts in the whole book, not in this shard
        col = "device_id" if hub == "dev" else "ip"
        names = (ctx.graph.devices if hub == "dev" else ctx.graph.ips).select(
            pl.col(col).alias("_name"), pl.col("idx").alias(hub)
        )
        deg = names.join(book.rename({col: "_name"}), on="_name", how="left").select(
            hub, pl.col("deg").cast(pl.UInt32)
        )
        return pairs.join(deg, on=hub, how="left").sort(hub, "acc")

    return ctx.cached(f"_links.hub_accounts.{hub}", make)


def device_accounts(ctx: ScanContext, devices: pl.Series) -> pl.DataFrame:
    """``device_id, k``: distinct accounts that logged in on each of ``devices`` (in the whole
    book when ``ctx`` is a shard of one)."""
    book = ctx.hub_degree("dev")
    if book is not None:
        return book.join(
            pl.DataFrame({"device_id": devices.unique()}), on="device_id", how="semi"
        ).select("device_id", pl.col("deg").alias("k"))
    return (
        ctx.devices.filter(pl.col("device_id").is_in(devices.unique().implode()))
        .group_by("device_id")
        .agg(pl.col("account_id").n_unique().alias("k"))
    )


def hub_pairs(ctx: ScanContext, hub: str, max_accounts: int) -> pl.DataFrame:
    """Account pairs ``a < b`` sharing a hub (``"dev"`` or ``"ip"``) used by 2..max accounts.

    Columns ``a``, ``b``, ``kind`` (``device`` / ``ip``), ``via`` (the device id or address,
    the smallest one when a pair shares several) and ``n`` (how many such hubs they share).
    """

    def make() -> pl.DataFrame:
        ha = hub_accounts(ctx, hub).filter(pl.col("deg").is_between(2, max_accounts))
        name_col = "device_id" if hub == "dev" else "ip"
        names = (ctx.graph.devices if hub == "dev" else ctx.graph.ips).select(
            pl.col(name_col).alias("_name"), pl.col("idx").alias(hub)
        )
        left = ha.select(pl.col("acc").alias("a"), hub)
        right = ha.select(pl.col("acc").alias("b"), hub)
        pairs = (
            left.join(right, on=hub)
            .filter(pl.col("a") < pl.col("b"))
            .join(names, on=hub, how="left")
            .group_by("a", "b")
            .agg(pl.col("_name").min().alias("via"), pl.len().cast(pl.UInt32).alias("n"))
            .with_columns(pl.lit("device" if hub == "dev" else "ip").alias("kind"))
        )
        return pairs.select(list(LINK_SCHEMA)).cast(LINK_SCHEMA).sort("a", "b")  # type: ignore[arg-type]

    return ctx.cached(f"_links.hub_pairs.{hub}.{max_accounts}", make)


def transfer_pairs(ctx: ScanContext) -> pl.DataFrame:
    """Account pairs ``a < b`` with internal transfers between them (either direction).

    ``via`` is ``"transfer"``; ``n`` counts the transfers; ``amount`` is their total.
    """

    def make() -> pl.DataFrame:
        t = ctx.graph.transfers.filter(pl.col("internal"))
        pairs = (
            t.select(
                pl.min_horizontal("src", "dst").alias("a"),
                pl.max_horizontal("src", "dst").alias("b"),
                "amount",
            )
            .group_by("a", "b")
            .agg(pl.len().cast(pl.UInt32).alias("n"), pl.col("amount").sum())
            .with_columns(pl.lit("transfer").alias("kind"), pl.lit("transfer").alias("via"))
        )
        cols = [*LINK_SCHEMA, "amount"]
        return pairs.select(cols).cast(LINK_SCHEMA).sort("a", "b")  # type: ignore[arg-type]

    return ctx.cached("_links.transfer_pairs", make)


def partner_counts(ctx: ScanContext) -> pl.DataFrame:
    """``acc, len``: distinct accounts each account exchanged money with (either way), in the
    whole book when ``ctx`` is a shard of one (an account of another shard sees only part of
    its partners here)."""

    def make() -> pl.DataFrame:
        book = ctx.partners()
        if book is not None:
            nodes = ctx.graph.nodes.head(ctx.graph.n_accounts)
            return nodes.join(book, left_on="id", right_on="account_id").select(
                pl.col("idx").alias("acc"), pl.col("len").cast(pl.UInt32)
            )
        tr = transfer_pairs(ctx).filter(pl.col("a") != pl.col("b"))  # not oneself
        return (
            pl.concat([tr.select(pl.col("a").alias("acc")), tr.select(pl.col("b").alias("acc"))])
            .group_by("acc")
            .len()
        )

    return ctx.cached("_links.partner_counts", make)


def links(
    ctx: ScanContext,
    max_device_accounts: int,
    max_ip_accounts: int,
    transfers: bool = True,
) -> pl.DataFrame:
    """The union of device, IP and (optionally) transfer pairs: ``a, b, kind, via, n``."""

    def make() -> pl.DataFrame:
        parts = [hub_pairs(ctx, "dev", max_device_accounts), hub_pairs(ctx, "ip", max_ip_accounts)]
        if transfers:
            parts.append(transfer_pairs(ctx).select(list(LINK_SCHEMA)))
        return pl.concat(parts).sort("a", "b", "kind")

    return ctx.cached(f"_links.links.{max_device_accounts}.{max_ip_accounts}.{transfers}", make)


def both_ways(edges: pl.DataFrame) -> pl.DataFrame:
    """Undirected ``a, b`` edges as directed rows ``src, dst`` in both directions."""
    rest = [c for c in edges.columns if c not in ("a", "b")]
    fwd = edges.select(pl.col("a").alias("src"), pl.col("b").alias("dst"), *rest)
    bwd = edges.select(pl.col("b").alias("src"), pl.col("a").alias("dst"), *rest)
    return pl.concat([fwd, bwd])


def defaulters(ctx: ScanContext, default_days: int) -> pl.DataFrame:
    """Accounts (``acc``) with a loan ``default_days``+ past due: worst days, loans, dates.

    ``ctx.loans`` already raises ``overdue_days`` of outstanding loans to their days past
    due at ``as_of``, so one comparison covers both "was 90+ days late" and "is 90+ days
    past due now".
    """

    def make() -> pl.DataFrame:
        bad = ctx.graph.loans.filter(pl.col("overdue_days") >= default_days)
        return (
            bad.group_by("acc")
            .agg(
                pl.col("overdue_days").max().alias("max_overdue_days"),
                pl.col("loan_id").sort().alias("default_loans"),
                pl.col("issued_at").min().alias("first_issued"),
            )
            .sort("acc")
        )

    return ctx.cached(f"_links.defaulters.{default_days}", make)


def ids(ctx: ScanContext, col: str) -> pl.Expr:
    """Expression mapping an index column to account ids (via a gather on the node ids)."""
    nodes = ctx.graph.nodes["id"]
    return pl.col(col).map_batches(lambda s: nodes.gather(s), return_dtype=pl.String)
