"""The per-account feature table (``features.parquet``): the figures behind the flags.

One row per account, for lenders' own scorecards and models: the bureau-style multi-lending
counts (applications, loans, distinct lenders and amounts in 7 / 15 / 30 / 90 / 180-day
windows ending at ``as_of``), what is outstanding at ``as_of``, and what only the graph
knows (accounts on the same devices and addresses, the linked group, money in and out, how
much of it passed straight through, new counterparties, loops, the nearest defaulter), and
the flags themselves. :data:`DICTIONARY` documents every column (name, meaning, window, unit);
the README's data dictionary is generated from it.

Every figure is about one account and its links, so a shard of the book computes its accounts'
rows exactly as a whole scan would (see :mod:`graphrisk.shards`).

Examples
--------
>>> from graphrisk.testing import world
>>> ctx = world(loans=[("a", "L1", 500, "2026-01-03"), ("a", "L2", 700, "2026-01-20")],
...             transfers=[("a", "b", 100, "2026-01-21")], as_of="2026-01-31")
>>> f = features(ctx)
>>> f.filter(pl.col("account_id") == "a").select("loans_30d", "loan_lenders_7d",
...     "borrowed_30d", "money_out_30d").rows()
[(2, 0, 1200.0, 100.0)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import polars as pl

from graphrisk.context import IDX, ScanContext, positions
from graphrisk.detectors._kinds import KINDS as _KINDS
from graphrisk.detectors._kinds import kinds_of

if TYPE_CHECKING:
    from graphrisk.detectors.risk_proximity import RiskProximity
    from graphrisk.policy import Policy

#: Windows of the bureau-style counts, in days before ``as_of``.
WINDOWS = (7, 15, 30, 90, 180)
#: Lender kinds of the per-kind counts: SPEC's kinds, then ``unknown`` (no lenders table, or
#: a lender it does not list). A kind outside SPEC's list counts as ``other``.
KINDS = _KINDS
#: Windows of the money-flow figures.
FLOW_WINDOWS = (7, 30)
#: A device used by more accounts (a shared terminal) links nobody in the graph figures.
MAX_DEVICE_ACCOUNTS = 50
#: An address used by more accounts (an office gateway, a carrier) links nobody.
MAX_IP_ACCOUNTS = 10
#: Money that leaves within this many days of arriving "passed straight through".
PASS_DAYS = 2.0


@dataclass(frozen=True)
class Feature:
    """One column of ``features.parquet``: its name, meaning, window and unit."""

    name: str
    meaning: str
    window: str
    unit: str


def _dictionary() -> list[Feature]:
    from graphrisk.codes import CODES

    out = [Feature("account_id", "the account", "-", "id")]
    for w in WINDOWS:
        win = f"{w} days to as_of"
        out += [
            Feature(f"apps_{w}d", "credit applications", win, "count"),
            Feature(f"app_lenders_{w}d", "distinct lenders applied to", win, "count"),
            Feature(f"loans_{w}d", "loans issued", win, "count"),
            Feature(f"loan_lenders_{w}d", "distinct lenders borrowed from", win, "count"),
            Feature(f"borrowed_{w}d", "amount borrowed", win, "currency"),
        ]
    for w in WINDOWS:
        win = f"{w} days to as_of"
        for k in KINDS:
            of = f"from lenders of kind {k}"
            out += [
                Feature(
                    f"apps_{w}d_{k}", f"credit applications to lenders of kind {k}", win, "count"
                ),
                Feature(
                    f"app_lenders_{w}d_{k}",
                    f"distinct lenders of kind {k} applied to",
                    win,
                    "count",
                ),
                Feature(f"loans_{w}d_{k}", f"loans {of}", win, "count"),
                Feature(
                    f"loan_lenders_{w}d_{k}",
                    f"distinct lenders of kind {k} borrowed from",
                    win,
                    "count",
                ),
                Feature(f"borrowed_{w}d_{k}", f"amount borrowed {of}", win, "currency"),
            ]
    out += [
        Feature(
            "income_declared", "monthly income the account declared (null: none)", "-", "currency"
        ),
        Feature(
            "income_observed",
            "median monthly money in from outside the account's own circle (no linked "
            "account, lender or round trip; null: too little to stand for an income)",
            "complete months of the lookback",
            "currency",
        ),
        Feature(
            "income_used",
            "the larger of the two: the income the debt figures rest on",
            "-",
            "currency",
        ),
        Feature(
            "income_source", "which one that is: declared or observed (null: neither)", "-", "label"
        ),
        Feature(
            "outflow_outside_30d",
            "money sent to counterparties outside the account's own circle, lenders left out",
            "30 days to as_of",
            "currency",
        ),
        Feature(
            "debt_months",
            "amount outstanding in months of income_used (null: no income)",
            "at as_of",
            "months",
        ),
        Feature(
            "borrowed_30d_months",
            "borrowed_30d in months of income_used",
            "30 days to as_of",
            "months",
        ),
        Feature("loans_outstanding", "loans not repaid at as_of", "at as_of", "count"),
        Feature("lenders_outstanding", "distinct lenders of those loans", "at as_of", "count"),
        Feature("amount_outstanding", "amount of those loans", "at as_of", "currency"),
        Feature("max_overdue_days", "worst days past due of any loan", "lookback", "days"),
        Feature(
            "days_since_last_loan",
            "days from the latest loan to as_of (null: none)",
            "lookback",
            "days",
        ),
        Feature(
            "device_accounts",
            f"other accounts on the same devices (devices of at most {MAX_DEVICE_ACCOUNTS})",
            "lookback",
            "count",
        ),
        Feature(
            "max_device_accounts",
            "accounts on the busiest device used (the whole book)",
            "lookback",
            "count",
        ),
        Feature(
            "ip_accounts",
            f"other accounts on the same addresses (addresses of at most {MAX_IP_ACCOUNTS})",
            "lookback",
            "count",
        ),
        Feature(
            "linked_group_size",
            "accounts joined to this one by such devices and addresses, itself included",
            "lookback",
            "count",
        ),
    ]
    for w in FLOW_WINDOWS:
        win = f"{w} days to as_of"
        out += [
            Feature(f"money_in_{w}d", "money received", win, "currency"),
            Feature(f"money_out_{w}d", "money sent", win, "currency"),
            Feature(
                f"senders_{w}d", "distinct counterparties that sent money (fan-in)", win, "count"
            ),
            Feature(f"recipients_{w}d", "distinct counterparties paid (fan-out)", win, "count"),
            Feature(
                f"new_counterparties_{w}d",
                "counterparties first dealt with inside the window (none earlier in the lookback)",
                win,
                "count",
            ),
        ]
    out += [
        Feature(
            "pass_through_share_30d",
            f"share of the money received that was sent on within {PASS_DAYS:g} days "
            "(capped at 1; null: nothing received)",
            "30 days to as_of",
            "share",
        ),
        Feature(
            "loops",
            "transfer loops through the account (TRANSFER_CYCLE groups)",
            "lookback",
            "count",
        ),
        Feature(
            "defaulter_hops",
            "links to the nearest account in default (RISK_PROXIMITY's default_days and "
            "links; 0: itself; null: none within 2)",
            "lookback",
            "links",
        ),
        Feature(
            "defaulters_near",
            "such accounts within 2 links (as RISK_PROXIMITY links)",
            "lookback",
            "count",
        ),
        Feature(
            "defaulter_tie",
            "tie strength with the nearest one: kinds of link (device, address, transfer) on "
            "the strongest path to it (0: none near)",
            "lookback",
            "kinds",
        ),
        Feature(
            "defaulter_weight",
            "RISK_PROXIMITY's tie weights to the defaulters within 2 links, summed (each by its "
            "heaviest path; the flag is raised from min_score, 1.0; 0: none near)",
            "lookback",
            "weight",
        ),
    ]
    out += [
        Feature(f"flags_{c}", f"flags with reason code {c}", "lookback", "count")
        for c in sorted(CODES)
    ]
    out.append(Feature("max_severity", "highest severity of the flags (0: none)", "lookback",
                       "1-3"))  # fmt: skip
    return out


#: Every column of ``features.parquet``, in order.
DICTIONARY: list[Feature] = _dictionary()


def _amounts(ts: str, amount: str, as_of: object) -> list[pl.Expr]:
    """Per group, each window: the amount (``borrowed_{w}d``)."""
    return [
        pl.col(amount).filter(pl.col(ts) > pl.lit(as_of) - timedelta(days=w)).sum()
        .alias(f"borrowed_{w}d")
        for w in WINDOWS
    ]  # fmt: skip


def proximity(policy: Policy | None = None) -> RiskProximity:
    """The links to defaulters the figures follow: RISK_PROXIMITY's, with the policy's
    parameters (also when that detector is disabled)."""
    from graphrisk.detectors.risk_proximity import RiskProximity

    return RiskProximity() if policy is None else policy.detector("risk_proximity")


def features(
    ctx: ScanContext,
    flags: pl.DataFrame | None = None,
    groups: pl.DataFrame | None = None,
    policy: Policy | None = None,
) -> pl.DataFrame:
    """The feature table of ``ctx``'s accounts (:data:`DICTIONARY` columns, in order).

    Parameters
    ----------
    ctx
        The scan context (a whole book or one shard of it).
    flags, groups
        The scan's flags and groups (for the flag counts and loops); none when omitted.
    policy
        The scan's policy (RISK_PROXIMITY's links and default days); default the default.
    """
    parts: list[pl.DataFrame] = []
    for _, make in steps(ctx, flags, groups, policy):
        parts += make()
    return assemble(ctx, parts)


#: One step of the table: frames of ``acc`` (the account's graph index, unique in each frame)
#: and feature columns; an account a frame does not list has 0 (null where nullable) there.
Step = Callable[[], list[pl.DataFrame]]


def steps(
    ctx: ScanContext,
    flags: pl.DataFrame | None = None,
    groups: pl.DataFrame | None = None,
    policy: Policy | None = None,
) -> list[tuple[str, Step]]:
    """The parts of :func:`features`, by name, each computed when called (the benchmark's
    feature profile times them one by one); :func:`assemble` puts them together."""
    from graphrisk.detectors.base import empty_flags, empty_groups

    flags = empty_flags() if flags is None else flags
    groups = empty_groups() if groups is None else groups
    return [
        ("lending", lambda: _lending(ctx)),
        ("identity", lambda: _identity(ctx)),
        ("flows", lambda: _flows(ctx)),
        ("cash", lambda: _cash(ctx, policy)),
        ("defaulters", lambda: _near(ctx, policy)),
        ("flags", lambda: _flagged(ctx, flags, groups)),
    ]


def _acc(ctx: ScanContext, account_id: pl.Series) -> pl.Series:
    """Graph indices of account ids (null for an id outside ``ctx.accounts``)."""
    return positions(account_id, ctx.accounts["account_id"]).alias("acc")


def _lending(ctx: ScanContext) -> list[pl.DataFrame]:
    """Window counts of applications and loans, in all and per lender kind; days since the
    last loan; what is outstanding at ``as_of``."""
    as_of = ctx.as_of
    # every lender of the book's loans and applications, with its kind (_k) and index (_l)
    kinds = kinds_of(ctx).select(
        "lender_id",
        pl.col("lender_kind").replace_strict({k: i for i, k in enumerate(KINDS)},
                                             return_dtype=pl.UInt8).alias("_k"),
        pl.int_range(pl.len(), dtype=IDX).alias("_l"),
    )  # fmt: skip
    parts = []
    apps = ctx.applications
    if apps is not None and apps.height:
        a = apps.select("lender_id", "applied_at", _acc(ctx, apps["account_id"])).drop_nulls("acc")
        parts += _windows(a, kinds, "applied_at", "apps", "app_lenders", None, as_of)
    loans = ctx.graph.loans.filter(pl.col("acc") < ctx.graph.n_accounts)
    issued = loans.filter(pl.col("issued_at") >= ctx.start)
    if issued.height:
        parts += _windows(issued, kinds, "issued_at", "loans", "loan_lenders", "amount", as_of)
        parts.append(
            issued.group_by("acc").agg(
                *_amounts("issued_at", "amount", as_of),
                ((pl.lit(as_of) - pl.col("issued_at").max()).dt.total_seconds() / 86400)
                .round(3)
                .alias("days_since_last_loan"),
            )
        )
    if loans.height:
        open_ = pl.col("repaid_at").is_null()
        parts.append(
            loans.group_by("acc").agg(
                open_.sum().cast(pl.UInt32).alias("loans_outstanding"),
                pl.col("lender").filter(open_).n_unique().cast(pl.UInt32)
                .alias("lenders_outstanding"),
                pl.col("amount").filter(open_).sum().alias("amount_outstanding"),
                pl.col("overdue_days").max().alias("max_overdue_days"),
            )
        )  # fmt: skip
    return parts


def _windows(
    df: pl.DataFrame,
    kinds: pl.DataFrame,
    ts: str,
    count: str,
    lenders: str,
    amount: str | None,
    as_of: object,
) -> list[pl.DataFrame]:
    """Per account: the window counts of ``df`` (``acc, lender_id, TS[, AMOUNT]``, each
    account's rows in time order) per lender kind (``NAME_{w}d_{kind}``, one frame per kind)
    and in all.

    A lender counts in a window when its newest row with the account does (the windows all
    end at ``as_of``), so every count is a sum of flags. The counts in all are the sums over
    the kinds (a lender has one kind); the amounts in all are summed from the rows (see
    :func:`_lending`), in the rows' order rather than kind by kind.
    """
    key = pl.col("acc").cast(pl.UInt64) * (1 << 32) + pl.col("_l").cast(pl.UInt64)
    flags = []
    for w in WINDOWS:
        inside = pl.col(ts) > pl.lit(as_of) - timedelta(days=w)
        flags += [inside.alias(f"{count}_{w}d"), (inside & pl.col("_new")).alias(f"{lenders}_{w}d")]
    counts = [f.meta.output_name() for f in flags]
    rows = (
        df.join(kinds, on="lender_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("_k").fill_null(KINDS.index("unknown")), key.is_last_distinct().alias("_new")
        )
        .select("acc", "_k", *flags, *([ts, amount] if amount is not None else []))
    )
    exprs = [pl.col(c).sum().cast(pl.UInt32) for c in counts]
    if amount is not None:
        exprs += _amounts(ts, amount, as_of)
    per = rows.group_by("acc", "_k").agg(exprs)
    values = [c for c in per.columns if c not in ("acc", "_k")]
    out = [per.group_by("acc").agg(pl.col(c).sum().cast(pl.UInt32) for c in counts)]
    for i, k in enumerate(KINDS):
        one = per.filter(pl.col("_k") == i)
        if one.height:
            out.append(one.select("acc", *[pl.col(c).alias(f"{c}_{k}") for c in values]))
    return out


def _near(ctx: ScanContext, policy: Policy | None) -> list[pl.DataFrame]:
    """Hops to the nearest defaulter, defaulters near, tie strength."""
    from graphrisk.detectors import _links

    near_by = proximity(policy)
    bad = _links.defaulters(ctx, near_by.default_days)
    if not near_by.reaches(ctx, bad):
        return []
    hop1, hop2 = near_by._hops(ctx, bad)
    paths = pl.concat(
        [
            hop1.select("acc", "d", "hops", "kinds", "w"),
            hop2.select("acc", "d", "hops", "kinds", "w"),
        ]
    )  # an account's own default is not a path (hop1 has no self ties, hop2 none to acc)
    nearest = pl.col("hops") == pl.col("hops").min()
    near = paths.group_by("acc").agg(
        pl.col("hops").min().cast(pl.Int32).alias("defaulter_hops"),
        pl.col("d").n_unique().cast(pl.UInt32).alias("defaulters_near"),
        pl.col("kinds").filter(nearest).list.len().max().cast(pl.UInt32).alias("defaulter_tie"),
    )
    weight = (
        paths.group_by("acc", "d")
        .agg(pl.col("w").max())
        .group_by("acc")
        .agg(pl.col("w").sum().round(6).alias("defaulter_weight"))
    )
    near = near.join(weight, on="acc", how="left")
    own = bad.select("acc", pl.lit(0, pl.Int32).alias("_self"))
    near = near.join(own, on="acc", how="full", coalesce=True).with_columns(
        pl.coalesce("_self", "defaulter_hops").alias("defaulter_hops"),
        pl.col("defaulters_near").fill_null(0),
        pl.col("defaulter_tie").fill_null(0),
        pl.col("defaulter_weight").fill_null(0.0),
    )
    return [near.drop("_self")]


def _flagged(ctx: ScanContext, flags: pl.DataFrame, groups: pl.DataFrame) -> list[pl.DataFrame]:
    """Loops through the account, flags per code, the highest severity."""
    parts = []
    loops = groups.filter(pl.col("kind") == "transfer_cycle")
    if loops.height:
        per = loops.group_by("account_id").agg(
            pl.col("group_id").n_unique().cast(pl.UInt32).alias("loops")
        )
        parts.append(per.with_columns(_acc(ctx, per["account_id"])).drop("account_id"))
    if flags.height:
        from graphrisk.codes import CODES

        per = flags.group_by("account_id").agg(
            *[
                (pl.col("code") == c).sum().cast(pl.UInt32).alias(f"flags_{c}")
                for c in sorted(CODES)
            ],
            pl.col("severity").max().cast(pl.Int8).alias("max_severity"),
        )
        parts.append(per.with_columns(_acc(ctx, per["account_id"])).drop("account_id"))
    return parts


def assemble(ctx: ScanContext, parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The parts (frames of ``acc`` and feature columns, see :data:`Step`) side by side,
    one row per account of ``ctx.accounts``, every dictionary column in order.

    Each column is written once, in its final type, straight from its part (no join, no
    wide intermediate frame): a count or amount is scattered into zeros at its accounts'
    rows, a nullable figure gathered by each account's row in its part.
    """
    import numpy as np

    n = ctx.accounts.height
    frames: list[pl.DataFrame] = []
    where: dict[str, int] = {}  # column -> its frame
    for p in parts:
        p = p.filter(pl.col("acc").is_not_null() & (pl.col("acc") < n))
        where.update({c: len(frames) for c in p.columns if c != "acc"})
        frames.append(p)
    accs: dict[int, np.ndarray] = {}
    rows: dict[int, pl.Series] = {}  # per frame: each account's row in it (null: none)
    dtypes = {f.name: _dtype(f) for f in DICTIONARY}

    def column(name: str) -> pl.Series:
        dtype = dtypes[name]
        i = where.get(name)
        if name in _NULLABLE:
            if i is None:
                return pl.repeat(None, n, dtype=dtype, eager=True).alias(name)
            if i not in rows:
                rows[i] = pl.repeat(None, n, dtype=IDX, eager=True).scatter(
                    frames[i]["acc"], pl.arange(0, frames[i].height, dtype=IDX, eager=True)
                )
            return frames[i][name].cast(dtype).gather(rows[i]).alias(name)
        if i is None:
            return pl.zeros(n, dtype=dtype, eager=True).alias(name)
        if i not in accs:
            accs[i] = frames[i]["acc"].to_numpy()
        values = frames[i][name].cast(dtype).fill_null(0).to_numpy()
        out = np.zeros(n, dtype=values.dtype)
        out[accs[i]] = values
        return pl.Series(name, out, dtype=dtype)

    cols: dict[str, pl.Series] = {"account_id": ctx.accounts["account_id"]}
    income = column("income_used")
    for f in DICTIONARY[1:]:
        if f.name == "debt_months":
            s = (column("amount_outstanding") / income).round(3)
        elif f.name == "borrowed_30d_months":
            s = (column("borrowed_30d") / income).round(3)
        elif f.name == "income_used":
            s = income
        else:
            s = column(f.name)
        cols[f.name] = s.cast(dtypes[f.name]).alias(f.name)
    return pl.DataFrame(cols)


def _cash(ctx: ScanContext, policy: Policy | None) -> list[pl.DataFrame]:
    """Income as the book sees it and what leaves the account's circle (HIGH_DEBT_RATIO's
    circle and income rules, with the policy's parameters)."""
    from graphrisk.detectors import _income
    from graphrisk.detectors.high_debt_ratio import HighDebtRatio

    det = HighDebtRatio() if policy is None else policy.detector("high_debt_ratio")
    args = det.circle()
    usual = _income.usual_income(ctx, *args, det.min_income).select(
        "acc",
        pl.col("declared").alias("income_declared"),
        pl.col("observed").alias("income_observed"),
        pl.col("income").alias("income_used"),
        pl.col("source").alias("income_source"),
    )
    import numpy as np

    since = pl.lit(ctx.as_of) - timedelta(days=30)
    out = _income.outflows(ctx, *args).filter(pl.col("ts") > since)
    n = ctx.graph.n_accounts
    # added in the rows' order (by account and time), whatever the frame's size or layout
    # (a group-by sum splits its rows by both, and a shard must add as the whole book does)
    total = np.bincount(out["acc"].to_numpy(), weights=out["amount"].to_numpy(), minlength=n)
    dense = pl.DataFrame(
        {"acc": pl.arange(0, n, dtype=IDX, eager=True), "outflow_outside_30d": total[:n]}
    )
    return [usual, dense]


def _identity(ctx: ScanContext) -> list[pl.DataFrame]:
    """Accounts on the same devices and addresses, the busiest device, the linked group."""
    import numpy as np
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    from graphrisk.detectors import _links

    g = ctx.graph
    out = []
    dev = _links.hub_pairs(ctx, "dev", MAX_DEVICE_ACCOUNTS)
    ip = _links.hub_pairs(ctx, "ip", MAX_IP_ACCOUNTS)
    for pairs, name in ((dev, "device_accounts"), (ip, "ip_accounts")):
        both = _links.both_ways(pairs.select("a", "b"))
        out.append(
            both.group_by(pl.col("src").alias("acc")).agg(
                pl.col("dst").n_unique().cast(pl.UInt32).alias(name)
            )
        )
    out.append(
        _links.hub_accounts(ctx, "dev")
        .group_by("acc")
        .agg(pl.col("deg").max().cast(pl.UInt32).alias("max_device_accounts"))
    )
    n = g.n_accounts
    edges = pl.concat([dev.select("a", "b"), ip.select("a", "b")])
    m = sp.csr_matrix(
        (np.ones(edges.height, dtype=np.int8), (edges["a"].to_numpy(), edges["b"].to_numpy())),
        shape=(n, n),
    )
    label = connected_components(m, directed=False)[1]
    size = np.bincount(label)[label]
    out.append(
        pl.DataFrame(
            {
                "acc": pl.arange(0, n, dtype=IDX, eager=True),
                "linked_group_size": pl.Series(size, dtype=pl.UInt32),
            }
        )
    )
    return out


def _flows(ctx: ScanContext) -> list[pl.DataFrame]:
    """Money in and out, fan-in and fan-out, new counterparties, pass-through.

    Only the transfers of the last ``max(FLOW_WINDOWS)`` days are seen from both ends; the
    new counterparties come from each pair's first transfer (the transfers are in time
    order, so a pair's first row is its first contact) when that falls inside the windows.
    """
    g = ctx.graph
    n = g.n_accounts
    tr = g.transfers.select("src", "dst", "amount", "ts")
    if not tr.height:
        return []
    as_of = ctx.as_of
    since_all = as_of - timedelta(days=max(FLOW_WINDOWS))
    recent = tr.filter(pl.col("ts") > since_all)
    legs = pl.concat(
        [
            recent.filter(pl.col("src") < n).select(
                pl.col("src").alias("acc"), pl.col("dst").alias("other"), "amount", "ts",
                pl.lit(False).alias("incoming"),
            ),
            recent.filter(pl.col("dst") < n).select(
                pl.col("dst").alias("acc"), pl.col("src").alias("other"), "amount", "ts",
                pl.lit(True).alias("incoming"),
            ),
        ]
    )  # fmt: skip
    exprs = []
    is_in, is_out = pl.col("incoming"), ~pl.col("incoming")
    for w in FLOW_WINDOWS:
        inside = pl.col("ts") > pl.lit(as_of) - timedelta(days=w)
        exprs += [
            pl.col("amount").filter(inside & is_in).sum().alias(f"money_in_{w}d"),
            pl.col("amount").filter(inside & is_out).sum().alias(f"money_out_{w}d"),
            pl.col("other").filter(inside & is_in).n_unique().cast(pl.UInt32)
            .alias(f"senders_{w}d"),
            pl.col("other").filter(inside & is_out).n_unique().cast(pl.UInt32)
            .alias(f"recipients_{w}d"),
        ]  # fmt: skip
    per = legs.group_by("acc").agg(exprs)
    # new counterparties: a pair's first transfer (either way) inside the windows
    lo, hi = pl.min_horizontal("src", "dst"), pl.max_horizontal("src", "dst")
    pair = lo.cast(pl.UInt64) * (1 << 32) + hi.cast(pl.UInt64)
    first = tr.filter(pair.is_first_distinct() & (pl.col("ts") > since_all)).select(
        lo.alias("lo"), hi.alias("hi"), "ts"
    )
    ends = pl.concat(
        [
            first.filter(pl.col("lo") < n).select(pl.col("lo").alias("acc"), "ts"),
            first.filter((pl.col("hi") < n) & (pl.col("hi") != pl.col("lo"))).select(
                pl.col("hi").alias("acc"), "ts"
            ),
        ]
    )
    new = ends.group_by("acc").agg(
        (pl.col("ts") > pl.lit(as_of) - timedelta(days=w)).sum().cast(pl.UInt32)
        .alias(f"new_counterparties_{w}d")
        for w in FLOW_WINDOWS
    )  # fmt: skip
    # pass-through: each payment out within PASS_DAYS after a payment in, over 30 days
    since30 = as_of - timedelta(days=30)
    ins = (
        legs.filter(is_in & (pl.col("ts") > since30))
        .select("acc", pl.col("ts").alias("in_ts"))
        .sort("in_ts")
    )
    outs = legs.filter(is_out & (pl.col("ts") > since30)).sort("ts")
    passed = (
        outs.join_asof(
            ins, left_on="ts", right_on="in_ts", by="acc", strategy="backward",
            tolerance=timedelta(days=PASS_DAYS), check_sortedness=False,
        )
        .filter(pl.col("in_ts").is_not_null())
        .group_by("acc")
        .agg(pl.col("amount").sum().alias("_passed"))
    )  # fmt: skip
    per = per.join(passed, on="acc", how="left").with_columns(
        pl.when(pl.col("money_in_30d") > 0)
        .then((pl.col("_passed").fill_null(0) / pl.col("money_in_30d")).clip(upper_bound=1.0))
        .round(6)
        .alias("pass_through_share_30d")
    )
    return [per.drop("_passed"), new]


_NULLABLE = {
    "days_since_last_loan",
    "defaulter_hops",
    "pass_through_share_30d",
    "income_declared",
    "income_observed",
    "income_used",
    "income_source",
    "debt_months",
    "borrowed_30d_months",
}


def _dtype(f: Feature) -> pl.DataType:
    if f.name in ("account_id", "income_source"):
        return pl.String()
    if f.unit in ("currency", "share", "months", "weight") or f.name == "days_since_last_loan":
        return pl.Float64()
    if f.name in ("max_overdue_days", "defaulter_hops"):
        return pl.Int32()
    if f.name == "max_severity":
        return pl.Int8()
    return pl.UInt32()


def dictionary_markdown() -> str:
    """The data dictionary as a markdown table (the README's copy is this text)."""
    rows = ["| column | meaning | window | unit |", "|---|---|---|---|"]
    per_code = [f for f in DICTIONARY if f.name.startswith("flags_")]
    kinds = ", ".join(KINDS)
    for f in DICTIONARY:
        if f in per_code[1:]:
            continue
        kind = next((k for k in KINDS if f.name.endswith(f"d_{k}")), None)
        if kind is not None:
            stem = f.name[: -len(kind) - 1]
            if kind == KINDS[0]:
                meaning = f.meaning.replace(f"kind {kind}", "kind KIND")
                rows.append(
                    f"| `{stem}_KIND` | {meaning} (KIND: {kinds}) | {f.window} | {f.unit} |"
                )
            continue
        if f is per_code[0]:
            rows.append(
                "| `flags_CODE` | flags with that reason code (one column per reason code, "
                f"e.g. `flags_MULTI_LENDER`) | {f.window} | {f.unit} |"
            )
            continue
        rows.append(f"| `{f.name}` | {f.meaning} | {f.window} | {f.unit} |")
    return "\n".join(rows) + "\n"
