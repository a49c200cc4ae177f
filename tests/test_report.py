"""report.html: structure of the page of a real scan, and the page opened in headless Chromium.

The browser tests need ``/usr/bin/chromium``; they fail (not skip) without it: run
``scripts/ensure_chromium.sh`` to install it. The screenshot of the page is kept as a test
artefact in ``runs/artefacts/report.png`` (and in the test's temporary directory).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

import graphrisk
from graphrisk.generate import generate_world
from graphrisk.report import CYTOSCAPE_SHA256, MAX_GROUPS, render_report
from graphrisk.scan import ScanResult

CHROMIUM = Path("/usr/bin/chromium")
SECTIONS = ["summary", "actions", "flags", "input", "group-kinds", "groups", "accounts", "timings"]
URL_ATTRS = {"src", "href", "xlink:href", "action", "data", "poster", "srcset", "background"}


class _Page(HTMLParser):
    """Collects tags, ids, URL-like attributes, scripts, group cards and account rows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.ids: set[str] = set()
        self.urls: list[str] = []
        self.cards: list[dict[str, str]] = []
        self.rows: list[dict[str, str]] = []
        self.scripts: dict[str, str] = {}
        self.analyst: dict[str, str] = {}
        self._row: str | None = None
        self.title = ""
        self._in_title = False
        self._script: str | None = None
        self._pre: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if "id" in a:
            self.ids.add(a["id"])
        self.urls += [v for k, v in a.items() if k in URL_ATTRS]
        self.urls += re.findall(r"url\(([^)]*)\)", a.get("style", ""))
        if tag == "title" and not self.cards:
            self._in_title = True
        if tag == "div" and "group" in a.get("class", "").split():
            self.cards.append(a)
        if tag == "tr" and "data-id" in a:
            self.rows.append(a)
            self._row = a["data-id"]
        if tag == "script":
            self._script = a.get("id", "")
            self.scripts[self._script] = ""
        if tag == "pre":
            self._pre = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag == "script":
            self._script = None
        if tag == "pre" and self._pre is not None:
            if self._row is not None:
                self.analyst[self._row] = "".join(self._pre)
            self._pre = None
        if tag == "table":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._script is not None:
            self.scripts[self._script] += data
        if self._pre is not None:
            self._pre.append(data)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScanResult, Path]:
    """A scan of a generated world of 3000 accounts, written to a run directory."""
    base = tmp_path_factory.mktemp("report")
    generate_world(base / "data", accounts=3000, seed=5)
    result = graphrisk.scan(base / "data")
    result.write(base / "run")
    return result, base / "run"


@pytest.fixture(scope="module")
def page(run: tuple[ScanResult, Path]) -> tuple[str, _Page]:
    """The report's text and its parse."""
    html_text = (run[1] / "report.html").read_text(encoding="utf-8")
    p = _Page()
    p.feed(html_text)
    p.close()
    return html_text, p


def test_self_contained(page) -> None:
    """One file that opens offline: the only scripts are inline (the pinned Cytoscape.js and
    the page's own), nothing is linked, the CSP forbids every fetch."""
    text, p = page
    tags = {t for t, _ in p.tags}
    assert "img" not in tags and "iframe" not in tags
    assert not [a for t, a in p.tags if t == "link"], "no linked stylesheets or icons"
    scripts = [a for t, a in p.tags if t == "script"]
    assert not [a for a in scripts if "src" in a], "no script is loaded from anywhere"
    assert sorted(p.scripts) == ["cytoscape-js", "graph-data", "report-js"]
    vendored = Path(graphrisk.__file__).parent / "templates" / "cytoscape.min.js"
    assert p.scripts["cytoscape-js"] == vendored.read_text(encoding="utf-8")
    assert hashlib.sha256(vendored.read_bytes()).hexdigest() == CYTOSCAPE_SHA256
    licence = (vendored.parent / "cytoscape.LICENSE").read_text(encoding="utf-8")
    assert "The Cytoscape Consortium" in licence and "Permission is hereby granted" in licence
    assert "default-src 'none'" in text  # the CSP: no request leaves the page
    # the only URLs are in-page anchors; none in the page outside the library's licence banner
    assert all(u.startswith("#") for u in p.urls), [u for u in p.urls if not u.startswith("#")]
    own = text.replace(p.scripts["cytoscape-js"], "")
    assert not re.search(
        r"(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", own.replace("http://www.w3.org/2000/svg", "")
    )
    assert "@import" not in text and "@font-face" not in text


def test_sections_and_summary(run, page) -> None:
    result, _ = run
    _, p = page
    assert set(SECTIONS) <= p.ids
    s = result.summary
    assert s["run_id"] in p.title
    text = page[0]
    assert s["as_of"] in text
    for code in s["flags"]:
        assert code in text
    for table, count in s["rows"]["read"].items():
        assert f"{count:,}" in text, table


def _member_sets(groups: pl.DataFrame) -> dict[str, frozenset[str]]:
    return {
        g: frozenset(m)
        for g, m in groups.group_by("group_id").agg(pl.col("account_id").unique()).iter_rows()
    }


def test_each_group_drawn_once_with_all_its_kinds(run, page) -> None:
    result, _ = run
    _, p = page
    sets = _member_sets(result.groups)
    same = defaultdict(set)
    for g, m in sets.items():
        same[m].add(g)
    assert any(len(ids) > 1 for ids in same.values())  # the world has a ring found twice
    drawn_sets = []
    drawn_ids: list[str] = []
    for card in p.cards:
        ids = card["data-group-ids"].split()
        members = {sets[g] for g in ids}
        assert len(members) == 1, ids  # one set of accounts per drawing
        (m,) = members
        assert set(ids) == same[m], "every group id found on these accounts is in the drawing"
        kinds = set(result.groups.filter(pl.col("group_id").is_in(ids))["kind"])
        assert set(card["data-kinds"].split()) == kinds
        assert int(card["data-members"]) == len(m)
        drawn_sets.append(m)
        drawn_ids += ids
    assert len(drawn_sets) == len(set(drawn_sets)), "a group drawn twice"
    assert len(drawn_ids) == len(set(drawn_ids))
    # the largest group of every kind is drawn, so a transfer cycle is never crowded out
    assert set(result.groups["kind"]) <= {k for c in p.cards for k in c["data-kinds"].split()}
    assert len(p.cards) <= max(MAX_GROUPS, result.groups["kind"].n_unique())


def _graph_data(page) -> dict:
    return json.loads(page[1].scripts["graph-data"])


def test_cycles_drawn_with_amounts_and_times(run, page) -> None:
    result, _ = run
    text, p = page
    data = _graph_data(page)
    cycles = [c for c in p.cards if "transfer_cycle" in c["data-kinds"].split()]
    assert cycles
    for card in cycles:
        gid = next(g for g in card["data-group-ids"].split() if g.startswith("transfer_cycle"))
        ev = json.loads(
            result.flags.filter((pl.col("group_id") == gid) & (pl.col("code") == "TRANSFER_CYCLE"))[
                "evidence"
            ][0]
        )
        hops = len(ev["path"]) - 1
        assert int(card["data-cycle-hops"]) == hops
        edges = [
            e["data"] for e in data[card["id"]]["elements"] if e["data"].get("kind") == "cycle"
        ]
        assert [(e["source"], e["target"]) for e in edges] == [
            (f"a:{s}", f"a:{t}") for s, t in zip(ev["path"], ev["path"][1:], strict=False)
        ]
        for e, amount, when in zip(edges, ev["amounts"], ev["times"], strict=True):
            assert f"{amount:,.0f}" in e["label"] and when[5:16].replace("T", " ") in e["label"]
        card_html = text[text.index(f'id="{card["id"]}"') :]
        assert f"{ev['amounts'][0]:,.2f}" in card_html and ev["times"][0] in card_html


def test_every_account_with_an_action_is_listed_with_its_analyst_text(run, page) -> None:
    from graphrisk.explain import explain_account, render_explanation

    result, path = run
    _, p = page
    acted = result.decisions.filter(pl.col("action") != "keep")
    assert acted.height > 50  # more than the old table's 50
    rank = ["suspend", "reduce", "freeze_increase", "restore"]
    listed = [rank.index(r["data-action"]) for r in p.rows]
    assert listed == sorted(listed)  # worst action first
    assert {r["data-id"] for r in p.rows} == set(acted["account_id"])
    assert len(p.rows) == acted.height
    by_id = {r["account_id"]: r for r in acted.iter_rows(named=True)}
    for row in p.rows:
        d = by_id[row["data-id"]]
        assert row["data-action"] == d["action"]
        assert row["data-codes"].split() == list(d["reason_codes"])
    # the analyst text is what `graphrisk explain --audience analyst` says, less the customer text
    for account in [
        p.rows[0]["data-id"],
        p.rows[len(p.rows) // 2]["data-id"],
        p.rows[-1]["data-id"],
    ]:
        doc = explain_account(path, account, audience="analyst")
        want = render_explanation(doc).replace(doc["text"] + "\n", "", 1)
        assert p.analyst[account] == want
        assert "evidence:" in p.analyst[account] or "no flag" in p.analyst[account]


def test_escaping(run) -> None:
    result, _ = run
    tricky = result.summary | {"source": "<script>alert(1)</script>"}
    result.summary, saved = tricky, result.summary
    try:
        out = render_report(result)
    finally:
        result.summary = saved
    assert "<script>alert" not in out and "&lt;script&gt;alert" in out


def test_deterministic(run, tmp_path: Path) -> None:
    """The same run renders the same bytes; a re-scan differs only in its stage timings."""
    result, path = run
    first = render_report(result)
    assert first == render_report(result)
    # no clock in the page: today's date appears only where the run's own data has it
    # (a restore date in an explanation can fall on today by chance)
    today = dt.date.today().isoformat()
    rest = first
    for text in result.decisions.filter(pl.col("explanation").str.contains(today))["explanation"]:
        rest = rest.replace(html.escape(text), "").replace(text, "")
    assert today not in rest or today in json.dumps(result.summary, default=str)
    again = graphrisk.scan(path.parent / "data")

    def without_timings(text: str) -> str:
        return re.sub(r'<section id="timings">.*?</section>', "", text, flags=re.S)

    assert without_timings(render_report(again)) == without_timings(first)


def test_missing_chromium_fails_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-chromium")
    with pytest.raises(pytest.fail.Exception, match=r"scripts/ensure_chromium\.sh"):
        _chromium(["--version"], tmp_path / "profile")


# -- headless Chromium -----------------------------------------------------------------------


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/ensure_chromium.sh to install it", pytrace=False
        )
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]
    return subprocess.run(
        [str(CHROMIUM), *flags, *args], capture_output=True, text=True, timeout=120, check=False
    )


def _dom(path: Path, profile: Path, fragment: str = "") -> str:
    """The page's DOM after its scripts ran (drawings laid out, filters applied)."""
    done = _chromium(
        ["--virtual-time-budget=10000", "--dump-dom", (path / "report.html").as_uri() + fragment],
        profile,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _parse(dom: str) -> _Page:
    p = _Page()
    p.feed(dom)
    p.close()
    return p


def test_chromium_draws_every_group(run, page, tmp_path: Path) -> None:
    result, path = run
    dom = _dom(path, tmp_path / "profile")
    assert f"<title>graphrisk report · run {result.run_id}</title>" in dom
    boxes = [a for t, a in _parse(dom).tags if t == "div" and "data-graph" in a]
    data = _graph_data(page)
    assert [b["data-graph"] for b in boxes] == [c["id"] for c in page[1].cards]
    assert len(set(b["data-graph"] for b in boxes)) == len(boxes)  # no group drawn twice
    for b in boxes:
        assert b.get("data-drawn") == "yes", b  # Cytoscape.js ran and laid the group out
        elements = data[b["data-graph"]]["elements"]
        n_nodes = sum("source" not in e["data"] for e in elements)
        assert int(b["data-drawn-nodes"]) == n_nodes
        assert int(b["data-drawn-edges"]) == len(elements) - n_nodes
        # every account and lender is labelled, and no two labels overlap after the layout
        labelled = sum(1 for e in elements if e["data"].get("label") and "source" not in e["data"])
        assert int(b["data-labels"]) == labelled > 0
        assert int(b["data-label-overlaps"]) == 0, b["data-graph"]
    cycles = [c for c in page[1].cards if int(c["data-cycle-hops"])]
    assert cycles
    for c in cycles:
        (b,) = [b for b in boxes if b["data-graph"] == c["id"]]
        assert int(b["data-cycle-edges"]) == int(c["data-cycle-hops"]) >= 3  # labelled hops


def _visible(p: _Page) -> list[dict[str, str]]:
    return [r for r in p.rows if "hidden" not in r]


def test_chromium_filters_the_accounts_from_the_address(run, page, tmp_path: Path) -> None:
    _, path = run
    rows = page[1].rows
    code = "TRANSFER_CYCLE"
    want = [
        r["data-id"]
        for r in rows
        if code in r["data-codes"].split() and r["data-action"] == "reduce"
    ]
    assert want and len(want) < len(rows)
    dom = _dom(path, tmp_path / "profile", f"#accounts:code={code}&action=reduce")
    assert [r["data-id"] for r in _visible(_parse(dom))] == want
    assert f'id="shown-count">{len(want)}<' in dom
    one = rows[len(rows) // 2]["data-id"]
    p = _parse(_dom(path, tmp_path / "profile", f"#accounts:id={one.lower()}"))
    assert one in [r["data-id"] for r in _visible(p)]
    assert all(one.lower() in r["data-id"].lower() for r in _visible(p))
    p = _parse(_dom(path, tmp_path / "profile"))
    assert len(_visible(p)) == len(rows)  # no filter: every row


#: Where the screenshot of the report is kept after the test (``runs/`` is not tracked).
ARTEFACTS = Path(__file__).resolve().parents[1] / "runs" / "artefacts"


def test_chromium_screenshot(run, tmp_path: Path) -> None:
    _, path = run
    png = tmp_path / "report.png"
    done = _chromium(
        [
            f"--screenshot={png}",
            "--window-size=1400,3400",
            "--hide-scrollbars",
            "--virtual-time-budget=10000",
            (path / "report.html").as_uri(),
        ],
        tmp_path / "profile",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1400, 3400)
    # a blank page compresses to a few kB; the report has text, tables and drawings
    assert len(data) > 200_000
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(png, ARTEFACTS / "report.png")


def test_the_vendored_library_is_package_data() -> None:
    """An installed graphrisk (a wheel, not this checkout) carries the file the page inlines."""
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parents[1]
    patterns = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["package-data"]["graphrisk"]
    for name in ("templates/cytoscape.min.js", "templates/cytoscape.LICENSE"):
        assert (root / "graphrisk" / name).is_file()
        assert any(fnmatch.fnmatch(name, p) for p in patterns), name


def test_the_page_lists_the_top_of_the_queue_only(run) -> None:
    """A book with more accounts to act on than the page lists: the first ones of the queue,
    and a line saying how many more decisions.parquet holds."""
    from graphrisk.report import render_report

    result, _ = run
    acted = result.decisions.filter(pl.col("action") != "keep").height
    html = render_report(result, max_accounts=10)
    assert html.count('<tr data-id="') == 10
    assert f"The first 10 of {acted:,} accounts with an action are listed" in html
    assert f"Accounts with an action ({acted:,})" in html
    full = render_report(result)
    assert full.count('<tr data-id="') == acted and 'id="accounts-cut"' not in full
