import json

from graphrisk.detectors import AssociatedTransfer
from graphrisk.testing import world

LOAN = [("a", "L1", 20000, "2026-01-01")]
SAME_DEVICE = [("a", "D1", "2026-01-01"), ("b", "D1", "2026-01-02")]


def test_loan_money_passed_to_device_linked_account():
    tr = [
        ("a", "b", 9000, "2026-01-02"),
        ("a", "b", 8000, "2026-01-05"),
        ("a", "X1", 100, "2026-01-05"),
    ]
    found = AssociatedTransfer().detect(world(loans=LOAN, devices=SAME_DEVICE, transfers=tr))
    flags = found.flags
    assert flags["account_id"].to_list() == ["a", "b"]
    ev = json.loads(flags.filter(flags["account_id"] == "a")["evidence"][0])
    assert ev["role"] == "sender" and ev["sent"] == 17000 and ev["n_transfers"] == 2
    assert ev["recipients"][0]["account_id"] == "b" and ev["recipients"][0]["link"] == ["device"]
    assert ev["loan_money"] == 20000 and ev["outflow"] == 17100
    assert set(found.groups["role"]) == {"sender", "recipient"}


def test_household_small_sums_stay_clean():
    dev = [(m, "H1", "2026-01-01") for m in ("m1", "m2", "m3")]
    tr = [("m1", "m2", 300, f"2026-01-0{d}") for d in range(1, 8)]
    assert AssociatedTransfer().detect(world(devices=dev, transfers=tr)).flags.is_empty()


def test_unlinked_recipient_and_office_ip_stay_clean():
    tr = [("a", "c", 9000, "2026-01-02"), ("a", "c", 9000, "2026-01-03")]
    office = [(f"o{i}", f"D{i}", "2026-01-01", "172.1.1.1") for i in range(20)]
    office += [("a", "DA", "2026-01-01", "172.1.1.1"), ("c", "DC", "2026-01-01", "172.1.1.1")]
    assert (
        AssociatedTransfer()
        .detect(world(loans=LOAN, devices=office, transfers=tr))
        .flags.is_empty()
    )
    # a small shared address does link them
    home = [("a", "DA", "2026-01-01", "10.0.0.1"), ("c", "DC", "2026-01-01", "10.0.0.1")]
    flags = AssociatedTransfer().detect(world(loans=LOAN, devices=home, transfers=tr)).flags
    assert json.loads(flags["evidence"][0])["recipients"][0]["link"] == ["ip"]


def test_threshold_edges_and_override():
    one = [("a", "b", 15000, "2026-01-02")]
    assert (
        AssociatedTransfer()
        .detect(world(loans=LOAN, devices=SAME_DEVICE, transfers=one))
        .flags.is_empty()
    )
    ctx = world(loans=LOAN, devices=SAME_DEVICE, transfers=one)
    assert AssociatedTransfer(min_transfers=1).detect(ctx).flags.height == 2
    # spread over more than the window: two halves 9 days apart
    apart = [("a", "b", 9000, "2026-01-02"), ("a", "b", 9000, "2026-01-11")]
    ctx = world(loans=LOAN, devices=SAME_DEVICE, transfers=apart)
    assert AssociatedTransfer().detect(ctx).flags.is_empty()
    assert AssociatedTransfer(window_days=10).detect(ctx).flags.height == 2


def test_share_of_outflow_or_loan_money_is_needed():
    # 4,000 to the linked account but 50,000 elsewhere and no loan: an ordinary payment
    tr = [
        ("a", "b", 2000, "2026-01-02"),
        ("a", "b", 2000, "2026-01-03"),
        ("a", "X1", 50000, "2026-01-03"),
    ]
    ctx = world(devices=SAME_DEVICE, transfers=tr)
    assert AssociatedTransfer().detect(ctx).flags.is_empty()
    assert AssociatedTransfer(min_share=0.05).detect(ctx).flags.height == 2


def test_each_link_is_weighed_and_the_closer_tie_scores_higher():
    tr = [("a", "b", 9000, "2026-01-02"), ("a", "b", 8000, "2026-01-05")]
    phone = AssociatedTransfer().detect(world(loans=LOAN, devices=SAME_DEVICE, transfers=tr))
    ev = json.loads(phone.flags.filter(phone.flags["account_id"] == "a")["evidence"][0])
    # one shared device, last used by both days before as_of: 0.4; no shared address
    assert ev["recipients"][0]["tie"] == {"device": 0.4, "ip": 0.0, "closeness": 0.4}
    # the same money to an account met on one address of five accounts (0.2 * 2 / 5)
    cafe = [(f"u{i}", f"P{i}", "2026-01-01", "100.0.0.9") for i in range(3)]
    cafe += [("a", "PA", "2026-01-01", "100.0.0.9"), ("b", "PB", "2026-01-01", "100.0.0.9")]
    addr = AssociatedTransfer().detect(world(loans=LOAN, devices=cafe, transfers=tr))
    ev2 = json.loads(addr.flags.filter(addr.flags["account_id"] == "a")["evidence"][0])
    assert ev2["recipients"][0]["tie"]["closeness"] == 0.08
    s_phone, s_addr = phone.flags["score"][0], addr.flags["score"][0]
    assert 0 < s_addr < s_phone <= 1
    # sent 17,000 (capped: 1), all of its outflow (85% of the loan); tie 0.4 of 0.6
    assert abs(s_phone - (1 + 1 + 0.4 / 0.6) / 3) < 1e-6
