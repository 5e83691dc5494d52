"""``workbench/api/environments``: the py3/tf2 environments, and creating one on demand.

``GET environments`` lists them as in DESIGN.md; ``POST environments/{name}`` creates or repairs
one in a worker thread (202) and ``GET environments/{name}`` shows its state and the last
progress lines, so the frontend can offer "create tf2" for a notebook whose environment is missing.
"""

from __future__ import annotations

import asyncio
import collections
import time

from tornado import web

from .base import API, WorkbenchHandler

FEATURE = "environments"

_STATUS_FOR_KIND = {"unknown": 404, "busy": 409, "not-ready": 409}


def _public(info: dict) -> dict:
    """The listing fields of DESIGN.md plus state and message for the panel."""
    keys = (
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
    )
    return {k: info.get(k) for k in keys}


class _Creation:
    def __init__(self, name: str):
        self.name = name
        self.state = "running"
        self.started_at = time.time()
        self.lines: collections.deque[str] = collections.deque(maxlen=20)
        self.step = ""
        self.error: str | None = None
        self.future: asyncio.Future | None = None

    def to_dict(self) -> dict:
        return {
            "state": self.state,
            "step": self.step,
            "started_at": self.started_at,
            "log": list(self.lines),
            "error": self.error,
        }


def _creations(app) -> dict[str, _Creation]:
    if not hasattr(app, "_env_creations"):
        app._env_creations = {}
    return app._env_creations


def _env_error(e) -> web.HTTPError:
    return web.HTTPError(_STATUS_FOR_KIND.get(getattr(e, "kind", ""), 400), str(e))


class EnvironmentsHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self):
        from ..environments import list_environments

        loop = asyncio.get_running_loop()
        envs = await loop.run_in_executor(None, list_environments, self.workbench.environments_dir)
        self.reply([_public(e) for e in envs])


class EnvironmentHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self, name: str):
        from ..environments import WorkbenchEnvError, environment_info

        loop = asyncio.get_running_loop()
        try:
            info = await loop.run_in_executor(
                None, environment_info, name, self.workbench.environments_dir
            )
        except WorkbenchEnvError as e:
            raise _env_error(e) from None
        out = _public(info)
        creation = _creations(self.workbench).get(name)
        if creation is not None:
            out["creation"] = creation.to_dict()
        self.reply(out)

    @web.authenticated
    async def post(self, name: str):
        from ..environments import (
            WorkbenchEnvError,
            create_environment,
            format_progress,
            get_spec,
        )

        try:
            get_spec(name)
        except WorkbenchEnvError as e:
            raise _env_error(e) from None
        creations = _creations(self.workbench)
        current = creations.get(name)
        if current is not None and current.state == "running":
            raise web.HTTPError(409, f"{name} is already being created.")
        creation = creations[name] = _Creation(name)
        envs_dir = self.workbench.environments_dir
        log = self.log

        def progress(event: dict) -> None:
            line = format_progress(event)
            creation.lines.append(line)
            if event.get("kind") == "step":
                creation.step = event.get("message", "")

        def run() -> None:
            try:
                create_environment(name, envs_dir, progress=progress)
                creation.state = "done"
            except WorkbenchEnvError as e:
                creation.state, creation.error = "failed", str(e)
            except Exception as e:  # report, never crash the server thread
                log.exception("creating environment %s failed", name)
                creation.state, creation.error = "failed", f"{type(e).__name__}: {e}"

        creation.future = asyncio.get_running_loop().run_in_executor(None, run)
        self.reply({"name": name, "creation": creation.to_dict()}, status=202)


handlers = [
    (rf"{API}/environments", EnvironmentsHandler),
    (rf"{API}/environments/([^/]+)", EnvironmentHandler),
]
