"""Lender kinds for the multi-lending detectors (private helper).

* :func:`kinds_of` - every lender of the book with its kind (SPEC's kinds, ``other`` for a kind
  outside them, ``unknown`` without a lenders table or outside it).
* :func:`with_kinds` - a ``kinds`` column counting a list of lenders by kind, for evidence
  (``[{"kind": "microloan", "n_lenders": 4}, ...]``, most first).
"""

from __future__ import annotations

import polars as pl

from graphrisk.context import ScanContext
from graphrisk.schema import LENDER_KINDS

#: Kinds a lender is counted under: SPEC's kinds, then ``unknown``.
KINDS = (*LENDER_KINDS, "unknown")

KIND_COUNTS = pl.List(pl.Struct({"kind": pl.String, "n_lenders": pl.Int64}))


def kinds_of(ctx: ScanContext) -> pl.DataFrame:
    """``lender_id, lender_kind`` of every lender the book's loans and applications name."""
    return ctx.lender_kinds().with_columns(
        pl.when(pl.col("lender_kind").is_in(KINDS))
        .then(pl.col("lender_kind"))
        .otherwise(pl.lit("other"))
        .alias("lender_kind")
    )


def with_kinds(df: pl.DataFrame, ctx: ScanContext, lenders: str = "lenders") -> pl.DataFrame:
    """``df`` with ``kinds``: its ``lenders`` list counted by kind, most first.

    Examples
    --------
    >>> from graphrisk.testing import world
    >>> ctx = world(loans=[("a", "L1", 100, "2026-01-01")])
    >>> with_kinds(pl.DataFrame({"lenders": [["L1", "L2"]]}), ctx)["kinds"].to_list()
    [[{'kind': 'unknown', 'n_lenders': 2}]]
    """
    if not df.height:
        return df.with_columns(pl.lit(None, KIND_COUNTS).alias("kinds"))
    rows = df.select(pl.col(lenders).alias("_l")).with_row_index("_row")
    counts = (
        rows.explode("_l")
        .drop_nulls("_l")
        .join(kinds_of(ctx), left_on="_l", right_on="lender_id", how="left")
        .with_columns(pl.col("lender_kind").fill_null("unknown"))
        .group_by("_row", "lender_kind")
        .agg(pl.len().cast(pl.Int64).alias("n_lenders"))
        .sort("_row", "n_lenders", "lender_kind", descending=[False, True, False])
        .group_by("_row", maintain_order=True)
        .agg(pl.struct(pl.col("lender_kind").alias("kind"), "n_lenders").alias("kinds"))
    )
    out = rows.select("_row").join(counts, on="_row", how="left", maintain_order="left")
    return df.with_columns(out["kinds"].cast(KIND_COUNTS))
