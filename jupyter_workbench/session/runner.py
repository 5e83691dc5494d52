"""The runner of one background job: ``python -m jupyter_workbench.session.runner JOB_DIR``.

Started by :class:`~jupyter_workbench.session.jobs.JobManager` as the leader of a new session
(so it outlives the server and the browser), it runs the job's command in its own process
group, records ``state.json`` (running, then succeeded/failed/cancelled with the exit code
and a reason) and exits. For a task (``"protocol": "events"`` in ``job.json``) it also reads
``{"input", "secrets"}`` from its stdin, hands ``input`` to the command's stdin, turns the
command's JSON-lines events into ``state.json`` (progress, message, step, result, the error
as the reason) and its stderr into ``output.log``, every string scrubbed of the secrets
first, and enforces the job's ``timeout``. Standard library only (plus the workbench's small
``atomic`` and ``redact`` helpers): it must start fast and in any interpreter.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..atomic import write_json_atomic
from ..redact import scrub
from .processes import describe_exit

PROGRESS_WRITE_S = 0.25  # at most this often a progress event rewrites state.json


def run(job_dir: Path) -> int:
    meta = json.loads((job_dir / "job.json").read_text())
    envelope = {}
    if meta.get("stdin"):
        try:  # first thing: the server that wrote it may be gone a moment later
            envelope = json.loads(sys.stdin.read() or "{}")
        except ValueError:
            envelope = {}
    state: dict = {"state": "running", "started_at": time.time(), "runner_pid": os.getpid()}
    stopping = {"signal": None}

    def on_stop(signum, _frame):
        # Cancel sends SIGTERM to the whole group: the job gets it too; we wait for it.
        stopping["signal"] = signum

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    env = dict(os.environ)
    env.update(meta.get("env") or {})
    env.update(WORKBENCH_JOB_ID=meta["id"], WORKBENCH_JOB_DIR=str(job_dir), PYTHONUNBUFFERED="1")
    task = meta.get("protocol") == "events"
    with open(job_dir / "output.log", "ab", buffering=0) as log:
        try:
            child = subprocess.Popen(
                meta["argv"],
                cwd=meta.get("cwd") or str(job_dir),
                env=env,
                stdin=subprocess.PIPE if task else subprocess.DEVNULL,
                stdout=subprocess.PIPE if task else log,
                stderr=subprocess.PIPE if task else subprocess.STDOUT,
            )
        except OSError as e:
            state.update(
                state="failed",
                ended_at=time.time(),
                reason=f"Could not start {meta['argv'][0]}: {e}",
            )
            write_json_atomic(job_dir / "state.json", state)
            return 0
        state["child_pid"] = child.pid
        if task:
            state.update(progress=0.0, message="starting")
        write_json_atomic(job_dir / "state.json", state)
        if task:
            outcome = _follow_task(child, meta, envelope, state, job_dir, log)
        else:
            outcome = {}
        code = child.wait()

    state.update(ended_at=time.time(), exit_code=code)
    if stopping["signal"] is not None or (job_dir / "cancel").exists():
        state.update(state="cancelled", reason="Cancelled by the user.")
    elif outcome.get("timed_out"):
        state.update(state="failed", reason=meta.get("timeout_reason") or "Timed out.")
    elif outcome.get("error") is not None:
        state.update(state="failed", reason=outcome["error"])
    elif code == 0 and (not task or "result" in outcome):
        state.update(state="succeeded")
        if task:
            state.update(result=outcome["result"], progress=1.0)
    else:
        reason_file = job_dir / "reason"
        detail = reason_file.read_text().strip() if reason_file.is_file() else ""
        tail = outcome.get("stderr_tail", "")
        if code == 0:  # a task that ended without saying done or error
            detail = detail or "The process ended without reporting a result."
        state.update(state="failed", reason=detail or f"{describe_exit(code)} {tail}".strip())
    write_json_atomic(job_dir / "state.json", state)
    return 0


def _follow_task(child, meta: dict, envelope: dict, state: dict, job_dir: Path, log) -> dict:
    """Feed a task its input, record its events until its stdout closes; what it concluded."""
    secrets = [s for s in envelope.get("secrets") or () if isinstance(s, str)]
    outcome: dict = {}
    lock = threading.Lock()

    def write_log(text: str) -> None:
        with lock:
            log.write((scrub(text, secrets).rstrip("\n") + "\n").encode())

    def pump_stderr() -> None:
        last = ""
        for raw in child.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            if line.strip():
                last = line
            write_log(line)
        outcome["stderr_tail"] = scrub(last.strip(), secrets)[-500:]

    stderr_thread = threading.Thread(target=pump_stderr, daemon=True)
    stderr_thread.start()
    timer = None
    if meta.get("timeout"):

        def expire() -> None:
            outcome["timed_out"] = True
            child.kill()

        timer = threading.Timer(float(meta["timeout"]), expire)
        timer.daemon = True
        timer.start()
    try:
        data = envelope.get("input")
        if isinstance(data, str):
            child.stdin.write(data.encode())
        child.stdin.close()
    except BrokenPipeError:
        pass
    written = 0.0
    last_message = None
    for raw in child.stdout:
        try:
            event = json.loads(raw)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            write_log(raw.decode("utf-8", errors="replace"))  # a stray print: keep it in the log
            continue
        kind = event.get("event")
        if kind == "progress":
            if isinstance(event.get("fraction"), (int, float)):
                state["progress"] = float(event["fraction"])
            if isinstance(event.get("message"), str):
                state["message"] = scrub(event["message"], secrets)
            if isinstance(event.get("step"), str):
                state["step"] = scrub(event["step"], secrets)
            line = event.get("line")
            if isinstance(line, str):
                write_log(line)
            elif state.get("message") and state["message"] != last_message:
                write_log(state["message"])
            last_message = state.get("message")
            if time.monotonic() - written >= PROGRESS_WRITE_S:
                write_json_atomic(job_dir / "state.json", state)
                written = time.monotonic()
        elif kind == "done":
            outcome["result"] = scrub(event.get("result"), secrets)
        elif kind == "error":
            outcome["error"] = scrub(str(event.get("message") or "The task failed."), secrets)
    if timer is not None:
        timer.cancel()
    stderr_thread.join(timeout=10)
    return outcome


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m jupyter_workbench.session.runner JOB_DIR", file=sys.stderr)
        return 2
    return run(Path(argv[0]))


if __name__ == "__main__":
    sys.exit(main())
