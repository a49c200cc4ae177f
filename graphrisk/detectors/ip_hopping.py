"""IP_HOPPING: logins from many cities or addresses in a short time (异地登录).

A sliding window of ``window_hours`` ends at each login of an account; the distinct login
cities and addresses inside it are counted. The window is a hit when it holds
``min_cities`` or more cities, or ``min_ips`` or more addresses spread over at least
``min_ip_cities`` cities (mobile and hotel addresses rotate inside one city, so many
addresses in one or two cities are ordinary travel, not hopping). The hit with the most
cities (the latest on a tie) is the evidence.

Only accounts whose whole lookback could reach a threshold are windowed, so the cost
follows the few candidates, not the login table. Linkage only: severity 1 by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.detectors.base import (
    Detector,
    Findings,
    evidence,
    param,
    severity_param,
    window_json,
)


@dataclass
class IpHopping(Detector):
    """Logins from ``min_cities`` cities (or ``min_ips`` addresses) within ``window_hours``.

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

    window_hours: int = param(48, "length of the sliding window, in hours", min=1)
    min_cities: int = param(5, "distinct login cities inside one window that raise the flag", min=2)
    min_ips: int = param(6, "distinct login addresses inside one window that raise the flag", min=2)
    min_ip_cities: int = param(
        3, "cities the addresses must span for the address count to raise the flag", min=1
    )
    severity: int = severity_param(1)

    def run(self, ctx: ScanContext) -> Findings:
        logins = ctx.devices.select("account_id", "ts", "ip", "city", "device_id")
        need_ip = max(self.min_ip_cities, 1)
        cand = (
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
            .filter(
                (pl.col("c") >= self.min_cities)
                | ((pl.col("i") >= self.min_ips) & (pl.col("c") >= need_ip))
            )["account_id"]
        )
        logins = logins.filter(pl.col("account_id").is_in(cand.implode())).sort("account_id", "ts")
        windows = logins.rolling("ts", period=f"{self.window_hours}h", group_by="account_id").agg(
            pl.col("city").drop_nulls().unique().sort().alias("cities"),
            pl.col("ip").drop_nulls().unique().sort().alias("ips"),
            pl.col("device_id").unique().sort().alias("devices"),
            pl.len().alias("n_logins"),
            pl.col("ts").min().alias("window_start"),
        )
        windows = windows.with_columns(
            pl.col("cities").list.len().alias("n_cities"),
            pl.col("ips").list.len().alias("n_ips"),
        )
        hits = (
            windows.filter(
                (pl.col("n_cities") >= self.min_cities)
                | ((pl.col("n_ips") >= self.min_ips) & (pl.col("n_cities") >= need_ip))
            )
            .sort("account_id", "n_cities", "n_ips", "ts")
            .group_by("account_id", maintain_order=True)
            .last()
            .rename({"ts": "window_end"})
        )
        score = pl.max_horizontal(
            pl.col("n_cities") / self.min_cities, pl.col("n_ips") / self.min_ips
        )
        flags = hits.select(
            "account_id",
            pl.lit("IP_HOPPING").alias("code"),
            pl.lit(self.severity).alias("severity"),
            score.cast(pl.Float64).alias("score"),
            evidence(
                cities=pl.col("cities"),
                n_cities=pl.col("n_cities"),
                ips=pl.col("ips"),
                n_ips=pl.col("n_ips"),
                devices=pl.col("devices"),
                n_logins=pl.col("n_logins"),
                window=window_json(pl.col("window_start"), pl.col("window_end")),
                threshold=self.threshold("window_hours", "min_cities", "min_ips", "min_ip_cities"),
            ).alias("evidence"),
            "window_start",
            "window_end",
        )
        return Findings(flags)
