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
from dataclasses import replace

from .listing import list_page
from .records import (
    CHUNK,
    COLD_CLASSES,
    BucketState,
    Ingested,
    ListResult,
    ObjectRecord,
    OSSServiceError,
    ReadFn,
    SortedKeys,
    _file_exists,
    check_storage_class,
    crc64,
    no_such_bucket,
    no_such_key,
    symlink_target_missing,
    validate_bucket_name,
    validate_key,
    write_json_atomic,
)
from .uploads import MultipartStore


class ObjectStore(MultipartStore):
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
                entry.name,
                info.get("created", time.time()),
                info.get("acl", "private"),
                info.get("class", "Standard"),
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
                            symlink_target=m.get("symlink_target"),
                            storage_class=m.get("storage_class", "Standard"),
                            restore_ready=m.get("restore_ready", 0.0),
                            restore_until=m.get("restore_until", 0.0),
                        )
                        bucket.objects[rec.key] = rec
                        keys.append(rec.key)
            bucket.keys = SortedKeys(keys)
            self._load_uploads(bucket)
            self._buckets[bucket.name] = bucket

    def _object_paths(self, bucket: BucketState, key: str) -> tuple[str, str]:
        h = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]
        base = os.path.join(bucket.directory, "objects", h[:2], h)
        return base + ".data", base + ".json"

    def _tmp_path(self, bucket: BucketState) -> str:
        d = os.path.join(bucket.directory, ".tmp")
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, uuid.uuid4().hex)

    # ---------------------------------------------------------------- buckets

    def create_bucket(
        self,
        name: str,
        acl: str = "private",
        exist_ok: bool = False,
        storage_class: str = "Standard",
    ):
        validate_bucket_name(name)
        check_storage_class(storage_class)
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
            bucket = BucketState(name, time.time(), acl, storage_class)
            if self.root is not None:
                bucket.directory = os.path.join(self.root, name)
                os.makedirs(bucket.directory, exist_ok=True)
                self._save_bucket(bucket)
            self._buckets[name] = bucket
            return bucket

    def _save_bucket(self, bucket: BucketState) -> None:
        if bucket.directory is not None:
            write_json_atomic(
                os.path.join(bucket.directory, ".bucket.json"),
                {"created": bucket.created, "acl": bucket.acl, "class": bucket.storage_class},
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
        crc, size = crc_init, 0

        def receive(write) -> None:
            nonlocal crc, size
            while chunk := read(CHUNK):
                md5.update(chunk)
                crc = crc64(chunk, crc)
                size += len(chunk)
                write(chunk)

        if bucket.directory is None:
            chunks: list[bytes] = []
            receive(chunks.append)
            return Ingested(size, md5.digest(), crc, data=b"".join(chunks))
        path = self._tmp_path(bucket)
        try:
            with open(path, "wb") as f:
                receive(f.write)
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
            write_json_atomic(meta_path, rec.to_json())
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
        tags: dict | None = None,
        acl: str = "default",
        storage_class: str | None = None,
    ) -> ObjectRecord:
        """Store a body read through ``read``; ``storage_class`` None: the bucket's."""
        validate_key(key)
        bucket = self.bucket(bucket_name)
        body = self.ingest(bucket, read)
        if content_md5 is not None and base64.b64encode(body.md5).decode() != content_md5:
            body.discard()
            raise OSSServiceError(
                400, "InvalidDigest", "The Content-MD5 you specified is not valid."
            )
        rec = ObjectRecord.from_body(
            key,
            body,
            content_type=content_type,
            meta=meta,
            tags=tags,
            acl=acl,
            storage_class=storage_class or bucket.storage_class,
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

    def restore_object(self, bucket_name: str, key: str, days: int, seconds: float) -> int:
        """Start restoring a cold object for ``days``, done in ``seconds``: 202, or 200 when a
        restored copy exists (its expiry moves); 409 while a restore runs."""
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            rec = bucket.objects.get(key)
            if rec is None:
                raise no_such_key(key)
            if rec.storage_class not in COLD_CLASSES:
                raise OSSServiceError(
                    400,
                    "OperationNotSupported",
                    "The operation is not supported for this resource (not an archived object).",
                )
            now = time.time()
            if rec.restore_ready > now:
                raise OSSServiceError(
                    409, "RestoreAlreadyInProgress", "The restore operation is in progress."
                )
            status = 200 if rec.restore_ready and now < rec.restore_until else 202
            ready = rec.restore_ready if status == 200 else now + seconds
            self._commit(
                bucket, replace(rec, restore_ready=ready, restore_until=ready + days * 86400), None
            )
            return status

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

    def open_object(self, bucket_name: str, key: str, follow: bool = True):
        """(record, binary file object) of the current version; the caller closes the file.

        A symlink is followed (``follow``): the record is then :meth:`followed`'s and the bytes
        are the target's.
        """
        bucket = self.bucket(bucket_name)
        with bucket.lock:  # open under the lock so that record and bytes belong together
            rec = bucket.objects.get(key)
            if rec is None:
                raise no_such_key(key)
            if follow:
                rec = self._followed(bucket, rec)
            f = open(rec.path, "rb") if rec.path else io.BytesIO(rec.data)  # noqa: SIM115
        return rec, f

    def followed(self, bucket_name: str, rec: ObjectRecord) -> ObjectRecord:
        """``rec`` itself, or for a symlink its target's bytes, size, ETag and CRC with the
        symlink's own key, type, metadata, tags and ACL (as OSS answers a GET or HEAD of it)."""
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            return self._followed(bucket, rec)

    def _followed(self, bucket: BucketState, rec: ObjectRecord) -> ObjectRecord:
        if rec.symlink_target is None:
            return rec
        target = bucket.objects.get(rec.symlink_target)
        if target is None:
            raise symlink_target_missing(rec.symlink_target)
        if target.symlink_target is not None:
            raise OSSServiceError(
                400, "InvalidTargetType", "The symlink target is a symlink.", Key=rec.key
            )
        return replace(
            target,
            key=rec.key,
            object_type="Symlink",
            content_type=rec.content_type or target.content_type,
            meta=rec.meta,
            tags=rec.tags,
            acl=rec.acl,
            symlink_target=rec.symlink_target,
        )

    def put_symlink(
        self,
        bucket_name: str,
        key: str,
        target: str,
        content_type: str = "",
        meta: dict | None = None,
        tags: dict | None = None,
        forbid_overwrite: bool = False,
    ) -> ObjectRecord:
        """Make ``key`` a symlink to ``target`` (which need not exist yet, as on OSS)."""
        validate_key(key)
        validate_key(target)
        bucket = self.bucket(bucket_name)
        body = self.ingest(bucket, io.BytesIO(b"").read)
        rec = ObjectRecord(
            key,
            0,
            body.md5.hex().upper(),
            body.crc64,
            time.time(),
            content_type,
            "Symlink",
            dict(meta or {}),
            tags=dict(tags or {}),
            symlink_target=target,
        )
        with bucket.lock:
            return self._commit(bucket, rec, body, forbid_overwrite)

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
        tags: dict | None = None,
        storage_class: str | None = None,
    ) -> ObjectRecord:
        """Server-side copy (of a symlink's target); ``meta``, ``content_type`` and ``tags``
        replace the source's when given."""
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
        new = ObjectRecord.from_body(
            dst_key,
            body,
            etag=rec.etag,
            content_type=content_type if content_type is not None else rec.content_type,
            object_type=rec.object_type if rec.object_type != "Appendable" else "Normal",
            meta=meta if meta is not None else rec.meta,
            tags=tags if tags is not None else rec.tags,
            storage_class=storage_class or dst.storage_class,
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
        tags: dict | None = None,
    ) -> ObjectRecord:
        """Append at ``position``; a new object takes ``content_type``, ``meta`` and ``tags``."""
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
                new = ObjectRecord.from_body(
                    key,
                    body,
                    content_type=content_type,
                    object_type="Appendable",
                    meta=meta,
                    tags=tags,
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

    # ---------------------------------------------------------------- listing

    def list_objects(
        self,
        bucket_name: str,
        prefix: str = "",
        delimiter: str = "",
        marker: str = "",
        max_keys: int = 100,
    ) -> ListResult:
        """One page of keys > ``marker`` under ``prefix``, rolled up at ``delimiter``
        (:func:`.listing.list_page`)."""
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            return list_page(bucket, prefix, delimiter, marker, max_keys)

    def keys(self, bucket_name: str) -> list[str]:
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            return list(bucket.keys)
