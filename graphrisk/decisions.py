"""Flags (+ the ledger's prior state) -> exactly one decision per account.

The rules, all from the policy:

1. per code: ``[codes.CODE]`` may disable a code or replace its severity; linkage codes
   (RISK_PROXIMITY, IP_HOPPING) are capped at severity 1 (they never cut a limit);
2. recency: a flag whose window ended more than ``recency.recent_days`` before ``as_of``
   weighs one level less; older than ``recency.stale_days`` it only watches (severity 1);
3. repetition: ``repetition.escalate_at_codes`` distinct cut-level codes raise the severity by one;
4. severity -> action (``actions.severity_N``); reductions go ``reduce_fraction`` deep,
   ``reduce_fraction_repeat`` when several cut-level codes or a relapse after a cut;
5. with a ledger: an account with an outstanding cut and no cut-level flag, clean for
   ``restore.clean_days``, gets ``restore.step_fraction`` of its pre-cut limit back per step.
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

#: The prior state a ledger gives per account (see :mod:`graphrisk.ledger`).
PRIOR_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "reference_limit": pl.Float64(),  # the limit before the current episode of cuts
    "current_limit": pl.Float64(),  # the limit our last decision left
    "last_cut_at": pl.Datetime("us"),  # as_of of the last reduce/suspend
    "last_step_at": pl.Datetime("us"),  # as_of of the last cut or restore step
}


def weigh(flags: pl.DataFrame, policy: Policy, as_of: datetime) -> pl.DataFrame:
    """Flags with ``effective_severity`` after code rules, linkage cap and recency.

    Disabled codes are dropped.
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
        .with_columns(sev.alias("policy_severity"))
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
    """One decision per account (``DECISION_SCHEMA``), most important reason first."""
    acts = policy.data["actions"]
    weighed = weigh(flags, policy, as_of)
    per_code = (
        weighed.sort("effective_severity", "score", descending=True)
        .group_by("account_id", "code", maintain_order=True)
        .agg(
            pl.col("effective_severity").first(),
            pl.col("score").first(),
            pl.col("evidence").first(),
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
        )
    )
    per_acc = per_acc.with_columns(
        pl.when(pl.col("n_cut_codes") >= policy.data["repetition"]["escalate_at_codes"])
        .then((pl.col("sev") + 1).clip(upper_bound=3))
        .otherwise(pl.col("sev"))
        .alias("sev")
    )

    d = accounts.select("account_id", pl.col("credit_limit").alias("credit_limit")).join(
        per_acc, on="account_id", how="left"
    )
    if prior is None:
        prior = pl.DataFrame(schema=PRIOR_SCHEMA)
    d = d.join(prior, on="account_id", how="left")
    outstanding = pl.col("current_limit").is_not_null() & (
        pl.col("current_limit") < pl.col("reference_limit")
    )
    d = d.with_columns(
        pl.col("sev").fill_null(0),
        pl.col("n_cut_codes").fill_null(0),
        pl.col("reason_codes").fill_null([]),
        pl.when(outstanding)
        .then(pl.col("current_limit"))
        .otherwise(pl.col("credit_limit"))
        .alias("limit_before"),
        outstanding.alias("outstanding"),
    )
    action_of = pl.col("sev").replace_strict(
        {0: "keep", 1: acts["severity_1"], 2: acts["severity_2"], 3: acts["severity_3"]},
        return_dtype=pl.String,
    )
    rs = policy.data["restore"]
    clean_since = (pl.lit(as_of) - pl.col("last_cut_at")).dt.total_days()
    since_step = (pl.lit(as_of) - pl.col("last_step_at")).dt.total_days()
    can_restore = (
        pl.col("outstanding")
        & (pl.col("sev") <= 1)
        & (clean_since >= rs["clean_days"])
        & (since_step >= rs["min_days_between_steps"])
    )
    d = d.with_columns(
        pl.when(can_restore).then(pl.lit("restore")).otherwise(action_of).alias("action")
    )
    frac = (
        pl.when((pl.col("n_cut_codes") >= 2) | pl.col("outstanding"))
        .then(acts["reduce_fraction_repeat"])
        .otherwise(acts["reduce_fraction"])
    )
    step = acts["round_to"] or 0
    reduced = pl.col("limit_before") * (1 - frac)
    if step:
        reduced = (reduced / step).floor() * step
    restored = pl.min_horizontal(
        pl.col("reference_limit"),
        pl.col("limit_before") + rs["step_fraction"] * pl.col("reference_limit"),
    )
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
            & (pl.col("reason_codes").list.len() == 0)
            & ~pl.col("outstanding")
        ).alias("increase_allowed"),
        pl.col("action")
        .replace_strict(policy.data["review"], return_dtype=pl.Int64)
        .alias("review_days"),
    )
    d = d.with_columns(
        (pl.lit(as_of.date()) + pl.duration(days=pl.col("review_days")))
        .cast(pl.Date)
        .alias("review_after")
    )
    d = d.with_columns(_explanations(d, lang, rs["clean_days"]).alias("explanation"))
    return (
        d.with_columns(pl.lit(as_of).alias("as_of"), pl.lit(run_id).alias("run_id"))
        .select(list(DECISION_SCHEMA))
        .cast(DECISION_SCHEMA)
        .sort("account_id")
    )  # type: ignore[arg-type]


def _explanations(d: pl.DataFrame, lang: str, clean_days: int) -> pl.Series:
    """Customer text per decision: a constant text for accounts with nothing to explain,
    a composed one (Python, one per flagged account) for the others."""

    def plain_text(limit: float, inc: bool) -> str:
        return customer_text("keep", [], {}, lang, limit, limit, inc, clean_days, "")

    plain = (pl.col("action") == "keep") & (pl.col("reason_codes").list.len() == 0)
    base = d.select(
        pl.when(~plain)
        .then(None)
        .when(pl.col("limit_before") == 0)
        .then(pl.lit(plain_text(0, False)))
        .when(pl.col("increase_allowed"))
        .then(pl.lit(plain_text(1, True)))
        .otherwise(pl.lit(plain_text(1, False)))
        .alias("explanation"),
    )["explanation"]
    rows = (
        d.with_row_index("i")
        .filter(~plain)
        .select(
            "i",
            "action",
            "reason_codes",
            "evidences",
            "limit_before",
            "limit_after",
            "increase_allowed",
            "review_after",
        )
    )
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
                )
            )
        base = base.scatter(rows["i"], pl.Series(texts, dtype=pl.String))
    return base
