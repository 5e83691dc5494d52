"""Shared handler base: authentication, JSON bodies, and the one exception -> HTTP mapping.

Libraries raise ``WorkbenchError`` subclasses (``jupyter_workbench.errors``: each carries
``http_status`` and ``category``); handlers let them propagate, and ``WorkbenchHandler`` answers
them with that status and ``{"message"}`` (``http_error``). The contents bridge uses the same
``http_error``.
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..errors import WorkbenchError, http_status_for
from ..messages import translate

API = "workbench/api"


def http_error(exc: BaseException, api_path: str = "") -> web.HTTPError:
    """The HTTPError to answer for ``exc`` (raised while serving ``api_path``, if given).

    A 500 only for what is a bug here; errors of a store the storage layer did not classify
    are the store's fault (502).
    """
    if isinstance(exc, web.HTTPError):
        return exc
    status = http_status_for(exc)
    where = f": {api_path}" if api_path else ""
    if isinstance(exc, WorkbenchError):
        message = exc.message
    elif isinstance(exc, FileNotFoundError):
        message = f"No such file or directory{where}" if where else str(exc)
    elif isinstance(exc, FileExistsError):
        message = f"A file or directory already exists{where}" if where else str(exc)
    elif isinstance(exc, NotADirectoryError):
        message = f"Not a directory{where}" if where else str(exc)
    elif isinstance(exc, IsADirectoryError):
        message = f"Is a directory{where}" if where else str(exc)
    elif isinstance(exc, PermissionError):
        message = f"Permission denied{where}" if where else str(exc)
    elif isinstance(exc, OSError) and status == 400:
        message = f"{exc.strerror or exc}{where}"
    elif isinstance(exc, OSError):
        status = 502
        message = f"Storage error{where}: {exc.strerror or exc}"
    elif where:
        message = f"{type(exc).__name__}{where}: {exc}"
    else:
        message = str(exc) or type(exc).__name__
    return web.HTTPError(status, message)


async def off_loop(func, *args, **kwargs):
    """Run a blocking core call (state files, process checks, a subprocess start) off the
    event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(func, *args, **kwargs))


def _core(capability: str, what: str) -> property:
    """A handler property for the server's core object of ``capability``."""
    key = f"workbench_{capability}"
    return property(lambda self: self.settings[key], doc=f"The server's ``{what}``.")


#: Largest request body a workbench endpoint reads (its bodies are small JSON objects);
#: ``c.Workbench.max_body_size`` changes it.
MAX_BODY_SIZE = 1 << 20


@web.stream_request_body
class WorkbenchHandler(ExtensionHandlerMixin, APIHandler):
    """Base for every workbench REST handler (authenticated, JSON in and out).

    Bodies are streamed: a ``Content-Length`` above the limit is answered 413 as soon as the
    headers arrive (nothing of the body is read), a chunked body is cut off at the limit.
    """

    #: A handler's own body limit in bytes (e.g. a proxy of prediction requests); None: the
    #: server's ``c.Workbench.max_body_size``.
    max_body_bytes: int | None = None

    async def prepare(self):
        limit = self.max_body_bytes or getattr(self.workbench, "max_body_size", 0) or MAX_BODY_SIZE
        self._body_chunks: list[bytes] = []
        length = self.request.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > limit:
            raise web.HTTPError(
                413, f"Request body of {int(length)} bytes is over the limit of {limit} bytes."
            )
        self.request.connection.set_max_body_size(limit)
        return await super().prepare()

    def data_received(self, chunk: bytes) -> None:
        self._body_chunks.append(chunk)

    @property
    def body(self) -> bytes:
        """The whole request body (streamed in; ``self.request.body`` stays empty)."""
        return b"".join(getattr(self, "_body_chunks", ())) or self.request.body or b""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # The message in the user's language where the request names one (messages.py).
        exc_type, exc, tb = kwargs.get("exc_info") or (None, None, None)
        if isinstance(exc, web.HTTPError) and exc.log_message and not exc.args:
            message = exc.log_message.replace("%%", "%")
            translated = translate(message, self.request.headers.get("Accept-Language"))
            if translated != message:
                exc = web.HTTPError(exc.status_code, translated, reason=exc.reason)
                kwargs["exc_info"] = (type(exc), exc, tb)
        super().write_error(status_code, **kwargs)

    def _handle_request_exception(self, e: BaseException) -> None:
        # A library error a user caused (4xx) or a store failure (502) is answered with its
        # status and message; anything else stays a 500 with its traceback logged.
        if not isinstance(e, (web.HTTPError, web.Finish)):
            mapped = http_error(e)
            if mapped.status_code != 500:
                try:
                    raise mapped from e
                except web.HTTPError as err:
                    return super()._handle_request_exception(err)
        return super()._handle_request_exception(e)

    @property
    def workbench(self):
        """The ``Workbench`` extension app (its traitlets are the configuration)."""
        return self.extensionapp

    # The core objects, built once by the extension (``Workbench.initialize_settings``).
    mounts = _core("mounts", "storage.service.MountService")
    exports = _core("exports", "export.service.ExportService")
    environments = _core("environments", "environments.service.EnvironmentService")
    jobs = _core("jobs", "session.jobs.JobManager")
    session = _core("session", "session.activity.SessionPolicy (the login timeouts)")
    serving = _core("serving", "serving.manager.ServingService (model servers)")

    def int_argument(self, name: str, default: int) -> int:
        """Query parameter ``name`` as an integer, or a 400 naming it."""
        value = self.get_argument(name, None)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise web.HTTPError(400, f"Query parameter '{name}' must be an integer.") from None

    def json_body(self, allowed: set[str] | None = None) -> dict[str, Any]:
        """The request body as a JSON object, or a 400 naming what is wrong.

        With ``allowed``, a field outside it is a 400 too (a typo must not be ignored silently).
        """
        raw = self.body
        try:
            data = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError) as e:
            raise web.HTTPError(400, f"Request body is not valid JSON: {e}") from None
        except RecursionError:
            raise web.HTTPError(400, "Request body is not valid JSON: nested too deeply.") from None
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
