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


# ---------------------------------------------------------------------------------------
# every ```python block of the README runs


def _python_blocks(doc: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", doc.read_text(encoding="utf-8"), re.M | re.S)


def test_the_readme_has_python_examples() -> None:
    assert len(_python_blocks(ROOT / "README.md")) >= 1


@pytest.mark.parametrize("i", range(len(_python_blocks(ROOT / "README.md"))))
def test_readme_python_block_runs(i: int, tmp_path: Path, monkeypatch) -> None:
    """Run in a fresh folder holding the sample data, as a newcomer would in a clone."""
    block = _python_blocks(ROOT / "README.md")[i]
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "sample").symlink_to(ROOT / "datasets" / "sample")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, f"README.md python block {i + 1}", "exec"), {"__name__": "__readme__"})
    # what the block says it writes is there: every run directory, an entry in every ledger
    for run in re.findall(r"\.write\(\"([^\"]+)\"", block):
        assert (tmp_path / run / "summary.json").is_file(), run
    for ledger in re.findall(r"ledger=\"([^\"]+)\"", block):
        assert list((tmp_path / ledger / "entries").glob("*.parquet")), f"nothing in {ledger}"


# ---------------------------------------------------------------------------------------
# the evaluation section is written by scripts/evaluate_all.py --readme README.md


def test_evaluation_section_has_a_row_for_every_pattern_and_variant() -> None:
    """Generated between its markers; a pattern or variant added to the generator without
    re-running the command shows here as a missing row."""
    from graphrisk.generate import VARIANTS
    from graphrisk.patterns import PATTERNS

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- evaluation:start -->", "<!-- evaluation:end -->"
    assert text.count(start) == 1 and text.count(end) == 1
    section = text.split(start)[1].split(end)[0]
    rows = {line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| ")}
    want = {p for p, x in PATTERNS.items() if x.kind != "clean"}
    want |= {f"{p} / {v}" for p, names in VARIANTS.items() for v in names}
    assert not want - rows, sorted(want - rows)
    assert {"top 0.5%", "top 1%", "top 2%"} <= rows
    for seed in ("seed 3", "seed 8"):  # both seeds, both sizes
        for size in ("8000 accounts", "20000 accounts"):
            assert f"{size}, {seed}" in section
