#!/usr/bin/env bash
# Set up everything the workbench needs, idempotently: a virtualenv (.venv by default) with
# JupyterLab, TensorFlow CPU and this package (editable), and the built frontend.
#   scripts/setup.sh          runtime only
#   scripts/setup.sh --test   plus the test tools
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

echo ">> Python build tools and TensorFlow (CPU)"
pipq "hatchling>=1.21" "hatch-jupyter-builder>=0.9" "jupyter_builder>=1.2" editables "tensorflow-cpu==2.21.0"
# Legacy Keras 2 for .h5 files; --no-deps, or it pulls the full tensorflow wheel (FACTS.md).
python -c "import tf_keras" 2>/dev/null || pipq --no-deps "tf_keras==2.21.0"

echo ">> frontend (jlpm install + build)"
(cd labextension && jlpm install --immutable >/dev/null && jlpm build)

echo ">> jupyter-workbench$EXTRAS (editable)"
pipq --no-build-isolation -e ".$EXTRAS"
python -c "import jupyter_workbench, tensorflow" >/dev/null 2>&1 || { echo "setup failed: the venv cannot import jupyter_workbench and tensorflow" >&2; exit 1; }
ext=$(jupyter server extension list 2>&1)
grep -qE "jupyter_workbench .*OK" <<<"$ext" || { echo "setup failed: server extension not OK" >&2; echo "$ext" >&2; exit 1; }
echo ">> setup done"
