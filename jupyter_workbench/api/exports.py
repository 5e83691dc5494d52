"""``workbench/api/exports``: server-side SavedModel exports of model files under the root
(thin over ``export.service.ExportService``)::

    GET    exports          [export, ...]
    POST   exports          {source, destination, version?, inputs?, outputs?, ...} -> 202 {id}
    GET    exports/{id}     {state: queued|running|done|failed, progress, result|error}
    DELETE exports/{id}     cancel
"""

from __future__ import annotations

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


class ExportsHandler(WorkbenchHandler):
    @web.authenticated
    def get(self):
        self.reply([j.to_dict() for j in self.exports.list()])

    @web.authenticated
    def post(self):
        body = self.json_body(allowed={"source", "destination", *_OPTIONS})
        source = field(body, "source", str, required=True)
        destination = field(body, "destination", str, required=True)
        options = {k: field(body, k, t) for k, t in _OPTIONS.items() if body.get(k) is not None}
        job = self.exports.start(source, destination, options)
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
