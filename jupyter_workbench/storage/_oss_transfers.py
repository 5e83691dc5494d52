"""Data in and out of OSS for ``WorkbenchOSSFileSystem`` (ossfix.py): ranged and whole reads
that survive a cut connection, one PUT or a multipart upload per write, server-side copies."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os

from ._oss_calls import (
    _NETWORK_ERRORS,
    _READ_ERRORS,
    MAX_SINGLE_PUT,
    MIN_PART_SIZE,
)
from ._oss_files import MultipartUpload
from .errors import StorageUnavailableError

log = logging.getLogger("jupyter_workbench.storage.ossfix")


class _OSSTransfers:
    """Mixed into ``WorkbenchOSSFileSystem``: reading and writing objects."""

    # ------------------------------------------------------------------ reading

    def get_object(self, path: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (exclusive, as fsspec means it)."""
        if end is not None and end <= start:
            return b""
        bucket, key = self.split_path(path)
        headers = {"x-oss-range-behavior": "standard"}
        last = None if end is None else end - 1
        for attempt in range(1 + self._retries):
            try:
                result = self._call_oss(
                    "get_object", key, byte_range=(start, last), headers=headers, bucket=bucket
                )
            except OSError as err:
                cause = err.__cause__
                if getattr(cause, "code", "") == "InvalidRange":
                    return b""
                raise
            data = self._read_body(result, path, last_attempt=attempt >= self._retries)
            if data is None:
                continue
            expected = result.content_length
            if expected is None or len(data) == expected:
                return data
        raise StorageUnavailableError(f"Reading {path} from {self._endpoint} kept failing.")

    def _read_body(self, result, path: str, *, last_attempt: bool) -> bytes | None:
        """The response body, or None to retry after a dropped connection."""
        try:
            return result.read()
        except _READ_ERRORS as err:
            if last_attempt:
                raise StorageUnavailableError(
                    f"Reading {path} from {self._endpoint} failed: {err}"
                ) from err
            return None

    def cat_file(self, path, start=None, end=None, **kwargs):
        bucket, key = self.split_path(path)
        if start is None and end is None:
            return self._read_whole(bucket, key, path)
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = self.info(path)["size"]
            start = 0 if start is None else (start if start >= 0 else max(0, size + start))
            end = size if end is None else (end if end >= 0 else max(0, size + end))
        return self.get_object(path, start or 0, end)

    def _read_whole(self, bucket: str, key: str, path: str) -> bytes:
        for attempt in range(1 + self._retries):
            result = self._call_oss("get_object", key, bucket=bucket)
            data = self._read_body(result, path, last_attempt=attempt >= self._retries)
            if data is None:
                continue
            server, client = result.server_crc, result.client_crc
            if server is None or client is None or server == client:
                return data
            log.warning("CRC mismatch reading %s; retrying", path)
        raise StorageUnavailableError(
            f"Reading {path} from {self._endpoint} returned corrupt data (CRC-64 mismatch)."
        )

    def get_file(self, rpath, lpath, callback=None, **kwargs):
        if self.isdir(rpath):
            os.makedirs(lpath, exist_ok=True)
            return
        bucket, key = self.split_path(rpath)
        result = self._call_oss("get_object", key, bucket=bucket)
        parent = os.path.dirname(os.fspath(lpath))
        if parent:  # like a local ``cp``, a missing destination folder is created
            os.makedirs(parent, exist_ok=True)
        if callback is not None:
            callback.set_size(result.content_length)
        try:
            with open(lpath, "wb") as f:
                while True:
                    chunk = result.read(2**20)
                    if not chunk:
                        break
                    f.write(chunk)
                    if callback is not None:
                        callback.relative_update(len(chunk))
        except _READ_ERRORS as err:
            with contextlib.suppress(OSError):  # the real error matters, not the cleanup's
                os.unlink(lpath)
            if not isinstance(err, _NETWORK_ERRORS):
                raise  # a local problem (permissions, disk full): the user's to fix
            raise StorageUnavailableError(f"Downloading {rpath} failed: {err}") from err
        server, client = result.server_crc, result.client_crc
        if server is not None and client is not None and server != client:
            with contextlib.suppress(OSError):
                os.unlink(lpath)
            raise StorageUnavailableError(f"Downloading {rpath} gave corrupt data (CRC-64).")

    def modified(self, path):
        info = self.info(path)
        if info["type"] != "file":
            raise IsADirectoryError(errno.EISDIR, "Directories have no modification time", path)
        return info["LastModified"]

    def ukey(self, path):
        return self.info(path).get("ETag")

    def checksum(self, path):
        info = self.info(path)
        return int(hashlib.sha256(f"{info.get('ETag')}:{info['size']}".encode()).hexdigest(), 16)

    # ------------------------------------------------------------------ writing

    def _put_bytes(self, bucket: str, key: str, data: bytes, forbid_overwrite=False) -> None:
        headers = {"x-oss-forbid-overwrite": "true"} if forbid_overwrite else None
        self._call_oss("put_object", key, bytes(data), headers=headers, bucket=bucket)

    def _multipart(self, bucket: str, key: str, chunks, forbid_overwrite=False) -> None:
        """Upload ``chunks`` (an iterable of bytes, all but the last >= 100 KB) as one object."""
        headers = {"x-oss-forbid-overwrite": "true"} if forbid_overwrite else None
        upload = MultipartUpload(self, bucket, key, headers)
        try:
            for chunk in chunks:
                upload.add(chunk)
            upload.complete()
        except BaseException:
            upload.abort()
            raise

    def pipe_file(self, path, value, mode="overwrite", **kwargs):
        norm = self._strip_protocol(path).strip("/")
        bucket, key = self.split_path(norm)
        if not key:
            raise IsADirectoryError(errno.EISDIR, "Cannot write to a bucket", norm)
        block = max(int(kwargs.get("block_size") or self._default_block_size), MIN_PART_SIZE)
        create = mode == "create"
        if len(value) < min(MAX_SINGLE_PUT, 2 * block):
            self._put_bytes(bucket, key, value, forbid_overwrite=create)
        else:
            view = memoryview(value)
            chunks = (view[i : i + block] for i in range(0, len(value), block))
            self._multipart(bucket, key, (bytes(c) for c in chunks), forbid_overwrite=create)
        self.invalidate_cache(norm)

    def put_file(self, lpath, rpath, callback=None, mode="overwrite", **kwargs):
        if os.path.isdir(lpath):
            self.makedirs(rpath, exist_ok=True)
            return
        norm = self._strip_protocol(rpath).strip("/")
        bucket, key = self.split_path(norm)
        size = os.path.getsize(lpath)
        block = max(int(kwargs.get("block_size") or self._default_block_size), MIN_PART_SIZE)
        if callback is not None:
            callback.set_size(size)
        with open(lpath, "rb") as f:
            if size < 2 * block:
                self._put_bytes(bucket, key, f.read(), forbid_overwrite=mode == "create")
                if callback is not None:
                    callback.relative_update(size)
            else:

                def chunks():
                    while chunk := f.read(block):
                        yield chunk
                        if callback is not None:
                            callback.relative_update(len(chunk))

                self._multipart(bucket, key, chunks(), forbid_overwrite=mode == "create")
        self.invalidate_cache(norm)

    def cp_file(self, path1, path2, **kwargs):
        n1 = self._strip_protocol(path1).strip("/")
        n2 = self._strip_protocol(path2).strip("/")
        b1, k1 = self.split_path(n1)
        b2, k2 = self.split_path(n2)
        info = self.info(n1)
        if info["type"] == "directory":
            self.makedirs(n2, exist_ok=True)
            return
        if info["size"] <= self.copy_limit:
            self._call_oss("copy_object", b1, k1, k2, bucket=b2)
        else:
            block = self._default_block_size
            size = info["size"]
            chunks = (self.get_object(n1, i, min(i + block, size)) for i in range(0, size, block))
            self._multipart(b2, k2, chunks)
        self.invalidate_cache(n2)

    def touch(self, path, truncate=True, **kwargs):
        if truncate or not self.exists(path):
            self.pipe_file(path, b"")
        else:
            raise NotImplementedError("OSS cannot update an object's timestamp in place")
