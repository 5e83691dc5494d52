"""The HTTP side: the threaded server, request plumbing (bodies, replies, errors), the router."""

from __future__ import annotations

import base64
import contextlib
import logging
import socket
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

from .auth import SUBRESOURCES, SignatureChecks
from .buckets import BucketOps
from .multipart import MultipartOps
from .objects import ObjectOps
from .records import CHUNK, OSSServiceError
from .wire import MAX_XML_BODY, _Drop, _sub

if TYPE_CHECKING:
    from .emulator import OSSEmulator
    from .store import ObjectStore

log = logging.getLogger(__name__)

# Query parameters that qualify an operation instead of naming one (they never select a route).
OPERATION_PARAMETERS = frozenset(
    [
        "response-content-type",
        "response-content-language",
        "response-cache-control",
        "response-content-encoding",
        "response-expires",
        "response-content-disposition",
        "position",
        "partNumber",
        "security-token",
        "continuation-token",
        "x-oss-traffic-limit",
        "x-oss-request-payer",
    ]
)
# Subresources that name an operation, with a few newer OSS APIs that oss2's V1 list lacks.
OPERATION_SUBRESOURCES = (
    SUBRESOURCES
    | {
        "accessPoint",
        "publicAccessBlock",
        "policyStatus",
        "httpsConfig",
        "responseHeader",
        "userDefinedLogFieldsConfig",
        "redundancyTransition",
        "archiveDirectRead",
        "overwriteConfig",
        "img",
    }
) - OPERATION_PARAMETERS

_B, _O = "bucket", "object"
# (method, level, operation subresources) -> handler. Anything else answers NotImplemented.
ROUTES = {
    ("GET", "service", frozenset()): "_list_buckets",
    ("PUT", _B, frozenset()): "_create_bucket",
    ("GET", _B, frozenset()): "_list_objects_any",
    ("HEAD", _B, frozenset()): "_head_bucket",
    ("DELETE", _B, frozenset()): "_delete_bucket",
    ("GET", _B, frozenset({"bucketInfo"})): "_bucket_info",
    ("GET", _B, frozenset({"location"})): "_bucket_location",
    ("GET", _B, frozenset({"stat"})): "_bucket_stat",
    ("GET", _B, frozenset({"acl"})): "_get_bucket_acl",
    ("PUT", _B, frozenset({"acl"})): "_put_bucket_acl",
    ("GET", _B, frozenset({"uploads"})): "_list_uploads",
    ("GET", _B, frozenset({"live"})): "_list_live_channels",
    ("POST", _B, frozenset({"delete"})): "_batch_delete",
    ("GET", _O, frozenset()): "_get",
    ("HEAD", _O, frozenset()): "_head",
    ("HEAD", _O, frozenset({"objectMeta"})): "_head_meta",
    ("GET", _O, frozenset({"objectMeta"})): "_head_meta",
    ("PUT", _O, frozenset()): "_put",
    ("DELETE", _O, frozenset()): "_delete",
    ("GET", _O, frozenset({"tagging"})): "_get_tagging",
    ("PUT", _O, frozenset({"tagging"})): "_put_tagging",
    ("DELETE", _O, frozenset({"tagging"})): "_delete_tagging",
    ("PUT", _O, frozenset({"symlink"})): "_put_symlink",
    ("GET", _O, frozenset({"symlink"})): "_get_symlink",
    ("GET", _O, frozenset({"acl"})): "_get_object_acl",
    ("PUT", _O, frozenset({"acl"})): "_put_object_acl",
    ("POST", _O, frozenset({"append"})): "_append_object",
    ("POST", _O, frozenset({"restore"})): "_restore_object",
    ("POST", _O, frozenset({"uploads"})): "_init_multipart",
    ("PUT", _O, frozenset({"uploadId"})): "_put_part",
    ("POST", _O, frozenset({"uploadId"})): "_complete_multipart",
    ("GET", _O, frozenset({"uploadId"})): "_list_parts",
    ("DELETE", _O, frozenset({"uploadId"})): "_abort_multipart",
}


def _not_implemented(method: str, level: str, ops: frozenset) -> OSSServiceError:
    what = "&".join(sorted(ops)) or "(no subresource)"
    return OSSServiceError(
        501,
        "NotImplemented",
        f"The emulator does not implement {method} on a {level} with {what}.",
        Method=method,
        ResourceType=level,
    )


# ------------------------------------------------------------------------------------ server


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    bucket: str
    key: str
    query: dict
    status: int


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, handler, emulator):
        self.emulator = emulator
        self._connections: set = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request_thread(self, request, client_address):
        with self._conn_lock:
            self._connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._connections.discard(request)

    def handle_error(self, request, client_address):
        # A client that hangs up (or a stop cutting keep-alive connections) is no error.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            log.debug("connection from %s closed", client_address)
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Cut keep-alive connections so a stopped emulator really stops answering."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Handler(SignatureChecks, BucketOps, ObjectOps, MultipartOps, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AliyunOSS"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this
    # Headers and body go out in separate writes; with Nagle's algorithm on, the body waits for
    # the client's delayed ACK of the headers (40 ms on Linux loopback) on every GET and listing.
    disable_nagle_algorithm = True

    server: _Server

    # ----------------------------------------------------------- plumbing

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        log.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self):
        self._handle()

    def do_HEAD(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def do_PATCH(self):  # no OSS operation: answered NotImplemented like any unknown request
        self._handle()

    def do_OPTIONS(self):
        self._handle()

    @property
    def emulator(self) -> OSSEmulator:
        return self.server.emulator

    @property
    def store(self) -> ObjectStore:
        return self.server.emulator.store

    def _setup_body(self) -> None:
        self._chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        self._chunk_left = 0
        self._body_done = False
        self._remaining = 0 if self._chunked else int(self.headers.get("Content-Length") or 0)

    def read_body(self, n: int = CHUNK) -> bytes:
        """Up to ``n`` bytes of the request body; b"" at its end."""
        if self._body_done:
            return b""
        if not self._chunked:
            if self._remaining <= 0:
                self._body_done = True
                return b""
            data = self.rfile.read(min(n, self._remaining))
            if not data:
                raise ConnectionError("client closed the connection mid-body")
            self._remaining -= len(data)
            return data
        if self._chunk_left == 0:
            line = self.rfile.readline(1024)
            if not line:
                raise ConnectionError("client closed the connection mid-body")
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                self._body_done = True
                return b""
            self._chunk_left = size
        data = self.rfile.read(min(n, self._chunk_left))
        if not data:
            raise ConnectionError("client closed the connection mid-body")
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self.rfile.readline(16)
        return data

    def _read_all(self, limit: int = MAX_XML_BODY) -> bytes:
        parts, size = [], 0
        while chunk := self.read_body():
            size += len(chunk)
            if size > limit:
                raise OSSServiceError(400, "EntityTooLarge", "The request body is too large.")
            parts.append(chunk)
        return b"".join(parts)

    def _drain(self) -> None:
        with contextlib.suppress(Exception):
            while self.read_body():
                pass

    def _send(
        self, status: int, body: bytes = b"", headers: dict | None = None, xml: bool = True
    ) -> None:
        self.send_response(status)
        all_headers = {
            "x-oss-request-id": self.request_id,
            "Content-Length": str(len(body)),
        }
        if body and xml:
            all_headers["Content-Type"] = "application/xml"
        all_headers.update(headers or {})
        for k, v in all_headers.items():
            self.send_header(k, v)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        self.status_sent = status

    def _send_xml(self, status: int, root: ET.Element, headers: dict | None = None) -> None:
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
        self._send(status, body, headers)

    def _send_error(self, err: OSSServiceError) -> None:
        root = ET.Element("Error")
        _sub(root, "Code", err.code)
        _sub(root, "Message", err.message)
        _sub(root, "RequestId", self.request_id)
        _sub(root, "HostId", self.headers.get("Host", "127.0.0.1"))
        for k, v in err.fields.items():
            _sub(root, k, v)
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
        headers = dict(err.headers)
        if self.command == "HEAD":
            headers["x-oss-err"] = base64.b64encode(body).decode()
            self._send(err.status, b"", headers)
        else:
            self._send(err.status, body, headers)

    # ----------------------------------------------------------- dispatch

    def send_response(self, code, message=None):
        # Logged before the answer leaves, so a client that got its answer finds it logged.
        if not getattr(self, "_logged", True):  # True outside _handle (e.g. a bad request line)
            self._log_request(code)
        super().send_response(code, message)

    def _log_request(self, status: int) -> None:
        self._logged = True
        self.emulator._log(
            LoggedRequest(self.command, self.bucket_name, self.key, self.query, status)
        )

    def _handle(self) -> None:
        self.request_id = uuid.uuid4().hex[:24].upper()
        self.status_sent = 0
        self._logged = False
        self._setup_body()
        split = urlsplit(self.path)
        self.query = dict(parse_qsl(split.query, keep_blank_values=True))
        path = split.path.lstrip("/")
        bucket, _, key = path.partition("/")
        self.bucket_name = unquote(bucket)
        self.key = unquote(key)
        target = f"/{self.bucket_name}/{self.key}" + (f"?{split.query}" if split.query else "")
        try:
            try:
                self._apply_faults(target)
                self._route()
            except OSSServiceError as err:
                self._drain()
                self._send_error(err)
        except _Drop:
            self._drain()
            self.close_connection = True
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:  # noqa: BLE001 - any bug becomes an OSS 500, never a hung client
            log.exception("OSS emulator failed on %s %s", self.command, self.path)
            self._drain()
            if not self.status_sent:
                self._send_error(
                    OSSServiceError(500, "InternalError", "The emulator failed (see its log).")
                )
            else:
                self.close_connection = True
        finally:
            if not self.close_connection:
                self._drain()
            if not self._logged:
                self._log_request(0)

    def _apply_faults(self, target: str) -> None:
        self._partial_drop = False
        rules = self.emulator.faults.select(self.command, target)
        delay = sum(r.seconds for r in rules if r.kind == "delay")
        if delay:
            time.sleep(delay)
        for rule in rules:
            if rule.kind == "drop":
                if rule.partial and self.command == "GET":
                    self._partial_drop = True
                    continue
                raise _Drop()
            if rule.kind == "error":
                raise OSSServiceError(rule.status, rule.code, rule.message)

    def _route(self) -> None:
        """Run the operation the method and the operation subresources name, else NotImplemented.

        The subresources that select an operation (``?acl``, ``?uploads``, ``?tagging``...) form
        the route's key with the method and the level (service, bucket, object); a request whose
        key is not in :data:`ROUTES` is answered 501 NotImplemented, never run as another
        operation (a ``PUT key?tagging`` must not replace the object's bytes).
        """
        level = "object" if self.key else "bucket" if self.bucket_name else "service"
        ops = frozenset(k for k in self.query if k in OPERATION_SUBRESOURCES)
        name = ROUTES.get((self.command, level, ops))
        if name is None:
            self._authenticate(None if level == "service" else self._bucket_or_none())
            raise _not_implemented(self.command, level, ops)
        if level == "service" or name == "_create_bucket":
            self._authenticate(None)
            return getattr(self, name)()
        bucket = self.store.bucket(self.bucket_name)
        self._authenticate(bucket)
        return getattr(self, name)(bucket)

    def _bucket_or_none(self):
        try:
            return self.store.bucket(self.bucket_name)
        except OSSServiceError:
            return None
