"""``workbench/api/environments``: the py3/tf2 environments, and creating one on demand (thin
over ``environments.service.EnvironmentService``).

``GET environments`` lists them as in DESIGN.md; ``POST environments/{name}`` creates or repairs
one as a background job (202; kind ``environment`` under ``workbench/api/jobs``, outliving a
closed tab and a server restart) and ``GET environments/{name}`` shows its state and the last
progress lines, so the frontend can offer "create tf2" for a notebook whose environment is missing.
"""

from __future__ import annotations

from tornado import web

from .base import API, WorkbenchHandler, off_loop

FEATURE = "environments"


class EnvironmentsHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self):
        self.reply(await self.environments.list())


class EnvironmentHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self, name: str):
        self.reply(await self.environments.info(name))

    @web.authenticated
    async def post(self, name: str):
        creation = await off_loop(self.environments.create, name)
        self.reply({"name": name, "creation": creation.to_dict()}, status=202)


handlers = [
    (rf"{API}/environments", EnvironmentsHandler),
    (rf"{API}/environments/([^/]+)", EnvironmentHandler),
]
