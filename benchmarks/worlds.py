"""Synthetic worlds for the benchmark, generated once per (accounts, seed) and reused."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

MARKER = "world.json"


def world_dir(workdir: Path, accounts: int, seed: int) -> Path:
    """``WORKDIR/accounts_N_seed_S`` (run directories and profiles go beside it)."""
    return workdir / f"accounts_{accounts}_seed_{seed}"


def existing(path: Path, accounts: int, seed: int, shape: str = "default") -> dict[str, Any] | None:
    """The marker of a complete world at ``path`` with this size, seed and shape, else ``None``."""
    try:
        meta = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (meta.get("accounts"), meta.get("seed"), meta.get("shape", "default")) == (
        accounts,
        seed,
        shape,
    ):
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


#: World shapes the benchmark can scan: the generator's own, and ``hicard`` (see
#: :func:`high_cardinality`).
SHAPES = ("default", "hicard")
#: ``hicard``: share of a clean account's logins from a carrier address, and the days after
#: which its app reports a new device id.
MOBILE_SHARE, DEVICE_DAYS = 0.7, 60
#: Carrier-grade NAT (100.64.0.0/10, RFC 6598): 4,194,304 addresses, shared by chance.
CGNAT_BASE, CGNAT_SIZE = (100 << 24) | (64 << 16), 1 << 22


def shaped_dir(workdir: Path, accounts: int, seed: int, shape: str) -> Path:
    """Where a world of ``shape`` goes (the default shape's folder has no suffix)."""
    base = world_dir(workdir, accounts, seed)
    return base if shape == "default" else base.with_name(f"{base.name}_{shape}")


def high_cardinality(src: Path, dst: Path, seed: int) -> dict[str, Any]:
    """The world at ``src`` with logins of many more distinct devices and addresses, at ``dst``.

    The generator gives each account one home address and a device or two, so a 1M-account
    book has about 1.4M distinct devices and 1.6M addresses in 15.7M logins. Books seen in
    the field have many more: phones on mobile data log in from carrier addresses that
    change every session (and are shared, by chance, by strangers behind one carrier NAT),
    and apps report a new device id after a reinstall or a phone change. Here every login of
    an account labelled ``clean`` comes, with probability :data:`MOBILE_SHARE`, from a random
    address of 100.64.0.0/10 (same city), and its device id gets the number of its
    :data:`DEVICE_DAYS`-day period appended. Planted patterns and look-alikes keep their
    logins exactly, so the labels still hold. Deterministic in ``seed``; the marker is
    written last.
    """
    import shutil

    import numpy as np
    import polars as pl

    t = time.perf_counter()
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        if f.name in ("devices.parquet", MARKER) or not f.is_file():
            continue
        try:
            os.link(f, dst / f.name)
        except OSError:
            shutil.copy2(f, dst / f.name)
    clean = pl.read_parquet(src / "labels.parquet").filter(pl.col("pattern") == "clean")
    dev = pl.read_parquet(src / "devices.parquet")
    rng = np.random.default_rng(seed)
    mobile = pl.Series(rng.random(dev.height) < MOBILE_SHARE)
    addr = pl.Series(CGNAT_BASE + rng.integers(0, CGNAT_SIZE, dev.height, dtype=np.int64))
    dotted = pl.concat_str(
        [((addr // (1 << s)) % 256).cast(pl.String) for s in (24, 16, 8, 0)], separator="."
    )
    period = (pl.col("ts").dt.epoch("d") // DEVICE_DAYS).cast(pl.String)
    is_clean = pl.col("account_id").is_in(clean["account_id"].implode())
    out = dev.with_columns(
        pl.when(is_clean & mobile).then(dotted).otherwise(pl.col("ip")).alias("ip"),
        pl.when(is_clean)
        .then(pl.concat_str([pl.col("device_id"), pl.lit("-"), period]))
        .otherwise(pl.col("device_id"))
        .alias("device_id"),
    )
    out.write_parquet(dst / "devices.parquet", statistics=True)
    meta = json.loads((src / MARKER).read_text(encoding="utf-8"))
    distinct = out.select(pl.col("device_id").n_unique(), pl.col("ip").n_unique()).row(0)
    meta |= {
        "shape": "hicard",
        "logins": out.height,
        "distinct_devices": distinct[0],
        "distinct_ips": distinct[1],
        "derived_from": str(src),
        "derive_seconds": round(time.perf_counter() - t, 2),
    }
    (dst / MARKER).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
