"""Time ``Ledger.prior()`` on a ledger of many daily entries, against reading every entry.

    python -m benchmarks.ledger DIR [--entries 200] [--accounts 100000] [--repeat 3]

``DIR/L`` is built once with the ledger's own ``append`` (reused when ``DIR/DONE`` exists):
``--entries`` daily entries of ``--accounts`` accounts, each the decisions of a seeded
scan in which about 4% of the accounts are flagged, the state of one entry feeding the next
as in a real ledger. Then ``prior(as_of)`` is timed for the day after the last entry, a
re-run of the last day and a day in mid-history (best of ``--repeat``), and so is the
baseline in the same run: every entry read and the latest state per account kept (what a
ledger without snapshots has to do). Nothing is written outside ``DIR``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from graphrisk.decisions import FLAG_COLUMNS, PRIOR_SCHEMA, decide_with_trace
from graphrisk.ledger import Ledger, entry
from graphrisk.policy import Policy

T0 = datetime(2025, 6, 1, 23, 59, 59, 999999)


def frames(accounts: int, kinds: int, seed: int = 1) -> list[pl.DataFrame]:
    """``kinds`` distinct ledger entries of ``accounts`` accounts, about 4% flagged each."""
    rng = random.Random(seed)
    ids = [f"acc{i:07d}" for i in range(accounts)]
    limits = [float(rng.choice([0, 5e3, 1e4, 2e4])) for _ in ids]
    acc = pl.DataFrame({"account_id": ids, "credit_limit": limits})
    codes = ["MULTI_LENDER", "LOAN_STACKING", "TRANSFER_CYCLE"]
    out: list[pl.DataFrame] = []
    prior = None
    for k in range(kinds):
        as_of = T0 + timedelta(days=k)
        hit = rng.sample(ids, accounts // 25)
        flags = pl.DataFrame(
            {
                "account_id": hit,
                "code": [rng.choice(codes) for _ in hit],
                "severity": [rng.choice([2, 3]) for _ in hit],
                "score": [1.0] * len(hit),
                "evidence": ["{}"] * len(hit),
                "window_start": [as_of - timedelta(days=5)] * len(hit),
                "window_end": [as_of - timedelta(days=1)] * len(hit),
            },
            schema=FLAG_COLUMNS,
        )
        d, t = decide_with_trace(acc, flags, Policy.default(), as_of, f"bench{k:04d}", prior)
        out.append(entry(d, t))
        state = pl.col("reference_limit", "last_cut_at", "last_bad_at").is_not_null()
        prior = (
            out[-1]
            .filter(pl.any_horizontal(state))
            .rename({"limit_after": "current_limit"})
            .select(list(PRIOR_SCHEMA))
        )
    return out


def build(path: Path, entries: int, accounts: int) -> Ledger:
    """The benchmark ledger ``path/L`` (built once)."""
    led = Ledger(path / "L")
    if (path / "DONE").exists():
        return led
    shutil.rmtree(path / "L", ignore_errors=True)
    base = frames(accounts, 10)
    t = time.perf_counter()
    for day in range(entries):
        as_of = T0 + timedelta(days=day)
        run_id = f"{day:016x}"
        e = base[day % len(base)].with_columns(
            pl.lit(as_of).alias("as_of"), pl.lit(run_id).alias("run_id")
        )
        led.append(e, run_id)
    took = time.perf_counter() - t
    print(
        f"built {entries} entries x {accounts} accounts: {took:.1f} s, {took / entries:.3f} s/append"
    )
    (path / "DONE").write_text("ok")
    return led


def read_everything(led: Ledger, as_of: datetime) -> pl.DataFrame:
    """Baseline: every entry before ``as_of`` read, the latest row per account kept."""
    files = [str(p) for p in led.files()]
    return (
        pl.scan_parquet(files, include_file_paths="file")
        .filter(pl.col("as_of") < as_of)
        .sort("as_of", "file", maintain_order=True)
        .group_by("account_id")
        .last()
        .collect()
    )


def best_of(repeat: int, fn) -> tuple[float, pl.DataFrame]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    assert out is not None
    return best, out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--entries", type=int, default=200)
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    led = build(a.dir, a.entries, a.accounts)
    size = sum(p.stat().st_size for p in (a.dir / "L").rglob("*") if p.is_file())
    print(f"ledger: {len(led.files())} entries, {size / 1e6:.0f} MB on disk")
    last = T0 + timedelta(days=a.entries - 1)
    cases = (
        ("next day", last + timedelta(days=1)),
        ("re-run of the last day", last),
        ("mid-history", T0 + timedelta(days=a.entries // 2)),
    )
    for label, as_of in cases:
        ours, p = best_of(a.repeat, lambda as_of=as_of: led.prior(as_of))
        base, _ = best_of(a.repeat, lambda as_of=as_of: read_everything(led, as_of))
        print(
            f"prior({label}): {ours:.3f} s, read every entry: {base:.3f} s,"
            f" ratio {base / ours:.0f}x; {p.height} accounts with state"
        )


if __name__ == "__main__":
    main()
