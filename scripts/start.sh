#!/usr/bin/env bash
# Set up everything and start JupyterLab with the workbench on 127.0.0.1 (no cloud account needed):
#  - the virtualenv, TensorFlow and the built frontend (scripts/setup.sh),
#  - the py3 and tf2 environments as kernels (created once, ~1.5 min; then instant),
#  - a demo OSS-protocol emulator on 127.0.0.1 with a bucket "demo" to try "Mount OSS".
# The notebook root is ./workspace (WORKBENCH_ROOT to change it); extra args go to `jupyter lab`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${WORKBENCH_VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
export TF_ENABLE_ONEDNN_OPTS=0 TF_CPP_MIN_LOG_LEVEL=2
ROOT=${WORKBENCH_ROOT:-$PWD/workspace}
mkdir -p "$ROOT"

echo ">> environments py3 and tf2 (idempotent)"
jupyter workbench env create py3
jupyter workbench env create tf2

# The demo object store keeps its data beside the workspace, on a fixed port when it is free.
PORT=${WORKBENCH_DEMO_OSS_PORT:-9876}
python - "$PORT" <<'PY' || PORT=0
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
PY
LOG="$ROOT/.oss-demo.log"
jupyter workbench oss-emulator --port "$PORT" --root "$PWD/.oss-demo" >"$LOG" 2>&1 &
EMULATOR=$!
trap 'kill $EMULATOR 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q "listening on" "$LOG" && break; sleep 0.2; done
echo ">> demo object storage (try Workbench sidebar > Mounts > OSS with these):"
sed 's/^/   /' "$LOG"

ARGS=(--ip=127.0.0.1 --ServerApp.root_dir="$ROOT" --no-browser)
[ "$(id -u)" = 0 ] && ARGS+=(--allow-root)
jupyter lab "${ARGS[@]}" "$@"
