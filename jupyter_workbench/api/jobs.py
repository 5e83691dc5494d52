"""``workbench/api/jobs``: background notebooks and scripts (``session.jobs.JobManager``).

Jobs run detached from the server (their own session and process group), so nothing here
stops them: not a closed browser, not an expired login, not a server shutdown.
"""

from __future__ import annotations

import asyncio
import functools

from tornado import web

from ..session.jobs import JobConflict, JobError, JobManager, JobNotFound
from .base import API, WorkbenchHandler, field

FEATURE = "jobs"
_FIELDS = {"path", "environment", "name"}


def _manager(handler: WorkbenchHandler) -> JobManager:
    app = handler.workbench
    manager = getattr(app, "_jobs_manager", None)
    if manager is None:
        manager = app._jobs_manager = JobManager(
            root_dir=app.root_dir, environments_dir=getattr(app, "environments_dir", None)
        )
    return manager


async def _call(func, *args, **kwargs):
    """Run a JobManager call off the event loop, mapping its errors to HTTP statuses."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(None, functools.partial(func, *args, **kwargs))
    except JobNotFound as e:
        raise web.HTTPError(404, str(e)) from None
    except JobConflict as e:
        raise web.HTTPError(409, str(e)) from None
    except JobError as e:
        raise web.HTTPError(400, str(e)) from None


class JobsHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self):
        jobs = await _call(_manager(self).list)
        self.reply([j.to_dict() for j in jobs])

    @web.authenticated
    async def post(self):
        body = self.json_body(allowed=_FIELDS)
        path = field(body, "path", str, required=True)
        environment = field(body, "environment", str)
        name = field(body, "name", str)
        job = await _call(_manager(self).submit, path, environment, name=name)
        self.set_header("Location", self.request.path.rstrip("/") + "/" + job.id)
        self.reply(job.to_dict(), status=201)


class JobHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self, job_id: str):
        job = await _call(_manager(self).get, job_id)
        self.reply(job.to_dict())

    @web.authenticated
    async def delete(self, job_id: str):
        job = await _call(_manager(self).cancel, job_id)
        self.reply(job.to_dict())


class JobLogHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self, job_id: str):
        try:
            max_bytes = int(self.get_argument("bytes", str(64 * 1024)))
        except ValueError:
            raise web.HTTPError(400, "Query parameter 'bytes' must be an integer.") from None
        max_bytes = min(max(max_bytes, 1), 16 * 1024 * 1024)
        tail = await _call(_manager(self).log, job_id, max_bytes=max_bytes)
        self.reply({"id": job_id, **tail})


handlers = [
    (rf"{API}/jobs", JobsHandler),
    (rf"{API}/jobs/([^/]+)", JobHandler),
    (rf"{API}/jobs/([^/]+)/log", JobLogHandler),
]
