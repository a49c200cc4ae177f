"""Event buffers, the ordinary population and the Parquet writer of the synthetic world.

Everything is kept as integer numpy arrays until the very end: accounts, lenders, devices,
cities and external counterparties are indices, times are seconds since ``end - days``.
:func:`World.write` turns them into the string ids and timestamps of SPEC.md.

Conventions used by the pattern builders in :mod:`graphrisk.generate._patterns`:

* account ``a`` is ``0 <= a < n``; an external counterparty ``k`` is ``n + k`` in transfer
  ``src``/``dst`` arrays;
* account ``a``'s own primary device is device ``a``; a second own device (about a third of
  the accounts) is ``dev2[a] >= n``; shared devices are allocated with :meth:`World.new_devices`;
* a repaid time of ``-1`` means the loan is outstanding.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from graphrisk.errors import UsageError
from graphrisk.io import atomic_dir
from graphrisk.patterns import PATTERNS

DAY = 86_400
HOUR = 3_600
N_LENDERS = 40
#: Zipf-like popularity of lenders L01..L40.
LENDER_W = 1.0 / np.arange(1, N_LENDERS + 1) ** 0.9
LENDER_W /= LENDER_W.sum()

#: Kind of each lender L01..L40 by popularity rank: the busiest are banks and consumer-finance
#: companies; the long tail licensed microloan companies, online platforms and P2P lenders.
LENDER_KINDS: tuple[str, ...] = (
    ("bank",) * 6 + ("consumer_finance",) * 8 + ("microloan",) * 12
    + ("online_platform",) * 8 + ("p2p",) * 4 + ("other",) * 2
)  # fmt: skip
#: Lenders the world's lenders table leaves out (a book's reference data often misses a few).
UNLISTED_LENDERS = 1


def lenders_table() -> pl.DataFrame:
    """The world's ``lenders`` table: every lender but the last :data:`UNLISTED_LENDERS`.

    Examples
    --------
    >>> t = lenders_table()
    >>> t.height, t["kind"][0], t["kind"][20]
    (39, 'bank', 'microloan')
    """
    n = N_LENDERS - UNLISTED_LENDERS
    return pl.DataFrame(
        {
            "lender_id": [f"L{i:02d}" for i in range(1, n + 1)],
            "kind": list(LENDER_KINDS[:n]),
            "name": [f"{k.replace('_', ' ').title()} {i:02d}" for i, k in
                     enumerate(LENDER_KINDS[:n], start=1)],
        }
    )  # fmt: skip


CITIES: tuple[str, ...] = (
    "Shanghai", "Beijing", "Shenzhen", "Guangzhou", "Chongqing", "Chengdu", "Tianjin",
    "Wuhan", "Hangzhou", "Xian", "Suzhou", "Nanjing", "Zhengzhou", "Changsha", "Dongguan",
    "Shenyang", "Qingdao", "Hefei", "Foshan", "Jinan", "Harbin", "Kunming", "Dalian",
    "Fuzhou", "Xiamen", "Ningbo", "Wuxi", "Shijiazhuang", "Nanning", "Changchun",
    "Taiyuan", "Nanchang", "Guiyang", "Urumqi", "Lanzhou", "Wenzhou", "Quanzhou",
    "Huizhou", "Haikou", "Hohhot",
)  # fmt: skip
N_CITIES = len(CITIES)
CITY_W = 1.0 / np.arange(1, N_CITIES + 1) ** 0.6
CITY_W /= CITY_W.sum()

HOME_NET = 10 << 24  # 10.x.y.z: home broadband, one per account
OFFICE_NET = 172 << 24  # 172.x.y.z: office gateways
RING_NET = 45 << 24  # 45.x.y.z: proxies used by device farms
SHARED_NET = 36 << 24  # 36.x.y.z: other shared devices


def city_ip(rng: np.random.Generator, city: np.ndarray) -> np.ndarray:
    """Random mobile/hotel addresses ``(100+city).x.y.z`` for logins away from home."""
    city = np.asarray(city, dtype=np.int64)
    return ((100 + city) << 24) + rng.integers(0, 1 << 24, city.size)


def ragged(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand per-group counts into (group index, position within group) per row."""
    counts = np.asarray(counts, dtype=np.int64)
    g = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return g, np.arange(g.size) - starts[g]


def group_cumsum(values: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting at each new group (``g`` sorted)."""
    cs = np.cumsum(values)
    first = np.r_[True, g[1:] != g[:-1]]
    base = (cs - values)[first]
    return cs - base[np.cumsum(first) - 1]


class World:
    """A growing synthetic world: accounts as indices and event buffers as numpy arrays."""

    def __init__(self, n: int, seed: int, days: int) -> None:
        self.n = n
        self.days = days
        self.T = days * DAY
        self.rng = rng = np.random.default_rng(seed)
        self.pool = rng.permutation(n)
        self.pool_pos = 0
        self.home_city = rng.choice(N_CITIES, size=n, p=CITY_W).astype(np.int64)
        idx = np.arange(n, dtype=np.int64)
        # a bijection on 24 bits: every account has its own home address
        self.home_ip = HOME_NET + (idx * 2_654_435_761 + 12_345) % (1 << 24)
        has2 = rng.random(n) < 0.35
        self.dev2 = np.full(n, -1, dtype=np.int64)
        self.dev2[has2] = n + np.arange(int(has2.sum()))
        self.n_devices = n + int(has2.sum())
        self.n_ext = max(50, n // 50)
        self.base_until = np.full(n, self.T, dtype=np.int64)
        # accounts that must have no ordinary relation with one another (transfer cycles)
        self.strangers = np.zeros(n, dtype=bool)
        self.loans: list[tuple[np.ndarray, ...]] = []
        self.transfers: list[tuple[np.ndarray, ...]] = []
        self.logins: list[tuple[np.ndarray, ...]] = []
        self.apps: list[tuple[np.ndarray, ...]] = []
        self.labels: list[tuple[np.ndarray, str, str | None]] = []
        # external employers (ids ``E...``): counterparty ``n + n_ext + k``
        self.n_employers = 0
        # accounts.monthly_income: declared income, NaN = unknown (null)
        self.declared = np.full(n, np.nan)
        self.declared_fixed = np.zeros(n, dtype=bool)  # set by a pattern: left as it is
        self.salary = np.full(n, np.nan)  # monthly salary of ordinary salaried accounts
        self.cash_rng = np.random.default_rng([seed, 15])
        self.groups: dict[str, int] = {}

    # ----------------------------------------------------------------- allocation
    def take(self, k: int) -> np.ndarray:
        """``k`` fresh accounts that carry no other pattern."""
        if self.pool_pos + k > self.n:
            raise ValueError(
                f"world too small: {self.n} accounts cannot hold every planted pattern; "
                "use accounts >= 2000"
            )
        out = self.pool[self.pool_pos : self.pool_pos + k]
        self.pool_pos += k
        return out

    def new_devices(self, k: int) -> np.ndarray:
        """``k`` new device indices (shared devices, farms)."""
        out = np.arange(self.n_devices, self.n_devices + k, dtype=np.int64)
        self.n_devices += k
        return out

    def other_accounts(self, exclude: np.ndarray) -> np.ndarray:
        """A random account per row of ``exclude``, never equal to it."""
        r = self.rng.integers(0, self.n - 1, exclude.size)
        return np.where(r >= exclude, r + 1, r)

    def lenders(self, m: int, k: int) -> np.ndarray:
        """``m x k`` matrix: per row, ``k`` distinct lenders drawn by popularity."""
        keys = np.log(LENDER_W)[None, :] + self.rng.gumbel(size=(m, N_LENDERS))
        return np.argsort(-keys, axis=1)[:, :k]

    def cities(self, m: int, k: int, avoid: np.ndarray | None = None) -> np.ndarray:
        """``m x k`` matrix of distinct cities per row, never ``avoid[row]``."""
        keys = np.log(CITY_W)[None, :] + self.rng.gumbel(size=(m, N_CITIES))
        if avoid is not None:
            keys[np.arange(m), avoid] = -np.inf
        return np.argsort(-keys, axis=1)[:, :k]

    def days_(self, lo: float, hi: float, size: int | np.ndarray) -> np.ndarray:
        """Uniform durations in seconds between ``lo`` and ``hi`` days."""
        shape = size if isinstance(size, int) else np.shape(size)
        return (self.rng.uniform(lo, hi, shape) * DAY).astype(np.int64)

    def lognormal(self, median: float, sigma: float, size: int, lo: float, hi: float,
                  step: float) -> np.ndarray:  # fmt: skip
        """Log-normal amounts clipped to ``[lo, hi]`` and rounded to ``step``."""
        x = np.exp(self.rng.normal(np.log(median), sigma, size))
        return np.clip(np.round(x / step) * step, lo, hi)

    # ----------------------------------------------------------------- events
    def add_loans(self, acct, lender, amount, issued, due, repaid) -> None:
        """Loans; ``repaid`` after the end of the world (or ``-1``) means outstanding."""
        acct = np.asarray(acct, dtype=np.int64)
        issued = np.clip(np.asarray(issued, dtype=np.int64), 0, self.T - 600)
        due = np.maximum(np.asarray(due, dtype=np.int64), issued + DAY)
        repaid = np.asarray(repaid, dtype=np.int64)
        repaid = np.where(repaid >= 0, np.maximum(repaid, issued + HOUR), -1)
        repaid = np.where(repaid > self.T - 600, -1, repaid)
        amount = np.asarray(amount, dtype=np.float64)
        self.loans.append((acct, np.asarray(lender, dtype=np.int64), amount, issued, due, repaid))

    def loans_on_time(self, acct, lender, amount, issued, term_days) -> None:
        """Loans repaid on or shortly before their due date (outstanding if due later)."""
        issued = np.asarray(issued, dtype=np.int64)
        due = issued + (np.asarray(term_days) * DAY).astype(np.int64)
        repaid = due - self.days_(0, 4, issued.size)
        self.add_loans(acct, lender, amount, issued, due, repaid)

    def add_transfers(self, src, dst, amount, ts) -> None:
        """Transfers; ids ``>= n`` are external counterparties."""
        ts = np.clip(np.asarray(ts, dtype=np.int64), 0, self.T - 600)
        self.transfers.append(
            (np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64),
             np.round(np.asarray(amount, dtype=np.float64), 2), ts)
        )  # fmt: skip

    def add_logins(self, acct, dev, ts, ip, city) -> None:
        """Login events (one ``devices`` row each)."""
        ts = np.clip(np.asarray(ts, dtype=np.int64), 0, self.T - 600)
        self.logins.append(
            (np.asarray(acct, dtype=np.int64), np.asarray(dev, dtype=np.int64), ts,
             np.asarray(ip, dtype=np.int64), np.asarray(city, dtype=np.int64))
        )  # fmt: skip

    def add_apps(self, acct, lender, ts) -> None:
        """Credit applications."""
        ts = np.clip(np.asarray(ts, dtype=np.int64), 0, self.T - 600)
        self.apps.append((np.asarray(acct, dtype=np.int64), np.asarray(lender, np.int64), ts))

    def label(self, acct: np.ndarray, pattern: str, variant: str | None = None) -> None:
        """Label accounts with a pattern of :data:`graphrisk.patterns.PATTERNS` (and the
        variant of the pattern they carry, if it has several)."""
        if pattern not in PATTERNS:
            raise KeyError(pattern)
        self.labels.append((np.unique(np.asarray(acct, dtype=np.int64)), pattern, variant))

    def new_employers(self, k: int) -> np.ndarray:
        """``k`` new external employers (counterparty indices, ids ``E...``)."""
        out = self.n + self.n_ext + np.arange(self.n_employers, self.n_employers + k)
        self.n_employers += k
        return out.astype(np.int64)

    # ----------------------------------------------------------------- ordinary life
    def base_population(self) -> None:
        """Ordinary behaviour of every account: loans, logins, friends, shops, applications."""
        rng, n, T = self.rng, self.n, self.T
        idx = np.arange(n, dtype=np.int64)

        # loans: 1-2 usual lenders, ~3 loans, log-normal around 5,000, repaid on/near due
        u1 = rng.choice(N_LENDERS, n, p=LENDER_W)
        u2 = np.where(rng.random(n) < 0.5, rng.choice(N_LENDERS, n, p=LENDER_W), u1)
        until = self.base_until
        k = np.where(until >= 30 * DAY, rng.poisson(3.0, n), 0)
        g, _ = ragged(k)
        m = g.size
        issued = (rng.random(m) * until[g]).astype(np.int64)
        lender = np.where(rng.random(m) < 0.5, u1[g], u2[g])
        amount = self.lognormal(5000, 0.7, m, 1000, 50000, 100)
        term = rng.choice(np.array([30, 60, 90, 120, 180]), m, p=[0.25, 0.25, 0.25, 0.15, 0.1])
        due = issued + term * DAY + rng.integers(0, 12 * HOUR, m)
        r = rng.random(m)
        repaid = np.where(
            r < 0.85,
            due - self.days_(0, 7, m),
            np.where(r < 0.93, issued + (rng.uniform(0.3, 0.9, m) * term * DAY).astype(np.int64),
                     due + self.days_(1, 10.9, m)),
        )  # fmt: skip
        self.add_loans(idx[g], lender, amount, issued, due, repaid)

        # logins: ~15, own 1-2 devices, home city and IP, a few from one other city
        k = rng.poisson(14.0, n) + 1
        g, _ = ragged(k)
        m = g.size
        ts = rng.integers(0, T - 600, m)
        dev = np.where((self.dev2[g] >= 0) & (rng.random(m) < 0.4), self.dev2[g], g)
        alt_city = (self.home_city + rng.integers(1, N_CITIES, n)) % N_CITIES
        away = rng.random(m) < 0.03
        city = np.where(away, alt_city[g], self.home_city[g])
        ip = np.where(away, city_ip(rng, city), self.home_ip[g])
        self.add_logins(g, dev, ts, ip, city)

        # friends and family: each account starts 1-2 relations; transfers both ways
        k = 1 + (rng.random(n) < 0.5)
        a, _ = ragged(k)
        b = self.other_accounts(a)
        keep = ~(self.strangers[a] & self.strangers[b])
        a, b = a[keep], b[keep]
        per = rng.poisson(3.0, a.size) + 1
        e, _ = ragged(per)
        m = e.size
        fwd = rng.random(m) < 0.55
        src = np.where(fwd, a[e], b[e])
        dst = np.where(fwd, b[e], a[e])
        amount = self.lognormal(300, 0.9, m, 50, 5000, 0.01)
        self.add_transfers(src, dst, amount, rng.integers(0, T - 600, m))

        # shops and utilities (external counterparties), mostly outgoing
        k = rng.poisson(4.0, n)
        g, _ = ragged(k)
        m = g.size
        ext_w = 1.0 / np.arange(1, self.n_ext + 1) ** 0.8
        ext = n + rng.choice(self.n_ext, m, p=ext_w / ext_w.sum())
        out = rng.random(m) < 0.9
        amount = self.lognormal(150, 1.0, m, 50, 5000, 0.01)
        ts = rng.integers(0, T - 600, m)
        self.add_transfers(np.where(out, g, ext), np.where(out, ext, g), amount, ts)

        # rejected applications, 1-2 a year
        k = rng.poisson(1.5 * self.days / 365, n)
        g, _ = ragged(k)
        self.add_apps(g, rng.choice(N_LENDERS, g.size, p=LENDER_W),
                      rng.integers(0, T - 600, g.size))  # fmt: skip

    def loan_applications(self) -> None:
        """One application per loan, to its lender, shortly before it was issued."""
        acct = np.concatenate([x[0] for x in self.loans])
        lender = np.concatenate([x[1] for x in self.loans])
        issued = np.concatenate([x[3] for x in self.loans])
        before = self.rng.integers(600, 3 * DAY, acct.size)
        self.add_apps(acct, lender, np.where(issued >= before, issued - before, issued // 2))

    def label_accidental_proximity(self) -> None:
        """Label ``risk_proximity`` any unlabelled account that chance linked to 2+ defaulters.

        A defaulter has an unrepaid loan 90+ days past due at the end of the world; a link is
        a transfer either way or a device both logged in on.
        """
        n = self.n
        acct = np.concatenate([x[0] for x in self.loans])
        due = np.concatenate([x[4] for x in self.loans])
        repaid = np.concatenate([x[5] for x in self.loans])
        dflt = np.zeros(n, dtype=bool)
        dflt[acct[(repaid < 0) & (self.T - due >= 90 * DAY)]] = True
        src = np.concatenate([x[0] for x in self.transfers])
        dst = np.concatenate([x[1] for x in self.transfers])
        inner = (src < n) & (dst < n)
        src, dst = src[inner], dst[inner]
        a = [dst[dflt[src]], src[dflt[dst]]]
        b = [src[dflt[src]], dst[dflt[dst]]]
        la = np.concatenate([x[0] for x in self.logins])
        ld = np.concatenate([x[1] for x in self.logins])
        bad_dev = np.unique(ld[dflt[la]])
        on_bad = np.isin(ld, bad_dev)
        users = np.unique(np.stack([la[on_bad], ld[on_bad]]), axis=1)
        owners = np.unique(np.stack([ld[on_bad & dflt[la]], la[on_bad & dflt[la]]]), axis=1)
        # (user, defaulter) pairs through a device: join users and owners on the device
        order = np.argsort(owners[0], kind="stable")
        od, oa = owners[0][order], owners[1][order]
        lo = np.searchsorted(od, users[1], "left")
        hi = np.searchsorted(od, users[1], "right")
        g, pos = ragged(hi - lo)
        a.append(users[0][g])
        b.append(oa[lo[g] + pos])
        pairs = np.unique(np.stack([np.concatenate(a), np.concatenate(b)]), axis=1)
        pairs = pairs[:, pairs[0] != pairs[1]]
        k = np.bincount(pairs[0], minlength=n)
        labelled = np.zeros(n, dtype=bool)
        for x, *_ in self.labels:
            labelled[x] = True
        extra = np.nonzero((k >= 2) & ~labelled)[0]
        self.accidental_proximity = int(extra.size)
        if extra.size:
            self.label(extra, "risk_proximity")

    # ----------------------------------------------------------------- output
    def tables(self, end: datetime) -> Iterator[tuple[str, pl.DataFrame]]:
        """The seven tables (and labels) as polars DataFrames with SPEC.md columns, one at a
        time.

        Each event buffer is released once its table is built, to keep memory low.
        """
        rng, n, T = self.rng, self.n, self.T
        # the latest event of the world: a login two minutes before `end`
        last = rng.integers(0, n, 1)
        self.add_logins(last, last, [T - 600], self.home_ip[last], self.home_city[last])
        self.logins[-1] = (*self.logins[-1][:2], np.array([T - 120]), *self.logins[-1][3:])

        if end.tzinfo is not None:
            end = end.astimezone(UTC).replace(tzinfo=None)
        t0 = end - timedelta(days=self.days)
        t0_us = (t0 - datetime(1970, 1, 1)) // timedelta(microseconds=1)
        w_acc = len(str(n))

        def ts(col: str) -> pl.Expr:
            return (pl.col(col) * 1_000_000 + t0_us).cast(pl.Datetime("us"))

        def ids(prefix: str, col: str | pl.Expr, width: int) -> pl.Expr:
            c = pl.col(col) if isinstance(col, str) else col
            return pl.concat_str([pl.lit(prefix), (c + 1).cast(pl.String).str.zfill(width)])

        def names(prefix: str, count: int, width: int) -> pl.Series:
            return pl.select(ids(prefix, pl.int_range(count, dtype=pl.Int64), width)).to_series()

        # every id string is formatted once, then gathered (cheap for short strings)
        party_names = pl.concat(
            [
                names("A", n, w_acc),
                names("X", self.n_ext, len(str(self.n_ext))),
                names("E", self.n_employers, len(str(max(self.n_employers, 1)))),
            ]
        )
        dev_names = names("D", self.n_devices, len(str(self.n_devices)))

        def lookup(table: pl.Series, col: str) -> pl.Expr:
            return pl.col(col).map_batches(lambda s: table.gather(s), return_dtype=pl.String)

        def party(col: str) -> pl.Expr:
            return lookup(party_names, col)

        def cat(buf: list, names: list[str]) -> pl.DataFrame:
            return pl.DataFrame(
                {k: np.concatenate([b[i] for b in buf]) for i, k in enumerate(names)}
            )

        def ipstr(col: str) -> pl.Expr:
            c = pl.col(col)
            return pl.concat_str(
                [(c // (1 << 24)) % 256, (c // (1 << 16)) % 256, (c // 256) % 256, c % 256],
                separator=".",
            )

        city_names = pl.Series(CITIES)

        # accounts
        opened = -self.days_(1, 1500, n)
        credit = self.lognormal(30000, 0.8, n, 5000, 200000, 1000)
        accounts = pl.DataFrame(
            {
                "a": np.arange(n),
                "opened": opened,
                "credit_limit": credit,
                "city": self.home_city,
                "inc": self.declared,
            }
        ).select(
            ids("A", "a", w_acc).alias("account_id"),
            ts("opened").alias("opened_at"),
            pl.col("credit_limit"),
            ids("C", "a", w_acc).alias("customer_id"),
            pl.col("city").map_batches(lambda s: city_names.gather(s), return_dtype=pl.String),
            pl.col("inc").fill_nan(None).alias("monthly_income"),
        )

        yield "accounts", accounts
        del accounts

        # loans: overdue_days = most days past due so far (as of the end of the world)
        lo = cat(self.loans, ["a", "lender", "amount", "issued", "due", "repaid"])
        lo = lo.sort(["issued", "a", "lender", "amount", "due", "repaid"])
        w_ln = len(str(lo.height))
        stop = pl.when(pl.col("repaid") >= 0).then(pl.col("repaid")).otherwise(T)
        loans = lo.with_row_index("i").select(
            ids("LN", "i", w_ln).alias("loan_id"),
            party("a").alias("account_id"),
            ids("L", "lender", 2).alias("lender_id"),
            pl.col("amount"),
            ts("issued").alias("issued_at"),
            ts("due").alias("due_at"),
            pl.when(pl.col("repaid") >= 0).then(ts("repaid")).alias("repaid_at"),
            ((stop - pl.col("due")).clip(lower_bound=0) // DAY)
            .cast(pl.Int32)
            .alias("overdue_days"),
        )

        self.loans = []
        del lo
        yield "loans", loans
        del loans

        tr = cat(self.transfers, ["src", "dst", "amount", "ts"])
        self.transfers = []
        tr = tr.filter((pl.col("src") != pl.col("dst")) & (pl.col("amount") > 0))
        tr = tr.sort(["ts", "src", "dst", "amount"])
        w_tr = len(str(tr.height))
        transfers = tr.with_row_index("i").select(
            ids("T", "i", w_tr).alias("transfer_id"),
            party("src").alias("src_account"),
            party("dst").alias("dst_account"),
            pl.col("amount"),
            ts("ts").alias("ts"),
        )

        del tr
        yield "transfers", transfers
        del transfers

        dv = cat(self.logins, ["a", "dev", "ts", "ip", "city"])
        self.logins = []
        dv = dv.sort(["ts", "a", "dev", "ip", "city"])
        devices = dv.select(
            party("a").alias("account_id"),
            lookup(dev_names, "dev").alias("device_id"),
            ts("ts").alias("ts"),
            ipstr("ip").alias("ip"),
            pl.col("city").map_batches(lambda s: city_names.gather(s), return_dtype=pl.String),
        )

        del dv
        yield "devices", devices
        del devices

        ap = cat(self.apps, ["a", "lender", "ts"]).sort(["ts", "a", "lender"])
        self.apps = []
        applications = ap.select(
            party("a").alias("account_id"),
            ids("L", "lender", 2).alias("lender_id"),
            ts("ts").alias("applied_at"),
        )

        yield "applications", applications
        del applications, ap
        yield "lenders", lenders_table()

        lab_schema = {"a": pl.Int64, "pattern": pl.String, "variant": pl.String}
        lab = pl.concat(
            [
                pl.DataFrame({"a": a, "pattern": [p] * a.size, "variant": [v] * a.size},
                             schema=lab_schema)
                for a, p, v in self.labels
            ]
            + [pl.DataFrame({"a": np.arange(n), "pattern": ["clean"] * n, "variant": [None] * n},
                            schema=lab_schema)]
        ).unique(maintain_order=True)  # fmt: skip
        labelled = lab.filter(pl.col("pattern") != "clean")["a"].unique()
        lab = lab.filter((pl.col("pattern") != "clean") | ~pl.col("a").is_in(labelled.implode()))
        labels = lab.sort(["a", "pattern", "variant"], nulls_last=True).select(
            ids("A", "a", w_acc).alias("account_id"), pl.col("pattern"), pl.col("variant")
        )
        yield "labels", labels


#: The file :func:`write_tables` puts in every world it writes: how ``generate`` recognises a
#: world it may replace (hidden, so loaders and table folders ignore it).
WORLD_MARKER = ".graphrisk-world.json"
#: The files of a world written before the marker existed: its tables and labels.
WORLD_FILES = frozenset(
    f"{t}.parquet"
    for t in ("accounts", "loans", "transfers", "devices", "applications", "lenders", "labels")
)


def check_world_replaceable(target: Path) -> None:
    """Raise :class:`~graphrisk.errors.UsageError` unless ``target`` may be (re)generated.

    It may if it does not exist, is an empty directory, holds :data:`WORLD_MARKER` (a world
    written by :func:`write_tables`), or holds ``labels.parquet`` and otherwise only world
    tables (an earlier world without the marker). Anything else is refused, not deleted.
    """
    target = Path(target)
    if not (target.exists() or target.is_symlink()):
        return
    if not target.is_dir():
        raise UsageError(
            f"refusing to replace {target}: it exists and is not a directory (not a generated"
            " world)"
        )
    if (target / WORLD_MARKER).is_file():
        return
    try:
        entries = list(target.iterdir())
    except OSError as e:
        raise UsageError(f"refusing to replace {target}: cannot list it ({e.strerror})") from None
    if not entries:
        return
    names = {p.name for p in entries}
    if "labels.parquet" in names and names <= WORLD_FILES and all(p.is_file() for p in entries):
        return
    others = sorted(names - WORLD_FILES)[:3] or sorted(names)[:3]
    raise UsageError(
        f"refusing to replace {target}: it is not a generated world (no {WORLD_MARKER}; it"
        f" holds {', '.join(others)}{', ...' if len(names) > 3 else ''}); choose another path"
        " or remove it"
    )


def _announced(
    it: Iterator[tuple[str, pl.DataFrame]],
    names: tuple[str, ...],
    progress: Callable[[str], None] | None,
) -> Iterator[tuple[str, pl.DataFrame]]:
    """``it``, calling ``progress("write:NAME")`` before each table is built (``names``:
    the order :meth:`World.tables` yields them in)."""
    i = 0
    while True:
        if progress is not None and i < len(names):
            progress(f"write:{names[i]}")
        try:
            item = next(it)
        except StopIteration:
            return
        yield item
        i += 1


def write_tables(
    out: Path,
    tables: Iterator[tuple[str, pl.DataFrame]],
    marker: dict | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, int], pl.DataFrame | None]:
    """Write ``OUT/NAME.parquet`` for every table and :data:`WORLD_MARKER`, atomically.

    ``OUT`` must be absent, empty or an earlier world (:func:`check_world_replaceable`); it is
    replaced whole (:func:`graphrisk.io.atomic_dir`). ``marker`` is written into the marker
    file as JSON (the generator's arguments). Returns the row count of every table and the
    ``labels`` table. ``progress`` is called with ``write:NAME`` before each table is built.
    """
    from graphrisk.generate import STAGES

    counts: dict[str, int] = {}
    labels = None
    with atomic_dir(Path(out), marker=check_world_replaceable) as tmp:
        it = iter(tables)
        names = tuple(t.removeprefix("write:") for t in STAGES if t.startswith("write:"))
        for name, df in _announced(it, names, progress):
            counts[name] = df.height
            if name == "labels":
                labels = df
            df.write_parquet(tmp / f"{name}.parquet", compression="zstd", compression_level=3,
                             statistics=True)  # fmt: skip
        doc = {"generator": "graphrisk generate", **(marker or {})}
        (tmp / WORLD_MARKER).write_text(json.dumps(doc, sort_keys=True, default=str) + "\n")
        tmp.chmod(0o755)
    return counts, labels
