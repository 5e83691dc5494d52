"""An HTTP server speaking the Alibaba Cloud OSS REST API, for tests and demos.

It answers the calls that ``oss2`` and ``ossfs`` make, path-style
(``http://127.0.0.1:PORT/bucket/key``; oss2 uses path style for IP and ``localhost`` endpoints):
bucket listing, ``?bucketInfo``, ``?location``, ``?acl``, ``?stat``, object listing v1 and v2
(prefix, delimiter, marker / continuation-token, max-keys, ``encoding-type=url``), PUT / GET
(``Range``, ``x-oss-range-behavior``, conditional headers) / HEAD / DELETE, ``?objectMeta``, copy
through ``x-oss-copy-source``, ``POST ?append&position``, multipart uploads (``?uploads``,
``?uploadId&partNumber`` with Content-MD5 checked, complete, ListParts, abort, list uploads), ``POST
?delete``, bucket creation, object tagging (``?tagging`` PUT/GET/DELETE) and object ACLs (``?acl``
with ``x-oss-object-acl``, kept but not enforced). ``x-oss-meta-*`` values are UTF-8 (signed and
returned byte for byte). Not implemented (answered NotImplemented): symlinks, UploadPartCopy,
signature V4. ``x-oss-forbid-overwrite: true`` on PutObject, CopyObject and CompleteMultipartUpload
answers 409 FileAlreadyExists when the key exists (OSS's conditional create). Any other request (an
unknown subresource such as ``?lifecycle``, or a method a resource does not take) answers 501
NotImplemented: the emulator never runs it as a different operation. Errors are OSS XML bodies
(``Code``, ``Message``, ``RequestId``, ``HostId``) with OSS's statuses; HEAD errors carry the body
base64-encoded in ``x-oss-err`` as OSS does.

Requests are authenticated with OSS signature V1 (``Authorization: OSS <ak>:<signature>``, or
the ``OSSAccessKeyId``/``Expires``/``Signature`` query of a presigned URL): a wrong secret gets
403 SignatureDoesNotMatch, an unknown key 403 InvalidAccessKeyId. STS credentials are triples
(key, secret, token): the request must carry the token in ``x-oss-security-token``; they may
expire (``issue_sts(lifetime)``, ``expire(ak)``: then 403 SecurityTokenExpired). Buckets
marked public accept anonymous reads. Objects carry ``x-oss-hash-crc64ecma`` (CRC-64/ECMA-182 as
OSS computes it, which oss2 verifies) and an upper-case MD5 ETag (``<md5 of part md5s>-<n>`` for
multipart objects).

``OSSEmulator.faults`` injects delays, forced errors and dropped connections, optionally only for
a method and a path pattern, for reliability tests.

Demo credentials (printed by ``jupyter workbench oss-emulator``; they protect nothing)::

    access key id:     WORKBENCHDEMOKEY
    access key secret: workbench-demo-secret
    bucket:            demo (with README.txt and data/iris.csv)

Usage::

    with OSSEmulator() as oss:
        fs = ossfs.OSSFileSystem(endpoint=oss.endpoint, key=DEMO_ACCESS_KEY_ID,
                                 secret=DEMO_ACCESS_KEY_SECRET)
        fs.pipe("demo/hello.txt", b"hi")
        oss.faults.fail(count=2, method="PUT")   # the next two PUTs answer 500
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import contextlib
import email.utils
import hashlib
import hmac
import logging
import re
import socket
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .oss_store import (
    CHUNK,
    ObjectRecord,
    ObjectStore,
    OSSServiceError,
)

__all__ = [
    "DEMO_ACCESS_KEY_ID",
    "DEMO_ACCESS_KEY_SECRET",
    "DEMO_BUCKET",
    "Faults",
    "OSSEmulator",
    "OSSServiceError",
    "add_arguments",
    "main",
    "run_emulator",
]

log = logging.getLogger(__name__)

DEMO_ACCESS_KEY_ID = "WORKBENCHDEMOKEY"
DEMO_ACCESS_KEY_SECRET = "workbench-demo-secret"
DEMO_BUCKET = "demo"

DEMO_FILES = {
    "README.txt": (
        b"This bucket is served by the jupyter-workbench OSS emulator.\n"
        b"Mount it with:\n"
        b"  jupyter workbench mount add demo oss://demo --option endpoint=<endpoint>\n"
        b"      --option key=WORKBENCHDEMOKEY --option secret=workbench-demo-secret\n"
    ),
    "data/iris.csv": (
        b"sepal_length,sepal_width,petal_length,petal_width,species\n"
        b"5.1,3.5,1.4,0.2,setosa\n4.9,3.0,1.4,0.2,setosa\n7.0,3.2,4.7,1.4,versicolor\n"
        b"6.4,3.2,4.5,1.5,versicolor\n6.3,3.3,6.0,2.5,virginica\n5.8,2.7,5.1,1.9,virginica\n"
    ),
}

# Query parameters that OSS includes in the V1 canonicalized resource (oss2.auth's list).
SUBRESOURCES = frozenset(
    [
        "response-content-type",
        "response-content-language",
        "response-cache-control",
        "logging",
        "response-content-encoding",
        "acl",
        "uploadId",
        "uploads",
        "partNumber",
        "group",
        "link",
        "delete",
        "website",
        "location",
        "objectInfo",
        "objectMeta",
        "response-expires",
        "response-content-disposition",
        "cors",
        "lifecycle",
        "restore",
        "qos",
        "referer",
        "stat",
        "bucketInfo",
        "append",
        "position",
        "security-token",
        "live",
        "comp",
        "status",
        "vod",
        "startTime",
        "endTime",
        "x-oss-process",
        "symlink",
        "callback",
        "callback-var",
        "tagging",
        "encryption",
        "versions",
        "versioning",
        "versionId",
        "policy",
        "requestPayment",
        "x-oss-traffic-limit",
        "qosInfo",
        "asyncFetch",
        "x-oss-request-payer",
        "sequential",
        "inventory",
        "inventoryId",
        "continuation-token",
        "worm",
        "wormId",
        "wormExtend",
        "replication",
        "replicationLocation",
        "replicationProgress",
        "transferAcceleration",
        "cname",
        "metaQuery",
        "x-oss-ac-source-ip",
        "x-oss-ac-subnet-mask",
        "x-oss-ac-vpc-id",
        "x-oss-ac-forward-allow",
        "resourceGroup",
        "style",
        "styleName",
        "x-oss-async-process",
        "regionList",
        "x-oss-write-get-object-response",
    ]
)

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
    ("GET", _O, frozenset({"acl"})): "_get_object_acl",
    ("PUT", _O, frozenset({"acl"})): "_put_object_acl",
    ("POST", _O, frozenset({"append"})): "_append_object",
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


OWNER_ID = "1000000000000000"
OWNER_NAME = "workbench-emulator"
MAX_XML_BODY = 4 << 20


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def _http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def _parse_http_date(value: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


# ------------------------------------------------------------------------------------ faults


@dataclass
class FaultRule:
    """One injected fault. ``path`` is a regex searched in ``/bucket/key?query`` (key decoded)."""

    kind: str  # "error" | "delay" | "drop"
    method: str | None = None
    path: re.Pattern | None = None
    skip: int = 0
    count: int | None = 1  # None: every matching request
    status: int = 500
    code: str = "InternalError"
    message: str = "We encountered an internal error. Please try again."
    seconds: float = 0.0
    partial: bool = False
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, target: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or self.path.search(target) is not None

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count


class Faults:
    """Fault injection for reliability tests.

    >>> oss.faults.fail(count=3, method="PUT", path=r"partNumber=2")  # 3 x 500 on part 2
    >>> oss.faults.delay(0.5, path=r"^/demo/slow")                    # every matching request
    >>> oss.faults.drop(method="GET", partial=True)                   # cut a download midway
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def _add(self, rule: FaultRule, path: str | None) -> FaultRule:
        rule.path = re.compile(path) if path is not None else None
        if rule.method is not None:
            rule.method = rule.method.upper()
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail(
        self,
        count: int | None = 1,
        *,
        status: int = 500,
        code: str = "InternalError",
        message: str | None = None,
        method: str | None = None,
        path: str | None = None,
        skip: int = 0,
    ) -> FaultRule:
        """Answer ``count`` matching requests (after ``skip`` of them) with an OSS error."""
        rule = FaultRule("error", method, None, skip, count, status, code)
        if message:
            rule.message = message
        return self._add(rule, path)

    def delay(
        self,
        seconds: float,
        *,
        count: int | None = None,
        method: str | None = None,
        path: str | None = None,
        skip: int = 0,
    ) -> FaultRule:
        """Wait ``seconds`` before answering matching requests."""
        return self._add(FaultRule("delay", method, None, skip, count, seconds=seconds), path)

    def drop(
        self,
        count: int | None = 1,
        *,
        method: str | None = None,
        path: str | None = None,
        skip: int = 0,
        partial: bool = False,
    ) -> FaultRule:
        """Close the connection without an answer (``partial``: after half of a GET's body)."""
        return self._add(FaultRule("drop", method, None, skip, count, partial=partial), path)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def select(self, method: str, target: str) -> list[FaultRule]:
        """The rules that fire for this request (their counters advance)."""
        fired = []
        with self._lock:
            for rule in self._rules:
                if rule.exhausted or not rule.matches(method, target):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                rule.fired += 1
                fired.append(rule)
        return fired


# ------------------------------------------------------------------------------------ server


class _Drop(Exception):
    """Close the connection without answering."""


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

    def close_connections(self) -> None:
        """Cut keep-alive connections so a stopped emulator really stops answering."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AliyunOSS"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this

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

    # ----------------------------------------------------------- small operations

    def _list_objects_any(self, bucket) -> None:
        if self.query.get("list-type") == "2":
            return self._list_objects_v2()
        return self._list_objects()

    def _put_bucket_acl(self, bucket) -> None:
        self._read_all()
        self.store.set_bucket_acl(bucket.name, self.headers.get("x-oss-acl", "private"))
        self._send(200)

    def _delete_bucket(self, bucket) -> None:
        self.store.delete_bucket(bucket.name)
        self._send(204)

    def _get_bucket_acl(self, bucket) -> None:
        self._acl(bucket.acl)

    def _head_bucket(self, bucket) -> None:
        self._send(200)

    def _get_object_acl(self, bucket) -> None:
        self._acl(self.store.head(bucket.name, self.key).acl)

    def _put_object_acl(self, bucket) -> None:
        self._read_all()
        acl = self.headers.get("x-oss-object-acl", "")
        if acl not in ("default", "private", "public-read", "public-read-write"):
            raise OSSServiceError(400, "InvalidArgument", f"Invalid object ACL {acl!r}.")
        self.store.update_object(bucket.name, self.key, acl=acl)
        self._send(200)

    def _get_tagging(self, bucket) -> None:
        rec = self.store.head(bucket.name, self.key)
        root = ET.Element("Tagging")
        tag_set = _sub(root, "TagSet")
        for k, v in rec.tags.items():
            tag = _sub(tag_set, "Tag")
            _sub(tag, "Key", k)
            _sub(tag, "Value", v)
        self._send_xml(200, root)

    def _put_tagging(self, bucket) -> None:
        body = self._read_all()
        try:
            root = ET.fromstring(body)
            tags = {t.findtext("Key") or "": t.findtext("Value") or "" for t in root.iter("Tag")}
        except ET.ParseError:
            raise OSSServiceError(
                400, "MalformedXML", "The XML you provided was not well-formed."
            ) from None
        if len(tags) > 10 or "" in tags:
            raise OSSServiceError(400, "InvalidTag", "Up to 10 tags with non-empty keys.")
        self.store.update_object(bucket.name, self.key, tags=tags)
        self._send(200)

    def _delete_tagging(self, bucket) -> None:
        self.store.update_object(bucket.name, self.key, tags={})
        self._send(204)

    def _get(self, bucket) -> None:
        self._get_object(head=False)

    def _head(self, bucket) -> None:
        self._get_object(head=True)

    def _head_meta(self, bucket) -> None:
        self._get_object(head=True, meta_only=True)

    def _put(self, bucket) -> None:
        if "x-oss-copy-source" in self.headers:
            return self._copy_object()
        return self._put_object()

    def _put_part(self, bucket) -> None:
        if "x-oss-copy-source" in self.headers:
            raise OSSServiceError(
                501, "NotImplemented", "UploadPartCopy is not supported by the emulator."
            )
        return self._upload_part()

    def _delete(self, bucket) -> None:
        self.store.delete_object(bucket.name, self.key)
        self._send(204)

    def _abort_multipart(self, bucket) -> None:
        self.store.abort_multipart(bucket.name, self.key, self.query["uploadId"])
        self._send(204)

    # ----------------------------------------------------------- authentication

    def _authenticate(self, bucket) -> None:
        auth = self.headers.get("Authorization")
        q = self.query
        if auth is None and "OSSAccessKeyId" in q and "Signature" in q:
            return self._check_presigned()
        if auth is None:
            read = self.command in ("GET", "HEAD")
            if bucket is not None and (
                (bucket.public_read and read)
                or (bucket.public_write and self.command in ("PUT", "POST", "DELETE"))
            ):
                return None
            raise OSSServiceError(
                403,
                "AccessDenied",
                "You have no right to access this object because of bucket acl."
                if bucket is not None
                else "AccessDenied: anonymous access is not allowed here.",
            )
        if not auth.startswith("OSS "):
            raise OSSServiceError(
                400,
                "InvalidArgument",
                "Authorization header is invalid: the emulator checks OSS signature V1 "
                "('OSS <AccessKeyId>:<Signature>') only.",
            )
        ak, sep, signature = auth[4:].strip().rpartition(":")
        if not sep:
            raise OSSServiceError(400, "InvalidArgument", "Authorization header is invalid.")
        date = self.headers.get("x-oss-date") or self.headers.get("Date", "")
        self._verify(ak, signature, date, self.headers.get("x-oss-security-token"))

    def _check_presigned(self) -> None:
        q = self.query
        expires = q.get("Expires", "")
        if not expires.isdigit():
            raise OSSServiceError(403, "AccessDenied", "Invalid Expires in the signed URL.")
        if int(expires) < time.time():
            raise OSSServiceError(403, "AccessDenied", "Request has expired.")
        self._verify(q["OSSAccessKeyId"], q["Signature"], expires, q.get("security-token"))

    def _verify(self, ak: str, signature: str, date: str, token: str | None) -> None:
        cred = self.emulator.credentials.get(ak)
        if cred is None:
            raise OSSServiceError(
                403,
                "InvalidAccessKeyId",
                "The OSS Access Key Id you provided does not exist in our records.",
                OSSAccessKeyId=ak,
            )
        secret, expected_token = cred
        expires = self.emulator.expirations.get(ak)
        if expires is not None and time.time() >= expires:
            raise OSSServiceError(
                403,
                "SecurityTokenExpired",
                "The security token you provided has expired.",
                OSSAccessKeyId=ak,
            )
        if (expected_token or token) and token != expected_token:
            raise OSSServiceError(
                403, "InvalidSecurityToken", "The security token you provided is invalid."
            )
        string_to_sign = self._string_to_sign(date)
        digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha1).digest()
        expected = base64.b64encode(digest).decode()
        if not hmac.compare_digest(expected, signature):
            raise OSSServiceError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                "provided. Check your key and signing method.",
                StringToSign=string_to_sign.decode("utf-8", "replace"),
                OSSAccessKeyId=ak,
            )

    def _string_to_sign(self, date: str) -> bytes:
        canon = sorted(
            (k.lower(), _from_wire(v))
            for k, v in self.headers.items()
            if k.lower().startswith("x-oss-")
        )
        headers = "".join(f"{k}:{v}\n" for k, v in canon)
        if self.bucket_name:
            resource = f"/{self.bucket_name}/{self.key}"
        else:
            resource = "/"
        sub = sorted((k, v) for k, v in self.query.items() if k in SUBRESOURCES)
        if sub:
            resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in sub)
        return "\n".join(
            [
                self.command,
                self.headers.get("Content-MD5", ""),
                self.headers.get("Content-Type", ""),
                date,
                headers + resource,
            ]
        ).encode("utf-8")

    # ----------------------------------------------------------- service and buckets

    def _list_buckets(self) -> None:
        prefix = self.query.get("prefix", "")
        root = ET.Element("ListAllMyBucketsResult")
        owner = _sub(root, "Owner")
        _sub(owner, "ID", OWNER_ID)
        _sub(owner, "DisplayName", OWNER_NAME)
        buckets = _sub(root, "Buckets")
        for b in self.store.buckets():
            if not b.name.startswith(prefix):
                continue
            node = _sub(buckets, "Bucket")
            _sub(node, "CreationDate", _iso(b.created))
            _sub(node, "ExtranetEndpoint", self._host())
            _sub(node, "IntranetEndpoint", self._host())
            _sub(node, "Location", self.emulator.region)
            _sub(node, "Name", b.name)
            _sub(node, "Region", self.emulator.region.removeprefix("oss-"))
            _sub(node, "StorageClass", "Standard")
        self._send_xml(200, root)

    def _host(self) -> str:
        return self.headers.get("Host", "127.0.0.1")

    def _create_bucket(self) -> None:
        self._read_all()
        self.store.create_bucket(self.bucket_name, self.headers.get("x-oss-acl", "private"))
        self._send(200, headers={"Location": f"/{self.bucket_name}"})

    def _bucket_info(self, bucket) -> None:
        root = ET.Element("BucketInfo")
        node = _sub(root, "Bucket")
        _sub(node, "AccessMonitor", "Disabled")
        _sub(node, "CreationDate", _iso(bucket.created))
        _sub(node, "ExtranetEndpoint", self._host())
        _sub(node, "IntranetEndpoint", self._host())
        _sub(node, "Location", self.emulator.region)
        _sub(node, "StorageClass", "Standard")
        _sub(node, "TransferAcceleration", "Disabled")
        _sub(node, "CrossRegionReplication", "Disabled")
        _sub(node, "Name", bucket.name)
        _sub(node, "DataRedundancyType", "LRS")
        owner = _sub(node, "Owner")
        _sub(owner, "DisplayName", OWNER_NAME)
        _sub(owner, "ID", OWNER_ID)
        acl = _sub(node, "AccessControlList")
        _sub(acl, "Grant", bucket.acl)
        self._send_xml(200, root)

    def _bucket_location(self, bucket=None) -> None:
        root = ET.Element("LocationConstraint")
        root.text = self.emulator.region
        self._send_xml(200, root)

    def _acl(self, grant: str) -> None:
        root = ET.Element("AccessControlPolicy")
        owner = _sub(root, "Owner")
        _sub(owner, "ID", OWNER_ID)
        _sub(owner, "DisplayName", OWNER_NAME)
        _sub(_sub(root, "AccessControlList"), "Grant", grant)
        self._send_xml(200, root)

    def _bucket_stat(self, bucket) -> None:
        with bucket.lock:
            records = list(bucket.objects.values())
            uploads = len(bucket.uploads)
        root = ET.Element("BucketStat")
        _sub(root, "Storage", str(sum(r.size for r in records)))
        _sub(root, "ObjectCount", str(len(records)))
        _sub(root, "MultipartUploadCount", str(uploads))
        self._send_xml(200, root)

    # ----------------------------------------------------------- listing

    def _max(self, name: str, default: int = 100, limit: int = 1000) -> int:
        raw = self.query.get(name, "")
        if raw == "":
            return default
        if not raw.isdigit() or not 0 < int(raw) <= limit:
            raise OSSServiceError(
                400, "InvalidArgument", f"Argument {name} must be an integer in 1..{limit}."
            )
        return int(raw)

    def _encoder(self):
        if self.query.get("encoding-type") == "url":
            return lambda s: quote(s, safe="/")
        return lambda s: s

    def _contents(self, root: ET.Element, rec: ObjectRecord, enc) -> None:
        node = _sub(root, "Contents")
        _sub(node, "Key", enc(rec.key))
        _sub(node, "LastModified", _iso(rec.mtime))
        _sub(node, "ETag", f'"{rec.etag}"')
        _sub(node, "Type", rec.object_type)
        _sub(node, "Size", str(rec.size))
        _sub(node, "StorageClass", "Standard")
        owner = _sub(node, "Owner")
        _sub(owner, "ID", OWNER_ID)
        _sub(owner, "DisplayName", OWNER_NAME)

    def _list_objects(self) -> None:
        q = self.query
        prefix, delimiter, marker = q.get("prefix", ""), q.get("delimiter", ""), q.get("marker", "")
        max_keys = self._max("max-keys")
        res = self.store.list_objects(self.bucket_name, prefix, delimiter, marker, max_keys)
        enc = self._encoder()
        root = ET.Element("ListBucketResult")
        _sub(root, "Name", self.bucket_name)
        _sub(root, "Prefix", enc(prefix))
        _sub(root, "Marker", enc(marker))
        _sub(root, "MaxKeys", str(max_keys))
        _sub(root, "Delimiter", enc(delimiter))
        if q.get("encoding-type") == "url":
            _sub(root, "EncodingType", "url")
        _sub(root, "IsTruncated", "true" if res.truncated else "false")
        if res.truncated:
            _sub(root, "NextMarker", enc(res.next_marker))
        self._send_listing(root, res, enc)

    def _send_listing(self, root, res, enc) -> None:
        """The entries shared by ListObjects v1 and v2, then the reply."""
        for rec in res.objects:
            self._contents(root, rec, enc)
        for p in res.prefixes:
            _sub(_sub(root, "CommonPrefixes"), "Prefix", enc(p))
        self._send_xml(200, root)

    def _list_objects_v2(self) -> None:
        q = self.query
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        token = q.get("continuation-token", "")
        start_after = q.get("start-after", "")
        if token:
            try:
                marker = base64.urlsafe_b64decode(token.encode()).decode("utf-8")
            except (ValueError, binascii.Error):
                raise OSSServiceError(
                    400, "InvalidArgument", "The continuation token is invalid."
                ) from None
        else:
            marker = start_after
        max_keys = self._max("max-keys")
        res = self.store.list_objects(self.bucket_name, prefix, delimiter, marker, max_keys)
        enc = self._encoder()
        root = ET.Element("ListBucketResult")
        _sub(root, "Name", self.bucket_name)
        _sub(root, "Prefix", enc(prefix))
        if start_after:
            _sub(root, "StartAfter", enc(start_after))
        if token:
            _sub(root, "ContinuationToken", token)
        _sub(root, "MaxKeys", str(max_keys))
        _sub(root, "Delimiter", enc(delimiter))
        if q.get("encoding-type") == "url":
            _sub(root, "EncodingType", "url")
        _sub(root, "IsTruncated", "true" if res.truncated else "false")
        if res.truncated:
            nxt = base64.urlsafe_b64encode(res.next_marker.encode("utf-8")).decode()
            _sub(root, "NextContinuationToken", nxt)
        _sub(root, "KeyCount", str(len(res.objects) + len(res.prefixes)))
        self._send_listing(root, res, enc)

    def _list_uploads(self, bucket=None) -> None:
        prefix = self.query.get("prefix", "")
        enc = self._encoder()
        uploads = self.store.list_uploads(self.bucket_name, prefix)
        root = ET.Element("ListMultipartUploadsResult")
        _sub(root, "Bucket", self.bucket_name)
        _sub(root, "KeyMarker", "")
        _sub(root, "UploadIdMarker", "")
        _sub(root, "NextKeyMarker", "")
        _sub(root, "NextUploadIdMarker", "")
        _sub(root, "Delimiter", "")
        _sub(root, "Prefix", enc(prefix))
        _sub(root, "MaxUploads", "1000")
        if self.query.get("encoding-type") == "url":
            _sub(root, "EncodingType", "url")
        _sub(root, "IsTruncated", "false")
        for u in uploads:
            node = _sub(root, "Upload")
            _sub(node, "Key", enc(u.key))
            _sub(node, "UploadId", u.upload_id)
            _sub(node, "Initiated", _iso(u.initiated))
        self._send_xml(200, root)

    def _batch_delete(self, bucket=None) -> None:
        body = self._read_all()
        md5 = self.headers.get("Content-MD5")
        if md5 is None:
            raise OSSServiceError(
                400, "InvalidRequest", "Missing required header for this request: Content-MD5."
            )
        if base64.b64encode(hashlib.md5(body).digest()).decode() != md5:
            raise OSSServiceError(
                400, "InvalidDigest", "The Content-MD5 you specified is not valid."
            )
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            raise OSSServiceError(
                400, "MalformedXML", "The XML you provided was not well-formed."
            ) from None
        quiet = (root.findtext("Quiet") or "false").lower() == "true"
        keys = [o.findtext("Key") or "" for o in root.findall("Object")]
        if not keys or len(keys) > 1000:
            raise OSSServiceError(400, "MalformedXML", "Delete 1 to 1000 objects per request.")
        enc = self._encoder()
        result = ET.Element("DeleteResult")
        if self.query.get("encoding-type") == "url":
            _sub(result, "EncodingType", "url")
        for key in keys:
            self.store.delete_object(self.bucket_name, key)
            if not quiet:
                _sub(_sub(result, "Deleted"), "Key", enc(key))
        self._send_xml(200, result)

    # ----------------------------------------------------------- objects

    def _user_meta(self) -> dict:
        return {
            k.lower()[len("x-oss-meta-") :]: _from_wire(v)
            for k, v in self.headers.items()
            if k.lower().startswith("x-oss-meta-")
        }

    def _forbid_overwrite(self) -> bool:
        return self.headers.get("x-oss-forbid-overwrite", "").lower() == "true"

    def _content_type(self) -> str:
        return self.headers.get("Content-Type") or "application/octet-stream"

    def _object_headers(self, rec: ObjectRecord) -> dict:
        h = {
            "Content-Type": rec.content_type,
            "ETag": f'"{rec.etag}"',
            "Last-Modified": _http_date(rec.mtime),
            "x-oss-object-type": rec.object_type,
            "x-oss-hash-crc64ecma": str(rec.crc64),
            "x-oss-storage-class": "Standard",
            "Accept-Ranges": "bytes",
        }
        if rec.object_type == "Appendable":
            h["x-oss-next-append-position"] = str(rec.size)
        for k, v in rec.meta.items():
            h[f"x-oss-meta-{k}"] = _to_wire(v)
        if rec.tags:
            h["x-oss-tagging-count"] = str(len(rec.tags))
        return h

    def _put_object(self) -> None:
        rec = self.store.put_object(
            self.bucket_name,
            self.key,
            self.read_body,
            self._content_type(),
            self._user_meta(),
            self.headers.get("Content-MD5"),
            self._forbid_overwrite(),
        )
        self._send(
            200,
            headers={
                "ETag": f'"{rec.etag}"',
                "x-oss-hash-crc64ecma": str(rec.crc64),
                "Content-MD5": base64.b64encode(bytes.fromhex(rec.etag)).decode(),
            },
        )

    def _copy_object(self) -> None:
        source = unquote(self.headers["x-oss-copy-source"].split("?", 1)[0]).lstrip("/")
        src_bucket, _, src_key = source.partition("/")
        if not src_bucket or not src_key:
            raise OSSServiceError(400, "InvalidArgument", "Invalid x-oss-copy-source.")
        replace_meta = self.headers.get("x-oss-metadata-directive", "COPY").upper() == "REPLACE"
        rec = self.store.copy_object(
            src_bucket,
            src_key,
            self.bucket_name,
            self.key,
            content_type=self._content_type() if replace_meta else None,
            meta=self._user_meta() if replace_meta else None,
            forbid_overwrite=self._forbid_overwrite(),
        )
        root = ET.Element("CopyObjectResult")
        _sub(root, "ETag", f'"{rec.etag}"')
        _sub(root, "LastModified", _iso(rec.mtime))
        self._send_xml(200, root, {"ETag": f'"{rec.etag}"', "x-oss-hash-crc64ecma": str(rec.crc64)})

    def _append_object(self, bucket=None) -> None:
        position = self.query.get("position", "")
        if not position.isdigit():
            raise OSSServiceError(
                400, "InvalidArgument", "position must be a non-negative integer."
            )
        rec = self.store.append_object(
            self.bucket_name,
            self.key,
            int(position),
            self.read_body,
            self._content_type(),
            self._user_meta(),
        )
        self._send(
            200,
            headers={
                "ETag": f'"{rec.etag}"',
                "x-oss-hash-crc64ecma": str(rec.crc64),
                "x-oss-next-append-position": str(rec.size),
            },
        )

    def _check_conditions(self, rec: ObjectRecord) -> int | None:
        """304/412 for conditional requests, else None."""
        etag = f'"{rec.etag}"'
        if_match = self.headers.get("If-Match")
        if if_match is not None and if_match.strip() not in (etag, rec.etag, "*"):
            return 412
        since = self.headers.get("If-Unmodified-Since")
        if since is not None:
            t = _parse_http_date(since)
            if t is not None and int(rec.mtime) > t:
                return 412
        if_none = self.headers.get("If-None-Match")
        if if_none is not None and if_none.strip() in (etag, rec.etag, "*"):
            return 304
        since = self.headers.get("If-Modified-Since")
        if since is not None and if_none is None:
            t = _parse_http_date(since)
            if t is not None and int(rec.mtime) <= t:
                return 304
        return None

    def _range(self, size: int) -> tuple[int, int] | None:
        """Inclusive (start, end) of a valid single Range, else None (whole object)."""
        header = self.headers.get("Range")
        if not header:
            return None
        standard = self.headers.get("x-oss-range-behavior", "").lower() == "standard"
        m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
        if not m or (not m.group(1) and not m.group(2)):
            return None  # multi-range or malformed: OSS returns the whole object
        first, last = m.group(1), m.group(2)
        if not first:  # suffix: the last N bytes
            n = int(last)
            if n == 0 or size == 0:
                if standard:
                    raise self._invalid_range(size)
                return None
            return max(0, size - n), size - 1
        start = int(first)
        end = int(last) if last else size - 1
        if last and end < start:
            if standard:
                raise self._invalid_range(size)
            return None
        if start >= size:
            if standard:
                raise self._invalid_range(size)
            return None
        if end >= size:
            if not standard and last:
                return None  # legacy behaviour: an out-of-bounds range means the whole object
            end = size - 1
        return start, end

    def _invalid_range(self, size: int) -> OSSServiceError:
        return OSSServiceError(
            416,
            "InvalidRange",
            "The requested range cannot be satisfied.",
            headers={"Content-Range": f"bytes */{size}"},
            ObjectSize=str(size),
        )

    def _get_object(self, head: bool, meta_only: bool = False) -> None:
        if head:
            rec = self.store.head(self.bucket_name, self.key)
            f = None
        else:
            rec, f = self.store.open_object(self.bucket_name, self.key)
        try:
            cond = self._check_conditions(rec)
            if cond is not None:
                if cond == 304:
                    return self._send(304, headers={"ETag": f'"{rec.etag}"'})
                raise OSSServiceError(
                    412,
                    "PreconditionFailed",
                    "At least one of the pre-conditions you specified did not hold.",
                )
            headers = self._object_headers(rec)
            if meta_only:
                headers = {
                    "ETag": headers["ETag"],
                    "Last-Modified": headers["Last-Modified"],
                    "x-oss-hash-crc64ecma": headers["x-oss-hash-crc64ecma"],
                }
            rng = None if meta_only else self._range(rec.size)
            status = 200
            start, length = 0, rec.size
            if rng is not None:
                status = 206
                start, length = rng[0], rng[1] - rng[0] + 1
                headers["Content-Range"] = f"bytes {rng[0]}-{rng[1]}/{rec.size}"
            for param, header in (
                ("response-content-type", "Content-Type"),
                ("response-content-disposition", "Content-Disposition"),
                ("response-content-encoding", "Content-Encoding"),
                ("response-cache-control", "Cache-Control"),
                ("response-expires", "Expires"),
            ):
                if param in self.query:
                    headers[header] = self.query[param]
            self.send_response(status)
            headers["x-oss-request-id"] = self.request_id
            headers["Content-Length"] = str(length)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.status_sent = status
            if head:
                return None
            f.seek(start)
            stop_at = length // 2 if self._partial_drop else length
            sent = 0
            while sent < stop_at:
                chunk = f.read(min(CHUNK, stop_at - sent))
                if not chunk:
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
            if self._partial_drop:
                self.wfile.flush()
                raise _Drop()
            return None
        finally:
            if f is not None:
                f.close()

    # ----------------------------------------------------------- multipart

    def _init_multipart(self, bucket=None) -> None:
        self._read_all()
        upload_id = self.store.init_multipart(
            self.bucket_name, self.key, self._content_type(), self._user_meta()
        )
        enc = self._encoder()
        root = ET.Element("InitiateMultipartUploadResult")
        if self.query.get("encoding-type") == "url":
            _sub(root, "EncodingType", "url")
        _sub(root, "Bucket", self.bucket_name)
        _sub(root, "Key", enc(self.key))
        _sub(root, "UploadId", upload_id)
        self._send_xml(200, root)

    def _upload_part(self) -> None:
        number = self.query.get("partNumber", "")
        if not number.isdigit():
            raise OSSServiceError(400, "InvalidArgument", "partNumber must be an integer.")
        part = self.store.upload_part(
            self.bucket_name,
            self.key,
            self.query["uploadId"],
            int(number),
            self.read_body,
            self.headers.get("Content-MD5"),
        )
        self._send(
            200,
            headers={
                "ETag": f'"{part.etag}"',
                "x-oss-hash-crc64ecma": str(part.crc64),
                "Content-MD5": base64.b64encode(part.md5).decode(),
            },
        )

    def _complete_multipart(self, bucket=None) -> None:
        body = self._read_all()
        parts = None
        if not (self.headers.get("x-oss-complete-all", "").lower() == "yes" and not body):
            try:
                root = ET.fromstring(body)
                parts = [
                    (int(p.findtext("PartNumber") or ""), p.findtext("ETag") or "")
                    for p in root.findall("Part")
                ]
            except (ET.ParseError, ValueError):
                raise OSSServiceError(
                    400, "MalformedXML", "The XML you provided was not well-formed."
                ) from None
        rec = self.store.complete_multipart(
            self.bucket_name, self.key, self.query["uploadId"], parts, self._forbid_overwrite()
        )
        enc = self._encoder()
        root = ET.Element("CompleteMultipartUploadResult")
        if self.query.get("encoding-type") == "url":
            _sub(root, "EncodingType", "url")
        _sub(root, "Location", f"http://{self._host()}/{self.bucket_name}/{quote(self.key)}")
        _sub(root, "Bucket", self.bucket_name)
        _sub(root, "Key", enc(self.key))
        _sub(root, "ETag", f'"{rec.etag}"')
        self._send_xml(200, root, {"ETag": f'"{rec.etag}"', "x-oss-hash-crc64ecma": str(rec.crc64)})

    def _list_parts(self, bucket=None) -> None:
        marker = self.query.get("part-number-marker", "") or "0"
        if not marker.isdigit():
            raise OSSServiceError(400, "InvalidArgument", "part-number-marker must be an integer.")
        max_parts = self._max("max-parts", 1000, 1000)
        parts = [
            p
            for p in self.store.list_parts(self.bucket_name, self.key, self.query["uploadId"])
            if p.number > int(marker)
        ]
        truncated = len(parts) > max_parts
        parts = parts[:max_parts]
        root = ET.Element("ListPartsResult")
        _sub(root, "Bucket", self.bucket_name)
        _sub(root, "Key", self.key)
        _sub(root, "UploadId", self.query["uploadId"])
        _sub(root, "PartNumberMarker", marker)
        _sub(root, "NextPartNumberMarker", str(parts[-1].number if parts else 0))
        _sub(root, "MaxParts", str(max_parts))
        _sub(root, "IsTruncated", "true" if truncated else "false")
        for p in parts:
            node = _sub(root, "Part")
            _sub(node, "PartNumber", str(p.number))
            _sub(node, "LastModified", _iso(p.mtime))
            _sub(node, "ETag", f'"{p.etag}"')
            _sub(node, "HashCrc64ecma", str(p.crc64))
            _sub(node, "Size", str(p.size))
        self._send_xml(200, root)


def _from_wire(value: str) -> str:
    """A header value as the client sent it: http.server decodes bytes as latin-1, OSS clients
    send UTF-8 (``x-oss-meta-*`` values, which the V1 signature covers byte for byte)."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _to_wire(value: str) -> str:
    """The inverse of :func:`_from_wire` (http.server encodes headers as latin-1)."""
    return value.encode("utf-8").decode("latin-1")


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    node = ET.SubElement(parent, tag)
    if text is not None:
        node.text = text
    return node


# ------------------------------------------------------------------------------------ API


class OSSEmulator:
    """An OSS-protocol server on a background thread.

    ``credentials`` maps access key ids to secrets, or to ``(secret, token)`` for STS
    credentials (requests must then carry ``x-oss-security-token``); by default the demo pair.
    ``buckets`` are created if missing; ``public_buckets`` too, with a public-read ACL. With a
    ``root`` directory, buckets and objects persist there across restarts.
    """

    def __init__(
        self,
        root: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: dict | None = None,
        buckets=(DEMO_BUCKET,),
        public_buckets=(),
        region: str = "oss-cn-hangzhou",
        log_size: int = 10000,
    ):
        self.host = host
        self.requested_port = port
        self.region = region
        self.store = ObjectStore(root)
        self.faults = Faults()
        self.credentials: dict[str, tuple[str, str | None]] = {}
        self.expirations: dict[str, float] = {}  # access key id -> epoch when it stops working
        creds = {DEMO_ACCESS_KEY_ID: DEMO_ACCESS_KEY_SECRET} if credentials is None else credentials
        for ak, value in creds.items():
            if isinstance(value, str):
                self.add_credentials(ak, value)
            else:
                self.add_credentials(ak, *value)
        for name in buckets:
            self.store.create_bucket(name, exist_ok=True)
        for name in public_buckets:
            self.store.create_bucket(name, "public-read", exist_ok=True)
            self.store.set_bucket_acl(name, "public-read")
        self._requests: collections.deque[LoggedRequest] = collections.deque(maxlen=log_size)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> OSSEmulator:
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.requested_port), _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"oss-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OSSEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return self._server.server_address[1]

    @property
    def endpoint(self) -> str:
        """``http://host:port``: pass it as the OSS endpoint (oss2 then uses path style)."""
        return f"http://{self.host}:{self.port}"

    # ---------------------------------------------------------------- conveniences

    def add_credentials(
        self,
        access_key_id: str,
        secret: str,
        token: str | None = None,
        expires: float | None = None,
    ) -> None:
        """Accept these credentials; STS ones (with a ``token``) until the epoch ``expires``."""
        self.credentials[access_key_id] = (secret, token)
        if expires is not None:
            self.expirations[access_key_id] = expires
        else:
            self.expirations.pop(access_key_id, None)

    def issue_sts(self, lifetime: float = 3600.0) -> dict:
        """New STS credentials, valid for ``lifetime`` seconds, as AssumeRole answers them
        (``AccessKeyId``, ``AccessKeySecret``, ``SecurityToken``, ``Expiration``)."""
        ak = "STS." + uuid.uuid4().hex[:16].upper()
        secret, token = uuid.uuid4().hex, uuid.uuid4().hex + uuid.uuid4().hex
        expires = time.time() + lifetime
        self.add_credentials(ak, secret, token, expires)
        return {
            "AccessKeyId": ak,
            "AccessKeySecret": secret,
            "SecurityToken": token,
            "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)),
        }

    def expire(self, access_key_id: str) -> None:
        """End STS credentials now (as the issuer's rotation does)."""
        self.expirations[access_key_id] = time.time() - 1

    def create_bucket(self, name: str, public: bool = False) -> None:
        self.store.create_bucket(name, "public-read" if public else "private", exist_ok=True)

    def put_object(self, bucket: str, key: str, data: bytes | str, **kwargs) -> ObjectRecord:
        """Store an object directly, without HTTP (fast seeding for tests and demos)."""
        if isinstance(data, str):
            data = data.encode()
        return self.store.put_bytes(bucket, key, data, **kwargs)

    def get_object(self, bucket: str, key: str) -> bytes:
        return self.store.get_bytes(bucket, key)

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.store.head(bucket, key)
        except OSSServiceError:
            return False
        return True

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        return [k for k in self.store.keys(bucket) if k.startswith(prefix)]

    def uploads(self, bucket: str) -> list:
        """Multipart uploads in progress (an aborted or completed upload is gone)."""
        return self.store.list_uploads(bucket)

    def seed_demo(self, bucket: str = DEMO_BUCKET) -> None:
        """Put the demo files into ``bucket`` unless it already holds objects."""
        self.create_bucket(bucket)
        if not self.store.keys(bucket):
            for key, data in DEMO_FILES.items():
                self.put_object(bucket, key, data)

    # ---------------------------------------------------------------- request log

    def _log(self, entry: LoggedRequest) -> None:
        self._requests.append(entry)

    @property
    def requests(self) -> list[LoggedRequest]:
        """The most recent requests (method, bucket, key, query, status), oldest first."""
        return list(self._requests)

    def clear_requests(self) -> None:
        self._requests.clear()


# ------------------------------------------------------------------------------------ CLI


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the emulator's options (``--port``, ``--root``, ...) to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--root", default=None, help="directory to keep data in (default: memory)")
    parser.add_argument(
        "--bucket",
        action="append",
        dest="buckets",
        help=f"bucket to create (repeatable; default {DEMO_BUCKET!r} with sample files)",
    )
    parser.add_argument(
        "--public-bucket", action="append", default=[], help="bucket readable anonymously"
    )
    parser.add_argument("--access-key-id", default=DEMO_ACCESS_KEY_ID)
    parser.add_argument("--access-key-secret", default=DEMO_ACCESS_KEY_SECRET)
    return parser


def run_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    root: str | None = None,
    buckets=None,
    public_buckets=(),
    access_key_id: str = DEMO_ACCESS_KEY_ID,
    access_key_secret: str = DEMO_ACCESS_KEY_SECRET,
    out=None,
    stop_event: threading.Event | None = None,
) -> None:
    """Serve until interrupted (or until ``stop_event`` is set). Seeds the demo bucket."""
    out = out or sys.stdout
    emulator = OSSEmulator(
        root=root,
        host=host,
        port=port,
        credentials={access_key_id: access_key_secret},
        buckets=tuple(buckets or ()),
        public_buckets=tuple(public_buckets),
    )
    if not buckets:
        emulator.seed_demo()
    with emulator:
        names = ", ".join(b.name for b in emulator.store.buckets())
        print(f"OSS emulator listening on {emulator.endpoint}", file=out)
        print(f"  buckets: {names}", file=out)
        print(f"  access key id: {access_key_id}", file=out)
        shown = access_key_secret if access_key_secret == DEMO_ACCESS_KEY_SECRET else "(as given)"
        print(f"  access key secret: {shown}", file=out)
        print(f"  data: {root or 'in memory (lost on exit)'}", file=out)
        first = (buckets or [DEMO_BUCKET])[0]
        print(
            f"  mount it: jupyter workbench mount add {first} oss://{first} "
            f"--option endpoint={emulator.endpoint} --option key={access_key_id} "
            f"--option secret=<the secret above>",
            file=out,
        )
        out.flush()
        stop_event = stop_event or threading.Event()
        try:
            while not stop_event.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass


def main(argv=None) -> int:
    """``jupyter workbench oss-emulator [--port P] [--root DIR]``."""
    parser = add_arguments(
        argparse.ArgumentParser(
            prog="jupyter workbench oss-emulator", description=__doc__.split("\n")[0]
        )
    )
    run_from_args(parser.parse_args(argv))
    return 0


def run_from_args(args: argparse.Namespace) -> None:
    """Serve with options parsed by a parser that :func:`add_arguments` set up."""
    run_emulator(
        host=args.host,
        port=args.port,
        root=args.root,
        buckets=args.buckets,
        public_buckets=args.public_bucket,
        access_key_id=args.access_key_id,
        access_key_secret=args.access_key_secret,
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
