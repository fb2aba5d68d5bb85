#!/usr/bin/env bash
# Set up a fresh machine for headstart: virtualenv, torch, the package, Fashion-MNIST and the
# fortunes text corpora. Idempotent: a second run only checks. Used by scripts/demo.sh and
# scripts/test.sh. Any failed step stops it with a message and a non-zero exit.
#
#   bash scripts/setup.sh [EXTRAS]     e.g. "test" for the test dependencies
#   HEADSTART_TORCH_INDEX=URL          an extra pip index for torch (e.g. a CPU-only build);
#                                      without it only the configured pip index is contacted
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${HEADSTART_VENV:-.venv}
PY=${PYTHON:-python3}
EXTRAS=${1:-}

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtualenv $VENV"
  "$PY" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"

# pip without its noise; a failure stops the set-up with pip's own exit status
pip() {
  local rc=0
  python -m pip --disable-pip-version-check -q "$@" 2>&1 | { grep -v "is ignored" || true; } || rc=$?
  if [ "$rc" != 0 ]; then
    echo "[setup] error: 'pip $*' failed (exit $rc); see its messages above" >&2
    exit "$rc"
  fi
}

# torch first, pinned to the platform's build (see README, "Platform notes")
if ! python -c "import torch, torchvision" 2>/dev/null; then
  : "${TORCH_VERSION:=2.14.1}" "${TORCHVISION_VERSION:=0.29.1}"
  index=()
  if [ -n "${HEADSTART_TORCH_INDEX:-}" ]; then
    index=(--extra-index-url "$HEADSTART_TORCH_INDEX")
    build="the build of $HEADSTART_TORCH_INDEX (or of the configured index, whichever is newer)"
  elif command -v nvidia-smi >/dev/null; then
    build="the configured pip index's build (a GPU was found: nvidia-smi)"
  else
    build="the configured pip index's build; no GPU was found (no nvidia-smi), and that build may bundle \
CUDA libraries (about 3 GB) — for the CPU-only build set HEADSTART_TORCH_INDEX to a CPU index, e.g. \
https://download.pytorch.org/whl/cpu, and remove $VENV"
  fi
  echo "[setup] installing torch $TORCH_VERSION torchvision $TORCHVISION_VERSION: $build"
  pip install "${index[@]}" "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
  python -c "import torch; print('[setup] torch', torch.__version__, '(CUDA', torch.version.cuda, ')')"
fi
stamp="$VENV/.headstart-installed-$EXTRAS"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] installing headstart${EXTRAS:+[$EXTRAS]}"
  pip install -e ".${EXTRAS:+[$EXTRAS]}"
  python -c "import headstart, torch, lightning"
  touch "$stamp"
fi

# Data from Debian packages when we are root (one apt-get update for all); else say what is missing.
# Fashion-MNIST without its package: headstart downloads it on first use.
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
wanted=()
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${HEADSTART_DATA:-}" ]; then
  wanted+=(dataset-fashion-mnist)
fi
for pkg in fortunes fortunes-de fortunes-es fortunes-it fortunes-pl fortunes-ru fortunes-cs fortunes-br; do
  if command -v dpkg-query >/dev/null && ! installed "$pkg"; then wanted+=("$pkg"); fi
done
if [ ${#wanted[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[setup] installing ${wanted[*]} (apt)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${wanted[@]}") >/dev/null \
      || echo "[setup] apt could not install ${wanted[*]}; Fashion-MNIST falls back to torchvision's download," \
              "the text corpora under /usr/share/games/fortunes stay missing" >&2
  else
    echo "[setup] not installed: ${wanted[*]} (as root: apt-get install ${wanted[*]})"
  fi
fi
echo "[setup] done"
