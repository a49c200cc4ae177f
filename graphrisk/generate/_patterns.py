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
    "loan_stacking": ("fast", "quarter", "large"),
    "overdue_history": ("default", "late", "several"),
    "risk_proximity": ("device", "money", "mixed"),
    "loan_recycling": ("chain", "chain_fast", "linked"),
    "fan_out_after_loan": ("hours", "days", "large"),
    "group_multi_lender": ("device", "ip", "money"),
    "shared_device_ring": ("small", "typical", "large"),
    "transfer_cycle": ("hours", "days", "week"),
    "fan_in_collector": ("small", "typical", "large"),
    "scatter_gather": ("fast", "days", "slow"),
    "associated_transfer": ("device", "ip", "several"),
    "household_shared_device": ("family", "shared_ip", "defaulter_relative"),
    "friends_cycle": ("months", "weekly", "one_round"),
    "office_shared_ip": ("office", "small_office", "call_centre"),
    "refinance_once": ("days", "same_day", "early"),
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
    """Loans from different lenders, evenly spread, all outstanding, in three variants:
    ``fast`` 4 loans over 3-10 days (the smallest stack), ``quarter`` 4-6 over 45-90 days,
    ``large`` 8-12 over 60-120 days."""
    rng, T = w.rng, w.T
    m = _count(w, PLANTED_FRAC * 1.5, 18)
    acc = w.take(m)
    var = _variant(m, "loan_stacking")
    k = _pick(var, np.full(m, 4), rng.integers(4, 7, m), rng.integers(8, 13, m))
    lend = w.lenders(m, 12)
    span = _pick(var, w.days_(3, 10, m), w.days_(45, 90, m), w.days_(60, 120, m))
    start = T - span - w.days_(3, 30, m)
    g, pos = ragged(k)
    # quarter: spacing >= 9 days and jitter <= 0.5 day: at most 2 issues in any 14 days
    jitter = np.where(var[g] == 1, w.days_(-0.5, 0.5, g.size), 0)
    issued = start[g] + span[g] * pos // (k[g] - 1) + jitter
    amount = w.lognormal(6000, 0.5, g.size, 1000, 50000, 100)
    due = issued + w.days_(180, 360, g.size)
    w.add_loans(acc[g], lend[g, pos], amount, issued, due, np.full(g.size, -1))
    _stop_base_loans(w, acc, start)
    _label_variants(w, acc, var, "loan_stacking")


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
    """Late loans inside the last 180 days, in three variants: ``default`` one loan 90+ days
    past due, unrepaid (45% of the accounts, at least 10); ``late`` one loan repaid 30-75
    days late (30-35 days, the smallest that counts, for a third of them); ``several`` 2-3
    loans from different lenders, each repaid 30-60 days late.

    Returns the defaulters, for :func:`risk_proximity`.
    """
    rng, T = w.rng, w.T
    m = _count(w)
    acc = w.take(m)
    n_def = max(10, round(0.45 * m))
    var = np.r_[np.zeros(n_def, dtype=np.int64), 1 + np.arange(m - n_def) % 2]
    dflt = var == 0
    k = np.where(var == 2, rng.integers(2, 4, m), 1)
    g, _ = ragged(k)
    due = np.where(dflt[g], T - w.days_(95, 170, g.size), T - w.days_(40, 170, g.size))
    late = np.where(var[g] == 2, w.days_(30, 60, g.size), w.days_(30, 75, g.size))
    late = np.where((var[g] == 1) & (np.arange(m)[g] % 3 == 0), w.days_(30, 35, g.size), late)
    late = np.minimum(late, T - DAY - due)
    repaid = np.where(dflt[g], -1, due + late)
    issued = due - w.days_(30, 90, g.size)
    lend = w.lenders(m, 3)[g, group_cumsum(np.ones(g.size, dtype=np.int64), g) - 1]
    w.add_loans(acc[g], lend, w.lognormal(5000, 0.6, g.size, 1000, 30000, 100), issued, due,
                repaid)  # fmt: skip
    _label_variants(w, acc, var, "overdue_history")
    return acc[dflt]


def risk_proximity(w: World, defaulters: np.ndarray) -> np.ndarray:
    """Otherwise clean accounts linked to 2-3 defaulters, in three variants by link kind:
    ``device`` (logins on the defaulters' own devices where a phone has room, transfers
    otherwise), ``money`` (transfers only) and ``mixed`` (40% of the links by device).

    Returns the defaulters whose phone no target logs in on (for a relative's phone)."""
    rng, T = w.rng, w.T
    m = _count(w)
    acc = w.take(m)
    var = _variant(m, "risk_proximity")
    k = rng.integers(2, 4, m)
    keys = rng.random((m, defaulters.size))
    pick = np.argsort(keys, axis=1)[:, :3]
    g, pos = ragged(k)
    a, d = acc[g], defaulters[pick[g, pos]]
    dev_link = np.where(var[g] == 2, rng.random(g.size) < 0.4, var[g] == 0)
    # phones of the last third of the defaulters stay free (a relative logs in on those)
    dev_link &= np.isin(d, defaulters[: max(1, 2 * defaulters.size // 3)])
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
    _label_variants(w, acc, var, "risk_proximity")
    return np.setdiff1d(defaulters, dd)


def loan_recycling(w: World) -> None:
    """Variants ``chain``: 3-5 loans of 14-28 days, each repaying the previous one;
    ``chain_fast``: 3-4 loans of 12-16 days (two-week loans, each at least a week old when
    the next one repays it);
    ``linked``: X's loan repays Y's, 2-3 times (X on Y's device)."""
    rng, T = w.rng, w.T
    m = _count(w, PLANTED_FRAC * 1.5, 18)
    # (a) direct chains -------------------------------------------------------------
    md = 2 * m // 3
    acc = w.take(md)
    fast = np.arange(md) % 2 == 1
    k = np.where(fast, rng.integers(3, 5, md), rng.integers(3, 6, md))
    lend = w.lenders(md, 5)
    cols = {c: np.zeros((md, 5), dtype=np.int64) for c in ("issued", "due", "repaid")}
    amt = np.zeros((md, 5))
    amt[:, 0] = w.lognormal(5000, 0.5, md, 2000, 30000, 10)
    t = np.zeros(md, dtype=np.int64)
    for j in range(5):
        if j:
            amt[:, j] = np.round(amt[:, j - 1] * rng.uniform(0.95, 1.05, md), -1)
        cols["issued"][:, j] = t
        cols["due"][:, j] = t + np.where(fast, w.days_(12, 16, md), w.days_(14, 28, md))
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
    w.label(acc[~fast], "loan_recycling", "chain")
    w.label(acc[fast], "loan_recycling", "chain_fast")
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
    w.label(np.r_[x, y], "loan_recycling", "linked")


def fan_out_after_loan(w: World) -> None:
    """A loan, then transfers moving 70-100% of it to new accounts, in three variants:
    ``hours`` 6-8 recipients within 1-12 hours, ``days`` 5-15 within 1-3 days, ``large``
    20-40 within 3 days."""
    rng, T = w.rng, w.T
    m = _count(w, PLANTED_FRAC * 1.5, 18)
    acc = w.take(m)
    var = _variant(m, "fan_out_after_loan")
    amount = w.lognormal(10000, 0.5, m, 3000, 50000, 100) * np.where(var == 2, 3, 1)
    t = T - w.days_(5, 90, m)
    w.loans_on_time(acc, rng.choice(N_LENDERS, m, p=LENDER_W), amount, t,
                    rng.choice([60, 90, 180], m))  # fmt: skip
    # hours: 6-8, one more than the fewest that count, since a random recipient may be an
    # old relation of the borrower (then it is not new)
    k = _pick(var, rng.integers(6, 9, m), rng.integers(5, 16, m), rng.integers(20, 41, m))
    g, _ = ragged(k)
    parts = _split(amount, g, rng.uniform(0.7, 1.0, m), rng)
    span = _pick(var, w.days_(1 / 24, 0.5, m), w.days_(1, 3, m), w.days_(2, 3, m))
    lag = np.maximum((rng.random(g.size) * span[g]).astype(np.int64), 180)
    w.add_transfers(acc[g], w.other_accounts(acc[g]), parts, t[g] + lag)
    _label_variants(w, acc, var, "fan_out_after_loan")


def group_multi_lender(w: World) -> None:
    """Rings of 4-8 accounts, 2-3 lenders each, 8+ together in 30 days, in three variants by
    link kind: ``device`` (1-3 shared devices, the original shape), ``ip`` (own devices
    behind 1-2 shared addresses) and ``money`` (own devices and addresses; 2-3 transfers
    between every member and the first)."""
    rng, T = w.rng, w.T
    sizes, mem, g, pos, starts = _groups(w, 4, 8, _count(w, PLANTED_FRAC * 1.5, 18),
                                         min_groups=3)  # fmt: skip
    ng = sizes.size
    gvar = _variant(ng, "group_multi_lender")
    start = T - w.days_(31, 90, ng)
    nd = np.minimum(rng.integers(1, 4, ng), sizes // 2)
    dev0 = w.new_devices(int(nd.sum()))
    dstart = np.cumsum(nd) - nd
    ip = SHARED_NET + rng.integers(0, 1 << 24, int(nd.sum()))
    w.home_city[mem] = w.home_city[mem[starts[g]]]
    # logins on the shared device of the member's slot (ip: on the own device, through the
    # shared address; money: on the own device from home)
    di = dstart[g] + pos % nd[g]
    x, _ = ragged(rng.integers(3, 7, mem.size))
    vx = gvar[g[x]]
    w.add_logins(mem[x], np.where(vx == 0, dev0[di[x]], mem[x]),
                 start[g[x]] - w.days_(-30, 30, x.size),
                 np.where(vx == 2, w.home_ip[mem[x]], ip[di[x]]), w.home_city[mem[x]])  # fmt: skip
    # the first member also uses every shared device (address) of the ring: one ring
    hub, hd = ragged(np.where(gvar == 2, 0, nd))
    w.add_logins(mem[starts[hub]], np.where(gvar[hub] == 0, dev0[dstart[hub] + hd], mem[starts[hub]]),
                 start[hub] + w.days_(0, 30, hub.size),
                 ip[dstart[hub] + hd], w.home_city[mem[starts[hub]]])  # fmt: skip
    # money: every member and the first exchange 2-3 transfers
    mo = np.flatnonzero((gvar[g] == 2) & (pos > 0))
    y, _ = ragged(rng.integers(2, 4, mo.size))
    back = rng.random(y.size) < 0.5
    first_m, other_m = mem[starts[g[mo[y]]]], mem[mo[y]]
    w.add_transfers(np.where(back, other_m, first_m), np.where(back, first_m, other_m),
                    w.lognormal(1500, 0.5, y.size, 300, 5000, 0.01),
                    start[g[mo[y]]] + w.days_(-20, 30, y.size))  # fmt: skip
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
    _label_variants(w, mem, gvar[g], "group_multi_lender")


def shared_device_ring(w: World) -> None:
    """Device farms on the same 1-3 devices and proxy IPs, 1-2 loans each, in three variants
    by size: ``small`` 6-7 accounts (the smallest ring that counts), ``typical`` 8-30,
    ``large`` 31-45."""
    rng, T = w.rng, w.T
    p = 0.85 ** np.arange(23)
    target = _count(w, PLANTED_FRAC * 2, 24)
    _sizes, mem, _g, _pos, _starts = _groups(w, 8, 30, target // 2, p / p.sum())
    ng = _sizes.size
    gvar = np.r_[np.ones(ng, dtype=np.int64)]
    small = w.rng.integers(6, 8, max(2, target // 4 // 6))
    large = w.rng.integers(31, 46, max(1, round(w.n * 0.0025 / 38)))
    sizes = np.r_[small, _sizes, large]
    gvar = np.r_[np.zeros(small.size, dtype=np.int64), gvar, np.full(large.size, 2)]
    mem = np.r_[w.take(int(small.sum())), mem, w.take(int(large.sum()))]
    g, _pos = ragged(sizes)
    starts = np.cumsum(sizes) - sizes
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
    _label_variants(w, mem, gvar[g], "shared_device_ring")


def transfer_cycle(w: World) -> None:
    """3-8 unrelated accounts pass money round A->B->...->A, 1-3% less per hop, 1-3 times,
    in three variants by tempo: ``hours`` (a round within 2-12 hours), ``days`` (within
    about 6 days) and ``week`` (first to last hop of a round 7-13 days apart)."""
    rng, T = w.rng, w.T
    sizes, mem, _g, _pos, starts = _groups(w, 3, 8, _count(w, PLANTED_FRAC * 1.5, 18),
                                           min_groups=3)  # fmt: skip
    ng = sizes.size
    gvar = _variant(ng, "transfer_cycle")
    round_s = _pick(gvar, w.days_(2 / 24, 0.5, ng), np.full(ng, 6 * DAY), w.days_(7.5, 12, ng))
    runs = rng.choice([1, 2, 3], ng, p=[0.5, 0.3, 0.2])
    # runs of one loop 7-25 days apart (a week-long round: 14-20), so that all of a pair's
    # transfers stay within two months (a relation that goes on longer is a standing one)
    gap = np.where(gvar == 2, w.days_(14, 20, ng), w.days_(7, 25, ng))
    first = T - (runs - 1) * gap - 14 * DAY - w.days_(0, 60, ng)
    rg, rp = ragged(runs)  # one row per run
    run_start = first[rg] + rp * gap[rg]
    a0 = w.lognormal(20000, 0.6, rg.size, 3000, 100000, 0.01)
    hg, hp = ragged(sizes[rg])  # one row per hop
    cyc = rg[hg]
    k = sizes[cyc]
    step = (rng.uniform(0.05, 1.0, hg.size) * round_s[cyc] / k).astype(np.int64)
    # a week-long round: its hops evenly spread, first to last over 7.5-12 days (+-10%)
    even = (rng.uniform(0.9, 1.1, hg.size) * round_s[cyc] / (k - 1)).astype(np.int64)
    step = np.where(gvar[cyc] == 2, np.where(hp == 0, HOUR, even), step)
    ts = run_start[hg] + group_cumsum(step, hg)
    amount = a0[hg] * np.exp(group_cumsum(np.log(1 - rng.uniform(0.01, 0.03, hg.size)), hg))
    amount = np.floor(amount * 100) / 100
    src = mem[starts[cyc] + hp]
    dst = mem[starts[cyc] + (hp + 1) % k]
    w.add_transfers(src, dst, amount, ts)
    w.strangers[mem] = True
    _label_variants(w, mem, gvar[_g], "transfer_cycle")


def fan_in_collector(w: World) -> None:
    """A collector and feeders on shared devices; each feeder passes it 70-100% of a loan, in
    three variants by size: ``small`` 4 feeders (the fewest that count), ``typical`` 5-15,
    ``large`` 20-30."""
    rng, T = w.rng, w.T
    target = _count(w, PLANTED_FRAC * 1.5, 18)
    small = np.full(max(2, target // 3 // 5), 5)
    _sizes, _m, _g, _p, _s = _groups(w, 6, 16, target // 3)
    large = w.rng.integers(21, 32, max(1, round(target / 3 / 26)))
    sizes = np.r_[small, _sizes, large]
    gvar = np.r_[np.zeros(small.size, dtype=np.int64), np.ones(_sizes.size, dtype=np.int64),
                 np.full(large.size, 2)]  # fmt: skip
    mem = np.r_[w.take(int(small.sum())), _m, w.take(int(large.sum()))]
    g, pos = ragged(sizes)
    starts = np.cumsum(sizes) - sizes
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
    _label_variants(w, mem, gvar[g], "fan_in_collector")


def scatter_gather(w: World) -> None:
    """A source sends to 3-8 intermediaries; each forwards ~97% to one sink, in three
    variants by tempo: ``fast`` (scatter within 6 hours, forwarded 1-12 hours later),
    ``days`` (scatter within a day, forwarded 0.5-3 days later) and ``slow`` (scatter over
    2-6 days, forwarded 4-18 days later, as AMLSim's scatter-gather)."""
    rng, T = w.rng, w.T
    sizes, mem, g, pos, starts = _groups(w, 5, 10, _count(w, PLANTED_FRAC * 1.5, 18),
                                         min_groups=3)  # fmt: skip
    ng = sizes.size
    gvar = _variant(ng, "scatter_gather")
    t = T - w.days_(25, 90, ng)
    mid = (pos > 0) & (pos < sizes[g] - 1)
    mg = g[mid]
    src, sink = mem[starts[mg]], mem[starts[mg] + sizes[mg] - 1]
    amount = w.lognormal(8000, 0.5, mg.size, 2000, 50000, 0.01)
    v = gvar[mg]
    spread = _pick(v, w.days_(0, 0.25, mg.size), w.days_(0, 0.9, mg.size), w.days_(0, 6, mg.size))
    lag = _pick(v, w.days_(1 / 24, 0.5, mg.size), w.days_(0.5, 3, mg.size),
                w.days_(4, 18, mg.size))  # fmt: skip
    t1 = t[mg] + spread
    w.add_transfers(src, mem[mid], amount, t1)
    w.add_transfers(mem[mid], sink, np.floor(amount * rng.uniform(0.96, 0.98, mg.size) * 100) / 100,
                    t1 + lag)  # fmt: skip
    _label_variants(w, mem, gvar[g], "scatter_gather")


def associated_transfer(w: World) -> None:
    """One borrows and sends 80-100% of it to linked accounts within a week, in three
    variants: ``device`` pairs/trios logging in on the borrower's device, ``ip`` pairs/trios
    on their own devices behind the borrower's home address, ``several`` 4-5 accounts on the
    borrower's device."""
    rng, T = w.rng, w.T
    target = _count(w, PLANTED_FRAC * 1.5, 18)
    s1, m1, _, _, _ = _groups(w, 2, 3, 2 * target // 3, np.array([0.7, 0.3]))
    s2 = w.rng.integers(4, 6, max(2, target // 3 // 4))
    sizes = np.r_[s1, s2]
    gvar = np.r_[np.arange(s1.size) % 2, np.full(s2.size, 2)]
    mem = np.r_[m1, w.take(int(s2.sum()))]
    g, pos = ragged(sizes)
    starts = np.cumsum(sizes) - sizes
    ng = sizes.size
    borrower = mem[starts]
    t = T - w.days_(8, 90, ng)
    # several: a loan as large again for every further account, so each gets a pair's share
    amount = w.lognormal(15000, 0.5, ng, 5000, 50000, 100) * np.where(gvar == 2, sizes - 1, 1)
    w.loans_on_time(borrower, rng.choice(N_LENDERS, ng, p=LENDER_W), amount, t,
                    rng.choice([90, 120, 180], ng))  # fmt: skip
    o = pos > 0
    x, _ = ragged(rng.integers(2, 6, int(o.sum())))
    others, og = mem[o][x], g[o][x]
    w.add_logins(others, np.where(gvar[og] == 1, others, borrower[og]), T - w.days_(1, 180, x.size),
                 w.home_ip[borrower[og]], w.home_city[borrower[og]])  # fmt: skip
    tg, tp = ragged(np.maximum(rng.integers(2, 5, ng), sizes - 1))
    parts = _split(amount, tg, rng.uniform(0.8, 1.0, ng), rng)
    dst = mem[starts[tg] + 1 + tp % (sizes[tg] - 1)]
    w.add_transfers(borrower[tg], dst, parts, t[tg] + w.days_(0.05, 7, tg.size))
    _label_variants(w, mem, gvar[g], "associated_transfer")


# =============================================================================== look-alikes
def household_shared_device(w: World, defaulters: np.ndarray) -> None:
    """Families, in three variants: ``family`` 2-4 members share one home device (and home
    address), small transfers among them; ``shared_ip`` 2-4 members on their own devices
    behind one home broadband, small transfers; ``defaulter_relative`` a relative who logs
    in 3-8 times over months on the own phone of an account in default, at its home, and
    never exchanges money with it."""
    rng, T = w.rng, w.T
    sizes, mem, g, _pos, starts = _groups(w, 2, 4, _count(w, 0.004), min_groups=4)
    ng = sizes.size
    gvar = np.arange(ng) % 2  # family, shared_ip
    dev = w.new_devices(ng)
    head = mem[starts]
    w.home_city[mem] = w.home_city[head[g]]
    w.home_ip[mem] = w.home_ip[head[g]]  # one home broadband
    x, _ = ragged(rng.integers(3, 9, mem.size))
    w.add_logins(mem[x], np.where(gvar[g[x]] == 0, dev[g[x]], mem[x]), rng.integers(0, T, x.size),
                 w.home_ip[head[g[x]]], w.home_city[mem[x]])  # fmt: skip
    tg, _ = ragged(rng.integers(3, 11, ng))
    a = rng.integers(0, sizes[tg])
    b = (a + rng.integers(1, sizes[tg])) % sizes[tg]
    w.add_transfers(mem[starts[tg] + a], mem[starts[tg] + b],
                    w.lognormal(300, 0.7, tg.size, 50, 1000, 0.01), rng.integers(0, T, tg.size))  # fmt: skip
    w.label(mem[gvar[g] == 0], "household_shared_device", "family")
    w.label(mem[gvar[g] == 1], "household_shared_device", "shared_ip")
    # relatives of defaulters: one each, on the own phone of a defaulter no one else uses
    # (a phone shared by several is another pattern), no money
    nr = min(defaulters.size, max(4, round(mem.size / 2)))
    rel = w.take(nr)
    d = defaulters[rng.permutation(defaulters.size)[:nr]]
    w.home_city[rel] = w.home_city[d]
    y, _ = ragged(rng.integers(3, 9, nr))
    w.add_logins(rel[y], d[y], T - w.days_(1, 300, y.size), w.home_ip[d[y]], w.home_city[d[y]])
    w.label(rel, "household_shared_device", "defaulter_relative")


def _workday_times(w: World, size: int) -> np.ndarray:
    """Random times on Monday-Friday, 9:00-18:00, inside the world."""
    days = np.arange(-1, w.days + 1)
    work = days[(w.t0_weekday + days) % 7 < 5]
    d = work[w.rng.integers(0, work.size, size)]
    ts = w.midnight0 + d * DAY + w.rng.integers(9 * HOUR, 18 * HOUR, size)
    return np.clip(ts, 0, w.T - HOUR)


def office_shared_ip(w: World) -> None:
    """Colleagues log in from their own devices through one office IP, in three variants:
    ``office`` 20-60 colleagues on workdays 9:00-18:00; ``small_office`` 5-9 colleagues (few
    enough that the address links them); ``call_centre`` 61-120 agents in shifts round the
    clock, every day."""
    rng, T = w.rng, w.T
    target = max(20, round(w.n * 0.008))
    s0, m0, _, _, _ = _groups(w, 20, 60, target, min_groups=1)
    s1 = rng.integers(5, 10, max(2, round(target / 3 / 7)))
    s2 = rng.integers(61, 121, max(1, round(w.n * 0.004 / 90)))
    sizes = np.r_[s0, s1, s2]
    gvar = np.r_[np.zeros(s0.size, np.int64), np.ones(s1.size, np.int64), np.full(s2.size, 2)]
    mem = np.r_[m0, w.take(int(s1.sum())), w.take(int(s2.sum()))]
    g, _pos = ragged(sizes)
    starts = np.cumsum(sizes) - sizes
    ng = sizes.size
    w.home_city[mem] = w.home_city[mem[starts[g]]]
    ip = OFFICE_NET + rng.integers(0, 1 << 24, ng)
    x, _ = ragged(rng.integers(8, 21, mem.size))
    dev = np.where((w.dev2[mem[x]] >= 0) & (rng.random(x.size) < 0.5), w.dev2[mem[x]], mem[x])
    shifts = np.clip(rng.integers(0, T, x.size), 0, T - HOUR)
    ts = np.where(gvar[g[x]] == 2, shifts, _workday_times(w, x.size))
    w.add_logins(mem[x], dev, ts, ip[g[x]], w.home_city[mem[x]])
    _label_variants(w, mem, gvar[g], "office_shared_ip")


def payroll(w: World) -> None:
    """Employers pay the same 10-50 employees monthly on a fixed day; half take a business
    loan (and no ordinary loan in the 45 days before it)."""
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
    # revenue: 2-5 payments in every calendar month from the employer's own 5 business
    # customers (external payers ``E...``, not the shops ordinary accounts pay)
    payroll_total = np.bincount(eg, weights=salary, minlength=ne)
    customers = w.new_employers(5 * ne).reshape(ne, 5)
    re_, rm = np.nonzero(np.ones((ne, months.size), dtype=bool))
    vg, _ = ragged(rng.integers(2, 6, re_.size))
    vt = months[rm[vg]] + w.days_(0, 28, vg.size)
    keep = (vt >= 0) & (vt <= T - HOUR)
    vg, vt = vg[keep], vt[keep]
    w.add_transfers(customers[re_[vg], rng.integers(0, 5, vg.size)], boss[re_[vg]],
                    payroll_total[re_[vg]] * rng.uniform(0.3, 0.6, vg.size), vt)  # fmt: skip
    # half take one business loan 1-3 days before their latest payday
    last_pay = np.where(ok, pay, -1).max(axis=1)
    lb = (rng.random(ne) < 0.5) & (last_pay > T - 85 * DAY)
    w.loans_on_time(boss[lb], rng.choice(N_LENDERS, int(lb.sum()), p=LENDER_W),
                    np.round(payroll_total[lb] * rng.uniform(1, 2, int(lb.sum())), -3),
                    last_pay[lb] - w.days_(1, 3, int(lb.sum())), rng.choice([180, 365], int(lb.sum())))  # fmt: skip
    # the business loan is the employer's credit: no ordinary loans in the 45 days before it
    _stop_base_loans(w, boss[lb], last_pay[lb] - 3 * DAY)
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
    """3-5 friends paying each other round a loop, varied amounts, in three variants:
    ``months`` 6-12 rounds over many months; ``weekly`` 10-16 rounds, one every 7-9 days
    (70 days or more: a standing relation); ``one_round`` friends who paid each other along
    the same pairs 20-60 days before pass money round once within 1-3 days, amounts
    varying by half or more (a shared bill settled round the table)."""
    rng, T = w.rng, w.T
    sizes, mem, _g, _pos, starts = _groups(w, 3, 5, _count(w, 0.006, 18), min_groups=3)
    ng = sizes.size
    gvar = _variant(ng, "friends_cycle")
    rounds = _pick(gvar, rng.integers(6, 13, ng), rng.integers(10, 17, ng), np.ones(ng, np.int64))
    first = np.where(gvar == 0, w.days_(0, 60, ng), T - w.days_(30, 120, ng))
    period = np.where(gvar == 1, w.days_(7, 9, ng), (T - 20 * DAY - first) // rounds)
    first = np.where(gvar == 1, T - 10 * DAY - rounds * period, first)
    rg, rp = ragged(rounds)
    rstart = first[rg] + rp * period[rg]
    hg, hp = ragged(sizes[rg])
    grp = rg[hg]
    hop = _pick(gvar[grp], w.days_(1, 4, hg.size), w.days_(0.2, 1, hg.size),
                w.days_(0.05, 0.7, hg.size))  # fmt: skip
    ts = rstart[hg] + group_cumsum(hop, hg)
    base = w.lognormal(300, 0.6, ng, 50, 3000, 1)
    amount = np.round(base[grp] * rng.uniform(0.5, 1.8, hg.size), 2)
    # one round: every hop at least half as much again or half as little as the one before
    swing = np.where(rng.random(hg.size) < 0.5, rng.uniform(0.3, 0.6, hg.size),
                     rng.uniform(1.6, 2.5, hg.size))  # fmt: skip
    chained = base[grp] * np.exp(group_cumsum(np.log(swing), hg))
    amount = np.where(gvar[grp] == 2, np.round(np.clip(chained, 20, 5000), 2), amount)
    w.add_transfers(mem[starts[grp] + hp], mem[starts[grp] + (hp + 1) % sizes[grp]], amount, ts)
    # one round: the pairs knew each other, an earlier payment either way months before
    old = np.flatnonzero(gvar[grp] == 2)
    back = rng.random(old.size) < 0.5
    a, b = mem[starts[grp[old]] + hp[old]], mem[starts[grp[old]] + (hp[old] + 1) % sizes[grp[old]]]
    w.add_transfers(np.where(back, b, a), np.where(back, a, b),
                    w.lognormal(200, 0.6, old.size, 20, 2000, 0.01),
                    np.maximum(ts[old] - w.days_(20, 60, old.size), 0))  # fmt: skip
    _label_variants(w, mem, gvar[_g], "friends_cycle")


def refinance_once(w: World) -> None:
    """One loan repaid by a new loan of similar amount from another lender, once, in three
    variants: ``days`` the new loan 0-3 days before the old one is due, the old repaid
    0.05-1.5 days later; ``same_day`` the new loan on the due day, the old repaid 1-6 hours
    later; ``early`` refinanced 10-20 days before it was due (a cheaper offer)."""
    rng, T = w.rng, w.T
    m = _count(w, 0.0045, 18)
    acc = w.take(m)
    var = _variant(m, "refinance_once")
    l1 = rng.choice(N_LENDERS, m, p=LENDER_W)
    l2 = (l1 + rng.integers(1, N_LENDERS, m)) % N_LENDERS
    a1 = w.lognormal(8000, 0.5, m, 2000, 40000, 100)
    i1 = T - w.days_(60, 150, m)
    d1 = i1 + w.days_(30, 60, m)
    i2 = d1 - _pick(var, w.days_(0, 3, m), w.days_(0, 0.3, m), w.days_(10, 20, m))
    r1 = i2 + _pick(var, w.days_(0.05, 1.5, m), w.days_(1 / 24, 0.25, m), w.days_(0.05, 1.5, m))
    w.add_loans(acc, l1, a1, i1, d1, r1)
    w.loans_on_time(acc, l2, np.round(a1 * rng.uniform(0.95, 1.05, m), -2), i2,
                    rng.choice([60, 90, 120], m))  # fmt: skip
    # no ordinary loans in the default scan's 180 days, so that two ordinary loans cannot
    # make a second refinance by chance: the account refinances exactly once there
    w.base_until[acc] = np.minimum(w.base_until[acc], max(T - 220 * DAY, 0))
    _label_variants(w, acc, var, "refinance_once")


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
    free_phones = risk_proximity(w, defaulters)
    loan_recycling(w)
    fan_out_after_loan(w)
    group_multi_lender(w)
    shared_device_ring(w)
    transfer_cycle(w)
    fan_in_collector(w)
    scatter_gather(w)
    associated_transfer(w)
    household_shared_device(w, free_phones)
    office_shared_ip(w)
    payroll(w)
    merchant(w)
    traveller(w)
    reformed_borrower(w)
    friends_cycle(w)
    refinance_once(w)
    regular_borrower(w)
