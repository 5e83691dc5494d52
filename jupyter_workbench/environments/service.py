"""``EnvironmentService``: the server's view of the py3/tf2 environments, one per server.

Lists them (the fields of the REST listing plus state and message for the panel), describes one
with its creation in progress, and creates or repairs one in a worker thread while keeping its
last progress lines, so the frontend can offer "create tf2" for a notebook whose environment is
missing. Errors are ``WorkbenchEnvError`` (status by kind). No Jupyter imports.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time

from .discovery import environment_info, list_environments
from .errors import WorkbenchEnvError
from .provision import create_environment, format_progress
from .spec import get_spec

log = logging.getLogger(__name__)

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


class Creation:
    """An environment being created: state, current step, the last progress lines."""

    def __init__(self, name: str):
        self.name = name
        self.state = "running"
        self.started_at = time.time()
        self.lines: collections.deque[str] = collections.deque(maxlen=20)
        self.step = ""
        self.error: str | None = None
        self.future: asyncio.Future | None = None

    def progress(self, event: dict) -> None:
        self.lines.append(format_progress(event))
        if event.get("kind") == "step":
            self.step = event.get("message", "")

    def to_dict(self) -> dict:
        return {
            "state": self.state,
            "step": self.step,
            "started_at": self.started_at,
            "log": list(self.lines),
            "error": self.error,
        }


class EnvironmentService:
    """The environments under ``environments_dir`` and their creations in progress."""

    def __init__(self, environments_dir=None, *, logger: logging.Logger | None = None):
        self.environments_dir = environments_dir
        self.log = logger or log
        self.creations: dict[str, Creation] = {}

    async def _off_loop(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    async def list(self) -> list[dict]:
        envs = await self._off_loop(list_environments, self.environments_dir)
        return [public(e) for e in envs]

    async def info(self, name: str) -> dict:
        out = public(await self._off_loop(environment_info, name, self.environments_dir))
        creation = self.creations.get(name)
        if creation is not None:
            out["creation"] = creation.to_dict()
        return out

    def create(self, name: str) -> Creation:
        """Start creating (or repairing) environment ``name`` in a worker thread."""
        get_spec(name)  # an unknown name: WorkbenchEnvError (404)
        current = self.creations.get(name)
        if current is not None and current.state == "running":
            raise WorkbenchEnvError(
                f"{name} is already being created.", environment=name, kind="busy"
            )
        creation = self.creations[name] = Creation(name)

        def run() -> None:
            try:
                create_environment(name, self.environments_dir, progress=creation.progress)
                creation.state = "done"
            except WorkbenchEnvError as e:
                creation.state, creation.error = "failed", str(e)
            except Exception as e:  # report, never crash the server thread
                self.log.exception("creating environment %s failed", name)
                creation.state, creation.error = "failed", f"{type(e).__name__}: {e}"

        creation.future = asyncio.get_running_loop().run_in_executor(None, run)
        return creation
