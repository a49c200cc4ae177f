"""report.html: a self-contained page for an analyst.

:func:`render_report` turns a :class:`~graphrisk.scan.ScanResult` into one HTML file with
inline CSS and inline SVG only (no scripts, no fonts, no images from anywhere):

* the run: id, ``as_of``, window, source, engine, versions, the policy used;
* the summary: key figures, rows per table (read, in window, quarantined), actions and
  flags per reason code as tables with inline bars, groups per kind;
* the largest groups drawn as graphs: a layout computed here (networkx ``spring_layout``
  with a fixed seed on the small group subgraph) and drawn as SVG, accounts coloured by
  their action, shared devices as squares, lenders as diamonds, transfers as arrows;
* the top accounts (by action, severity and score) with limit before -> after, the reason
  codes and the customer explanation;
* stage timings.

Every text is escaped. The page depends only on the result (no clock), so the same run gives
the same bytes. Work on whole tables is done in polars; Python loops touch only the drawn
groups and the top accounts, so a book of a million accounts renders in about a second.
"""

from __future__ import annotations

import html
import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import igraph as ig
import networkx as nx
import polars as pl

from graphrisk import __version__
from graphrisk.codes import CODES

if TYPE_CHECKING:
    from graphrisk.graph import Graph
    from graphrisk.scan import ScanResult

#: How many groups are drawn, the most accounts drawn per group, rows of the accounts table.
MAX_GROUPS = 6
MAX_GROUP_MEMBERS = 60
TOP_ACCOUNTS = 50
#: Above this many nodes, lenders used by a single member are left out of a drawing.
MAX_DRAWN_NODES = 70
LAYOUT_SEED = 7

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
#: Roles drawn with a heavy outline: the account a scheme turns around.
KEY_ROLES = frozenset({"origin", "collector", "hub", "gather", "scatter", "organiser", "source"})

SVG_W, SVG_H, SVG_PAD = 620, 420, 34

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
.group svg { width:100%; height:auto; display:block; background:#fff;
  border:1px solid #edf0f4; border-radius:4px; }
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


# -- top accounts ---------------------------------------------------------------------------


def _top_accounts(result: ScanResult, limit: int) -> pl.DataFrame:
    """The ``limit`` accounts an analyst looks at first: worst action, then severity, score."""
    d = result.decisions
    f = result.flags
    rank = {a: i for i, a in enumerate(ACTIONS)}
    acted = d.filter((pl.col("action") != "keep") | (pl.col("reason_codes").list.len() > 0))
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
        .head(limit)
    )
    sev = (
        f.filter(pl.col("account_id").is_in(top["account_id"].implode()))
        .group_by("account_id", "code")
        .agg(pl.col("severity").max())
    )
    groups = (
        result.groups.filter(pl.col("account_id").is_in(top["account_id"].implode()))
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


def _accounts_section(result: ScanResult, limit: int, drawn: set[str]) -> str:
    """The top accounts table; ids of ``drawn`` groups link to their drawing."""
    top = _top_accounts(result, limit)
    n_acted = int(
        result.decisions.filter(
            (pl.col("action") != "keep") | (pl.col("reason_codes").list.len() > 0)
        ).height
    )
    rows = []
    for r in top.iter_rows(named=True):
        codes = "".join(
            f'<span class="code sev{s}" title="{_e(CODES[c].meaning if c in CODES else c)}">'
            f"{_e(c)}</span>"
            for c, s in zip(r["reason_codes"] or [], r["code_severity"] or [], strict=False)
        )
        gids = r["group_id"] or []
        rows.append(
            [
                f'<span class="mono">{_e(r["account_id"])}</span>',
                _badge(r["action"]),
                f"{_num(r['limit_before'])} → <b>{_num(r['limit_after'])}</b>",
                _e(r["severity"] if r["severity"] is not None else "–"),
                _num(r["score"], 2),
                codes,
                "<br>".join(
                    f'<a class="mono gid" href="#group-{_e(g)}">{_e(g)}</a>'
                    if g in drawn
                    else f'<span class="mono">{_e(g)}</span>'
                    for g in gids[:3]
                )
                + (f" +{len(gids) - 3}" if len(gids) > 3 else ""),
                f'<span style="white-space:nowrap">{_e(r["review_after"])}</span>',
                f'<div class="expl">{_e(r["explanation"])}</div>',
            ]
        )
    body = (
        _table(
            [
                "account",
                "action",
                "limit before → after",
                "severity",
                "score",
                "reason codes (most important first)",
                "groups",
                "review after",
                "customer explanation",
            ],
            rows,
            {2, 3, 4},
        )
        if rows
        else "<p>No account has a finding.</p>"
    )
    return (
        f'<section id="accounts"><h2>Top accounts ({len(rows)} of {_num(n_acted)} with a finding '
        f'or an action)</h2>{body}<p class="note">Ordered by action (suspend first), then the '
        "highest flag severity and score. The explanation is the customer-safe text; "
        "<span class='mono'>graphrisk explain ID --run RUN --audience analyst</span> shows the "
        "evidence.</p></section>"
    )


# -- group drawings -------------------------------------------------------------------------


@dataclass
class _Drawing:
    """One group's subgraph, small enough to lay out and draw."""

    group_id: str
    kind: str
    n_members: int
    members: list[str]
    roles: dict[str, str]
    external: set[str] = field(default_factory=set)
    devices: dict[str, set[str]] = field(default_factory=dict)
    lenders: dict[str, dict[str, tuple[int, float]]] = field(default_factory=dict)
    transfers: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    private_devices: int = 0
    private_lenders: int = 0


def _largest_groups(groups: pl.DataFrame, n: int) -> pl.DataFrame:
    """``group_id``, ``kind``, ``size`` of the ``n`` largest groups (ties by id)."""
    return (
        groups.group_by("group_id")
        .agg(pl.col("kind").first(), pl.col("account_id").n_unique().alias("size"))
        .sort(["size", "group_id"], descending=[True, False])
        .head(n)
    )


def _drawings(result: ScanResult, n: int, max_members: int) -> list[_Drawing]:
    """Subgraphs of the ``n`` largest groups, read from the graph's tables in one pass."""
    largest = _largest_groups(result.groups, n)
    if not largest.height:
        return []
    members = (
        result.groups.filter(pl.col("group_id").is_in(largest["group_id"].implode()))
        .group_by("group_id", "account_id")
        .agg(pl.col("role").unique().sort().str.join(", "))
        .sort("group_id", "account_id")
    )
    drawings: list[_Drawing] = []
    for gid, kind, size in largest.iter_rows():
        m = members.filter(pl.col("group_id") == gid)
        # key roles first so a capped drawing keeps the accounts a scheme turns around
        m = (
            m.with_columns(pl.col("role").str.contains("member").not_().alias("_key"))
            .sort(["_key", "account_id"], descending=[True, False])
            .head(max_members)
        )
        roles = dict(zip(m["account_id"].to_list(), m["role"].to_list(), strict=True))
        drawings.append(_Drawing(gid, kind, int(size), sorted(roles), roles))

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
        lenders: dict[str, dict[str, tuple[int, float]]] = defaultdict(dict)
        for a in d.members:
            for lender, cnt, amount in loans_of.get(a, []):
                lenders[lender][a] = (cnt, amount)
        budget = MAX_DRAWN_NODES - len(d.members) - len(d.devices)
        if len(lenders) <= budget:
            d.lenders = dict(sorted(lenders.items()))
        else:
            d.lenders = {k: v for k, v in sorted(lenders.items()) if len(v) >= 2}
        d.private_lenders = len(lenders) - len(d.lenders)
        d.transfers = {(s, t): (c, a) for s, t, c, a in tr if s in mset and t in mset}
    return drawings


def _layout(d: _Drawing) -> dict[str, tuple[float, float]]:
    """Node positions in SVG coordinates.

    Accounts and shared devices get a seeded spring layout inside an inner disc; lenders sit
    evenly on an outer ring, each near the mean angle of its borrowers, so loan edges fan out
    without pushing the accounts into a knot. Deterministic for the same drawing.
    """
    names = [f"a:{a}" for a in d.members] + [f"d:{x}" for x in d.devices]
    index = {v: i for i, v in enumerate(names)}
    edges = [(index[f"a:{s}"], index[f"a:{t}"]) for s, t in d.transfers]
    edges += [
        (index[f"d:{dev}"], index[f"a:{a}"])
        for dev, users in d.devices.items()
        for a in sorted(users)
    ]
    if len(names) == 1:
        raw = {names[0]: (0.0, 0.0)}
    else:
        core = nx.Graph()
        core.add_nodes_from(range(len(names)))
        core.add_edges_from(edges)
        k = 1.8 / math.sqrt(len(names))
        spring = nx.spring_layout(core, k=k, seed=LAYOUT_SEED, iterations=60)
        start = [[float(spring[i][0]), float(spring[i][1])] for i in range(len(names))]
        # Kamada-Kawai (igraph, compiled) from the seeded spring layout: even edge lengths
        kk = ig.Graph(n=len(names), edges=edges).simplify().layout_kamada_kawai(seed=start)
        raw = {v: (float(x), float(y)) for v, (x, y) in zip(names, kk.coords, strict=True)}
    cx = sum(x for x, _ in raw.values()) / len(raw)
    cy = sum(y for _, y in raw.values()) / len(raw)
    reach = max((math.hypot(x - cx, y - cy) for x, y in raw.values()), default=0.0) or 1.0
    inner = 0.66 if d.lenders else 1.0
    unit = {v: ((x - cx) / reach * inner, (y - cy) / reach * inner) for v, (x, y) in raw.items()}
    if d.lenders:
        wanted = []
        for lender, loans in d.lenders.items():
            mx = sum(unit[f"a:{a}"][0] for a in loans) / len(loans)
            my = sum(unit[f"a:{a}"][1] for a in loans) / len(loans)
            wanted.append((math.atan2(my, mx), lender))
        wanted.sort()
        step = 2 * math.pi / len(wanted)
        # keep the order of the wanted angles, spaced evenly, turned to fit them best
        offset = math.atan2(
            sum(math.sin(a - i * step) for i, (a, _) in enumerate(wanted)),
            sum(math.cos(a - i * step) for i, (a, _) in enumerate(wanted)),
        )
        for i, (_, lender) in enumerate(wanted):
            angle = offset + i * step
            unit[f"l:{lender}"] = (math.cos(angle), math.sin(angle))
    half_w, half_h = SVG_W / 2 - SVG_PAD, SVG_H / 2 - SVG_PAD
    return {v: (SVG_W / 2 + x * half_w, SVG_H / 2 + y * half_h) for v, (x, y) in unit.items()}


def _svg_group(d: _Drawing, decisions: dict[str, dict[str, Any]]) -> str:
    pos = _layout(d)
    r_acc = 9.0
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SVG_W} {SVG_H}" '
        f'class="group-graph" data-group="{_e(d.group_id)}" data-members="{d.n_members}" '
        f'role="img" aria-label="{_e(d.kind)} group {_e(d.group_id)}">',
        f"<title>{_e(d.kind)} {_e(d.group_id)}: {d.n_members} accounts</title>",
        f'<defs><marker id="arrow-{_e(d.group_id)}" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" '
        'orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{TRANSFER_COLOUR}"/></marker></defs>',
    ]

    def xy(node: str) -> tuple[float, float]:
        return pos[node]

    # loans (under everything), then logins, then transfers
    out.append('<g class="edges loans" stroke="#c4b3e0" stroke-width="1" stroke-dasharray="3 3">')
    for lender, loans in d.lenders.items():
        lx, ly = xy(f"l:{lender}")
        for a, (cnt, amount) in sorted(loans.items()):
            ax, ay = xy(f"a:{a}")
            out.append(
                f'<line x1="{ax:.1f}" y1="{ay:.1f}" x2="{lx:.1f}" y2="{ly:.1f}">'
                f"<title>{_e(a)} borrowed {cnt}× from {_e(lender)}, {_num(amount)}</title></line>"
            )
    out.append("</g>")
    out.append('<g class="edges logins" stroke="#8a98a8" stroke-width="1.2">')
    for dev, users in d.devices.items():
        dx, dy = xy(f"d:{dev}")
        for a in sorted(users):
            ax, ay = xy(f"a:{a}")
            out.append(
                f'<line x1="{ax:.1f}" y1="{ay:.1f}" x2="{dx:.1f}" y2="{dy:.1f}">'
                f"<title>{_e(a)} logged in on device {_e(dev)}</title></line>"
            )
    out.append("</g>")
    top_amount = max((a for _, a in d.transfers.values()), default=1.0) or 1.0
    out.append(f'<g class="edges transfers" fill="none" stroke="{TRANSFER_COLOUR}">')
    for (s, t), (cnt, amount) in d.transfers.items():
        (x1, y1), (x2, y2) = xy(f"a:{s}"), xy(f"a:{t}")
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1.0
        ux, uy = dx / length, dy / length
        # bend to the left of the direction, so a->b and b->a stay apart
        bend = min(0.18 * length, 40.0)
        cx, cy = (x1 + x2) / 2 - uy * bend, (y1 + y2) / 2 + ux * bend
        # start and end on the node's rim, towards the control point
        sx, sy = _towards(x1, y1, cx, cy, r_acc + 1)
        ex, ey = _towards(x2, y2, cx, cy, r_acc + 2)
        width = 1.0 + 2.2 * math.sqrt(amount / top_amount)
        out.append(
            f'<path class="transfer" d="M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}" '
            f'stroke-width="{width:.2f}" marker-end="url(#arrow-{_e(d.group_id)})">'
            f"<title>{_e(s)} → {_e(t)}: {cnt} transfer{'s' if cnt != 1 else ''}, "
            f"{_num(amount, 2)}</title></path>"
        )
    out.append("</g>")

    out.append('<g class="nodes">')
    for dev, users in d.devices.items():
        x, y = xy(f"d:{dev}")
        out.append(
            f'<rect class="node device" x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12" '
            f'rx="2" fill="{DEVICE_COLOUR}"><title>device {_e(dev)}: used by {len(users)} '
            "accounts of the group</title></rect>"
        )
    for lender, loans in d.lenders.items():
        x, y = xy(f"l:{lender}")
        n_loans = sum(c for c, _ in loans.values())
        out.append(
            f'<polygon class="node lender" points="{x:.1f},{y - 8:.1f} {x + 8:.1f},{y:.1f} '
            f'{x:.1f},{y + 8:.1f} {x - 8:.1f},{y:.1f}" fill="{LENDER_COLOUR}" stroke="#fff">'
            f"<title>lender {_e(lender)}: {n_loans} loans to {len(loans)} accounts of the group"
            "</title></polygon>"
        )
    for a in d.members:
        x, y = xy(f"a:{a}")
        dec = decisions.get(a, {})
        action = dec.get("action") or ("external" if a in d.external else "?")
        colour = ACTION_COLOURS.get(action, "#ffffff" if a in d.external else UNKNOWN_COLOUR)
        role = d.roles.get(a, "")
        key = any(r.strip() in KEY_ROLES for r in role.split(","))
        stroke_w = 3.0 if key else 1.2
        dash = ' stroke-dasharray="2 2"' if a in d.external else ""
        tip = f"{a} · {ACTION_LABELS.get(action, action)}"
        if role:
            tip += f" · role {role}"
        if dec:
            tip += f" · limit {_num(dec.get('limit_before'))} → {_num(dec.get('limit_after'))}"
            if dec.get("reason_codes"):
                tip += " · " + ", ".join(dec["reason_codes"])
        kind = "external" if a in d.external else "account"
        out.append(
            f'<g class="node {kind}" data-account="{_e(a)}" data-action="{_e(action)}">'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r_acc:.0f}" fill="{colour}" stroke="#1d2733" '
            f'stroke-width="{stroke_w}"{dash}/>'
            f'<text x="{x:.1f}" y="{y + r_acc + 11:.1f}" text-anchor="middle" font-size="10" '
            f'fill="#1d2733" stroke="#fff" stroke-width="3" paint-order="stroke">{_e(a)}</text>'
            f"<title>{_e(tip)}</title></g>"
        )
    out.append("</g></svg>")
    return "".join(out)


def _towards(x: float, y: float, tx: float, ty: float, dist: float) -> tuple[float, float]:
    """The point ``dist`` from (x, y) towards (tx, ty)."""
    dx, dy = tx - x, ty - y
    length = math.hypot(dx, dy) or 1.0
    return x + dx / length * dist, y + dy / length * dist


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
        f'stroke="{TRANSFER_COLOUR}" stroke-width="2"/><path d="M20,1 L28,5 L20,9 z" '
        f'fill="{TRANSFER_COLOUR}"/></svg> transfers (width ~ amount)</span>',
        '<span><svg width="24" height="10"><line x1="0" y1="5" x2="24" y2="5" stroke="#8a98a8" '
        'stroke-width="1.2"/></svg> login</span>',
        '<span><svg width="24" height="10"><line x1="0" y1="5" x2="24" y2="5" stroke="#c4b3e0" '
        'stroke-dasharray="3 3"/></svg> loan</span>',
    ]
    return '<div class="legend">' + "".join(items) + "</div>"


def _groups_section(result: ScanResult, drawings: list[_Drawing]) -> str:
    """The legend and one card with an SVG drawing per group in ``drawings``."""
    n_groups = int(result.groups["group_id"].n_unique()) if result.groups.height else 0
    if not drawings:
        return '<section id="groups"><h2>Largest groups</h2><p>No groups were found.</p></section>'
    wanted = sorted({a for d in drawings for a in d.members})
    dec = result.decisions.filter(
        pl.col("account_id").is_in(pl.Series(wanted, dtype=pl.String).implode())
    ).select("account_id", "action", "limit_before", "limit_after", "reason_codes")
    decisions = {r["account_id"]: r for r in dec.iter_rows(named=True)}
    cards = []
    for d in drawings:
        actions = Counter(decisions.get(a, {}).get("action", "?") for a in d.members)
        mix = ", ".join(
            f"{actions[a]} {ACTION_LABELS.get(a, a)}" for a in [*ACTIONS, "?"] if actions.get(a)
        )
        n_tr = sum(c for c, _ in d.transfers.values())
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
        if left_out:
            facts += " · not drawn: " + _e("; ".join(left_out))
        cards.append(
            f'<div class="group" id="group-{_e(d.group_id)}"><h3>{_e(d.kind.replace("_", " "))} · '
            f'<span class="mono">{_e(d.group_id)}</span></h3><p class="facts">{facts}</p>'
            f"{_svg_group(d, decisions)}</div>"
        )
    return (
        f'<section id="groups"><h2>Largest groups ({len(drawings)} of {_num(n_groups)})</h2>'
        + _legend()
        + '<div class="groups">'
        + "".join(cards)
        + "</div></section>"
    )


# -- the page -------------------------------------------------------------------------------


def render_report(
    result: ScanResult,
    max_groups: int = MAX_GROUPS,
    top_accounts: int = TOP_ACCOUNTS,
    max_group_members: int = MAX_GROUP_MEMBERS,
) -> str:
    """The analyst page of a scan as one self-contained HTML document.

    Parameters
    ----------
    result
        A finished scan (what :func:`graphrisk.scan` returns).
    max_groups
        How many of the largest groups are drawn.
    top_accounts
        How many accounts the accounts table lists.
    max_group_members
        The most accounts drawn for one group (key roles first, then by id).

    Returns
    -------
    str
        The HTML text: inline CSS and SVG, no scripts and no external resources.
    """
    s = result.summary
    run_id = s.get("run_id", result.run_id)
    drawings = _drawings(result, max_groups, max_group_members)
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
            ("accounts", "Top accounts"),
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
        _groups_section(result, drawings),
        _accounts_section(result, top_accounts, {d.group_id for d in drawings}),
        '<div class="grid2">',
        _timings_section(result),
        _run_section(result),
        "</div>",
    ]
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
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
        "page.</footer></body></html>\n"
    )
