import json

from graphrisk.detectors import RiskProximity
from graphrisk.testing import world

AS_OF = "2026-03-01"


def bad(*accts: str) -> list[tuple]:
    return [(d, "L1", 1000, "2025-09-01", "2025-10-01") for d in accts]


def test_linked_to_two_defaulters_by_device_and_transfer():
    ctx = world(
        as_of=AS_OF,
        loans=bad("d1", "d2"),
        devices=[("d1", "P1", "2026-01-01"), ("t", "P1", "2026-01-02")],
        transfers=[("t", "d2", 800, "2026-01-05")],
    )
    flags = RiskProximity().detect(ctx).flags
    assert flags["account_id"].to_list() == ["t"] and flags["severity"][0] == 1
    ev = json.loads(flags["evidence"][0])
    assert ev["n_defaulters"] == 2 and ev["n_direct"] == 2
    assert sorted(ev["links"]) == ["device", "transfer"]
    assert ev["threshold"]["min_defaulters"] == 2.0


def test_friend_of_the_linked_account_stays_clean():
    tr = [
        ("t", "d1", 500, "2026-01-05"),
        ("t", "d2", 500, "2026-01-06"),
        ("f", "t", 200, "2026-01-07"),
    ]
    flags = RiskProximity().detect(world(as_of=AS_OF, loans=bad("d1", "d2"), transfers=tr)).flags
    assert flags["account_id"].to_list() == ["t"]
    # with no decay two hops count fully and the friend is flagged too
    flags = (
        RiskProximity(decay=1.0)
        .detect(world(as_of=AS_OF, loans=bad("d1", "d2"), transfers=tr))
        .flags
    )
    assert flags["account_id"].to_list() == ["f", "t"]


def test_threshold_edges():
    tr = [("t", "d1", 500, "2026-01-05")]
    ctx = world(as_of=AS_OF, loans=bad("d1"), transfers=tr)
    assert RiskProximity().detect(ctx).flags.is_empty()
    assert RiskProximity(min_defaulters=1.0).detect(ctx).flags.height == 1
    # 89 days late is not a default
    late = [
        ("d1", "L1", 1000, "2025-09-01", "2025-10-01", "2025-12-29", 89),
        ("d2", "L1", 1000, "2025-09-01", "2025-10-01", "2025-12-29", 89),
    ]
    tr2 = [("t", "d1", 500, "2026-01-05"), ("t", "d2", 500, "2026-01-06")]
    assert RiskProximity().detect(world(as_of=AS_OF, loans=late, transfers=tr2)).flags.is_empty()
    assert (
        RiskProximity(default_days=60)
        .detect(world(as_of=AS_OF, loans=late, transfers=tr2))
        .flags.height
        == 1
    )


def test_merchant_hub_does_not_link_its_customers():
    customers = [(f"c{i}", "m", 50, "2026-01-05") for i in range(25)]
    tr = [*customers, ("d1", "m", 50, "2026-01-06"), ("d2", "m", 50, "2026-01-06")]
    flags = RiskProximity().detect(world(as_of=AS_OF, loans=bad("d1", "d2"), transfers=tr)).flags
    assert flags.is_empty()
    flags = (
        RiskProximity(max_partners=100)
        .detect(world(as_of=AS_OF, loans=bad("d1", "d2"), transfers=tr))
        .flags
    )
    assert "m" in flags["account_id"].to_list()
