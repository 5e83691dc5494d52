"""The emulator's data: errors, validation, CRC-64, the sorted key index and the records."""

from __future__ import annotations

import contextlib
import email.utils
import json
import os
import threading
import time
import uuid
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

CHUNK = 1 << 20
STORAGE_CLASSES = ("Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive")
COLD_CLASSES = ("Archive", "ColdArchive", "DeepColdArchive")  # read only after a restore
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


def symlink_target_missing(key: str) -> OSSServiceError:
    return OSSServiceError(
        404, "SymlinkTargetNotExist", "The symlink target object does not exist.", Key=key
    )


def check_storage_class(name: str) -> str:
    if name not in STORAGE_CLASSES:
        raise OSSServiceError(400, "InvalidArgument", f"Invalid storage class {name!r}.")
    return name


def invalid_object_state(key: str) -> OSSServiceError:
    """OSS's answer to reading an archived object that is not restored."""
    return OSSServiceError(
        403,
        "InvalidObjectState",
        "The operation is not valid for the object's state (restore it first).",
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
    symlink_target: str | None = None  # a Symlink's target key (same bucket)
    storage_class: str = "Standard"  # Standard | IA | Archive | ColdArchive | DeepColdArchive
    restore_ready: float = 0.0  # cold classes: epoch a requested restore completes (0: none)
    restore_until: float = 0.0  # ... and the epoch its restored copy expires

    @classmethod
    def from_body(
        cls,
        key: str,
        body: Ingested,
        *,
        etag: str | None = None,
        content_type: str = "application/octet-stream",
        object_type: str = "Normal",
        meta: dict | None = None,
        tags: dict | None = None,
        **fields,
    ) -> ObjectRecord:
        """A new version of ``key`` holding ``body``, modified now: its size and CRC-64, its
        MD5 as the ETag unless ``etag`` is given (a copy keeps its source's, a multipart
        upload has its own); ``meta`` and ``tags`` are copied."""
        return cls(
            key,
            body.size,
            etag if etag is not None else body.md5.hex().upper(),
            body.crc64,
            time.time(),
            content_type,
            object_type,
            dict(meta or {}),
            tags=dict(tags or {}),
            **fields,
        )

    @property
    def frozen(self) -> bool:
        """A cold object whose bytes cannot be read now (no completed, unexpired restore)."""
        if self.storage_class not in COLD_CLASSES:
            return False
        now = time.time()
        return not (self.restore_ready and self.restore_ready <= now < self.restore_until)

    def restore_header(self) -> str | None:
        """``x-oss-restore`` (and a listing's ``RestoreInfo``) while a restore is asked or done."""
        now = time.time()
        if not self.restore_ready or now >= self.restore_until:
            return None
        if now < self.restore_ready:
            return 'ongoing-request="true"'
        expiry = email.utils.formatdate(self.restore_until, usegmt=True)
        return f'ongoing-request="false", expiry-date="{expiry}"'

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
            "symlink_target": self.symlink_target,
            "storage_class": self.storage_class,
            "restore_ready": self.restore_ready,
            "restore_until": self.restore_until,
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
    tags: dict = field(default_factory=dict)  # the object's tags once completed
    acl: str = "default"  # the object's ACL once completed
    storage_class: str = "Standard"


@dataclass
class BucketState:
    name: str
    created: float
    acl: str = "private"
    storage_class: str = "Standard"  # the default of objects written without one
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


def write_json_atomic(path: str, data: dict) -> None:
    tmp = f"{path}.{uuid.uuid4().hex}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, path)
