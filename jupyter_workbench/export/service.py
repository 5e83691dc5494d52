"""``ExportService``: the server's exports of model files, as jobs of the job manager.

Each export is a task job (kind ``export``) of the server's
:class:`~jupyter_workbench.session.jobs.JobManager`: its runner (detached: a closed tab or a
restarted server does not stop it) runs ``python -m jupyter_workbench.export.worker`` with the
interpreter that has TensorFlow (``c.Workbench.export_python``, else the tf2 environment's), so
the server never imports TensorFlow and a crashing export cannot take the server down. The
worker's request (which may carry the destination's credentials) travels on stdin only; the
job's record on disk keeps the scrubbed source and destination, the progress and the result.
``GET workbench/api/exports[/id]`` is a view of those jobs (:class:`ExportJob`, the shape the
REST API always had); they are also listed under ``workbench/api/jobs`` with kind ``export``.

Errors follow the ``jupyter_workbench.errors`` protocol (``ExportError``: 400,
``ExportNotFoundError``: 404, ``ExportUnavailableError``: 409). No Jupyter imports; the job
manager is handed in (``jobs``), not imported.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from ..confine import DEFAULT_URL_PROTOCOLS
from ..errors import WorkbenchError
from .errors import ExportNotFoundError, ExportUnavailableError
from .request import rest_request

log = logging.getLogger(__name__)
KIND = "export"


@dataclass
class ExportJob:
    """An export as ``workbench/api/exports`` shows it: a view of its job."""

    id: str
    source: str
    destination: str
    state: str = "queued"  # queued | running | done | failed
    progress: float = 0.0
    message: str = "queued"
    result: dict | None = None
    error: str | None = None
    created_at: float = 0.0
    ended_at: float | None = None

    @classmethod
    def from_job(cls, job) -> ExportJob:
        details = job.details or {}
        view = cls(
            id=job.id,
            source=details.get("source", job.path or ""),
            destination=details.get("destination", ""),
            created_at=job.created_at,
            ended_at=job.ended_at,
            progress=job.progress or 0.0,
        )
        if job.state == "running":
            view.state = "running" if job.message else "queued"
            view.message = job.message or "queued"
        elif job.state == "succeeded":
            view.state, view.progress, view.message, view.result = "done", 1.0, "done", job.result
        else:  # failed or cancelled
            view.state, view.message = "failed", "failed"
            view.error = job.reason or "The export failed."
        return view

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
    """Starts the server's exports as jobs of ``jobs`` and shows them as exports."""

    def __init__(
        self,
        root_dir: str,
        jobs,
        *,
        export_python: str = "",
        environments_dir=None,
        timeout: float = 3600,
        url_protocols=DEFAULT_URL_PROTOCOLS,
        logger: logging.Logger | None = None,
    ):
        self.root_dir = root_dir
        self.jobs = jobs  # session.jobs.JobManager
        self.url_protocols = tuple(url_protocols)
        self.export_python = export_python
        self.environments_dir = environments_dir
        self.timeout = timeout
        self.log = logger or log

    def start(self, body: dict) -> ExportJob:
        """Start the export a ``POST workbench/api/exports`` body asks for: every field is
        checked and every path confined first (:func:`.request.rest_request`: 400/404 before
        anything runs); the worker gets the request on stdin, the job keeps only scrubbed
        forms."""
        req = rest_request(body, root=self.root_dir, protocols=self.url_protocols)
        python = resolve_export_python(self.export_python, self.environments_dir)
        job = self.jobs.submit_task(
            KIND,
            [python, "-m", "jupyter_workbench.export.worker"],
            name=f"Export {req.source} to {req.destination}",
            environment=_interpreter_label(python, self.environments_dir),
            path=req.source,
            cwd=self.root_dir,
            env={"TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "2"},
            details={"source": req.source, "destination": req.destination},
            stdin=json.dumps(req.worker),
            secrets=req.secrets,
            timeout=self.timeout,
            timeout_reason=f"The export took longer than {self.timeout} s.",
        )
        return ExportJob.from_job(job)

    def list(self) -> list[ExportJob]:
        return [ExportJob.from_job(job) for job in self.jobs.list(kind=KIND)]

    def _job(self, export_id: str):
        try:
            job = self.jobs.get(export_id)
        except WorkbenchError:  # JobNotFound: no such id (or not a valid one)
            job = None
        if job is None or job.kind != KIND:
            raise ExportNotFoundError(f"No export with id {export_id!r}.")
        return job

    def get(self, export_id: str) -> ExportJob:
        return ExportJob.from_job(self._job(export_id))

    def cancel(self, export_id: str) -> ExportJob:
        """Stop a running export (a finished one is left as it is)."""
        job = self._job(export_id)
        if not job.finished:
            try:
                job = self.jobs.cancel(export_id)
            except WorkbenchError:  # it finished meanwhile (JobConflict)
                job = self.jobs.get(export_id)
        return ExportJob.from_job(job)


def _interpreter_label(python: str, environments_dir) -> str:
    """ "tf2" for the tf2 environment's interpreter, else the interpreter's path."""
    try:
        from ..environments.discovery import environment_python

        tf2 = environment_python("tf2", environments_dir)
    except Exception:  # noqa: BLE001 - environments not provisioned
        tf2 = None
    return "tf2" if tf2 and os.path.realpath(str(tf2)) == os.path.realpath(python) else python
