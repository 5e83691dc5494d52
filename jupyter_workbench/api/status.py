"""``GET workbench/api/status``: the frontend's handshake (version and features)."""

from __future__ import annotations

from tornado import web

from .._version import __version__
from .base import API, WorkbenchHandler


class StatusHandler(WorkbenchHandler):
    @web.authenticated
    def get(self):
        self.reply({"version": __version__, "features": self.workbench.features()})


handlers = [(rf"{API}/status", StatusHandler)]
