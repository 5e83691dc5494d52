"""Object storage behind the OSS emulator: buckets, objects, appends and multipart uploads.

Objects live in memory (``root=None``) or on disk under ``root``::

    <root>/<bucket>/.bucket.json                  bucket metadata (creation time, ACL)
    <root>/<bucket>/objects/<h[:2]>/<h>.data      object bytes (h = sha256 of the key)
    <root>/<bucket>/objects/<h[:2]>/<h>.json      sidecar: key, size, ETag, CRC-64, type, metadata
    <root>/<bucket>/.uploads/<upload id>/         multipart parts until completion
    <root>/<bucket>/.tmp/                         bodies being received (cleared on start)

Keys are hashed for file names because object keys are not paths: ``a`` and ``a/b`` can both be
objects. Every bucket keeps a sorted key index in memory (built once at start), so listings
never walk the directory tree and a 100,000-key listing page costs a bisect plus the page.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import shutil
import threading
import time
import uuid
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

CHUNK = 1 << 20
MAX_KEY_BYTES = 1023
MIN_PART_SIZE = 100 * 1024  # OSS: every part but the last must be at least 100 KB
MAX_PART_NUMBER = 10000

# --------------------------------------------------------------------------------------------
# CRC-64/ECMA-182 as OSS computes it (reflected, init 0, xorout all ones): x-oss-hash-crc64ecma.

_CRC64_POLY_REFLECTED = 0xC96C5795D7870F42
_MASK64 = 0xFFFFFFFFFFFFFFFF

try:  # crcmod ships with oss2 and has a C extension: ~1 GB/s instead of ~10 MB/s.
    import crcmod as _crcmod

    _crc64_fast = _crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=_MASK64, rev=True)
except ImportError:  # pragma: no cover - exercised only without oss2 installed
    _crc64_fast = None


def _make_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC64_POLY_REFLECTED if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _make_table()


def crc64_python(data: bytes, crc: int = 0) -> int:
    """Pure-Python CRC-64/ECMA-182 (slow; the reference for ``crc64``)."""
    crc = crc ^ _MASK64
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ _MASK64


def crc64(data: bytes, crc: int = 0) -> int:
    """CRC-64 of ``data``, continuing from ``crc`` (the CRC of the bytes before it)."""
    if _crc64_fast is not None:
        return _crc64_fast(data, crc)
    return crc64_python(data, crc)


# --------------------------------------------------------------------------------------------


class OSSServiceError(Exception):
    """An error the emulator answers with an OSS XML error body."""

    def __init__(self, status: int, code: str, message: str, headers=None, **fields):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.fields = fields


def no_such_bucket(name: str) -> OSSServiceError:
    return OSSServiceError(
        404, "NoSuchBucket", "The specified bucket does not exist.", BucketName=name
    )


def no_such_key(key: str) -> OSSServiceError:
    return OSSServiceError(404, "NoSuchKey", "The specified key does not exist.", Key=key)


def no_such_upload(upload_id: str) -> OSSServiceError:
    return OSSServiceError(
        404,
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload "
        "may have been aborted or completed.",
        UploadId=upload_id,
    )


def _file_exists(key: str) -> OSSServiceError:
    """OSS's answer to ``x-oss-forbid-overwrite: true`` when the key exists."""
    return OSSServiceError(
        409,
        "FileAlreadyExists",
        "The object you specified already exists and can not be overwritten.",
        Key=key,
    )


def validate_bucket_name(name: str) -> None:
    ok = 3 <= len(name) <= 63 and all(c.islower() or c.isdigit() or c == "-" for c in name)
    if not ok or not name[0].isalnum() or not name[-1].isalnum() or not name.isascii():
        raise OSSServiceError(
            400, "InvalidBucketName", "The specified bucket is not valid.", BucketName=name
        )


def validate_key(key: str) -> None:
    raw = key.encode("utf-8", "surrogatepass")
    if not key or len(raw) > MAX_KEY_BYTES or key[0] in "/\\" or "\x00" in key:
        raise OSSServiceError(400, "InvalidObjectName", "The specified object is not valid.")


class SortedKeys:
    """A sorted set of strings kept in blocks (the idea of sortedcontainers' SortedList).

    Inserting or deleting one key among 100,000 moves at most one block, and iteration can start
    at any key after a bisect over the block maxima.
    """

    LOAD = 1000

    def __init__(self, keys=()):
        keys = sorted(set(keys))
        n = self.LOAD
        self._blocks: list[list[str]] = [keys[i : i + n] for i in range(0, len(keys), n)]
        self._maxes: list[str] = [b[-1] for b in self._blocks]
        self._len = len(keys)

    def __len__(self) -> int:
        return self._len

    def add(self, key: str) -> None:
        """Insert ``key``; the caller guarantees it is not present."""
        if not self._blocks:
            self._blocks.append([key])
            self._maxes.append(key)
        else:
            i = bisect_left(self._maxes, key)
            if i == len(self._maxes):
                i -= 1
                self._blocks[i].append(key)
                self._maxes[i] = key
            else:
                insort(self._blocks[i], key)
            block = self._blocks[i]
            if len(block) > 2 * self.LOAD:
                half = len(block) // 2
                self._blocks[i : i + 1] = [block[:half], block[half:]]
                self._maxes[i : i + 1] = [block[half - 1], block[-1]]
        self._len += 1

    def remove(self, key: str) -> None:
        i = bisect_left(self._maxes, key)
        if i == len(self._maxes):
            return
        block = self._blocks[i]
        j = bisect_left(block, key)
        if j < len(block) and block[j] == key:
            del block[j]
            self._len -= 1
            if block:
                self._maxes[i] = block[-1]
            else:
                del self._blocks[i]
                del self._maxes[i]

    def iter_from(self, start: str, inclusive: bool = True) -> Iterator[str]:
        """Keys >= start (or > start when not inclusive), in order."""
        find = bisect_left if inclusive else bisect_right
        i = find(self._maxes, start)
        if i == len(self._maxes):
            return
        block = self._blocks[i]
        yield from block[find(block, start) :]
        for block in self._blocks[i + 1 :]:
            yield from block

    def __iter__(self) -> Iterator[str]:
        for block in self._blocks:
            yield from block


@dataclass(frozen=True)
class ObjectRecord:
    """One stored object version. Records are replaced, never mutated."""

    key: str
    size: int
    etag: str  # upper-case hex, without quotes; "<hex>-<parts>" for multipart
    crc64: int
    mtime: float
    content_type: str = "application/octet-stream"
    object_type: str = "Normal"  # Normal | Appendable | Multipart
    meta: dict = field(default_factory=dict)  # user metadata, lower-case names without prefix
    data: bytes | None = None  # memory mode
    path: str | None = None  # disk mode
    acl: str = "default"  # object ACL: default | private | public-read | public-read-write
    tags: dict = field(default_factory=dict)  # object tagging

    def to_json(self) -> dict:
        return {
            "key": self.key,
            "size": self.size,
            "etag": self.etag,
            "crc64": str(self.crc64),
            "mtime": self.mtime,
            "content_type": self.content_type,
            "object_type": self.object_type,
            "meta": self.meta,
            "acl": self.acl,
            "tags": self.tags,
        }


@dataclass
class PartRecord:
    number: int
    size: int
    etag: str
    md5: bytes
    crc64: int
    mtime: float
    data: bytes | None = None
    path: str | None = None


@dataclass
class Upload:
    upload_id: str
    key: str
    initiated: float
    content_type: str
    meta: dict
    parts: dict = field(default_factory=dict)  # number -> PartRecord
    directory: str | None = None


@dataclass
class BucketState:
    name: str
    created: float
    acl: str = "private"
    keys: SortedKeys = field(default_factory=SortedKeys)
    objects: dict = field(default_factory=dict)
    uploads: dict = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    directory: str | None = None

    @property
    def public_read(self) -> bool:
        return self.acl in ("public-read", "public-read-write")

    @property
    def public_write(self) -> bool:
        return self.acl == "public-read-write"


@dataclass
class Ingested:
    """A request body that has been received (to a temporary file or to memory) and hashed."""

    size: int
    md5: bytes
    crc64: int
    data: bytes | None = None
    path: str | None = None

    def discard(self) -> None:
        if self.path:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


@dataclass(frozen=True)
class ListResult:
    objects: list  # of ObjectRecord
    prefixes: list  # of str
    truncated: bool
    next_marker: str


def _next_after_prefix(prefix: str) -> str:
    """The smallest string greater than every string that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


ReadFn = Callable[[int], bytes]


class ObjectStore:
    """Thread-safe bucket/object state, in memory or on disk."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = os.path.abspath(os.fspath(root)) if root is not None else None
        self._lock = threading.RLock()
        self._buckets: dict[str, BucketState] = {}
        if self.root is not None:
            os.makedirs(self.root, exist_ok=True)
            self._load()

    # ---------------------------------------------------------------- persistence

    def _load(self) -> None:
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            meta_path = os.path.join(entry.path, ".bucket.json")
            if not entry.is_dir() or not os.path.exists(meta_path):
                continue
            with open(meta_path, encoding="utf-8") as f:
                info = json.load(f)
            bucket = BucketState(
                entry.name, info.get("created", time.time()), info.get("acl", "private")
            )
            bucket.directory = entry.path
            shutil.rmtree(os.path.join(entry.path, ".tmp"), ignore_errors=True)
            keys = []
            objects_dir = os.path.join(entry.path, "objects")
            if os.path.isdir(objects_dir):
                for sub in os.scandir(objects_dir):
                    if not sub.is_dir():
                        continue
                    for item in os.scandir(sub.path):
                        if not item.name.endswith(".json"):
                            continue
                        data_path = item.path[: -len(".json")] + ".data"
                        if not os.path.exists(data_path):
                            continue
                        with open(item.path, encoding="utf-8") as f:
                            m = json.load(f)
                        rec = ObjectRecord(
                            key=m["key"],
                            size=m["size"],
                            etag=m["etag"],
                            crc64=int(m["crc64"]),
                            mtime=m["mtime"],
                            content_type=m.get("content_type", "application/octet-stream"),
                            object_type=m.get("object_type", "Normal"),
                            meta=m.get("meta", {}),
                            path=data_path,
                            acl=m.get("acl", "default"),
                            tags=m.get("tags", {}),
                        )
                        bucket.objects[rec.key] = rec
                        keys.append(rec.key)
            bucket.keys = SortedKeys(keys)
            self._load_uploads(bucket)
            self._buckets[bucket.name] = bucket

    def _load_uploads(self, bucket: BucketState) -> None:
        uploads_dir = os.path.join(bucket.directory, ".uploads")
        if not os.path.isdir(uploads_dir):
            return
        for entry in os.scandir(uploads_dir):
            info_path = os.path.join(entry.path, "upload.json")
            if not os.path.exists(info_path):
                continue
            with open(info_path, encoding="utf-8") as f:
                info = json.load(f)
            upload = Upload(
                entry.name, info["key"], info["initiated"], info["content_type"], info["meta"]
            )
            upload.directory = entry.path
            for p in info.get("parts", []):
                part_path = os.path.join(entry.path, f"{p['number']}.part")
                if os.path.exists(part_path):
                    upload.parts[p["number"]] = PartRecord(
                        p["number"],
                        p["size"],
                        p["etag"],
                        bytes.fromhex(p["etag"]),
                        int(p["crc64"]),
                        p["mtime"],
                        path=part_path,
                    )
            bucket.uploads[upload.upload_id] = upload

    def _save_upload(self, upload: Upload) -> None:
        if upload.directory is None:
            return
        info = {
            "key": upload.key,
            "initiated": upload.initiated,
            "content_type": upload.content_type,
            "meta": upload.meta,
            "parts": [
                {
                    "number": p.number,
                    "size": p.size,
                    "etag": p.etag,
                    "crc64": str(p.crc64),
                    "mtime": p.mtime,
                }
                for p in sorted(upload.parts.values(), key=lambda p: p.number)
            ],
        }
        _write_json_atomic(os.path.join(upload.directory, "upload.json"), info)

    def _object_paths(self, bucket: BucketState, key: str) -> tuple[str, str]:
        h = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]
        base = os.path.join(bucket.directory, "objects", h[:2], h)
        return base + ".data", base + ".json"

    def _tmp_path(self, bucket: BucketState) -> str:
        d = os.path.join(bucket.directory, ".tmp")
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, uuid.uuid4().hex)

    # ---------------------------------------------------------------- buckets

    def create_bucket(self, name: str, acl: str = "private", exist_ok: bool = False):
        validate_bucket_name(name)
        if acl not in ("private", "public-read", "public-read-write"):
            raise OSSServiceError(400, "InvalidArgument", f"Invalid ACL {acl!r}.")
        with self._lock:
            if name in self._buckets:
                if exist_ok:
                    return self._buckets[name]
                raise OSSServiceError(
                    409,
                    "BucketAlreadyExists",
                    "The requested bucket name is not available.",
                    BucketName=name,
                )
            bucket = BucketState(name, time.time(), acl)
            if self.root is not None:
                bucket.directory = os.path.join(self.root, name)
                os.makedirs(bucket.directory, exist_ok=True)
                self._save_bucket(bucket)
            self._buckets[name] = bucket
            return bucket

    def _save_bucket(self, bucket: BucketState) -> None:
        if bucket.directory is not None:
            _write_json_atomic(
                os.path.join(bucket.directory, ".bucket.json"),
                {"created": bucket.created, "acl": bucket.acl},
            )

    def set_bucket_acl(self, name: str, acl: str) -> None:
        if acl not in ("private", "public-read", "public-read-write"):
            raise OSSServiceError(400, "InvalidArgument", f"Invalid ACL {acl!r}.")
        bucket = self.bucket(name)
        with bucket.lock:
            bucket.acl = acl
            self._save_bucket(bucket)

    def delete_bucket(self, name: str) -> None:
        with self._lock:
            bucket = self.bucket(name)
            if len(bucket.keys) or bucket.uploads:
                raise OSSServiceError(
                    409,
                    "BucketNotEmpty",
                    "The bucket you tried to delete is not empty.",
                    BucketName=name,
                )
            del self._buckets[name]
            if bucket.directory:
                shutil.rmtree(bucket.directory, ignore_errors=True)

    def bucket(self, name: str) -> BucketState:
        try:
            return self._buckets[name]
        except KeyError:
            raise no_such_bucket(name) from None

    def has_bucket(self, name: str) -> bool:
        return name in self._buckets

    def buckets(self) -> list[BucketState]:
        with self._lock:
            return [self._buckets[n] for n in sorted(self._buckets)]

    # ---------------------------------------------------------------- bodies

    def ingest(self, bucket: BucketState, read: ReadFn, crc_init: int = 0) -> Ingested:
        """Receive a body through ``read(n)`` (returns b"" at the end), hashing as it comes."""
        md5 = hashlib.md5()
        crc = crc_init
        size = 0
        if bucket.directory is None:
            chunks = []
            while True:
                chunk = read(CHUNK)
                if not chunk:
                    break
                md5.update(chunk)
                crc = crc64(chunk, crc)
                size += len(chunk)
                chunks.append(chunk)
            return Ingested(size, md5.digest(), crc, data=b"".join(chunks))
        path = self._tmp_path(bucket)
        try:
            with open(path, "wb") as f:
                while True:
                    chunk = read(CHUNK)
                    if not chunk:
                        break
                    md5.update(chunk)
                    crc = crc64(chunk, crc)
                    size += len(chunk)
                    f.write(chunk)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        return Ingested(size, md5.digest(), crc, path=path)

    def _commit(
        self,
        bucket: BucketState,
        rec: ObjectRecord,
        body: Ingested | None,
        forbid_overwrite: bool = False,
    ) -> ObjectRecord:
        """Make ``rec`` (with ``body``'s bytes) the current version of its key. Holds the lock."""
        if forbid_overwrite and rec.key in bucket.objects:
            if body is not None:
                body.discard()
            raise _file_exists(rec.key)
        if bucket.directory is not None:
            data_path, meta_path = self._object_paths(bucket, rec.key)
            os.makedirs(os.path.dirname(data_path), exist_ok=True)
            if body is not None:
                os.replace(body.path, data_path)
            rec = replace(rec, path=data_path, data=None)
            _write_json_atomic(meta_path, rec.to_json())
        elif body is not None:
            rec = replace(rec, data=body.data, path=None)
        if rec.key not in bucket.objects:
            bucket.keys.add(rec.key)
        bucket.objects[rec.key] = rec
        return rec

    # ---------------------------------------------------------------- objects

    def put_object(
        self,
        bucket_name: str,
        key: str,
        read: ReadFn,
        content_type: str = "application/octet-stream",
        meta: dict | None = None,
        content_md5: str | None = None,
        forbid_overwrite: bool = False,
    ) -> ObjectRecord:
        validate_key(key)
        bucket = self.bucket(bucket_name)
        body = self.ingest(bucket, read)
        if content_md5 is not None and base64.b64encode(body.md5).decode() != content_md5:
            body.discard()
            raise OSSServiceError(
                400, "InvalidDigest", "The Content-MD5 you specified is not valid."
            )
        rec = ObjectRecord(
            key,
            body.size,
            body.md5.hex().upper(),
            body.crc64,
            time.time(),
            content_type,
            "Normal",
            dict(meta or {}),
        )
        with bucket.lock:
            return self._commit(bucket, rec, body, forbid_overwrite)

    def update_object(self, bucket_name: str, key: str, **changes) -> ObjectRecord:
        """Change an object's ACL or tags (``acl=``, ``tags=``) without touching its bytes."""
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            rec = bucket.objects.get(key)
            if rec is None:
                raise no_such_key(key)
            return self._commit(bucket, replace(rec, **changes), None)

    def put_bytes(self, bucket_name: str, key: str, data: bytes, **kwargs) -> ObjectRecord:
        """Store ``data`` directly (for seeding tests and demos without HTTP)."""
        return self.put_object(bucket_name, key, io.BytesIO(data).read, **kwargs)

    def head(self, bucket_name: str, key: str) -> ObjectRecord:
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            rec = bucket.objects.get(key)
        if rec is None:
            raise no_such_key(key)
        return rec

    def open_object(self, bucket_name: str, key: str):
        """(record, binary file object) of the current version; the caller closes the file."""
        bucket = self.bucket(bucket_name)
        with bucket.lock:  # open under the lock so that record and bytes belong together
            rec = bucket.objects.get(key)
            if rec is None:
                raise no_such_key(key)
            f = open(rec.path, "rb") if rec.path else io.BytesIO(rec.data)  # noqa: SIM115
        return rec, f

    def get_bytes(self, bucket_name: str, key: str) -> bytes:
        _, f = self.open_object(bucket_name, key)
        with f:
            return f.read()

    def delete_object(self, bucket_name: str, key: str) -> bool:
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            rec = bucket.objects.pop(key, None)
            if rec is None:
                return False
            bucket.keys.remove(key)
            if rec.path:
                _, meta_path = self._object_paths(bucket, key)
                for p in (meta_path, rec.path):
                    with contextlib.suppress(OSError):
                        os.unlink(p)
            return True

    def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        content_type: str | None = None,
        meta: dict | None = None,
        forbid_overwrite: bool = False,
    ) -> ObjectRecord:
        """Server-side copy; ``meta``/``content_type`` replace the source's when given."""
        validate_key(dst_key)
        dst = self.bucket(dst_bucket)
        rec, f = self.open_object(src_bucket, src_key)
        with f:
            if dst.directory is not None:
                path = self._tmp_path(dst)
                with open(path, "wb") as out:
                    shutil.copyfileobj(f, out, CHUNK)
                body = Ingested(rec.size, b"", rec.crc64, path=path)
            else:
                body = Ingested(rec.size, b"", rec.crc64, data=f.read())
        new = ObjectRecord(
            dst_key,
            rec.size,
            rec.etag,
            rec.crc64,
            time.time(),
            content_type if content_type is not None else rec.content_type,
            rec.object_type if rec.object_type != "Appendable" else "Normal",
            dict(meta) if meta is not None else dict(rec.meta),
        )
        with dst.lock:
            return self._commit(dst, new, body, forbid_overwrite)

    def append_object(
        self,
        bucket_name: str,
        key: str,
        position: int,
        read: ReadFn,
        content_type: str = "application/octet-stream",
        meta: dict | None = None,
    ) -> ObjectRecord:
        validate_key(key)
        bucket = self.bucket(bucket_name)
        with bucket.lock:  # appends to one bucket are serialised; they are rare and small
            rec = bucket.objects.get(key)
            if rec is not None and rec.object_type != "Appendable":
                raise OSSServiceError(
                    409, "ObjectNotAppendable", "The object is not appendable.", Key=key
                )
            current = rec.size if rec is not None else 0
            if position != current:
                raise OSSServiceError(
                    409,
                    "PositionNotEqualToLength",
                    "Position is not equal to file length.",
                    headers={"x-oss-next-append-position": str(current)},
                    Key=key,
                )
            body = self.ingest(bucket, read, crc_init=rec.crc64 if rec else 0)
            if rec is None:
                new = ObjectRecord(
                    key,
                    body.size,
                    body.md5.hex().upper(),
                    body.crc64,
                    time.time(),
                    content_type,
                    "Appendable",
                    dict(meta or {}),
                )
                return self._commit(bucket, new, body)
            if bucket.directory is not None:
                with open(rec.path, "ab") as out, open(body.path, "rb") as src:
                    shutil.copyfileobj(src, out, CHUNK)
                body.discard()
                md5 = hashlib.md5()
                with open(rec.path, "rb") as f:
                    for chunk in iter(lambda: f.read(CHUNK), b""):
                        md5.update(chunk)
                new = replace(
                    rec,
                    size=rec.size + body.size,
                    etag=md5.hexdigest().upper(),
                    crc64=body.crc64,
                    mtime=time.time(),
                )
                return self._commit(bucket, new, None)
            data = rec.data + body.data
            new = replace(
                rec,
                size=len(data),
                etag=hashlib.md5(data).hexdigest().upper(),
                crc64=body.crc64,
                mtime=time.time(),
                data=data,
            )
            return self._commit(bucket, new, None)

    # ---------------------------------------------------------------- multipart

    def init_multipart(self, bucket_name: str, key: str, content_type: str, meta: dict) -> str:
        validate_key(key)
        bucket = self.bucket(bucket_name)
        upload = Upload(uuid.uuid4().hex.upper(), key, time.time(), content_type, dict(meta))
        if bucket.directory is not None:
            upload.directory = os.path.join(bucket.directory, ".uploads", upload.upload_id)
            os.makedirs(upload.directory)
            self._save_upload(upload)
        with bucket.lock:
            bucket.uploads[upload.upload_id] = upload
        return upload.upload_id

    def _upload(self, bucket: BucketState, key: str, upload_id: str) -> Upload:
        upload = bucket.uploads.get(upload_id)
        if upload is None or upload.key != key:
            raise no_such_upload(upload_id)
        return upload

    def upload_part(
        self,
        bucket_name: str,
        key: str,
        upload_id: str,
        number: int,
        read: ReadFn,
        content_md5: str | None = None,
    ) -> PartRecord:
        if not 1 <= number <= MAX_PART_NUMBER:
            raise OSSServiceError(
                400, "InvalidArgument", f"Part number must be 1..{MAX_PART_NUMBER}."
            )
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            self._upload(bucket, key, upload_id)
        body = self.ingest(bucket, read)
        if content_md5 is not None and base64.b64encode(body.md5).decode() != content_md5:
            body.discard()
            raise OSSServiceError(
                400, "InvalidDigest", "The Content-MD5 you specified is not valid."
            )
        part = PartRecord(
            number, body.size, body.md5.hex().upper(), body.md5, body.crc64, time.time()
        )
        with bucket.lock:
            try:
                upload = self._upload(bucket, key, upload_id)
            except OSSServiceError:
                body.discard()
                raise
            if upload.directory is not None:
                part.path = os.path.join(upload.directory, f"{number}.part")
                os.replace(body.path, part.path)
            else:
                part.data = body.data
            upload.parts[number] = part
            self._save_upload(upload)
        return part

    def list_parts(self, bucket_name: str, key: str, upload_id: str) -> list[PartRecord]:
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            upload = self._upload(bucket, key, upload_id)
            return [upload.parts[n] for n in sorted(upload.parts)]

    def list_uploads(self, bucket_name: str, prefix: str = "") -> list[Upload]:
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            uploads = [u for u in bucket.uploads.values() if u.key.startswith(prefix)]
        return sorted(uploads, key=lambda u: (u.key, u.upload_id))

    def abort_multipart(self, bucket_name: str, key: str, upload_id: str) -> None:
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            upload = self._upload(bucket, key, upload_id)
            del bucket.uploads[upload_id]
        if upload.directory:
            shutil.rmtree(upload.directory, ignore_errors=True)

    def complete_multipart(
        self,
        bucket_name: str,
        key: str,
        upload_id: str,
        parts: list[tuple[int, str]] | None,
        forbid_overwrite: bool = False,
    ) -> ObjectRecord:
        """Assemble the listed ``(part number, ETag)`` pairs, or every part when ``None``."""
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            upload = self._upload(bucket, key, upload_id)
            if forbid_overwrite and key in bucket.objects:
                raise _file_exists(key)  # the upload stays, so the client can abort it
            if parts is None:
                chosen = [upload.parts[n] for n in sorted(upload.parts)]
            else:
                if not parts:
                    raise OSSServiceError(
                        400, "MalformedXML", "The XML you provided was not well-formed."
                    )
                numbers = [n for n, _ in parts]
                if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
                    raise OSSServiceError(
                        400, "InvalidPartOrder", "The list of parts was not in ascending order."
                    )
                chosen = []
                for n, etag in parts:
                    part = upload.parts.get(n)
                    if part is None or part.etag != etag.strip('"').upper():
                        raise OSSServiceError(
                            400,
                            "InvalidPart",
                            "One or more of the specified parts could not be found or the "
                            "specified entity tag might not have matched the part's entity tag.",
                            PartNumber=str(n),
                        )
                    chosen.append(part)
            for part in chosen[:-1]:
                if part.size < MIN_PART_SIZE:
                    raise OSSServiceError(
                        400,
                        "EntityTooSmall",
                        "Your proposed upload is smaller than the minimum allowed size.",
                        PartNumber=str(part.number),
                        MinSizeAllowed=str(MIN_PART_SIZE),
                    )
            del bucket.uploads[upload_id]
        crc = 0
        md5s = b""
        size = 0
        if bucket.directory is not None:
            path = self._tmp_path(bucket)
            with open(path, "wb") as out:
                for part in chosen:
                    with open(part.path, "rb") as src:
                        for chunk in iter(lambda s=src: s.read(CHUNK), b""):
                            crc = crc64(chunk, crc)
                            out.write(chunk)
                    md5s += part.md5
                    size += part.size
            body = Ingested(size, b"", crc, path=path)
        else:
            data = b"".join(p.data for p in chosen)
            for p in chosen:
                md5s += p.md5
            crc = crc64(data)
            size = len(data)
            body = Ingested(size, b"", crc, data=data)
        etag = f"{hashlib.md5(md5s).hexdigest().upper()}-{len(chosen)}"
        rec = ObjectRecord(
            key, size, etag, crc, time.time(), upload.content_type, "Multipart", upload.meta
        )
        try:
            with bucket.lock:
                return self._commit(bucket, rec, body, forbid_overwrite)
        finally:
            if upload.directory:
                shutil.rmtree(upload.directory, ignore_errors=True)

    # ---------------------------------------------------------------- listing

    def list_objects(
        self,
        bucket_name: str,
        prefix: str = "",
        delimiter: str = "",
        marker: str = "",
        max_keys: int = 100,
    ) -> ListResult:
        """One page of keys > ``marker`` under ``prefix``, rolled up at ``delimiter``.

        Each run of keys sharing a common prefix is skipped with one bisect, so a page costs
        O(page + log n) whatever the number of keys below the prefix.
        """
        bucket = self.bucket(bucket_name)
        objects: list[ObjectRecord] = []
        prefixes: list[str] = []
        truncated = False
        last = ""
        with bucket.lock:
            if marker >= prefix:
                start, inclusive = marker, False
            else:
                start, inclusive = prefix, True
            while True:
                jump = None
                for key in bucket.keys.iter_from(start, inclusive):
                    if not key.startswith(prefix):
                        break
                    if delimiter:
                        idx = key.find(delimiter, len(prefix))
                        if idx >= 0:
                            cp = key[: idx + len(delimiter)]
                            jump = _next_after_prefix(cp)
                            if cp <= marker:
                                break  # already returned on an earlier page
                            if len(objects) + len(prefixes) >= max_keys:
                                truncated = True
                                jump = None
                                break
                            prefixes.append(cp)
                            last = cp
                            break
                    if len(objects) + len(prefixes) >= max_keys:
                        truncated = True
                        break
                    objects.append(bucket.objects[key])
                    last = key
                if jump is None:
                    break
                start, inclusive = jump, True
        return ListResult(objects, prefixes, truncated, last if truncated else "")

    def keys(self, bucket_name: str) -> list[str]:
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            return list(bucket.keys)


def _write_json_atomic(path: str, data: dict) -> None:
    tmp = f"{path}.{uuid.uuid4().hex}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, path)
