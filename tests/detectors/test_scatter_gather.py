import json

from graphrisk.detectors import ScatterGather
from graphrisk.testing import world

HISTORY = [("h1", "h2", 50, "2025-11-01")]
MIDS = ["m1", "m2", "m3"]


def _layering(mids=MIDS, share=0.97, gather_hours=30):
    tr = [("s", m, 8000, f"2026-03-01T{10 + i:02d}:00") for i, m in enumerate(mids)]
    h = 10 + gather_hours
    tr += [(m, "k", 8000 * share, f"2026-03-{1 + h // 24:02d}T{h % 24:02d}:00") for m in mids]
    return tr


def _run(transfers, **params):
    return ScatterGather(**params).detect(world(transfers=HISTORY + transfers))


def test_scatter_then_gather_is_flagged_with_roles_and_paths():
    found = _run(_layering())
    assert found.flags["account_id"].to_list() == ["k", "m1", "m2", "m3", "s"]
    assert set(found.flags["severity"]) == {2}
    roles = dict(found.groups.select("account_id", "role").rows())
    assert roles == {"s": "source", "m1": "intermediary", "m2": "intermediary",
                     "m3": "intermediary", "k": "sink"}  # fmt: skip
    ev = json.loads(found.flags["evidence"][0])
    assert ev["paths"] == [["s", "m1", "k"], ["s", "m2", "k"], ["s", "m3", "k"]]
    assert ev["scattered"] == 24000 and ev["gathered"] == 23280 and ev["new_share"] == 1.0
    assert ev["window"]["start"] == "2026-03-01T10:00:00"
    assert ev["threshold"]["min_intermediaries"] == 3


def test_thresholds_edges_and_override():
    assert _run(_layering(mids=MIDS[:2])).flags.is_empty()
    assert _run(_layering(mids=MIDS[:2]), min_intermediaries=2).flags.height == 4
    assert _run(_layering(share=0.7)).flags.is_empty()  # forwards too little
    assert _run(_layering(share=0.8)).flags.height == 5  # exactly the share
    # gathered after 3 days: past the fast tempo, found at the slow one
    assert _run(_layering(gather_hours=80), slow_scatter_hours=0).flags.is_empty()
    assert _run(_layering(gather_hours=80), gather_days=4.0).flags.height == 5
    slow = _run(_layering(gather_hours=80))
    assert slow.flags.height == 5


def test_two_tempos_name_the_window_that_fired_and_fast_scores_higher():
    fast = _run(_layering(gather_hours=30))
    slow = _run(_layering(gather_hours=24 * 10))  # forwarded ten days later
    ev_fast = json.loads(fast.flags["evidence"][0])
    ev_slow = json.loads(slow.flags["evidence"][0])
    assert ev_fast["tempo"] == "fast" and ev_fast["threshold"]["gather_days"] == 3.0
    assert ev_slow["tempo"] == "slow" and ev_slow["threshold"]["gather_days"] == 21.0
    assert ev_slow["threshold"]["scatter_hours"] == 168.0
    assert fast.flags["score"].min() > slow.flags["score"].max()
    assert slow.flags["score"].min() > 0 and fast.flags["score"].max() <= 1
    # found at both tempos: reported once, at the fast one
    assert fast.flags.height == 5 and fast.groups["group_id"].n_unique() == 1
    # past the slow tempo too: nothing
    assert _run(_layering(gather_hours=24 * 25)).flags.is_empty()
    # a scatter spread over five days: only the slow window holds it
    spread = [("s", m, 8000, f"2026-03-0{1 + 2 * i}T10:00") for i, m in enumerate(MIDS)]
    spread += [(m, "k", 7800, "2026-03-09T10:00") for m in MIDS]
    found = _run(spread)
    assert json.loads(found.flags["evidence"][0])["tempo"] == "slow"
    assert _run(spread, slow_scatter_hours=0).flags.is_empty()


def test_payroll_stays_clean():
    months = ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    emp = [f"e{i}" for i in range(10)]
    tr = [("boss", e, 6000, f"{m}-01T10:00") for m in months for e in emp]
    # employees spend most of it at many different shops within days
    tr += [(e, f"shop{(i + j) % 25}", 1700, f"{m}-02T12:00") for m in months
           for i, e in enumerate(emp) for j in range(3)]  # fmt: skip
    assert _run(tr).flags.is_empty()
    # old relations: even a common sink (everyone pays the same landlord) stays clean
    rent = [(e, "landlord", 5000, f"{m}-02T12:00") for m in months for e in emp]
    pay = [t for t in tr if t[0] == "boss"]
    assert _run(pay + rent).flags.is_empty()
