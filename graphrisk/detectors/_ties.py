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

The rule is written once, in narwhals (:func:`tie_table`): :func:`ties` runs it on a scan's
graph with polars, and the link plan (:func:`graphrisk.linkplan.near_defaulters`) on the
whole book, with polars or Spark, for the ties to defaulters a shard is handed.
"""

from __future__ import annotations

from dataclasses import dataclass

import narwhals as nw
import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors import _links
from graphrisk.graph import IDX
from graphrisk.linkplan import epoch_us


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


def round_half_up(expr: nw.Expr, decimals: int) -> nw.Expr:
    """``expr`` (not negative) rounded to ``decimals``, the same bits on every engine.

    ``Expr.round`` is not: polars rounds half to even on the binary value, Spark half up on
    the shortest decimal one, and a tie weight ``0.5 + 0.5 * closeness`` lands on a half in
    its seventh decimal whenever closeness ends in an odd digit. A multiplication, an
    addition and ``floor`` are IEEE operations both engines do alike; the division that
    follows may come out one binary digit off the decimal (eager polars multiplies by the
    inverse), which the engine's own ``round`` then snaps back, far from any half."""
    scale = float(10**decimals)
    return ((expr * scale + 0.5).floor() / scale).round(decimals)


def tie_table(
    hub_rows: dict[str, nw.LazyFrame],
    transfers: nw.LazyFrame,
    hubs: nw.LazyFrame,
    as_of_us: int,
    caps: dict[str, int],
    weights: TieWeights,
    ends: nw.LazyFrame | None = None,
) -> nw.LazyFrame:
    """The ties of linked pairs, on any engine narwhals drives (polars here, Spark in the
    Spark scan's plan): one expression of the rule for both.

    Parameters
    ----------
    hub_rows
        ``"dev"`` and ``"ip"``: ``acc, hub, deg, last`` (an account on a device or address,
        the accounts on it, the account's last login on it in microseconds).
    transfers
        Internal transfers ``src, dst, amount, us``.
    hubs
        ``acc`` of the accounts with more than ``max_partners`` partners (their money links
        nobody).
    caps
        ``"dev"`` / ``"ip"``: a hub used by more accounts links nobody.
    ends
        ``acc``: only pairs with an end among these (``None``: every pair).

    Returns ``a, b`` (``a < b``), the parts ``device, ip, money, often, large`` (rounded),
    ``closeness`` (rounded), ``n_transfers, both_ways, amount`` (rounded to cents).
    """
    w = weights

    def fresh(last: str) -> nw.Expr:
        # whole seconds, as polars' Duration.total_seconds counts them
        age = ((nw.lit(as_of_us) - nw.col(last)) // 1_000_000) / 86_400.0
        return nw.when(age <= w.recent_days).then(nw.lit(1.0)).otherwise(nw.lit(w.old_factor))

    def near(df: nw.LazyFrame) -> nw.LazyFrame:
        # one pass over df: a union of two semi-joins evaluates it twice, and a pair with
        # both ends among ``ends`` came out twice when its float sums differed in the last
        # bit between the two evaluations (a parallel group-by's order), unique or not
        if ends is None:
            return df
        e = ends.select("acc").unique().with_columns(nw.lit(True).alias("_end"))
        return (
            df.join(
                e.select(nw.col("acc").alias("a"), nw.col("_end").alias("_ea")), on="a", how="left"
            )
            .join(
                e.select(nw.col("acc").alias("b"), nw.col("_end").alias("_eb")), on="b", how="left"
            )
            .filter(nw.col("_ea").fill_null(False) | nw.col("_eb").fill_null(False))
            .drop("_ea", "_eb")
        )

    parts: dict[str, nw.LazyFrame] = {}
    for hub in ("dev", "ip"):
        ha = hub_rows[hub].filter((nw.col("deg") >= 2) & (nw.col("deg") <= caps[hub]))
        left = ha.select(nw.col("acc").alias("a"), "hub", "deg", nw.col("last").alias("la"))
        right = ha.select(nw.col("acc").alias("b"), "hub", nw.col("last").alias("lb"))
        if ends is not None:  # the end among ``ends`` on either side, before the pair join
            e = ends.select("acc")
            mine = ha.join(e, on="acc", how="semi").select("hub").unique()
            left = left.join(mine, on="hub", how="semi")
            right = right.join(mine, on="hub", how="semi")
        pairs = near(
            left.join(right, on="hub")
            .filter(nw.col("a") < nw.col("b"))
            .group_by("a", "b")
            .agg(
                nw.col("deg").min(),
                nw.min_horizontal("la", "lb").max().alias("last"),
            )
        )
        if hub == "dev":
            parts[hub] = pairs.select("a", "b", (w.device * fresh("last")).alias("device"))
        else:
            rarity = (2.0 / nw.col("deg").cast(nw.Float64)).clip(upper_bound=1.0)
            parts[hub] = pairs.select("a", "b", (w.ip * rarity * fresh("last")).alias("ip"))
    fwd = nw.col("src") < nw.col("dst")
    money = near(
        transfers.select(
            nw.min_horizontal("src", "dst").alias("a"),
            nw.max_horizontal("src", "dst").alias("b"),
            fwd.cast(nw.Int64).alias("f"),
            (~fwd).cast(nw.Int64).alias("r"),
            "amount",
            "us",
        )
        .join(hubs.select(nw.col("acc").alias("a")), on="a", how="anti")
        .join(hubs.select(nw.col("acc").alias("b")), on="b", how="anti")
        .group_by("a", "b")
        .agg(
            nw.col("f").sum().alias("n_ab"),
            nw.col("r").sum().alias("n_ba"),
            nw.col("amount").sum(),
            nw.col("us").max().alias("last"),
        )
    )
    n = nw.col("n_ab") + nw.col("n_ba")
    both = (nw.col("n_ab") > 0) & (nw.col("n_ba") > 0)
    new = fresh("last")
    money = money.select(
        "a",
        "b",
        (nw.when(both).then(nw.lit(w.both_ways)).otherwise(nw.lit(w.one_way)) * new).alias("money"),
        (nw.when(n >= w.often_transfers).then(nw.lit(w.often)).otherwise(nw.lit(0.0)) * new).alias(
            "often"
        ),
        (
            nw.when(nw.col("amount") >= w.large_amount).then(nw.lit(w.large)).otherwise(nw.lit(0.0))
            * new
        ).alias("large"),
        n.alias("n_transfers"),
        both.alias("both_ways"),
        round_half_up(nw.col("amount"), 2).alias("amount"),
    )
    keys = nw.concat(
        [parts["dev"].select("a", "b"), parts["ip"].select("a", "b"), money.select("a", "b")],
        how="vertical",
    ).unique()
    return (
        keys.join(parts["dev"], on=["a", "b"], how="left")
        .join(parts["ip"], on=["a", "b"], how="left")
        .join(money, on=["a", "b"], how="left")
        .with_columns(nw.col(p).fill_null(0.0) for p in _PARTS)
        .with_columns(
            nw.col("n_transfers").fill_null(0),
            nw.col("both_ways").fill_null(False),
            nw.col("amount").fill_null(0.0),
            round_half_up(nw.sum_horizontal(*_PARTS).clip(upper_bound=1.0), 6).alias("closeness"),
            # rounded once here, the same bits on every engine (closeness: of the exact sum)
            *(round_half_up(nw.col(p), 6).alias(p) for p in _PARTS),
        )
    )


def kinds() -> pl.Expr:
    """``kinds``: the links a tie is made of (``device``, ``ip``, ``transfer``), from its
    parts."""
    return (
        pl.concat_list(
            pl.when(pl.col("device") > 0).then(pl.lit("device")),
            pl.when(pl.col("ip") > 0).then(pl.lit("ip")),
            pl.when(pl.col("money") > 0).then(pl.lit("transfer")),
        )
        .list.drop_nulls()
        .alias("kinds")
    )


def tie_weight(base_weight: float) -> nw.Expr:
    """A defaulter's weight behind a tie (RISK_PROXIMITY): ``base + (1 - base) * closeness``."""
    return round_half_up(base_weight + (1 - base_weight) * nw.col("closeness"), 6)


def _inputs(
    ctx: ScanContext, max_partners: int
) -> tuple[dict[str, nw.LazyFrame], nw.LazyFrame, nw.LazyFrame]:
    """:func:`tie_table`'s inputs from a scan's graph (dense ids; a shard's hub degrees and
    partner counts are the book's)."""
    hub_rows = {}
    for hub in ("dev", "ip"):
        last = (
            ctx.graph.logins.lazy()
            .select("acc", hub, "ts")
            .drop_nulls()
            .group_by("acc", hub)
            .agg(pl.col("ts").max().dt.epoch("us").alias("last"))
        )
        rows = (
            _links.hub_accounts(ctx, hub)
            .lazy()
            .join(last, on=["acc", hub], how="left")
            .select("acc", pl.col(hub).alias("hub"), "deg", "last")
        )
        hub_rows[hub] = nw.from_native(rows)
    tr = (
        ctx.graph.transfers.lazy()
        .filter(pl.col("internal"))
        .select("src", "dst", "amount", pl.col("ts").dt.epoch("us").alias("us"))
    )
    hubs = _links.partner_counts(ctx).lazy().filter(pl.col("len") > max_partners).select("acc")
    return hub_rows, nw.from_native(tr), nw.from_native(hubs)


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
        hub_rows, transfers, hubs = _inputs(ctx, max_partners)
        caps = {"dev": max_device_accounts, "ip": max_ip_accounts}
        table = tie_table(hub_rows, transfers, hubs, epoch_us(ctx.as_of), caps, weights)
        out = nw.to_native(table).collect()
        return out.select(
            pl.col("a").cast(IDX),
            pl.col("b").cast(IDX),
            kinds(),
            *_PARTS,
            "closeness",
            pl.col("n_transfers").cast(pl.UInt32),
            "both_ways",
            "amount",
        ).sort("a", "b")

    return ctx.cached(key, make)
