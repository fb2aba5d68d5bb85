#!/usr/bin/env bash
# Set up a fresh machine for headstart: virtualenv, torch, the package, Fashion-MNIST.
# Idempotent: a second run only checks. Used by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${HEADSTART_VENV:-.venv}
PY=${PYTHON:-python3}
EXTRAS=${1:-}   # e.g. "test" for the test dependencies

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtualenv $VENV"
  "$PY" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
pip() { python -m pip --disable-pip-version-check -q "$@" 2>&1 | grep -v "is ignored" || true; }

# torch first, pinned to the platform's build (see README, "Platform notes")
if ! python -c "import torch, torchvision" 2>/dev/null; then
  echo "[setup] installing torch ${TORCH_VERSION:=2.14.1} torchvision ${TORCHVISION_VERSION:=0.29.1}"
  pip install "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
fi
stamp="$VENV/.headstart-installed-$EXTRAS"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] installing headstart${EXTRAS:+[$EXTRAS]}"
  pip install -e ".${EXTRAS:+[$EXTRAS]}"
  python -c "import headstart, torch, lightning" && touch "$stamp"
fi

# Fashion-MNIST: the Debian package when we are root; else headstart downloads it on first use.
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${HEADSTART_DATA:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[setup] installing dataset-fashion-mnist (apt)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) >/dev/null \
      || echo "[setup] apt could not install dataset-fashion-mnist; headstart will try torchvision's download"
  else
    echo "[setup] Fashion-MNIST not installed; headstart will download it on first use" \
         "(offline: run 'sudo apt-get install dataset-fashion-mnist')"
  fi
fi
