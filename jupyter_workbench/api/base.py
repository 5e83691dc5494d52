"""Shared handler base: authentication, JSON bodies, clear 4xx errors."""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

API = "workbench/api"


class WorkbenchHandler(ExtensionHandlerMixin, APIHandler):
    """Base for every workbench REST handler (authenticated, JSON in and out)."""

    @property
    def workbench(self):
        """The ``Workbench`` extension app (its traitlets are the configuration)."""
        return self.extensionapp

    def json_body(self, allowed: set[str] | None = None) -> dict[str, Any]:
        """The request body as a JSON object, or a 400 naming what is wrong.

        With ``allowed``, a field outside it is a 400 too (a typo must not be ignored silently).
        """
        raw = self.request.body or b""
        try:
            data = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError) as e:
            raise web.HTTPError(400, f"Request body is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise web.HTTPError(400, "Request body must be a JSON object.")
        unknown = sorted(set(data) - allowed) if allowed is not None else []
        if unknown:
            raise web.HTTPError(400, f"Unknown field(s): {', '.join(unknown)}.")
        return data

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))


def field(body: dict, name: str, kind: type | tuple, *, required: bool = False, default=None):
    """Read ``body[name]`` checking its JSON type; a 400 names the field otherwise."""
    if name not in body or body[name] is None:
        if required:
            raise web.HTTPError(400, f"Missing required field '{name}'.")
        return default
    value = body[name]
    # bool is an int subclass: do not accept true for a number.
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise web.HTTPError(400, f"Field '{name}' must be a number, got a boolean.")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise web.HTTPError(400, f"Field '{name}' must be of type {names}.")
    return value
