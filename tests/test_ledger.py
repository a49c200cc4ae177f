"""The ledger: append-only, atomic, idempotent; and a real scan killed at any point."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from graphrisk.decisions import FLAG_COLUMNS, decide_with_trace
from graphrisk.ledger import ENTRY_COLUMNS, Ledger, entry
from graphrisk.policy import Policy
from graphrisk.scan import commit_ledger, scan
from graphrisk.testing import tables, write

RUN_FILES = ("flags.parquet", "decisions.parquet", "groups.parquet", "decision_trace.parquet")


def _entry(as_of: datetime, run_id: str, limit: float = 5000.0) -> pl.DataFrame:
    acc = pl.DataFrame({"account_id": ["a", "b"], "credit_limit": [limit, 0.0]})
    d, t = decide_with_trace(
        acc, pl.DataFrame(schema=FLAG_COLUMNS), Policy.default(), as_of, run_id
    )
    return entry(d, t)


def test_append_is_idempotent_per_run_id(tmp_path):
    led = Ledger(tmp_path / "L")
    e = _entry(datetime(2026, 1, 31), "r1")
    assert list(e.columns) == list(ENTRY_COLUMNS)
    first = led.append(e, "r1")
    assert first is not None and first.is_file()
    assert led.append(e, "r1") is None
    assert led.files() == [first] and led.has_run("r1") and not led.has_run("r2")
    assert_frame_equal(pl.read_parquet(first), e)


def test_prior_reads_strictly_earlier_entries_latest_append_wins(tmp_path):
    led = Ledger(tmp_path / "L")
    jan, feb = datetime(2026, 1, 31), datetime(2026, 2, 28)
    cut = _entry(jan, "r1").with_columns(
        pl.lit(1000.0).alias("limit_after"),
        pl.lit(5000.0).alias("reference_limit"),
        pl.lit(jan).alias("last_cut_at"),
    )
    led.append(cut, "r1")
    assert led.prior(jan).height == 0  # its own as_of is not prior
    p = led.prior(feb)
    assert p.filter(pl.col("account_id") == "a")["current_limit"].to_list() == [1000.0]
    # a second scan with the same as_of appended later (another policy): it wins
    led.append(cut.with_columns(pl.lit(2000.0).alias("limit_after")), "r0")
    assert led.prior(feb).filter(pl.col("account_id") == "a")["current_limit"].item() == 2000.0


def test_failed_append_leaves_nothing(tmp_path, monkeypatch):
    led = Ledger(tmp_path / "L")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "rename", boom)
    with pytest.raises(OSError):
        led.append(_entry(datetime(2026, 1, 31), "r1"), "r1")
    assert led.files() == [] and list(led.entries.iterdir()) == []


def test_leftover_temp_file_is_ignored_then_removed(tmp_path):
    led = Ledger(tmp_path / "L")
    led.entries.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    tmp = led.entries / f".20260131T000000--000000--r9.parquet.{dead.pid}.tmp"
    tmp.write_bytes(b"PAR1 half written")
    assert led.files() == [] and led.prior(datetime(2026, 3, 1)).height == 0
    led.append(_entry(datetime(2026, 1, 31), "r1"), "r1")
    assert not tmp.exists()
    assert [p.name.split("--")[-1] for p in led.files()] == ["r1.parquet"]


def test_ledger_path_must_be_a_directory(tmp_path):
    from graphrisk.errors import UsageError

    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        Ledger(tmp_path / "f")


def _small_data(tmp_path: Path) -> Path:
    loans = [
        ("a", f"P{i}", 2000, f"2026-01-{3 * i + 1:02d}", "2026-03-01", "2026-02-20")
        for i in range(6)
    ]
    return write(tables(loans=[*loans, ("b", "BANK", 800, "2026-01-02")]), tmp_path / "data")


def test_rerun_same_scan_is_identical_and_applies_no_second_step(tmp_path):
    data = _small_data(tmp_path)
    L = tmp_path / "L"
    runs = []
    for i, as_of in enumerate(["2026-01-31", "2026-05-31", "2026-05-31", "2026-06-30"]):
        r = scan(data, as_of=as_of, ledger=L)
        r.write(tmp_path / f"run{i}")
        commit_ledger(r)
        runs.append(r)
    cut, step, again, step2 = (r.decisions.filter(pl.col("account_id") == "a") for r in runs)
    assert cut["action"].item() in ("reduce", "suspend")
    assert (step["action"].item(), step["limit_after"].item()) == (
        "restore",
        cut["limit_after"].item() + 2500,
    )
    assert_frame_equal(step, again)  # the re-run: same run id, same decision, no second step
    assert runs[1].run_id == runs[2].run_id
    for f in RUN_FILES:
        assert_frame_equal(
            pl.read_parquet(tmp_path / "run1" / f), pl.read_parquet(tmp_path / "run2" / f)
        )
    assert len(Ledger(L).files()) == 3
    assert step2["limit_after"].item() == step["limit_after"].item() + 2500


# ---------------------------------------------------------------------------------------
# a real scan killed with SIGKILL while it computes, writes its run, or appends the ledger


def _read_run(out: Path) -> str | None:
    """The run id of a run directory, checking every file is whole; None if absent."""
    if not out.exists():
        return None
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    frames = {f: pl.read_parquet(out / f) for f in RUN_FILES}
    assert (out / "report.html").stat().st_size > 0
    assert frames["decisions.parquet"].height > 0
    assert set(frames["decisions.parquet"]["run_id"]) == {summary["run_id"]}
    return summary["run_id"]


def _cmd(data: Path, out: Path, ledger: Path, as_of: str) -> list[str]:
    return [sys.executable, "-m", "graphrisk", "scan", str(data), "--out", str(out),
            "--ledger", str(ledger), "--as-of", as_of, "--json"]  # fmt: skip


def _run(cmd: list[str]) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["run_id"]


def _kill_when(cmd: list[str], out: Path, ledger: Path, how: str, rng: random.Random) -> str:
    """Start the scan, kill it (SIGKILL) at the point ``how`` names; what was seen."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    entries = ledger / "entries"
    t0 = time.monotonic()
    seen = "delay"
    try:
        if how == "delay":
            time.sleep(rng.uniform(1.0, 7.0))
        else:
            while p.poll() is None and time.monotonic() - t0 < 120:
                names = os.listdir(out.parent)
                if how == "run_tmp" and any(n.startswith(f".{out.name}.") for n in names):
                    time.sleep(rng.uniform(0, 0.25))
                    seen = "run_tmp"
                    break
                if (
                    how == "ledger_tmp"
                    and entries.is_dir()
                    and any(n.endswith(".tmp") for n in os.listdir(entries))
                ):
                    seen = "ledger_tmp"
                    break
                if how == "run_done" and (out / "decision_trace.parquet").exists():
                    try:
                        if json.loads((out / "summary.json").read_text())["as_of"] > "2026-06-0":
                            seen = "run_done"
                            break
                    except (OSError, ValueError):
                        pass
                time.sleep(0.0005)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    return seen if p.returncode == -signal.SIGKILL else "finished"


@pytest.fixture(scope="module")
def big_world(tmp_path_factory) -> Path:
    from graphrisk.generate import generate_world

    out = tmp_path_factory.mktemp("kill") / "data"
    generate_world(out, accounts=50_000, seed=11)
    return out


def test_scan_killed_at_any_point_leaves_ledger_and_run_consistent(big_world, tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    t0, t1 = "2026-05-31", "2026-06-29"
    # the state before: one earlier scan (run directory and ledger entry)
    prev_id = _run(_cmd(big_world, base / "run", base / "L", t0))
    # the uninterrupted result of the next scan, for comparison
    ref = tmp_path / "ref"
    shutil.copytree(base, ref)
    new_id = _run(_cmd(big_world, ref / "run", ref / "L", t1))
    assert new_id != prev_id
    ref_entry = pl.read_parquet(Ledger(ref / "L").files()[-1])

    rng = random.Random(20260629)
    ways = ["delay", "run_tmp", "run_tmp", "run_done", "ledger_tmp"]
    seen = []
    for i, how in enumerate(ways):
        work = tmp_path / f"try{i}"
        shutil.copytree(base, work)
        out, led = work / "run", work / "L"
        seen.append(_kill_when(_cmd(big_world, out, led, t1), out, led, how, rng))
        # run directory: absent, the previous run, or the new one complete
        assert _read_run(out) in (None, prev_id, new_id), seen
        # ledger: the earlier entry whole, and either no new entry or the whole new one
        files = Ledger(led).files()
        assert 1 <= len(files) <= 2, files
        assert pl.read_parquet(files[0]).height == 50_000
        if len(files) == 2:
            assert_frame_equal(pl.read_parquet(files[1]), ref_entry)
        # the re-run completes and gives what the uninterrupted scan gave
        assert _run(_cmd(big_world, out, led, t1)) == new_id
        assert _read_run(out) == new_id
        for f in RUN_FILES:
            assert_frame_equal(pl.read_parquet(out / f), pl.read_parquet(ref / "run" / f))
        files = Ledger(led).files()
        assert len(files) == 2 and not any(n.endswith(".tmp") for n in os.listdir(led / "entries"))
        assert_frame_equal(pl.read_parquet(files[1]), ref_entry)
    print("kill points:", seen)
    # the kills did land inside the scan, in its writing phases too
    assert sum(s != "finished" for s in seen) >= 3, seen
    assert {"run_tmp"} <= set(seen), seen


# ---------------------------------------------------------------------------------------
# the run id names one decision set: it covers the ledger state the scan read

DECISION_COLUMNS = ["account_id", "action", "limit_before", "limit_after", "reason_codes"]


def _logged(ledger: Path, run_id: str) -> pl.DataFrame:
    """The decisions the ledger holds under ``run_id`` (exactly one entry)."""
    (path,) = [p for p in Ledger(ledger).files() if p.stem.endswith("--" + run_id)]
    return pl.read_parquet(path).select(DECISION_COLUMNS)


def test_run_id_covers_the_prior_state_the_scan_read(tmp_path):
    data = _small_data(tmp_path)
    alone = scan(data, as_of="2026-05-31")
    # an absent or empty ledger reads no state: the run id of a scan without a ledger
    empty = tmp_path / "empty"
    (empty / "entries").mkdir(parents=True)
    assert scan(data, as_of="2026-05-31", ledger=tmp_path / "absent").run_id == alone.run_id
    assert scan(data, as_of="2026-05-31", ledger=empty).run_id == alone.run_id
    # the same data, as_of and policy after a cut in January: other decisions, other run id
    L = tmp_path / "L"
    commit_ledger(scan(data, as_of="2026-01-31", ledger=L))
    after_cut = scan(data, as_of="2026-05-31", ledger=L)
    assert not after_cut.decisions.equals(alone.decisions)
    assert after_cut.run_id != alone.run_id
    assert set(after_cut.decisions["run_id"]) == {after_cut.run_id}
    assert after_cut.summary["run_id"] == after_cut.run_id
    commit_ledger(after_cut)
    assert_frame_equal(_logged(L, after_cut.run_id), after_cut.decisions.select(DECISION_COLUMNS))


def test_entry_backfilled_before_a_later_scan_gives_its_rerun_a_new_run_id(tmp_path):
    """A scan for an earlier as_of appended after a later one changes what the later one
    reads: its re-run is another decision set, so it gets another run id and its own entry
    (the latest appended entry for an as_of is what later scans read)."""
    data = _small_data(tmp_path)
    L = tmp_path / "L"
    may = scan(data, as_of="2026-05-31", ledger=L)
    commit_ledger(may)
    commit_ledger(scan(data, as_of="2026-01-31", ledger=L))  # backfilled: the January cut
    again = scan(data, as_of="2026-05-31", ledger=L)
    a = pl.col("account_id") == "a"
    assert may.decisions.filter(a)["action"].item() == "freeze_increase"
    assert again.decisions.filter(a)["action"].item() == "restore"
    assert again.run_id != may.run_id
    assert commit_ledger(again) is not None
    for r in (may, again):  # each run id names the decisions that run gave
        assert_frame_equal(_logged(L, r.run_id), r.decisions.select(DECISION_COLUMNS))
    june = Ledger(L).prior(datetime(2026, 6, 30)).filter(a)
    assert june["current_limit"].item() == again.decisions.filter(a)["limit_after"].item()
    # and the re-run of the re-run is idempotent again
    third = scan(data, as_of="2026-05-31", ledger=L)
    assert third.run_id == again.run_id and commit_ledger(third) is None
    assert third.decisions.equals(again.decisions)


# ---------------------------------------------------------------------------------------
# prior() reads a snapshot and the entries after it: the same state as reading everything


def _naive_prior(led: Ledger, as_of: datetime) -> pl.DataFrame:
    """The reference: every entry read, each account's latest row by (as_of, position)."""
    from graphrisk.decisions import PRIOR_SCHEMA

    hist = led.history()
    if hist is None:
        return pl.DataFrame(schema=PRIOR_SCHEMA)
    state = [c for c in PRIOR_SCHEMA if c not in ("account_id", "current_limit")]
    for c in state:
        if c not in hist.columns:
            hist = hist.with_columns(pl.lit(None, PRIOR_SCHEMA[c]).alias(c))
    last = (
        hist.filter(pl.col("as_of") < as_of)
        .sort("account_id", "as_of", "seq")
        .group_by("account_id", maintain_order=True)
        .last()
    )
    return (
        last.filter(
            pl.col("reference_limit").is_not_null()
            | pl.col("last_cut_at").is_not_null()
            | pl.col("last_bad_at").is_not_null()
        )
        .rename({"limit_after": "current_limit"})
        .select(list(PRIOR_SCHEMA))
        .cast(PRIOR_SCHEMA)
    )


def _random_entry(rng: random.Random, as_of: datetime, run_id: str) -> pl.DataFrame:
    """An entry of a random subset of 40 accounts, about half with some state."""
    ids = sorted(rng.sample([f"a{i:02d}" for i in range(40)], rng.randint(1, 40)))

    def maybe(v, p=0.5):
        return v if rng.random() < p else None

    rows = []
    for a in ids:
        cut = maybe(as_of - timedelta(days=rng.randint(0, 90)), 0.3)
        rows.append(
            {
                "account_id": a,
                "as_of": as_of,
                "run_id": run_id,
                "action": rng.choice(["keep", "reduce", "restore"]),
                "limit_before": 5000.0,
                "limit_after": float(rng.randint(0, 10) * 1000),
                "reason_codes": ["MULTI_LENDER"] if cut else [],
                "situation": "",
                "reference_limit": maybe(10000.0, 0.3),
                "last_cut_at": cut,
                "cut_severity": 3 if cut else None,
                "cut_reasons": ["MULTI_LENDER"] if cut else None,
                "last_step_at": cut,
                "last_bad_at": maybe(as_of - timedelta(days=rng.randint(0, 30)), 0.3),
            }
        )
    schema = {**_entry(as_of, run_id).schema}
    return pl.DataFrame(rows, schema=schema)


def _check_priors(led: Ledger, queries: list[datetime]) -> None:
    for q in queries:
        assert_frame_equal(led.prior(q), _naive_prior(led, q)), q


def test_prior_from_snapshots_equals_reading_every_entry(tmp_path):
    rng = random.Random(7)
    led = Ledger(tmp_path / "L")
    day0 = datetime(2026, 1, 1, 23, 59, 59, 999999)
    days = [day0 + timedelta(days=d) for d in range(12)]
    # in order, with re-runs of a day (same as_of), two scans in one second (other
    # microseconds, the later one appended first) and backfills of earlier days
    plan = [0, 1, 2, 2, 3, 5, 4, 6, 6, 1, 7, 8, 0, 9, 10, 11, 10]
    seconds = {6: [days[6].replace(microsecond=100), days[6].replace(microsecond=500_000)]}
    queries = [*days, *(d + timedelta(microseconds=1) for d in days), day0 + timedelta(days=30)]
    queries += [d.replace(microsecond=0) for d in days]
    queries += [days[6].replace(microsecond=m) for m in (100, 101, 300_000, 500_000, 500_001)]
    snaps_seen: dict[str, bytes] = {}
    for i, d in enumerate(plan):
        as_of = days[d]
        if seconds.get(d):
            as_of = seconds[d].pop()  # .5 s first, then .0001 s of the same second
        led.append(_random_entry(rng, as_of, f"r{i:02d}"), f"r{i:02d}")
        _check_priors(led, queries)
        # the snapshots are only added to, never rewritten
        now = {p.name: p.read_bytes() for p in led.snapshots.glob("*.parquet")}
        assert {k: now[k] for k in snaps_seen} == snaps_seen
        snaps_seen = now
    assert len(snaps_seen) == len(plan)
    # without any snapshot (a ledger written before them), the same; read in batches
    from graphrisk.ledger import _BATCH

    assert len(led.files()) > _BATCH
    shutil.rmtree(led.snapshots)
    _check_priors(led, queries)
    # the next append writes a snapshot of everything again, from the entries alone
    led.append(_random_entry(rng, day0 + timedelta(days=12), "r99"), "r99")
    assert len(list(led.snapshots.glob("*.parquet"))) == 1
    _check_priors(led, [*queries, day0 + timedelta(days=13)])


def test_prior_of_a_ledger_with_older_entry_columns(tmp_path):
    """Entries written before a state column existed read it as null."""
    led = Ledger(tmp_path / "L")
    jan, feb, mar = datetime(2026, 1, 31), datetime(2026, 2, 28), datetime(2026, 3, 31)
    rng = random.Random(3)
    led.append(_random_entry(rng, jan, "r1").drop("last_bad_at", "cut_reasons"), "r1")
    led.append(_random_entry(rng, feb, "r2"), "r2")
    _check_priors(led, [jan, feb, mar])
    shutil.rmtree(led.snapshots)
    _check_priors(led, [jan, feb, mar])


def test_killed_before_the_snapshot_reads_the_entry_itself(tmp_path, monkeypatch):
    """A scan killed after its entry is in, before its snapshot: later reads still see it."""
    led = Ledger(tmp_path / "L")
    rng = random.Random(5)
    jan, feb, mar = datetime(2026, 1, 31), datetime(2026, 2, 28), datetime(2026, 3, 31)
    led.append(_random_entry(rng, jan, "r1"), "r1")

    def killed(self, files, k):
        raise KeyboardInterrupt  # stands for SIGKILL between the two renames

    with monkeypatch.context() as m:
        m.setattr(Ledger, "_snapshot", killed)
        with pytest.raises(KeyboardInterrupt):
            led.append(_random_entry(rng, feb, "r2"), "r2")
    assert len(led.files()) == 2 and len(list(led.snapshots.iterdir())) == 1
    _check_priors(led, [jan, feb, mar])
    assert led.append(_random_entry(rng, feb, "r2"), "r2") is None  # the re-run: nothing
    led.append(_random_entry(rng, mar, "r3"), "r3")
    _check_priors(led, [jan, feb, mar, datetime(2026, 4, 30)])
    # a snapshot temporary left by a dead process is never read and is removed
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    tmp = led.snapshots / f".000009--x.parquet.{dead.pid}.tmp"
    tmp.write_bytes(b"PAR1 half written")
    _check_priors(led, [datetime(2026, 4, 30)])
    led.append(_random_entry(rng, datetime(2026, 4, 30), "r4"), "r4")
    assert not tmp.exists()


def test_prior_reads_the_snapshot_not_the_entries_it_covers(tmp_path, monkeypatch):
    rng = random.Random(11)
    led = Ledger(tmp_path / "L")
    days = [datetime(2026, 1, 1) + timedelta(days=d) for d in range(6)]
    for i, d in enumerate(days):
        led.append(_random_entry(rng, d, f"r{i}"), f"r{i}")
    opened: list[str] = []
    for name in ("scan_parquet", "read_parquet"):
        real = getattr(pl, name)

        def spy(source, *a, _real=real, **k):
            opened.append(Path(source).parent.name)
            return _real(source, *a, **k)

        monkeypatch.setattr(pl, name, spy)
    led.prior(days[-1] + timedelta(days=1))  # the next day: the last snapshot alone
    assert opened == ["snapshots"]
    opened.clear()
    led.prior(days[-1])  # a re-run of the last day: the snapshot before it and its entry
    assert opened.count("snapshots") == 1 and 0 < opened.count("entries") <= 2
