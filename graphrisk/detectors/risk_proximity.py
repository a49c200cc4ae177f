"""RISK_PROXIMITY: closely linked to accounts in default.

A defaulter is an account with a loan ``default_days`` or more past due (repaid that late,
or still outstanding that long after its due date at ``as_of``). Accounts are linked by a
shared device (used by at most ``max_device_accounts`` accounts), a shared address (at
most ``max_ip_accounts``) or transfers between them. Transfer links of an account with
more than ``max_partners`` transfer counterparties are left out (a shop or an employer is
not close to each of its customers or staff), and no path runs through such a hub.

The k-hop score with decay counts each defaulter within ``max_hops`` once, at its shortest
distance: a direct neighbour weighs 1, one two links away ``decay``. A non-defaulting account
is flagged when its score reaches ``min_defaulters``: two defaulted neighbours, or one
neighbour and two defaulters a step further, and so on. A friend of someone linked to two
defaulters scores ``2 * decay`` = 1 and stays clean. Linkage only: severity 1.

Work is proportional to the defaulters' neighbourhoods: two joins of the link list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors import _links
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
    """Linked within ``max_hops`` to ``min_defaulters`` (decay-weighted) defaulted accounts.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> bad = [(d, "L1", 1000, "2025-09-01", "2025-10-01") for d in ("d1", "d2")]
    >>> ctx = world(as_of="2026-03-01", loans=bad,
    ...             transfers=[("d1", "x", 500, "2026-01-05"), ("x", "d2", 300, "2026-01-09"),
    ...                        ("y", "x", 100, "2026-01-10")])
    >>> flags = RiskProximity().detect(ctx).flags
    >>> flags.select("account_id", "code", "severity", "score").rows()
    [('x', 'RISK_PROXIMITY', 1, 2.0)]
    """

    name: ClassVar[str] = "risk_proximity"
    codes: ClassVar[tuple[str, ...]] = ("RISK_PROXIMITY",)
    tables: ClassVar[tuple[str, ...]] = ("loans",)

    default_days: int = param(90, "days past due that make a loan a default", min=1)
    min_defaulters: float = param(
        2.0, "decay-weighted count of defaulters within reach that raises the flag", min=0.1
    )
    max_hops: int = param(2, "links from the account to a defaulter (1 or 2)", min=1, max=2)
    decay: float = param(
        0.5, "weight of a defaulter two links away (a neighbour weighs 1)", min=0.0
    )
    max_device_accounts: int = param(10, "a device used by more accounts links nobody", min=2)
    max_ip_accounts: int = param(10, "an address used by more accounts links nobody", min=2)
    max_partners: int = param(
        20, "transfer counterparties above which an account's transfers link nobody", min=1
    )
    max_listed: int = param(20, "defaulters listed by id in the evidence", min=1)
    severity: int = severity_param(1)

    def link_plan(self, inp: Any) -> Any:
        """Money near defaulters (:func:`graphrisk.linkplan.proximity_edges`)."""
        from graphrisk import linkplan

        return linkplan.proximity_edges(
            inp,
            self.default_days,
            self.max_hops,
            self.max_device_accounts,
            self.max_ip_accounts,
            self.max_partners,
        )

    def links(self, ctx: ScanContext) -> pl.DataFrame | None:
        """Account -- defaulter (one link away) and account -- neighbour of a defaulter."""
        bad = _links.defaulters(ctx, self.default_days)
        if bad.is_empty():
            return None
        hop1, hop2 = self._hops(ctx, bad)
        return pl.concat(
            [
                hop1.select(pl.col("acc").alias("u"), pl.col("d").alias("v")),
                hop2.select(pl.col("acc").alias("u"), pl.col("m").alias("v")),
            ]
        ).unique()

    def _hops(self, ctx: ScanContext, bad: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Links to a defaulter (``acc, d, hops, kinds``), one away and two away (``m``: the
        account between); computed once per scan and parameters (the feature table and a
        sharded scan's plan ask for them too)."""
        key = repr(("risk_proximity.hops", *sorted(self.get_params().items())))
        return ctx.cached(key, lambda: self._find_hops(ctx, bad))

    def _find_hops(self, ctx: ScanContext, bad: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        edges = _links.links(ctx, self.max_device_accounts, self.max_ip_accounts)
        partners = _links.partner_counts(ctx)
        hubs = partners.filter(pl.col("len") > self.max_partners)["acc"].implode()
        edges = edges.filter(
            (pl.col("kind") != "transfer") | ~(pl.col("a").is_in(hubs) | pl.col("b").is_in(hubs))
        )
        directed = (
            _links.both_ways(edges)
            .group_by("src", "dst")
            .agg(pl.col("kind").unique().sort().alias("kinds"))
        )
        is_bad = bad.select(pl.col("acc").alias("dst"))
        hop1 = directed.join(is_bad, on="dst").select(
            pl.col("src").alias("acc"),
            pl.col("dst").alias("d"),
            pl.lit(1, pl.Int32).alias("hops"),
            "kinds",
        )
        hop2 = pl.DataFrame(
            schema={
                "acc": hop1.schema["acc"],
                "d": hop1.schema["d"],
                "hops": pl.Int32,
                "kinds": hop1.schema["kinds"],
                "m": hop1.schema["acc"],
            }
        )
        if self.max_hops >= 2:
            via = hop1.filter(~pl.col("acc").is_in(hubs)).select(pl.col("acc").alias("m"), "d")
            hop2 = (
                directed.rename({"src": "acc", "dst": "m"})
                .join(via, on="m")
                .filter(pl.col("acc") != pl.col("d"))
                .select("acc", "d", pl.lit(2, pl.Int32).alias("hops"), "kinds", "m")
            )
        return hop1, hop2

    def run(self, ctx: ScanContext) -> Findings:
        bad = _links.defaulters(ctx, self.default_days)
        if bad.is_empty():
            return Findings(empty_flags())
        hop1, hop2 = self._hops(ctx, bad)
        parts = [hop1, hop2.drop("m")]
        reach = (
            pl.concat(parts)
            .filter(~pl.col("acc").is_in(bad["acc"].implode()))
            .explode("kinds")
            .group_by("acc", "d")
            .agg(
                pl.col("hops").min(),
                pl.col("kinds").filter(pl.col("hops") == pl.col("hops").min()).unique().sort(),
            )
            .with_columns(
                pl.when(pl.col("hops") == 1).then(1.0).otherwise(self.decay).alias("w"),
                _links.ids(ctx, "d").alias("defaulter"),
            )
            .join(bad.select(pl.col("acc").alias("d"), "first_issued", "max_overdue_days"), on="d")
            .sort("acc", "hops", "defaulter")
        )
        per = (
            reach.group_by("acc", maintain_order=True)
            .agg(
                pl.col("w").sum().alias("score"),
                (pl.col("hops") == 1).sum().alias("n_direct"),
                (pl.col("hops") == 2).sum().alias("n_two_hops"),
                pl.col("kinds")
                .list.explode(keep_nulls=False, empty_as_null=False)
                .unique()
                .sort()
                .alias("links"),
                pl.struct(
                    "defaulter", "hops", pl.col("kinds").alias("link"), "max_overdue_days"
                ).alias("defaulters"),
                pl.col("first_issued").min().alias("window_start"),
            )
            .filter(pl.col("score") >= self.min_defaulters - 1e-9)
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
                defaulters=pl.col("defaulters").list.head(self.max_listed),
                score=pl.col("score").round(3),
                window=window_json(pl.col("window_start"), pl.lit(ctx.as_of)),
                threshold=self.threshold("min_defaulters", "max_hops", "decay", "default_days"),
            ).alias("evidence"),
            pl.max_horizontal("window_start", pl.lit(ctx.start)).alias("window_start"),
            pl.lit(ctx.as_of).alias("window_end"),
        )
        return Findings(flags)
