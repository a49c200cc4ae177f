"""External check on IBM AMLSim data (``datasets/amlsim``, see its README).

Targets (issue 11): members of AMLSim ``cycle`` alerts whose loop closes in the data flagged
TRANSFER_CYCLE with recall >= 0.95, ``scatter_gather`` members flagged SCATTER_GATHER with
recall >= 0.9 by the default policy, and at most 1% of ``clean`` accounts carrying any
transfer code. In the ``1K`` set one of the four
cycle alerts (7 of its 29 members) never closes: its last hop is missing from AMLSim's output
(the account it should return to receives no transfer in two years), so no cycle search can
find it. Recall there is asserted over the members of alerts whose loop is closed in the data
(found from the transfers among the labelled members, not from ids), and the raw recall is
asserted at that ceiling (22 / 29).
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import polars as pl
import pytest

from graphrisk.context import ScanContext
from graphrisk.detectors import REGISTRY
from graphrisk.io import load

DATA = Path(__file__).resolve().parents[1] / "datasets" / "amlsim"
TRANSFER_CODES = {
    "TRANSFER_CYCLE",
    "SCATTER_GATHER",
    "FAN_OUT_AFTER_LOAN",
    "FAN_IN_COLLECTOR",
    "ASSOCIATED_TRANSFER",
}
DETECTORS = ["transfer_cycle", "scatter_gather", "fan_out_after_loan", "fan_in_collector",
             "associated_transfer"]  # fmt: skip


def _scan(name: str) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    path = DATA / name
    if not (path / "labels.parquet").exists():
        pytest.fail(f"AMLSim data missing: {path} (shipped in datasets/amlsim)")
    tables = load(path)
    ctx = ScanContext.build(tables, lookback_days=800)
    flags = pl.concat(
        [REGISTRY[d]().detect(ctx).flags for d in DETECTORS if d in REGISTRY], how="vertical"
    )
    return pl.read_parquet(path / "labels.parquet"), flags, ctx.transfers


def _closed_cycle_members(labels: pl.DataFrame, transfers: pl.DataFrame) -> set[str]:
    """Cycle-labelled accounts on a directed loop of transfers among cycle-labelled accounts."""
    members = labels.filter(pl.col("pattern") == "cycle")["account_id"]
    inner = transfers.filter(
        pl.col("src_account").is_in(members.implode())
        & pl.col("dst_account").is_in(members.implode())
    )
    g = nx.DiGraph(inner.select("src_account", "dst_account").rows())
    return {n for comp in nx.strongly_connected_components(g) if len(comp) > 1 for n in comp}


@pytest.mark.parametrize(("name", "raw_floor"), [("typologies", 0.8), ("1K", 22 / 29)])
def test_amlsim_cycles_found_and_clean_accounts_kept(name, raw_floor):
    labels, flags, transfers = _scan(name)
    cycle = set(labels.filter(pl.col("pattern") == "cycle")["account_id"])
    hit = set(flags.filter(pl.col("code") == "TRANSFER_CYCLE")["account_id"])
    closed = _closed_cycle_members(labels, transfers)
    assert len(closed) >= 0.7 * len(cycle)
    assert len(closed & hit) / len(closed) >= 0.95, sorted(closed - hit)
    assert len(cycle & hit) / len(cycle) >= raw_floor - 1e-9
    clean = set(labels.filter(pl.col("pattern") == "clean")["account_id"])
    coded = set(flags.filter(pl.col("code").is_in(list(TRANSFER_CODES)))["account_id"])
    assert len(clean & coded) / len(clean) <= 0.01, sorted(clean & coded)
    sg = set(labels.filter(pl.col("pattern") == "scatter_gather")["account_id"])
    if sg:
        found = set(flags.filter(pl.col("code") == "SCATTER_GATHER")["account_id"])
        assert len(sg & found) / len(sg) >= 0.9, sorted(sg - found)


def test_slow_tempo_finds_amlsim_scatter_gather():
    """AMLSim's scatter_gather spreads over weeks: the fast tempo (48 h / 3 days) misses it,
    the default's slow tempo (7 days / 21 days, named in the evidence) finds its members, as
    the ``policies/slow_layering.toml`` preset does, and clean accounts stay clean."""
    from graphrisk.policy import Policy

    preset = Path(__file__).resolve().parents[1] / "policies" / "slow_layering.toml"
    params = Policy.load(preset).detector("scatter_gather").get_params()
    path = DATA / "typologies"
    tables = load(path)
    ctx = ScanContext.build(tables, lookback_days=800)
    labels = pl.read_parquet(path / "labels.parquet")
    members = set(labels.filter(pl.col("pattern") == "scatter_gather")["account_id"])
    clean = set(labels.filter(pl.col("pattern") == "clean")["account_id"])
    flags = REGISTRY["scatter_gather"]().detect(ctx).flags
    default = set(flags["account_id"])
    fast = set(REGISTRY["scatter_gather"](slow_scatter_hours=0).detect(ctx).flags["account_id"])
    slow = set(REGISTRY["scatter_gather"](**params).detect(ctx).flags["account_id"])
    assert len(members & slow) / len(members) >= 0.9, sorted(members - slow)
    assert len(members & default) / len(members) >= 0.9, sorted(members - default)
    assert len(clean & (slow | default)) / len(clean) <= 0.01
    assert len(members & fast) < len(members & default)
    tempos = set(flags.filter(pl.col("account_id").is_in(list(members)))["evidence"]
                 .str.json_path_match("$.tempo"))  # fmt: skip
    assert tempos == {"slow"}
