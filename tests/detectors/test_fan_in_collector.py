import datetime as dt
import json

from graphrisk.detectors import FanInCollector
from graphrisk.testing import world

FEEDERS = ["f1", "f2", "f3", "f4"]
LOANS = [(f, "L1", 5000, f"2026-03-0{i + 1}T09:00") for i, f in enumerate(FEEDERS)]
DEVICES = [(f, "D1", "2026-02-01") for f in FEEDERS[:2]] + [("c", "D1", "2026-02-01")]
DEVICES += [(f, "D2", "2026-02-01") for f in FEEDERS[2:]]


def _pay(frac=0.8, lag_hours=20, who=FEEDERS):
    at = {f: dt.datetime(2026, 3, i + 1, 9) for i, f in enumerate(FEEDERS)}
    return [(f, "c", 5000 * frac, at[f] + dt.timedelta(hours=lag_hours)) for f in who]


def _run(transfers, devices=DEVICES, loans=LOANS, **params):
    return FanInCollector(**params).detect(world(loans=loans, transfers=transfers, devices=devices))


def test_linked_borrowers_feeding_one_collector():
    found = _run(_pay())
    rows = found.flags.select("account_id", "code", "severity").rows()
    assert rows == [("c", "FAN_IN_COLLECTOR", 3)] + [(f, "FAN_IN_COLLECTOR", 2) for f in FEEDERS]
    ev = json.loads(found.flags["evidence"][0])
    assert ev["collector"] == "c" and ev["feeders"] == FEEDERS and ev["n_feeders"] == 4
    assert ev["linked_share"] == 1.0 and ev["amount"] == 16000
    assert ev["threshold"]["min_feeders"] == 4
    assert set(found.groups["kind"]) == {"collector_scheme"}
    assert dict(found.groups.select("account_id", "role").rows())["c"] == "collector"


def test_thresholds_edges_and_override():
    assert _run(_pay(who=FEEDERS[:3])).flags.is_empty()  # three feeders
    assert _run(_pay(who=FEEDERS[:3]), min_feeders=3).flags.height == 4
    assert _run(_pay(frac=0.45)).flags.is_empty()  # under half of each loan
    assert _run(_pay(frac=0.5)).flags.height == 5  # exactly half
    assert _run(_pay(lag_hours=50)).flags.is_empty()  # after the 2-day lag
    assert _run(_pay(lag_hours=50), max_lag_days=3.0).flags.height == 5


def test_merchant_with_unrelated_customers_stays_clean():
    # customers who borrowed and paid a shop, each on their own device
    own = [(f, f"D{f}", "2026-02-01") for f in [*FEEDERS, "c"]]
    assert _run(_pay(), devices=own).flags.is_empty()
    # many small ordinary payments from unrelated customers: no loans behind them
    shop = [(f"u{i}", "shop", 80, f"2026-03-0{1 + i % 9}") for i in range(60)]
    assert FanInCollector().detect(world(transfers=shop, devices=own)).flags.is_empty()
