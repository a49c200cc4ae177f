"""Every CLI verb of SPEC.md through the real entry point (``python -m graphrisk``, subprocess).

Exit codes: 0 success, 1 internal error, 2 usage error, 3 invalid input data. ``--json``
output parses; progress appears only on a terminal.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import polars as pl
import pytest
from conftest import Ran, base_tables, run_cli, set_col, write_data

# ---------------------------------------------------------------------------------------
# scan and validate on small data


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> tuple[Path, Path, Ran]:
    """(data, run, outcome) of one ``scan --json`` on the small hand-written data."""
    d = tmp_path_factory.mktemp("small")
    data = write_data(d / "data", base_tables())
    run = d / "run"
    return data, run, run_cli("scan", data, "--out", run, "--json")


def test_scan_json(small_run) -> None:
    _, run, ran = small_run
    assert ran.code == 0, ran.err
    assert ran.err == ""  # a pipe stays quiet
    doc = ran.json()
    assert doc["rows"]["read"] == {
        "accounts": 3,
        "loans": 3,
        "transfers": 2,
        "devices": 2,
        "applications": 2,
    }
    assert sum(doc["actions"].values()) == 3
    assert doc["run_id"] == json.loads((run / "summary.json").read_text())["run_id"]
    assert {"flags.parquet", "decisions.parquet", "groups.parquet", "summary.json"} <= {
        p.name for p in run.iterdir()
    }


def test_scan_plain_text(small_run, tmp_path: Path, cli) -> None:
    data, _, _ = small_run
    ran = cli("scan", data, "--out", tmp_path / "r")
    assert ran.code == 0, ran.err
    assert ran.err == ""
    assert "actions:" in ran.out and str(tmp_path / "r") in ran.out
    assert "…" not in ran.out


def test_validate(small_run, cli) -> None:
    data, _, _ = small_run
    ran = run_cli("validate", data)
    assert (ran.code, ran.err) == (0, "")
    assert ran.out.startswith("valid:")
    ran = cli("validate", data, "--json")
    assert ran.code == 0
    assert ran.json()["valid"] is True


def test_invalid_data_exit_3(tmp_path: Path) -> None:
    t = base_tables()
    t["loans"] = set_col(t["loans"], "amount", [1.0, -2.0, 3.0])
    data = write_data(tmp_path / "data", t)
    run_cli("scan", data, "--out", tmp_path / "run").assert_clean_failure(3)
    ran = run_cli("validate", data, "--json")
    assert ran.code == 3
    assert ran.json()["problems"][0]["examples"][0]["amount"] == -2.0
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------------------
# usage errors -> 2


def _bad_policy(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "policy.toml"
    p.write_text(text, encoding="utf-8")
    return p


USAGE = {
    "bad-as-of": lambda d, t: ("scan", d, "--out", t / "r", "--as-of", "2026-13-45"),
    "as-of-word": lambda d, t: ("scan", d, "--out", t / "r", "--as-of", "yesterday"),
    "lookback-zero": lambda d, t: ("scan", d, "--out", t / "r", "--lookback", "0"),
    "lookback-negative": lambda d, t: ("scan", d, "--out", t / "r", "--lookback", "-3"),
    "lookback-not-a-number": lambda d, t: ("scan", d, "--out", t / "r", "--lookback", "ten"),
    "missing-data-dir": lambda d, t: ("scan", t / "nope", "--out", t / "r"),
    "data-is-a-file": lambda d, t: ("scan", d / "accounts.parquet", "--out", t / "r"),
    "missing-out": lambda d, t: ("scan", d),
    "unknown-option": lambda d, t: ("scan", d, "--out", t / "r", "--frobnicate"),
    "unknown-engine": lambda d, t: ("scan", d, "--out", t / "r", "--engine", "dask"),
    "policy-not-found": lambda d, t: ("scan", d, "--out", t / "r", "--policy", t / "none.toml"),
    "policy-unknown-key": lambda d, t: (
        "scan",
        d,
        "--out",
        t / "r",
        "--policy",
        _bad_policy(t, "no_such_key = 1\n"),
    ),
    "policy-unknown-code": lambda d, t: (
        "scan",
        d,
        "--out",
        t / "r",
        "--policy",
        _bad_policy(t, "[codes.NOT_A_CODE]\nenabled = false\n"),
    ),
    "policy-not-toml": lambda d, t: (
        "scan",
        d,
        "--out",
        t / "r",
        "--policy",
        _bad_policy(t, "this is = = not toml [\n"),
    ),
    "validate-missing-dir": lambda d, t: ("validate", t / "nope"),
    "unknown-verb": lambda d, t: ("frobnicate",),
    "explain-no-run": lambda d, t: ("explain", "a", "--run", t / "norun"),
    "explain-bad-lang": lambda d, t: ("explain", "a", "--run", t / "norun", "--lang", "fr"),
    "evaluate-no-labels": lambda d, t: ("evaluate", t / "norun", "--labels", t / "none.parquet"),
    "policy-show-unknown-key": lambda d, t: (
        "policy",
        "show",
        "--policy",
        _bad_policy(t, "bogus = true\n"),
    ),
}


@pytest.mark.parametrize("case", sorted(USAGE))
def test_usage_errors_exit_2(case: str, small_run, tmp_path: Path, cli) -> None:
    data, _, _ = small_run
    ran = cli(*USAGE[case](data, tmp_path))
    ran.assert_clean_failure(2)
    assert not (tmp_path / "r").exists()


def test_usage_error_through_the_real_entry_point(small_run, tmp_path: Path) -> None:
    data, _, _ = small_run
    ran = run_cli("scan", data, "--out", tmp_path / "r", "--as-of", "2026-02-30")
    ran.assert_clean_failure(2)
    assert "--as-of" in ran.err
    assert not (tmp_path / "r").exists()


def test_generate_too_few_accounts_is_a_usage_error(tmp_path: Path) -> None:
    ran = run_cli("generate", tmp_path / "w", "--accounts", "100")
    ran.assert_clean_failure(2)


def test_help_and_version(cli) -> None:
    ran = run_cli("--help")
    assert ran.code == 0
    for verb in ("scan", "validate", "explain", "generate", "evaluate", "policy"):
        assert verb in ran.out
    ran = cli("--version")
    assert ran.code == 0 and "0." in ran.out


def test_console_script_is_installed(small_run) -> None:
    exe = Path(sys.executable).with_name("graphrisk")
    assert exe.exists(), "the graphrisk console script is not installed next to python"
    data, _, _ = small_run
    p = subprocess.run([exe, "validate", data], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("valid:")


# ---------------------------------------------------------------------------------------
# policy


def test_policy_show_round_trips(small_run, tmp_path: Path, cli) -> None:
    data, run, _ = small_run
    ran = run_cli("policy", "show")
    assert ran.code == 0 and ran.err == ""
    parsed = tomllib.loads(ran.out)
    used = json.loads((run / "summary.json").read_text())["policy"]
    for key, value in used.items():  # everything the summary records is what show prints
        if key != "detectors":
            assert parsed[key] == value, key
    f = tmp_path / "p.toml"
    f.write_text(ran.out, encoding="utf-8")
    again = cli("policy", "show", "--policy", f)
    assert again.code == 0
    assert again.out == ran.out
    out = tmp_path / "r"
    ran = cli("scan", data, "--out", out, "--policy", f, "--json")
    assert ran.code == 0, ran.err
    # the same policy: the run id (a hash of data, as_of and policy) is the default scan's
    assert ran.json()["run_id"] == json.loads((run / "summary.json").read_text())["run_id"]


def test_policy_override_is_used(small_run, tmp_path: Path, cli) -> None:
    data, _, _ = small_run
    default = tomllib.loads(cli("policy", "show").out)
    f = tmp_path / "p.toml"
    f.write_text(f"lookback_days = {default['lookback_days'] + 1}\n", encoding="utf-8")
    out = tmp_path / "r"
    ran = cli("scan", data, "--out", out, "--policy", f)
    assert ran.code == 0, ran.err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["policy"]["lookback_days"] == default["lookback_days"] + 1
    assert summary["lookback_days"] == default["lookback_days"] + 1


# ---------------------------------------------------------------------------------------
# generate -> scan -> evaluate -> explain on the generated world


def test_generate_is_deterministic_and_matches_the_library(world: Path, tmp_path: Path) -> None:
    out = tmp_path / "w"
    ran = run_cli("generate", out, "--accounts", "3000", "--seed", "3")
    assert ran.code == 0, ran.err
    info = ran.json()
    assert info["tables"]["accounts"] == 3000
    for name in ("accounts", "loans", "transfers", "devices", "applications", "labels"):
        a = pl.read_parquet(out / f"{name}.parquet")
        b = pl.read_parquet(world / f"{name}.parquet")
        assert a.equals(b), name


def test_evaluate_json(world: Path, world_run, cli) -> None:
    run, _ = world_run
    ran = run_cli("evaluate", run, "--labels", world / "labels.parquet", "--json")
    assert ran.code == 0, ran.err
    doc = ran.json()
    planted = doc["planted"]
    assert planted and all(0.0 <= v["recall"] <= 1.0 for v in planted.values())
    assert planted["multi_lender"]["accounts"] > 0
    text = cli("evaluate", run, "--labels", world / "labels.parquet")
    assert text.code == 0 and "multi_lender" in text.out


@pytest.fixture(scope="module")
def cut_account(world_run) -> str:
    run, _ = world_run
    d = pl.read_parquet(run / "decisions.parquet")
    return d.filter(pl.col("action").is_in(["reduce", "suspend"])).sort("account_id")["account_id"][
        0
    ]


@pytest.mark.parametrize("audience", ["customer", "analyst"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_explain(audience: str, lang: str, world_run, cut_account: str, cli) -> None:
    run, _ = world_run
    ran = cli("explain", cut_account, "--run", run, "--audience", audience, "--lang", lang)
    assert ran.code == 0, ran.err
    assert ran.err == ""
    assert ran.out.strip()
    has_cjk = any("\u4e00" <= ch <= "\u9fff" for ch in ran.out)
    if lang == "zh":
        assert has_cjk
    elif audience == "customer":
        assert not has_cjk
    if audience == "analyst":
        assert "evidence" in ran.out.lower() or "window" in ran.out.lower()
    j = cli("explain", cut_account, "--run", run, "--audience", audience, "--lang", lang, "--json")
    assert j.code == 0, j.err
    doc = j.json()
    assert doc["account_id"] == cut_account
    assert doc["action"] in ("reduce", "suspend")
    assert doc["reason_codes"]


def test_explain_through_the_real_entry_point(world_run, cut_account: str) -> None:
    run, _ = world_run
    ran = run_cli("explain", cut_account, "--run", run, "--lang", "en", "--json")
    assert ran.code == 0, ran.err
    assert ran.json()["account_id"] == cut_account
    run_cli("explain", "NO-SUCH-ACCOUNT", "--run", run).assert_clean_failure(2)


# ---------------------------------------------------------------------------------------
# progress only on a terminal


def _run_with_tty_stderr(*args) -> tuple[int, str, str]:
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "GRAPHRISK_DEBUG"}
    p = subprocess.Popen(
        [sys.executable, "-m", "graphrisk", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif p.poll() is not None:
            break
    out = p.stdout.read().decode() if p.stdout else ""
    p.wait(timeout=120)
    os.close(master)
    return p.returncode, out, b"".join(chunks).decode(errors="replace")


def test_progress_on_a_terminal_only(small_run, tmp_path: Path) -> None:
    data, _, _ = small_run
    code, out, err = _run_with_tty_stderr("scan", data, "--out", tmp_path / "tty")
    assert code == 0, err
    assert "load" in err and "detector" in err  # stage names shown while it runs
    assert "actions:" in out
    piped = run_cli("scan", data, "--out", tmp_path / "pipe")
    assert piped.code == 0
    assert piped.err == ""
    # stdout carries only the result, no progress lines
    assert "load" not in piped.out.replace("loans", "")
    shutil.rmtree(tmp_path / "tty")


def test_generate_shows_a_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    import re

    from graphrisk.generate import STAGES

    code, out, err = _run_with_tty_stderr("generate", tmp_path / "tty", "--accounts", "2000")
    assert code == 0, err
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err)
    assert f"{len(STAGES)}/{len(STAGES)}" in shown and "write:transfers" in shown
    assert re.search(r"\b0:00:\d\d\b", shown)
    assert json.loads(out)["tables"]["accounts"] == 2000  # stdout: the JSON only
    piped = run_cli("generate", tmp_path / "pipe", "--accounts", "2000")
    assert piped.code == 0 and piped.err == ""


def test_progress_bar_counts_stages_and_shows_elapsed_time(small_run, tmp_path: Path) -> None:
    """On a terminal: one bar over the stages (``done/total``) with the elapsed time."""
    import re

    from graphrisk.policy import Policy

    data, _, _ = small_run
    code, out, err = _run_with_tty_stderr("scan", data, "--out", tmp_path / "tty")
    assert code == 0, err
    # load, context, graph, the detectors, features, decide, write
    total = 6 + len(Policy.default().detectors())
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err)  # the terminal's escape codes
    assert f"{total}/{total}" in shown  # every stage counted, the last one complete
    assert re.search(r"\b0:00:\d\d\b", shown)  # elapsed time
    assert "detector:multi_lender" in shown and "write" in shown
    assert "actions:" in out and "\x1b" not in out  # the result on stdout, undecorated


# ---------------------------------------------------------------------------------------
# an empty book


def _empty_book(d: Path) -> Path:
    from graphrisk.schema import empty_frame

    d.mkdir(parents=True)
    for name in ("accounts", "loans", "transfers", "devices"):
        empty_frame(name).write_parquet(d / f"{name}.parquet")
    return d


def test_empty_book_with_as_of_is_an_empty_complete_run(tmp_path: Path, cli) -> None:
    """An explicit ``--as-of`` is used as given: nothing to infer, an empty run, exit 0."""
    data = _empty_book(tmp_path / "data")
    ran = cli("scan", data, "--out", tmp_path / "run", "--as-of", "2026-06-30", "--json")
    assert ran.code == 0, ran.err
    assert ran.json()["as_of"].startswith("2026-06-30")
    for name in ("flags", "decisions", "groups"):
        assert pl.read_parquet(tmp_path / "run" / f"{name}.parquet").height == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["actions"] == {} and summary["rows"]["read"]["accounts"] == 0
    assert (tmp_path / "run" / "report.html").stat().st_size > 0
    # without --as-of there is nothing to infer it from: a usage error that says so
    ran = cli("scan", data, "--out", tmp_path / "run2")
    ran.assert_clean_failure(2)
    assert "--as-of" in ran.err


def test_evaluate_labels_of_another_world_exit_3(world_run, tmp_path: Path, cli) -> None:
    """Labels whose accounts are not the run's are an error that says so, not recall 0."""
    run, _ = world_run
    other = pl.DataFrame({"account_id": ["X1", "X2", "X3"], "pattern": ["multi_lender"] * 3})
    other.write_parquet(tmp_path / "labels.parquet")
    ran = cli("evaluate", run, "--labels", tmp_path / "labels.parquet")
    ran.assert_clean_failure(3)
    assert "labels.account_id" in ran.err and "3 rows" in ran.err
    assert "X1" in ran.err and "not in the run" in ran.err
    assert "recall" not in ran.out
    # a few labelled accounts the run does not know are an error too (they would count as missed)
    decided = pl.read_parquet(run / "decisions.parquet")["account_id"].head(5).to_list()
    mixed = pl.DataFrame({"account_id": [*decided, "X9"], "pattern": ["clean"] * 6})
    mixed.write_parquet(tmp_path / "mixed.parquet")
    ran = cli("evaluate", run, "--labels", tmp_path / "mixed.parquet")
    ran.assert_clean_failure(3)
    assert "1 row" in ran.err and "X9" in ran.err
