"""The REST front end: TF Serving's URLs and JSON on a threaded HTTP/1.1 server (stdlib).

Routes (case-insensitive, TF Serving's http_rest_api_util.cc patterns)::

    GET  /v1/models/NAME[/versions/N|/labels/L][/metadata]
    POST /v1/models/NAME[/versions/N|/labels/L]:(predict|classify|regress)
"""

from __future__ import annotations

import logging
import re
import socket
import socketserver
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from . import codec
from .status import InvalidArgument, NotFound, RequestError

log = logging.getLogger("jupyter_workbench.serving")

_PREDICT = re.compile(
    r"(?i)/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)"
)
_STATUS = re.compile(
    r"(?i)/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?"
)
MAX_BODY = 256 << 20


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "jupyter-workbench-serving"
    core = None  # set by make_server

    def log_message(self, fmt, *args):  # quiet access log (debug only)
        log.debug("%s %s", self.address_string(), fmt % args)

    def setup(self):
        super().setup()
        # one write per response and no Nagle delay: small responses go out at once
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, status: int, doc) -> None:
        body = codec.dumps(doc)
        head = (
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Access-Control-Allow-Origin: *\r\n"
            "Access-Control-Allow-Methods: POST, GET\r\n"
            "Access-Control-Allow-Headers: Content-Type\r\n"
            "\r\n"
        ).encode("latin-1")
        self.wfile.write(head + body)
        self.wfile.flush()

    def _error(self, err: RequestError) -> None:
        self._send(err.http_status, {"error": str(err)})

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_OPTIONS(self):
        self._send(200, {})

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        if not length:
            return b""
        n = int(length)
        if n > MAX_BODY:
            raise InvalidArgument(f"the request body is over {MAX_BODY >> 20} MB")
        return self.rfile.read(n)

    def _dispatch(self, method: str) -> None:
        try:
            body = self._body() if method == "POST" else b""
            path = unquote(self._path())
            if method == "POST":
                m = _PREDICT.fullmatch(path)
                if not m:
                    raise NotFound(f"Malformed request: POST {self._path()}")
                name, version, label, verb = m.groups()
                verb = verb.lower()
                if verb == "predict":
                    doc = self.core.rest_predict(name, version, label, body)
                else:
                    doc = self.core.rest_classify_regress(name, version, label, verb, body)
            else:
                m = _STATUS.fullmatch(path)
                if not m or not m.group(1):
                    raise NotFound(f"Malformed request: GET {self._path()}")
                name, version, label, sub = m.groups()
                if sub:
                    doc = self.core.rest_metadata(name, version, label)
                else:
                    doc = self.core.rest_status(name, version, label)
        except RequestError as err:
            self._error(err)
            return
        except (ValueError, OverflowError) as err:
            self._error(InvalidArgument(str(err)))
            return
        except Exception as err:  # a bug here: say so, keep serving
            log.exception("request %s %s failed", method, self.path)
            self._send(500, {"error": f"internal error: {type(err).__name__}: {err}"})
            return
        self._send(200, doc)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def bind(host: str, port: int) -> _Server:
    """Bind (without serving yet); ``OSError`` if the port is taken."""
    handler = type("Handler", (_Handler,), {})
    server = _Server((host, port), handler, bind_and_activate=False)
    try:
        server.server_bind()
        server.server_activate()
    except OSError:
        server.server_close()
        raise
    return server


def attach(server: _Server, core) -> None:
    server.RequestHandlerClass.core = core


__all__ = ["bind", "attach", "socketserver"]
