"""``ExportService``: the server's exports of model files, one service per server.

Each export runs ``python -m jupyter_workbench.export.worker`` in a subprocess with the
interpreter that has TensorFlow (``c.Workbench.export_python``, else the tf2 environment's), so
the server never imports TensorFlow and a crashing export cannot take the server down. The
worker speaks JSON lines: ``{"event": "progress", "fraction", "message"}`` ... then
``{"event": "done", "result"}`` or ``{"event": "error", "message"}``. Exports live in memory
and are cancelled when the server stops (``stop``).

Errors follow the ``jupyter_workbench.errors`` protocol (``ExportError``: 400,
``ExportNotFoundError``: 404, ``ExportUnavailableError``: 409). No Jupyter imports.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from ..confine import DEFAULT_URL_PROTOCOLS
from ..redact import scrub
from .errors import ExportNotFoundError, ExportUnavailableError
from .request import rest_request

log = logging.getLogger(__name__)


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
    secrets: list = dc_field(default_factory=list, repr=False)  # scrubbed from all it reports

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


def resolve_export_python(export_python: str = "", environments_dir=None) -> str:
    """The interpreter for server-side exports (``ExportUnavailableError`` saying how to get
    one)."""
    if export_python:
        if not os.access(export_python, os.X_OK):
            raise ExportUnavailableError(
                f"c.Workbench.export_python '{export_python}' is not an executable."
            )
        return export_python
    from ..environments.discovery import tensorflow_python

    python = tensorflow_python(environments_dir)
    if python:
        return python
    raise ExportUnavailableError(
        "No Python with TensorFlow for exports: run 'jupyter workbench env create tf2' "
        "or set c.Workbench.export_python."
    )


class ExportService:
    """Runs and remembers the server's export subprocesses."""

    def __init__(
        self,
        root_dir: str,
        *,
        export_python: str = "",
        environments_dir=None,
        timeout: float = 3600,
        url_protocols=DEFAULT_URL_PROTOCOLS,
        logger: logging.Logger | None = None,
    ):
        self.root_dir = root_dir
        self.url_protocols = tuple(url_protocols)
        self.export_python = export_python
        self.environments_dir = environments_dir
        self.timeout = timeout
        self.log = logger or log
        self.jobs: dict[str, ExportJob] = {}

    def start(self, body: dict) -> ExportJob:
        """Start the export a ``POST workbench/api/exports`` body asks for: every field is
        checked and every path confined first (:func:`.request.rest_request`: 400/404 before
        anything runs); the worker gets the request, the job keeps only scrubbed forms."""
        req = rest_request(body, root=self.root_dir, protocols=self.url_protocols)
        python = resolve_export_python(self.export_python, self.environments_dir)
        job = ExportJob(
            id=uuid.uuid4().hex, source=req.source, destination=req.destination, secrets=req.secrets
        )
        self.jobs[job.id] = job
        job.task = asyncio.ensure_future(self._run(job, python, req.worker))
        return job

    def list(self) -> list[ExportJob]:
        return sorted(self.jobs.values(), key=lambda j: j.created_at)

    def get(self, job_id: str) -> ExportJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise ExportNotFoundError(f"No export with id {job_id!r}.")
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
                cwd=self.root_dir,
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
            await asyncio.wait_for(self._read_events(job), timeout=self.timeout)
        except asyncio.TimeoutError:
            job.process.kill()
            self._finish(job, error=f"The export took longer than {self.timeout} s.")
        code = await job.process.wait()
        stderr = (await stderr_task).decode(errors="replace").strip()
        if job.state == "running":
            tail = stderr.splitlines()[-1] if stderr else ""
            why = "cancelled" if code < 0 else f"exited with code {code}"
            self._finish(job, error=f"The export process {why}. {tail}".strip())
        if stderr and job.state == "failed":
            self.log.debug("export %s stderr:\n%s", job.id, scrub(stderr, job.secrets))

    async def _read_events(self, job: ExportJob) -> None:
        async for line in job.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # stray print from a library: not part of the protocol
            kind = event.get("event")
            if kind == "progress":
                job.progress = float(event.get("fraction", job.progress))
                job.message = scrub(str(event.get("message", job.message)), job.secrets)
            elif kind == "done":
                self._finish(job, result=event.get("result"))
            elif kind == "error":
                self._finish(job, error=str(event.get("message", "The export failed.")))

    def _finish(self, job: ExportJob, *, result=None, error=None) -> None:
        if job.state in ("done", "failed"):
            return
        job.ended_at = time.time()
        if error is None:
            job.state, job.progress, job.message = "done", 1.0, "done"
            job.result = scrub(result, job.secrets)
        else:
            job.state, job.message, job.error = "failed", "failed", scrub(error, job.secrets)

    async def cancel(self, job: ExportJob) -> None:
        if job.process is not None and job.process.returncode is None:
            job.process.kill()
            self._finish(job, error="Cancelled by the user.")
            if job.task is not None:
                await asyncio.wait([job.task], timeout=10)

    async def stop(self) -> None:
        """Server shutdown: cancel every running export."""
        for job in list(self.jobs.values()):
            await self.cancel(job)
