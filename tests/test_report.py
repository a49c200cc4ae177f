"""report.html: structure of the page of a real scan, and the page opened in headless Chromium.

The browser tests need ``/usr/bin/chromium``; they fail (not skip) without it: run
``scripts/ensure_chromium.sh`` to install it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

import graphrisk
from graphrisk.generate import generate_world
from graphrisk.report import MAX_GROUP_MEMBERS, MAX_GROUPS, render_report
from graphrisk.scan import ScanResult

CHROMIUM = Path("/usr/bin/chromium")
SECTIONS = ["summary", "actions", "flags", "input", "group-kinds", "groups", "accounts", "timings"]
URL_ATTRS = {"src", "href", "xlink:href", "action", "data", "poster", "srcset", "background"}


class _Page(HTMLParser):
    """Collects tags, ids, URL-like attributes and the group drawings of the report."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.ids: set[str] = set()
        self.urls: list[str] = []
        self.svg_groups: dict[str, dict[str, object]] = {}
        self.title = ""
        self._in_title = False
        self._svg: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if "id" in a:
            self.ids.add(a["id"])
        self.urls += [v for k, v in a.items() if k in URL_ATTRS]
        self.urls += re.findall(r"url\(([^)]*)\)", a.get("style", ""))
        if tag == "title" and self._svg is None:
            self._in_title = True
        if tag == "svg" and "data-group" in a:
            self._svg = a["data-group"]
            self.svg_groups[self._svg] = {"members": int(a["data-members"]), "accounts": []}
        elif self._svg is not None and "data-account" in a:
            self.svg_groups[self._svg]["accounts"].append(a["data-account"])  # type: ignore[union-attr]

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag == "svg":
            self._svg = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


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
    text, p = page
    tags = {t for t, _ in p.tags}
    assert "script" not in tags and "img" not in tags and "iframe" not in tags
    assert not [a for t, a in p.tags if t == "link"], "no linked stylesheets or icons"
    # the only URLs are in-page anchors and SVG marker references
    assert all(u.startswith("#") for u in p.urls), [u for u in p.urls if not u.startswith("#")]
    assert not re.search(
        r"(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text.replace("http://www.w3.org/2000/svg", "")
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


def test_groups_drawn_with_all_members(run, page) -> None:
    result, _ = run
    _, p = page
    sizes = (
        result.groups.group_by("group_id")
        .agg(pl.col("account_id").n_unique().alias("n"))
        .sort(["n", "group_id"], descending=[True, False])
        .head(MAX_GROUPS)
    )
    assert list(p.svg_groups) == sizes["group_id"].to_list()
    for gid, n in sizes.iter_rows():
        drawn = p.svg_groups[gid]
        assert drawn["members"] == n
        accounts = drawn["accounts"]
        assert len(accounts) == len(set(accounts)) == min(n, MAX_GROUP_MEMBERS)
        members = set(result.groups.filter(pl.col("group_id") == gid)["account_id"])
        assert set(accounts) <= members
    # account nodes are coloured by action, devices and lenders drawn as other shapes
    assert any(a.get("class") == "node device" for t, a in p.tags if t == "rect")
    assert any(a.get("class") == "node lender" for t, a in p.tags if t == "polygon")
    assert any(a.get("class") == "transfer" and "marker-end" in a for t, a in p.tags)


def test_top_accounts_and_escaping(run, page) -> None:
    result, _ = run
    worst = result.decisions.filter(pl.col("action") == "suspend")["account_id"].to_list()
    text = page[0]
    acc = text[text.index('id="accounts"') :]
    assert worst and all(a in acc for a in worst[:5])
    # the customer explanation is shown; text is escaped
    expl = result.decisions.filter(pl.col("account_id") == worst[0])["explanation"].item()
    assert expl.replace("&", "&amp;").replace("<", "&lt;")[:20] in acc
    tricky = result.summary | {"source": "<script>alert(1)</script>"}
    result.summary, saved = tricky, result.summary
    try:
        out = render_report(result)
    finally:
        result.summary = saved
    assert "<script>" not in out and "&lt;script&gt;" in out


def test_deterministic(run, tmp_path: Path) -> None:
    """The same run renders the same bytes; a re-scan differs only in its stage timings."""
    result, path = run
    first = render_report(result)
    assert first == render_report(result)
    today = dt.date.today().isoformat()  # no clock in the page
    assert today not in first or today in json.dumps(result.summary, default=str)
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


def test_chromium_parses_the_page(run, tmp_path: Path) -> None:
    result, path = run
    done = _chromium(["--dump-dom", (path / "report.html").as_uri()], tmp_path / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert f"<title>graphrisk report · run {result.run_id}</title>" in dom
    assert dom.count('class="group-graph"') == min(MAX_GROUPS, result.groups["group_id"].n_unique())
    assert dom.count("<circle") >= 10 and "<polygon" in dom and "<path" in dom
    assert 'id="accounts"' in dom


def test_chromium_screenshot(run, tmp_path: Path) -> None:
    _, path = run
    png = tmp_path / "r.png"
    done = _chromium(
        [f"--screenshot={png}", "--window-size=1400,2000", (path / "report.html").as_uri()],
        tmp_path / "profile",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1400, 2000)
    # a blank page compresses to a few kB; the report has text, tables and drawings
    assert len(data) > 60_000
