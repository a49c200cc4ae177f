"""Several sliding windows per rate detector, as credit bureaus count (private helper).

A rate detector (MULTI_LENDER, SMALL_LOAN_BURST, APPLICATION_BURST, IP_HOPPING) looks at
its events through a few windows of different lengths, each with its own threshold: the
fast window catches a burst of hours or days, the slow one the same behaviour spread over
weeks or months. :func:`best_window` runs one rolling aggregation per window (over only
the accounts whose whole lookback could reach that window's threshold), keeps the windows
that reach their threshold and returns, per account, the strongest hit.

Strength of a hit = how far it is past its own threshold (``ratio``, 1 at the threshold)
times the window's **tempo** ``(longest / length) ** 0.25``, where ``longest`` is the
longest window in use: a hit at the threshold of the slowest window scores 1; the same
excess in a window a sixteenth as long scores twice as much. Faster behaviour scores higher,
and one account's fast and slow hits are ranked on one scale (ties: the shorter window,
then the latest). The row keeps ``window_name`` and ``window_seconds`` of the hit, so the
evidence names the window that fired.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

#: Seconds in a day and an hour (window lengths are kept in seconds).
DAY = 86_400
HOUR = 3_600

#: Exponent of the tempo factor: a window 16 times shorter doubles the score.
TEMPO_EXPONENT = 0.25


@dataclass(frozen=True)
class Window:
    """One window of a rate detector: its name in evidence, length and thresholds."""

    name: str
    seconds: int
    need: dict[str, float]

    @property
    def enabled(self) -> bool:
        """A window with any threshold at 0 (or a length of 0) is off."""
        return self.seconds > 0 and all(v > 0 for v in self.need.values())


def tempo(seconds: int, longest: int) -> float:
    """The tempo factor of a window of ``seconds`` among windows up to ``longest``.

    >>> tempo(7 * 86400, 112 * 86400)
    2.0
    >>> tempo(30, 30)
    1.0
    """
    return float((longest / seconds) ** TEMPO_EXPONENT)


def best_window(
    events: pl.DataFrame,
    ts: str,
    windows: Sequence[Window],
    aggs: Callable[[Window], list[pl.Expr]],
    hit: Callable[[Window], pl.Expr],
    ratio: Callable[[Window], pl.Expr],
    candidates: Callable[[Window], pl.Series],
) -> pl.DataFrame:
    """Per account, the strongest window reaching its threshold (empty frame: no hit).

    Parameters
    ----------
    events
        One row per event, sorted by ``account_id`` and ``ts``.
    ts
        The time column; each window ends at an event.
    windows
        The windows; disabled ones (:attr:`Window.enabled`) are skipped.
    aggs
        The aggregations of one window (must include ``window_start``).
    hit
        True where a window row reaches the window's thresholds.
    ratio
        How far past its thresholds a hit row is (1 at the threshold).
    candidates
        The accounts whose whole lookback could reach the window's thresholds.

    Returns
    -------
    pl.DataFrame
        The aggregated columns, ``ts`` of the window's last event, ``window_name``,
        ``window_seconds``, ``score`` and the window's thresholds ``need_NAME``.
    """
    on = [w for w in windows if w.enabled]
    if not on:
        return pl.DataFrame()
    longest = max(w.seconds for w in on)
    parts = []
    for w in on:
        cand = candidates(w)
        sub = events.filter(pl.col("account_id").is_in(cand.implode()))
        if not sub.height:
            continue
        rows = (
            sub.rolling(ts, period=f"{w.seconds}s", group_by="account_id")
            .agg(aggs(w))
            .filter(hit(w))
        )
        if not rows.height:
            continue
        parts.append(
            rows.with_columns(
                pl.lit(w.name).alias("window_name"),
                pl.lit(w.seconds, pl.Int64).alias("window_seconds"),
                (ratio(w) * tempo(w.seconds, longest)).cast(pl.Float64).alias("score"),
                *(pl.lit(float(v)).alias(f"need_{k}") for k, v in w.need.items()),
            )
        )
    if not parts:
        return pl.DataFrame()
    rows = pl.concat(parts, how="vertical_relaxed")
    return (
        rows.with_columns((-pl.col("window_seconds")).alias("_shorter"))
        .sort("account_id", "score", "_shorter", ts, maintain_order=True)
        .group_by("account_id", maintain_order=True)
        .last()
        .drop("_shorter")
    )
