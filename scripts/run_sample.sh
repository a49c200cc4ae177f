#!/usr/bin/env bash
# Set up graphrisk in .venv, scan the shipped sample world, and score the run against its labels.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e .
.venv/bin/graphrisk scan datasets/sample --out runs/sample "$@"
.venv/bin/graphrisk evaluate runs/sample --labels datasets/sample/labels.parquet
