import json

import networkx as nx

from graphrisk.detectors import GroupMultiLender
from graphrisk.testing import world


def ring_loans(members: list[str], per: int = 2, start: int = 2) -> list[tuple]:
    return [
        (m, f"L{per * i + j}", 1000, f"2026-01-{start + per * i + j:02d}")
        for i, m in enumerate(members)
        for j in range(per)
    ]


def test_device_linked_group_with_evidence():
    members = ["a", "b", "c", "d"]
    ctx = world(devices=[(m, "D1", "2026-01-01") for m in members], loans=ring_loans(members))
    found = GroupMultiLender().detect(ctx)
    assert sorted(found.flags["account_id"]) == members
    ev = json.loads(found.flags["evidence"][0])
    assert ev["n_lenders"] == 8 and ev["members"] == members
    assert [p["n_lenders"] for p in ev["per_member"]] == [2, 2, 2, 2]
    assert {lk["kind"] for lk in ev["links"]} == {"device"} and ev["n_links"] == 6
    assert ev["threshold"] == {"min_lenders": 8, "member_max_lenders": 4, "window_days": 30}
    assert set(found.groups["kind"]) == {"lending_group"}
    assert nx.is_weakly_connected(ctx.graph.to_networkx(members))


def test_pairs_on_devices_joined_by_transfers():
    members = ["a", "b", "c", "d", "e", "f"]
    dev = [(m, f"D{i % 3}", "2026-01-01") for i, m in enumerate(members)]
    tr = [("a", "b", 1500, "2026-01-03"), ("b", "c", 1500, "2026-01-04")]
    loans = [*ring_loans(members[:4], per=2), ("e", "L10", 900, "2026-01-12")]
    flags = GroupMultiLender().detect(world(devices=dev, transfers=tr, loans=loans)).flags
    assert sorted(flags["account_id"]) == ["a", "b", "c", "d", "e"]


def test_friends_without_shared_devices_stay_clean():
    members = ["a", "b", "c", "d"]
    tr = [
        ("a", "b", 100, "2026-01-01"),
        ("b", "c", 100, "2026-01-01"),
        ("c", "d", 100, "2026-01-01"),
    ]
    assert (
        GroupMultiLender().detect(world(transfers=tr, loans=ring_loans(members))).flags.is_empty()
    )


def test_household_with_few_lenders_and_office_stay_clean():
    home = ["m1", "m2", "m3"]
    ctx = world(devices=[(m, "H1", "2026-01-01") for m in home], loans=ring_loans(home))
    assert GroupMultiLender().detect(ctx).flags.is_empty()  # 6 lenders together
    office = [(f"o{i}", f"P{i}", "2026-01-01", "172.1.1.1") for i in range(25)]
    ctx = world(devices=office, loans=ring_loans([f"o{i}" for i in range(8)], per=1))
    assert GroupMultiLender().detect(ctx).flags.is_empty()


def test_threshold_edges_and_overrides():
    members = ["a", "b", "c", "d"]
    dev = [(m, "D1", "2026-01-01") for m in members]
    ctx = world(devices=dev, loans=ring_loans(members)[:-1])  # 7 lenders
    assert GroupMultiLender().detect(ctx).flags.is_empty()
    assert GroupMultiLender(min_lenders=7).detect(ctx).flags.height == 4
    # one member borrows from 5 lenders: MULTI_LENDER's case, not a hidden group
    others = [(m, f"M{i}", 500, f"2026-01-{10 + i:02d}") for i, m in enumerate("bcd")]
    loans = ring_loans(["a"], per=5) + others  # 8 lenders together
    ctx = world(devices=dev, loans=loans)
    assert GroupMultiLender().detect(ctx).flags.is_empty()
    assert GroupMultiLender(member_max_lenders=5).detect(ctx).flags.height == 4
