#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine with Python 3.11, then run it.
# Idempotent: a second run reuses .venv. Exit status is pytest's (non-zero when a test fails).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test,spark]'
bash scripts/ensure_chromium.sh
bash scripts/ensure_java.sh
.venv/bin/ruff check graphrisk tests benchmarks scripts examples
.venv/bin/ruff format --check graphrisk tests benchmarks scripts examples
.venv/bin/python -m pytest "$@"
