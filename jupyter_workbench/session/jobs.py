"""Background jobs: the one model for work that outlives the browser, the login and the server.

A job is a notebook (executed with nbclient; the executed copy is written beside it as
``<name>.output.ipynb``), a Python script or a shell script run in a chosen environment, or a
*task* the server starts for a capability (kind ``export``: a SavedModel export;
``environment``: creating or repairing py3/tf2). Each runs under a small runner process
(:mod:`.runner`) in its own session and process group, so that closing the browser, an expired
login or a server restart does not touch it. Everything about a job lives in
``<state dir>/jobs/<id>/``::

    job.json     what to run (written once at submission; plus the runner's pid and start time)
    state.json   running | succeeded | failed | cancelled, times, exit code (written by the
                 runner); for tasks also progress, message, step and the result
    output.log   the job's stdout and stderr (a task's: its progress lines and stderr)
    cancel       present once a cancel was requested

A task's command speaks JSON lines on stdout (``{"event": "progress", "fraction", "message",
"step", "line"}`` ... then ``{"event": "done", "result"}`` or ``{"event": "error",
"message"}``), which the runner turns into ``state.json``. What a task needs but must never be
stored (an export's credentials) goes to the runner on its stdin with the secrets to scrub:
the runner passes the input on to the command and scrubs (``redact.scrub``) every message,
result and log line it writes, so nothing under the state dir holds a secret. The REST views
of exports (``export.service``) and environment creations (``environments.service``) read
these records.

Any ``JobManager`` over the same state dir (a restarted server, the CLI, the ``%%background``
magic) sees the same jobs: a job is running while its runner's pid is alive with the recorded
start time (so a reused pid is not mistaken for it). A runner that vanished without recording a
result was killed from outside: the job is marked failed with that reason.

Finished jobs are kept until removed: one by :meth:`JobManager.remove` (REST ``DELETE
jobs/{id}?remove=true``, ``jupyter workbench job rm ID``), or all those that ended more than
``retention_days`` ago by :meth:`JobManager.prune`, which the server runs at its start and every
hour (``c.Workbench.job_retention_days``). Removing deletes the job's directory only.

Nothing a job shows holds a secret: every job record, log and error message passes through
``redact.scrub`` (credentials in URLs, secret query parameters, and the values of ``secrets``,
e.g. the mounts' keys and secrets the server passes) before it is stored or returned.

No tornado and no jupyter_server here: the REST handlers, the magic and the CLI all call this.
The job record and its errors are in :mod:`.jobtypes` (re-exported here), what a job runs
(its file, interpreter or kernel) is resolved by :mod:`.targets`, the runner is :mod:`.runner`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..atomic import write_json_atomic
from ..redact import scrub
from ..state import default_state_dir
from . import targets
from .jobtypes import (  # noqa: F401 - the jobs API: callers import these from here
    FINAL_STATES,
    KINDS,
    STATES,
    TASK_KINDS,
    Job,
    JobConflict,
    JobError,
    JobNotFound,
)
from .processes import process_start_time, read_json

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


# -- the manager ---------------------------------------------------------------------------


class JobManager:
    """Starts, finds, follows and cancels background jobs under one state dir.

    ``root_dir``: when set, job paths are relative to it and may not leave it (the server's
    contents root); when None, paths are taken as given (the CLI).
    """

    def __init__(
        self,
        state_dir: str | os.PathLike | None = None,
        root_dir: str | os.PathLike | None = None,
        environments_dir: str | None = None,
        python: str | None = None,
        allowed_interpreters: list[str] | None = None,
        secrets=None,
        retention_days: float = 0,
        logger=None,
    ):
        self.state_dir = Path(os.path.abspath(state_dir or default_state_dir()))
        self.jobs_dir = self.state_dir / "jobs"
        self.root_dir = Path(os.path.realpath(root_dir)) if root_dir else None
        self.environments_dir = environments_dir
        # With a root (the server), an interpreter given by path must be one of these (the
        # admin's c.Workbench.job_interpreters); without one (the CLI) any Python may be named.
        self.allowed_interpreters = [os.path.realpath(p) for p in allowed_interpreters or ()]
        # The interpreter that runs the runner and the notebook executor (needs nbclient).
        self.python = python or sys.executable
        self.host = socket.gethostname()
        self._children: dict[str, subprocess.Popen] = {}
        # () -> the secret values known to the caller (the server: its mounts' credentials),
        # scrubbed from everything a job shows besides what redact.scrub finds by itself.
        self._secrets_source = secrets
        self._secrets_cache: tuple[float, list[str]] = (0.0, [])
        # Finished jobs older than this are removed by prune() (the server's
        # c.Workbench.job_retention_days; 0 keeps every job, as the CLI does).
        self.retention_days = retention_days
        self._logger = logger
        self._sweeper: tuple[threading.Thread, threading.Event] | None = None

    def known_secrets(self) -> list[str]:
        """The values of ``secrets()`` (read at most once a second; [] if it fails)."""
        if self._secrets_source is None:
            return []
        at, values = self._secrets_cache
        if time.monotonic() - at > 1.0:
            try:
                values = [v for v in self._secrets_source() if isinstance(v, str)]
            except Exception:  # noqa: BLE001 - scrubbing by pattern still applies
                values = []
            self._secrets_cache = (time.monotonic(), values)
        return values

    def scrub(self, value):
        """``value`` without secrets (``redact.scrub`` with the known secrets)."""
        return scrub(value, self.known_secrets())

    # -- submitting ------------------------------------------------------------------

    def resolve_path(self, path: str) -> tuple[Path, str]:
        """``path`` as an absolute file and as it is shown; JobError when unusable."""
        return targets.resolve_path(path, self.root_dir)

    def _script_python(self, environment: str | None) -> str:
        return targets.script_python(
            environment,
            root_dir=self.root_dir,
            allowed_interpreters=self.allowed_interpreters,
            environments_dir=self.environments_dir,
        )

    def submit(self, path: str, environment: str | None = None, *, name: str | None = None) -> Job:
        """Start a notebook or script job; returns it in state ``running``."""
        if environment is not None and not isinstance(environment, str):
            raise JobError("The environment must be a string.")
        environment = (environment or "").strip() or None
        full, shown = self.resolve_path(path)
        kind = KINDS[full.suffix.lower()]
        env: dict[str, str] = {}
        output = None
        if kind == "notebook":
            kernel = targets.notebook_kernel(full, environment, self.environments_dir)
            out_full = full.with_name(full.name[: -len(full.suffix)] + ".output.ipynb")
            argv = [
                self.python,
                "-m",
                "jupyter_workbench.session.execute",
                str(full),
                "--output",
                str(out_full),
                "--kernel",
                kernel,
            ]
            if self.environments_dir:
                argv += ["--environments-dir", str(self.environments_dir)]
            label = kernel
            output = (
                str(Path(shown).with_name(out_full.name))
                if self.root_dir is not None
                else str(out_full)
            )
        else:
            python = self._script_python(environment)
            env["PATH"] = os.path.dirname(python) + os.pathsep + os.environ.get("PATH", "")
            argv = [python, "-u", str(full)] if kind == "python" else ["bash", str(full)]
            label = environment or python
        return self._start(
            name=name or os.path.basename(shown),
            kind=kind,
            path=shown,
            environment=label,
            argv=argv,
            cwd=str(full.parent),
            env=env,
            output=output,
        )

    def submit_code(
        self,
        code: str,
        environment: str | None = None,
        *,
        cwd: str | None = None,
        name: str | None = None,
    ) -> Job:
        """Run Python source as a script job (``%%background``): a new process, not the kernel."""
        if not isinstance(code, str) or not code.strip():
            raise JobError("There is no code to run.")
        python = self._script_python((environment or "").strip() or None)
        first = next((ln.strip() for ln in code.splitlines() if ln.strip()), "")
        job_id = self._new_id()
        job_dir = self._make_dir(job_id)
        script = job_dir / "cell.py"
        script.write_text(code)
        return self._start(
            job_id=job_id,
            name=name or f"%%background: {first[:60]}",
            kind="python",
            path=None,
            environment=environment or python,
            argv=[python, "-u", str(script)],
            cwd=os.path.realpath(cwd or os.getcwd()),
            env={"PATH": os.path.dirname(python) + os.pathsep + os.environ.get("PATH", "")},
            output=None,
        )

    def submit_task(
        self,
        kind: str,
        argv: list[str],
        *,
        name: str,
        environment: str = "",
        path: str | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        details: dict | None = None,
        stdin: str | None = None,
        secrets: list[str] | tuple = (),
        timeout: float | None = None,
        timeout_reason: str | None = None,
    ) -> Job:
        """Start a capability's task (``kind`` in :data:`TASK_KINDS`): ``argv`` speaks the JSON
        lines protocol of the module docstring. ``stdin`` reaches the command through the
        runner's stdin only (never a file, never a command line); ``secrets`` are scrubbed from
        everything the runner records; after ``timeout`` seconds the command is killed and the
        job fails with ``timeout_reason``. ``name``, ``path`` and ``details`` are shown as
        given: pass them scrubbed."""
        if kind not in TASK_KINDS:
            raise ValueError(f"unknown task kind {kind!r}")
        fields: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "path": path,
            "environment": environment,
            "argv": list(argv),
            "cwd": cwd or str(self.state_dir),
            "env": dict(env or {}),
            "output": None,
            "protocol": "events",
            "details": details or {},
        }
        if timeout:
            fields["timeout"] = float(timeout)
            fields["timeout_reason"] = timeout_reason or f"The job took longer than {timeout} s."
        envelope = {"input": stdin, "secrets": [s for s in secrets if isinstance(s, str)]}
        return self._start(stdin=json.dumps(envelope), **fields)

    def _new_id(self) -> str:
        return uuid.uuid4().hex[:12]

    def _make_dir(self, job_id: str) -> Path:
        self.jobs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        job_dir = self.jobs_dir / job_id
        job_dir.mkdir(mode=0o700)
        return job_dir

    def _start(self, *, job_id: str | None = None, stdin: str | None = None, **fields: Any) -> Job:
        job_id = job_id or self._new_id()
        job_dir = self.jobs_dir / job_id
        if not job_dir.is_dir():
            self._make_dir(job_id)
        shown = {
            k: self.scrub(fields[k])
            for k in ("name", "path", "environment", "output")
            if k in fields
        }
        meta = {"id": job_id, "created_at": time.time(), "host": self.host, **fields, **shown}
        if stdin is not None:
            meta["stdin"] = True
        write_json_atomic(job_dir / "job.json", meta)
        with open(job_dir / "output.log", "ab") as log:
            # Own session and process group: survives the server, and cancel kills the group.
            proc = subprocess.Popen(
                [self.python, "-m", "jupyter_workbench.session.runner", str(job_dir)],
                stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(job_dir),
                start_new_session=True,
                close_fds=True,
            )
        if stdin is not None:
            try:  # the runner reads it all at once, first thing
                proc.stdin.write(stdin.encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass  # the runner died at start: concluded as vanished by get()
        self._children[job_id] = proc
        meta["runner_pid"] = proc.pid
        meta["runner_start"] = process_start_time(proc.pid)
        write_json_atomic(job_dir / "job.json", meta)
        return self.get(job_id)

    # -- finding and following -----------------------------------------------------------

    def _job_dir(self, job_id: str) -> Path:
        if not isinstance(job_id, str) or not _ID.match(job_id):
            raise JobNotFound(f"No job with id {job_id!r}.")
        job_dir = self.jobs_dir / job_id
        if not (job_dir / "job.json").is_file():
            raise JobNotFound(f"No job with id {job_id!r}.")
        return job_dir

    def _runner_alive(self, job_id: str, meta: dict) -> bool:
        child = self._children.get(job_id)
        if child is not None and child.poll() is not None:
            self._children.pop(job_id, None)  # reaped: no zombie left behind
            return False
        pid = meta.get("runner_pid")
        if not pid:
            # Submitted a moment ago by another manager that has not recorded the pid yet.
            return time.time() - float(meta.get("created_at", 0)) < 30
        start = process_start_time(int(pid))
        if start is None:
            return False
        recorded = meta.get("runner_start")
        return recorded in (None, "?") or start in ("?", recorded)

    def get(self, job_id: str) -> Job:
        """The job with its current state (a vanished runner is concluded here)."""
        job_dir = self._job_dir(job_id)
        meta = read_json(job_dir / "job.json")
        if meta is None:
            raise JobNotFound(f"Job {job_id!r} has no readable record.")
        state = read_json(job_dir / "state.json") or {}
        if state.get("state") not in FINAL_STATES:
            same_host = meta.get("host") in (None, self.host)
            if same_host and not self._runner_alive(job_id, meta):
                # Re-read: the runner may have recorded its result just before exiting.
                state = read_json(job_dir / "state.json") or {}
                if state.get("state") not in FINAL_STATES:
                    state = self._conclude_vanished(job_dir, meta, state)
        return self._job(meta, state)

    def _conclude_vanished(self, job_dir: Path, meta: dict, state: dict) -> dict:
        if (job_dir / "cancel").exists():
            final = {"state": "cancelled", "reason": "Cancelled by the user."}
        else:
            final = {
                "state": "failed",
                "reason": f"The job's runner process (pid {meta.get('runner_pid')}) ended "
                "without recording a result: it was killed from outside the workbench, or "
                "the machine restarted.",
            }
        state = {**state, **final, "ended_at": time.time()}
        state.setdefault("started_at", meta.get("created_at"))
        write_json_atomic(job_dir / "state.json", state)
        return state

    def _job(self, meta: dict, state: dict) -> Job:
        return Job(**self.scrub(asdict(self._raw_job(meta, state))))

    @staticmethod
    def _raw_job(meta: dict, state: dict) -> Job:
        return Job(
            id=meta["id"],
            name=meta.get("name") or meta["id"],
            kind=meta.get("kind", "python"),
            path=meta.get("path"),
            environment=meta.get("environment", ""),
            state=state.get("state") or "running",
            created_at=meta.get("created_at", 0.0),
            started_at=state.get("started_at") or meta.get("created_at"),
            ended_at=state.get("ended_at"),
            exit_code=state.get("exit_code"),
            reason=state.get("reason"),
            output=meta.get("output"),
            pid=meta.get("runner_pid"),
            host=meta.get("host"),
            details=meta.get("details"),
            progress=state.get("progress"),
            message=state.get("message"),
            step=state.get("step"),
            result=state.get("result"),
        )

    def list(self, kind: str | None = None) -> list[Job]:
        """Every job under the state dir (only those of ``kind`` when given), oldest first."""
        jobs = []
        if self.jobs_dir.is_dir():
            for entry in self.jobs_dir.iterdir():
                if kind is not None and (read_json(entry / "job.json") or {}).get("kind") != kind:
                    continue
                try:
                    jobs.append(self.get(entry.name))
                except JobNotFound:
                    continue  # a half-written or foreign directory
        return sorted(jobs, key=lambda j: (j.created_at, j.id))

    def log(
        self, job_id: str, max_bytes: int = 64 * 1024, offset: int | None = None
    ) -> dict[str, Any]:
        """The job's output: its tail, or (``offset``) what was written after byte ``offset``.

        Returns ``{log, size, offset, next, truncated}``: ``log`` is the text of bytes
        ``offset`` to ``next`` (at most ``max_bytes``; a follower asks again from ``next``, so
        a log is read once however long it runs). ``truncated``: bytes before ``offset`` were
        skipped (the tail, or more than ``max_bytes`` new). A UTF-8 character cut by the end
        is left for the next read; an offset past the end (not this log) reads the tail. The
        text is scrubbed (``scrub``): a secret the job writes in one piece never comes back.
        """
        path = self._job_dir(job_id) / "output.log"
        try:
            size = path.stat().st_size
            if offset is None or offset > size or size - offset > max_bytes:
                start, truncated = max(0, size - max_bytes), size > max_bytes
            else:
                start, truncated = max(0, offset), False
            with open(path, "rb") as f:
                f.seek(start)
                data = f.read(max_bytes)
        except FileNotFoundError:
            size, start, truncated, data = 0, 0, False, b""
        # Bytes of a character the writer has not finished stay for the next read.
        cut = len(data)
        for back in range(1, min(4, len(data)) + 1):
            byte = data[-back]
            if byte & 0xC0 != 0x80:  # the last character's first byte
                need = 1 if byte < 0x80 else 2 if byte >> 5 == 6 else 3 if byte >> 4 == 14 else 4
                if need > back:
                    cut = len(data) - back
                break
        data, end = data[:cut], start + cut
        text = data.decode("utf-8", errors="replace")
        if truncated and "\n" in text:
            line, text = text.split("\n", 1)  # drop the partial first line
            start += len(line.encode("utf-8", errors="replace")) + 1
        text = self.scrub(text)
        return {"log": text, "size": size, "offset": start, "next": end, "truncated": truncated}

    def wait(self, job_id: str, timeout: float | None = None, interval: float = 0.1) -> Job:
        """Block until the job has finished (or ``timeout`` seconds passed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job.finished or (deadline is not None and time.monotonic() >= deadline):
                return job
            time.sleep(interval)

    # -- cancelling ----------------------------------------------------------------------

    def cancel(self, job_id: str, grace: float = 5.0) -> Job:
        """Stop the job's whole process group: SIGTERM, then SIGKILL after ``grace`` s."""
        job = self.get(job_id)
        if job.finished:
            raise JobConflict(f"Job {job_id} has already {job.state}.")
        job_dir = self._job_dir(job_id)
        meta = read_json(job_dir / "job.json") or {}
        (job_dir / "cancel").write_text(str(time.time()))
        if meta.get("host") not in (None, self.host):
            raise JobConflict(f"Job {job_id} runs on {meta.get('host')}: cancel it there.")
        pid = meta.get("runner_pid")
        if pid and self._runner_alive(job_id, meta):
            self._signal_group(int(pid), signal.SIGTERM)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and self._runner_alive(job_id, meta):
                time.sleep(0.05)
            if self._runner_alive(job_id, meta):
                self._signal_group(int(pid), signal.SIGKILL)
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and self._runner_alive(job_id, meta):
                    time.sleep(0.05)
        return self.get(job_id)

    @staticmethod
    def _signal_group(pgid: int, sig: int) -> None:
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass

    # -- removing ------------------------------------------------------------------------

    def remove(self, job_id: str) -> Job:
        """Delete a finished job: its directory under the state dir (record, log, state, a
        ``%%background`` cell). What the job wrote elsewhere stays: a notebook's executed copy
        beside the notebook, an export's model, an environment. JobConflict (409) while it
        runs: cancel it first. Returns the job as it was."""
        job = self.get(job_id)
        if not job.finished:
            raise JobConflict(
                f"Job {job_id} is still running: cancel it first "
                f"(jupyter workbench job cancel {job_id}), then remove it."
            )
        self._delete(job_id)
        return job

    def _delete(self, job_id: str) -> None:
        """Move the job's directory aside in one rename (a reader sees the whole job or
        none: the hidden name is no job id), then delete it."""
        trash = self.jobs_dir / f".removed-{job_id}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(self.jobs_dir / job_id, trash)
        except FileNotFoundError:
            raise JobNotFound(f"No job with id {job_id!r}.") from None
        self._delete_trash(trash)

    @staticmethod
    def _delete_trash(trash: Path) -> None:
        if trash.is_symlink():  # never follow a link out of the state dir
            trash.unlink()
        else:
            shutil.rmtree(trash, ignore_errors=True)

    def prune(self, retention_days: float | None = None) -> list[str]:
        """Remove the finished jobs (succeeded, failed, cancelled; notebooks, scripts, exports
        and environment creations alike) that ended more than ``retention_days`` ago (default:
        the manager's ``retention_days``; 0 keeps them all). A running job is never removed,
        nor anything outside its directory (see :meth:`remove`). Returns the removed ids."""
        days = self.retention_days if retention_days is None else retention_days
        if not days or days <= 0 or not self.jobs_dir.is_dir():
            return []
        cutoff = time.time() - float(days) * 86400
        removed = []
        for job in self.list():
            ended = job.ended_at if job.ended_at is not None else job.created_at
            if job.finished and ended < cutoff:
                try:
                    self._delete(job.id)
                except (JobNotFound, OSError):
                    continue  # removed meanwhile by another manager
                removed.append(job.id)
        for entry in self.jobs_dir.glob(".removed-*"):  # left by a remover that was killed
            self._delete_trash(entry)
        if removed and self._logger is not None:
            self._logger.info(
                "Removed %d finished job(s) older than %s day(s): %s",
                len(removed),
                days,
                ", ".join(removed),
            )
        return removed

    def start_retention(self, interval: float = 3600.0) -> None:
        """Prune now and then every ``interval`` seconds in a daemon thread (the server, from
        its start until :meth:`stop_retention`); nothing when ``retention_days`` is 0."""
        if not self.retention_days or self.retention_days <= 0 or self._sweeper is not None:
            return
        stop = threading.Event()

        def sweep() -> None:
            while True:
                try:
                    self.prune()
                except Exception as err:  # noqa: BLE001 - a sweep that fails tries again later
                    if self._logger is not None:
                        self._logger.warning("Removing old jobs failed: %s", self.scrub(str(err)))
                if stop.wait(interval):
                    return

        thread = threading.Thread(target=sweep, name="workbench-job-retention", daemon=True)
        self._sweeper = (thread, stop)
        thread.start()

    def stop_retention(self) -> None:
        if self._sweeper is not None:
            thread, stop = self._sweeper
            self._sweeper = None
            stop.set()
            thread.join(timeout=10)
