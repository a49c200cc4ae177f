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
    assert ev["threshold"]["min_score"] == 1.0
    # two weak links (one login each on a shared device / one transfer): 0.5 + a bit each
    assert all(0.5 <= d["weight"] < 1.0 for d in ev["defaulters"])
    assert ev["weight_sum"] == sum(d["weight"] for d in ev["defaulters"])
    # score (0..1): the mean of weight_sum / 2 and the strongest tie
    top = max(d["weight"] for d in ev["defaulters"])
    assert abs(flags["score"][0] - (min(1, ev["weight_sum"] / 2) + top) / 2) < 1e-6


def test_friend_of_the_linked_account_stays_clean():
    tr = [
        ("t", "d1", 500, "2026-01-05"),
        ("t", "d2", 500, "2026-01-06"),
        ("f", "t", 200, "2026-01-07"),
    ]
    flags = RiskProximity().detect(world(as_of=AS_OF, loans=bad("d1", "d2"), transfers=tr)).flags
    assert flags["account_id"].to_list() == ["t"]
    # t: two one-way links, 0.7 each. f two links away: decay (0.25) * 0.7 * 0.7 per
    # defaulter, 0.245 in all. Counted fully (decay 1: 0.98) with a 0.9 bar it is flagged
    flags = (
        RiskProximity(decay=1.0, min_score=0.9)
        .detect(world(as_of=AS_OF, loans=bad("d1", "d2"), transfers=tr))
        .flags
    )
    assert flags["account_id"].to_list() == ["f", "t"]


def test_threshold_edges():
    tr = [("t", "d1", 500, "2026-01-05")]
    ctx = world(as_of=AS_OF, loans=bad("d1"), transfers=tr)
    assert RiskProximity().detect(ctx).flags.is_empty()
    # one transfer one way: closeness weight_one_way = 0.4, weight 0.5 + 0.5 * 0.4 = 0.7
    assert RiskProximity(min_score=0.7).detect(ctx).flags.height == 1
    assert RiskProximity(min_score=0.71).detect(ctx).flags.is_empty()
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


# ------------------------------------------------------------------------ tie strength
# One defaulter d, an account t tied to it in one way or another. The world is built so
# each case differs from the next by one part of the tie.

MONTHS = ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02"]


def _logins(acc: str, device: str, ip: str, months=MONTHS) -> list[tuple]:
    return [(acc, device, f"{m}-1{i}", ip) for m in months for i in range(2)]


def _prox(devices=(), transfers=(), **params):
    ctx = world(as_of=AS_OF, loans=bad("d"), devices=list(devices), transfers=list(transfers))
    flags = RiskProximity(**params).detect(ctx).flags
    return {
        r["account_id"]: (json.loads(r["evidence"])["weight_sum"], json.loads(r["evidence"]))
        for r in flags.iter_rows(named=True)
    }


HOME = [*_logins("d", "Pd", "10.0.0.1"), *_logins("t", "Pd", "10.0.0.1")]
BOTH_WAYS = [(s, r, 1500, f"{m}-05") for m in MONTHS for s, r in (("t", "d"), ("d", "t"))]


def test_one_defaulter_behind_a_close_tie_is_enough():
    out = _prox(HOME, BOTH_WAYS)
    assert set(out) == {"t"}
    score, ev = out["t"]
    assert score == 1.0 and ev["n_defaulters"] == 1 and ev["strongest_tie"] == 1.0
    tie = ev["defaulters"][0]
    assert tie["link"] == ["device", "ip", "transfer"] and tie["hops"] == 1
    parts = tie["parts"]
    assert parts["device"] == 0.4 and parts["ip"] == 0.2 and parts["money"] == 0.6
    assert parts["often"] == 0.2 and parts["large"] == 0.2  # 10 transfers, 15,000 in all


def test_money_both_ways_often_and_much_alone_is_a_close_tie():
    out = _prox(transfers=BOTH_WAYS)
    assert out["t"][0] == 1.0
    # the same money one way only, and seldom: not enough
    one_way = [x for x in BOTH_WAYS if x[0] == "t"][:2]
    assert _prox(transfers=one_way) == {}


def test_relative_on_the_defaulters_phone_without_money_is_a_lookalike():
    # logs in on the defaulter's phone at its home for months, no money between them:
    # closeness 0.4 + 0.2 = 0.6, weight 0.8 < 1
    assert _prox(HOME) == {}
    # ... but with a second defaulter near, the two add up
    ctx = world(
        as_of=AS_OF,
        loans=bad("d", "d2"),
        devices=HOME,
        transfers=[("t", "d2", 300, "2026-02-01")],
    )
    flags = RiskProximity().detect(ctx).flags
    assert flags["account_id"].to_list() == ["t"]
    assert json.loads(flags["evidence"][0])["weight_sum"] == 0.8 + 0.7


def test_an_old_shared_address_is_a_weak_tie():
    old = [("d", "Pd", "2025-09-10", "10.0.0.9"), ("t", "Pt", "2025-09-11", "10.0.0.9")]
    assert _prox(old) == {}
    # its weight: 0.5 + 0.5 * 0.2 * old_factor (0.5) = 0.55, seen with a lower bar
    out = _prox(old, min_score=0.5)
    assert out["t"][1]["defaulters"][0]["weight"] == 0.55
    # the same address shared recently weighs more
    recent = [("d", "Pd", "2026-02-10", "10.0.0.9"), ("t", "Pt", "2026-02-11", "10.0.0.9")]
    assert _prox(recent, min_score=0.5)["t"][1]["defaulters"][0]["weight"] == 0.6


def test_a_household_device_without_a_defaulter_stays_clean():
    fam = [*_logins("p", "Pf", "10.0.0.2"), *_logins("q", "Pf", "10.0.0.2"),
           *_logins("r", "Pf", "10.0.0.2")]  # fmt: skip
    tr = [("p", "q", 2000, f"{m}-03") for m in MONTHS] + [("q", "p", 500, "2026-01-09")]
    assert _prox(fam, tr) == {}


def test_how_recently_and_how_often_change_the_weight():
    recent = [("t", "d", 800, "2026-02-05"), ("d", "t", 700, "2026-02-08")]
    old = [("t", "d", 800, "2025-10-05"), ("d", "t", 700, "2025-10-08")]
    w_recent = _prox(transfers=recent, min_score=0.5)["t"][1]["defaulters"][0]["weight"]
    w_old = _prox(transfers=old, min_score=0.5)["t"][1]["defaulters"][0]["weight"]
    assert w_recent == 0.8 and w_old == 0.65  # both ways 0.6, halved when 90+ days old
    often = recent + [("t", "d", 100, f"2026-02-1{i}") for i in range(3)]
    assert _prox(transfers=often, min_score=0.5)["t"][1]["defaulters"][0]["weight"] == 0.9


def test_two_hops_weigh_by_both_ties():
    # t is closely tied to d; u is closely tied to t: decay (0.25) * 1.0 * 1.0
    tu = [(s, r, 1500, f"{m}-07") for m in MONTHS for s, r in (("u", "t"), ("t", "u"))]
    out = _prox(HOME, BOTH_WAYS + tu, min_score=0.25)
    score, ev = out["u"]
    assert score == 0.25 and ev["n_two_hops"] == 1
    assert ev["defaulters"][0]["via"] == "t" and ev["defaulters"][0]["ties"] == [1.0, 1.0]
    assert _prox(HOME, BOTH_WAYS + tu, min_score=0.25, decay=0.5)["u"][0] == 0.5


def test_scores_rank_a_close_tie_above_two_weak_ones():
    weak = world(
        as_of=AS_OF,
        loans=bad("d", "d2"),
        transfers=[("w", "d", 300, "2026-02-01"), ("w", "d2", 300, "2026-02-02")],
    )
    close = world(as_of=AS_OF, loans=bad("d"), devices=HOME, transfers=BOTH_WAYS)
    s_weak = RiskProximity().detect(weak).flags["score"][0]
    s_close = RiskProximity().detect(close).flags["score"][0]
    assert 0 < s_weak < s_close <= 1
    assert s_close == 0.75 and s_weak == (min(1, 1.4 / 2) + 0.7) / 2
