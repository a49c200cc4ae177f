import json

import networkx as nx
import polars as pl

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


def money_ring(members: list[str], days: tuple[str, str]) -> list[tuple]:
    """Two transfers between the first member and each other one, on the given days."""
    first, *others = members
    return [
        t for m in others for t in ((first, m, 1500, f"{days[0]}"), (m, first, 900, f"{days[1]}"))
    ]


def test_ring_linked_by_new_money_relations_only():
    """Own devices, own addresses: only new money relations (two transfers within days)."""
    members = ["a", "b", "c", "d"]
    tr = money_ring(members, ("2026-01-02", "2026-01-05"))
    found = GroupMultiLender().detect(world(transfers=tr, loans=ring_loans(members)))
    assert sorted(found.flags["account_id"]) == members
    ev = json.loads(found.flags["evidence"][0])
    assert {lk["kind"] for lk in ev["links"]} == {"transfer"} and ev["n_lenders"] == 8
    # without the new-relation links (the rule before): nothing joins them
    old = GroupMultiLender(fresh_weight=0.0)
    assert old.detect(world(transfers=tr, loans=ring_loans(members))).flags.is_empty()


def test_old_friends_and_single_transfers_are_no_new_relation():
    members = ["a", "b", "c", "d"]
    # the same pairs, but each relation spans three months: friends, not a new relation
    old = money_ring(members, ("2025-10-01", "2026-01-05"))
    assert (
        GroupMultiLender().detect(world(transfers=old, loans=ring_loans(members))).flags.is_empty()
    )
    # one transfer per pair: no relation yet
    once = [t for t in money_ring(members, ("2026-01-02", "2026-01-05")) if t[0] == "a"]
    assert (
        GroupMultiLender().detect(world(transfers=once, loans=ring_loans(members))).flags.is_empty()
    )
    # a relation whose first transfer comes before fresh_history_days of history: unknown
    early = money_ring(members, ("2026-01-02", "2026-01-05"))
    ctx = world(transfers=early, loans=ring_loans(members), lookback_days=40)
    assert GroupMultiLender().detect(ctx).flags.is_empty()


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


def household(name: str, size: int, lenders: list[str], day: int = 2) -> tuple[list, list]:
    """A family on one home device and home address; member i borrows from lenders[i]."""
    members = [f"{name}{i}" for i in range(size)]
    dev = [(m, f"H-{name}", "2026-01-01", f"10.0.0.{len(name)}{size}") for m in members]
    dev += [(m, f"own-{m}", "2026-01-01") for m in members]
    loans = [
        (m, lender, 800, f"2026-01-{day + i:02d}")
        for i, (m, lender) in enumerate(zip(members, lenders, strict=False))
    ]
    return dev, loans


def test_two_households_joined_by_one_friend_transfer_stay_clean():
    # 8 lenders together within a week, every member ordinary; the only tie between the two
    # families is one friend who paid the other (weaker than their shared devices: Leiden
    # keeps them apart although the whole component is small)
    dev_a, loans_a = household("a", 4, ["L1", "L2", "L3", "L4"])
    dev_b, loans_b = household("bb", 4, ["L5", "L6", "L7", "L8"])
    tr = [("a0", "bb0", 200, "2025-12-20"), ("bb0", "a0", 150, "2026-01-05")]
    ctx = world(devices=dev_a + dev_b, transfers=tr, loans=loans_a + loans_b)
    assert GroupMultiLender().detect(ctx).flags.is_empty()
    # the same eight people on one device are one group
    one = [
        (f"{m}", "D1", "2026-01-01") for m in ["a0", "a1", "a2", "a3", "bb0", "bb1", "bb2", "bb3"]
    ]
    flags = GroupMultiLender().detect(world(devices=one, loans=loans_a + loans_b)).flags
    assert flags.height == 8


def test_household_befriending_a_ring_is_not_flagged_with_it():
    ring = [f"r{i}" for i in range(6)]
    dev = [(m, "RING", "2026-01-01", "36.1.1.1") for m in ring]
    loans = ring_loans(ring, per=2, start=2)  # 12 lenders within two weeks
    dev_h, loans_h = household("h", 3, ["L20", "L21", "L22"], day=5)
    tr = [("h0", "r0", 300, "2026-01-06")]  # a family member pays a ring member once
    found = GroupMultiLender().detect(
        world(devices=dev + dev_h, transfers=tr, loans=loans + loans_h)
    )
    assert sorted(found.flags["account_id"]) == ring
    assert set(found.groups["account_id"]) == set(ring)


def test_every_qualifying_window_is_flagged_with_its_own_evidence():
    members = ["a", "b", "c", "d"]
    dev = [(m, "D1", "2026-01-01") for m in members]
    early = [
        (m, f"E{4 * i + j}", 1000, f"2026-01-{2 + 4 * i + j:02d}")
        for i, m in enumerate("ab")
        for j in range(4)
    ]
    late = [
        (m, f"F{4 * i + j}", 1000, f"2026-03-{2 + 4 * i + j:02d}")
        for i, m in enumerate("cd")
        for j in range(4)
    ]
    flags = GroupMultiLender().detect(world(devices=dev, loans=early + late)).flags
    assert sorted(flags["account_id"]) == members
    assert len(set(flags["group_id"])) == 1
    ev = {r["account_id"]: json.loads(r["evidence"]) for r in flags.iter_rows(named=True)}
    assert ev["a"]["window"]["end"].startswith("2026-01") and ev["c"]["window"]["end"].startswith(
        "2026-03"
    )
    assert sorted(ev["a"]["lenders"]) == [f"E{i}" for i in range(8)]
    assert [p["account_id"] for p in ev["c"]["per_member"]] == ["c", "d"]


def test_a_large_money_ring_around_one_organiser_is_one_group():
    """Eight accounts, own devices and addresses, each tied to the first by new money only:
    Leiden (CPM) keeps about fresh_weight / resolution of such a star and lets the rest
    fall away; the organiser's star is checked as a group, so all eight are found."""
    members = [f"m{i}" for i in range(8)]
    tr = money_ring(members, ("2026-01-02", "2026-01-05"))
    # one member also has a new friend outside the ring (who does not borrow)
    tr += [("m5", "x", 400, "2026-01-03"), ("x", "m5", 380, "2026-01-09")]
    loans = ring_loans(members, per=2)  # 16 lenders within the month, two each
    found = GroupMultiLender().detect(world(transfers=tr, loans=loans))
    assert sorted(set(found.flags["account_id"])) == members
    star = found.groups.filter(pl.col("group_id").is_in(found.flags["group_id"].implode()))
    assert set(star["account_id"]) == set(members)  # the friend is not in the group
    ev = json.loads(found.flags["evidence"][0])
    assert ev["n_lenders"] >= 8 and set(ev["members"]) <= set(members)
    # Leiden's communities alone: part of the ring falls away
    alone = GroupMultiLender(stars=False).detect(world(transfers=tr, loans=loans))
    assert 0 < alone.flags["account_id"].n_unique() < len(members)


def test_an_account_with_new_payers_who_do_not_borrow_together_stays_clean():
    """A landlord with seven new tenants (new money relations, each paying twice): they
    borrow, but months apart, never eight lenders within 30 days; and a month in which
    they do, with one of them borrowing from five lenders, is that member's MULTI_LENDER,
    not a group's."""
    people = ["land", *[f"t{i}" for i in range(7)]]
    tr = [
        t
        for m in people[1:]
        for t in ((m, "land", 800, "2026-01-02"), (m, "land", 800, "2026-01-30"))
    ]
    apart = [
        (m, f"L{i}", 1000, f"2026-{1 + i % 4:02d}-0{1 + i // 4}") for i, m in enumerate(people)
    ]
    ctx = world(transfers=tr, loans=apart)
    assert GroupMultiLender().detect(ctx).flags.is_empty()
    heavy = [("t0", f"H{j}", 900, f"2026-01-{3 + j:02d}") for j in range(5)]
    heavy += [(m, f"L{i}", 1000, f"2026-01-{10 + i:02d}") for i, m in enumerate(people[1:])]
    assert GroupMultiLender().detect(world(transfers=tr, loans=heavy)).flags.is_empty()


def test_friends_tied_by_money_alone_with_one_loan_are_not_co_borrowers():
    """A ring that only moves money (own devices and addresses): its members each borrow
    from two lenders. A new friend of the organiser, paid twice, who took one loan, is listed
    as linked, not flagged, and its lender does not count for the group: three members
    (six lenders) and two such friends (two more) are no group."""
    ring = ["a", "b", "c", "d"]
    tr = money_ring([*ring, "f"], ("2026-01-02", "2026-01-05"))
    loans = [*ring_loans(ring), ("f", "F1", 800, "2026-01-20")]
    found = GroupMultiLender().detect(world(transfers=tr, loans=loans))
    assert sorted(set(found.flags["account_id"])) == ring
    roles = dict(found.groups.select("account_id", "role").iter_rows())
    assert roles["f"] == "linked"
    # every member counts when the rule is off (money_member_min_lenders = 1)
    off = GroupMultiLender(money_member_min_lenders=1)
    assert "f" in set(off.detect(world(transfers=tr, loans=loans)).flags["account_id"])
    small = ["a", "b", "c"]
    tr = money_ring([*small, "f", "g"], ("2026-01-02", "2026-01-05"))
    loans = [*ring_loans(small), ("f", "F1", 800, "2026-01-20"), ("g", "G1", 800, "2026-01-21")]
    assert GroupMultiLender().detect(world(transfers=tr, loans=loans)).flags.is_empty()
    assert not off.detect(world(transfers=tr, loans=loans)).flags.is_empty()
    # a member on a shared device counts with one loan (identity links are strong ties):
    # with the organiser's third lender, f's makes the eighth
    loans.append(("a", "L6", 1000, "2026-01-22"))
    assert GroupMultiLender().detect(world(transfers=tr, loans=loans)).flags.is_empty()
    dev = [("a", "D1", "2026-01-01"), ("f", "D1", "2026-01-01")]
    found = GroupMultiLender().detect(world(devices=dev, transfers=tr, loans=loans))
    assert sorted(set(found.flags["account_id"])) == [*small, "f"]


def test_a_ring_whose_money_spans_its_borrowing_months_is_new():
    """Transfers from three weeks before the loans to the end of the borrowing month (about
    50 days) are one new relation (fresh_relation_days = 60); spread over three months they
    are an old friendship (test above)."""
    members = ["a", "b", "c", "d"]
    tr = money_ring(members, ("2025-12-12", "2026-01-30"))
    found = GroupMultiLender().detect(world(transfers=tr, loans=ring_loans(members)))
    assert sorted(found.flags["account_id"]) == members
    short = GroupMultiLender(fresh_relation_days=45)
    assert short.detect(world(transfers=tr, loans=ring_loans(members))).flags.is_empty()


def test_a_relative_on_a_defaulters_phone_beside_a_ring_is_linked_not_a_borrower():
    """A relative shares a phone with a defaulter (whose one loan is months old) and pays a
    member of a device ring twice: the community holds all six. The relative took one loan
    in the ring's month: it shares no device with anyone borrowing in that window, so it is
    listed as linked, not flagged; were its defaulter borrowing in that month too, both
    would count."""
    ring = ["a", "b", "c", "d"]
    dev = [(m, "D1", "2026-01-01") for m in ring]
    dev += [("r", "H1", "2026-01-01"), ("x", "H1", "2026-01-01")]
    tr = [("r", "b", 700, "2026-01-03"), ("b", "r", 650, "2026-01-06")]
    loans = [*ring_loans(ring), ("r", "R1", 800, "2026-01-12")]
    loans.append(("x", "X1", 900, "2025-09-01", "2025-10-01"))  # defaulted, months ago
    found = GroupMultiLender().detect(world(devices=dev, transfers=tr, loans=loans))
    assert sorted(set(found.flags["account_id"])) == ring
    roles = dict(found.groups.select("account_id", "role").iter_rows())
    assert roles["r"] == "linked" and roles["x"] == "linked"
    off = GroupMultiLender(money_member_min_lenders=1)
    assert "r" in set(off.detect(world(devices=dev, transfers=tr, loans=loans)).flags["account_id"])
    both = [*loans, ("x", "X2", 900, "2026-01-14")]
    flagged = set(
        GroupMultiLender().detect(world(devices=dev, transfers=tr, loans=both)).flags["account_id"]
    )
    assert flagged == {*ring, "r", "x"}
