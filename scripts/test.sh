#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up .venv, lint, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
echo "[test] ruff"
ruff check .
ruff format --check .
echo "[test] pytest"
python -m pytest "$@"
