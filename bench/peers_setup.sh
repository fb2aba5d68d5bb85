#!/usr/bin/env bash
# Set up the peers' virtualenv for bench/peers.py: lightly-train and lightly from PyPI, with the
# same torch/torchvision as headstart's venv, in bench/.peers-venv (ignored by git; not a
# dependency of headstart). Usage: bash bench/peers_setup.sh [python]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.peers-venv"
python="${1:-python3.11}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
    echo '*' > "$venv/.gitignore"   # the venv ignores itself
fi
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install "torch==2.14.1" "torchvision==0.29.1" lightly-train lightly
"$venv/bin/python" - <<'PY'
from importlib.metadata import version
for name in ("torch", "torchvision", "lightly", "lightly-train", "pytorch-lightning"):
    print(f"{name} {version(name)}")
PY
