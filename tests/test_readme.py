"""The repository stands on its own: README links resolve inside it, test data lives in it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [
    ROOT / "README.md",
    ROOT / "datasets" / "README.md",
    ROOT / "datasets" / "amlsim" / "README.md",
]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _local_links(doc: Path) -> list[str]:
    return [
        t.split("#")[0]
        for t in LINK.findall(doc.read_text(encoding="utf-8"))
        if not re.match(r"[a-z]+:", t) and not t.startswith("#")
    ]


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_links_resolve_inside_the_repository(doc: Path) -> None:
    links = _local_links(doc)
    assert doc.name != "README.md" or doc.parent != ROOT or links  # the README has links
    for target in links:
        path = (doc.parent / target).resolve()
        assert path.is_relative_to(ROOT), f"{doc.name}: {target} points outside the repository"
        assert path.exists(), f"{doc.name}: {target} does not exist"


def test_spec_is_in_the_repository() -> None:
    assert "docs/SPEC.md" in _local_links(ROOT / "README.md")
    assert "# graphrisk — product contract" in (ROOT / "docs" / "SPEC.md").read_text("utf-8")


def test_test_and_script_data_paths_stay_inside_the_repository() -> None:
    import importlib.util

    import test_amlsim

    assert test_amlsim.DATA.resolve().is_relative_to(ROOT)
    for name in ("1K", "typologies"):
        for table in ("accounts", "transfers", "loans", "devices", "labels"):
            assert (test_amlsim.DATA / name / f"{table}.parquet").is_file()
    spec = importlib.util.spec_from_file_location(
        "evaluate_all", ROOT / "scripts" / "evaluate_all.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.AMLSIM.resolve() == test_amlsim.DATA.resolve()
