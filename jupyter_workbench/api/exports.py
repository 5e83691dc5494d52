"""``workbench/api/exports``: server-side SavedModel exports of model files under the root
(thin over ``export.service.ExportService``; each export is a job, also listed under
``workbench/api/jobs`` with kind ``export``, and outlives a closed tab and a server restart)::

    GET    exports          [export, ...]
    POST   exports          {source, destination, version?, inputs?, outputs?, ...} -> 202 {id}
    GET    exports/{id}     {state: queued|running|done|failed, progress, result|error}
    DELETE exports/{id}     cancel
"""

from __future__ import annotations

from tornado import web

from ..export.request import FIELDS
from .base import API, WorkbenchHandler, off_loop

FEATURE = "export"


class ExportsHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self):
        self.reply([j.to_dict() for j in await off_loop(self.exports.list)])

    @web.authenticated
    async def post(self):
        job = await off_loop(self.exports.start, self.json_body(allowed=set(FIELDS)))
        self.reply({"id": job.id, "state": job.state}, status=202)


class ExportHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self, job_id: str):
        self.reply((await off_loop(self.exports.get, job_id)).to_dict())

    @web.authenticated
    async def delete(self, job_id: str):
        self.reply((await off_loop(self.exports.cancel, job_id)).to_dict())


handlers = [
    (rf"{API}/exports", ExportsHandler),
    (rf"{API}/exports/([^/]+)", ExportHandler),
]
