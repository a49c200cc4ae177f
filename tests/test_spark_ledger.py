"""The ledger read by Spark (``graphrisk/engines/spark_ledger.py``) gives the local read's state.

The ledgers are ``tests/test_ledger.py``'s random ones (re-runs of a day, two scans in one
second, backfills, entries of an older layout); for each query the Spark frame must equal
:meth:`graphrisk.ledger.Ledger.prior` row for row, its digest must be the local one (the run id
covers it), and a snapshot Spark writes must hold the state the local one holds.
"""

from __future__ import annotations

import random
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_ledger import _random_entry

from graphrisk.decisions import PRIOR_SCHEMA
from graphrisk.ledger import Ledger
from graphrisk.scan import prior_digest

pytest.importorskip("pyspark")

from graphrisk.engines.spark import spark_session
from graphrisk.engines.spark_ledger import SparkLedger
from graphrisk.engines.spark_ledger import prior_digest as spark_digest


@pytest.fixture(scope="module")
def spark():
    return spark_session()


def _same(led: Ledger, spark, queries: list[datetime]) -> None:
    sled = SparkLedger(led.path, spark)
    for q in queries:
        want = led.prior(q)
        frame = sled.prior_frame(q)
        got = (
            pl.DataFrame(schema=PRIOR_SCHEMA)
            if frame is None
            else pl.from_arrow(frame.toArrow()).select(list(PRIOR_SCHEMA)).cast(PRIOR_SCHEMA)
        )
        assert_frame_equal(got.sort("account_id"), want, check_exact=True), q
        assert spark_digest(frame) == prior_digest(want), q


def test_spark_prior_equals_the_local_read(tmp_path: Path, spark) -> None:
    rng = random.Random(11)
    led = Ledger(tmp_path / "L")
    day0 = datetime(2026, 1, 1, 23, 59, 59, 999999)
    days = [day0 + timedelta(days=d) for d in range(6)]
    plan = [0, 1, 2, 2, 4, 3, 1, 5]  # a re-run of day 2, backfills of days 3 and 1
    for i, d in enumerate(plan):
        led.append(_random_entry(rng, days[d], f"r{i:02d}"), f"r{i:02d}")
    # a query on an entry's exact microsecond, one after it, its second, and past the end
    queries = [
        days[0],
        days[2],
        days[3] + timedelta(microseconds=1),
        days[4].replace(microsecond=0),
    ]
    queries.append(day0 + timedelta(days=30))
    assert any(led.prior(q).height for q in queries)
    _same(led, spark, queries)
    shutil.rmtree(led.snapshots)  # from the entries alone
    _same(led, spark, queries[-2:])


def test_spark_prior_of_entries_of_an_older_layout(tmp_path: Path, spark) -> None:
    led = Ledger(tmp_path / "L")
    jan, feb, mar = datetime(2026, 1, 31), datetime(2026, 2, 28), datetime(2026, 3, 31)
    rng = random.Random(3)
    led.append(_random_entry(rng, jan, "r1").drop("last_bad_at", "cut_reasons"), "r1")
    led.append(_random_entry(rng, feb, "r2"), "r2")
    shutil.rmtree(led.snapshots)
    _same(led, spark, [feb, mar])


def test_spark_snapshot_holds_the_local_state(tmp_path: Path, spark) -> None:
    rng = random.Random(5)
    led = Ledger(tmp_path / "L")
    days = [datetime(2026, 3, 1) + timedelta(days=d) for d in range(3)]
    for i, d in enumerate(days):
        led.append(_random_entry(rng, d, f"r{i}"), f"r{i}")
    local = sorted(led.snapshots.glob("*.parquet"))
    files = led.files()
    shutil.rmtree(led.snapshots)
    sled = SparkLedger(led.path, spark)
    written = sled._snapshot(files, len(files))
    assert written.is_dir() and written.name == local[-1].name
    assert not [p for p in led.snapshots.iterdir() if p.name.startswith(".")]  # no temporary
    want = led._state(files, None, None)
    got = pl.read_parquet(written).select(want.columns).cast(want.schema).sort("account_id")
    assert want.height > 0
    assert_frame_equal(got, want)
    # and the local read, which starts from it, gives the prior the entries alone give
    bare = tmp_path / "bare"
    shutil.copytree(led.entries, bare / "entries")
    after = days[-1] + timedelta(days=1)
    assert led._base(files, len(files), after) == (len(files), written)
    assert_frame_equal(led.prior(after), Ledger(bare).prior(after))
