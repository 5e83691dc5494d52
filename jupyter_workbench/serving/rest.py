"""The REST front end: TF Serving's URLs and JSON over HTTP/1.1 on one asyncio event loop.

Routes (case-insensitive, TF Serving's http_rest_api_util.cc patterns)::

    GET  /v1/models/NAME[/versions/N|/labels/L][/metadata]
    POST /v1/models/NAME[/versions/N|/labels/L]:(predict|classify|regress)

One thread runs the event loop: it reads and parses requests of every connection (keep-alive,
pipelining, ``Content-Length`` or chunked bodies, ``Expect: 100-continue``) and decodes their
JSON. Predict requests read in one loop iteration, of this front end and of the gRPC one
(:mod:`.grpc_server`, served on the same loop), are handed together to a small pool of worker
threads (:meth:`ServingCore.predict_many`), so concurrent single-row requests reach TensorFlow
as one batch, and the loop keeps reading while TensorFlow runs. The stdlib's
``BaseHTTPRequestHandler`` (a thread per connection, ``email`` header parsing) cost more than
the model itself per request.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from urllib.parse import unquote

from . import codec
from .status import InvalidArgument, NotFound, RequestError, Unimplemented

log = logging.getLogger("jupyter_workbench.serving")

_PREDICT = re.compile(
    r"(?i)/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)"
)
_STATUS = re.compile(
    r"(?i)/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?"
)
MAX_BODY = 256 << 20
MAX_HEAD = 64 << 10
WORKERS = 4  # threads running predict batches (one runs TensorFlow at a time per signature)

_CORS = (
    b"Content-Type: application/json\r\n"
    b"Access-Control-Allow-Origin: *\r\n"
    b"Access-Control-Allow-Methods: POST, GET\r\n"
    b"Access-Control-Allow-Headers: Content-Type\r\n"
)


class _BadRequest(Exception):
    """The bytes are not an HTTP/1.x request: answer 400 and close."""


class _Request:
    __slots__ = ("method", "target", "keep_alive", "body")

    def __init__(self, method, target, keep_alive, body):
        self.method, self.target, self.keep_alive, self.body = method, target, keep_alive, body


class _Connection(asyncio.Protocol):
    """One client connection: parses requests in order, answers them in order."""

    def __init__(self, server: RestServer):
        self.server = server
        self.buf = bytearray()
        self.transport = None
        self.head = None  # (method, target, keep_alive, length | "chunked") once headers are in
        self.chunk_pos = 0  # chunked bodies: parse offset into buf and the chunks so far
        self.chunks: list[bytes] = []
        self.chunk_size = 0
        self.queue: list[_Request] = []
        self.busy = False  # a request of this connection is being answered
        self.closing = False
        self.closing_after = False  # a request could not be parsed: nothing after it is read

    def connection_made(self, transport):
        self.transport = transport
        self.server.connections.add(self)
        no_delay(transport)

    def connection_lost(self, exc):
        self.closing = True
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        if self.closing or self.closing_after:
            return
        self.buf += data
        try:
            while self._parse_one():
                pass
        except _BadRequest as err:
            self._fail(400, str(err))
        except RequestError as err:
            self._fail(err.http_status, str(err))
        self._next()

    # ------------------------------------------------------------------ parsing

    def _parse_one(self) -> bool:
        """Take one complete request out of ``buf`` (True), or wait for more bytes (False)."""
        if self.head is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    raise _BadRequest("the request headers are too long")
                return False
            self.head = self._parse_head(bytes(self.buf[:end]).decode("latin-1"))
            del self.buf[: end + 4]
        method, target, keep_alive, length, expect = self.head
        if expect:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.head = (method, target, keep_alive, length, False)
        if length == "chunked":
            body = self._parse_chunks()
            if body is None:
                return False
        else:
            if len(self.buf) < length:
                return False
            body = bytes(self.buf[:length])
            del self.buf[:length]
        self.head = None
        self.queue.append(_Request(method, target, keep_alive, body))
        return not self.closing and keep_alive

    def _parse_head(self, text: str):
        lines = text.split("\r\n")
        while lines and not lines[0]:
            lines.pop(0)  # stray CRLF between requests (RFC 9112 2.2)
        parts = lines[0].split(" ") if lines else []
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(f"Bad request syntax ({(lines[0] if lines else '')[:200]!r})")
        method, target, version = parts
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise _BadRequest(f"Bad header line {line[:200]!r}")
            headers[name.lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        if version == "HTTP/1.0":
            keep_alive = "keep-alive" in connection
        else:
            keep_alive = "close" not in connection
        expect = headers.get("expect", "").lower() == "100-continue"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return method, target, keep_alive, "chunked", expect
        raw = headers.get("content-length", "0") or "0"
        if not raw.isdigit():
            raise _BadRequest(f"Bad Content-Length {raw[:50]!r}")
        length = int(raw)
        if length > MAX_BODY:
            raise InvalidArgument(f"the request body is over {MAX_BODY >> 20} MB")
        return method, target, keep_alive, length, expect

    def _parse_chunks(self) -> bytes | None:
        buf = self.buf
        pos = self.chunk_pos
        while True:
            if self.chunk_size == 0:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    self.chunk_pos = pos
                    return None
                size_text = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
                try:
                    size = int(size_text or b"0", 16)
                except ValueError:
                    raise _BadRequest(f"Bad chunk size {size_text[:20]!r}") from None
                if size == 0:
                    end = buf.find(b"\r\n", eol + 2)  # trailers (none expected) end the body
                    if end < 0:
                        self.chunk_pos = pos
                        return None
                    del buf[: end + 2]
                    body = b"".join(self.chunks)
                    self.chunks, self.chunk_pos = [], 0
                    return body
                if sum(map(len, self.chunks)) + size > MAX_BODY:
                    raise InvalidArgument(f"the request body is over {MAX_BODY >> 20} MB")
                self.chunk_size = size
                pos = eol + 2
            if len(buf) - pos < self.chunk_size + 2:
                self.chunk_pos = pos
                return None
            self.chunks.append(bytes(buf[pos : pos + self.chunk_size]))
            pos += self.chunk_size + 2
            self.chunk_size = 0
            # drop what is consumed so a long body is not rescanned
            del buf[:pos]
            pos = 0

    # ------------------------------------------------------------------ answering

    def _next(self) -> None:
        """Answer the next queued request unless one is in progress (responses stay in order)."""
        while self.queue and not self.busy and not self.closing:
            request = self.queue.pop(0)
            self.busy = True
            self.server.handle(self, request)

    def respond(self, request: _Request, status: int, doc) -> None:
        self.busy = False
        if self.closing:
            return
        body = codec.dumps(doc)
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        keep = request.keep_alive
        self.transport.write(
            b"".join(
                (
                    f"HTTP/1.1 {status} {reason}\r\n".encode("latin-1"),
                    _CORS,
                    f"Content-Length: {len(body)}\r\n".encode(),
                    b"" if keep else b"Connection: close\r\n",
                    b"\r\n",
                    body,
                )
            )
        )
        if not keep:
            self.closing = True
            self.transport.close()
            return
        self._next()

    def _fail(self, status: int, message: str) -> None:
        """Answer ``status`` after the requests before it, then close (the rest is unreadable)."""
        self.queue.append(_Request("", "", False, (status, message)))
        self.closing_after = True


class RestServer:
    """The listening socket and its event loop (``serve_forever`` in a thread of its own)."""

    def __init__(self, sock: socket.socket):
        self.socket = sock
        self.server_address = sock.getsockname()
        self.core = None
        self.loop = None
        self._server = None
        self._extra: list = []
        self._stopped = threading.Event()
        self.connections: set[_Connection] = set()
        self._pending: list = []  # (callback, prepared) of the predicts of this loop iteration
        self._flush_scheduled = False
        self._listeners: list = []  # (socket, protocol factory) served on the loop besides REST
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="rest-predict")

    # ------------------------------------------------------------------ lifecycle

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self._server = self.loop.run_until_complete(
                self.loop.create_server(lambda: _Connection(self), sock=self.socket, backlog=128)
            )
            for sock, factory in self._listeners:
                self._extra.append(
                    self.loop.run_until_complete(
                        self.loop.create_server(factory, sock=sock, backlog=128)
                    )
                )
            self.loop.run_forever()
        finally:
            for server in [self._server, *self._extra]:
                if server is not None:
                    server.close()
            for conn in list(self.connections):
                conn.transport.close()
            self.loop.run_until_complete(asyncio.sleep(0))
            self.loop.close()
            self._stopped.set()

    def add_listener(self, sock: socket.socket, factory) -> None:
        """Serve ``factory()`` protocols on ``sock`` on this loop too (before
        :meth:`serve_forever`); their connections close with it."""
        self._listeners.append((sock, factory))

    def shutdown(self) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._stopped.wait(5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def server_close(self) -> None:
        self.socket.close()

    # ------------------------------------------------------------------ requests

    def handle(self, conn: _Connection, request: _Request) -> None:
        if not request.method:  # a request that could not be parsed
            status, message = request.body
            conn.respond(request, status, {"error": message})
            return
        try:
            self._route(conn, request)
        except RequestError as err:
            conn.respond(request, err.http_status, {"error": str(err)})
        except (ValueError, OverflowError) as err:
            conn.respond(request, 400, {"error": str(err)})
        except Exception as err:  # a bug here: say so, keep serving
            log.exception("request %s %s failed", request.method, request.target)
            conn.respond(request, 500, {"error": f"internal error: {type(err).__name__}: {err}"})

    def _route(self, conn: _Connection, request: _Request) -> None:
        shown = request.target.split("?", 1)[0]
        path = unquote(shown)
        method = request.method
        if method == "OPTIONS":
            conn.respond(request, 200, {})
            return
        if method == "POST":
            m = _PREDICT.fullmatch(path)
            if not m:
                raise NotFound(f"Malformed request: POST {shown}")
            name, version, label, verb = m.groups()
            verb = verb.lower()
            if verb == "predict":
                prepared = self.core.rest_predict_prepare(name, version, label, request.body)
                self.predict(prepared, lambda result: self._answer(conn, request, result))
                return
            doc = self.core.rest_classify_regress(name, version, label, verb, request.body)
        elif method == "GET":
            m = _STATUS.fullmatch(path)
            if not m or not m.group(1):
                raise NotFound(f"Malformed request: GET {shown}")
            name, version, label, sub = m.groups()
            if sub:
                doc = self.core.rest_metadata(name, version, label)
            else:
                doc = self.core.rest_status(name, version, label)
        else:
            raise Unimplemented(f"Unsupported method ({method})")
        conn.respond(request, 200, doc)

    def predict(self, prepared: tuple, callback) -> None:
        """Run a prepared predict (:meth:`ServingCore.predict_many`) with the others of this
        loop iteration as one batch; ``callback(response or exception)`` on the loop."""
        self._pending.append((callback, prepared))
        if not self._flush_scheduled:
            # after every request read in this loop iteration: one batch
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def run(self, fn, callback) -> None:
        """``fn()`` on a worker thread; ``callback(result or exception)`` on the loop."""

        def done(future):
            try:
                result = future.result()
            except Exception as err:
                result = err
            self.loop.call_soon_threadsafe(callback, result)

        self._pool.submit(fn).add_done_callback(done)

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        future = self._pool.submit(self.core.predict_many, [p[1] for p in pending])
        future.add_done_callback(lambda f: self.loop.call_soon_threadsafe(self._done, pending, f))

    @staticmethod
    def _done(pending, future) -> None:
        try:
            results = future.result()
        except Exception as err:  # predict_many answers per request; this is a bug
            log.exception("predict batch failed")
            results = [err] * len(pending)
        for (callback, _prepared), result in zip(pending, results, strict=True):
            callback(result)

    @staticmethod
    def _answer(conn: _Connection, request: _Request, result) -> None:
        if isinstance(result, RequestError):
            conn.respond(request, result.http_status, {"error": str(result)})
        elif isinstance(result, (ValueError, OverflowError)):
            conn.respond(request, 400, {"error": str(result)})
        elif isinstance(result, Exception):
            conn.respond(
                request, 500, {"error": f"internal error: {type(result).__name__}: {result}"}
            )
        else:
            conn.respond(request, 200, result)


def listen(host: str, port: int) -> socket.socket:
    """A non-blocking listening socket on ``host:port``; ``OSError`` if the port is taken (no
    SO_REUSEPORT: a second server on the same port must fail, not share it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def no_delay(transport) -> None:
    """Answers leave at once (no Nagle delay on small responses)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


def bind(host: str, port: int) -> RestServer:
    """Bind and listen (without serving yet); ``OSError`` if the port is taken."""
    return RestServer(listen(host, port))


def attach(server: RestServer, core) -> None:
    server.core = core


__all__ = ["bind", "attach", "RestServer"]
