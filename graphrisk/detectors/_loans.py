"""Small helpers shared by the loan detectors (private: not a detector module)."""

from __future__ import annotations

import polars as pl


def best_per_account(df: pl.DataFrame, *order: str) -> pl.DataFrame:
    """One row per ``account_id``: the row that is largest in ``order`` (ties: the last)."""
    return (
        df.sort("account_id", *order, nulls_last=False, maintain_order=True)
        .group_by("account_id", maintain_order=True)
        .last()
    )


def accounts_with(
    df: pl.DataFrame, min_rows: int, min_distinct: int = 1, col: str = "lender_id"
) -> pl.Series:
    """Accounts having at least ``min_rows`` rows and ``min_distinct`` distinct ``col`` values.

    The cheap prefilter every loan detector starts with (a group-by, no sort).
    """
    agg = df.group_by("account_id").agg(pl.len().alias("n"), pl.col(col).n_unique().alias("d"))
    return agg.filter((pl.col("n") >= min_rows) & (pl.col("d") >= min_distinct))["account_id"]
