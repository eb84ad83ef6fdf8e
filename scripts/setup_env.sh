# Sourced by demo.sh and test.sh: create .venv and install the kit (instructor side included).
# Re-installs only when pyproject.toml, setup.py or the constraints change.
set -euo pipefail
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.unet_tp_install_stamp
want=$(cat pyproject.toml setup.py constraints/ci.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "[setup] installing torch (pinned in constraints/ci.txt) and the kit, in place"
    # torch first and pinned: an unpinned torch would pull gigabytes of CUDA packages.
    .venv/bin/python -m pip install -q -c constraints/ci.txt torch torchvision
    .venv/bin/python -m pip install -q -c constraints/ci.txt -e ".[instructor,dev]"
    echo "$want" > "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
