"""accounts.monthly_income: optional, a number >= 0, null = unknown (SPEC)."""

from __future__ import annotations

import polars as pl
import pytest

from graphrisk.errors import DataError
from graphrisk.io import load
from graphrisk.schema import TABLES
from graphrisk.testing import tables, write


def test_monthly_income_is_an_optional_number():
    col = TABLES["accounts"].column("monthly_income")
    assert (col.kind, col.required) == ("number", False)


def test_negative_or_nan_income_is_reported_and_null_or_missing_is_fine(tmp_path):
    acc = [("a", "2020-01-01", 1000, None, None, -5.0), ("b", "2020-01-01", 1000, None, None,
           float("nan")), ("c", "2020-01-01", 1000, None, None, None)]  # fmt: skip
    with pytest.raises(DataError) as err:
        load(write(tables(accounts=acc), tmp_path / "bad"))
    text = str(err.value)
    assert "monthly_income < 0 (1 row)" in text and "monthly_income is NaN" in text, text
    ok = load(write(tables(accounts=[("c", "2020-01-01", 1000, None, None, 0.0)]), tmp_path / "ok"))
    assert ok.accounts["monthly_income"].to_list() == [0.0]
    # a file without the column loads with it null
    t = tables(accounts=[("c", "2020-01-01", 1000)])
    path = write(t, tmp_path / "none")
    pl.read_parquet(path / "accounts.parquet").drop("monthly_income").write_parquet(
        path / "accounts.parquet"
    )
    assert load(path).accounts["monthly_income"].to_list() == [None]
