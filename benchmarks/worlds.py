"""Synthetic worlds for the benchmark, generated once per (accounts, seed) and reused."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

MARKER = "world.json"


def world_dir(workdir: Path, accounts: int, seed: int) -> Path:
    """``WORKDIR/accounts_N_seed_S`` (run directories and profiles go beside it)."""
    return workdir / f"accounts_{accounts}_seed_{seed}"


def existing(path: Path, accounts: int, seed: int) -> dict[str, Any] | None:
    """The marker of a complete world at ``path`` with this size and seed, else ``None``."""
    try:
        meta = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("accounts") == accounts and meta.get("seed") == seed:
        return meta
    return None


def generate(path: Path, accounts: int, seed: int) -> dict[str, Any]:
    """Generate (or replace) a world and write its marker last, so a half world is never reused."""
    from graphrisk.generate import generate_world

    t = time.perf_counter()
    counts = generate_world(path, accounts=accounts, seed=seed)
    meta = {
        "accounts": accounts,
        "seed": seed,
        "counts": counts,
        "generate_seconds": round(time.perf_counter() - t, 2),
    }
    (path / MARKER).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
