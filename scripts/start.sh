#!/usr/bin/env bash
# Set up everything and start JupyterLab with the workbench on 127.0.0.1 (no cloud account needed).
# The notebook root is ./workspace (WORKBENCH_ROOT to change it); extra args go to `jupyter lab`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${WORKBENCH_VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
export TF_ENABLE_ONEDNN_OPTS=0 TF_CPP_MIN_LOG_LEVEL=2
ROOT=${WORKBENCH_ROOT:-$PWD/workspace}
mkdir -p "$ROOT"
ARGS=(--ip=127.0.0.1 --ServerApp.root_dir="$ROOT" --no-browser)
[ "$(id -u)" = 0 ] && ARGS+=(--allow-root)
exec jupyter lab "${ARGS[@]}" "$@"
