#!/usr/bin/env bash
# Set up (if needed) and run the default test suite (slow and GPU tests are opt-in: -m slow / -m gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# headless Chromium for the report test (root only; the test says what to install otherwise)
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[setup] installing chromium (apt) for the report rendering test"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null || true
fi
. "${HEADSTART_VENV:-.venv}/bin/activate"
exec python -m pytest -q "$@"
