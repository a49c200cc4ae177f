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
from pathlib import Path
from typing import Any

LANGS = ("zh", "en")

# Customer-safe phrase per code: only own figures may be used ({n_lenders}, {days}, ...).
REASONS: dict[str, dict[str, str]] = {
    "MULTI_LENDER": {
        "zh": "{days}天内在{n_lenders}家不同机构借款{kinds}",
        "en": "borrowed from {n_lenders} different lenders within {days} days{kinds}",
    },
    "LOAN_STACKING": {
        "zh": "曾同时有{n_loans}笔来自不同机构的借款未还清{kinds}",
        "en": "had {n_loans} loans from different lenders outstanding at the same time{kinds}",
    },
    "SMALL_LOAN_BURST": {
        "zh": "{days}天内借了{n_loans}笔小额贷款{kinds}",
        "en": "took {n_loans} small loans within {days} days{kinds}",
    },
    "APPLICATION_BURST": {
        "zh": "{days}天内向{n_lenders}家机构提交了{n_applications}次借款申请{kinds}",
        "en": "applied for credit {n_applications} times at {n_lenders} lenders within {days} "
        "days{kinds}",
    },
    "GROUP_MULTI_LENDER": {
        "zh": "您的账户与其他{others}个账户存在关联，这些账户在{days}天内合计向{n_lenders}家机构借款{kinds}",
        "en": "your account is linked to {others} other accounts that together borrowed from "
        "{n_lenders} lenders within {days} days{kinds}",
    },
    "SHARED_DEVICE_RING": {
        "zh": "您使用的设备共登录了{n_accounts}个账户",
        "en": "the device you use was used to sign in to {n_accounts} accounts",
    },
    "IP_HOPPING": {
        "zh": "{period}内在{n_cities}个不同城市登录",
        "en": "signed in from {n_cities} different cities within {period}",
    },
    "LOAN_RECYCLING": {
        "zh": "用新的借款偿还旧的借款（以贷养贷），共{repeats}次",
        "en": "repaid earlier loans with new loans {repeats} times (borrowing to repay borrowing)",
    },
    "TRANSFER_CYCLE": {
        "zh": "{start}至{end}期间，{amount}元资金在{length}个账户之间循环转账后回流",
        "en": "between {start} and {end}, {amount} went round {length} accounts and came back",
    },
    "FAN_OUT_AFTER_LOAN": {
        "zh": "借款{loan_amount}元到账后{days}天内，其中{amount_sent}元被分散转给{n_recipients}个账户",
        "en": "{amount_sent} of a {loan_amount} loan was sent on to {n_recipients} accounts "
        "within {days} days of the payout",
    },
    "FAN_IN_COLLECTOR": {
        "zh": "{days}天内集中收取了{n_feeders}个借款人的借款资金共{amount}元",
        "en": "received {amount} of loan money from {n_feeders} borrowers within {days} days "
        "of their loans",
    },
    "SCATTER_GATHER": {
        "zh": "{scattered}元资金经{n_intermediaries}个账户分散后又集中到一个账户",
        "en": "{scattered} was spread through {n_intermediaries} accounts and gathered again "
        "into one",
    },
    "ASSOCIATED_TRANSFER": {
        "zh": "{days}天内向关联账户转账{sent}元",
        "en": "sent {sent} to linked accounts within {days} days",
    },
    "RISK_PROXIMITY": {
        "zh": "与{n_defaulters}个存在违约记录的账户关联密切",
        "en": "has close ties to accounts in default (in all: {n_defaulters})",
    },
    "OVERDUE_HISTORY": {
        "zh": "近期有借款逾期{overdue_days}天",
        "en": "a recent loan was {overdue_days} days overdue",
    },
    "UNSTABLE_INCOME": {
        "zh": "账户收入近{months}个月波动较大",
        "en": "money coming in swung widely over the last {months} months",
    },
    "LARGE_OUTFLOW": {
        "zh": "{days}天内转出{outflow}元，约为月收入{income}元{source}的{multiple}倍{funded}",
        "en": "sent out {outflow} within {days} days, about {multiple} times the monthly "
        "income of {income}{source}{funded}",
    },
    "HIGH_DEBT_RATIO": {
        "zh": "借款余额{debt}元，约为月收入{income}元的{debt_months}倍{source}",
        "en": "owes {debt} on loans, about {debt_months} times the monthly income of "
        "{income}{source}",
    },
}

# Phrases for one shape of a code (the evidence's ``kind``), where it has several.
KIND_REASONS: dict[tuple[str, str], dict[str, str]] = {
    ("UNSTABLE_INCOME", "swing"): {
        "zh": "账户收入近{months}个月大起大落：每月变动至少{change}元，而此前月收入约{usual}元",
        "en": "money coming in swung widely over the last {months} months: by at least "
        "{change} from one month to the next, against about {usual} a month before",
    },
    ("UNSTABLE_INCOME", "stop"): {
        "zh": "账户收入近{months}个月几乎中断：此前月收入约{usual}元，{since}",
        "en": "money coming in fell away in the last {months} months: about {usual} a month "
        "before, {since}",
    },
    ("HIGH_DEBT_RATIO", "new"): {
        "zh": "近{days}天新增借款{new}元，约为月收入{income}元的{new_months}倍{source}",
        "en": "borrowed {new} in the last {days} days, about {new_months} times the monthly "
        "income of {income}{source}",
    },
}

# Which income a figure rests on, as the customer is told it.
INCOME_SOURCE: dict[str, dict[str, str]] = {
    "declared": {"zh": "（按您申报的月收入计）", "en": " (the income you declared)"},
    "observed": {
        "zh": "（按账户近几个月的收入流水估算）",
        "en": " (the income seen coming into your account in recent months)",
    },
}

SINCE: dict[str, dict[str, str]] = {
    "none": {"zh": "此后几乎没有收入", "en": "almost nothing since"},
    "some": {"zh": "近期月均仅约{latest}元", "en": "only about {latest} a month since"},
}

LOAN_FUNDED: dict[str, str] = {
    "zh": "，主要来自新借款",
    "en": ", mostly paid with new loans",
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
    "UNSTABLE_INCOME": {
        "zh": "保持稳定的收入来源（连续{steady_months}个月收入稳定）",
        "en": "keep a steady income coming in for {steady_months} months in a row",
    },
    "LARGE_OUTFLOW": {
        "zh": "减少大额支出，避免用新借款支付大额消费",
        "en": "keep large payments in line with your income and do not pay them with new loans",
    },
    "HIGH_DEBT_RATIO": {
        "zh": "提前偿还部分借款，使借款余额降至月收入的{watch_months}倍以下",
        "en": "repay part of your loans so that what you owe falls below {watch_months} months "
        "of income",
    },
}

# Short names of the behaviour, per code (for "clean of ..." and "reduced earlier because ...").
BEHAVIOURS: dict[str, dict[str, str]] = {
    "MULTI_LENDER": {"zh": "多头借款", "en": "borrowing from many lenders"},
    "LOAN_STACKING": {"zh": "多笔借款叠加未还", "en": "stacked loans from several lenders"},
    "SMALL_LOAN_BURST": {"zh": "频繁小额借款", "en": "many small loans"},
    "APPLICATION_BURST": {"zh": "频繁申请借款", "en": "frequent credit applications"},
    "GROUP_MULTI_LENDER": {
        "zh": "关联账户合计多头借款",
        "en": "borrowing from many lenders together with linked accounts",
    },
    "SHARED_DEVICE_RING": {"zh": "多账户共用设备", "en": "a device shared by many accounts"},
    "IP_HOPPING": {"zh": "频繁异地登录", "en": "sign-ins from many cities"},
    "LOAN_RECYCLING": {"zh": "以贷养贷", "en": "repaying loans with new loans"},
    "TRANSFER_CYCLE": {"zh": "资金循环转账", "en": "money moved round in a circle"},
    "FAN_OUT_AFTER_LOAN": {"zh": "借款到账后分散转出", "en": "loan money scattered on payout"},
    "FAN_IN_COLLECTOR": {
        "zh": "集中收取他人借款资金",
        "en": "collecting other people's loan money",
    },
    "SCATTER_GATHER": {"zh": "资金分散后再集中", "en": "money spread out and gathered again"},
    "ASSOCIATED_TRANSFER": {"zh": "向关联账户大额转账", "en": "heavy transfers to linked accounts"},
    "RISK_PROXIMITY": {"zh": "与违约账户关联", "en": "close links to accounts in default"},
    "OVERDUE_HISTORY": {"zh": "借款逾期", "en": "overdue loans"},
    "UNSTABLE_INCOME": {"zh": "收入不稳定", "en": "an unsteady income"},
    "LARGE_OUTFLOW": {"zh": "大额资金流出", "en": "large outflows"},
    "HIGH_DEBT_RATIO": {"zh": "负债率过高", "en": "debt high against income"},
}

# The sentence of an income or absolute cap on the limit (``[caps]`` of the policy).
CAP_TEXT: dict[str, dict[str, str]] = {
    "income": {
        "zh": "您的额度随收入确定：不超过年收入（{yearly}元）的{share}%，即{cap}元。",
        "en": "Your limit follows your income: it is at most {share}% of your yearly income "
        "({yearly}), that is {cap}.",
    },
    "absolute": {
        "zh": "单个账户的额度上限为{cap}元。",
        "en": "No account's limit goes above {cap}.",
    },
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
    "relapse": {
        "zh": "额度调整后再次出现下述情况，您的额度已由{before}元进一步调整为{after}元。",
        "en": "The behaviour came back after an earlier cut: your limit has been reduced "
        "further, from {before} to {after}.",
    },
    "suspend": {
        "zh": "您的额度已暂停使用（额度由{before}元调整为0元）。",
        "en": "Your limit has been suspended (from {before} to 0).",
    },
    "restore": {
        "zh": "您的额度已由{before}元恢复至{after}元（调整前为{reference}元）。",
        "en": "Your limit has been restored from {before} to {after} (it was {reference} "
        "before the cut).",
    },
    "restored": {
        "zh": "您的额度已由{before}元全部恢复至{after}元。",
        "en": "Your limit has been restored in full, from {before} to {after}.",
    },
    "hold": {
        "zh": "您的额度目前为{after}元（调整前为{reference}元），暂不开放提额。",
        "en": "Your limit stays at {after} for now (it was {reference} before the cut); "
        "increases are closed.",
    },
    "zero_limit": {
        "zh": "您的账户目前没有可用额度（额度为0元）。",
        "en": "Your account has no limit at present (limit: 0).",
    },
}

GLUE = {
    "zh": {
        "because": "原因：",
        "earlier": "此前调整的原因：",
        "sep": "；",
        "end": "。",
        "remedy": "如能{remedies}，并保持{clean_days}天无上述情况，额度将逐步恢复，"
        "{review}前会重新评估。",
        "remedy_freeze": "如能{remedies}，此后不再出现上述情况，自{opens}起将重新开放提额。",
        "remedy_zero": "使额度保持为0的是上述情况。如能{remedies}，此后不再出现上述情况，"
        "自{opens}起即可重新评估开通额度。",
        "zero_clean": "我们没有发现会使额度保持为0的借款或转账行为，开通额度不受这些行为限制；"
        "保持按时还款、避免在多个平台借款，有助于获得额度。",
        "hold_more": "自上次发现上述情况已{clean}天；保持{clean_days}天无上述情况后，"
        "额度将逐步恢复，{review}前会重新评估。",
        "restore_more": "已连续{clean}天未发现{behaviours}。继续保持良好记录，额度将继续逐步恢复"
        "至{reference}元，{review}前会再次评估。",
        "restored_more": "已连续{clean}天未发现{behaviours}。继续保持良好记录，"
        "自{opens}起将重新开放提额。",
        "remedy_hold": "如能{remedies}，并保持{clean_days}天无上述情况（目前已{clean}天），"
        "额度将逐步恢复，{review}前会重新评估。",
        "settled_more": "此前发现的{behaviours}已于{clean}天前结束，此后的借款均已按时还清，"
        "不再影响您的额度。",
        "and": "、",
        "no_reason": "目前没有发现异常借款或转账行为。",
        "nothing": "上述情况",
    },
    "en": {
        "because": "Reason: ",
        "earlier": "Reason for the earlier cut: ",
        "sep": "; ",
        "end": ".",
        "remedy": "If you {remedies} and stay clear of this for {clean_days} days, the limit "
        "will come back step by step; it will be reviewed again by {review}.",
        "remedy_freeze": "If you {remedies} and stay clear of this from now on, increases "
        "will open again from {opens}.",
        "remedy_zero": "This is what keeps the limit at 0. If you {remedies} and stay clear of "
        "this from now on, a limit can be considered again from {opens}.",
        "zero_clean": "We found no borrowing or transfers that keep the limit at 0, so nothing "
        "of that kind stands in the way of a limit; paying on time and borrowing from few "
        "platforms helps.",
        "hold_more": "It is {clean} days since this was last seen; after {clean_days} days "
        "clear of it the limit will come back step by step; it will be reviewed again by "
        "{review}.",
        "restore_more": "For {clean} days we have seen none of this: {behaviours}. Keep your "
        "record clean and the limit will keep coming back step by step, up to {reference}; it "
        "will be reviewed again by {review}.",
        "restored_more": "For {clean} days we have seen none of this: {behaviours}. Keep your "
        "record clean and increases will open again from {opens}.",
        "remedy_hold": "If you {remedies} and stay clear of this for {clean_days} days (so far: "
        "{clean}), the limit will come back step by step; it will be reviewed again by "
        "{review}.",
        "settled_more": "What we saw earlier ({behaviours}) ended {clean} days ago and the "
        "loans since have been repaid on time, so it no longer counts against your limit.",
        "and": ", ",
        "no_reason": "We found no unusual borrowing or transfers.",
        "nothing": "this behaviour",
    },
}


class _Figures(dict):
    """Format mapping that turns a missing figure into a neutral word, never an id."""

    def __init__(self, data: dict[str, Any], lang: str):
        super().__init__(data)
        self.lang = lang

    def __missing__(self, key: str) -> str:
        return "多" if self.lang == "zh" else "several"


def _count(v: Any) -> int | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return int(v)
    return None


def _window_days(ev: dict[str, Any]) -> int | None:
    w = ev.get("window")
    if not isinstance(w, dict) or not w.get("start") or not w.get("end"):
        return None
    from datetime import datetime

    try:
        span = datetime.fromisoformat(w["end"]) - datetime.fromisoformat(w["start"])
    except (TypeError, ValueError):
        return None
    return max(1, span.days + (1 if span.seconds else 0))


def figures(code: str, ev: dict[str, Any]) -> dict[str, Any]:
    """The customer-safe figures of one flag's evidence: counts and days only, never an id.

    ``days`` is the detector's window length (``threshold.window_days``, or
    ``window_hours`` in whole days), else the span of the evidence window.

    Examples
    --------
    >>> figures("OVERDUE_HISTORY", {"max_days_overdue": 45, "loans": [{"loan_id": "L1"}]})
    {'n_loans': 1, 'overdue_days': 45}
    >>> figures("IP_HOPPING", {"cities": ["A", "B", "C"], "threshold": {"window_hours": 48}})
    {'days': 2, 'n_cities': 3}
    """
    thr = ev.get("threshold") or {}
    out: dict[str, Any] = {}
    days = _count(ev.get("window_days")) or _count(thr.get("window_days"))
    if days is None and _count(thr.get("window_hours")):
        days = max(1, round(thr["window_hours"] / 24))
    if days is None:
        days = _window_days(ev)
    if days is not None:
        out["days"] = days
    for k in ("n_lenders", "n_loans", "n_applications", "n_cities", "n_accounts"):
        v = _count(ev.get(k))
        if v is not None:
            out[k] = v
    for k in ("n_outstanding",):
        v = _count(ev.get(k))
        if v is not None and code == "LOAN_STACKING":
            out["n_loans"] = v
    for k in ("overdue_days", "max_days_overdue", "max_overdue_days", "days_overdue"):
        v = _count(ev.get(k))
        if v is not None:
            out["overdue_days"] = v
            break
    for name, key in (("n_lenders", "lenders"), ("n_loans", "loans"), ("n_cities", "cities")):
        if name not in out and isinstance(ev.get(key), list):
            out[name] = len(ev[key])
    return dict(sorted(out.items()))


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _times(v: float | None) -> str:
    return "" if v is None else (f"{v:.0f}" if v >= 10 else f"{v:.1f}")


def cash_figures(code: str, ev: dict[str, Any], lang: str) -> dict[str, str]:
    """The account's own money figures of a cash-flow code (UNSTABLE_INCOME, LARGE_OUTFLOW,
    HIGH_DEBT_RATIO), formatted for the customer text: amounts, multiples, months and the
    income they rest on. Never an id.

    Examples
    --------
    >>> ev = {"debt_outstanding": 70000, "income": 5000, "debt_months": 14.0,
    ...       "income_source": "declared", "threshold": {"watch_debt_months": 4.0}}
    >>> f = cash_figures("HIGH_DEBT_RATIO", ev, "en")
    >>> f["debt"], f["income"], f["debt_months"], f["watch_months"]
    ('70,000', '5,000', '14', '4')
    """
    thr = ev.get("threshold") or {}
    out: dict[str, str] = {}
    src = INCOME_SOURCE.get(str(ev.get("income_source")))
    out["source"] = src[lang] if src else ""
    income = _num(ev.get("income"))
    if income is not None:
        out["income"] = _money(income)
    if code == "UNSTABLE_INCOME":
        months = _num(ev.get("stopped_months")) or _num(ev.get("swing_months"))
        if months is not None:
            out["months"] = f"{months:.0f}"
        if _num(ev.get("usual_income")) is not None:
            out["usual"] = _money(ev["usual_income"])
            share = _num(ev.get("latest_share"))
            if share is not None:
                latest = share * ev["usual_income"]
                out["latest"] = _money(latest)
                out["since"] = SINCE["none" if latest < 1 else "some"][lang].format(
                    latest=_money(latest)
                )
        if _num(ev.get("recent_min_change")) is not None:
            out["change"] = _money(ev["recent_min_change"])
        steady = _num(thr.get("swing_months")) or _num(ev.get("swing_months"))
        out["steady_months"] = f"{steady:.0f}" if steady else "3"
    elif code == "LARGE_OUTFLOW":
        if _num(ev.get("outflow")) is not None:
            out["outflow"] = _money(ev["outflow"])
        out["multiple"] = _times(_num(ev.get("multiple")))
        out["funded"] = LOAN_FUNDED[lang] if ev.get("funded_by") == "loans" else ""
    elif code == "HIGH_DEBT_RATIO":
        for k, key in (("debt", "debt_outstanding"), ("new", "borrowed_recent")):
            if _num(ev.get(key)) is not None:
                out[k] = _money(ev[key])
        out["debt_months"] = _times(_num(ev.get("debt_months")))
        out["new_months"] = _times(_num(ev.get("new_months")))
        days = _num(ev.get("recent_days")) or _num(thr.get("recent_days"))
        if days is not None:
            out["days"] = f"{days:.0f}"
        watch = _num(thr.get("watch_debt_months"))
        out["watch_months"] = f"{watch:g}" if watch is not None else "4"
    return {k: v for k, v in out.items() if v != "" or k in ("source", "funded")}


#: A lender kind as the customer text names it: (singular zh, en singular, en plural).
KIND_NAMES: dict[str, tuple[str, str, str]] = {
    "bank": ("银行", "bank", "banks"),
    "consumer_finance": ("消费金融公司", "consumer-finance company", "consumer-finance companies"),
    "microloan": ("小额贷款公司", "microloan company", "microloan companies"),
    "online_platform": ("网络借贷平台", "online lending platform", "online lending platforms"),
    "p2p": ("P2P平台", "P2P lender", "P2P lenders"),
    "other": ("其他机构", "other lender", "other lenders"),
}


def kinds_phrase(kinds: Any, lang: str) -> str:
    """The kinds of an account's lenders, counted, for the customer text ("" when unknown).

    Examples
    --------
    >>> k = [{"kind": "microloan", "n_lenders": 4}, {"kind": "bank", "n_lenders": 1}]
    >>> kinds_phrase(k, "zh")
    '（其中4家小额贷款公司、1家银行）'
    >>> kinds_phrase(k, "en")
    ' (4 microloan companies, 1 bank)'
    >>> kinds_phrase([{"kind": "unknown", "n_lenders": 5}], "en")
    ''
    """
    parts = []
    for k in kinds if isinstance(kinds, list) else []:
        name = KIND_NAMES.get(str(k.get("kind")))
        n = _count(k.get("n_lenders"))
        if name is None or not n:
            continue  # a lender of unknown kind is not named
        parts.append(f"{n}家{name[0]}" if lang == "zh" else f"{n} {name[1] if n == 1 else name[2]}")
    if not parts:
        return ""
    return f"（其中{'、'.join(parts)}）" if lang == "zh" else f" ({', '.join(parts)})"


def _money_figures(code: str, ev: dict[str, Any], lang: str) -> dict[str, Any]:
    """Amounts, dates and sizes of the account's own money and links, for the customer
    text of the group and money codes (never an id)."""
    out: dict[str, Any] = {}
    for k in ("sent", "amount", "amount_sent", "loan_amount", "scattered"):
        if _num(ev.get(k)) is not None:
            out[k] = _money(ev[k])
    if "kinds" in ev or code == "MULTI_LENDER":
        out["kinds"] = kinds_phrase(ev.get("kinds"), lang)
    if code == "GROUP_MULTI_LENDER" and _count(ev.get("n_members")):
        out["others"] = max(int(ev["n_members"]) - 1, 1)
    if code == "TRANSFER_CYCLE":
        amounts = [a for a in ev.get("amounts") or [] if _num(a) is not None]
        if amounts:
            out["amount"] = _money(max(amounts))
        if _count(ev.get("length")):
            out["length"] = int(ev["length"])
        w = ev.get("window") if isinstance(ev.get("window"), dict) else {}
        for k in ("start", "end"):
            if isinstance(w.get(k), str):
                out[k] = w[k][:10]
    if code == "LOAN_RECYCLING":
        repeats = [_count((ev.get(part) or {}).get("repeats")) for part in ("direct", "linked")]
        if any(r for r in repeats):
            out["repeats"] = max(r or 0 for r in repeats)
    for k, key in (
        ("n_feeders", "n_feeders"),
        ("n_recipients", "n_recipients"),
        ("n_defaulters", "n_defaulters"),
    ):
        if _count(ev.get(key)) is not None:
            out[k] = int(ev[key])
    if code == "SCATTER_GATHER" and isinstance(ev.get("intermediaries"), list):
        out["n_intermediaries"] = len(ev["intermediaries"])
    return out


def period(ev: dict[str, Any], lang: str) -> str:
    """The length of the window that fired, in hours below two days, else in days.

    >>> period({"window_hours": 12}, "en"), period({"window_hours": 168}, "zh")
    ('12 hours', '7天')
    >>> period({"threshold": {"window_hours": 48}}, "en"), period({}, "en")
    ('2 days', 'a short time')
    """
    hours = _count(ev.get("window_hours")) or _count(
        (ev.get("threshold") or {}).get("window_hours")
    )
    if not hours:
        return "短时间" if lang == "zh" else "a short time"
    if hours < 48 and hours % 24:
        return f"{hours}小时" if lang == "zh" else f"{hours} hour{'s' * (hours != 1)}"
    d = max(1, round(hours / 24))
    return f"{d}天" if lang == "zh" else f"{d} day{'s' * (d != 1)}"


def _all_figures(code: str, ev: dict[str, Any], lang: str) -> dict[str, Any]:
    out: dict[str, Any] = figures(code, ev)
    if code == "IP_HOPPING":
        out["period"] = period(ev, lang)
    out.update(_money_figures(code, ev, lang))
    if code in ("UNSTABLE_INCOME", "LARGE_OUTFLOW", "HIGH_DEBT_RATIO"):
        out.update(cash_figures(code, ev, lang))
    return out


def _parsed(ev: dict[str, Any] | str | None) -> dict[str, Any]:
    return json.loads(ev) if isinstance(ev, str) else (ev or {})


def _figures_of(code: str, ev: dict[str, Any], lang: str) -> _Figures:
    return _Figures(_all_figures(code, ev, lang), lang)


def _without_repeated_kinds(
    codes: list[str], evidence: dict[str, dict[str, Any]], figs: dict[str, _Figures], lang: str
) -> list[str]:
    """Each code's reason text; a lender-kind phrase already said by an earlier one is left
    out (the same six lenders counted twice by kind tell the customer nothing new)."""
    said: set[str] = set()
    out = []
    for c in codes:
        ev = evidence[c]
        text = _reason(c, ev, figs[c], lang)
        phrase = kinds_phrase(ev.get("kinds"), lang)
        if phrase and phrase in said:
            text = text.replace(phrase, "", 1)
        said.add(phrase)
        out.append(text)
    return out


def _reason(code: str, ev: dict[str, Any], figs: _Figures, lang: str) -> str:
    template = KIND_REASONS.get((code, str(ev.get("kind"))), REASONS[code])[lang]
    return template.format_map(figs)


def reason_text(code: str, ev: dict[str, Any] | str | None, lang: str = "zh") -> str:
    """The customer-safe phrase for one reason code, filled with the account's own figures."""
    ev = _parsed(ev)
    return _reason(code, ev, _figures_of(code, ev, lang), lang)


def _remedy(code: str, figs: _Figures, lang: str) -> str:
    return REMEDIES[code][lang].format_map(figs)


def remedy_text(code: str, ev: dict[str, Any] | str | None, lang: str = "zh") -> str:
    """What would restore the limit, for one reason code (own figures only)."""
    return _remedy(code, _figures_of(code, _parsed(ev), lang), lang)


def _money(v: float | None) -> str:
    return f"{(v or 0):,.0f}"


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
    *,
    situation: str = "",
    reference: float | None = None,
    cut_codes: list[str] | tuple[str, ...] = (),
    clean: int | None = None,
    opens: str = "",
    cap: dict[str, Any] | None = None,
) -> str:
    """The customer explanation of one decision.

    Built only from the reason codes, the account's own figures (counts, days) and its own
    limits: never an id of another account, a device or an address.

    Parameters
    ----------
    action
        The decision's action.
    codes
        Its reason codes, most important first.
    evidence
        Each reason code's evidence (dict or JSON string).
    lang
        ``"zh"`` or ``"en"``.
    limit_before, limit_after, increase_allowed, review
        From the decision (``review`` an ISO date).
    clean_days
        The policy's ``restore.clean_days``.
    situation
        From the decision trace: ``zero_limit``, ``hold``, ``relapse``, ``restore``,
        ``restored``, ``settled`` or ``""``.
    reference
        The limit before the cut (hold and restore).
    cut_codes
        The reasons of the last cut (hold and restore).
    clean
        Days since cut-level behaviour was last seen (hold and restore); for ``settled``,
        days since the last finding ended.
    opens
        ISO date from which, without new behaviour, no flag keeps increases closed
        (default ``review``).
    cap
        The ``[caps]`` cap that brought the limit down: ``kind`` (``income`` or
        ``absolute``), ``cap``, ``share`` and ``yearly`` (the yearly income), or ``None``.

    Examples
    --------
    >>> print(customer_text("reduce", ["OVERDUE_HISTORY"], {"OVERDUE_HISTORY":
    ...     {"max_days_overdue": 40}}, "en", 10000, 5000, False, 60, "2026-05-01"))
    Your limit has been reduced from 10,000 to 5,000. Reason: a recent loan was 40 days overdue. If you repay overdue loans and pay on time and stay clear of this for 60 days, the limit will come back step by step; it will be reviewed again by 2026-05-01.
    """
    text = _customer_text(
        action, codes, evidence, lang, limit_before, limit_after, increase_allowed,
        clean_days, review, situation, reference, cut_codes, clean, opens,
    )  # fmt: skip
    if cap:
        tpl = CAP_TEXT["income" if cap.get("kind") == "income" else "absolute"][lang]
        sentence = tpl.format(
            cap=_money(cap.get("cap")),
            yearly=_money(cap.get("yearly")),
            share=f"{round(100 * (cap.get('share') or 0), 1):g}",
        )
        text = (" " if lang == "en" else "").join([text, sentence])
    return text


def _customer_text(
    action: str,
    codes: list[str],
    evidence: dict[str, Any],
    lang: str,
    limit_before: float,
    limit_after: float,
    increase_allowed: bool,
    clean_days: int,
    review: str,
    situation: str,
    reference: float | None,
    cut_codes: list[str] | tuple[str, ...],
    clean: int | None,
    opens: str,
) -> str:
    g = GLUE[lang]
    sp = " " if lang == "en" else ""
    fill = {
        "before": _money(limit_before),
        "after": _money(limit_after),
        "reference": _money(reference if reference is not None else limit_before),
    }
    cut_codes = list(cut_codes or [])
    shown = codes or (cut_codes if situation in ("hold", "restore", "restored") else [])
    # each code's evidence parsed and its figures computed once (reason and remedy share them)
    evs = {c: _parsed(evidence.get(c)) for c in dict.fromkeys([*codes, *shown])}
    figs = {c: _figures_of(c, ev, lang) for c, ev in evs.items()}
    reasons = g["sep"].join(_without_repeated_kinds(codes, evs, figs, lang)) + g["end"]
    remedies = g["and"].join(dict.fromkeys(_remedy(c, figs[c], lang) for c in shown))
    behaviours = g["and"].join(dict.fromkeys(BEHAVIOURS[c][lang] for c in cut_codes or shown))
    more = {
        "remedies": remedies,
        "clean_days": clean_days,
        "review": review,
        "opens": opens or review,
        "clean": clean if clean is not None else 0,
        "behaviours": behaviours or g["nothing"],
        "reference": fill["reference"],
    }
    because = g["because"] + reasons if codes else ""
    if situation == "zero_limit":
        head = ACTION_TEXT["zero_limit"][lang]
        if not codes:
            return sp.join([head, g["zero_clean"]])
        return sp.join([head, because, g["remedy_zero"].format(**more)])
    if situation in ("restore", "restored"):
        head = ACTION_TEXT[situation][lang].format(**fill)
        return sp.join([head, g[f"{situation}_more"].format(**more)])
    if situation == "hold":
        head = ACTION_TEXT["hold"][lang].format(**fill)
        if not codes and cut_codes:
            because = g["earlier"] + g["and"].join(BEHAVIOURS[c][lang] for c in cut_codes)
            because += g["end"]
        parts = [head, because] if because else [head]
        if remedies:
            parts.append(g["remedy_hold"].format(**more))
        else:
            parts.append(g["hold_more"].format(**more))
        return sp.join(parts)
    if situation == "settled":
        head = ACTION_TEXT["keep_increase"][lang].format(**fill)
        return sp.join([head, g["settled_more"].format(**more)])
    if action == "keep":
        key = "keep_increase" if increase_allowed else "keep"
        head = ACTION_TEXT[key][lang].format(**fill)
        if not codes:
            return sp.join([head, g["no_reason"]])
        return sp.join([head, because, g["remedy_freeze"].format(**more)])
    head = ACTION_TEXT["relapse" if situation == "relapse" else action][lang].format(**fill)
    if not codes:
        return head
    tail = g["remedy_freeze"] if action == "freeze_increase" else g["remedy"]
    return sp.join([head, because, tail.format(**more)])


# ---------------------------------------------------------------------------------------
# explaining one account of a run


TRACE_FILE = "decision_trace.parquet"


def explain_account(
    run: str | Path, account_id: str, audience: str = "customer", lang: str = "zh"
) -> dict[str, Any]:
    """The explanation of one account's decision in a run directory.

    Parameters
    ----------
    run
        A run directory written by ``graphrisk scan``.
    account_id
        The account to explain.
    audience
        ``"customer"``: the decision and the customer-safe text. ``"analyst"``: also every
        flag with its full evidence, its weighted severity, and the policy rule that fired
        (from the run's decision trace).
    lang
        ``"zh"`` (default) or ``"en"``.

    Returns
    -------
    dict
        JSON-ready: ``action``, limits, ``reason_codes``, ``text`` and for analysts
        ``flags`` and ``policy_rule``.
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
    trace: dict[str, Any] = {}
    if (run / TRACE_FILE).is_file():
        t = pl.read_parquet(run / TRACE_FILE).filter(pl.col("account_id") == account_id)
        trace = t.row(0, named=True) if t.height else {}
    weighed = weigh(flags, policy, d["as_of"]).sort(
        "effective_severity", "score", descending=True, maintain_order=True
    )
    return account_doc(d, weighed.to_dicts(), policy, trace, audience, lang)


def account_doc(
    d: dict[str, Any],
    weighed: list[dict[str, Any]],
    policy: Any,
    trace: dict[str, Any],
    audience: str = "customer",
    lang: str = "zh",
) -> dict[str, Any]:
    """:func:`explain_account`'s result from one account's rows already in memory.

    Parameters
    ----------
    d
        The account's row of ``decisions.parquet``.
    weighed
        Its flags weighed by the policy (:func:`graphrisk.decisions.weigh`), most severe
        first (effective severity, then score).
    policy
        The :class:`~graphrisk.policy.Policy` of the run.
    trace
        Its row of the decision trace (empty when there is none).
    audience, lang
        As for :func:`explain_account`.

    Returns
    -------
    dict
        As :func:`explain_account`.
    """
    account_id = d["account_id"]
    codes = d["reason_codes"] or []
    best: dict[str, Any] = {}
    for r in weighed:
        if r["code"] not in best:
            best[r["code"]] = json.loads(r["evidence"])
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
        situation=trace.get("situation") or "",
        reference=trace.get("pre_cut_limit"),
        cut_codes=trace.get("cut_reasons") or [],
        clean=trace.get("clean_days"),
        opens=str(trace.get("increase_opens") or ""),
        cap=_trace_cap(trace, policy.data["caps"]["income_share"]),
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
            for r in weighed
        ]
        top = max((f["effective_severity"] for f in doc["flags"]), default=0)
        rec = policy.data["recency"]
        rule = trace.get("rule") or (
            f"actions.severity_{top} = {policy.action_for(top)!r}" if top else "no flag: keep"
        )
        doc["policy_rule"] = {
            "severity": trace.get("severity", top),
            "rule": rule,
            "situation": trace.get("situation") or "",
            "recency": f"full weight within {rec['recent_days']} days, -1 level to "
            f"{rec['stale_days']} days, watch only after"
            + (" (keep once settled)" if rec.get("settled_keep") else ""),
            "escalate_at_codes": policy.data["repetition"]["escalate_at_codes"],
            "final_action": d["action"],
        }
        if trace:
            doc["ledger_state"] = {
                k: (str(trace[k]) if trace[k] is not None and k.endswith("_at") else trace[k])
                for k in (
                    "pre_cut_limit",
                    "reference_limit",
                    "clean_days",
                    "last_cut_at",
                    "cut_severity",
                    "cut_reasons",
                    "last_step_at",
                    "last_bad_at",
                )
            }
    return doc


def _trace_cap(trace: dict[str, Any], share: float) -> dict[str, Any] | None:
    """The cap of a decision trace row, as :func:`customer_text` takes it."""
    if trace.get("cap") is None:
        return None
    kind = trace.get("cap_kind")
    income = trace.get("cap_income")
    yearly = 12 * income if kind == "income" and income is not None else None
    return {"kind": kind, "cap": trace["cap"], "share": share, "yearly": yearly}


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
        if doc.get("ledger_state"):
            lines.append(
                "ledger: "
                + ", ".join(f"{k} {v}" for k, v in doc["ledger_state"].items() if v is not None)
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
