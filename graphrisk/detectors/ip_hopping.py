"""IP_HOPPING: logins from many cities or addresses in a short time (异地登录).

Three sliding windows end at each login of an account, each with its own threshold on the
distinct login cities inside it: ``fast_hours`` (hours: ``fast_min_cities``),
``window_hours`` (two days: ``min_cities``) and ``week_hours`` (a week:
``week_min_cities``); 0 turns a window off. The fast window is also a hit with ``min_ips``
or more addresses spread over at least ``min_ip_cities`` cities (mobile and hotel addresses
rotate inside one city, so many addresses in one or two cities are ordinary travel, not
hopping; over two days or a week a traveller crossing from city to city collects many
addresses in three cities, so the address rule is the fast window's only: within hours,
six addresses in three cities is switching between them, not a journey). The score is how far past its threshold a window is, times its tempo
(:mod:`graphrisk.detectors._windows`: faster scores higher); the strongest window (the
latest on a tie) is the evidence, naming its window (``window_name``, ``window_hours``).

Only accounts whose whole lookback could reach a threshold are windowed, so the cost
follows the few candidates, not the login table. Linkage only: severity 1 by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors._windows import HOUR, Window, best_window
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
class IpHopping(Detector):
    """Logins from ``min_cities`` cities within ``window_hours``, or a fast (cities, or ``min_ips`` addresses) / week window's own count.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> hop = [("h", "D1", f"2026-01-01T{2 + 4 * i:02d}:00", f"1.0.0.{i}", f"C{i}")
    ...        for i in range(5)]
    >>> trip = [("t", "D2", f"2026-01-{1 + 4 * i:02d}", f"2.0.0.{i}", f"C{i}")
    ...         for i in range(4)]
    >>> flags = IpHopping().detect(world(devices=hop + trip)).flags
    >>> flags.select("account_id", "code", "severity").rows()
    [('h', 'IP_HOPPING', 1)]
    """

    name: ClassVar[str] = "ip_hopping"
    codes: ClassVar[tuple[str, ...]] = ("IP_HOPPING",)
    tables: ClassVar[tuple[str, ...]] = ("devices",)

    window_hours: int = param(48, "length of the two-day window, in hours", min=1)
    min_cities: int = param(5, "distinct login cities inside the two-day window", min=2)
    min_ips: int = param(6, "distinct login addresses inside the fast window", min=2)
    min_ip_cities: int = param(
        3, "cities the fast window's addresses must span for their count to raise the flag", min=1
    )
    fast_hours: int = param(12, "length of the fast window, in hours (0 = off)", min=0)
    fast_min_cities: int = param(4, "distinct login cities inside the fast window (0 = off)", min=0)
    week_hours: int = param(168, "length of the week window, in hours (0 = off)", min=0)
    week_min_cities: int = param(6, "distinct login cities inside the week window (0 = off)", min=0)
    severity: int = severity_param(1)

    def windows(self) -> list[Window]:
        """The fast, two-day and week windows with their city thresholds."""
        return [
            Window(name, hours * HOUR, {"cities": need})
            for name, hours, need in (
                ("fast", self.fast_hours, self.fast_min_cities),
                ("two_days", self.window_hours, self.min_cities),
                ("week", self.week_hours, self.week_min_cities),
            )
        ]

    def run(self, ctx: ScanContext) -> Findings:
        logins = ctx.devices.select("account_id", "ts", "ip", "city", "device_id")
        need_ip = max(self.min_ip_cities, 1)
        per = (
            logins.group_by("account_id")
            .agg(
                pl.col("city").n_unique().alias("c"),
                pl.col("ip").n_unique().alias("i"),
                pl.col("city").null_count().alias("cn"),
                pl.col("ip").null_count().alias("in"),
            )
            # n_unique counts null as a value: take it out again
            .with_columns(
                (pl.col("c") - (pl.col("cn") > 0)).alias("c"),
                (pl.col("i") - (pl.col("in") > 0)).alias("i"),
            )
        )

        def by_address(w: Window) -> bool:
            return w.name == "fast"

        def candidates(w: Window) -> pl.Series:
            reach = pl.col("c") >= w.need["cities"]
            if by_address(w):
                reach |= (pl.col("i") >= self.min_ips) & (pl.col("c") >= need_ip)
            return per.filter(reach)["account_id"]

        def hit(w: Window) -> pl.Expr:
            out = pl.col("n_cities") >= w.need["cities"]
            if by_address(w):
                out |= (pl.col("n_ips") >= self.min_ips) & (pl.col("n_cities") >= need_ip)
            return out

        def ratio(w: Window) -> pl.Expr:
            cities = pl.col("n_cities") / w.need["cities"]
            if by_address(w):
                return pl.max_horizontal(cities, pl.col("n_ips") / self.min_ips)
            return cities

        on = [w for w in self.windows() if w.enabled]
        cand = (
            pl.concat([candidates(w) for w in on]).unique()
            if on
            else pl.Series([], dtype=pl.String)
        )
        logins = logins.filter(pl.col("account_id").is_in(cand.implode())).sort("account_id", "ts")
        hits = best_window(
            logins,
            "ts",
            on,
            aggs=lambda w: [
                pl.col("city").drop_nulls().unique().sort().alias("cities"),
                pl.col("ip").drop_nulls().unique().sort().alias("ips"),
                pl.col("device_id").unique().sort().alias("devices"),
                pl.len().alias("n_logins"),
                pl.col("ts").min().alias("window_start"),
                pl.col("city").drop_nulls().n_unique().alias("n_cities"),
                pl.col("ip").drop_nulls().n_unique().alias("n_ips"),
            ],
            hit=hit,
            ratio=ratio,
            candidates=candidates,
        )
        if not hits.height:
            return Findings(empty_flags())
        hits = hits.rename({"ts": "window_end"})
        hours = (pl.col("window_seconds") // HOUR).cast(pl.Int64)
        by_ips = pl.col("window_name") == "fast"
        flags = hits.select(
            "account_id",
            pl.lit("IP_HOPPING").alias("code"),
            pl.lit(self.severity).alias("severity"),
            "score",
            evidence(
                cities=pl.col("cities"),
                n_cities=pl.col("n_cities"),
                ips=pl.col("ips"),
                n_ips=pl.col("n_ips"),
                devices=pl.col("devices"),
                n_logins=pl.col("n_logins"),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                window_name=pl.col("window_name"),
                window_hours=hours,
                threshold=pl.struct(
                    hours.alias("window_hours"),
                    pl.col("need_cities").cast(pl.Int64).alias("min_cities"),
                    pl.when(by_ips).then(pl.lit(self.min_ips)).alias("min_ips"),
                    pl.when(by_ips).then(pl.lit(self.min_ip_cities)).alias("min_ip_cities"),
                ),
            ).alias("evidence"),
            "window_start",
            "window_end",
        )
        return Findings(flags)
