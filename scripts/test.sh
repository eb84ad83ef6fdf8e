#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up .venv, lint, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
# the class report is checked in a real headless browser (tests/test_report.py)
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[test] installing chromium (Debian) for the report test"
    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) ||
        echo "[test] could not install chromium: tests/test_report.py will fail" >&2
fi
echo "[test] ruff"
ruff check .
ruff format --check .
echo "[test] pytest"
# two workers (pytest-xdist), each test file on one of them (its module's fixtures made once)
python -m pytest -n "${UNET_TP_TEST_WORKERS:-2}" --dist loadfile "$@"
