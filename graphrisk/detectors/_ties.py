"""How close two linked accounts are: a tie scored by what it is made of (private helper).

:func:`ties` gives one row per linked account pair (``a < b``, dense ids) with the parts of
their tie and its *closeness* in ``0..1``:

* ``device``: they logged in on the same device (used by at most ``max_device_accounts``);
* ``ip``: the same address (used by at most ``max_ip_accounts``), weighed by its rarity
  (``2 / accounts on it``: a home of two weighs fully, an office of ten a fifth);
* ``money``: internal transfers between them, one way or both ways, plus ``often`` (at least
  ``often_transfers`` of them) and ``large`` (at least ``large_amount`` in all).

Each part weighs its weight from :class:`TieWeights`, times ``old_factor`` when the part's
latest event is more than ``recent_days`` before ``as_of``. For a shared device or address
that event is the earlier of the two accounts' last logins on it (a tie lives while both
still use it); for money, the latest transfer. Closeness is the sum of the parts, capped
at 1.

Transfer parts of a pair with a hub (an account with more than ``max_partners`` partners:
a shop, an employer) are left out, as RISK_PROXIMITY always did.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors import _links
from graphrisk.graph import IDX


@dataclass(frozen=True)
class TieWeights:
    """The weights of a tie's parts (see the module docstring)."""

    device: float = 0.4
    ip: float = 0.2
    one_way: float = 0.4
    both_ways: float = 0.6
    often: float = 0.2
    large: float = 0.2
    often_transfers: int = 4
    large_amount: float = 10_000.0
    recent_days: float = 90.0
    old_factor: float = 0.5


_PARTS = ("device", "ip", "money", "often", "large")


def _hub_ties(ctx: ScanContext, hub: str, max_accounts: int) -> pl.DataFrame:
    """``a, b, deg, last`` for pairs on a shared hub: the rarest hub's degree and, over the
    hubs they share, the latest time both had used it (the earlier of their last logins)."""
    ha = _links.hub_accounts(ctx, hub).filter(pl.col("deg").is_between(2, max_accounts))
    last = (
        ctx.graph.logins.select("acc", hub, "ts")
        .drop_nulls()
        .group_by("acc", hub)
        .agg(pl.col("ts").max().alias("last"))
    )
    ha = ha.join(last, on=["acc", hub], how="left")
    left = ha.select(pl.col("acc").alias("a"), hub, "deg", pl.col("last").alias("la"))
    right = ha.select(pl.col("acc").alias("b"), hub, pl.col("last").alias("lb"))
    return (
        left.join(right, on=hub)
        .filter(pl.col("a") < pl.col("b"))
        .group_by("a", "b")
        .agg(pl.col("deg").min(), pl.min_horizontal("la", "lb").max().alias("last"))
    )


def _money_ties(ctx: ScanContext) -> pl.DataFrame:
    """``a, b, n_ab, n_ba, amount, last`` for pairs with internal transfers."""
    t = ctx.graph.transfers.filter(pl.col("internal"))
    fwd = pl.col("src") < pl.col("dst")
    return (
        t.select(
            pl.min_horizontal("src", "dst").alias("a"),
            pl.max_horizontal("src", "dst").alias("b"),
            fwd.alias("fwd"),
            "amount",
            "ts",
        )
        .group_by("a", "b")
        .agg(
            pl.col("fwd").sum().cast(pl.UInt32).alias("n_ab"),
            (~pl.col("fwd")).sum().cast(pl.UInt32).alias("n_ba"),
            pl.col("amount").sum(),
            pl.col("ts").max().alias("last"),
        )
    )


def ties(
    ctx: ScanContext,
    max_device_accounts: int,
    max_ip_accounts: int,
    max_partners: int,
    weights: TieWeights,
) -> pl.DataFrame:
    """One row per linked pair ``a < b``: ``kinds`` (sorted list of ``device`` / ``ip`` /
    ``transfer``), the weighed parts (``device, ip, money, often, large``), ``closeness``
    (their sum, capped at 1), ``n_transfers``, ``both_ways``, ``amount``.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> ctx = world(as_of="2026-03-01",
    ...             devices=[("a", "P1", "2026-02-01", "1.1.1.1"), ("b", "P1", "2026-02-02", "1.1.1.1")],
    ...             transfers=[("a", "b", 500, "2026-02-03"), ("b", "a", 400, "2026-02-04")])
    >>> t = ties(ctx, 10, 10, 20, TieWeights())
    >>> t.select("kinds", "device", "ip", "money", "closeness").rows()
    [(['device', 'ip', 'transfer'], 0.4, 0.2, 0.6, 1.0)]
    """
    key = repr(("_ties.ties", max_device_accounts, max_ip_accounts, max_partners, weights))

    def make() -> pl.DataFrame:
        w = weights
        as_of = pl.lit(ctx.as_of)

        def fresh(last: str) -> pl.Expr:
            age = (as_of - pl.col(last)).dt.total_seconds() / 86_400.0
            return pl.when(age <= w.recent_days).then(1.0).otherwise(w.old_factor)

        dev = _hub_ties(ctx, "dev", max_device_accounts).select(
            "a", "b", (w.device * fresh("last")).alias("device")
        )
        ip = _hub_ties(ctx, "ip", max_ip_accounts).select(
            "a",
            "b",
            (
                w.ip * (2.0 / pl.col("deg").cast(pl.Float64)).clip(upper_bound=1.0) * fresh("last")
            ).alias("ip"),
        )
        hubs = _links.partner_counts(ctx).filter(pl.col("len") > max_partners)["acc"].implode()
        money = _money_ties(ctx).filter(~(pl.col("a").is_in(hubs) | pl.col("b").is_in(hubs)))
        n = pl.col("n_ab") + pl.col("n_ba")
        both = (pl.col("n_ab") > 0) & (pl.col("n_ba") > 0)
        money = money.select(
            "a",
            "b",
            (pl.when(both).then(w.both_ways).otherwise(w.one_way) * fresh("last")).alias("money"),
            (pl.when(n >= w.often_transfers).then(w.often).otherwise(0.0) * fresh("last")).alias(
                "often"
            ),
            (
                pl.when(pl.col("amount") >= w.large_amount).then(w.large).otherwise(0.0)
                * fresh("last")
            ).alias("large"),
            n.cast(pl.UInt32).alias("n_transfers"),
            both.alias("both_ways"),
            pl.col("amount").round(2),
        )
        pairs = pl.concat(
            [dev.select("a", "b"), ip.select("a", "b"), money.select("a", "b")]
        ).unique()
        out = (
            pairs.join(dev, on=["a", "b"], how="left")
            .join(ip, on=["a", "b"], how="left")
            .join(money, on=["a", "b"], how="left")
            .with_columns(pl.col(p).fill_null(0.0) for p in _PARTS)
            .with_columns(
                pl.col("n_transfers").fill_null(0),
                pl.col("both_ways").fill_null(False),
                pl.col("amount").fill_null(0.0),
                pl.concat_list(
                    pl.when(pl.col("device") > 0).then(pl.lit("device")),
                    pl.when(pl.col("ip") > 0).then(pl.lit("ip")),
                    pl.when(pl.col("money") > 0).then(pl.lit("transfer")),
                )
                .list.drop_nulls()
                .alias("kinds"),
                pl.sum_horizontal(*_PARTS).clip(upper_bound=1.0).round(6).alias("closeness"),
            )
        )
        return out.select(
            pl.col("a").cast(IDX),
            pl.col("b").cast(IDX),
            "kinds",
            *(pl.col(p).round(6) for p in _PARTS),
            "closeness",
            "n_transfers",
            "both_ways",
            "amount",
        ).sort("a", "b")

    return ctx.cached(key, make)
