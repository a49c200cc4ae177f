"""Flags (+ the ledger's prior state) -> exactly one decision per account.

The rules, all from the policy (:mod:`graphrisk.policy`):

1. per code: ``[codes.CODE]`` may disable a code or replace its severity; linkage codes
   (RISK_PROXIMITY, IP_HOPPING) are capped at severity 1: linkage alone never cuts a limit;
2. recency: a flag whose window ended more than ``recency.recent_days`` before ``as_of``
   weighs one level less; older than ``recency.stale_days`` it only watches (severity 1).
   Settled behaviour stops counting (``recency.settled_keep``, on by default): an account
   whose findings *all* ended more than ``stale_days`` ago and whose loans from then are
   repaid on time (see :func:`settled`) gets ``keep`` with increases open (situation
   ``settled``), unless a cut is still held;
3. repetition: ``repetition.escalate_at_codes`` distinct cut-level codes raise the severity
   by one;
4. severity -> action (``actions.severity_N``); a reduction goes ``reduce_fraction`` deep,
   ``reduce_fraction_repeat`` with two or more cut-level codes or when it is a relapse (an
   earlier cut less than ``repetition.relapse_days`` ago);
5. an account with a zero limit (有窗口没额度) has nothing to cut: cut-level behaviour closes
   increases (``freeze_increase``) and its reasons say what keeps it at zero;
6. with a ledger (an earlier cut known): behaviour already punished by the last cut never
   cuts again. Only *new* cut-level behaviour (a flag whose window started after the last cut,
   or more severe than the behaviour that was cut) cuts again, deeper (relapse). An account
   with an outstanding cut is *clean* when no cut-level behaviour (policy severity >= 2, before
   recency) was seen for ``restore.clean_days`` (counted from the latest of the last cut and
   the end of the latest such flag); then every ``restore.min_days_between_steps`` days it
   gets ``restore.step_fraction`` of its pre-cut limit back (``restore``), up to that limit.
   Until then the cut is held (``freeze_increase``, limit unchanged).

:func:`decide_with_trace` also returns a *trace*: per account the situation, the policy rule
that fired and the restore state the ledger keeps (see :mod:`graphrisk.ledger`).

Examples
--------
>>> from datetime import datetime
>>> from graphrisk.policy import Policy
>>> acc = pl.DataFrame({"account_id": ["a", "b"], "credit_limit": [10000.0, 0.0]})
>>> d = decide(acc, pl.DataFrame(schema=FLAG_COLUMNS), Policy.default(),
...            datetime(2026, 3, 1), "r1")
>>> d.select("account_id", "action", "limit_after", "increase_allowed").rows()
[('a', 'keep', 10000.0, True), ('b', 'keep', 0.0, True)]
"""

from __future__ import annotations

import json
from datetime import datetime

import polars as pl

from graphrisk.codes import LINKAGE_CODES
from graphrisk.explain import customer_text
from graphrisk.policy import Policy

DECISION_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "action": pl.String(),
    "limit_before": pl.Float64(),
    "limit_after": pl.Float64(),
    "increase_allowed": pl.Boolean(),
    "reason_codes": pl.List(pl.String()),
    "explanation": pl.String(),
    "review_after": pl.Date(),
    "as_of": pl.Datetime("us"),
    "run_id": pl.String(),
}

#: The flag columns :func:`decide` reads.
FLAG_COLUMNS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "code": pl.String(),
    "severity": pl.Int8(),
    "score": pl.Float64(),
    "evidence": pl.String(),
    "window_start": pl.Datetime("us"),
    "window_end": pl.Datetime("us"),
}

#: The prior state a ledger gives per account (see :mod:`graphrisk.ledger`).
PRIOR_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "reference_limit": pl.Float64(),  # the limit before the current episode of cuts (or null)
    "current_limit": pl.Float64(),  # the limit our last decision left
    "last_cut_at": pl.Datetime("us"),  # as_of of the last reduce/suspend
    "cut_severity": pl.Int8(),  # the severity that last cut
    "cut_reasons": pl.List(pl.String()),  # the reason codes of the last cut
    "last_step_at": pl.Datetime("us"),  # as_of of the last cut or restore step
    "last_bad_at": pl.Datetime("us"),  # latest end of a cut-level flag ever seen
}

#: The trace of one scan's decisions: why each decision is what it is, and the state it leaves.
TRACE_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "situation": pl.String(),  # "", zero_limit, hold, relapse, restore, restored, settled, cap
    "rule": pl.String(),  # the policy rule that fired, in policy key terms
    "severity": pl.Int8(),  # after recency and repetition
    "cut_severity_now": pl.Int8(),  # severity of the behaviour that may cut now
    "clean_days": pl.Int64(),  # days without cut-level behaviour (null: never seen)
    "pre_cut_limit": pl.Float64(),  # the limit before the cut the text speaks of (or null)
    "increase_opens": pl.Date(),  # without new behaviour, no flag closes increases from then
    "reference_limit": pl.Float64(),
    "current_limit": pl.Float64(),
    "last_cut_at": pl.Datetime("us"),
    "cut_severity": pl.Int8(),
    "cut_reasons": pl.List(pl.String()),
    "last_step_at": pl.Datetime("us"),
    "last_bad_at": pl.Datetime("us"),
    "cap": pl.Float64(),  # the cap that brought the limit down ([caps]), or null
    "cap_kind": pl.String(),  # "income" or "absolute", or null
    "cap_income": pl.Float64(),  # the monthly income an income cap rests on, or null
}

CUTS = ("reduce", "suspend")


def weigh(flags: pl.DataFrame, policy: Policy, as_of: datetime) -> pl.DataFrame:
    """Flags with ``policy_severity`` (code rules, linkage cap), ``effective_severity``
    (also recency) and ``age_days``; disabled codes are dropped.

    Examples
    --------
    >>> from datetime import datetime
    >>> f = pl.DataFrame({"account_id": ["a", "a"], "code": ["IP_HOPPING", "MULTI_LENDER"],
    ...                   "severity": [3, 2], "window_end": [datetime(2026, 1, 1)] * 2})
    >>> w = weigh(f, Policy.default(), datetime(2026, 4, 1))
    >>> w.select("code", "policy_severity", "effective_severity").rows()
    [('IP_HOPPING', 1, 1), ('MULTI_LENDER', 2, 1)]
    """
    rules = policy.data["codes"]
    disabled = [c for c, r in rules.items() if r.get("enabled") is False]
    overrides = {c: r["severity"] for c, r in rules.items() if "severity" in r}
    rec = policy.data["recency"]
    sev = pl.col("severity").cast(pl.Int64)
    if overrides:
        sev = pl.col("code").replace_strict(overrides, default=sev, return_dtype=pl.Int64)
    sev = (
        pl.when(pl.col("code").is_in(list(LINKAGE_CODES)))
        .then(sev.clip(upper_bound=1))
        .otherwise(sev)
    )
    age = (pl.lit(as_of) - pl.col("window_end").fill_null(pl.lit(as_of))).dt.total_days()
    weighted = (
        pl.when(age <= rec["recent_days"])
        .then(sev)
        .when(age <= rec["stale_days"])
        .then((sev - 1).clip(lower_bound=1))
        .otherwise(sev.clip(upper_bound=1))
    )
    return (
        flags.filter(~pl.col("code").is_in(disabled))
        .with_columns(sev.cast(pl.Int8).alias("policy_severity"))
        .with_columns(weighted.cast(pl.Int8).alias("effective_severity"), age.alias("age_days"))
    )


def decide(
    accounts: pl.DataFrame,
    flags: pl.DataFrame,
    policy: Policy,
    as_of: datetime,
    run_id: str,
    prior: pl.DataFrame | None = None,
    lang: str = "zh",
) -> pl.DataFrame:
    """One decision per account (``DECISION_SCHEMA``), most important reason first.

    See :func:`decide_with_trace` for the parameters.
    """
    return decide_with_trace(accounts, flags, policy, as_of, run_id, prior, lang)[0]


#: The loan columns :func:`settled` reads (``ScanContext.loans``: ``overdue_days`` of a loan
#: still open is already its days past due at ``as_of``).
LOAN_COLUMNS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "issued_at": pl.Datetime("us"),
    "due_at": pl.Datetime("us"),
    "repaid_at": pl.Datetime("us"),
    "overdue_days": pl.Int64(),
}


def settled(periods: pl.DataFrame, loans: pl.DataFrame | None) -> pl.DataFrame:
    """Accounts whose loans from the time of their findings on are repaid on time.

    ``periods`` has ``account_id``, ``first_start`` (the earliest start of the account's
    findings), ``last_end`` (the latest end) and ``late_end`` (the latest end of its
    OVERDUE_HISTORY findings, null without one). The loans *from then* are those still open
    at ``first_start`` or issued later. The account is settled when

    * every one of them issued up to ``last_end`` (the behaviour's own borrowing) is repaid,
    * none was ever past due (``overdue_days > 0``, for a loan still open: past due now),
      except the late loans an overdue finding was about (due by ``late_end``): that
      lateness is the old finding itself, and what counts is that it is repaid and that
      nothing was late after it.

    A loan taken since that is open and not yet due does not unsettle the account. An
    account without such loans is settled; with ``loans=None`` (the loans are not known)
    no account is.

    Returns ``account_id, settled`` for every account of ``periods``.

    Examples
    --------
    >>> from datetime import datetime as dt
    >>> periods = pl.DataFrame({"account_id": ["a", "b"], "first_start": [dt(2026, 1, 1)] * 2,
    ...                         "last_end": [dt(2026, 1, 31)] * 2, "late_end": [None, None]})
    >>> loans = pl.DataFrame({"account_id": ["a", "b"], "issued_at": [dt(2026, 1, 5)] * 2,
    ...                       "due_at": [dt(2026, 2, 5)] * 2,
    ...                       "repaid_at": [dt(2026, 2, 1), dt(2026, 2, 20)],
    ...                       "overdue_days": [0, 15]})
    >>> settled(periods, loans).sort("account_id").rows()
    [('a', True), ('b', False)]
    """
    if loans is None:
        return periods.select("account_id", pl.lit(False).alias("settled"))
    if loans.is_empty():
        return periods.select("account_id", pl.lit(True).alias("settled"))
    lo = loans.select(list(LOAN_COLUMNS)).cast(LOAN_COLUMNS)  # type: ignore[arg-type]
    then = lo.join(periods, on="account_id").filter(
        pl.col("repaid_at").is_null()
        | (pl.col("repaid_at") >= pl.col("first_start"))
        | (pl.col("issued_at") >= pl.col("first_start"))
    )
    unpaid = (pl.col("issued_at") <= pl.col("last_end")) & pl.col("repaid_at").is_null()
    the_finding = pl.col("late_end").is_not_null() & (pl.col("due_at") <= pl.col("late_end"))
    late_since = (pl.col("overdue_days") > 0) & ~the_finding.fill_null(False)
    bad = then.filter(unpaid | late_since).select("account_id").unique()
    return periods.select(
        "account_id", (~pl.col("account_id").is_in(bad["account_id"].implode())).alias("settled")
    )


def _escalate(sev: pl.Expr, n_cut: pl.Expr, at: int) -> pl.Expr:
    return pl.when(n_cut >= at).then((sev + 1).clip(upper_bound=3)).otherwise(sev)


def decide_with_trace(
    accounts: pl.DataFrame,
    flags: pl.DataFrame,
    policy: Policy,
    as_of: datetime,
    run_id: str,
    prior: pl.DataFrame | None = None,
    lang: str = "zh",
    lookback_days: int | None = None,
    loans: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Decisions (``DECISION_SCHEMA``) and their trace (``TRACE_SCHEMA``), both by account.

    Parameters
    ----------
    accounts
        ``account_id`` and ``credit_limit`` (the limit in the data today).
    flags
        The detectors' flags (``FLAG_COLUMNS`` at least).
    policy
        The policy whose rules apply.
    as_of
        The scan's reference time.
    run_id
        Written into every decision.
    prior
        The ledger's state before this scan (``PRIOR_SCHEMA``), or ``None`` without a ledger.
    lang
        Language of the customer explanation, ``"zh"`` or ``"en"``.
    lookback_days
        The scan's lookback (default the policy's): a flag stops counting once its window
        ended longer ago than this, which dates ``increase_opens``.
    loans
        The scan's loans (``LOAN_COLUMNS``, as ``ScanContext.loans`` gives them), read to
        tell settled behaviour (see :func:`settled`); ``None`` (not known): nothing is
        settled, stale findings only watch.
    """
    acts = policy.data["actions"]
    rep = policy.data["repetition"]
    rs = policy.data["restore"]
    at = rep["escalate_at_codes"]
    if prior is None:
        prior = pl.DataFrame(schema=PRIOR_SCHEMA)
    prior = prior.select(list(PRIOR_SCHEMA)).cast(PRIOR_SCHEMA)  # type: ignore[arg-type]

    w = weigh(flags.select(list(FLAG_COLUMNS)).cast(FLAG_COLUMNS), policy, as_of)  # type: ignore[arg-type]
    w = w.join(
        prior.select("account_id", "last_cut_at", "cut_severity"), on="account_id", how="left"
    )
    started = pl.coalesce("window_start", "window_end")
    # behaviour that may cut now: all of it without an earlier cut; after a cut only what
    # started after it, or is more severe than what was cut
    w = w.with_columns(
        (
            pl.col("last_cut_at").is_null()
            | (started > pl.col("last_cut_at"))
            | (pl.col("effective_severity") > pl.col("cut_severity").fill_null(3))
        ).alias("new")
    )
    # a code's reason is its most severe, then highest-scoring flag; between equals the
    # latest window, then the evidence text: never the rows' order, which differs between a
    # whole scan and shards (two equal ASSOCIATED_TRANSFER flags of one account gave two
    # texts on the 100k benchmark world)
    per_code = (
        w.sort(
            ["effective_severity", "score", "window_end", "evidence"],
            descending=[True, True, True, False],
            nulls_last=True,
        )
        .group_by("account_id", "code", maintain_order=True)
        .agg(
            pl.col("effective_severity").first(),
            pl.col("score").first(),
            pl.col("evidence").first(),
            pl.col("effective_severity").filter(pl.col("new")).max().alias("new_sev"),
            pl.col("window_end").filter(pl.col("policy_severity") >= 2).max().alias("bad_at"),
            pl.col("window_end").max().alias("last_seen"),
            started.min().alias("first_start"),
            pl.col("age_days").min().alias("min_age"),
        )
    )
    per_acc = (
        per_code.sort(
            ["account_id", "effective_severity", "score", "code"],
            descending=[False, True, True, False],
        )
        .group_by("account_id", maintain_order=True)
        .agg(
            pl.col("code").alias("reason_codes"),
            pl.col("evidence").alias("evidences"),
            pl.col("effective_severity").max().alias("sev"),
            (pl.col("effective_severity") >= 2).sum().alias("n_cut_codes"),
            pl.col("new_sev").max().alias("new_sev"),
            (pl.col("new_sev") >= 2).sum().alias("n_new_cut_codes"),
            pl.col("bad_at").max().alias("bad_at"),
            pl.col("last_seen").max().alias("last_seen"),
            pl.col("first_start").min().alias("first_start"),
            pl.col("min_age").min().alias("min_age"),
            pl.col("last_seen").filter(pl.col("code") == "OVERDUE_HISTORY").max().alias("late_end"),
        )
        .with_columns(
            _escalate(pl.col("sev"), pl.col("n_cut_codes"), at).alias("sev"),
            _escalate(pl.col("new_sev"), pl.col("n_new_cut_codes"), at).alias("new_sev"),
        )
    )

    rec = policy.data["recency"]
    stale = per_acc.filter(pl.col("min_age") > rec["stale_days"]).select(
        "account_id", "first_start", pl.col("last_seen").alias("last_end"), "late_end"
    )
    settled_now = settled(stale if rec["settled_keep"] else stale.head(0), loans)
    d = (
        accounts.select("account_id", pl.col("credit_limit").cast(pl.Float64))
        .join(per_acc, on="account_id", how="left")
        .join(prior, on="account_id", how="left")
        .join(settled_now.select("account_id", "settled"), on="account_id", how="left")
    )
    outstanding = pl.col("current_limit").is_not_null() & (
        pl.col("current_limit") < pl.col("reference_limit")
    )
    history = pl.col("last_cut_at").is_not_null()
    d = d.with_columns(
        pl.col("sev").fill_null(0),
        pl.col("n_cut_codes").fill_null(0),
        pl.col("reason_codes").fill_null([]),
        outstanding.fill_null(False).alias("outstanding"),
        pl.col("settled").fill_null(False),
        history.alias("history"),
        pl.when(outstanding)
        .then(pl.col("current_limit"))
        .otherwise(pl.col("credit_limit"))
        .alias("limit_before"),
        pl.when(history)
        .then(pl.col("new_sev").fill_null(0))
        .otherwise(pl.col("sev").fill_null(0))
        .alias("cut_sev"),
        pl.max_horizontal("last_bad_at", "bad_at", "last_cut_at").alias("bad_now"),
    )
    action_map = {
        0: "keep",
        1: acts["severity_1"],
        2: acts["severity_2"],
        3: acts["severity_3"],
    }
    sev_action = pl.col("sev").replace_strict(action_map, return_dtype=pl.String)
    cut_action = pl.col("cut_sev").replace_strict(action_map, return_dtype=pl.String)
    clean = (pl.lit(as_of) - pl.col("bad_now")).dt.total_days()
    since_step = (pl.lit(as_of) - pl.col("last_step_at")).dt.total_days()
    since_cut = (pl.lit(as_of) - pl.col("last_cut_at")).dt.total_days()
    can_restore = (
        pl.col("outstanding")
        & (clean >= rs["clean_days"])
        & (since_step.fill_null(10**9) >= rs["min_days_between_steps"])
    )
    cut_now = cut_action.is_in(CUTS)
    zero = (pl.col("limit_before") <= 0) & ~pl.col("outstanding")
    # at most a watch for behaviour the last cut already answered
    old_watch = (
        pl.when(pl.col("sev") >= 1).then(pl.lit(acts["severity_1"])).otherwise(pl.lit("keep"))
    )
    horizon = lookback_days or policy.lookback_days
    d = d.with_columns(
        clean.alias("clean_days"),
        (pl.col("last_seen") + pl.duration(days=horizon + 1)).dt.date().alias("increase_opens"),
    )
    d = d.with_columns(
        pl.when(cut_now & zero)
        .then(pl.lit("freeze_increase"))
        .when(cut_now)
        .then(cut_action)
        .when(can_restore)
        .then(pl.lit("restore"))
        .when(pl.col("outstanding"))
        .then(pl.lit("freeze_increase"))
        .when(pl.col("settled"))
        .then(pl.lit("keep"))
        .when(pl.col("history"))
        .then(old_watch)
        .otherwise(sev_action)
        .alias("action"),
        pl.when(cut_now & zero)
        .then(pl.lit("zero_limit"))
        .when(cut_now & pl.col("history") & (since_cut <= rep["relapse_days"]))
        .then(pl.lit("relapse"))
        .when(cut_now)
        .then(pl.lit(""))
        .when(can_restore)
        .then(pl.lit("restore"))
        .when(pl.col("outstanding"))
        .then(pl.lit("hold"))
        .when(pl.col("settled"))
        .then(pl.lit("settled"))
        .when(zero)
        .then(pl.lit("zero_limit"))
        .otherwise(pl.lit(""))
        .alias("situation"),
    )
    # a relapse during or after a restore: cut again, deeper
    repeat = (pl.col("n_cut_codes") >= 2) | (pl.col("situation") == "relapse")
    frac = pl.when(repeat).then(acts["reduce_fraction_repeat"]).otherwise(acts["reduce_fraction"])
    step = acts["round_to"] or 0
    reduced = pl.col("limit_before") * (1 - frac)
    restored = pl.col("limit_before") + rs["step_fraction"] * pl.col("reference_limit")
    if step:  # round down to a multiple of round_to (after float noise: 0.2 * 30000)
        reduced = (reduced / step).round(6).floor() * step
        restored = (restored / step).round(6).floor() * step
    restored = pl.min_horizontal(pl.col("reference_limit"), restored)
    d = d.with_columns(
        pl.when(pl.col("action") == "suspend")
        .then(0.0)
        .when(pl.col("action") == "reduce")
        .then(reduced)
        .when(pl.col("action") == "restore")
        .then(restored)
        .otherwise(pl.col("limit_before"))
        .alias("limit_after"),
        (
            (pl.col("action") == "keep")
            & ((pl.col("reason_codes").list.len() == 0) | (pl.col("situation") == "settled"))
            & ~pl.col("outstanding")
        ).alias("increase_allowed"),
        pl.col("action")
        .replace_strict(policy.data["review"], return_dtype=pl.Int64)
        .alias("review_days"),
    )
    d = d.with_columns(
        (pl.lit(as_of.date()) + pl.duration(days=pl.col("review_days")))
        .cast(pl.Date)
        .alias("review_after"),
        pl.when(
            (pl.col("action") == "restore") & (pl.col("limit_after") >= pl.col("reference_limit"))
        )
        .then(pl.lit("restored"))
        .otherwise(pl.col("situation"))
        .alias("situation"),
    )
    d = d.with_columns(_rules(policy).alias("rule"))
    d = _apply_caps(d, accounts, policy)
    # the state the ledger keeps (a cap is not a behaviour cut)
    is_cut = pl.col("action").is_in(CUTS) & ~pl.col("cap_cut")
    d = d.with_columns(
        pl.when(is_cut & pl.col("outstanding"))
        .then(pl.col("reference_limit"))
        .when(is_cut)
        .then(pl.col("limit_before"))
        .when(pl.col("outstanding") & (pl.col("limit_after") < pl.col("reference_limit")))
        .then(pl.col("reference_limit"))
        .otherwise(None)
        .alias("new_reference"),
        pl.when(is_cut).then(pl.lit(as_of)).otherwise(pl.col("last_cut_at")).alias("new_cut_at"),
        pl.when(is_cut)
        .then(pl.col("cut_sev"))
        .otherwise(pl.col("cut_severity"))
        .cast(pl.Int8)
        .alias("new_cut_severity"),
        pl.when(is_cut)
        .then(pl.col("reason_codes"))
        .otherwise(pl.col("cut_reasons"))
        .alias("new_cut_reasons"),
        pl.when(is_cut | (pl.col("action") == "restore"))
        .then(pl.lit(as_of))
        .otherwise(pl.col("last_step_at"))
        .alias("new_step_at"),
        pl.max_horizontal("last_bad_at", "bad_at").alias("new_bad_at"),
    )
    d = d.with_columns(
        _explanations(d, lang, rs["clean_days"], policy.data["caps"]["income_share"]).alias(
            "explanation"
        )
    )
    decisions = (
        d.with_columns(pl.lit(as_of).alias("as_of"), pl.lit(run_id).alias("run_id"))
        .select(list(DECISION_SCHEMA))
        .cast(DECISION_SCHEMA)  # type: ignore[arg-type]
        .sort("account_id")
    )
    trace = (
        d.select(
            "account_id",
            "situation",
            "rule",
            pl.col("sev").alias("severity"),
            pl.col("cut_sev").alias("cut_severity_now"),
            "clean_days",
            pl.coalesce("new_reference", "reference_limit").alias("pre_cut_limit"),
            "increase_opens",
            pl.col("new_reference").alias("reference_limit"),
            pl.col("limit_after").alias("current_limit"),
            pl.col("new_cut_at").alias("last_cut_at"),
            pl.col("new_cut_severity").alias("cut_severity"),
            pl.col("new_cut_reasons").alias("cut_reasons"),
            pl.col("new_step_at").alias("last_step_at"),
            pl.col("new_bad_at").alias("last_bad_at"),
            "cap",
            "cap_kind",
            "cap_income",
        )
        .cast(TRACE_SCHEMA)  # type: ignore[arg-type]
        .sort("account_id")
    )
    return decisions, trace


def _apply_caps(d: pl.DataFrame, accounts: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """Bring ``limit_after`` down to the policy's ``[caps]`` (income share, absolute).

    Adds ``cap`` and ``cap_kind`` (null where no cap brought the limit down) and
    ``cap_cut`` (the cap alone turned the decision into a reduction). A keep, freeze or
    restore whose limit the cap lowers becomes ``reduce`` (situation ``cap``); a restore the
    cap only stops short keeps its action; a reduction or suspension keeps its action with
    the lower limit. Increases close at the cap. The rule names the cap.
    """
    caps = policy.data["caps"]
    none = pl.lit(None, pl.Float64)
    if not caps["enabled"] or (caps["income_share"] <= 0 and caps["absolute"] <= 0):
        return d.with_columns(
            none.alias("cap"),
            pl.lit(None, pl.String).alias("cap_kind"),
            none.alias("cap_income"),
            pl.lit(False).alias("cap_cut"),
        )
    income = (
        accounts.select("account_id", pl.col("monthly_income").cast(pl.Float64).alias("_income"))
        if "monthly_income" in accounts.columns
        else accounts.select("account_id", none.alias("_income"))
    )
    d = d.join(income, on="account_id", how="left")
    share = caps["income_share"]
    yearly = 12 * pl.col("_income")
    income_cap = (share * yearly) if share > 0 else none
    abs_cap = pl.lit(float(caps["absolute"])) if caps["absolute"] > 0 else none
    step = policy.data["actions"]["round_to"] or 0
    if step:
        income_cap = (income_cap / step).round(6).floor() * step
    cap = pl.min_horizontal(income_cap, abs_cap)
    kind = pl.when(income_cap.is_not_null() & (income_cap <= abs_cap.fill_null(float("inf"))))
    kind = kind.then(pl.lit("income")).when(abs_cap.is_not_null()).then(pl.lit("absolute"))
    capped = cap.is_not_null() & (pl.col("limit_after") > cap)
    d = d.with_columns(
        pl.when(capped).then(cap).alias("cap"),
        pl.when(capped).then(kind).alias("cap_kind"),
        yearly.alias("_yearly"),
    )
    capped = pl.col("cap").is_not_null()
    falls = capped & (pl.col("cap") < pl.col("limit_before"))
    # a keep, a freeze (also a held cut) or a restore step that the cap lowers is a
    # reduction by the cap alone
    soft = pl.col("action").is_in(["keep", "freeze_increase", "restore"])
    rule = pl.format(
        "; then caps: limit {} brought down to {} (",
        pl.col("limit_after").round(2).cast(pl.String),
        pl.col("cap").round(2).cast(pl.String),
    )
    which = (
        pl.when(pl.col("cap_kind") == "income")
        .then(
            pl.format(
                "caps.income_share = {} of yearly income 12 x {})",
                pl.lit(share),
                pl.col("_income").round(2).cast(pl.String),
            )
        )
        .otherwise(pl.lit(f"caps.absolute = {caps['absolute']})"))
    )
    return d.with_columns(
        pl.when(capped)
        .then(pl.concat_str([pl.col("rule"), rule, which]))
        .otherwise(pl.col("rule"))
        .alias("rule"),
        pl.when(falls & soft)
        .then(pl.lit("reduce"))
        .when(capped & (pl.col("action") == "restore") & (pl.col("cap") <= pl.col("limit_before")))
        .then(pl.lit("freeze_increase"))  # at the cap already: nothing to give back
        .otherwise(pl.col("action"))
        .alias("action"),
        pl.when(falls & soft).then(pl.lit("cap")).otherwise(pl.col("situation")).alias("situation"),
        pl.when(capped).then(pl.col("cap")).otherwise(pl.col("limit_after")).alias("limit_after"),
        (pl.col("increase_allowed") & ~capped).alias("increase_allowed"),
        (falls & soft).alias("cap_cut"),
        pl.when(pl.col("cap_kind") == "income").then(pl.col("_income")).alias("cap_income"),
    ).drop("_income")


def _rules(policy: Policy) -> pl.Expr:
    """The policy rule that fired, in the policy's own key names (for analysts)."""
    a = policy.data["actions"]
    rs = policy.data["restore"]
    act = pl.col("action")
    sev = pl.when(pl.col("history")).then(pl.col("cut_sev")).otherwise(pl.col("sev"))
    sev_rule = pl.format("actions.severity_{} = {}", sev.cast(pl.String), act)
    depth = (
        pl.when((pl.col("n_cut_codes") >= 2) | (pl.col("situation") == "relapse"))
        .then(pl.lit(f"actions.reduce_fraction_repeat = {a['reduce_fraction_repeat']}"))
        .otherwise(pl.lit(f"actions.reduce_fraction = {a['reduce_fraction']}"))
    )
    relapse = (
        pl.when(pl.col("situation") == "relapse")
        .then(
            pl.lit(
                f" (relapse: new behaviour since the last cut, within repetition.relapse_days = "
                f"{policy.data['repetition']['relapse_days']})"
            )
        )
        .otherwise(pl.lit(""))
    )
    return (
        pl.when(pl.col("situation") == "zero_limit")
        .then(
            pl.when(pl.col("sev") >= 2)
            .then(
                pl.format(
                    "actions.severity_{}: limit already 0, increases closed", sev.cast(pl.String)
                )
            )
            .when(pl.col("sev") == 1)
            .then(pl.format("actions.severity_1 = {} (limit 0)", act))
            .otherwise(pl.lit("limit 0, no flag: keep"))
        )
        .when(act == "reduce")
        .then(pl.concat_str([sev_rule, pl.lit("; "), depth, relapse]))
        .when(act == "suspend")
        .then(pl.concat_str([sev_rule, relapse]))
        .when(act == "restore")
        .then(
            pl.format(
                "restore: clean {} days >= restore.clean_days = {}; restore.step_fraction = {} "
                "of the pre-cut limit",
                pl.col("clean_days").cast(pl.String),
                pl.lit(rs["clean_days"]),
                pl.lit(rs["step_fraction"]),
            )
        )
        .when(pl.col("situation") == "settled")
        .then(
            pl.format(
                "recency.settled_keep: every finding ended {} days ago (> recency.stale_days "
                "= {}) and the loans from then are repaid on time: keep, increases open",
                pl.col("min_age").cast(pl.String),
                pl.lit(policy.data["recency"]["stale_days"]),
            )
        )
        .when(pl.col("situation") == "hold")
        .then(
            pl.format(
                "hold the cut: clean {} days, restore needs restore.clean_days = {} and "
                "restore.min_days_between_steps = {} since the last step",
                pl.col("clean_days").cast(pl.String).fill_null("?"),
                pl.lit(rs["clean_days"]),
                pl.lit(rs["min_days_between_steps"]),
            )
        )
        .when(pl.col("history") & (pl.col("sev") >= 1))
        .then(
            pl.lit(
                f"behaviour already answered by the last cut: watch only "
                f"(actions.severity_1 = {a['severity_1']})"
            )
        )
        .when(pl.col("sev") >= 1)
        .then(sev_rule)
        .otherwise(pl.lit("no flag: keep"))
    )


def _cap_info(r: dict, share: float) -> dict | None:
    """What the customer text says about a cap that brought the limit down."""
    if r.get("cap") is None:
        return None
    return {"kind": r["cap_kind"], "cap": r["cap"], "share": share, "yearly": r.get("_yearly")}


def _explanations(
    d: pl.DataFrame, lang: str, clean_days: int, income_share: float = 0.0
) -> pl.Series:
    """Customer text per decision: one constant text for plain accounts (nothing to say but
    "keep"), a composed one (one Python call per other account) for the rest."""
    plain = (
        (pl.col("action") == "keep")
        & (pl.col("reason_codes").list.len() == 0)
        & (pl.col("situation") == "")
    )
    plain_text = customer_text("keep", [], {}, lang, 1, 1, True, clean_days, "")
    base = d.select(pl.when(plain).then(pl.lit(plain_text)).otherwise(None).alias("explanation"))[
        "explanation"
    ]
    rows = d.with_row_index("i").filter(~plain)
    share = income_share
    if rows.height:
        texts = []
        for r in rows.iter_rows(named=True):
            codes = r["reason_codes"]
            evs = {c: json.loads(e) for c, e in zip(codes, r["evidences"] or [], strict=False)}
            texts.append(
                customer_text(
                    r["action"],
                    codes,
                    evs,
                    lang,
                    r["limit_before"],
                    r["limit_after"],
                    r["increase_allowed"],
                    clean_days,
                    r["review_after"].isoformat(),
                    situation=r["situation"],
                    reference=r["new_reference"] or r["reference_limit"],
                    cut_codes=r["cut_reasons"] or [],
                    clean=r["min_age"] if r["situation"] == "settled" else r["clean_days"],
                    opens=r["increase_opens"].isoformat() if r["increase_opens"] else "",
                    cap=_cap_info(r, share),
                )
            )
        base = base.scatter(rows["i"], pl.Series(texts, dtype=pl.String))
    return base
