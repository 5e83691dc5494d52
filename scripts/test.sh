#!/usr/bin/env bash
# Set up everything and run the whole test suite: lint, unit + server tests, browser tests.
# Extra arguments go to both pytest runs (e.g. -k export -x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
VENV=${WORKBENCH_VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
export TF_ENABLE_ONEDNN_OPTS=0 TF_CPP_MIN_LOG_LEVEL=2 PYTHONDONTWRITEBYTECODE=1

if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo ">> installing Debian chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing: run 'sudo apt-get install -y chromium'" >&2
    exit 1
  fi
fi

echo ">> lint"
ruff format --check .
ruff check .
(cd labextension && jlpm lint:check)

echo ">> unit and server tests"
pytest tests/unit tests/server -p no:cacheprovider "$@"
echo ">> browser tests"
pytest tests/ui -p no:cacheprovider "$@"
