"""The benchmark's world shapes and its yardstick (not timings): the high-cardinality shape
changes the clean accounts' logins only, deterministically, and the main run scans it,
reads the inputs alone beside each scan and writes the table."""

from __future__ import annotations

import json

import polars as pl

from benchmarks import runner
from benchmarks.worker import read_inputs
from benchmarks.worlds import CGNAT_BASE, CGNAT_SIZE, existing, high_cardinality, world_dir


def test_high_cardinality_shape_changes_only_clean_logins(tmp_path) -> None:
    src, _ = runner.ensure_world(tmp_path, 2000, 3)
    a = high_cardinality(src, tmp_path / "a", seed=3)
    high_cardinality(src, tmp_path / "b", seed=3)
    assert (tmp_path / "a" / "devices.parquet").read_bytes() == (
        tmp_path / "b" / "devices.parquet"
    ).read_bytes()
    assert existing(tmp_path / "a", 2000, 3, "hicard") is not None
    assert existing(tmp_path / "a", 2000, 3) is None  # the default shape is another world
    before = pl.read_parquet(src / "devices.parquet").with_row_index("i")
    after = pl.read_parquet(tmp_path / "a" / "devices.parquet").with_row_index("i")
    labels = pl.read_parquet(src / "labels.parquet")
    both = before.join(after, on="i", suffix="_new").join(labels, on="account_id")
    planted = both.filter(pl.col("pattern") != "clean")
    assert (
        planted.height
        and planted.filter(
            (pl.col("ip") != pl.col("ip_new")) | (pl.col("device_id") != pl.col("device_id_new"))
        ).is_empty()
    )
    clean = both.filter(pl.col("pattern") == "clean")
    assert (clean["account_id"] == clean["account_id_new"]).all()
    assert (clean["ts"] == clean["ts_new"]).all() and (clean["city"] == clean["city_new"]).all()
    moved = clean.filter(pl.col("ip") != pl.col("ip_new"))
    assert 0.6 < moved.height / clean.height < 0.8  # MOBILE_SHARE of the logins
    octets = moved["ip_new"].str.split(".").list.eval(pl.element().cast(pl.Int64))
    addr = octets.list.eval(
        pl.element().get(0) * 2**24
        + pl.element().get(1) * 2**16
        + pl.element().get(2) * 2**8
        + pl.element().get(3)
    ).list.first()
    assert ((addr >= CGNAT_BASE) & (addr < CGNAT_BASE + CGNAT_SIZE)).all()
    assert a["distinct_ips"] > 2 * before["ip"].n_unique()
    assert a["distinct_devices"] > 2 * before["device_id"].n_unique()
    # every other table is the source's, byte for byte
    for name in ("accounts", "loans", "transfers", "labels"):
        f = f"{name}.parquet"
        assert (tmp_path / "a" / f).read_bytes() == (src / f).read_bytes()
    assert read_inputs(tmp_path / "a")["rows"]["devices"] == after.height


def test_main_run_scans_each_shape_beside_reading_its_inputs(tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:start -->\nold\n<!-- results:end -->\nrest\n")
    out = tmp_path / "results.json"
    args = ["--sizes", "2000", "--baseline-sizes", "", "--profile-size", "none"]
    args += ["--shapes", "default,hicard", "--seed", "4", "--workdir", str(tmp_path)]
    assert runner.main([*args, "--out", str(out), "--readme", str(readme)]) == 0
    sizes = json.loads(out.read_text())["sizes"]
    assert set(sizes) == {"2k", "2k-hicard"}
    assert sizes["2k-hicard"]["world"]["path"] != sizes["2k"]["world"]["path"]
    assert world_dir(tmp_path, 2000, 4).name in sizes["2k-hicard"]["world"]["path"]
    for e in sizes.values():
        logins = pl.scan_parquet(f"{e['world']['path']}/devices.parquet").select(pl.len())
        assert e["read"]["rows"]["devices"] == logins.collect().item()
        assert e["read"]["rows"]["devices"] >= e["scan"]["rows"]["devices"]  # the window's
        assert "labels" not in e["read"]["rows"]
        assert e["read"]["seconds"] > 0 and e["read"]["peak_rss_mb"] > 0
    assert sizes["2k-hicard"]["scan"]["run_id"] != sizes["2k"]["scan"]["run_id"]
    text = readme.read_text()
    assert "| 2k-hicard |" in text and "x read (s)" in text
