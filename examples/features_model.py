"""Is features.parquet useful beyond the flags? A gradient-boosted model against the rules.

    pip install -e '.[model]'
    python examples/features_model.py [--accounts 20000] [--train-seed 11] [--test-seed 12]

Generates two worlds of different seeds, scans both with the default policy, and trains
scikit-learn's ``HistGradientBoostingClassifier`` on the feature table of the first to tell
accounts carrying a planted risky pattern (``graphrisk.patterns``, kind ``planted``) from
the rest (clean accounts and legitimate look-alikes). It then scores the second world three
ways and prints ROC AUC and precision among the top 1% of accounts:

* **rules**: the scan alone, accounts ordered by the highest severity of their flags, then by
  how many flags they have (no model);
* **model**: the model on the bureau-style and graph figures only (every ``flags_*`` column
  and ``max_severity`` left out: what a lender's own model would see without our rules);
* **both**: the model on every column, the flags included.

The worlds come from graphrisk's own generator, so the figures say how much the feature table
carries on one model of borrowers, not on a real book.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import polars as pl


def _scan(accounts: int, seed: int, root: Path) -> tuple[pl.DataFrame, np.ndarray]:
    import graphrisk
    from graphrisk.generate import generate_world
    from graphrisk.patterns import PATTERNS

    world = root / f"world_{seed}"
    generate_world(world, accounts=accounts, seed=seed)
    result = graphrisk.scan(world)
    labels = pl.read_parquet(world / "labels.parquet")
    planted = [p for p, v in PATTERNS.items() if v.kind == "planted"]
    risky = labels.filter(pl.col("pattern").is_in(planted))["account_id"].unique()
    y = result.features["account_id"].is_in(risky.implode()).to_numpy().astype(int)
    return result.features, y


def _precision_at(scores: np.ndarray, y: np.ndarray, share: float) -> float:
    k = max(1, round(share * y.size))
    top = np.argsort(-scores, kind="stable")[:k]
    return float(y[top].mean())


def main(argv: list[str] | None = None) -> int:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--accounts", type=int, default=20_000)
    ap.add_argument("--train-seed", type=int, default=11)
    ap.add_argument("--test-seed", type=int, default=12)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        train, y_train = _scan(args.accounts, args.train_seed, Path(tmp))
        test, y_test = _scan(args.accounts, args.test_seed, Path(tmp))
    # label columns become numbers (income_source: 1 declared, 0 observed, null unknown)
    train, test = (
        df.with_columns(
            [
                (pl.col(c) == "declared").cast(pl.Float64).alias(c)
                for c, t in df.schema.items()
                if t == pl.String and c != "account_id"
            ]
        )
        for df in (train, test)
    )
    rule_cols = [c for c in train.columns if c.startswith("flags_")] + ["max_severity"]
    figures = [c for c in train.columns if c != "account_id" and c not in rule_cols]
    every = figures + rule_cols
    rules = (
        test["max_severity"].cast(pl.Float64) * 100
        + test.select(pl.sum_horizontal([c for c in rule_cols if c != "max_severity"]))
        .to_series()
        .cast(pl.Float64)
    ).to_numpy()
    rows = [("rules (max severity, then flag count)", rules)]
    for name, cols in (("model on the figures only", figures), ("model on everything", every)):
        model = HistGradientBoostingClassifier(random_state=0, max_iter=200)
        model.fit(train.select(cols).to_numpy(), y_train)
        rows.append((name, model.predict_proba(test.select(cols).to_numpy())[:, 1]))
    print(
        f"train: {args.accounts:,} accounts, seed {args.train_seed}, {int(y_train.sum()):,} "
        f"risky; test: seed {args.test_seed}, {int(y_test.sum()):,} risky "
        f"({y_test.mean():.1%}); {len(figures)} figure columns, {len(rule_cols)} flag columns"
    )
    print()
    print("| scored by | ROC AUC | precision, top 1% | precision, top 2% |")
    print("|---|---:|---:|---:|")
    for name, s in rows:
        print(
            f"| {name} | {roc_auc_score(y_test, s):.4f} | {_precision_at(s, y_test, 0.01):.3f}"
            f" | {_precision_at(s, y_test, 0.02):.3f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
