import json

import networkx as nx

from graphrisk.detectors import SharedDeviceRing
from graphrisk.testing import world


def farm(n: int, device: str = "D1", prefix: str = "r") -> list[tuple]:
    return [(f"{prefix}{i}", device, f"2026-01-{i % 28 + 1:02d}") for i in range(n)]


def test_farm_flags_every_member_with_evidence_and_group():
    ctx = world(devices=farm(7))
    found = SharedDeviceRing().detect(ctx)
    assert sorted(found.flags["account_id"]) == [f"r{i}" for i in range(7)]
    ev = json.loads(found.flags["evidence"][0])
    assert ev["devices"] == ["D1"] and ev["n_accounts"] == 7 and ev["n_logins"] == 7
    assert ev["threshold"] == {"min_accounts": 6}
    assert found.flags["group_id"].n_unique() == 1
    assert set(found.groups["kind"]) == {"device_ring"}
    assert nx.is_weakly_connected(ctx.graph.to_networkx(found.groups["account_id"].to_list()))


def test_ring_across_devices_is_one_group():
    rows = [*farm(4, "D1"), ("r3", "D2", "2026-01-05"), ("r4", "D2", "2026-01-06")]
    rows += [(a, "D2", "2026-01-07") for a in ("r0", "r1", "r2")]
    rows += [("r5", "D1", "2026-01-08"), ("r5", "D2", "2026-01-09")]
    found = SharedDeviceRing().detect(world(devices=rows))
    assert found.flags.height == 6 and found.flags["group_id"].n_unique() == 1


def test_household_stays_clean():
    rows = [(m, "H1", "2026-01-03") for m in ("m1", "m2", "m3")]
    assert SharedDeviceRing().detect(world(devices=rows)).flags.is_empty()


def test_chain_of_family_devices_is_not_a_ring():
    # seven accounts, each pair of neighbours shares a phone: a sparse chain, not a farm
    rows = []
    for i in range(6):
        rows += [(f"c{i}", f"P{i}", "2026-01-02"), (f"c{i + 1}", f"P{i}", "2026-01-03")]
    assert SharedDeviceRing().detect(world(devices=rows)).flags.is_empty()
    assert SharedDeviceRing(min_density=0.0).detect(world(devices=rows)).flags.height == 7


def test_threshold_edge_and_override():
    assert SharedDeviceRing().detect(world(devices=farm(5))).flags.is_empty()
    assert SharedDeviceRing().detect(world(devices=farm(6))).flags.height == 6
    assert SharedDeviceRing(min_accounts=4).detect(world(devices=farm(5))).flags.height == 5
