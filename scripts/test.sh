#!/usr/bin/env bash
# Set up everything and run the whole test suite: lint, unit + server tests, browser tests.
# Extra arguments go to every pytest run (e.g. -k export -x).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase's wall time, printed as it ends and again in a summary (also when a phase fails).
T0=$SECONDS
PHASE=""
# CPU seconds (user + system) used so far by finished child processes: with the wall time it
# shows whether a phase is CPU-bound (more workers will not help) or waiting (they will).
TIMES=$(mktemp)
STREAM=main # names this stream's scratch files (the background stream sets its own)
PHASES=$TIMES.phases # one line per finished phase, from both streams (see below)
: >"$PHASES"
cpu_s() { # `times` in the shell itself (a $(...) subshell has no finished children)
  times >"$TIMES.times.$STREAM"
  awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%d", t }' "$TIMES.times.$STREAM"
}
phase_start() {
  PHASE=$1
  PHASE_T=$SECONDS
  PHASE_AT=$((SECONDS - T0))
  cpu_s >"$TIMES.start.$STREAM"
  PHASE_CPU=$(cat "$TIMES.start.$STREAM")
  echo ">> $PHASE"
}
phase_end() {
  cpu_s >"$TIMES.end.$STREAM"
  local cpu=$(($(cat "$TIMES.end.$STREAM") - PHASE_CPU))
  printf '%-24s %5ds  (%5ds CPU, from %4ds)%s\n' "$PHASE" $((SECONDS - PHASE_T)) "$cpu" \
    "$PHASE_AT" "${1:-}" >>"$PHASES"
  echo ">> $PHASE: $((SECONDS - PHASE_T)) s, $cpu s CPU${1:-}"
  PHASE=""
}
BACKGROUND=""
summary() {
  local rc=$?
  [ -n "$PHASE" ] && phase_end "  (failed)"
  if [ -n "$BACKGROUND" ] && kill -0 "$BACKGROUND" 2>/dev/null; then
    kill -- -"$BACKGROUND" 2>/dev/null || kill "$BACKGROUND" 2>/dev/null || true
    wait "$BACKGROUND" 2>/dev/null || true
    [ -f "$STREAM_LOG" ] && { echo ">> the waiting stream, stopped:"; cat "$STREAM_LOG"; }
  fi
  echo ">> phase durations (wall, CPU, start):"
  sed 's/^/   /' "$PHASES"
  printf '   %-24s %5ds (exit %d)\n' total $((SECONDS - T0)) "$rc"
  rm -f "$TIMES" "$TIMES".*
}
trap summary EXIT
phase_start setup
bash scripts/setup.sh --test
VENV=${WORKBENCH_VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
export TF_ENABLE_ONEDNN_OPTS=0 TF_CPP_MIN_LOG_LEVEL=2 PYTHONDONTWRITEBYTECODE=1

# Debian packages: chromium (browser tests), fuse3 (FUSE mounts), samba (a real SMB server),
# a CJK font (the zh-CN browser test's screenshots show Chinese, not empty boxes).
need=()
command -v chromium >/dev/null || need+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
command -v fusermount3 >/dev/null || need+=(fuse3)
command -v smbd >/dev/null || need+=(samba)
# the JupyterHub tests' shared py3/tf2 are built from the system Python (every user can run it)
/usr/bin/python3 -c "import ensurepip" 2>/dev/null || need+=(python3-venv)
phase_end
phase_start "debian packages"
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

phase_end
# The phases. Two streams run at once: the CPU-bound one (lint, unit + server tests, other
# projects' suites) in the foreground, and the one that mostly waits on browsers, kernels and a
# hub (browser tests, then JupyterHub tests: ~45% and ~35% of a core) in the background; its
# output is printed when it ends. WORKBENCH_TEST_SERIAL=1 runs every phase one after another.

lint() {
  phase_start lint
  ruff format --check .
  ruff check .
  (cd labextension && jlpm lint:check)
  # jest: the frontend's pure functions and its models against a real Jupyter server.
  (cd labextension && jlpm test)
  python scripts/translations.py --check # every frontend string has its zh-CN translation
  phase_end
}

unit_and_server_tests() {
  phase_start "unit and server tests"
  # Independent test files run in parallel (module fixtures stay in one worker: --dist loadfile);
  # much of their time is spent waiting on child processes, so 3 workers help on 2 cores.
  pytest tests/unit tests/server -p no:cacheprovider -n "${WORKBENCH_TEST_WORKERS:-3}" \
    --dist loadfile --durations=15 "$@"
  phase_end
}

other_projects_suites() {
  phase_start "other projects' suites"
  # ossfs's own tests (from its PyPI sdist) and fsspec's abstract suites, against the OSS emulator.
  # Both mostly wait on the emulator's round trips, so ossfs's runs go on beside fsspec's.
  mkdir -p .cache
  python -m tests.thirdparty.ossfs_suite --impl both >.cache/ossfs-suite.log 2>&1 &
  local ossfs=$! fsspec_rc=0 ossfs_rc=0
  pytest tests/thirdparty -p no:cacheprovider -q -n "${WORKBENCH_TEST_WORKERS:-3}" \
    --dist loadscope "$@" || fsspec_rc=$?
  wait "$ossfs" || ossfs_rc=$?
  cat .cache/ossfs-suite.log
  if [ "$fsspec_rc" != 0 ] || [ "$ossfs_rc" != 0 ]; then
    echo ">> fsspec's suites exited $fsspec_rc, ossfs's suite $ossfs_rc" >&2
    return 1
  fi
  phase_end
}

browser_tests() {
  phase_start "browser tests"
  # Each test file starts its own jupyter lab; two files at a time (they mostly wait).
  pytest tests/ui -p no:cacheprovider -n "${WORKBENCH_UI_WORKERS:-2}" --dist loadfile \
    --durations=10 "$@"
  phase_end
}

jupyterhub_tests() {
  phase_start "JupyterHub tests"
  echo ">> JupyterHub tests (a real hub + configurable-http-proxy, npm-installed into .cache/npm)"
  [ -x .cache/npm/node_modules/.bin/configurable-http-proxy ] ||
    npm install --prefix .cache/npm --no-audit --no-fund configurable-http-proxy@5 >/dev/null
  pytest tests/hub -p no:cacheprovider --durations=10 "$@"
  phase_end
}

# Each phase runs in a subshell of its own, so that `times` there counts only that phase's
# processes (the other stream's, reaped whenever they end, would land in whichever phase of
# this shell is running); called as a plain command, so that `set -e` holds inside.
run_phase() {
  (
    trap '[ -n "$PHASE" ] && phase_end "  (failed)"' EXIT
    set -e
    "$@"
  )
}

waiting_stream() {
  run_phase browser_tests "$@"
  run_phase jupyterhub_tests "$@"
}

if [ -n "${WORKBENCH_TEST_SERIAL:-}" ]; then
  run_phase lint
  run_phase unit_and_server_tests "$@"
  run_phase other_projects_suites "$@"
  waiting_stream "$@"
  exit 0
fi

mkdir -p .cache
STREAM_LOG=.cache/test-waiting-stream.log
echo ">> browser and JupyterHub tests run in the background; their output: $STREAM_LOG"
set -m # the background stream gets its own process group (killed as one if we fail)
(
  STREAM=waiting
  set -e
  waiting_stream "$@"
) >"$STREAM_LOG" 2>&1 &
BACKGROUND=$!
set +m
run_phase lint
run_phase unit_and_server_tests "$@"
run_phase other_projects_suites "$@"
echo ">> waiting for the browser and JupyterHub tests"
stream_rc=0
wait "$BACKGROUND" || stream_rc=$?
BACKGROUND=""
cat "$STREAM_LOG"
if [ "$stream_rc" != 0 ]; then
  echo ">> the browser / JupyterHub stream failed (exit $stream_rc)" >&2
  exit "$stream_rc"
fi
