"""The whole-vs-sharded benchmark's own correctness (not timings): it runs both scans of one
real generated world in fresh subprocesses, finds them equal and writes its README table."""

from __future__ import annotations

import json

from benchmarks import runner


def test_sharded_benchmark_runs_both_scans_and_writes_the_table(tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- sharded:start -->\nold\n<!-- sharded:end -->\nrest\n")
    out = tmp_path / "results.json"
    args = ["--sharded", "300", "--sizes", "2000", "--seed", "5", "--workdir", str(tmp_path)]
    assert runner.main([*args, "--out", str(out), "--readme", str(readme)]) == 0
    res = json.loads(out.read_text())["sharded"]["sizes"]["2k"]
    assert res["same"] == "yes"
    assert res["whole"]["run_id"] == res["sharded"]["run_id"]
    assert res["sharded"]["shards"]["shards"] >= 2
    assert res["whole"]["shards"] is None
    assert any(r["stage"] == "plan" for r in res["sharded"]["stages"])
    text = readme.read_text()
    assert "old" not in text and text.startswith("intro\n") and text.endswith("rest\n")
    assert "| 2k | whole | 1 |" in text and "| 2k | shards of 300 |" in text
