"""Income, outflow and debt in the synthetic world: salaries, declared incomes, the three
cash-flow patterns (UNSTABLE_INCOME, LARGE_OUTFLOW, HIGH_DEBT_RATIO) with their variants,
and their legitimate look-alikes.

Everything here draws from its own generator, ``default_rng([seed, 15])``, after the other
patterns have taken their accounts, so the rest of the world is the one those patterns were
built on. Salaries are paid on a fixed day of every calendar month by external employers
(ids ``E...``). The complete months a default scan sees (lookback 180 days before the
latest event) are :func:`seen_months`; the patterns place their shapes in them.
"""

from __future__ import annotations

import numpy as np

from graphrisk.generate._world import DAY, HOUR, LENDER_W, N_LENDERS, World, ragged

#: Share of ordinary (unlabelled) accounts paid a monthly salary.
SALARIED = 0.2
#: Share of accounts whose monthly income is declared (accounts.monthly_income).
DECLARED = 0.6
VARIANTS = {
    "unstable_income": ("swing", "swing_gig", "stop", "fade"),
    "large_outflow": ("single", "spread", "small"),
    "high_debt_ratio": ("stock", "fresh", "fresh_week"),
}


def seen_months(w: World, lookback_days: int = 180) -> np.ndarray:
    """Indices into ``w.month_starts`` of the calendar months that lie wholly inside the
    default scan's window (``as_of`` = the latest event, two minutes before the end)."""
    ms = w.month_starts
    nxt = np.r_[ms[1:], np.iinfo(np.int64).max]
    as_of = w.T - 120
    # as graphrisk.detectors._income.complete_months: a month counts once as_of is on its last day
    return np.nonzero((ms >= as_of - lookback_days * DAY) & (nxt - DAY <= as_of))[0]


def _count(w: World, frac: float, floor: int) -> int:
    return max(floor, round(w.n * frac))


def _salary(
    w: World, rng: np.random.Generator, median: float, sigma: float, m: int, lo: float, hi: float
):
    x = np.exp(rng.normal(np.log(median), sigma, m))
    return np.clip(np.round(x / 100) * 100, lo, hi)


def _pay(w: World, rng: np.random.Generator, acc, src, factor, dom) -> None:
    """Monthly payments ``factor[i, j] * 1`` to ``acc[i]`` from ``src[i]`` in month ``j`` on
    day ``dom[i]`` (rows of ``factor`` are already amounts); zero amounts are skipped."""
    ms = w.month_starts
    i, j = np.nonzero(factor > 0)
    ts = ms[j] + (dom[i] - 1) * DAY + 9 * HOUR + rng.integers(0, 2 * HOUR, i.size)
    ok = (ts >= 0) & (ts <= w.T - HOUR)
    w.add_transfers(src[i][ok], acc[i][ok], np.round(factor[i, j][ok], 2), ts[ok])


def _declare(w: World, rng: np.random.Generator, acc, income, share: float) -> None:
    """Declare ``income`` (within +-5%) for a ``share`` of ``acc``; the rest stay unknown."""
    given = rng.random(acc.size) < share
    w.declared[acc[given]] = np.round(income[given] * rng.uniform(0.95, 1.05, given.sum()), -2)
    w.declared_fixed[acc] = True


def _steady(w: World, rng: np.random.Generator, m: int, s: np.ndarray) -> np.ndarray:
    """An ``m x months`` matrix of steady monthly amounts ``s`` (+-2%)."""
    return s[:, None] * rng.uniform(0.98, 1.02, (m, w.month_starts.size))


def _lenders(rng: np.random.Generator, m: int, k: int) -> np.ndarray:
    """``m x k`` distinct lenders per row, by popularity (this module's own generator)."""
    keys = np.log(LENDER_W)[None, :] + rng.gumbel(size=(m, N_LENDERS))
    return np.argsort(-keys, axis=1)[:, :k]


def _shops(w: World, rng: np.random.Generator, k: int) -> np.ndarray:
    return w.n + rng.integers(0, w.n_ext, k)


# ================================================================================ planted
def unstable_income(w: World, rng: np.random.Generator) -> None:
    """Salaries that swing in each of the last three seen months (one payment, or a gig
    worker's many), stop, or fade to 2-8% for the last two, after a steady run."""
    m = _count(w, 0.01, 16)
    acc = w.take(m)
    names = VARIANTS["unstable_income"]
    var = np.arange(m) % len(names)
    s = _salary(w, rng, 11000, 0.3, m, 8000, 40000)
    f = _steady(w, rng, m, s)
    seen = seen_months(w)
    swing = var <= 1
    phase = rng.integers(0, 2, m)
    for k, j in enumerate(seen[-3:]):
        low = rng.uniform(0.05, 0.25, m)
        high = rng.uniform(2.0, 2.8, m)
        pick = np.where((k + phase) % 2 == 0, low, high)
        f[swing, j] = s[swing] * pick[swing]
    after = np.arange(w.month_starts.size) > seen[-1]
    f[np.ix_(swing, after)] = s[swing][:, None] * rng.uniform(
        0.3, 2.0, (int(swing.sum()), after.sum())
    )
    tail = np.arange(w.month_starts.size) >= seen[-2]
    f[np.ix_(var == 2, tail)] = 0.0
    fade = var == 3
    f[np.ix_(fade, tail)] = s[fade][:, None] * rng.uniform(
        0.03, 0.12, (int(fade.sum()), tail.sum())
    )
    one = var != 1
    emp = w.new_employers(m)
    _pay(w, rng, acc[one], emp[one], f[one], rng.integers(1, 29, int(one.sum())))
    # gig workers: 3-8 payments a month from their own few payers, summing to the month
    gig = np.nonzero(var == 1)[0]
    payers = w.new_employers(4 * gig.size).reshape(gig.size, 4)
    gi, gj = np.nonzero(f[gig] > 0)
    g, _ = ragged(rng.integers(3, 9, gi.size))
    wgt = rng.gamma(2.0, size=g.size)
    part = f[gig][gi, gj][g] * wgt / np.bincount(g, weights=wgt)[g]
    ts = w.month_starts[gj[g]] + rng.integers(0, 28 * DAY, g.size)
    ok = (ts >= 0) & (ts <= w.T - HOUR)
    src = payers[gi[g], rng.integers(0, 4, g.size)]
    w.add_transfers(src[ok], acc[gig][gi[g]][ok], np.round(part[ok], 2), ts[ok])
    _declare(w, rng, acc, s, 0.5)
    for v, name in enumerate(names):
        w.label(acc[var == v], "unstable_income", name)


def large_outflow(w: World, rng: np.random.Generator) -> None:
    """A salaried account borrows and pays it out within days: one payment of 5-12 months'
    pay (single), 4-8 payments of together 4.5-7 months' pay from 2-3 loans, over 5 days
    (spread), or one payment of 3.6-4.5 months' pay (at least 10,500) 2-12 hours after the
    loan (small: the smallest outflow that counts, at once)."""
    m = _count(w, 0.009, 18)
    acc = w.take(m)
    var = np.arange(m) % 3
    s = _salary(w, rng, 8000, 0.4, m, 3000, 30000)
    _pay(w, rng, acc, w.new_employers(m), _steady(w, rng, m, s), rng.integers(1, 29, m))
    t0 = w.T - (rng.uniform(10, 80, m) * DAY).astype(np.int64)
    single = np.nonzero(var != 1)[0]
    mult = np.choose(var, (rng.uniform(5, 12, m), rng.uniform(4.5, 7, m), rng.uniform(3.6, 4.5, m)))
    total = np.round(s * mult, -2)
    total = np.where(var == 2, np.maximum(total, 10_500), total)
    lag = np.where(var == 2, rng.uniform(2 / 24, 0.5, m), rng.uniform(0.1, 3, m))
    lend = _lenders(rng, m, 3)
    # single: one loan, one payment 0.1-3 days later
    w.add_loans(acc[single], lend[single, 0], total[single], t0[single],
                t0[single] + 180 * DAY, np.full(single.size, -1))  # fmt: skip
    w.add_transfers(acc[single], _shops(w, rng, single.size),
                    total[single] * rng.uniform(0.9, 1.0, single.size),
                    t0[single] + (lag[single] * DAY).astype(np.int64))  # fmt: skip
    # spread: 2-3 loans within 4 days, then 4-8 payments over 5 days
    sp = np.nonzero(var == 1)[0]
    g, pos = ragged(rng.integers(2, 4, sp.size))
    k = np.bincount(g)
    issued = t0[sp][g] + (rng.uniform(0, 4, g.size) * DAY).astype(np.int64)
    w.add_loans(acc[sp][g], lend[sp][g, pos], np.round(total[sp][g] / k[g], -2), issued,
                issued + 180 * DAY, np.full(g.size, -1))  # fmt: skip
    first = t0[sp] + 4 * DAY + HOUR
    h, _ = ragged(rng.integers(4, 9, sp.size))
    wgt = rng.gamma(2.0, size=h.size)
    share = rng.uniform(0.9, 1.0, sp.size)
    part = total[sp][h] * share[h] * wgt / np.bincount(h, weights=wgt)[h]
    w.add_transfers(acc[sp][h], _shops(w, rng, h.size), part,
                    first[h] + (rng.uniform(0, 5, h.size) * DAY).astype(np.int64))  # fmt: skip
    _declare(w, rng, acc, s, 0.5)
    for v, name in enumerate(VARIANTS["large_outflow"]):
        w.label(acc[var == v], "large_outflow", name)


def _income_of(
    w: World, rng: np.random.Generator, acc, s, declared_only: float, observed_only: float
) -> None:
    """Income known as declared only, as salary transfers only, or both."""
    m = acc.size
    r = rng.random(m)
    paid = r >= declared_only
    declared = (r < declared_only) | (r >= declared_only + observed_only)
    _pay(w, rng, acc[paid], w.new_employers(int(paid.sum())), _steady(w, rng, int(paid.sum()), s[paid]),
         rng.integers(1, 29, int(paid.sum())))  # fmt: skip
    w.declared[acc[declared]] = np.round(s[declared] * rng.uniform(0.97, 1.03, declared.sum()), -2)
    w.declared_fixed[acc] = True


def high_debt_ratio(w: World, rng: np.random.Generator) -> None:
    """Debt against income: 15-22 months of income owed on 2-4 loans taken over the last
    1-5 months (stock), 7.5-11 months of income borrowed in the last 3-25 days (fresh), or
    6.5-8 months of it on 3-5 loans taken in the last 0.5-7 days (fresh_week). Income
    declared only, seen only as salary, or both."""
    m = _count(w, 0.009, 18)
    acc = w.take(m)
    var = np.arange(m) % 3
    s = _salary(w, rng, 7000, 0.4, m, 2500, 30000)
    _income_of(w, rng, acc, s, 0.4, 0.3)
    months = np.choose(
        var, (rng.uniform(15, 22, m), rng.uniform(7.5, 11, m), rng.uniform(6.5, 8, m))
    )
    n_loans = np.choose(var, (rng.integers(2, 5, m), rng.integers(1, 4, m), rng.integers(3, 6, m)))
    g, pos = ragged(n_loans)
    k = np.bincount(g)
    back = np.choose(var[g], (rng.uniform(30, 150, g.size), rng.uniform(3, 25, g.size),
                              rng.uniform(0.5, 7, g.size)))  # fmt: skip
    issued = w.T - (back * DAY).astype(np.int64)
    lend = _lenders(rng, m, 5)
    w.add_loans(acc[g], lend[g, pos], np.round(s[g] * months[g] / k[g], -2), issued,
                issued + 365 * DAY, np.full(g.size, -1))  # fmt: skip
    for v, name in enumerate(VARIANTS["high_debt_ratio"]):
        w.label(acc[var == v], "high_debt_ratio", name)


# ============================================================================ look-alikes
def salary_bonus(w: World, rng: np.random.Generator) -> None:
    """A steady salary plus one bonus of 1.5-3 months' pay in one of the seen months."""
    m = _count(w, 0.003, 12)
    acc = w.take(m)
    s = _salary(w, rng, 9000, 0.4, m, 3000, 40000)
    f = _steady(w, rng, m, s)
    seen = seen_months(w)
    j = np.where(rng.random(m) < 0.5, seen[-1 - rng.integers(0, 2, m)], rng.choice(seen, m))
    emp = w.new_employers(m)
    dom = rng.integers(1, 29, m)
    _pay(w, rng, acc, emp, f, dom)
    bonus = np.zeros_like(f)
    bonus[np.arange(m), j] = s * rng.uniform(1.5, 3.0, m)
    _pay(w, rng, acc, emp, bonus, rng.integers(1, 29, m))
    _declare(w, rng, acc, s, 0.5)
    w.label(acc, "salary_bonus")


def seasonal_earner(w: World, rng: np.random.Generator) -> None:
    """Income in a season that repeats every 2 or 3 months (high, low / high, high, low)."""
    m = _count(w, 0.003, 12)
    acc = w.take(m)
    s = _salary(w, rng, 9000, 0.4, m, 3000, 40000)
    period = rng.integers(2, 4, m)
    phase = rng.integers(0, 3, m)
    high = np.where(period == 2, rng.uniform(1.4, 1.8, m), rng.uniform(1.1, 1.4, m))
    low = np.where(period == 2, rng.uniform(0.2, 0.45, m), rng.uniform(0.1, 0.3, m))
    j = np.arange(w.month_starts.size)
    off = ((j[None, :] + phase[:, None]) % period[:, None]) == period[:, None] - 1
    f = np.where(off, low[:, None], high[:, None]) * _steady(w, rng, m, s)
    _pay(w, rng, acc, w.new_employers(m), f, rng.integers(1, 29, m))
    _declare(w, rng, acc, s, 0.5)
    w.label(acc, "seasonal_earner")


def saved_purchase(w: World, rng: np.random.Generator) -> None:
    """A steady salary saved for months, then one payment of 3.5-5.5 months' pay (a car,
    a wedding) in the last 5-40 days; no loan near it."""
    m = _count(w, 0.003, 12)
    acc = w.take(m)
    s = _salary(w, rng, 9000, 0.4, m, 3000, 40000)
    _pay(w, rng, acc, w.new_employers(m), _steady(w, rng, m, s), rng.integers(1, 29, m))
    tp = w.T - (rng.uniform(5, 40, m) * DAY).astype(np.int64)
    w.add_transfers(acc, _shops(w, rng, m), np.round(s * rng.uniform(3.5, 5.5, m), -2), tp)
    w.base_until[acc] = np.minimum(w.base_until[acc], np.maximum(tp - 45 * DAY, 0))
    _declare(w, rng, acc, s, 0.5)
    w.label(acc, "saved_purchase")


def high_earner_loans(w: World, rng: np.random.Generator) -> None:
    """An income of 20k-150k a month and 1-2 large loans from its bank of together 2-3.5
    months of it, taken 40-150 days ago (no other borrowing near them)."""
    m = _count(w, 0.003, 12)
    acc = w.take(m)
    s = _salary(w, rng, 45000, 0.3, m, 20000, 150000)
    _income_of(w, rng, acc, s, 0.4, 0.3)
    g, _ = ragged(rng.integers(1, 3, m))
    k = np.bincount(g)
    issued = w.T - (rng.uniform(40, 150, g.size) * DAY).astype(np.int64)
    total = s * rng.uniform(2.0, 3.5, m)
    w.add_loans(acc[g], _lenders(rng, m, 1)[g, 0], np.round(total[g] / k[g], -3), issued,
                issued + 365 * DAY, np.full(g.size, -1))  # fmt: skip
    first = np.full(m, w.T)
    np.minimum.at(first, g, issued)
    w.base_until[acc] = np.minimum(w.base_until[acc], np.maximum(first - 45 * DAY, 0))
    w.label(acc, "high_earner_loans")


def no_income_data(w: World, rng: np.random.Generator) -> None:
    """No declared income and no salary seen; a loan of 10k-40k spent in 1-2 payments
    within 3 days (nothing to measure it against: not judged)."""
    m = _count(w, 0.003, 12)
    acc = w.take(m)
    w.declared_fixed[acc] = True
    t0 = w.T - (rng.uniform(10, 80, m) * DAY).astype(np.int64)
    amount = np.round(rng.uniform(10000, 40000, m), -2)
    w.add_loans(acc, _lenders(rng, m, 1)[:, 0], amount, t0, t0 + 180 * DAY, np.full(m, -1))
    w.base_until[acc] = np.minimum(w.base_until[acc], np.maximum(t0 - 45 * DAY, 0))
    g, _ = ragged(rng.integers(1, 3, m))
    k = np.bincount(g)
    w.add_transfers(acc[g], _shops(w, rng, g.size), amount[g] * 0.9 / k[g],
                    t0[g] + (rng.uniform(0.1, 3, g.size) * DAY).astype(np.int64))  # fmt: skip
    w.label(acc, "no_income_data")


# ========================================================================= ordinary life
def ordinary_income(w: World, rng: np.random.Generator) -> None:
    """Salaries for ``SALARIED`` of the ordinary accounts (kept in ``w.salary``)."""
    rest = w.pool[w.pool_pos :]
    paid = rest[rng.random(rest.size) < SALARIED]
    s = _salary(w, rng, 8000, 0.45, paid.size, 3000, 60000)
    employers = w.new_employers(max(20, w.n // 200))
    _pay(w, rng, paid, employers[rng.integers(0, employers.size, paid.size)],
         _steady(w, rng, paid.size, s), rng.integers(1, 29, paid.size))  # fmt: skip
    w.salary = np.full(w.n, np.nan)
    w.salary[paid] = s


def declare_incomes(w: World) -> None:
    """Declared incomes for ``DECLARED`` of every account whose income no pattern fixed
    (run after the ordinary loans exist). Salaried: the salary +-10%. Others (paid into
    another bank): log-normal around 7,000, and at least a quarter to two thirds of their
    largest loan, since a lender sizes a loan by the income it was told."""
    rng = w.cash_rng
    acct = np.concatenate([x[0] for x in w.loans])
    amount = np.concatenate([x[2] for x in w.loans])
    largest = np.zeros(w.n)
    np.maximum.at(largest, acct, amount)
    free = np.nonzero(~w.declared_fixed)[0]
    given = free[rng.random(free.size) < DECLARED]
    other = np.maximum(
        _salary(w, rng, 7000, 0.5, given.size, 2000, 60000),
        largest[given] / rng.uniform(1.5, 4.0, given.size),
    )
    salary = w.salary[given]
    guess = np.where(np.isnan(salary), other, salary * rng.uniform(0.9, 1.1, given.size))
    w.declared[given] = np.round(guess, -2)


def plant_cash_flow(w: World, seed: int) -> None:
    """Every cash-flow pattern and look-alike, then the ordinary salaries (the declared
    incomes of ordinary accounts follow the ordinary loans: :func:`declare_incomes`)."""
    rng = np.random.default_rng([seed, 15])
    w.cash_rng = rng
    unstable_income(w, rng)
    large_outflow(w, rng)
    high_debt_ratio(w, rng)
    salary_bonus(w, rng)
    seasonal_earner(w, rng)
    saved_purchase(w, rng)
    high_earner_loans(w, rng)
    no_income_data(w, rng)
    ordinary_income(w, rng)
