"""The link plan's narwhals steps on Spark give the local plan's book facts, bit for bit.

A shard is handed facts its kernel cannot count by itself (:class:`graphrisk.shards.BookFacts`);
on Spark they are computed by the same narwhals steps as locally, but on another engine, whose
arithmetic and rounding are not polars'. The shipped sample's window is put on Spark as
:class:`graphrisk.linkplan.LinkInputs` and every fact is compared exactly with the local one:
the ties to defaulters (weights rounded to six decimals, which land on a half whenever a tie's
closeness ends in an odd digit), transfer partners and accounts per device and address.
"""

from __future__ import annotations

from pathlib import Path

import narwhals as nw
import polars as pl
import pytest
from polars.testing import assert_frame_equal

pytest.importorskip("pyspark")

from pyspark.sql import SparkSession

from graphrisk import linkplan
from graphrisk.context import ScanContext
from graphrisk.detectors._ties import _PARTS, round_half_up
from graphrisk.engines.spark import spark_session
from graphrisk.io import load
from graphrisk.shards import near_facts, polars_inputs

SAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "sample"


@pytest.fixture(scope="module")
def spark() -> SparkSession:
    return spark_session()


@pytest.fixture(scope="module")
def inputs(spark: SparkSession) -> tuple[linkplan.LinkInputs, linkplan.LinkInputs]:
    """The sample's window as link-plan inputs on polars and the same rows on Spark."""
    ctx = ScanContext.build(load(SAMPLE))
    local = polars_inputs(ctx)

    def on_spark(lf: nw.LazyFrame) -> nw.LazyFrame:
        return nw.from_native(spark.createDataFrame(nw.to_native(lf).collect().to_arrow()))

    def materialise(lf: nw.LazyFrame) -> nw.LazyFrame:
        return nw.from_native(nw.to_native(lf).cache())

    remote = linkplan.LinkInputs(
        on_spark(local.transfers),
        on_spark(local.logins),
        on_spark(local.loans),
        local.as_of_us,
        local.start_us,
        local.origin_us,
        materialise,
    )
    return local, remote


def collected(lf: nw.LazyFrame, keys: list[str]) -> pl.DataFrame:
    native = nw.to_native(lf)
    if isinstance(native, pl.LazyFrame):
        return native.collect().sort(keys)
    return pl.from_arrow(native.toArrow()).sort(keys)


def test_ties_to_defaulters_are_the_same_bits(inputs) -> None:
    local, remote = inputs
    mine, params = near_facts(None, local, at_snapshot=False)
    theirs, params_spark = near_facts(None, remote, at_snapshot=False)
    assert params == params_spark
    keys = ["m", "d"]
    a, b = collected(mine, keys), collected(theirs, keys)
    assert a.height > 100  # the sample plants money and devices near defaulters
    # the default weight is 0.5 + 0.5 * closeness: a half in the seventh decimal whenever
    # closeness ends in an odd digit, which the engines' own round may break apart (polars
    # half to even on the binary value, Spark half up on the shortest decimal)
    closeness = a.select(pl.sum_horizontal(_PARTS).clip(upper_bound=1.0))
    assert (((closeness.to_series() * 1e6).round() % 2) == 1).sum() > 5
    assert_frame_equal(a, b.select(a.columns).cast(a.schema), check_exact=True)


def test_partners_and_hub_degrees_agree(inputs) -> None:
    local, remote = inputs
    keys = ["account_id"]
    a = collected(linkplan.partner_counts(local), keys)
    b = collected(linkplan.partner_counts(remote), keys)
    assert a.height > 1000
    assert_frame_equal(a, b.select(a.columns).cast(a.schema), check_exact=True)
    for col in ("device_id", "ip"):
        a = collected(linkplan.hub_degree(local, col), [col])
        b = collected(linkplan.hub_degree(remote, col), [col])
        assert_frame_equal(a, b.select(a.columns).cast(a.schema), check_exact=True)


def test_rounding_is_one_rule_on_both_engines(spark: SparkSession) -> None:
    """Halves in the last kept decimal (and their binary neighbours) round alike on polars
    (eager and lazy) and Spark; the engines' own ``round`` (half to even, half up) do not."""
    values = [0.5617285, 0.0000025, 0.8, 0.5 + 0.5 * 0.6, 1234.565, 0.1234565, 2.5e-7, 0.0]
    values += [v + 1e-17 for v in values] + [v * (1 - 2**-52) for v in values]
    frame = pl.DataFrame({"x": values}).unique().sort("x")

    def rounded(how: nw.Expr) -> tuple[list[float], list[float], list[float]]:
        cols = [nw.col("x"), how.alias("r")]
        eager = nw.from_native(frame).select(cols).to_native().sort("x")["r"]
        lazy = nw.from_native(frame.lazy()).select(cols).collect().to_native().sort("x")["r"]
        remote = nw.from_native(spark.createDataFrame(frame.to_arrow())).select(cols)
        on_spark = pl.from_arrow(nw.to_native(remote).toArrow()).sort("x")["r"]
        return eager.to_list(), lazy.to_list(), on_spark.to_list()

    eager, lazy, on_spark = rounded(round_half_up(nw.col("x"), 6))
    assert eager == lazy == on_spark
    assert eager[frame["x"].to_list().index(0.5617285)] == 0.561729
    eager, _, on_spark = rounded(nw.col("x").round(6))
    assert eager != on_spark  # why the rule exists
