"""Planted risky patterns and legitimate look-alikes, each built for all its instances at once.

Every builder takes a :class:`~graphrisk.generate._world.World`, draws its accounts with
:meth:`World.take` (so an account carries one pattern, except the defaulters that
``risk_proximity`` links to, which are ``overdue_history``), appends events and labels them.
Each builder loops at most over a small number of positions (chain length, months), never over
accounts. Sizes scale with the world: ``max(floor, fraction * n)`` accounts per pattern.
"""

from __future__ import annotations

import numpy as np

from graphrisk.generate._world import (
    DAY,
    HOUR,
    LENDER_W,
    N_LENDERS,
    OFFICE_NET,
    RING_NET,
    SHARED_NET,
    World,
    city_ip,
    group_cumsum,
    ragged,
)

#: The labelled shapes (``labels.variant``) each pattern below is planted in, in the order
#: accounts are dealt to them (account ``i`` of a pattern gets variant ``i % len``).
VARIANTS: dict[str, tuple[str, ...]] = {
    "multi_lender": ("fast", "month", "slow", "large"),
    "small_loan_burst": ("hours", "week", "month", "large"),
    "application_burst": ("hours", "week", "month"),
    "ip_hopping": ("hours", "two_days", "week"),
    "traveller": ("two_weeks", "three_in_a_week", "day_trip"),
    "regular_borrower": ("monthly", "fortnightly", "refinanced_once"),
    "reformed_borrower": ("month", "fast", "slow"),
}

PLANTED_FRAC = 0.006  # 24 accounts per planted pattern in a 4,000-account world
FLOOR = 12


def _count(w: World, frac: float = PLANTED_FRAC, floor: int = FLOOR) -> int:
    return max(floor, round(w.n * frac))


def _groups(w: World, lo: int, hi: int, target: int, p: np.ndarray | None = None,
            min_groups: int = 2):  # fmt: skip
    """Group sizes in ``[lo, hi]`` whose sum reaches ``target``; members; (group, pos)."""
    sizes = w.rng.choice(np.arange(lo, hi + 1), max(min_groups, 2 * target // lo + 2), p=p)
    k = max(min_groups, int(np.searchsorted(np.cumsum(sizes), target)) + 1)
    sizes = sizes[:k]
    members = w.take(int(sizes.sum()))
    g, pos = ragged(sizes)
    starts = np.cumsum(sizes) - sizes
    return sizes, members, g, pos, starts


def _stop_base_loans(w: World, acct: np.ndarray, start: np.ndarray) -> None:
    """Ordinary loans of these accounts only well before their pattern's window."""
    w.base_until[acct] = np.minimum(w.base_until[acct], np.maximum(start - 45 * DAY, 0))


def _variant(m: int, pattern: str) -> np.ndarray:
    """Variant index of each of ``m`` accounts (see :data:`VARIANTS`)."""
    return np.arange(m) % len(VARIANTS[pattern])


def _label_variants(w: World, acc: np.ndarray, var: np.ndarray, pattern: str) -> None:
    for v, name in enumerate(VARIANTS[pattern]):
        w.label(acc[var == v], pattern, name)


def _pick(var: np.ndarray, *choices: np.ndarray) -> np.ndarray:
    """Per row, the value of the row's variant: ``choices[var[i]][i]``."""
    return np.choose(var, choices)


def _split(total: np.ndarray, g: np.ndarray, frac: np.ndarray, rng) -> np.ndarray:
    """Split ``total[i] * frac[i]`` into random parts for the rows of group ``i``."""
    wgt = rng.gamma(2.0, size=g.size)
    s = np.bincount(g, weights=wgt)
    return np.floor(total[g] * frac[g] * wgt / s[g] * 100) / 100


# =============================================================================== planted
def multi_lender(w: World) -> None:
    """Distinct lenders in a window, in four variants: ``fast`` 4-6 within 1-6 days (the
    smallest burst that counts), ``month`` 5-8 within 14-28 days, ``slow`` 7-9 spread evenly
    over 50-85 days, ``large`` 10-16 within 7-30 days; the window ends in the last 60 days."""
    rng, T = w.rng, w.T
    m = _count(w, PLANTED_FRAC * 2, 2 * FLOOR)
    acc = w.take(m)
    var = _variant(m, "multi_lender")
    k = _pick(var, rng.integers(4, 7, m), rng.integers(5, 9, m), rng.integers(7, 10, m),
              rng.integers(10, 17, m))  # fmt: skip
    lend = w.lenders(m, 16)
    win = _pick(var, w.days_(1, 6, m), w.days_(14, 28, m), w.days_(50, 85, m), w.days_(7, 30, m))
    start = T - win - w.days_(2, 60, m)
    g, pos = ragged(k)
    even = start[g] + win[g] * pos // np.maximum(k[g] - 1, 1) + w.days_(-0.5, 0.5, g.size)
    anywhere = start[g] + (rng.random(g.size) * win[g]).astype(np.int64)
    issued = np.where(var[g] == 2, np.clip(even, start[g], start[g] + win[g]), anywhere)
    amount = w.lognormal(3000, 0.5, g.size, 500, 20000, 100)
    term = rng.choice(np.array([30, 60, 90]), g.size)
    w.loans_on_time(acc[g], lend[g, pos], amount, issued, term)
    _stop_base_loans(w, acc, start)
    _label_variants(w, acc, var, "multi_lender")


def loan_stacking(w: World) -> None:
    """4-6 loans from different lenders, evenly spread over 45-90 days, all outstanding."""
    rng, T = w.rng, w.T
    m = _count(w)
    acc = w.take(m)
    k = rng.integers(4, 7, m)
    lend = w.lenders(m, 6)
    span = w.days_(45, 90, m)
    start = T - span - w.days_(3, 30, m)
    g, pos = ragged(k)
    # spacing >= 9 days and jitter <= 0.5 day: at most 2 issues (so lenders) in any 14 days
    issued = start[g] + span[g] * pos // (k[g] - 1) + w.days_(-0.5, 0.5, g.size)
    amount = w.lognormal(6000, 0.5, g.size, 1000, 50000, 100)
    due = issued + w.days_(180, 360, g.size)
    w.add_loans(acc[g], lend[g, pos], amount, issued, due, np.full(g.size, -1))
    _stop_base_loans(w, acc, start)
    w.label(acc, "loan_stacking")


def small_loan_burst(w: World) -> None:
    """Loans of 100-2,000 from 1-3 lenders, in four variants: ``hours`` 3-5 within 2-20
    hours, ``week`` 6-12 within 7 days, ``month`` 8-14 spread evenly over 18-28 days,
    ``large`` 15-25 within 7 days."""
    rng, T = w.rng, w.T
    m = _count(w, PLANTED_FRAC * 2, 2 * FLOOR)
    acc = w.take(m)
    var = _variant(m, "small_loan_burst")
    k = _pick(var, rng.integers(3, 6, m), rng.integers(6, 13, m), rng.integers(8, 15, m),
              rng.integers(15, 26, m))  # fmt: skip
    nl = rng.integers(1, 4, m)
    lend = w.lenders(m, 3)
    span = _pick(var, w.days_(2 / 24, 20 / 24, m), w.days_(1, 7, m), w.days_(18, 28, m),
                 w.days_(3, 7, m))  # fmt: skip
    start = T - span - w.days_(1, 80, m)
    g, pos = ragged(k)
    even = start[g] + span[g] * pos // np.maximum(k[g] - 1, 1)
    anywhere = start[g] + (rng.random(g.size) * span[g]).astype(np.int64)
    issued = np.where(var[g] == 2, even, anywhere)
    amount = w.lognormal(600, 0.6, g.size, 100, 2000, 10)
    term = rng.choice(np.array([7, 14, 21, 30]), g.size)
    w.loans_on_time(acc[g], lend[g, pos % nl[g]], amount, issued, term)
    _stop_base_loans(w, acc, start)
    _label_variants(w, acc, var, "small_loan_burst")


def application_burst(w: World) -> None:
    """Applications to many lenders, in three variants: ``hours`` 5-9 to 4-6 lenders within
    3-20 hours, ``week`` 10-25 to 6-10 within 7 days, ``month`` 16-30 to 8-12 spread evenly
    over 20-28 days; 30% get one loan afterwards."""
    rng, T = w.rng, w.T
    m = _count(w, PLANTED_FRAC * 1.5, 18)
    acc = w.take(m)
    var = _variant(m, "application_burst")
    k = _pick(var, rng.integers(5, 10, m), rng.integers(10, 26, m), rng.integers(16, 31, m))
    nl = _pick(var, rng.integers(4, 7, m), rng.integers(6, 11, m), rng.integers(8, 13, m))
    nl = np.minimum(nl, k)
    lend = w.lenders(m, 12)
    span = _pick(var, w.days_(3 / 24, 20 / 24, m), w.days_(1, 7, m), w.days_(20, 28, m))
    start = T - span - w.days_(1, 80, m)
    g, pos = ragged(k)
    even = start[g] + span[g] * pos // np.maximum(k[g] - 1, 1)
    anywhere = start[g] + (rng.random(g.size) * span[g]).astype(np.int64)
    w.add_apps(acc[g], lend[g, pos % nl[g]], np.where(var[g] == 2, even, anywhere))
    got = rng.random(m) < 0.3
    a = acc[got]
    w.loans_on_time(a, lend[got, 0], w.lognormal(3000, 0.5, a.size, 500, 20000, 100),
                    start[got] + span[got] + w.days_(0.5, 2, a.size),
                    rng.choice([30, 60, 90], a.size))  # fmt: skip
    _stop_base_loans(w, acc, start)
    _label_variants(w, acc, var, "application_burst")


def ip_hopping(w: World) -> None:
    """Logins from distinct cities (and addresses), own device, one visit per city, in
    three variants: ``hours`` 4-5 cities within 4-11 hours, ``two_days`` 5-8 within 46
    hours, ``week`` 6-10 within 4-6.5 days."""
    rng, T = w.rng, w.T
    m = _count(w, PLANTED_FRAC * 1.5, 18)
    acc = w.take(m)
    var = _variant(m, "ip_hopping")
    k = _pick(var, rng.integers(4, 6, m), rng.integers(5, 9, m), rng.integers(6, 11, m))
    cities = w.cities(m, 10, avoid=w.home_city[acc])
    span = _pick(var, w.days_(4 / 24, 11 / 24, m), np.full(m, 46 * HOUR), w.days_(4, 6.5, m))
    start = T - span - w.days_(1, 85, m)
    g, pos = ragged(k)  # one visit per city, in order
    per = 1 + (rng.random(g.size) < 0.5)
    v, _ = ragged(per)
    gv, pv = g[v], pos[v]
    slot = span[gv] // k[gv]
    ts = start[gv] + pv * slot + (rng.random(v.size) * slot).astype(np.int64)
    city = cities[gv, pv]
    w.add_logins(acc[gv], acc[gv], ts, city_ip(rng, city), city)
    _label_variants(w, acc, var, "ip_hopping")


def overdue_history(w: World) -> np.ndarray:
    """A loan 30-75 days late inside the last 180 days; 45% default (90+ days, unrepaid).

    Returns the defaulters (at least 10), for :func:`risk_proximity`.
    """
    rng, T = w.rng, w.T
    m = _count(w)
    acc = w.take(m)
    n_def = max(10, round(0.45 * m))
    dflt = np.zeros(m, dtype=bool)
    dflt[:n_def] = True
    due = np.where(dflt, T - w.days_(95, 170, m), T - w.days_(40, 170, m))
    late = np.minimum(w.days_(30, 75, m), T - DAY - due)
    repaid = np.where(dflt, -1, due + late)
    issued = due - w.days_(30, 90, m)
    lend = rng.choice(N_LENDERS, m, p=LENDER_W)
    w.add_loans(acc, lend, w.lognormal(5000, 0.6, m, 1000, 30000, 100), issued, due, repaid)
    w.label(acc, "overdue_history")
    return acc[dflt]


def risk_proximity(w: World, defaulters: np.ndarray) -> None:
    """Otherwise clean accounts linked to 2-3 defaulters by a shared device or transfers."""
    rng, T = w.rng, w.T
    m = _count(w)
    acc = w.take(m)
    k = rng.integers(2, 4, m)
    keys = rng.random((m, defaulters.size))
    pick = np.argsort(keys, axis=1)[:, :3]
    g, pos = ragged(k)
    a, d = acc[g], defaulters[pick[g, pos]]
    dev_link = rng.random(g.size) < 0.4
    # at most two targets log in on one defaulter's phone (family, a close friend); more
    # would make that phone a small device farm, which is another pattern: the rest of those
    # links become transfer links
    idx = np.flatnonzero(dev_link)
    order = idx[np.argsort(d[idx], kind="stable")]
    ds = d[order]
    first = np.r_[True, ds[1:] != ds[:-1]] if ds.size else np.zeros(0, dtype=bool)
    rank = np.arange(ds.size) - np.maximum.accumulate(np.where(first, np.arange(ds.size), 0))
    dev_link[order[rank >= 2]] = False
    # device links: 2-4 logins on the defaulter's own device at the defaulter's home
    da, dd = a[dev_link], d[dev_link]
    x, _ = ragged(rng.integers(2, 5, da.size))
    w.add_logins(da[x], dd[x], T - w.days_(1, 180, x.size), w.home_ip[dd[x]], w.home_city[dd[x]])
    # transfer links: 1-3 transfers either way
    ta, td = a[~dev_link], d[~dev_link]
    x, _ = ragged(rng.integers(1, 4, ta.size))
    out = rng.random(x.size) < 0.5
    w.add_transfers(np.where(out, ta[x], td[x]), np.where(out, td[x], ta[x]),
                    w.lognormal(1000, 0.8, x.size, 100, 8000, 0.01),
                    T - w.days_(1, 180, x.size))  # fmt: skip
    w.label(acc, "risk_proximity")


def loan_recycling(w: World) -> None:
    """(a) chains of 3-5 loans, each repaying the previous one; (b) X's loan repays Y's."""
    rng, T = w.rng, w.T
    m = _count(w)
    # (a) direct chains -------------------------------------------------------------
    md = m // 2
    acc = w.take(md)
    k = rng.integers(3, 6, md)
    lend = w.lenders(md, 5)
    cols = {c: np.zeros((md, 5), dtype=np.int64) for c in ("issued", "due", "repaid")}
    amt = np.zeros((md, 5))
    amt[:, 0] = w.lognormal(5000, 0.5, md, 2000, 30000, 10)
    t = np.zeros(md, dtype=np.int64)
    for j in range(5):
        if j:
            amt[:, j] = np.round(amt[:, j - 1] * rng.uniform(0.95, 1.05, md), -1)
        cols["issued"][:, j] = t
        cols["due"][:, j] = t + w.days_(14, 28, md)
        cols["repaid"][:, j] = cols["due"][:, j] - w.days_(0, 2, md)
        t = cols["repaid"][:, j] - w.days_(0, 3, md)  # next loan 0-3 days before repayment
    last = cols["issued"][np.arange(md), k - 1]
    shift = T - w.days_(5, 40, md) - last
    g, pos = ragged(k)
    issued = cols["issued"][g, pos] + shift[g]
    due = cols["due"][g, pos] + shift[g]
    repaid = cols["repaid"][g, pos] + shift[g]
    w.add_loans(acc[g], lend[g, pos], amt[g, pos], issued, due, repaid)
    _stop_base_loans(w, acc, shift)
    w.label(acc, "loan_recycling")
    # (b) linked pairs: X borrows, passes 80-100% to Y (same device), Y repays its loan ----
    mp = max(5, (m - md) // 2)
    x = w.take(mp)
    y = w.take(mp)
    nx, _ = ragged(rng.integers(2, 5, mp))
    w.add_logins(x[nx], y[nx], T - w.days_(1, 150, nx.size), w.home_ip[y[nx]], w.home_city[y[nx]])
    r = rng.integers(2, 4, mp)
    gap = w.days_(20, 35, mp)
    base = T - r * gap - w.days_(3, 15, mp)
    g, pos = ragged(r)
    t = base[g] + (pos + 1) * gap[g]
    ly = rng.choice(N_LENDERS, g.size, p=LENDER_W)
    lx = (ly + rng.integers(1, N_LENDERS, g.size)) % N_LENDERS
    a_y = w.lognormal(5000, 0.5, g.size, 2000, 30000, 100)
    a_x = np.round(a_y * rng.uniform(0.97, 1.1, g.size), -2)
    w.loans_on_time(x[g], lx, a_x, t, rng.integers(30, 61, g.size))
    two = rng.random(g.size) < 0.5
    parts, part = ragged(1 + two)
    frac = rng.uniform(0.8, 1.0, g.size)
    share = np.where(two[parts], np.where(part == 0, 0.6, 0.4), 1.0)
    tr0 = t + w.days_(0.05, 1.5, g.size)
    tt = tr0[parts] + part * 2 * HOUR
    w.add_transfers(
        x[g][parts], y[g][parts], np.floor(a_x[parts] * frac[parts] * share * 100) / 100, tt
    )
    last_tr = tr0 + two * 2 * HOUR
    y_repaid = last_tr + w.days_(0.1, 2.5, g.size)
    y_issued = t - w.days_(20, 60, g.size)
    y_due = t + w.days_(0, 3, g.size)
    w.add_loans(y[g], ly, a_y, y_issued, y_due, y_repaid)
    w.label(np.r_[x, y], "loan_recycling")


def fan_out_after_loan(w: World) -> None:
    """A loan, then within 1-3 days 5-15 transfers moving 70-100% of it to new accounts."""
    rng, T = w.rng, w.T
    m = _count(w)
    acc = w.take(m)
    amount = w.lognormal(10000, 0.5, m, 3000, 50000, 100)
    t = T - w.days_(5, 90, m)
    w.loans_on_time(acc, rng.choice(N_LENDERS, m, p=LENDER_W), amount, t,
                    rng.choice([60, 90, 180], m))  # fmt: skip
    g, _ = ragged(rng.integers(5, 16, m))
    parts = _split(amount, g, rng.uniform(0.7, 1.0, m), rng)
    w.add_transfers(acc[g], w.other_accounts(acc[g]), parts, t[g] + w.days_(0.05, 3, g.size))
    w.label(acc, "fan_out_after_loan")


def group_multi_lender(w: World) -> None:
    """Rings of 4-8 accounts on 1-3 shared devices; 2-3 lenders each, 8+ together in 30 days."""
    rng, T = w.rng, w.T
    sizes, mem, g, pos, starts = _groups(w, 4, 8, _count(w))
    ng = sizes.size
    start = T - w.days_(31, 90, ng)
    nd = np.minimum(rng.integers(1, 4, ng), sizes // 2)
    dev0 = w.new_devices(int(nd.sum()))
    dstart = np.cumsum(nd) - nd
    ip = SHARED_NET + rng.integers(0, 1 << 24, int(nd.sum()))
    w.home_city[mem] = w.home_city[mem[starts[g]]]
    # logins on the shared device of the member's slot
    di = dstart[g] + pos % nd[g]
    x, _ = ragged(rng.integers(3, 7, mem.size))
    w.add_logins(mem[x], dev0[di[x]], start[g[x]] - w.days_(-30, 30, x.size),
                 ip[di[x]], w.home_city[mem[x]])  # fmt: skip
    # the first member also uses every shared device of the ring: one connected ring
    hub, hd = ragged(nd)
    w.add_logins(mem[starts[hub]], dev0[dstart[hub] + hd], start[hub] + w.days_(0, 30, hub.size),
                 ip[dstart[hub] + hd], w.home_city[mem[starts[hub]]])  # fmt: skip
    # loans: every loan of a ring has its own lender
    k = rng.integers(2, 4, mem.size)
    lg, _lp = ragged(k)  # per member
    ring = g[lg]
    ring_pos = group_cumsum(np.ones(lg.size, dtype=np.int64), ring) - 1  # loans ordered by ring
    perm = w.lenders(ng, N_LENDERS)
    issued = start[ring] + w.days_(0, 30, lg.size)
    w.loans_on_time(mem[lg], perm[ring, ring_pos], w.lognormal(4000, 0.5, lg.size, 1000, 20000, 100),
                    issued, rng.choice([30, 60, 90], lg.size))  # fmt: skip
    # a few transfers inside the ring
    tg, _ = ragged(rng.integers(2, 5, ng))
    a = rng.integers(0, sizes[tg])
    b = (a + rng.integers(1, sizes[tg])) % sizes[tg]
    w.add_transfers(mem[starts[tg] + a], mem[starts[tg] + b], w.lognormal(1500, 0.5, tg.size, 300, 5000, 0.01),
                    start[tg] + w.days_(0, 30, tg.size))  # fmt: skip
    _stop_base_loans(w, mem, start[g])
    w.label(mem, "group_multi_lender")


def shared_device_ring(w: World) -> None:
    """Device farms: 8-30 accounts on the same 1-3 devices and proxy IPs, 1-2 loans each."""
    rng, T = w.rng, w.T
    p = 0.85 ** np.arange(23)
    sizes, mem, g, _pos, starts = _groups(w, 8, 30, _count(w), p / p.sum())
    ng = sizes.size
    nd = rng.integers(1, 4, ng)
    dev = w.new_devices(int(nd.sum()))
    dstart = np.cumsum(nd) - nd
    nip = rng.integers(1, 4, ng)
    ips = RING_NET + rng.integers(0, 1 << 24, (ng, 3))
    w.home_city[mem] = w.home_city[mem[starts[g]]]
    win = w.days_(30, 120, ng)
    x, _ = ragged(rng.integers(4, 11, mem.size))
    gx = g[x]
    w.add_logins(mem[x], dev[dstart[gx] + rng.integers(0, nd[gx])], T - (rng.random(x.size) * win[gx]).astype(np.int64),
                 ips[gx, rng.integers(0, nip[gx])], w.home_city[mem[x]])  # fmt: skip
    lg, _ = ragged(rng.integers(1, 3, mem.size))
    w.loans_on_time(mem[lg], rng.choice(N_LENDERS, lg.size, p=LENDER_W),
                    w.lognormal(3000, 0.5, lg.size, 500, 20000, 100),
                    T - (rng.random(lg.size) * win[g[lg]]).astype(np.int64),
                    rng.choice([30, 60, 90], lg.size))  # fmt: skip
    w.label(mem, "shared_device_ring")


def transfer_cycle(w: World) -> None:
    """3-8 unrelated accounts pass money round A->B->...->A within days, 1-3% less per hop."""
    rng, T = w.rng, w.T
    sizes, mem, _g, _pos, starts = _groups(w, 3, 8, _count(w))
    ng = sizes.size
    runs = rng.choice([1, 2, 3], ng, p=[0.5, 0.3, 0.2])
    gap = w.days_(7, 25, ng)
    first = T - (runs - 1) * gap - 7 * DAY - w.days_(0, 60, ng)
    rg, rp = ragged(runs)  # one row per run
    run_start = first[rg] + rp * gap[rg]
    a0 = w.lognormal(20000, 0.6, rg.size, 3000, 100000, 0.01)
    hg, hp = ragged(sizes[rg])  # one row per hop
    cyc = rg[hg]
    k = sizes[cyc]
    step = (rng.uniform(0.05, 1.0, hg.size) * 6 * DAY / k).astype(np.int64)
    ts = run_start[hg] + group_cumsum(step, hg)
    amount = a0[hg] * np.exp(group_cumsum(np.log(1 - rng.uniform(0.01, 0.03, hg.size)), hg))
    amount = np.floor(amount * 100) / 100
    src = mem[starts[cyc] + hp]
    dst = mem[starts[cyc] + (hp + 1) % k]
    w.add_transfers(src, dst, amount, ts)
    w.strangers[mem] = True
    w.label(mem, "transfer_cycle")


def fan_in_collector(w: World) -> None:
    """A collector and 5-15 feeders on shared devices; each feeder passes it 70-100% of a loan."""
    rng, T = w.rng, w.T
    sizes, mem, g, pos, starts = _groups(w, 6, 16, _count(w))
    ng = sizes.size
    start = T - w.days_(30, 90, ng)
    f = pos > 0
    feeders, fg, fp = mem[f], g[f], pos[f]
    # device tree: feeder j uses the own device of an earlier member (collector or feeder)
    parent = mem[starts[fg] + (rng.random(fg.size) * fp).astype(np.int64)]
    x, _ = ragged(rng.integers(2, 5, feeders.size))
    w.add_logins(feeders[x], parent[x], start[fg[x]] + w.days_(-20, 30, x.size),
                 w.home_ip[parent[x]], w.home_city[parent[x]])  # fmt: skip
    amount = w.lognormal(5000, 0.5, feeders.size, 1000, 30000, 100)
    issued = start[fg] + w.days_(0, 25, feeders.size)
    w.loans_on_time(feeders, rng.choice(N_LENDERS, feeders.size, p=LENDER_W), amount, issued,
                    rng.choice([30, 60, 90], feeders.size))  # fmt: skip
    tg, _ = ragged(1 + (rng.random(feeders.size) < 0.5))
    parts = _split(amount, tg, rng.uniform(0.7, 1.0, feeders.size), rng)
    collector = mem[starts[fg]]
    w.add_transfers(feeders[tg], collector[tg], parts, issued[tg] + w.days_(0.05, 2, tg.size))
    w.label(mem, "fan_in_collector")


def scatter_gather(w: World) -> None:
    """A source sends to 3-8 intermediaries within a day; each forwards ~97% to one sink."""
    rng, T = w.rng, w.T
    sizes, mem, g, pos, starts = _groups(w, 5, 10, _count(w))
    ng = sizes.size
    t = T - w.days_(5, 90, ng)
    mid = (pos > 0) & (pos < sizes[g] - 1)
    mg = g[mid]
    src, sink = mem[starts[mg]], mem[starts[mg] + sizes[mg] - 1]
    amount = w.lognormal(8000, 0.5, mg.size, 2000, 50000, 0.01)
    t1 = t[mg] + w.days_(0, 0.9, mg.size)
    w.add_transfers(src, mem[mid], amount, t1)
    w.add_transfers(mem[mid], sink, np.floor(amount * rng.uniform(0.96, 0.98, mg.size) * 100) / 100,
                    t1 + w.days_(0.5, 3, mg.size))  # fmt: skip
    w.label(mem, "scatter_gather")


def associated_transfer(w: World) -> None:
    """Pairs/trios on one device: one borrows and sends 80-100% of it to the others in a week."""
    rng, T = w.rng, w.T
    sizes, mem, g, pos, starts = _groups(w, 2, 3, _count(w), np.array([0.7, 0.3]))
    ng = sizes.size
    borrower = mem[starts]
    t = T - w.days_(8, 90, ng)
    amount = w.lognormal(15000, 0.5, ng, 5000, 50000, 100)
    w.loans_on_time(borrower, rng.choice(N_LENDERS, ng, p=LENDER_W), amount, t,
                    rng.choice([90, 120, 180], ng))  # fmt: skip
    o = pos > 0
    x, _ = ragged(rng.integers(2, 6, int(o.sum())))
    others, og = mem[o][x], g[o][x]
    w.add_logins(others, borrower[og], T - w.days_(1, 180, x.size), w.home_ip[borrower[og]],
                 w.home_city[borrower[og]])  # fmt: skip
    tg, tp = ragged(rng.integers(2, 5, ng))
    parts = _split(amount, tg, rng.uniform(0.8, 1.0, ng), rng)
    dst = mem[starts[tg] + 1 + tp % (sizes[tg] - 1)]
    w.add_transfers(borrower[tg], dst, parts, t[tg] + w.days_(0.05, 7, tg.size))
    w.label(mem, "associated_transfer")


# =============================================================================== look-alikes
def household_shared_device(w: World) -> None:
    """2-4 family members share one home device (and home address); small transfers among them."""
    rng, T = w.rng, w.T
    sizes, mem, g, _pos, starts = _groups(w, 2, 4, _count(w, 0.004))
    ng = sizes.size
    dev = w.new_devices(ng)
    head = mem[starts]
    w.home_city[mem] = w.home_city[head[g]]
    w.home_ip[mem] = w.home_ip[head[g]]  # one home broadband
    x, _ = ragged(rng.integers(3, 9, mem.size))
    w.add_logins(mem[x], dev[g[x]], rng.integers(0, T, x.size), w.home_ip[head[g[x]]],
                 w.home_city[mem[x]])  # fmt: skip
    tg, _ = ragged(rng.integers(3, 11, ng))
    a = rng.integers(0, sizes[tg])
    b = (a + rng.integers(1, sizes[tg])) % sizes[tg]
    w.add_transfers(mem[starts[tg] + a], mem[starts[tg] + b],
                    w.lognormal(300, 0.7, tg.size, 50, 1000, 0.01), rng.integers(0, T, tg.size))  # fmt: skip
    w.label(mem, "household_shared_device")


def _workday_times(w: World, size: int) -> np.ndarray:
    """Random times on Monday-Friday, 9:00-18:00, inside the world."""
    days = np.arange(-1, w.days + 1)
    work = days[(w.t0_weekday + days) % 7 < 5]
    d = work[w.rng.integers(0, work.size, size)]
    ts = w.midnight0 + d * DAY + w.rng.integers(9 * HOUR, 18 * HOUR, size)
    return np.clip(ts, 0, w.T - HOUR)


def office_shared_ip(w: World) -> None:
    """20-60 colleagues log in from their own devices through one office IP on workdays."""
    rng = w.rng
    target = max(20, round(w.n * 0.008))
    sizes, mem, g, _pos, starts = _groups(w, 20, 60, target, min_groups=1)
    ng = sizes.size
    w.home_city[mem] = w.home_city[mem[starts[g]]]
    ip = OFFICE_NET + rng.integers(0, 1 << 24, ng)
    x, _ = ragged(rng.integers(8, 21, mem.size))
    dev = np.where((w.dev2[mem[x]] >= 0) & (rng.random(x.size) < 0.5), w.dev2[mem[x]], mem[x])
    w.add_logins(mem[x], dev, _workday_times(w, x.size), ip[g[x]], w.home_city[mem[x]])
    w.label(mem, "office_shared_ip")


def payroll(w: World) -> None:
    """Employers pay the same 10-50 employees monthly on a fixed day; some take a business loan."""
    rng, T = w.rng, w.T
    ne = max(10, round(w.n * 0.0005))
    boss = w.take(ne)
    n_emp = 10 + np.minimum(40, rng.geometric(1 / 7, ne) - 1)
    emp = w.take(int(n_emp.sum()))
    eg, _ = ragged(n_emp)
    salary = w.lognormal(8000, 0.4, emp.size, 3000, 40000, 100)
    dom = rng.integers(1, 29, ne)
    months = w.month_starts
    pay = months[None, :] + (dom[:, None] - 1) * DAY + 10 * HOUR
    pay = pay + rng.integers(0, 2 * HOUR, pay.shape)
    ok = (pay >= 0) & (pay <= T - HOUR)
    e_idx, mo = np.nonzero(ok)  # one row per (employer, payday)
    pt = pay[e_idx, mo]
    # rows (employee, payday): employees of employer e are a contiguous block
    estart = np.cumsum(n_emp) - n_emp
    rg, rp = ragged(n_emp[e_idx])
    e_of = estart[e_idx[rg]] + rp
    w.add_transfers(boss[e_idx[rg]], emp[e_of], salary[e_of] * rng.uniform(0.98, 1.02, rg.size),
                    pt[rg] + rng.integers(0, 600, rg.size))  # fmt: skip
    # revenue: 2-5 payments a month from business customers (external)
    payroll_total = np.bincount(eg, weights=salary, minlength=ne)
    vg, _ = ragged(rng.integers(2, 6, e_idx.size))
    vt = pt[vg] - w.days_(1, 28, vg.size)
    vg, vt = vg[vt >= 0], vt[vt >= 0]
    w.add_transfers(w.n + rng.integers(0, w.n_ext, vg.size), boss[e_idx[vg]],
                    payroll_total[e_idx[vg]] * rng.uniform(0.3, 0.6, vg.size), vt)  # fmt: skip
    # half take one business loan 1-3 days before their latest payday
    last_pay = np.where(ok, pay, -1).max(axis=1)
    lb = (rng.random(ne) < 0.5) & (last_pay > T - 85 * DAY)
    w.loans_on_time(boss[lb], rng.choice(N_LENDERS, int(lb.sum()), p=LENDER_W),
                    np.round(payroll_total[lb] * rng.uniform(1, 2, int(lb.sum())), -3),
                    last_pay[lb] - w.days_(1, 3, int(lb.sum())), rng.choice([180, 365], int(lb.sum())))  # fmt: skip
    w.label(boss, "payroll_employer")
    w.label(emp, "payroll_employee")


def merchant(w: World) -> None:
    """Merchants receive small payments from 30-200 unrelated ordinary accounts over months."""
    rng, T = w.rng, w.T
    m = max(10, round(w.n * 0.0005))
    shop = w.take(m)
    cust = 30 + np.minimum(170, rng.geometric(1 / 40, m) - 1)
    cg, _ = ragged(cust)
    payer = w.other_accounts(shop[cg])
    x, _ = ragged(1 + np.minimum(3, rng.poisson(0.8, cg.size)))
    w.add_transfers(payer[x], shop[cg[x]], w.lognormal(120, 0.8, x.size, 10, 2000, 0.01),
                    rng.integers(0, T, x.size))  # fmt: skip
    w.label(shop, "merchant")


def traveller(w: World) -> None:
    """One trip, in three variants: ``two_weeks`` 2-4 other cities over about two weeks,
    3-6 days in each; ``three_in_a_week`` 3 cities in 6-7 days, 2-2.3 days each;
    ``day_trip`` one other city for 4-10 hours and back."""
    rng, T = w.rng, w.T
    m = _count(w, 0.006, 18)
    acc = w.take(m)
    var = _variant(m, "traveller")
    k = _pick(var, rng.integers(2, 5, m), np.full(m, 3), np.ones(m, dtype=np.int64))
    cities = w.cities(m, 4, avoid=w.home_city[acc])
    g, pos = ragged(k)
    stay = _pick(var[g], w.days_(3, 6, g.size), w.days_(2, 2.3, g.size),
                 w.days_(4 / 24, 10 / 24, g.size))  # fmt: skip
    leave = T - w.days_(20, 180, m)
    arrive = leave[g] + group_cumsum(stay, g) - stay
    x, _ = ragged(rng.integers(2, 6, g.size))
    ts = arrive[x] + (rng.random(x.size) * stay[x]).astype(np.int64)
    city = cities[g[x], pos[x]]
    w.add_logins(acc[g[x]], acc[g[x]], ts, city_ip(rng, city), city)
    _label_variants(w, acc, var, "traveller")


def reformed_borrower(w: World) -> None:
    """Multi-borrowed long ago, all repaid on time, clean since, in three variants:
    ``month`` 5-7 lenders in a 3-week window 141-170 days ago; ``fast`` 4-6 lenders within
    5 days 141-170 days ago; ``slow`` 7-8 lenders spread over 50-60 days, the last one
    125-140 days ago."""
    rng, T = w.rng, w.T
    m = _count(w, 0.0045, 18)
    acc = w.take(m)
    var = _variant(m, "reformed_borrower")
    k = _pick(var, rng.integers(5, 8, m), rng.integers(4, 7, m), rng.integers(7, 9, m))
    lend = w.lenders(m, 8)
    span = _pick(var, np.full(m, 21 * DAY), w.days_(1, 5, m), w.days_(50, 60, m))
    end = _pick(var, T - w.days_(120, 149, m), T - w.days_(136, 165, m), T - w.days_(125, 140, m))
    start = end - span
    g, pos = ragged(k)
    issued = start[g] + (rng.random(g.size) * span[g]).astype(np.int64)
    w.loans_on_time(acc[g], lend[g, pos], w.lognormal(3000, 0.5, g.size, 500, 20000, 100), issued,
                    rng.choice([30, 45, 60], g.size))  # fmt: skip
    _stop_base_loans(w, acc, start)
    _label_variants(w, acc, var, "reformed_borrower")


def friends_cycle(w: World) -> None:
    """3-5 friends paying each other round a loop, 6-12 times over many months, varied amounts."""
    rng, T = w.rng, w.T
    sizes, mem, _g, _pos, starts = _groups(w, 3, 5, _count(w, 0.004))
    ng = sizes.size
    rounds = rng.integers(6, 13, ng)
    first = w.days_(0, 60, ng)
    period = (T - 20 * DAY - first) // rounds
    rg, rp = ragged(rounds)
    rstart = first[rg] + rp * period[rg]
    hg, hp = ragged(sizes[rg])
    grp = rg[hg]
    ts = rstart[hg] + group_cumsum(w.days_(1, 4, hg.size), hg)
    base = w.lognormal(300, 0.6, ng, 50, 3000, 1)
    amount = base[grp] * rng.uniform(0.5, 1.8, hg.size)
    w.add_transfers(mem[starts[grp] + hp], mem[starts[grp] + (hp + 1) % sizes[grp]], amount, ts)
    w.label(mem, "friends_cycle")


def refinance_once(w: World) -> None:
    """One loan repaid by a new loan of similar amount from another lender, once."""
    rng, T = w.rng, w.T
    m = _count(w, 0.003)
    acc = w.take(m)
    l1 = rng.choice(N_LENDERS, m, p=LENDER_W)
    l2 = (l1 + rng.integers(1, N_LENDERS, m)) % N_LENDERS
    a1 = w.lognormal(8000, 0.5, m, 2000, 40000, 100)
    i1 = T - w.days_(60, 150, m)
    d1 = i1 + w.days_(30, 60, m)
    i2 = d1 - w.days_(0, 3, m)
    r1 = i2 + w.days_(0.05, 1.5, m)
    w.add_loans(acc, l1, a1, i1, d1, r1)
    w.loans_on_time(acc, l2, np.round(a1 * rng.uniform(0.95, 1.05, m), -2), i2,
                    rng.choice([60, 90, 120], m))  # fmt: skip
    _stop_base_loans(w, acc, i1)
    w.label(acc, "refinance_once")


def regular_borrower(w: World) -> None:
    """A loan from the same lender on a fixed rhythm, always repaid on time, in three
    variants: ``monthly`` (every 30 days, 25-day term), ``fortnightly`` (every 14 days,
    12-day term, small amounts) and ``refinanced_once`` (monthly, but once, 30-120 days
    ago, the loan due is repaid hours after a loan of about the same amount from another
    lender, itself repaid on time)."""
    rng, T = w.rng, w.T
    m = _count(w, 0.0045, 18)
    acc = w.take(m)
    var = _variant(m, "regular_borrower")
    lend = rng.choice(N_LENDERS, m, p=LENDER_W)
    period = np.where(var == 1, 14 * DAY, 30 * DAY)
    term = np.where(var == 1, 12, 25)
    first = w.days_(2, 20, m)
    k = (T - 5 * DAY - first) // period + 1
    g, pos = ragged(k)
    issued = first[g] + pos * period[g] + w.days_(-1, 1, g.size)
    median = w.lognormal(3000, 0.4, m, 1000, 10000, 100) * np.where(var == 1, 0.5, 1.0)
    amount = np.round(median[g] * rng.uniform(0.95, 1.05, g.size), -2)
    # refinanced_once: one loan (30-120 days before the end) is repaid by another lender's
    once = (var[g] == 2) & (issued < T - 30 * DAY)
    last_once = np.zeros(m, dtype=np.int64) - 1
    np.maximum.at(last_once, g[once], np.flatnonzero(once))
    refi = np.zeros(g.size, dtype=bool)
    refi[last_once[last_once >= 0]] = True
    due = issued + term[g] * DAY
    b_issued = due - w.days_(1, 3, g.size)  # the other lender's loan, where there is one
    repaid = np.where(refi, b_issued + w.days_(0.05, 0.5, g.size), due - w.days_(0, 4, g.size))
    w.add_loans(acc[g], lend[g], amount, issued, due, repaid)
    ri = np.flatnonzero(refi)
    other = (lend[g[ri]] + rng.integers(1, N_LENDERS, ri.size)) % N_LENDERS
    w.loans_on_time(acc[g[ri]], other, np.round(amount[ri] * rng.uniform(0.97, 1.05, ri.size), -2),
                    b_issued[ri], np.full(ri.size, 30))  # fmt: skip
    w.base_until[acc] = 0
    _label_variants(w, acc, var, "regular_borrower")


def plant_all(w: World) -> None:
    """Every planted pattern and look-alike, in a fixed order."""
    multi_lender(w)
    loan_stacking(w)
    small_loan_burst(w)
    application_burst(w)
    ip_hopping(w)
    defaulters = overdue_history(w)
    risk_proximity(w, defaulters)
    loan_recycling(w)
    fan_out_after_loan(w)
    group_multi_lender(w)
    shared_device_ring(w)
    transfer_cycle(w)
    fan_in_collector(w)
    scatter_gather(w)
    associated_transfer(w)
    household_shared_device(w)
    office_shared_ip(w)
    payroll(w)
    merchant(w)
    traveller(w)
    reformed_borrower(w)
    friends_cycle(w)
    refinance_once(w)
    regular_borrower(w)
