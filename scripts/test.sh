#!/usr/bin/env bash
# Set up everything and run the whole test suite: lint, unit + server tests, browser tests.
# Extra arguments go to both pytest runs (e.g. -k export -x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
VENV=${WORKBENCH_VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
export TF_ENABLE_ONEDNN_OPTS=0 TF_CPP_MIN_LOG_LEVEL=2 PYTHONDONTWRITEBYTECODE=1

# Debian packages: chromium (browser tests), fuse3 (FUSE mounts), samba (a real SMB server).
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v fusermount3 >/dev/null || need+=(fuse3)
command -v smbd >/dev/null || need+=(samba)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo ">> installing Debian packages: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing Debian packages: run 'sudo apt-get install -y ${need[*]}'" >&2
    exit 1
  fi
fi
# Real py3/tf2 environments are created by the tests; keep them between runs on this machine.
export JUPYTER_WORKBENCH_TEST_ENVS=${JUPYTER_WORKBENCH_TEST_ENVS:-$HOME/.cache/jupyter-workbench/test-envs}

echo ">> lint"
ruff format --check .
ruff check .
(cd labextension && jlpm lint:check)

echo ">> unit and server tests"
pytest tests/unit tests/server -p no:cacheprovider "$@"
echo ">> browser tests"
pytest tests/ui -p no:cacheprovider "$@"
