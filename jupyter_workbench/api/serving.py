"""``workbench/api/serving``: model servers started from the sidebar, behind Jupyter's auth
(thin over ``serving.manager.ServingService``).

    GET    workbench/api/serving                     the running (and exited) model servers
    POST   workbench/api/serving                     {base, model_name?, poll?, version_policy?}
                                                      -> 201 (once it serves; 400 if it cannot)
    GET    workbench/api/serving/NAME                one, with its versions' states, signatures
                                                      and an example request per signature
    DELETE workbench/api/serving/NAME                stop it
    GET|POST workbench/api/serving/NAME/v1/...       TF Serving's REST API of that server,
                                                      proxied (status and body as it answers;
                                                      bodies up to serving_max_body_size)

Each server is a child process (``jupyter_workbench.serving``, in the interpreter with
TensorFlow) on 127.0.0.1 with ports of its own choosing; the browser only talks to the Jupyter
server, so it never needs a second port or token. The children exit with the Jupyter server
(stopped at shutdown; if it is killed, they notice their parent is gone).
"""

from __future__ import annotations

from tornado import web

from .base import API, WorkbenchHandler, field

FEATURE = "serving"
_FIELDS = {"base", "model_name", "poll", "version_policy", "labels"}


class ServersHandler(WorkbenchHandler):
    @web.authenticated
    def get(self):
        svc = self.serving
        self.reply([svc.info(name) for name in sorted(svc.servers)])

    @web.authenticated
    async def post(self):
        body = self.json_body(allowed=_FIELDS)
        info = await self.serving.start(
            field(body, "base", str, required=True),
            field(body, "model_name", str),
            field(body, "poll", (int, float), default=2.0),
            field(body, "version_policy", str, default="latest"),
            field(body, "labels", list, default=[]),
        )
        self.reply(info, status=201)


class ServerHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self, name: str):
        self.reply(await self.serving.details(name))

    @web.authenticated
    def delete(self, name: str):
        self.reply(self.serving.stop(name))


class ProxyHandler(WorkbenchHandler):
    """TF Serving's REST API of one server, passed through as it answers."""

    @property
    def max_body_bytes(self) -> int:
        """Batches of prediction inputs: ``c.Workbench.serving_max_body_size`` (64 MiB)."""
        return self.workbench.serving_max_body_size

    async def _proxy(self, name: str, path: str, method: str):
        response = await self.serving.fetch(name, path, method, self.body)
        self.set_status(response.code)
        self.set_header("Content-Type", "application/json")
        self.finish(response.body)

    @web.authenticated
    async def get(self, name: str, path: str):
        await self._proxy(name, path, "GET")

    @web.authenticated
    async def post(self, name: str, path: str):
        await self._proxy(name, path, "POST")


handlers = [
    (rf"{API}/serving", ServersHandler),
    (rf"{API}/serving/([^/]+)", ServerHandler),
    (rf"{API}/serving/([^/]+)/(v1/.*)", ProxyHandler),
]
