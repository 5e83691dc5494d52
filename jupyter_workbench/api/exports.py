"""``workbench/api/exports``: server-side SavedModel exports of model files under the root
(thin over ``export.service.ExportService``)::

    GET    exports          [export, ...]
    POST   exports          {source, destination, version?, inputs?, outputs?, ...} -> 202 {id}
    GET    exports/{id}     {state: queued|running|done|failed, progress, result|error}
    DELETE exports/{id}     cancel
"""

from __future__ import annotations

from tornado import web

from ..export.request import FIELDS
from .base import API, WorkbenchHandler

FEATURE = "export"


class ExportsHandler(WorkbenchHandler):
    @web.authenticated
    def get(self):
        self.reply([j.to_dict() for j in self.exports.list()])

    @web.authenticated
    def post(self):
        job = self.exports.start(self.json_body(allowed=set(FIELDS)))
        self.reply({"id": job.id, "state": job.state}, status=202)


class ExportHandler(WorkbenchHandler):
    @web.authenticated
    def get(self, job_id: str):
        self.reply(self.exports.get(job_id).to_dict())

    @web.authenticated
    async def delete(self, job_id: str):
        job = self.exports.get(job_id)
        await self.exports.cancel(job)
        self.reply(job.to_dict())


handlers = [
    (rf"{API}/exports", ExportsHandler),
    (rf"{API}/exports/([^/]+)", ExportHandler),
]
