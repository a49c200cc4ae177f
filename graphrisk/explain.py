"""Reason texts in Chinese and English, for customers and for analysts.

Customer text names the behaviour, the figures that matter to the customer (how many
lenders in how many days, how many days overdue), and what would restore the limit. It never
names another person's account, a device, or an address: it is built only from the
account's own figures, never by copying evidence fields that hold ids.

Examples
--------
>>> ev = {"n_lenders": 6, "threshold": {"window_days": 30}}
>>> reason_text("MULTI_LENDER", ev, "en")
'borrowed from 6 different lenders within 30 days'
>>> reason_text("MULTI_LENDER", ev, "zh")
'30天内在6家不同机构借款'
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

LANGS = ("zh", "en")

# Customer-safe phrase per code: only own figures may be used ({n_lenders}, {days}, ...).
REASONS: dict[str, dict[str, str]] = {
    "MULTI_LENDER": {
        "zh": "{days}天内在{n_lenders}家不同机构借款",
        "en": "borrowed from {n_lenders} different lenders within {days} days",
    },
    "LOAN_STACKING": {
        "zh": "同时有{n_loans}笔来自不同机构的借款未还清",
        "en": "had {n_loans} loans from different lenders outstanding at the same time",
    },
    "SMALL_LOAN_BURST": {
        "zh": "{days}天内借了{n_loans}笔小额贷款",
        "en": "took {n_loans} small loans within {days} days",
    },
    "APPLICATION_BURST": {
        "zh": "{days}天内向{n_lenders}家机构提交了{n_applications}次借款申请",
        "en": "applied for credit {n_applications} times at {n_lenders} lenders within {days} days",
    },
    "GROUP_MULTI_LENDER": {
        "zh": "您的账户与其他账户存在关联，这些账户在{days}天内合计向多家机构借款",
        "en": "your account is linked to other accounts that together borrowed from many lenders within {days} days",
    },
    "SHARED_DEVICE_RING": {
        "zh": "您使用的设备同时登录了大量其他账户",
        "en": "the device you use is also used to sign in to many other accounts",
    },
    "IP_HOPPING": {
        "zh": "短时间内在{n_cities}个不同城市登录",
        "en": "signed in from {n_cities} different cities within a short time",
    },
    "LOAN_RECYCLING": {
        "zh": "用新的借款偿还旧的借款（以贷养贷）",
        "en": "repaid earlier loans with new loans (borrowing to repay borrowing)",
    },
    "TRANSFER_CYCLE": {
        "zh": "资金在多个账户之间循环转账后回流",
        "en": "money went round several accounts and came back",
    },
    "FAN_OUT_AFTER_LOAN": {
        "zh": "借款到账后短时间内分散转给多个账户",
        "en": "loan money was sent on to many accounts soon after it was paid out",
    },
    "FAN_IN_COLLECTOR": {
        "zh": "短时间内集中收取多个借款人的借款资金",
        "en": "received loan money from many borrowers soon after their loans",
    },
    "SCATTER_GATHER": {
        "zh": "资金经多个账户分散后又集中到一个账户",
        "en": "money was spread through several accounts and gathered again",
    },
    "ASSOCIATED_TRANSFER": {
        "zh": "频繁向关联账户大额转账",
        "en": "made heavy transfers to linked accounts",
    },
    "RISK_PROXIMITY": {
        "zh": "与存在违约记录的账户关联密切",
        "en": "is closely linked to accounts in default",
    },
    "OVERDUE_HISTORY": {
        "zh": "近期有借款逾期{overdue_days}天",
        "en": "a recent loan was {overdue_days} days overdue",
    },
}

# What would restore the limit, per code.
REMEDIES: dict[str, dict[str, str]] = {
    "MULTI_LENDER": {"zh": "减少在其他平台的借款", "en": "borrow from fewer platforms"},
    "LOAN_STACKING": {
        "zh": "还清部分其他机构的借款",
        "en": "repay some of the loans from other lenders",
    },
    "SMALL_LOAN_BURST": {
        "zh": "避免短期内频繁小额借款",
        "en": "avoid taking many small loans in a short time",
    },
    "APPLICATION_BURST": {"zh": "减少频繁的借款申请", "en": "apply for credit less often"},
    "GROUP_MULTI_LENDER": {"zh": "减少在多个平台的借款", "en": "borrow from fewer platforms"},
    "SHARED_DEVICE_RING": {"zh": "使用本人专用的设备登录", "en": "sign in from your own device"},
    "IP_HOPPING": {"zh": "在常用地点登录", "en": "sign in from your usual places"},
    "LOAN_RECYCLING": {"zh": "停止以新借款偿还旧借款", "en": "stop repaying loans with new loans"},
    "TRANSFER_CYCLE": {
        "zh": "避免资金在账户间循环转账",
        "en": "avoid moving money round between accounts",
    },
    "FAN_OUT_AFTER_LOAN": {
        "zh": "按借款用途使用资金",
        "en": "use loan money for its stated purpose",
    },
    "FAN_IN_COLLECTOR": {
        "zh": "停止代收他人借款资金",
        "en": "stop collecting other people's loan money",
    },
    "SCATTER_GATHER": {
        "zh": "避免资金分散再集中的转账",
        "en": "avoid spreading and regathering money",
    },
    "ASSOCIATED_TRANSFER": {
        "zh": "减少向关联账户的大额转账",
        "en": "reduce large transfers to linked accounts",
    },
    "RISK_PROXIMITY": {
        "zh": "保持良好的个人还款记录",
        "en": "keep your own repayment record clean",
    },
    "OVERDUE_HISTORY": {"zh": "按时还清逾期借款", "en": "repay overdue loans and pay on time"},
}

ACTION_TEXT: dict[str, dict[str, str]] = {
    "keep": {"zh": "您的额度保持不变。", "en": "Your limit stays as it is."},
    "keep_increase": {
        "zh": "您的额度保持不变，记录良好，可以申请提额。",
        "en": "Your limit stays as it is; your record is clean and increases are open.",
    },
    "freeze_increase": {
        "zh": "您的额度保持{after}元不变，但暂不开放提额。",
        "en": "Your limit stays at {after}, but increases are closed for now.",
    },
    "reduce": {
        "zh": "您的额度已由{before}元调整为{after}元。",
        "en": "Your limit has been reduced from {before} to {after}.",
    },
    "suspend": {
        "zh": "您的额度已暂停使用（当前可用额度为0元）。",
        "en": "Your limit has been suspended (available limit: 0).",
    },
    "restore": {
        "zh": "您的额度已由{before}元恢复至{after}元。",
        "en": "Your limit has been restored from {before} to {after}.",
    },
    "zero_limit": {
        "zh": "您的账户目前没有可用额度。",
        "en": "Your account has no limit available at present.",
    },
}

GLUE = {
    "zh": {
        "because": "原因：",
        "sep": "；",
        "end": "。",
        "remedy": "如能{remedies}，并保持{clean_days}天无上述情况，额度将逐步恢复，{review}前会重新评估。",
        "remedy_freeze": "如能{remedies}，并保持{clean_days}天无上述情况，将重新开放提额，{review}前会重新评估。",
        "restore_more": "继续保持良好记录，额度将继续逐步恢复。",
        "and": "、",
        "no_reason": "目前没有发现异常借款或转账行为。",
    },
    "en": {
        "because": "Reason: ",
        "sep": "; ",
        "end": ".",
        "remedy": "If you {remedies} and stay clear of this for {clean_days} days, the limit "
        "will come back step by step; it will be reviewed again by {review}.",
        "remedy_freeze": "If you {remedies} and stay clear of this for {clean_days} days, "
        "increases will open again; it will be reviewed again by {review}.",
        "restore_more": "Keep your record clean and the limit will keep coming back step by step.",
        "and": ", ",
        "no_reason": "We found no unusual borrowing or transfers.",
    },
}


class _Figures(dict):
    """Format mapping that turns a missing figure into a neutral word, never an id."""

    def __init__(self, data: dict[str, Any], lang: str):
        super().__init__(data)
        self.lang = lang

    def __missing__(self, key: str) -> str:
        return "多" if self.lang == "zh" else "several"


def figures(code: str, ev: dict[str, Any]) -> dict[str, Any]:
    """The customer-safe figures of one flag's evidence: counts, days, amounts only."""
    thr = ev.get("threshold") or {}
    out: dict[str, Any] = {}
    days = ev.get("window_days") or thr.get("window_days")
    if days is None and thr.get("window_hours"):
        days = max(1, round(thr["window_hours"] / 24))
    if days is not None:
        out["days"] = days
    for k in (
        "n_lenders",
        "n_loans",
        "n_applications",
        "n_cities",
        "overdue_days",
        "n_outstanding",
        "max_overdue_days",
    ):
        v = ev.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = int(v)
    if "n_loans" not in out and "n_outstanding" in out:
        out["n_loans"] = out["n_outstanding"]
    if "overdue_days" not in out and "max_overdue_days" in out:
        out["overdue_days"] = out["max_overdue_days"]
    if "n_lenders" not in out and isinstance(ev.get("lenders"), list):
        out["n_lenders"] = len(ev["lenders"])
    if "n_loans" not in out and isinstance(ev.get("loans"), list):
        out["n_loans"] = len(ev["loans"])
    if "n_cities" not in out and isinstance(ev.get("cities"), list):
        out["n_cities"] = len(ev["cities"])
    return out


def reason_text(code: str, ev: dict[str, Any] | str | None, lang: str = "zh") -> str:
    """The customer-safe phrase for one reason code, filled with the account's own figures."""
    if isinstance(ev, str):
        ev = json.loads(ev)
    template = REASONS[code][lang]
    return string.Formatter().vformat(template, (), _Figures(figures(code, ev or {}), lang))


def _money(v: float) -> str:
    return f"{v:,.0f}"


def customer_text(
    action: str,
    codes: list[str],
    evidence: dict[str, Any],
    lang: str,
    limit_before: float,
    limit_after: float,
    increase_allowed: bool,
    clean_days: int,
    review: str,
) -> str:
    """The customer explanation of one decision.

    ``evidence`` maps each reason code to that flag's evidence (dict or JSON string).
    """
    g = GLUE[lang]
    fill = {"before": _money(limit_before), "after": _money(limit_after)}
    if action == "keep":
        head = ACTION_TEXT["keep_increase" if increase_allowed else "keep"][lang]
        if limit_before == 0:
            head = ACTION_TEXT["zero_limit"][lang]
    else:
        head = ACTION_TEXT[action][lang].format(**fill)
    if not codes:
        tail = (
            g["no_reason"]
            if action == "keep"
            else (g["restore_more"] if action == "restore" else "")
        )
        return (head + " " + tail).strip() if lang == "en" else head + tail
    reasons = g["sep"].join(reason_text(c, evidence.get(c), lang) for c in codes) + g["end"]
    remedies = g["and"].join(dict.fromkeys(REMEDIES[c][lang] for c in codes))
    if action == "restore":
        tail = g["restore_more"]
    elif action in ("freeze_increase", "keep"):
        tail = g["remedy_freeze"].format(remedies=remedies, clean_days=clean_days, review=review)
    else:
        tail = g["remedy"].format(remedies=remedies, clean_days=clean_days, review=review)
    sep = " " if lang == "en" else ""
    return sep.join([head, g["because"] + reasons, tail])


# ---------------------------------------------------------------------------------------
# explaining one account of a run


def explain_account(
    run: str | Path, account_id: str, audience: str = "customer", lang: str = "zh"
) -> dict[str, Any]:
    """The explanation of one account's decision in a run directory.

    ``customer``: the decision and the customer-safe text. ``analyst``: also every flag with
    its full evidence, its weighted severity and the policy rule that turned it into the action.
    """
    import polars as pl

    from graphrisk.decisions import weigh
    from graphrisk.errors import UsageError
    from graphrisk.policy import Policy

    run = Path(run)
    if not (run / "decisions.parquet").is_file():
        raise UsageError(f"not a run directory (no decisions.parquet): {run}")
    if audience not in ("customer", "analyst") or lang not in LANGS:
        raise UsageError("--audience must be customer or analyst, --lang zh or en")
    dec = pl.read_parquet(run / "decisions.parquet").filter(pl.col("account_id") == account_id)
    if not dec.height:
        raise UsageError(f"account {account_id!r} is not in run {run}")
    d = dec.row(0, named=True)
    flags = pl.read_parquet(run / "flags.parquet").filter(pl.col("account_id") == account_id)
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    policy = Policy.from_dict(summary.get("policy", {}))
    codes = d["reason_codes"] or []
    best = {
        r["code"]: json.loads(r["evidence"])
        for r in flags.sort("severity", "score", descending=True)
        .unique("code", keep="first")
        .iter_rows(named=True)
    }
    clean_days = policy.data["restore"]["clean_days"]
    text = customer_text(
        d["action"],
        codes,
        best,
        lang,
        d["limit_before"],
        d["limit_after"],
        d["increase_allowed"],
        clean_days,
        d["review_after"].isoformat(),
    )
    doc: dict[str, Any] = {
        "account_id": account_id,
        "action": d["action"],
        "limit_before": d["limit_before"],
        "limit_after": d["limit_after"],
        "increase_allowed": d["increase_allowed"],
        "reason_codes": codes,
        "review_after": d["review_after"].isoformat(),
        "as_of": str(d["as_of"]),
        "run_id": d["run_id"],
        "audience": audience,
        "lang": lang,
        "text": text,
    }
    if audience == "analyst":
        weighed = weigh(flags, policy, d["as_of"]).sort(
            "effective_severity", "score", descending=True
        )
        doc["flags"] = [
            {
                "code": r["code"],
                "detector": r["detector"],
                "severity": r["severity"],
                "policy_severity": r["policy_severity"],
                "effective_severity": r["effective_severity"],
                "age_days": r["age_days"],
                "score": r["score"],
                "group_id": r["group_id"],
                "window": [str(r["window_start"]), str(r["window_end"])],
                "evidence": json.loads(r["evidence"]),
            }
            for r in weighed.iter_rows(named=True)
        ]
        top = max((f["effective_severity"] for f in doc["flags"]), default=0)
        rec = policy.data["recency"]
        doc["policy_rule"] = {
            "severity": top,
            "rule": (
                f"actions.severity_{top} = {policy.action_for(top)!r}" if top else "no flag: keep"
            ),
            "recency": f"full weight within {rec['recent_days']} days, -1 level to {rec['stale_days']} days, "
            "watch only after",
            "escalate_at_codes": policy.data["repetition"]["escalate_at_codes"],
            "final_action": d["action"],
        }
    return doc


def render_explanation(doc: dict[str, Any]) -> str:
    """Plain text of :func:`explain_account`'s result."""
    lines = [doc["text"]]
    if doc["audience"] == "analyst":
        lines.insert(
            0,
            f"{doc['account_id']}: {doc['action']} {doc['limit_before']:,.0f} -> "
            f"{doc['limit_after']:,.0f}  reasons {', '.join(doc['reason_codes']) or '-'}  "
            f"review after {doc['review_after']}  (run {doc['run_id']})",
        )
        r = doc["policy_rule"]
        lines.append(
            f"policy: {r['rule']}; recency: {r['recency']}; escalate at "
            f"{r['escalate_at_codes']} cut-level codes"
        )
        for f in doc["flags"]:
            lines.append(
                f"- {f['code']} ({f['detector']}) severity {f['severity']} -> "
                f"{f['effective_severity']} after policy, age {f['age_days']} days, "
                f"score {f['score']:.2f}, window {f['window'][0]} .. {f['window'][1]}"
                + (f", group {f['group_id']}" if f["group_id"] else "")
            )
            lines.append(
                "    evidence: " + json.dumps(f["evidence"], ensure_ascii=False, sort_keys=True)
            )
    return "\n".join(lines)
