"""The runner of one background job: ``python -m jupyter_workbench.session.runner JOB_DIR``.

Started by :class:`~jupyter_workbench.session.jobs.JobManager` as the leader of a new session
(so it outlives the server and the browser), it runs the job's command in its own process
group, records ``state.json`` (running, then succeeded/failed/cancelled with the exit code
and a reason) and exits. Standard library only: it must start fast and in any interpreter.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..atomic import write_json_atomic
from .jobs import describe_exit


def run(job_dir: Path) -> int:
    meta = json.loads((job_dir / "job.json").read_text())
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
    with open(job_dir / "output.log", "ab", buffering=0) as log:
        try:
            child = subprocess.Popen(
                meta["argv"],
                cwd=meta.get("cwd") or str(job_dir),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
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
        write_json_atomic(job_dir / "state.json", state)
        code = child.wait()

    state.update(ended_at=time.time(), exit_code=code)
    if stopping["signal"] is not None or (job_dir / "cancel").exists():
        state.update(state="cancelled", reason="Cancelled by the user.")
    elif code == 0:
        state.update(state="succeeded")
    else:
        reason_file = job_dir / "reason"
        detail = reason_file.read_text().strip() if reason_file.is_file() else ""
        state.update(state="failed", reason=detail or describe_exit(code))
    write_json_atomic(job_dir / "state.json", state)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m jupyter_workbench.session.runner JOB_DIR", file=sys.stderr)
        return 2
    return run(Path(argv[0]))


if __name__ == "__main__":
    sys.exit(main())
