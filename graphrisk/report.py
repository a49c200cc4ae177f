"""report.html: a self-contained page for an analyst.

:func:`render_report` turns a :class:`~graphrisk.scan.ScanResult` into one HTML file that
loads nothing from anywhere: inline CSS, the drawings' data as inline JSON, the vendored
Cytoscape.js (``graphrisk/templates/cytoscape.min.js``, pinned by its sha256) and a short
page script, all inlined, so it opens offline:

* the run: id, ``as_of``, window, source, engine, versions, the policy used;
* the summary: key figures, rows per table (read, in window, quarantined), actions and
  flags per reason code as tables with inline bars, groups per kind;
* groups drawn as graphs with Cytoscape.js (layout, zoom, pan, hover details): the largest
  group of every kind, then the largest others. Detectors that find the same accounts (a
  device ring that is also a lending group) give it one drawing with all its kinds. Accounts
  are coloured by their action, shared devices are squares, lenders diamonds, transfers
  arrows; a transfer cycle is drawn as a ring with each hop's amount and time on its edge
  (and listed in a table under it);
* every account with an action other than ``keep`` (worst first) with limit before ->
  after, reason codes, groups, the customer text and the analyst text (the evidence, as
  ``graphrisk explain --audience analyst``), filtered by reason code, action and id (also
  from the address: ``report.html#accounts:code=MULTI_LENDER&action=reduce&id=A01``);
* stage timings.

Every text is escaped. The page depends only on the result (no clock), so the same run gives
the same bytes; the layouts in the browser are deterministic (no random start). Work on
whole tables is done in polars; Python loops touch only the drawn groups and the listed
accounts.
"""

from __future__ import annotations

import html
import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from graphrisk import __version__
from graphrisk.codes import CODES

if TYPE_CHECKING:
    from graphrisk.graph import Graph
    from graphrisk.scan import ScanResult

#: How many groups are drawn (at least one per kind), the most accounts drawn per group.
MAX_GROUPS = 8
MAX_GROUP_MEMBERS = 60
#: Most accounts the page lists with their texts (the queue's top; decisions.parquet has all).
#: A page of a million-account book listed 125,811 accounts: 45 MB of HTML at 100,000
#: accounts, the scan's peak memory at 1M.
MAX_ACCOUNTS = 2_000
#: Above this many nodes, lenders used by a single member are left out of a drawing.
MAX_DRAWN_NODES = 70

ACTIONS = ["suspend", "reduce", "freeze_increase", "restore", "keep"]
ACTION_LABELS = {
    "suspend": "suspend",
    "reduce": "reduce",
    "freeze_increase": "freeze increase",
    "restore": "restore",
    "keep": "keep",
}
ACTION_COLOURS = {
    "suspend": "#c0392b",
    "reduce": "#e67e22",
    "freeze_increase": "#f2c94c",
    "restore": "#2d7ff9",
    "keep": "#3aa76d",
}
UNKNOWN_COLOUR = "#b8c2cc"
DEVICE_COLOUR = "#4a5a6a"
LENDER_COLOUR = "#8e6cc0"
TRANSFER_COLOUR = "#1f3a5f"
CYCLE_COLOUR = "#d35400"
#: Roles drawn with a heavy outline: the account a scheme turns around.
KEY_ROLES = frozenset({"origin", "collector", "hub", "gather", "scatter", "organiser", "source"})

CSS = """
:root { --ink:#1d2733; --muted:#5f6b7a; --line:#dde3ea; --bg:#f5f7fa; --card:#fff;
  --accent:#1f3a5f; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:14px/1.45 "Segoe UI", "Helvetica Neue", Arial, "WenQuanYi Micro Hei",
  "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; }
header { background:var(--accent); color:#fff; padding:18px 32px 14px; }
header h1 { margin:0 0 4px; font-size:22px; font-weight:600; letter-spacing:.2px; }
header .meta { color:#c9d6e6; font-size:13px; }
header .meta b { color:#fff; font-weight:600; }
nav { background:#172d4a; padding:6px 32px; font-size:13px; }
nav a { color:#c9d6e6; text-decoration:none; margin-right:18px; }
nav a:hover { color:#fff; }
main { padding:18px 32px 40px; max-width:1500px; }
section { background:var(--card); border:1px solid var(--line); border-radius:6px;
  padding:14px 18px 16px; margin:0 0 18px; }
h2 { font-size:17px; margin:0 0 10px; color:var(--accent); }
h3 { font-size:14px; margin:0 0 6px; }
.note { color:var(--muted); font-size:12px; margin:4px 0 0; }
.kpis { display:grid; grid-template-columns:repeat(auto-fit, minmax(150px, 1fr)); gap:10px;
  margin-bottom:18px; }
.kpi { background:var(--card); border:1px solid var(--line); border-radius:6px;
  padding:10px 14px; border-top:4px solid var(--accent); }
.kpi .v { font-size:24px; font-weight:600; }
.kpi .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.4px; }
.grid2 { display:grid; grid-template-columns:repeat(auto-fit, minmax(460px, 1fr)); gap:18px; }
.grid2 > section, .grid3 > section { margin:0; }
.grid3 { display:grid; grid-template-columns:repeat(auto-fit, minmax(380px, 1fr)); gap:18px;
  margin-bottom:18px; }
td.nw { white-space:nowrap; }
a.gid { color:var(--accent); }
table { border-collapse:collapse; width:100%; font-size:13px; }
th { text-align:left; color:var(--muted); font-weight:600; font-size:12px;
  border-bottom:2px solid var(--line); padding:5px 8px; white-space:nowrap; }
td { border-bottom:1px solid var(--line); padding:5px 8px; vertical-align:top; }
td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
tr:last-child td { border-bottom:none; }
.bar { background:#eef1f5; border-radius:3px; height:12px; min-width:60px; }
.bar span { display:block; height:12px; border-radius:3px; background:var(--accent); }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px;
  font-weight:600; color:#fff; white-space:nowrap; }
.badge.freeze_increase { color:#4a3b00; }
.code { display:inline-block; font:11px/1.6 Menlo, Consolas, monospace; background:#eef1f5;
  border:1px solid var(--line); border-radius:3px; padding:0 5px; margin:1px 2px 1px 0; }
.code.sev3 { background:#fbe3e0; border-color:#f0b4ad; }
.code.sev2 { background:#fdeedd; border-color:#f5c998; }
.code.sev1 { background:#fdf6d8; border-color:#eedc8c; }
.mono { font-family:Menlo, Consolas, monospace; font-size:12px; }
.expl { max-width:520px; color:#2f3b48; }
.groups { display:grid; grid-template-columns:repeat(auto-fit, minmax(560px, 1fr)); gap:16px; }
.group { border:1px solid var(--line); border-radius:6px; padding:10px 12px; background:#fbfcfd; }
.group .cy { width:100%; height:440px; display:block; background:#fff;
  border:1px solid #edf0f4; border-radius:4px; }
.group .hover { min-height:18px; margin:4px 0 0; }
.group .hops table { font-size:12px; }
.filters { display:flex; flex-wrap:wrap; gap:8px 18px; align-items:center; margin:0 0 10px;
  font-size:13px; }
.filters select, .filters input { font:inherit; padding:2px 6px; border:1px solid var(--line);
  border-radius:4px; }
details.analyst summary { cursor:pointer; color:var(--accent); font-size:12px; }
details.analyst pre { white-space:pre-wrap; word-break:break-word; max-width:720px;
  max-height:320px; margin:4px 0 0; }
tr[hidden] { display:none; }
.group .facts { color:var(--muted); font-size:12px; margin:0 0 6px; }
.legend { display:flex; flex-wrap:wrap; gap:6px 16px; font-size:12px; color:var(--muted);
  margin:0 0 12px; align-items:center; }
.legend svg { vertical-align:middle; }
details pre { background:#f2f4f7; padding:10px; border-radius:4px; overflow:auto;
  font-size:12px; max-height:420px; }
footer { color:var(--muted); font-size:12px; padding:0 32px 24px; }
"""


def _e(value: object) -> str:
    """Escape any value for HTML text and attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: float | int | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _bar(value: float, top: float, colour: str | None = None) -> str:
    width = 0.0 if top <= 0 else max(0.0, min(100.0, 100.0 * value / top))
    style = f"width:{width:.1f}%" + (f";background:{colour}" if colour else "")
    return f'<div class="bar"><span style="{style}"></span></div>'


def _badge(action: str | None) -> str:
    action = action or "?"
    colour = ACTION_COLOURS.get(action, UNKNOWN_COLOUR)
    label = ACTION_LABELS.get(action, action)
    return f'<span class="badge {_e(action)}" style="background:{colour}">{_e(label)}</span>'


def _table(head: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """A table from already escaped cells; columns in ``numeric`` are right aligned."""
    numeric = numeric or set()

    def cls(i: int) -> str:
        return ' class="n"' if i in numeric else ""

    th = "".join(f"<th{cls(i)}>{h}</th>" for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(r)) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


# -- summary sections -----------------------------------------------------------------------


def _kpis(result: ScanResult) -> str:
    s = result.summary
    d = result.decisions
    actions = s.get("actions", {})
    withdrawn = (
        float(
            d.select(
                (pl.col("limit_before") - pl.col("limit_after")).clip(lower_bound=0).sum()
            ).item()
            or 0.0
        )
        if d.height
        else 0.0
    )
    n_groups = int(result.groups["group_id"].n_unique()) if result.groups.height else 0
    cards = [
        ("accounts", _num(d.height), "var(--accent)"),
        ("flagged accounts", _num(s.get("flagged_accounts", 0)), "var(--accent)"),
        ("suspend", _num(actions.get("suspend", 0)), ACTION_COLOURS["suspend"]),
        ("reduce", _num(actions.get("reduce", 0)), ACTION_COLOURS["reduce"]),
        (
            "freeze increase",
            _num(actions.get("freeze_increase", 0)),
            ACTION_COLOURS["freeze_increase"],
        ),
        ("restore", _num(actions.get("restore", 0)), ACTION_COLOURS["restore"]),
        ("groups", _num(n_groups), "var(--accent)"),
        ("limit withdrawn", _num(withdrawn), ACTION_COLOURS["reduce"]),
    ]
    return (
        '<div class="kpis" id="summary">'
        + "".join(
            f'<div class="kpi" style="border-top-color:{c}"><div class="v">{v}</div>'
            f'<div class="k">{_e(k)}</div></div>'
            for k, v, c in cards
        )
        + "</div>"
    )


def _actions_section(result: ScanResult) -> str:
    counts: dict[str, int] = result.summary.get("actions", {})
    total = sum(counts.values()) or 1
    top = max(counts.values(), default=0)
    order = [a for a in ACTIONS if a in counts] + sorted(a for a in counts if a not in ACTIONS)
    rows = [
        [
            _badge(a),
            _num(counts[a]),
            f"{100.0 * counts[a] / total:.1f}%",
            _bar(counts[a], top, ACTION_COLOURS.get(a, UNKNOWN_COLOUR)),
        ]
        for a in order
    ]
    return (
        '<section id="actions"><h2>Actions</h2>'
        + _table(["action", "accounts", "share", ""], rows, {1, 2})
        + '<p class="note">One decision per account. Severity 3 suspends, 2 reduces, 1 alone only '
        "freezes increases; linkage codes alone never cut a limit.</p></section>"
    )


def _flags_section(result: ScanResult) -> str:
    per_code: dict[str, dict[str, int]] = result.summary.get("flags", {})
    top = max((v.get("accounts", 0) for v in per_code.values()), default=0)
    order = [c for c in CODES if c in per_code] + sorted(c for c in per_code if c not in CODES)
    rows = []
    for code in order:
        v = per_code[code]
        info = CODES.get(code)
        kind = info.kind if info else "detector"
        colour = "#8e6cc0" if kind == "linkage" else "var(--accent)"
        rows.append(
            [
                f'<span class="code">{_e(code)}</span>',
                f'<span class="note">{_e(info.meaning if info else "")}</span>',
                _e(kind),
                _num(v.get("flags", 0)),
                _num(v.get("accounts", 0)),
                _bar(v.get("accounts", 0), top, colour),
            ]
        )
    if not rows:
        return '<section id="flags"><h2>Flags per reason code</h2><p>No findings.</p></section>'
    return (
        '<section id="flags"><h2>Flags per reason code</h2>'
        + _table(["code", "meaning", "kind", "flags", "accounts", ""], rows, {3, 4})
        + "</section>"
    )


def _rows_section(result: ScanResult) -> str:
    s = result.summary
    read: dict[str, int] = s.get("rows", {}).get("read", {})
    window: dict[str, int] = s.get("rows", {}).get("in_window", {})
    quarantine: dict[str, int] = s.get("quarantine", {})
    names = list(dict.fromkeys([*read, *window, *quarantine]))
    rows = [
        [
            _e(n),
            _num(read.get(n)),
            _num(window.get(n)),
            _num(quarantine.get(n, 0)),
        ]
        for n in names
    ]
    q_total = sum(quarantine.values())
    note = (
        f"{_num(q_total)} rows set aside in <span class='mono'>quarantine/</span>."
        if q_total
        else "No rows quarantined."
    )
    return (
        '<section id="input"><h2>Input rows</h2>'
        + _table(["table", "read", "in window", "quarantined"], rows, {1, 2, 3})
        + f'<p class="note">{note} Window {_e(s.get("window_start", ""))} → '
        f"{_e(s.get('as_of', ''))} ({_e(s.get('lookback_days', ''))} days).</p></section>"
    )


def _group_kinds_section(result: ScanResult) -> str:
    g = result.groups
    if not g.height:
        return '<section id="group-kinds"><h2>Groups per kind</h2><p>No groups.</p></section>'
    per_kind = (
        g.group_by("kind")
        .agg(
            pl.col("group_id").n_unique().alias("groups"),
            pl.col("account_id").n_unique().alias("accounts"),
        )
        .join(
            g.group_by("kind", "group_id").len().group_by("kind").agg(pl.col("len").max()),
            on="kind",
        )
        .sort("kind")
    )
    top = int(per_kind["groups"].max() or 0)
    rows = [
        [
            f'<span style="white-space:nowrap">{_e(k.replace("_", " "))}</span>',
            _num(n),
            _num(a),
            _num(m),
            _bar(n, top),
        ]
        for k, n, a, m in per_kind.select("kind", "groups", "accounts", "len").iter_rows()
    ]
    return (
        '<section id="group-kinds"><h2>Groups per kind</h2>'
        + _table(["kind", "groups", "accounts", "largest", ""], rows, {1, 2, 3})
        + "</section>"
    )


def _timings_section(result: ScanResult) -> str:
    stages: list[dict[str, Any]] = list(result.stages.rows) or list(
        result.summary.get("timings", [])
    )
    top = max((float(r.get("seconds", 0.0)) for r in stages), default=0.0)
    total = sum(float(r.get("seconds", 0.0)) for r in stages)
    rows = [
        [
            f'<span class="mono">{_e(r.get("stage"))}</span>',
            _num(float(r.get("seconds", 0.0)), 3),
            _num(r.get("peak_rss_mb"), 0),
            _bar(float(r.get("seconds", 0.0)), top),
        ]
        for r in stages
    ]
    return (
        '<section id="timings"><h2>Stage timings</h2>'
        + _table(["stage", "seconds", "peak RSS MB", ""], rows, {1, 2})
        + f'<p class="note">{_num(total, 2)} s before writing (the write stage, which renders '
        "this page, is in summary.json).</p></section>"
    )


def _run_section(result: ScanResult) -> str:
    s = result.summary
    versions = s.get("versions", {}) or {"graphrisk": __version__}
    info = [
        ("run id", s.get("run_id", result.run_id)),
        ("as of", s.get("as_of", "")),
        ("window start", s.get("window_start", "")),
        ("lookback days", s.get("lookback_days", "")),
        ("source", s.get("source", "")),
        ("engine", s.get("engine", "")),
        *((f"{k} version", v) for k, v in versions.items()),
    ]
    rows = [[_e(k), f'<span class="mono">{_e(v)}</span>'] for k, v in info]
    policy = json.dumps(
        s.get("policy", {}), indent=2, ensure_ascii=False, sort_keys=True, default=str
    )
    return (
        '<section id="run"><h2>Run</h2>'
        + _table(["", ""], rows)
        + f"<details><summary>Policy used</summary><pre>{_e(policy)}</pre></details></section>"
    )


# -- accounts -------------------------------------------------------------------------------


def _listed_accounts(result: ScanResult) -> pl.DataFrame:
    """Every account with an action other than ``keep``: worst action, then severity, score."""
    d = result.decisions
    f = result.flags
    rank = {a: i for i, a in enumerate(ACTIONS)}
    acted = d.filter(pl.col("action") != "keep")
    per_acc = f.group_by("account_id").agg(
        pl.col("severity").max().alias("severity"), pl.col("score").max().alias("score")
    )
    top = (
        acted.join(per_acc, on="account_id", how="left")
        .with_columns(
            pl.col("action")
            .replace_strict(rank, default=len(rank), return_dtype=pl.Int32)
            .alias("_rank")
        )
        .sort(
            ["_rank", "severity", "score", "account_id"],
            descending=[False, True, True, False],
            nulls_last=True,
        )
    )
    ids = top["account_id"].implode()
    sev = (
        f.filter(pl.col("account_id").is_in(ids))
        .group_by("account_id", "code")
        .agg(pl.col("severity").max())
    )
    groups = (
        result.groups.filter(pl.col("account_id").is_in(ids))
        .group_by("account_id")
        .agg(pl.col("group_id").unique().sort())
    )
    sev_map = {(a, c): int(s) for a, c, s in sev.iter_rows()}
    top = top.join(groups, on="account_id", how="left", maintain_order="left")
    return top.with_columns(
        pl.Series(
            "code_severity",
            [
                [sev_map.get((a, c), 0) for c in codes]
                for a, codes in zip(top["account_id"], top["reason_codes"], strict=True)
            ],
            dtype=pl.List(pl.Int64),
        )
    )


def _analyst_texts(result: ScanResult, listed: pl.DataFrame) -> dict[str, str]:
    """The analyst text of ``graphrisk explain --audience analyst`` for every listed account.

    Built from the result in memory (one :func:`~graphrisk.decisions.weigh` over the listed
    accounts' flags), the same document as the CLI's, without the customer text (shown in
    its own column).
    """
    from graphrisk.decisions import weigh
    from graphrisk.explain import account_doc, render_explanation

    if not listed.height:
        return {}
    ids = listed["account_id"].implode()
    as_of = listed["as_of"][0]
    weighed = (
        weigh(result.flags.filter(pl.col("account_id").is_in(ids)), result.policy, as_of)
        .sort(
            ["account_id", "effective_severity", "score"],
            descending=[False, True, True],
            maintain_order=True,
        )
        .to_dicts()
    )
    per_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in weighed:
        per_account[r["account_id"]].append(r)
    traces: dict[str, dict[str, Any]] = {}
    if result.trace is not None:
        t = result.trace.filter(pl.col("account_id").is_in(ids))
        traces = {r["account_id"]: r for r in t.iter_rows(named=True)}
    columns = [
        "account_id",
        "action",
        "limit_before",
        "limit_after",
        "increase_allowed",
        "reason_codes",
        "review_after",
        "as_of",
        "run_id",
    ]
    out: dict[str, str] = {}
    for d in listed.select(columns).iter_rows(named=True):
        a = d["account_id"]
        doc = account_doc(d, per_account.get(a, []), result.policy, traces.get(a, {}), "analyst")
        doc["text"] = ""
        out[a] = "\n".join(line for line in render_explanation(doc).split("\n") if line)
    return out


NUMERIC = ' class="n"'


def _accounts_section(
    result: ScanResult, anchors: dict[str, str], max_accounts: int = MAX_ACCOUNTS
) -> str:
    """The accounts with an action (the first ``max_accounts`` of the queue), with their
    analyst texts, and filters by code, action, id.

    ``anchors`` maps the group ids that are drawn to their drawing's anchor.
    """
    everyone = _listed_accounts(result)
    listed = everyone.head(max_accounts)
    more = everyone.height - listed.height
    analyst = _analyst_texts(result, listed)
    rows = []
    codes_seen: set[str] = set()
    actions_seen: set[str] = set()
    for r in listed.iter_rows(named=True):
        codes_list = list(r["reason_codes"] or [])
        codes_seen.update(codes_list)
        actions_seen.add(r["action"])
        codes = "".join(
            f'<span class="code sev{s}" title="{_e(CODES[c].meaning if c in CODES else c)}">'
            f"{_e(c)}</span>"
            for c, s in zip(codes_list, r["code_severity"] or [], strict=False)
        )
        gids = r["group_id"] or []
        group_cell = "<br>".join(
            f'<a class="mono gid" href="#{_e(anchors[g])}">{_e(g)}</a>'
            if g in anchors
            else f'<span class="mono">{_e(g)}</span>'
            for g in gids
        )
        cells = [
            f'<span class="mono">{_e(r["account_id"])}</span>',
            _badge(r["action"]),
            f"{_num(r['limit_before'])} → <b>{_num(r['limit_after'])}</b>",
            _e(r["severity"] if r["severity"] is not None else "–"),
            _num(r["score"], 2),
            codes,
            group_cell,
            f'<span style="white-space:nowrap">{_e(r["review_after"])}</span>',
            f'<div class="expl">{_e(r["explanation"])}</div>'
            f'<details class="analyst"><summary>analyst text</summary>'
            f"<pre>{_e(analyst.get(r['account_id'], ''))}</pre></details>",
        ]
        tds = "".join(
            f"<td{NUMERIC if i in (2, 3, 4) else ''}>{c}</td>" for i, c in enumerate(cells)
        )
        rows.append(
            f'<tr data-id="{_e(r["account_id"])}" data-action="{_e(r["action"])}" '
            f'data-codes="{_e(" ".join(codes_list))}">{tds}</tr>'
        )
    if not rows:
        return (
            '<section id="accounts"><h2>Accounts with an action</h2>'
            "<p>Every account is kept: no action to list.</p></section>"
        )
    head = [
        "account",
        "action",
        "limit before → after",
        "severity",
        "score",
        "reason codes (most important first)",
        "groups",
        "review after",
        "customer explanation · analyst text",
    ]
    ths = "".join(f"<th{NUMERIC if i in (2, 3, 4) else ''}>{h}</th>" for i, h in enumerate(head))
    order = [a for a in ACTIONS if a in actions_seen] + sorted(actions_seen - set(ACTIONS))
    code_order = [c for c in CODES if c in codes_seen] + sorted(codes_seen - set(CODES))
    action_opts = "".join(f'<option value="{_e(a)}">{_e(a)}</option>' for a in order)
    code_opts = "".join(f'<option value="{_e(c)}">{_e(c)}</option>' for c in code_order)
    filters = (
        '<form class="filters" id="account-filters" onsubmit="return false">'
        '<label>reason code <select id="filter-code" name="code"><option value="">any</option>'
        f"{code_opts}</select></label>"
        '<label>action <select id="filter-action" name="action"><option value="">any</option>'
        f"{action_opts}</select></label>"
        '<label>account id <input id="filter-id" name="id" type="search" '
        'placeholder="contains…" autocomplete="off"></label>'
        f'<span class="note"><b id="shown-count">{len(rows):,}</b> of {len(rows):,} shown</span>'
        "</form>"
    )
    return (
        f'<section id="accounts"><h2>Accounts with an action ({everyone.height:,})</h2>{filters}'
        f'<table id="accounts-table"><thead><tr>{ths}</tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
        + (
            f'<p class="note" id="accounts-cut">The first {listed.height:,} of '
            f"{everyone.height:,} accounts with an action are listed ({more:,} more in "
            "<span class='mono'>decisions.parquet</span>).</p>"
            if more
            else ""
        )
        + '<p class="note">Every account whose action is not keep, ordered by '
        "action (suspend first), then the highest flag severity and score. The customer text "
        "is what the customer reads; the analyst text (as <span class='mono'>graphrisk explain "
        "ID --run RUN --audience analyst</span>) shows the evidence and the policy rule. Filters "
        "can be set in the address: <span class='mono'>report.html#accounts:code=MULTI_LENDER"
        "&amp;action=reduce&amp;id=A01</span>.</p></section>"
    )


# -- group drawings -------------------------------------------------------------------------


@dataclass
class _Drawing:
    """One group (the group ids of every kind found on the same accounts), to be drawn."""

    group_ids: list[str]
    kinds: list[str]
    n_members: int
    members: list[str]
    roles: dict[str, str]
    external: set[str] = field(default_factory=set)
    devices: dict[str, set[str]] = field(default_factory=dict)
    lenders: dict[str, dict[str, tuple[int, float]]] = field(default_factory=dict)
    transfers: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    #: the hops of a transfer cycle: (src, dst, amount, time, transfer id), in path order
    cycle: list[tuple[str, str, float, str, str]] = field(default_factory=list)
    private_devices: int = 0
    private_lenders: int = 0

    @property
    def anchor(self) -> str:
        return f"group-{self.group_ids[0]}"


def _merged_groups(groups: pl.DataFrame) -> pl.DataFrame:
    """One row per set of accounts: ``group_ids`` and ``kinds`` found on it, ``size``.

    Detectors that find the same accounts (a device ring that is also a lending group) each
    give it a group id; drawn once, the group carries every kind.
    """
    per_id = (
        groups.group_by("group_id")
        .agg(pl.col("kind").first(), pl.col("account_id").unique().sort().alias("members"))
        .with_columns(pl.col("members").list.join("\x1f").alias("_key"))
        .sort("group_id")
    )
    return (
        per_id.group_by("_key", maintain_order=True)
        .agg(
            pl.col("group_id"),
            pl.col("kind").unique(maintain_order=True),
            pl.col("members").first(),
        )
        .with_columns(pl.col("members").list.len().alias("size"))
        .select(pl.col("group_id").alias("group_ids"), pl.col("kind").alias("kinds"), "size")
        .sort(["size", "group_ids"], descending=[True, False])
    )


def _groups_to_draw(groups: pl.DataFrame, n: int) -> pl.DataFrame:
    """The largest group of every kind, then the largest others, ``n`` in all (at least one
    per kind); largest first."""
    merged = _merged_groups(groups)
    if not merged.height:
        return merged
    picked: list[int] = []
    kinds = sorted({k for ks in merged["kinds"].to_list() for k in ks})
    rows = merged.with_row_index("_i")
    for kind in kinds:
        i = rows.filter(pl.col("kinds").list.contains(kind))["_i"][0]
        if i not in picked:
            picked.append(int(i))
    for i in rows["_i"].to_list():
        if len(picked) >= max(n, len(kinds)):
            break
        if i not in picked:
            picked.append(int(i))
    return rows.filter(pl.col("_i").is_in(picked)).sort("_i").drop("_i")


def _drawings(result: ScanResult, n: int, max_members: int) -> list[_Drawing]:
    """Subgraphs of the groups to draw, read from the graph's tables in one pass."""
    chosen = _groups_to_draw(result.groups, n)
    if not chosen.height:
        return []
    all_ids = [g for ids in chosen["group_ids"].to_list() for g in ids]
    members = result.groups.filter(pl.col("group_id").is_in(all_ids)).select(
        "group_id", "account_id", "role"
    )
    drawings: list[_Drawing] = []
    for gids, kinds, size in chosen.iter_rows():
        m = (
            members.filter(pl.col("group_id").is_in(gids))
            .group_by("account_id")
            .agg(pl.col("role").unique().sort().str.join(", "))
        )
        # key roles first so a capped drawing keeps the accounts a scheme turns around
        m = (
            m.with_columns(pl.col("role").str.contains("member").not_().alias("_key"))
            .sort(["_key", "account_id"], descending=[True, False])
            .head(max_members)
        )
        roles = dict(zip(m["account_id"].to_list(), m["role"].to_list(), strict=True))
        drawings.append(_Drawing(list(gids), list(kinds), int(size), sorted(roles), roles))

    cycles = (
        result.flags.filter(
            (pl.col("code") == "TRANSFER_CYCLE") & pl.col("group_id").is_in(all_ids)
        )
        .sort("group_id", "account_id")
        .unique("group_id", keep="first", maintain_order=True)
        .select("group_id", "evidence")
    )
    cycle_of = {g: json.loads(ev) for g, ev in cycles.iter_rows()}

    wanted = sorted({a for d in drawings for a in d.members})
    graph: Graph = result.graph_context(wanted).graph
    nodes = graph.nodes.filter(pl.col("id").is_in(pl.Series(wanted, dtype=pl.String).implode()))
    idx = nodes["idx"].implode()
    id_of = dict(zip(nodes["idx"].to_list(), nodes["id"].to_list(), strict=True))
    external = {i for x, i in id_of.items() if x >= graph.n_accounts}

    logins = (
        graph.logins.filter(pl.col("acc").is_in(idx))
        .select("acc", "dev")
        .drop_nulls()
        .unique()
        .join(graph.devices.rename({"idx": "dev"}), on="dev", how="left")
        .sort("acc", "device_id")
    )
    transfers = (
        graph.transfers.filter(pl.col("src").is_in(idx) & pl.col("dst").is_in(idx))
        .group_by("src", "dst")
        .agg(pl.len().alias("n"), pl.col("amount").sum())
        .sort("src", "dst")
    )
    loans = (
        graph.loans.filter(pl.col("acc").is_in(idx))
        .group_by("acc", "lender_id")
        .agg(pl.len().alias("n"), pl.col("amount").sum())
        .sort("acc", "lender_id")
    )
    dev_of: dict[str, list[str]] = defaultdict(list)
    for acc, _dev, device_id in logins.iter_rows():
        dev_of[id_of[acc]].append(device_id)
    loans_of: dict[str, list[tuple[str, int, float]]] = defaultdict(list)
    for acc, lender, cnt, amount in loans.iter_rows():
        loans_of[id_of[acc]].append((lender, int(cnt), float(amount)))
    tr = [(id_of[s], id_of[t], int(c), float(a)) for s, t, c, a in transfers.iter_rows()]

    for d in drawings:
        mset = set(d.members)
        d.external = mset & external
        users: dict[str, set[str]] = defaultdict(set)
        for a in d.members:
            for dev in dev_of.get(a, []):
                users[dev].add(a)
        d.devices = {k: v for k, v in sorted(users.items()) if len(v) >= 2}
        d.private_devices = len(users) - len(d.devices)
        seen: set[str] = set()
        for g in d.group_ids:
            ev = cycle_of.get(g)
            if not ev:
                continue
            path = ev.get("path") or []
            hops = zip(path, path[1:], ev.get("amounts") or [], ev.get("times") or [],
                       ev.get("transfers") or [], strict=False)  # fmt: skip
            for s, t, amount, when, tid in hops:
                if tid not in seen and s in mset and t in mset:
                    seen.add(tid)
                    d.cycle.append((s, t, float(amount), str(when), str(tid)))
        lenders: dict[str, dict[str, tuple[int, float]]] = defaultdict(dict)
        if not d.cycle:  # a cycle is about money: its loans are left out of the drawing
            for a in d.members:
                for lender, cnt, amount in loans_of.get(a, []):
                    lenders[lender][a] = (cnt, amount)
        budget = MAX_DRAWN_NODES - len(d.members) - len(d.devices)
        if len(lenders) <= budget:
            d.lenders = dict(sorted(lenders.items()))
        else:
            d.lenders = {k: v for k, v in sorted(lenders.items()) if len(v) >= 2}
        d.private_lenders = len(lenders) - len(d.lenders)
        in_cycle = {(s, t) for s, t, *_ in d.cycle}
        d.transfers = {
            (s, t): (c, a)
            for s, t, c, a in tr
            if s in mset and t in mset and (s, t) not in in_cycle
        }
    return drawings


def _short_time(when: str) -> str:
    """``2026-06-06T06:53:40`` -> ``06-06 06:53`` (the year is the run's)."""
    return when[5:16].replace("T", " ") if len(when) >= 16 else when


def _elements(d: _Drawing, decisions: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The group as Cytoscape.js elements (nodes, then edges), deterministic order."""
    els: list[dict[str, Any]] = []
    order = {}
    for i, (s, _t, *_rest) in enumerate(d.cycle):
        order.setdefault(s, i)
    # a cycle's accounts in path order: the circle layout places nodes in element order
    for a in sorted(d.members, key=lambda a: (order.get(a, len(d.cycle)), a)):
        dec = decisions.get(a, {})
        action = dec.get("action") or ("external" if a in d.external else "?")
        role = d.roles.get(a, "")
        key = any(r.strip() in KEY_ROLES for r in role.split(","))
        tip = f"{a} · {ACTION_LABELS.get(action, action)}"
        if role:
            tip += f" · role {role}"
        if dec:
            tip += f" · limit {_num(dec.get('limit_before'))} → {_num(dec.get('limit_after'))}"
            if dec.get("reason_codes"):
                tip += " · " + ", ".join(dec["reason_codes"])
        els.append(
            {
                "data": {
                    "id": f"a:{a}",
                    "label": a,
                    "account": a,
                    "kind": "external" if a in d.external else "account",
                    "action": action,
                    "colour": ACTION_COLOURS.get(
                        action, "#ffffff" if a in d.external else UNKNOWN_COLOUR
                    ),
                    "key": key,
                    "order": order.get(a, len(d.cycle) + len(els)),
                    "tip": tip,
                }
            }
        )
    for dev, users in d.devices.items():
        els.append(
            {
                "data": {
                    "id": f"d:{dev}",
                    "label": "",
                    "kind": "device",
                    "order": 10_000 + len(els),
                    "tip": f"device {dev}: used by {len(users)} accounts of the group",
                }
            }
        )
    for lender, loans in d.lenders.items():
        n_loans = sum(c for c, _ in loans.values())
        els.append(
            {
                "data": {
                    "id": f"l:{lender}",
                    "label": lender,
                    "kind": "lender",
                    "order": 20_000 + len(els),
                    "tip": f"lender {lender}: {n_loans} loans to {len(loans)} accounts of the group",
                }
            }
        )
    for i, (s, t, amount, when, tid) in enumerate(d.cycle):
        els.append(
            {
                "data": {
                    "id": f"c:{i}",
                    "source": f"a:{s}",
                    "target": f"a:{t}",
                    "kind": "cycle",
                    "label": f"{i + 1}. {_num(amount, 0)} · {_short_time(when)}",
                    "tip": f"hop {i + 1} of the cycle: {s} → {t}, {_num(amount, 2)} at {when}"
                    f" (transfer {tid})",
                }
            }
        )
    top_amount = max((a for _, a in d.transfers.values()), default=1.0) or 1.0
    for i, ((s, t), (cnt, amount)) in enumerate(d.transfers.items()):
        els.append(
            {
                "data": {
                    "id": f"t:{i}",
                    "source": f"a:{s}",
                    "target": f"a:{t}",
                    "kind": "transfer",
                    "width": round(1.0 + 2.2 * math.sqrt(amount / top_amount), 2),
                    "tip": f"{s} → {t}: {cnt} transfer{'s' if cnt != 1 else ''}, {_num(amount, 2)}",
                }
            }
        )
    for dev, users in d.devices.items():
        for a in sorted(users):
            els.append(
                {
                    "data": {
                        "id": f"g:{dev}:{a}",
                        "source": f"a:{a}",
                        "target": f"d:{dev}",
                        "kind": "login",
                        "tip": f"{a} logged in on device {dev}",
                    }
                }
            )
    for lender, loans in d.lenders.items():
        for a, (cnt, amount) in sorted(loans.items()):
            els.append(
                {
                    "data": {
                        "id": f"b:{lender}:{a}",
                        "source": f"a:{a}",
                        "target": f"l:{lender}",
                        "kind": "loan",
                        "tip": f"{a} borrowed {cnt}× from {lender}, {_num(amount)}",
                    }
                }
            )
    return els


def _legend() -> str:
    items = [
        f'<span><svg width="14" height="14"><circle cx="7" cy="7" r="6" fill="{c}" '
        f'stroke="#1d2733"/></svg> {_e(ACTION_LABELS[a])}</span>'
        for a, c in ACTION_COLOURS.items()
    ]
    items += [
        '<span><svg width="14" height="14"><circle cx="7" cy="7" r="5" fill="#fff" '
        'stroke="#1d2733" stroke-width="2.5"/></svg> key role (origin, collector…)</span>',
        f'<span><svg width="14" height="14"><rect x="1" y="1" width="12" height="12" rx="2" '
        f'fill="{DEVICE_COLOUR}"/></svg> shared device</span>',
        f'<span><svg width="16" height="16"><polygon points="8,0 16,8 8,16 0,8" '
        f'fill="{LENDER_COLOUR}"/></svg> lender</span>',
        f'<span><svg width="28" height="10"><line x1="0" y1="5" x2="20" y2="5" '
        f'stroke="{CYCLE_COLOUR}" stroke-width="2.5"/><path d="M20,1 L28,5 L20,9 z" '
        f'fill="{CYCLE_COLOUR}"/></svg> cycle hop (amount · time)</span>',
        f'<span><svg width="28" height="10"><line x1="0" y1="5" x2="20" y2="5" '
        f'stroke="{TRANSFER_COLOUR}" stroke-width="2"/><path d="M20,1 L28,5 L20,9 z" '
        f'fill="{TRANSFER_COLOUR}"/></svg> transfers (width ~ amount)</span>',
        '<span><svg width="24" height="10"><line x1="0" y1="5" x2="24" y2="5" stroke="#8a98a8" '
        'stroke-width="1.2"/></svg> login</span>',
        '<span><svg width="24" height="10"><line x1="0" y1="5" x2="24" y2="5" stroke="#c4b3e0" '
        'stroke-dasharray="3 3"/></svg> loan</span>',
    ]
    return '<div class="legend">' + "".join(items) + "</div>"


def _cycle_table(d: _Drawing) -> str:
    rows = [
        [str(i + 1), f'<span class="mono">{_e(s)} → {_e(t)}</span>', _num(a, 2), _e(when),
         f'<span class="mono">{_e(tid)}</span>']
        for i, (s, t, a, when, tid) in enumerate(d.cycle)
    ]  # fmt: skip
    return (
        '<details class="hops" open><summary>cycle hops</summary>'
        + _table(["#", "from → to", "amount", "time", "transfer"], rows, {0, 2})
        + "</details>"
    )


def _groups_section(result: ScanResult, drawings: list[_Drawing]) -> tuple[str, str]:
    """The legend and one card per drawing, and the drawings' elements as JSON."""
    n_groups = int(_merged_groups(result.groups).height) if result.groups.height else 0
    if not drawings:
        return (
            '<section id="groups"><h2>Groups</h2><p>No groups were found.</p></section>',
            "{}",
        )
    wanted = sorted({a for d in drawings for a in d.members})
    dec = result.decisions.filter(
        pl.col("account_id").is_in(pl.Series(wanted, dtype=pl.String).implode())
    ).select("account_id", "action", "limit_before", "limit_after", "reason_codes")
    decisions = {r["account_id"]: r for r in dec.iter_rows(named=True)}
    cards = []
    data: dict[str, Any] = {}
    for d in drawings:
        actions = Counter(decisions.get(a, {}).get("action", "?") for a in d.members)
        mix = ", ".join(
            f"{actions[a]} {ACTION_LABELS.get(a, a)}" for a in [*ACTIONS, "?"] if actions.get(a)
        )
        n_tr = sum(c for c, _ in d.transfers.values()) + len(d.cycle)
        shown = (
            f"{len(d.members)} of {d.n_members} accounts drawn"
            if len(d.members) < d.n_members
            else f"{d.n_members} accounts"
        )
        left_out = []
        if d.private_devices:
            left_out.append(f"{d.private_devices} devices used by one account")
        if d.private_lenders:
            left_out.append(f"{d.private_lenders} lenders used by one account")
        facts = (
            f"{shown} · {_e(mix)} · {len(d.devices)} shared devices · {len(d.lenders)} lenders · "
            f"{n_tr} transfers inside the group"
        )
        if d.cycle:
            facts += f" · a cycle of {len(d.cycle)} hops"
        if left_out:
            facts += " · not drawn: " + _e("; ".join(left_out))
        kinds = " + ".join(k.replace("_", " ") for k in d.kinds)
        ids = ", ".join(f'<span class="mono">{_e(g)}</span>' for g in d.group_ids)
        data[d.anchor] = {"cycle": bool(d.cycle), "elements": _elements(d, decisions)}
        cards.append(
            f'<div class="group" id="{_e(d.anchor)}" data-group-ids="{_e(" ".join(d.group_ids))}"'
            f' data-kinds="{_e(" ".join(d.kinds))}" data-members="{d.n_members}"'
            f' data-cycle-hops="{len(d.cycle)}">'
            f'<h3>{_e(kinds)}</h3><p class="facts">{ids}<br>{facts}</p>'
            f'<div class="cy" data-graph="{_e(d.anchor)}" role="img" '
            f'aria-label="{_e(kinds)} group of {d.n_members} accounts"></div>'
            '<div class="hover note">Hover a node or an edge for details; scroll to zoom, drag '
            "to pan; click an account to list it below.</div>"
            + (_cycle_table(d) if d.cycle else "")
            + "</div>"
        )
    html_text = (
        f'<section id="groups"><h2>Groups ({len(drawings)} of {_num(n_groups)} drawn: the '
        "largest of every kind, then the largest)</h2>"
        + _legend()
        + '<p class="note">A group found by several detectors on the same accounts is drawn '
        "once, with all its kinds.</p>"
        + '<div class="groups">'
        + "".join(cards)
        + "</div></section>"
    )
    return html_text, json.dumps(data, ensure_ascii=False, sort_keys=True)


# -- the page -------------------------------------------------------------------------------

#: The page's own script: draws the groups with Cytoscape.js and filters the accounts table.
PAGE_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("graph-data").textContent);
  var style = [
    { selector: "node", style: { "label": "data(label)", "font-size": 9, "color": "#1d2733",
      "text-valign": "bottom", "text-margin-y": 3, "text-background-color": "#fff",
      "text-background-opacity": 0.85, "text-background-padding": 1,
      "min-zoomed-font-size": 7, "width": 16, "height": 16 } },
    { selector: "node[kind = 'account'], node[kind = 'external']", style: {
      "background-color": "data(colour)", "border-color": "#1d2733", "border-width": 1.2 } },
    { selector: "node[kind = 'external']", style: { "border-style": "dashed" } },
    { selector: "node[?key]", style: { "border-width": 3.5, "font-weight": "bold",
      "min-zoomed-font-size": 0 } },
    { selector: "node[kind = 'device']", style: { "shape": "round-rectangle", "width": 11,
      "height": 11, "background-color": "@DEVICE@" } },
    { selector: "node[kind = 'lender']", style: { "shape": "diamond", "width": 15,
      "height": 15, "background-color": "@LENDER@", "color": "#5b3f8c" } },
    { selector: "edge", style: { "curve-style": "bezier", "width": 1,
      "line-color": "#8a98a8" } },
    { selector: "edge[kind = 'loan']", style: { "line-style": "dashed",
      "line-color": "#c4b3e0" } },
    { selector: "edge[kind = 'transfer']", style: { "width": "data(width)",
      "line-color": "@TRANSFER@", "target-arrow-color": "@TRANSFER@",
      "target-arrow-shape": "triangle", "arrow-scale": 0.8 } },
    { selector: "edge[kind = 'cycle']", style: { "width": 2.5, "line-color": "@CYCLE@",
      "target-arrow-color": "@CYCLE@", "target-arrow-shape": "triangle",
      "label": "data(label)", "font-size": 10, "color": "#5a2208",
      "text-rotation": "autorotate", "text-background-color": "#fff",
      "text-background-opacity": 0.9, "text-background-padding": 1,
      "min-zoomed-font-size": 0 } },
    { selector: ":selected", style: { "overlay-opacity": 0.15 } }
  ];
  function draw(box) {
    var g = data[box.getAttribute("data-graph")];
    var hover = box.parentNode.querySelector(".hover");
    var cy = cytoscape({ container: box, elements: g.elements, style: style,
      layout: { name: "preset" }, wheelSensitivity: 0.3, minZoom: 0.2, maxZoom: 4,
      boxSelectionEnabled: false, autounselectify: true });
    var byOrder = function (a, b) { return a.data("order") - b.data("order"); };
    if (g.cycle) {
      cy.layout({ name: "circle", animate: false, padding: 30,
        avoidOverlap: true }).run();
    } else {
      cy.layout({ name: "concentric", concentric: function (n) { return n.degree(); },
        levelWidth: function () { return 2; }, sort: byOrder, animate: false,
        padding: 20 }).run();
      cy.layout({ name: "cose", randomize: false, animate: false, padding: 24,
        nodeDimensionsIncludeLabels: true, nodeRepulsion: function () { return 16000; },
        idealEdgeLength: function () { return 60; }, numIter: 1500 }).run();
    }
    // a crowded group (a farm of 40 accounts): spread the nodes until no labels overlap
    // (labels keep their size while the distances grow), at most six times
    for (var spread = 0; spread < 6 && labelOverlaps(cy).overlaps > 0; spread++) {
      var c = cy.nodes().boundingBox();
      var cx = (c.x1 + c.x2) / 2, cyy = (c.y1 + c.y2) / 2;
      cy.nodes().positions(function (n) {
        var q = n.position();
        return { x: cx + 1.3 * (q.x - cx), y: cyy + 1.3 * (q.y - cyy) };
      });
    }
    cy.fit(undefined, 24);
    cy.on("mouseover", "node, edge", function (e) { hover.textContent = e.target.data("tip"); });
    cy.on("tap", "node[account]", function (e) {
      location.hash = "accounts:id=" + encodeURIComponent(e.target.data("account"));
    });
    box.setAttribute("data-drawn-nodes", cy.nodes().length);
    box.setAttribute("data-drawn-edges", cy.edges().length);
    box.setAttribute("data-cycle-edges", cy.edges("[kind = 'cycle']").filter(function (e) {
      return !!e.data("label"); }).length);
    // labels that overlap one another after the layout (what the page promises: none)
    var counted = labelOverlaps(cy);
    box.setAttribute("data-labels", counted.labels);
    box.setAttribute("data-label-overlaps", counted.overlaps);
    box.setAttribute("data-drawn", "yes");
  }
  function labelOverlaps(cy) {
    var boxesOf = cy.nodes("[label != '']").map(function (n) {
      return n.boundingBox({ includeLabels: true, includeNodes: false, includeOverlays: false });
    });
    var overlaps = 0;
    for (var i = 0; i < boxesOf.length; i++) {
      for (var j = i + 1; j < boxesOf.length; j++) {
        var a = boxesOf[i], b = boxesOf[j];
        if (a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2) { overlaps++; }
      }
    }
    return { labels: boxesOf.length, overlaps: overlaps };
  }
  var boxes = document.querySelectorAll(".cy[data-graph]");
  for (var i = 0; i < boxes.length; i++) { draw(boxes[i]); }

  var table = document.getElementById("accounts-table");
  if (!table) { return; }
  var rows = table.tBodies[0].rows;
  var code = document.getElementById("filter-code");
  var action = document.getElementById("filter-action");
  var id = document.getElementById("filter-id");
  var count = document.getElementById("shown-count");
  function apply() {
    var c = code.value, a = action.value, q = id.value.trim().toLowerCase(), shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var ok = (!c || (" " + r.getAttribute("data-codes") + " ").indexOf(" " + c + " ") >= 0)
        && (!a || r.getAttribute("data-action") === a)
        && (!q || r.getAttribute("data-id").toLowerCase().indexOf(q) >= 0);
      r.hidden = !ok;
      if (ok) { shown++; }
    }
    count.textContent = shown.toLocaleString("en-US");
    table.setAttribute("data-shown", shown);
  }
  function fromHash() {
    var h = decodeURIComponent(location.hash.replace(/^#/, ""));
    if (h.indexOf("accounts:") !== 0) { return; }
    var want = { code: "", action: "", id: "" };
    h.slice(9).split("&").forEach(function (kv) {
      var k = kv.split("=")[0], v = kv.slice(k.length + 1);
      if (k in want) { want[k] = v; }
    });
    code.value = want.code; action.value = want.action; id.value = want.id;
    apply();
    document.getElementById("accounts").scrollIntoView();
  }
  function toHash() {
    var parts = [];
    if (code.value) { parts.push("code=" + encodeURIComponent(code.value)); }
    if (action.value) { parts.push("action=" + encodeURIComponent(action.value)); }
    if (id.value.trim()) { parts.push("id=" + encodeURIComponent(id.value.trim())); }
    history.replaceState(null, "", "#accounts:" + parts.join("&"));
    apply();
  }
  code.addEventListener("change", toHash);
  action.addEventListener("change", toHash);
  id.addEventListener("input", toHash);
  window.addEventListener("hashchange", fromHash);
  fromHash();
  apply();
})();
"""

#: sha256 of the vendored ``templates/cytoscape.min.js`` (Cytoscape.js 3.35.0, MIT).
CYTOSCAPE_SHA256 = "71fa9ebec21a7ca2c40cff6aacc30d1f6464e363662ad4b2c197e1adc770cd94"


def cytoscape_js() -> str:
    """The vendored Cytoscape.js (``graphrisk/templates/cytoscape.min.js``), checked.

    Raises
    ------
    RuntimeError
        If the file is not the pinned version (its sha256 differs) or could close the
        inline script it is put in.
    """
    import hashlib
    from importlib.resources import files

    raw = files("graphrisk").joinpath("templates/cytoscape.min.js").read_bytes()
    if hashlib.sha256(raw).hexdigest() != CYTOSCAPE_SHA256:
        raise RuntimeError("graphrisk/templates/cytoscape.min.js is not the pinned Cytoscape.js")
    text = raw.decode("utf-8")
    if "</script" in text.lower() or "<!--" in text:
        raise RuntimeError("cytoscape.min.js cannot be inlined in a <script> element")
    return text


def _script_json(text: str) -> str:
    """JSON that cannot end the ``<script>`` element it is put in."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_report(
    result: ScanResult,
    max_groups: int = MAX_GROUPS,
    max_group_members: int = MAX_GROUP_MEMBERS,
    max_accounts: int = MAX_ACCOUNTS,
) -> str:
    """The analyst page of a scan as one self-contained HTML document.

    Parameters
    ----------
    result
        A finished scan (what :func:`graphrisk.scan` returns).
    max_groups
        How many groups are drawn: the largest of every kind first, then the largest.
    max_group_members
        The most accounts drawn for one group (key roles first, then by id).
    max_accounts
        The most accounts listed with their texts (the top of the queue).

    Returns
    -------
    str
        The HTML text: inline CSS, the inlined Cytoscape.js and the page's own script, the
        drawings' data as inline JSON; nothing loaded from anywhere.
    """
    s = result.summary
    run_id = s.get("run_id", result.run_id)
    drawings = _drawings(result, max_groups, max_group_members)
    anchors = {g: d.anchor for d in drawings for g in d.group_ids}
    groups_html, graph_json = _groups_section(result, drawings)
    title = f"graphrisk report · run {run_id}"
    meta = (
        f"as of <b>{_e(s.get('as_of', ''))}</b> · window from {_e(s.get('window_start', ''))} "
        f"({_e(s.get('lookback_days', ''))} days) · source <span class='mono'>"
        f"{_e(s.get('source', ''))}</span> · engine {_e(s.get('engine', ''))}"
    )
    nav = "".join(
        f'<a href="#{a}">{t}</a>'
        for a, t in [
            ("summary", "Summary"),
            ("groups", "Groups"),
            ("accounts", "Accounts"),
            ("timings", "Timings"),
            ("run", "Run"),
        ]
    )
    body = [
        _kpis(result),
        '<div class="grid3">',
        _actions_section(result),
        _group_kinds_section(result),
        _rows_section(result),
        "</div>",
        _flags_section(result),
        groups_html,
        _accounts_section(result, anchors, max_accounts),
        '<div class="grid2">',
        _timings_section(result),
        _run_section(result),
        "</div>",
    ]
    js = PAGE_JS
    for key, colour in (
        ("@DEVICE@", DEVICE_COLOUR),
        ("@LENDER@", LENDER_COLOUR),
        ("@TRANSFER@", TRANSFER_COLOUR),
        ("@CYCLE@", CYCLE_COLOUR),
    ):
        js = js.replace(key, colour)
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="graphrisk {_e(__version__)}">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>\n<body>"
        f'<header><h1>{_e(title)}</h1><div class="meta">{meta}</div></header>'
        f"<nav>{nav}</nav><main>"
        + "\n".join(body)
        + "</main><footer>graphrisk "
        + _e(__version__)
        + " · run "
        + _e(run_id)
        + " · flags.parquet, decisions.parquet, groups.parquet and summary.json sit beside this "
        "page · drawings by Cytoscape.js 3.35.0 (MIT licence, The Cytoscape Consortium; inlined)."
        "</footer>\n"
        f'<script type="application/json" id="graph-data">{_script_json(graph_json)}</script>\n'
        f'<script id="cytoscape-js">{cytoscape_js()}</script>\n'
        f'<script id="report-js">{js}</script>\n'
        "</body></html>\n"
    )
