#!/usr/bin/env bash
# Set up everything the workbench needs, idempotently: a virtualenv (.venv by default) with
# JupyterLab, TensorFlow CPU and this package (editable), and the built frontend.
#   scripts/setup.sh          runtime only
#   scripts/setup.sh --test   plus the test tools
# Each step records a fingerprint of its inputs in the venv and is skipped when nothing changed,
# so that `make start` on a set-up checkout goes straight to JupyterLab (WORKBENCH_FORCE_SETUP=1
# redoes everything).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${WORKBENCH_VENV:-.venv}
PY=${PYTHON:-python3}
EXTRAS=""
[ "${1:-}" = "--test" ] && EXTRAS="[test]"

if [ ! -x "$VENV/bin/python" ]; then
  echo ">> creating virtualenv $VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
export PATH="$PWD/$VENV/bin:$PATH"
pipq() { pip install -q --disable-pip-version-check "$@" 2>&1 | grep -v '^WARNING: Location' || true; }
STAMPS="$VENV/.workbench-setup"
mkdir -p "$STAMPS"
# fingerprint FILE...: one hash over the names and contents of the given files/directories.
fingerprint() {
  { find "$@" -type f -not -path '*/node_modules/*' -print0 2>/dev/null | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -d' ' -f1
}
# fresh STEP HASH: true when STEP already ran with these inputs.
fresh() { [ -z "${WORKBENCH_FORCE_SETUP:-}" ] && [ "$(cat "$STAMPS/$1" 2>/dev/null)" = "$2" ]; }

PY_INPUTS=$(fingerprint pyproject.toml scripts/setup.sh)
# The test set-up includes the runtime one.
PY_STEP=python-runtime
[ -n "$EXTRAS" ] && PY_STEP=python-test
python_fresh() { fresh "$PY_STEP" "$PY_INPUTS" || { [ -z "$EXTRAS" ] && fresh python-test "$PY_INPUTS"; }; }
if python_fresh; then
  echo ">> Python packages: up to date"
else
  echo ">> Python build tools and TensorFlow (CPU)"
  pipq "hatchling>=1.21" "hatch-jupyter-builder>=0.9" "jupyter_builder>=1.2" editables "tensorflow-cpu==2.21.0"
  # Legacy Keras 2 for .h5 files; --no-deps, or it pulls the full tensorflow wheel (docs/pitfalls.md).
  python -c "import tf_keras" 2>/dev/null || pipq --no-deps "tf_keras==2.21.0"
  # The model server's protos (jupyter workbench serve); --no-deps for the same reason.
  python -c "import tensorflow_serving.apis" 2>/dev/null || pipq --no-deps "tensorflow-serving-api==2.21.0"
fi

FE_INPUTS=$(fingerprint labextension/package.json labextension/yarn.lock labextension/tsconfig.json \
  labextension/src labextension/style labextension/schema)
if fresh frontend "$FE_INPUTS" && [ -f jupyter_workbench/labextension/package.json ]; then
  echo ">> frontend: up to date"
else
  echo ">> frontend (jlpm install + build)"
  (cd labextension && jlpm install --immutable >/dev/null && jlpm build)
  echo "$FE_INPUTS" >"$STAMPS/frontend"
fi

if python_fresh; then
  echo ">> jupyter-workbench$EXTRAS: up to date"
else
  echo ">> jupyter-workbench$EXTRAS (editable)"
  pipq --no-build-isolation -e ".$EXTRAS"
  # Tests: the current OSS SDK signs the emulator's V4 like oss2. --no-deps: it needs only
  # requests and crcmod (oss2's), and its crcmod-plus would overwrite crcmod's files.
  if [ -n "$EXTRAS" ]; then
    python -c "import alibabacloud_oss_v2" 2>/dev/null || pipq --no-deps "alibabacloud-oss-v2==1.4.1"
  fi
  # jsonschema (through jupyter-events' jsonschema[format-nongpl]) imports rfc3987-syntax when
  # it is installed, which builds a Lark grammar at import: ~1.2 s of CPU in every Jupyter
  # process (each server, each notebook job, each test worker). It only checks the "iri"
  # formats, which no Jupyter schema uses (they use uri and date-time); docs/pitfalls.md.
  pip uninstall -y -q rfc3987-syntax 2>/dev/null || true
  python -c "import jupyter_workbench, tensorflow" >/dev/null 2>&1 || { echo "setup failed: the venv cannot import jupyter_workbench and tensorflow" >&2; exit 1; }
  ext=$(jupyter server extension list 2>&1)
  grep -qE "jupyter_workbench .*OK" <<<"$ext" || { echo "setup failed: server extension not OK" >&2; echo "$ext" >&2; exit 1; }
  echo "$PY_INPUTS" >"$STAMPS/$PY_STEP"
fi
echo ">> setup done"
