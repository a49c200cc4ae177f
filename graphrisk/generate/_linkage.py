"""Planted ties to defaulters that differ in what the tie is made of (issue 11, item 1).

Each builder adds its own defaulters (new accounts, labelled ``overdue_history``: a loan
issued 5-7 months before the end, never repaid, 100-160 days past due) and one account tied
to each, then labels the tied accounts:

* ``risk_proximity`` / ``one_close_tie``: logs in on the defaulter's phone at the defaulter's
  home for months and exchanges money with it both ways, 4-8 transfers of 300-1,400 over
  those months. One defaulter, a close tie: RISK_PROXIMITY should find it.
* ``household_shared_device`` / ``relative_of_defaulter`` (look-alike): logs in on the
  defaulter's phone at its home just as often, but no money passes between them. A relative
  or a flatmate: RISK_PROXIMITY should leave it alone.
* ``office_shared_ip`` / ``old_address_of_defaulter`` (look-alike): used one address that a
  defaulter also used, once each, 4-6 months before the end (a café, a hotel): a weak, old
  tie. RISK_PROXIMITY should leave it alone.

The builders draw from their own generator (``[seed, 11]``), so the other patterns of a
world do not move when these are added.
"""

from __future__ import annotations

import numpy as np

from graphrisk.generate._world import DAY, LENDER_W, N_LENDERS, World, ragged

CAFE_NET = 100 << 24  # 100.x.y.z: public hotspots (cafés, hotels), one per case here
FRAC = 0.004  # 16 accounts per case in a 4,000-account world
FLOOR = 12


#: The labelled variants these builders add, by pattern.
VARIANTS: dict[str, tuple[str, ...]] = {
    "risk_proximity": ("one_close_tie",),
    "household_shared_device": ("relative_of_defaulter",),
    "office_shared_ip": ("old_address_of_defaulter",),
}


def _count(w: World) -> int:
    return max(FLOOR, round(w.n * FRAC))


def _defaulters(w: World, rng: np.random.Generator, m: int) -> np.ndarray:
    """``m`` new accounts with one loan 100-160 days past due and unpaid at the end."""
    d = w.take(m)
    T = w.T
    due = T - (rng.uniform(100, 160, m) * DAY).astype(np.int64)
    issued = due - (rng.uniform(30, 60, m) * DAY).astype(np.int64)
    amount = np.round(np.exp(rng.normal(np.log(6000), 0.5, m)), -2).clip(1000, 30000)
    w.add_loans(d, rng.choice(N_LENDERS, m, p=LENDER_W), amount, issued, due, np.full(m, -1))
    w.label(d, "overdue_history")
    return d


def _phone_logins(w: World, rng: np.random.Generator, acc: np.ndarray, d: np.ndarray) -> None:
    """6-12 logins of ``acc`` on ``d``'s own phone at ``d``'s home, spread over 4-6 months."""
    T = w.T
    x, _ = ragged(rng.integers(6, 13, acc.size))
    span = rng.uniform(120, 180, acc.size)[x]
    ts = T - (rng.uniform(0, 1, x.size) * span * DAY).astype(np.int64) - DAY
    # the defaulter is at home on its phone too (its own logins come with the population)
    w.add_logins(acc[x], d[x], ts, w.home_ip[d[x]], w.home_city[d[x]])
    w.add_logins(d[x], d[x], ts + 3600, w.home_ip[d[x]], w.home_city[d[x]])


def one_close_tie(w: World, rng: np.random.Generator) -> None:
    """One defaulter, its phone, its home address and money both ways for months."""
    m = _count(w)
    d = _defaulters(w, rng, m)
    acc = w.take(m)
    _phone_logins(w, rng, acc, d)
    x, _ = ragged(rng.integers(4, 9, m))
    out = np.zeros(x.size, dtype=bool)
    first = np.r_[True, x[1:] != x[:-1]]
    out[first] = True  # the first goes to the defaulter, the second comes back
    second = np.r_[False, first[:-1]]
    out[~first & ~second] = rng.random(int((~first & ~second).sum())) < 0.5
    ts = w.T - (rng.uniform(2, 150, x.size) * DAY).astype(np.int64)
    amount = np.round(rng.uniform(300, 1400, x.size), 2)
    w.add_transfers(np.where(out, acc[x], d[x]), np.where(out, d[x], acc[x]), amount, ts)
    w.label(acc, "risk_proximity", "one_close_tie")


def relative_of_defaulter(w: World, rng: np.random.Generator) -> None:
    """The defaulter's phone at its home, as often, and no money between them."""
    m = _count(w)
    d = _defaulters(w, rng, m)
    acc = w.take(m)
    _phone_logins(w, rng, acc, d)
    w.label(acc, "household_shared_device", "relative_of_defaulter")


def old_address_of_defaulter(w: World, rng: np.random.Generator) -> None:
    """One address that a defaulter used too, once each, 4-6 months ago."""
    m = _count(w)
    d = _defaulters(w, rng, m)
    acc = w.take(m)
    T = w.T
    ts = T - (rng.uniform(120, 170, m) * DAY).astype(np.int64)
    ip = CAFE_NET + rng.integers(0, 1 << 20) + np.arange(m, dtype=np.int64)
    city = w.home_city[d]
    w.add_logins(d, d, ts, ip, city)
    w.add_logins(acc, acc, ts + 1800, ip, city)
    w.label(acc, "office_shared_ip", "old_address_of_defaulter")


def plant_linkage(w: World, seed: int) -> None:
    """Every tie case above, from the generator ``[seed, 11]``."""
    rng = np.random.default_rng([seed, 11])
    one_close_tie(w, rng)
    relative_of_defaulter(w, rng)
    old_address_of_defaulter(w, rng)
