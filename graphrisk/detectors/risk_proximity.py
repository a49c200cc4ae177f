"""RISK_PROXIMITY: closely linked to accounts in default.

A defaulter is an account with a loan ``default_days`` or more past due (repaid that late,
or still outstanding that long after its due date at ``as_of``). Accounts are linked by a
shared device (used by at most ``max_device_accounts`` accounts), a shared address (at
most ``max_ip_accounts``) or transfers between them. Transfer links of an account with
more than ``max_partners`` transfer counterparties are left out (a shop or an employer is
not close to each of its customers or staff), and no path runs through such a hub.

Tie strength, not counts. Each link is weighed by what it is made of
(:mod:`graphrisk.detectors._ties`): a shared device (``weight_device``), a shared address
weighed by its rarity (``weight_ip``), money one way or both ways (``weight_one_way``,
``weight_both_ways``), often (``weight_often`` from ``often_transfers`` transfers) and much
(``weight_large`` from ``large_amount`` in all); each part counts ``old_factor`` of itself
when its latest event is more than ``recent_days`` old. The parts add up to the tie's
*closeness* (capped at 1). A defaulter one link away weighs
``base_weight + (1 - base_weight) * closeness``: any link counts half (the default), a
close tie counts fully. One two links away weighs ``decay`` times the product of the two
links' weights. Each defaulter counts once, by its heaviest path, and an account is flagged
when the weights of its defaulters add up to ``min_score``. So:

* one defaulter behind a close tie (its device and home address, money both ways, often) is
  enough: 1.0;
* two defaulters behind any links are enough (0.5 + 0.5), as before;
* one defaulter behind a weak tie is not: an old shared address weighs 0.55;
* a relative who uses the defaulter's phone at its home but exchanges no money is a
  look-alike and stays clean: device and address give closeness 0.6, weight 0.8;
* an account sharing a device with others, none in default, is never flagged;
* a defaulter two links away weighs 0.25 behind two close ties, 0.0625 behind two weak
  ones: a friend of a close associate of four defaulters is flagged, a friend of someone
  linked to two is not.

The old rule (every link weighs 1, two links away a half, two defaulters needed) is
``base_weight = 1, decay = 0.5, min_score = 2``.

The evidence lists each defaulter (heaviest first) with its path, the link kinds, the parts
of the tie and their weights, and ``weight_sum`` (>= ``min_score``). ``score`` (0..1, the
scale shared by the transfer and linkage codes) is the mean of two signs: the weights
(``weight_sum / (2 * min_score)``, capped at 1) and the strongest tie; so one close tie
(0.75) ranks above two weak ones (0.55), and four close ones reach 1. Linkage only:
severity 1.

Work is proportional to the defaulters' neighbourhoods: two joins of the tie list. In a
shard of a book (:mod:`graphrisk.shards`) the middle account of a path two links long may
have its defaulter in another shard: its ties to defaulters come from the book
(:meth:`RiskProximity.near`, weighed by the same :func:`~graphrisk.detectors._ties.tie_table`
rule on either engine), so only an account and the defaulters it is tied to directly must
share a shard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors import _links, _ties
from graphrisk.detectors.base import (
    Detector,
    Findings,
    empty_flags,
    evidence,
    param,
    severity_param,
    window_json,
)


@dataclass
class RiskProximity(Detector):
    """Ties to defaulted accounts whose weights add up to ``min_score``.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> bad = [(d, "L1", 1000, "2025-09-01", "2025-10-01") for d in ("d1", "d2")]
    >>> ctx = world(as_of="2026-03-01", loans=bad,
    ...             transfers=[("d1", "x", 500, "2026-01-05"), ("x", "d2", 300, "2026-01-09"),
    ...                        ("y", "x", 100, "2026-01-10")])
    >>> flags = RiskProximity().detect(ctx).flags
    >>> flags.select("account_id", "code", "severity", "score").rows()
    [('x', 'RISK_PROXIMITY', 1, 0.7)]
    """

    name: ClassVar[str] = "risk_proximity"
    codes: ClassVar[tuple[str, ...]] = ("RISK_PROXIMITY",)
    tables: ClassVar[tuple[str, ...]] = ("loans",)

    default_days: int = param(90, "days past due that make a loan a default", min=1)
    min_score: float = param(
        1.0, "sum of the defaulters' tie weights that raises the flag", min=0.01
    )
    base_weight: float = param(
        0.5, "weight of a defaulter one link away however weak the link", min=0.0, max=1.0
    )
    max_hops: int = param(2, "links from the account to a defaulter (1 or 2)", min=1, max=2)
    decay: float = param(
        0.25, "a defaulter two links away weighs this times both links' weights", min=0.0
    )
    weight_device: float = param(0.4, "closeness from a shared device", min=0.0)
    weight_ip: float = param(
        0.2, "closeness from a shared address used by two (less for more accounts)", min=0.0
    )
    weight_one_way: float = param(0.4, "closeness from money sent one way", min=0.0)
    weight_both_ways: float = param(0.6, "closeness from money sent both ways", min=0.0)
    weight_often: float = param(0.2, "closeness added by often_transfers or more", min=0.0)
    often_transfers: int = param(4, "transfers between the two that make money often", min=1)
    weight_large: float = param(0.2, "closeness added by large_amount or more", min=0.0)
    large_amount: float = param(10_000.0, "money between the two that makes it much", min=0.0)
    recent_days: float = param(90.0, "a part older than this counts old_factor", min=0.0)
    old_factor: float = param(
        0.5, "share of its weight a part keeps when older than recent_days", min=0.0, max=1.0
    )
    max_device_accounts: int = param(10, "a device used by more accounts links nobody", min=2)
    max_ip_accounts: int = param(10, "an address used by more accounts links nobody", min=2)
    max_partners: int = param(
        20, "transfer counterparties above which an account's transfers link nobody", min=1
    )
    max_listed: int = param(20, "defaulters listed by id in the evidence", min=1)
    severity: int = severity_param(1)

    def weights(self) -> _ties.TieWeights:
        """The tie weights these parameters give."""
        return _ties.TieWeights(
            device=self.weight_device,
            ip=self.weight_ip,
            one_way=self.weight_one_way,
            both_ways=self.weight_both_ways,
            often=self.weight_often,
            large=self.weight_large,
            often_transfers=self.often_transfers,
            large_amount=self.large_amount,
            recent_days=self.recent_days,
            old_factor=self.old_factor,
        )

    def near(self, inp: Any, at_snapshot: bool) -> Any:
        """The book fact a shard needs for paths two links long: every account's ties to
        defaulters (:func:`graphrisk.linkplan.near_defaulters`), on either engine."""
        from graphrisk import linkplan

        return linkplan.near_defaulters(inp, self, at_snapshot)

    def _direct(self, ctx: ScanContext, bad: pl.DataFrame) -> pl.DataFrame:
        """Ties to a defaulter: ``acc, d`` (the defaulter's id), ``kinds, w, parts,
        n_transfers, amount``, ``through`` (a path may run through ``acc``: it is no transfer
        hub) and the defaulter's ``max_overdue_days, first_issued``.

        A whole book finds them in its own ties; a shard of one is handed them
        (``ctx.book.near``: the ties of the accounts it holds, whose defaulters may lie in
        other shards), so RISK_PROXIMITY needs no link edges at all."""
        key = repr(("risk_proximity.direct", *sorted(self.get_params().items())))
        book = ctx.book
        if book is not None and book.near is not None:
            if book.near_params != self.near_params():
                raise ValueError(
                    "this shard's book facts were planned for other RISK_PROXIMITY parameters"
                )
            return ctx.cached(key, lambda: self._handed(ctx, book.near, bad))

        def make() -> pl.DataFrame:
            tie = _ties.ties(
                ctx, self.max_device_accounts, self.max_ip_accounts, self.max_partners,
                self.weights(),
            )  # fmt: skip
            directed = _links.both_ways(
                self._weighed(tie.filter(pl.col("a") != pl.col("b"))).select(
                    "a",
                    "b",
                    "kinds",
                    "w",
                    pl.struct(_ties._PARTS).alias("parts"),
                    "n_transfers",
                    "amount",
                )
            )
            info = bad.select(pl.col("acc").alias("dst"), "max_overdue_days", "first_issued")
            busy = _links.partner_counts(ctx).filter(pl.col("len") > self.max_partners)["acc"]
            return (
                directed.join(info, on="dst")
                .with_columns(
                    _links.ids(ctx, "dst").alias("d"),
                    (~pl.col("src").is_in(busy.implode())).alias("through"),
                )
                .select(pl.col("src").alias("acc"), "d", *self._TIE, "through", *self._BAD)
            )

        return ctx.cached(key, make)

    _TIE = ("kinds", "w", "parts", "n_transfers", "amount")
    _BAD = ("max_overdue_days", "first_issued")

    def _handed(self, ctx: ScanContext, near: pl.DataFrame, bad: pl.DataFrame) -> pl.DataFrame:
        """:meth:`_direct` from the book's ties to defaulters (a shard's fact), in the
        columns and types a whole book gives."""
        nodes = ctx.graph.nodes.select(pl.col("id").alias("m"), pl.col("idx").alias("acc"))
        loans = ctx.graph.loans
        return (
            near.join(nodes, on="m")
            .select(
                "acc",
                "d",
                _ties.kinds(),
                "w",
                pl.struct(_ties._PARTS).alias("parts"),
                pl.col("n_transfers").cast(pl.UInt32),
                "amount",
                "through",
                pl.col("max_overdue_days").cast(loans.schema["overdue_days"]),
                pl.from_epoch("first_issued_us", time_unit="us")
                .cast(loans.schema["issued_at"])
                .alias("first_issued"),
            )
            .sort("acc", "d")
        )

    def _weighed(self, tie: pl.DataFrame) -> pl.DataFrame:
        """``tie`` with ``w``, a defaulter's weight behind it (:func:`_ties.tie_weight`, the
        rule the book fact :meth:`near` weighs with)."""
        import narwhals as nw

        w = _ties.tie_weight(self.base_weight).alias("w")
        return nw.to_native(nw.from_native(tie).with_columns(w))

    def _hops(self, ctx: ScanContext, bad: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Paths to a defaulter (``acc, d, hops, kinds, w``), one link away (with the tie's
        parts) and two away (``m``: the account between, ``w1``, ``w2``: the two links'
        weights); computed once per scan and parameters (the feature table and a sharded
        scan's plan ask for them too)."""
        key = repr(("risk_proximity.hops", *sorted(self.get_params().items())))
        return ctx.cached(key, lambda: self._find_hops(ctx, bad))

    def _find_hops(self, ctx: ScanContext, bad: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        direct = self._direct(ctx, bad)
        hop1 = direct.select(
            "acc",
            "d",
            pl.lit(1, pl.Int32).alias("hops"),
            "kinds",
            "w",
            "parts",
            "n_transfers",
            "amount",
            "max_overdue_days",
            "first_issued",
        )
        hop2 = pl.DataFrame(
            schema={
                "acc": hop1.schema["acc"],
                "d": pl.String,
                "hops": pl.Int32,
                "kinds": hop1.schema["kinds"],
                "w": pl.Float64,
                "m": hop1.schema["acc"],
                "w1": pl.Float64,
                "w2": pl.Float64,
                "max_overdue_days": hop1.schema["max_overdue_days"],
                "first_issued": hop1.schema["first_issued"],
            }
        )
        if self.max_hops >= 2:
            tie = _ties.ties(
                ctx, self.max_device_accounts, self.max_ip_accounts, self.max_partners,
                self.weights(),
            )  # fmt: skip
            directed = _links.both_ways(self._weighed(tie).select("a", "b", "kinds", "w"))
            via = self._via(ctx, direct)
            hop2 = (
                directed.select(
                    pl.col("src").alias("acc"),
                    pl.col("dst").alias("m"),
                    "kinds",
                    pl.col("w").alias("w1"),
                )
                .join(via, on="m")
                .filter(_links.ids(ctx, "acc") != pl.col("d"))
                .select(
                    "acc",
                    "d",
                    pl.lit(2, pl.Int32).alias("hops"),
                    "kinds",
                    (self.decay * pl.col("w1") * pl.col("w2")).round(6).alias("w"),
                    "m",
                    "w1",
                    "w2",
                    "max_overdue_days",
                    "first_issued",
                )
            )
        return hop1, hop2

    def _via(self, ctx: ScanContext, direct: pl.DataFrame) -> pl.DataFrame:
        """``m, d, w2, max_overdue_days, first_issued``: the middle accounts of paths two
        links long (no transfer hubs), each with its ties to defaulters."""
        return direct.filter(pl.col("through")).select(
            pl.col("acc").alias("m"), "d", pl.col("w").alias("w2"), *self._BAD
        )

    def reaches(self, ctx: ScanContext, bad: pl.DataFrame) -> bool:
        """Whether any account of ``ctx`` can be near a defaulter: one is in ``ctx``, or (a
        shard) the book's ties to defaulters reach one of its accounts."""
        near = None if ctx.book is None else ctx.book.near
        return not bad.is_empty() or (near is not None and near.height > 0)

    def near_params(self) -> tuple[Any, ...]:
        """The parameters :meth:`near` depends on (a shard checks its fact was made with
        them)."""
        names = ("default_days", "base_weight", "max_device_accounts", "max_ip_accounts",
                 "max_partners")  # fmt: skip
        return (*(getattr(self, n) for n in names), self.weights())

    def run(self, ctx: ScanContext) -> Findings:
        bad = _links.defaulters(ctx, self.default_days)
        if not self.reaches(ctx, bad):
            return Findings(empty_flags())
        hop1, hop2 = self._hops(ctx, bad)
        one = hop1.select(
            "acc",
            "d",
            "hops",
            "kinds",
            "w",
            pl.lit(None, hop1.schema["acc"]).alias("m"),
            pl.concat_list("w").alias("ties"),
            "parts",
            "max_overdue_days",
            "first_issued",
        )
        two = hop2.select(
            "acc",
            "d",
            "hops",
            "kinds",
            "w",
            "m",
            pl.concat_list("w1", "w2").alias("ties"),
            pl.lit(None, hop1.schema["parts"]).alias("parts"),
            "max_overdue_days",
            "first_issued",
        )
        # each defaulter once, by its heaviest path (the shorter, then the middle account)
        reach = (
            pl.concat([one, two])
            .filter(~pl.col("acc").is_in(bad["acc"].implode()))
            .sort(["acc", "d", "w", "hops", "m"], descending=[False, False, True, False, False])
            .group_by("acc", "d", maintain_order=True)
            .first()
            .with_columns(
                pl.col("d").alias("defaulter"),
                pl.when(pl.col("m").is_not_null())
                .then(_links.ids(ctx, "m").alias("via"))
                .alias("via"),
            )
            .sort(["acc", "w", "defaulter"], descending=[False, True, False])
        )
        per = (
            reach.group_by("acc", maintain_order=True)
            .agg(
                pl.col("w").sum().round(6).alias("weight_sum"),
                (pl.col("hops") == 1).sum().alias("n_direct"),
                (pl.col("hops") == 2).sum().alias("n_two_hops"),
                pl.col("kinds")
                .list.explode(keep_nulls=False, empty_as_null=False)
                .unique()
                .sort()
                .alias("links"),
                pl.struct(
                    "defaulter",
                    "hops",
                    "via",
                    pl.col("kinds").alias("link"),
                    pl.col("w").alias("weight"),
                    "ties",
                    "parts",
                    "max_overdue_days",
                ).alias("defaulters"),
                pl.col("w").max().alias("strongest"),
                pl.col("first_issued").min().alias("window_start"),
            )
            .filter(pl.col("weight_sum") >= self.min_score - 1e-9)
            .with_columns(
                (
                    (
                        (pl.col("weight_sum") / (2 * self.min_score)).clip(upper_bound=1.0)
                        + pl.col("strongest")
                    )
                    / 2
                )
                .round(6)
                .alias("score")
            )
        )
        flags = per.select(
            _links.ids(ctx, "acc").alias("account_id"),
            pl.lit("RISK_PROXIMITY").alias("code"),
            pl.lit(self.severity).alias("severity"),
            pl.col("score").cast(pl.Float64),
            evidence(
                n_defaulters=pl.col("n_direct") + pl.col("n_two_hops"),
                n_direct=pl.col("n_direct"),
                n_two_hops=pl.col("n_two_hops"),
                links=pl.col("links"),
                strongest_tie=pl.col("strongest").round(3),
                defaulters=pl.col("defaulters").list.head(self.max_listed),
                weight_sum=pl.col("weight_sum").round(3),
                window=window_json(pl.col("window_start"), pl.lit(ctx.as_of)),
                threshold=self.threshold(
                    "min_score", "base_weight", "max_hops", "decay", "default_days"
                ),
            ).alias("evidence"),
            pl.max_horizontal("window_start", pl.lit(ctx.start)).alias("window_start"),
            pl.lit(ctx.as_of).alias("window_end"),
        )
        return Findings(flags)
