"""report.html: a self-contained page for an analyst (first version; see issue for the full one)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graphrisk.scan import ScanResult


def render_report(result: ScanResult) -> str:
    s = result.summary
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in s["actions"].items()
    )
    codes = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v['accounts']}</td></tr>" for k, v in s["flags"].items()
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>graphrisk run {s["run_id"]}</title></head>
<body><h1>graphrisk run {s["run_id"]}</h1><p>as of {s["as_of"]}</p>
<h2>Actions</h2><table>{rows}</table><h2>Flags</h2><table>{codes}</table></body></html>"""
