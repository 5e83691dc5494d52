"""``workbench/api/jobs``: background notebooks and scripts (thin over ``session.jobs.JobManager``).

Jobs run detached from the server (their own session and process group), so nothing here
stops them: not a closed browser, not an expired login, not a server shutdown. The listing
also shows the server's exports (kind ``export``) and environment creations (kind
``environment``), which are jobs of the same manager; POST starts notebooks and scripts only.
DELETE cancels a running job; ``DELETE jobs/{id}?remove=true`` removes a finished one.
"""

from __future__ import annotations

from tornado import web

from .base import API, WorkbenchHandler, field
from .base import off_loop as _off_loop

FEATURE = "jobs"
_FIELDS = {"path", "environment", "name"}
LOG_BYTES = 64 * 1024  # default tail of a job's log
MAX_LOG_BYTES = 16 * 1024 * 1024


class JobsHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self):
        jobs = await _off_loop(self.jobs.list)
        self.reply([j.to_dict() for j in jobs])

    @web.authenticated
    async def post(self):
        body = self.json_body(allowed=_FIELDS)
        path = field(body, "path", str, required=True)
        environment = field(body, "environment", str)
        name = field(body, "name", str)
        job = await _off_loop(self.jobs.submit, path, environment, name=name)
        self.set_header("Location", self.request.path.rstrip("/") + "/" + job.id)
        self.reply(job.to_dict(), status=201)


class JobHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self, job_id: str):
        self.reply((await _off_loop(self.jobs.get, job_id)).to_dict())

    @web.authenticated
    async def delete(self, job_id: str):
        """Cancel a running job; with ``?remove=true``, delete a finished one and its log
        (409 while it runs)."""
        remove = (self.get_argument("remove", None) or "false").lower()
        if remove not in ("true", "false", "1", "0"):
            raise web.HTTPError(400, "Query parameter 'remove' must be true or false.")
        if remove in ("true", "1"):
            job = await _off_loop(self.jobs.remove, job_id)
            self.reply({**job.to_dict(), "removed": True})
            return
        self.reply((await _off_loop(self.jobs.cancel, job_id)).to_dict())


class JobLogHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self, job_id: str):
        max_bytes = min(max(self.int_argument("bytes", LOG_BYTES), 1), MAX_LOG_BYTES)
        offset = self.int_argument("offset", None)
        if offset is not None and offset < 0:
            raise web.HTTPError(400, "Query parameter 'offset' must be 0 or more.")
        tail = await _off_loop(self.jobs.log, job_id, max_bytes=max_bytes, offset=offset)
        self.reply({"id": job_id, **tail})


handlers = [
    (rf"{API}/jobs", JobsHandler),
    (rf"{API}/jobs/([^/]+)", JobHandler),
    (rf"{API}/jobs/([^/]+)/log", JobLogHandler),
]
