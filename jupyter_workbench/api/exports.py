"""``workbench/api/exports``: server-side SavedModel exports of model files under the root.

The export itself runs ``python -m jupyter_workbench.export.worker`` in a subprocess with the
interpreter that has TensorFlow (``c.Workbench.export_python``), so the server never imports
TensorFlow and a crashing export cannot take the server down. The worker speaks JSON lines:
``{"event": "progress", "fraction", "message"}`` ... then ``{"event": "done", "result"}`` or
``{"event": "error", "message"}``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from tornado import web

from .base import API, WorkbenchHandler, field

FEATURE = "export"

# Keys of a POST body that are passed to the worker (and so to export_savedmodel) as they are.
_OPTIONS: dict[str, type | tuple] = {
    "version": int,
    "signature_name": str,
    "inputs": dict,
    "outputs": dict,
    "checkpoint": str,
    "overwrite": bool,
    "verify": bool,
    "weights_dtype": str,
    "max_size": (int, str),
    "warmup": int,  # TF Serving warmup records per signature
}


@dataclass
class ExportJob:
    id: str
    source: str
    destination: str
    state: str = "queued"
    progress: float = 0.0
    message: str = "queued"
    result: dict | None = None
    error: str | None = None
    created_at: float = dc_field(default_factory=time.time)
    ended_at: float | None = None
    process: asyncio.subprocess.Process | None = None
    task: asyncio.Task | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {
            "id": self.id,
            "source": self.source,
            "destination": self.destination,
            "state": self.state,
            "progress": self.progress,
            "message": self.message,
            "created_at": self.created_at,
            "ended_at": self.ended_at,
        }
        if self.result is not None:
            d["result"] = self.result
        if self.error is not None:
            d["error"] = self.error
        return d


def resolve_export_python(app) -> str:
    """The interpreter for server-side exports, or a 409 saying how to get one."""
    if app.export_python:
        if not os.access(app.export_python, os.X_OK):
            raise web.HTTPError(
                409, f"c.Workbench.export_python '{app.export_python}' is not an executable."
            )
        return app.export_python
    try:
        from ..environments import environment_python

        tf2 = environment_python("tf2", app.environments_dir)
    except Exception:  # environments not provisioned / module unavailable
        tf2 = None
    if tf2:
        return str(tf2)
    if importlib.util.find_spec("tensorflow") is not None:
        return sys.executable
    raise web.HTTPError(
        409,
        "No Python with TensorFlow for exports: run 'jupyter workbench env create tf2' "
        "or set c.Workbench.export_python.",
    )


def resolve_under_root(root: str, path: str, what: str, *, must_exist: bool) -> str:
    """An API path (relative to the server root) as an absolute path, refusing escapes."""
    if not path or "\x00" in path:
        raise web.HTTPError(400, f"The {what} path is empty or invalid.")
    if os.path.isabs(path):
        raise web.HTTPError(400, f"The {what} path must be relative to the server root: {path!r}.")
    full = os.path.realpath(os.path.join(root, path))
    real_root = os.path.realpath(root)
    if os.path.commonpath([full, real_root]) != real_root:
        raise web.HTTPError(400, f"The {what} path {path!r} is outside the server root.")
    if must_exist and not os.path.exists(full):
        raise web.HTTPError(400, f"The {what} {path!r} does not exist.")
    return full


class ExportManager:
    """Runs and remembers the server's export subprocesses."""

    def __init__(self, app):
        self.app = app
        self.jobs: dict[str, ExportJob] = {}

    def start(self, body: dict) -> ExportJob:
        source = field(body, "source", str, required=True)
        destination = field(body, "destination", str, required=True)
        options = {k: field(body, k, t) for k, t in _OPTIONS.items() if body.get(k) is not None}
        root = self.app.root_dir
        request = {
            "source": resolve_under_root(root, source, "source", must_exist=True),
            "destination": destination
            if "://" in destination
            else resolve_under_root(root, destination, "destination", must_exist=False),
            **options,
        }
        python = resolve_export_python(self.app)
        job = ExportJob(id=uuid.uuid4().hex, source=source, destination=destination)
        self.jobs[job.id] = job
        job.task = asyncio.ensure_future(self._run(job, python, request))
        return job

    async def _run(self, job: ExportJob, python: str, request: dict) -> None:
        env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="2")
        try:
            job.process = await asyncio.create_subprocess_exec(
                python,
                "-m",
                "jupyter_workbench.export.worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self.app.root_dir,
                env=env,
                limit=16 * 1024 * 1024,
            )
        except OSError as e:
            self._finish(job, error=f"Could not start the export interpreter {python}: {e}")
            return
        job.state, job.message = "running", "starting"
        job.process.stdin.write(json.dumps(request).encode())
        job.process.stdin.close()
        stderr_task = asyncio.ensure_future(job.process.stderr.read())
        try:
            await asyncio.wait_for(self._read_events(job), timeout=self.app.export_timeout)
        except asyncio.TimeoutError:
            job.process.kill()
            self._finish(job, error=f"The export took longer than {self.app.export_timeout} s.")
        code = await job.process.wait()
        stderr = (await stderr_task).decode(errors="replace").strip()
        if job.state == "running":
            tail = stderr.splitlines()[-1] if stderr else ""
            why = "cancelled" if code < 0 else f"exited with code {code}"
            self._finish(job, error=f"The export process {why}. {tail}".strip())
        if stderr and job.state == "failed":
            self.app.log.debug("export %s stderr:\n%s", job.id, stderr)

    async def _read_events(self, job: ExportJob) -> None:
        async for line in job.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # stray print from a library: not part of the protocol
            kind = event.get("event")
            if kind == "progress":
                job.progress = float(event.get("fraction", job.progress))
                job.message = str(event.get("message", job.message))
            elif kind == "done":
                self._finish(job, result=event.get("result"))
            elif kind == "error":
                self._finish(job, error=str(event.get("message", "The export failed.")))

    def _finish(self, job: ExportJob, *, result=None, error=None) -> None:
        if job.state in ("done", "failed"):
            return
        job.ended_at = time.time()
        if error is None:
            job.state, job.progress, job.message, job.result = "done", 1.0, "done", result
        else:
            job.state, job.message, job.error = "failed", "failed", error

    def get(self, job_id: str) -> ExportJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise web.HTTPError(404, f"No export with id {job_id!r}.")
        return job

    async def cancel(self, job: ExportJob) -> None:
        if job.process is not None and job.process.returncode is None:
            job.process.kill()
            self._finish(job, error="Cancelled by the user.")
            if job.task is not None:
                await asyncio.wait([job.task], timeout=10)

    async def stop(self) -> None:
        for job in list(self.jobs.values()):
            await self.cancel(job)


def _manager(handler: WorkbenchHandler) -> ExportManager:
    app = handler.workbench
    manager = getattr(app, "_export_manager", None)
    if manager is None:
        manager = app._export_manager = ExportManager(app)
    return manager


class ExportsHandler(WorkbenchHandler):
    @web.authenticated
    def get(self):
        jobs = _manager(self).jobs.values()
        self.reply([j.to_dict() for j in sorted(jobs, key=lambda j: j.created_at)])

    @web.authenticated
    def post(self):
        job = _manager(self).start(self.json_body(allowed={"source", "destination", *_OPTIONS}))
        self.reply({"id": job.id, "state": job.state}, status=202)


class ExportHandler(WorkbenchHandler):
    @web.authenticated
    def get(self, job_id: str):
        self.reply(_manager(self).get(job_id).to_dict())

    @web.authenticated
    async def delete(self, job_id: str):
        manager = _manager(self)
        job = manager.get(job_id)
        await manager.cancel(job)
        self.reply(job.to_dict())


async def stop(app) -> None:
    manager = getattr(app, "_export_manager", None)
    if manager is not None:
        await manager.stop()


handlers = [
    (rf"{API}/exports", ExportsHandler),
    (rf"{API}/exports/([^/]+)", ExportHandler),
]
