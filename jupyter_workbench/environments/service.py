"""``EnvironmentService``: the server's view of the py3/tf2 environments, one per server.

Lists them (the fields of the REST listing plus state and message for the panel), describes one
with its latest creation, and creates or repairs one as a background job of the job manager
(kind ``environment``: ``python -m jupyter_workbench.environments.worker``, detached, so it goes
on when the tab closes or the server restarts, and shows in the Jobs panel), so the frontend
can offer "create tf2" for a notebook whose environment is missing. ``creation`` is a view of
that job: state, step, the last progress lines of its log. Errors are ``WorkbenchEnvError``
(status by kind). No Jupyter imports; the job manager is handed in (``jobs``).
"""

from __future__ import annotations

import asyncio
import logging

from .discovery import environment_info, list_environments
from .errors import WorkbenchEnvError
from .spec import get_spec

log = logging.getLogger(__name__)
KIND = "environment"  # the job kind of a creation

PUBLIC_FIELDS = (
    "name",
    "display_name",
    "description",
    "kernel_name",
    "python",
    "packages",
    "gpu",
    "gpu_visible",
    "ready",
    "state",
    "message",
    "cull_idle_timeout",
    "shared",
    "personal_packages",
)


def public(info: dict) -> dict:
    """The listing fields of an environment's description."""
    return {k: info.get(k) for k in PUBLIC_FIELDS}


LOG_LINES = 20  # progress lines a creation's view carries


class Creation:
    """An environment creation as ``GET environments/{name}`` shows it: a view of its job."""

    def __init__(self, job, log_lines: list[str]):
        self.job = job
        self.name = (job.details or {}).get("environment", job.environment)
        self.state = {"running": "running", "succeeded": "done"}.get(job.state, "failed")
        self.started_at = job.started_at or job.created_at
        self.lines = log_lines
        self.step = job.step or ""
        self.error = None if self.state != "failed" else job.reason or "The creation failed."

    def to_dict(self) -> dict:
        return {
            "state": self.state,
            "step": self.step,
            "started_at": self.started_at,
            "log": list(self.lines),
            "error": self.error,
        }


class EnvironmentService:
    """The environments under ``environments_dir``; their creations are jobs of ``jobs``."""

    def __init__(self, environments_dir=None, jobs=None, *, logger: logging.Logger | None = None):
        self.environments_dir = environments_dir
        self.jobs = jobs  # session.jobs.JobManager
        self.log = logger or log

    async def _off_loop(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    async def list(self) -> list[dict]:
        envs = await self._off_loop(list_environments, self.environments_dir)
        return [public(e) for e in envs]

    async def info(self, name: str) -> dict:
        out = public(await self._off_loop(environment_info, name, self.environments_dir))
        creation = await self._off_loop(self.creation, name)
        # An ended creation while the environment is being created again (by the CLI, which
        # runs no job): not the one in progress, so not shown as if it were.
        stale = creation is not None and creation.state != "running" and out["state"] == "creating"
        if creation is not None and not stale:
            out["creation"] = creation.to_dict()
        return out

    def _jobs_of(self, name: str) -> list:
        return [
            job
            for job in self.jobs.list(kind=KIND)
            if (job.details or {}).get("environment") == name
        ]

    def creation(self, name: str) -> Creation | None:
        """The latest creation of ``name`` (running or ended), or None when there was none."""
        jobs = self._jobs_of(name)
        if not jobs:
            return None
        job = jobs[-1]
        lines = self.jobs.log(job.id, max_bytes=16 * 1024)["log"].splitlines()
        return Creation(job, [ln for ln in lines if ln.strip()][-LOG_LINES:])

    def create(self, name: str) -> Creation:
        """Start creating (or repairing) environment ``name`` as a background job."""
        get_spec(name)  # an unknown name: WorkbenchEnvError (404)
        if any(not job.finished for job in self._jobs_of(name)):
            raise WorkbenchEnvError(
                f"{name} is already being created.", environment=name, kind="busy"
            )
        argv = [self.jobs.python, "-m", "jupyter_workbench.environments.worker", name]
        if self.environments_dir:
            argv += ["--environments-dir", str(self.environments_dir)]
        job = self.jobs.submit_task(
            KIND,
            argv,
            name=f"Create environment {name}",
            environment=name,
            details={"environment": name},
        )
        return Creation(job, [])
