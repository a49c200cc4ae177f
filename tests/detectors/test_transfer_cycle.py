import json

import numpy as np
import pytest

from graphrisk.detectors import TransferCycle
from graphrisk.detectors._paths import window_cycles
from graphrisk.errors import UsageError
from graphrisk.testing import world

# an unrelated old transfer so that ~4 months of history precede the loops below
HISTORY = [("h1", "h2", 50, "2025-11-01")]
LOOP = [
    ("a", "b", 10000, "2026-03-01T09:00"),
    ("b", "c", 9800, "2026-03-02T09:00"),
    ("c", "d", 9600, "2026-03-03T09:00"),
    ("d", "a", 9400, "2026-03-04T09:00"),
]
MONTHS = ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]


def _flags(transfers, **params):
    return TransferCycle(**params).detect(world(transfers=HISTORY + transfers))


def test_new_relation_loop_is_flagged_with_path_and_transfers():
    found = _flags(LOOP)
    assert found.flags["account_id"].to_list() == ["a", "b", "c", "d"]
    assert set(found.flags["code"]) == {"TRANSFER_CYCLE"} and set(found.flags["severity"]) == {2}
    ev = json.loads(found.flags["evidence"][0])
    assert ev["path"] == ["a", "b", "c", "d", "a"]
    assert ev["transfers"] == ["tr000001", "tr000002", "tr000003", "tr000004"]
    assert ev["amounts"] == [10000, 9800, 9600, 9400]
    assert ev["time_respecting"] and ev["amounts_close"] and ev["new_share"] == 1.0
    assert ev["window"] == {"start": "2026-03-01T09:00:00", "end": "2026-03-04T09:00:00"}
    assert ev["threshold"]["window_days"] == 15.0
    roles = dict(found.groups.select("account_id", "role").rows())
    assert roles == {"a": "origin", "b": "member", "c": "member", "d": "member"}
    assert found.groups["kind"].unique().to_list() == ["transfer_cycle"]


def test_loop_that_only_closes_in_window_scores_lower():
    shuffled = [LOOP[2], LOOP[0], LOOP[3], LOOP[1]]
    shuffled = [(s, d, a, t) for (s, d, a, _), (_, _, _, t) in zip(shuffled, LOOP, strict=True)]
    loose = _flags(shuffled).flags
    tight = _flags(LOOP).flags
    assert loose.height == 4
    assert not json.loads(loose["evidence"][0])["time_respecting"]
    assert loose["score"][0] < tight["score"][0]


def test_friends_paying_round_every_month_stay_clean():
    friends = [
        (s, d, 300 + 40 * i, f"{m}-0{i + 1}")
        for m in MONTHS
        for i, (s, d) in enumerate([("x", "y"), ("y", "z"), ("z", "x")])
    ]
    assert _flags(friends).flags.is_empty()
    # the same friends' first round alone (no months of repetition) would be a loop
    assert _flags([f for f in friends if f[3].startswith("2026-03")]).flags.height == 3


def test_loan_between_friends_repaid_weeks_later_stays_clean():
    tr = [("p", "q", 2000, "2026-03-01"), ("q", "p", 2000, "2026-03-22")]
    assert _flags(tr).flags.is_empty()
    assert _flags(tr, min_length=2).flags.is_empty()
    # repaid the next day it is a round trip inside the window: only with min_length=2
    quick = [tr[0], ("q", "p", 2000, "2026-03-02")]
    assert _flags(quick).flags.is_empty()
    assert _flags(quick, min_length=2).flags.height == 2


def test_window_edge_and_override():
    late = [*LOOP[:3], ("d", "a", 9400, "2026-03-16T09:00")]  # span exactly 15 days
    assert _flags(late).flags.height == 4
    later = [*LOOP[:3], ("d", "a", 9400, "2026-03-16T09:01")]
    assert _flags(later).flags.is_empty()
    assert _flags(later, window_days=20).flags.height == 4
    assert _flags(LOOP, max_length=3).flags.is_empty()


def test_standing_relation_hop_limits():
    # one hop of four is a standing monthly relation: three new relations closed by an old
    # one is a square of friends of friends, clean by default (min_fresh_beside_old = 4)
    # (non-fresh hops are searched only between accounts that have fresh transfers)
    standing = [("d", "a", 500, f"{m}-20") for m in MONTHS[:3]]
    assert _flags(LOOP + standing).flags.is_empty()
    assert _flags(LOOP + standing, min_fresh_beside_old=3).flags.height == 4
    # four new relations and the old one: a chain that comes back, flagged
    five = [*LOOP[:3], ("d", "e", 9400, "2026-03-04T09:00"), ("e", "a", 9200, "2026-03-05T09:00")]
    old = [("e", "a", 500, f"{m}-20") for m in MONTHS[:3]]
    found = _flags(five + old)
    assert found.flags.height == 5
    ev = json.loads(found.flags["evidence"][0])
    assert ev["new_share"] == 0.8 and ev["threshold"]["min_fresh_beside_old"] == 4
    # two standing hops of four: 2/4 fresh is below min_new_share
    standing2 = standing + [("b", "c", 500, f"{m}-20") for m in MONTHS[:3]]
    assert _flags(LOOP + standing2, min_fresh_beside_old=1).flags.is_empty()
    assert _flags(LOOP + standing2, min_new_share=0.5, min_fresh_beside_old=2).flags.height == 4


def test_bad_parameter_is_a_usage_error():
    with pytest.raises(UsageError):
        TransferCycle(max_length=1)


def _complete(n: int, t0: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A complete directed graph on ``n`` nodes, every transfer inside one day from ``t0``."""
    s, d = np.nonzero(~np.eye(n, dtype=bool))
    return s, d, t0 + np.linspace(0, 1, s.size)


def test_kernel_caps_are_reported_per_cycle():
    s, d, t = _complete(6)
    fresh = np.ones(s.size, bool)
    big = {"max_paths_per_start": 10**6, "max_cycles_per_start": 10**6}
    full = window_cycles(s, d, t, fresh, window=2.0, max_len=6, max_branch=10, **big)
    capped = window_cycles(s, d, t, fresh, window=2.0, max_len=6, max_branch=10)
    assert not full.truncated and not full.capped.any()
    assert capped.truncated and 0 < capped.length.size < full.length.size
    # the default budget keeps at most 2 loops per start transfer
    starts = capped.edges[:, 0]
    assert np.bincount(starts).max() <= 2
    assert capped.capped.any()
    # a branch cut is a cap too
    narrow = window_cycles(s, d, t, fresh, window=2.0, max_len=6, max_branch=2, **big)
    assert narrow.truncated and narrow.capped.any()
    # each cycle found once: no two rows with the same edges
    rows = {tuple(sorted(r[r >= 0])) for r in full.edges}
    assert len(rows) == full.length.size


def test_a_dense_burst_does_not_hide_a_loop_elsewhere():
    # 40 accounts all paying each other within a day, and months later a clean 6-hop loop
    s, d, t = _complete(40)
    loop_nodes = np.arange(100, 106)
    ls, ld = loop_nodes, np.roll(loop_nodes, -1)
    lt = 120 + np.arange(6) * 0.5
    src, dst, tt = np.concatenate([s, ls]), np.concatenate([d, ld]), np.concatenate([t, lt])
    fresh = np.ones(src.size, bool)
    # a small memory cap: the burst fills whole batches, the loop still gets its own budget
    cyc = window_cycles(src, dst, tt, fresh, window=15.0, max_len=12, max_paths=5000)
    burst_edges = s.size
    later = cyc.edges[:, 0] >= burst_edges
    assert cyc.truncated and later.sum() == 1
    found = cyc.edges[later][0]
    assert sorted(found[found >= 0].tolist()) == list(range(burst_edges, burst_edges + 6))
    assert not cyc.capped[later][0]  # its own search was complete


def test_budget_keeps_the_loop_that_passes_money_on():
    # a start transfer with many onward options: the time-respecting, close-amount path wins
    src = [0] + [1] * 9 + [2, 3]
    dst = [1, *range(10, 18), 2, 3, 0]
    t = [0.0] + [0.1] * 8 + [0.5] + [0.6, 0.7]
    amount = [1000.0] + [50.0] * 8 + [990.0] + [980.0, 970.0]
    order = np.argsort(t, kind="stable")
    s, d, tt, a = (np.asarray(x)[order] for x in (src, dst, t, amount))
    cyc = window_cycles(
        s, d, tt, np.ones(s.size, bool), window=5.0, max_len=6, max_branch=16,
        max_paths_per_start=1,
        amount=a,
    )  # fmt: skip
    assert cyc.length.tolist() == [4] and cyc.capped.all()


def test_score_is_the_mean_of_five_signs():
    # LOOP: all fresh, time-respecting, amounts close, 4 fresh hops (0.5), span 3 of 15 days
    s = _flags(LOOP).flags["score"][0]
    assert abs(s - (1 + 1 + 1 + 0.5 + (1 - 3 / 15)) / 5) < 1e-4
    # a longer chain of new relations, as fast, scores higher; everything stays in 0..1
    six = [(a, b, 10000 - 200 * i, f"2026-03-0{1 + i // 2}T{9 + i:02d}:00")
           for i, (a, b) in enumerate(zip("abcdef", "bcdefa", strict=True))]  # fmt: skip
    s6 = _flags(six).flags["score"][0]
    assert s < s6 <= 1
    # the same loop with amounts that do not pass on scores lower
    odd = [(a, b, x, t) for (a, b, _, t), x in zip(LOOP, [10000, 3000, 7000, 500], strict=True)]
    assert 0 < _flags(odd).flags["score"][0] < s
