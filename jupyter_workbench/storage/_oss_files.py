"""Files on OSS for ``WorkbenchOSSFileSystem`` (ossfix.py): buffered reads, writes that become
visible only on close (one PUT, or a multipart upload), and ``MultipartUpload`` itself."""

from __future__ import annotations

import errno
import io
import logging

import oss2
from fsspec.spec import AbstractBufferedFile

log = logging.getLogger("jupyter_workbench.storage.ossfix")


class _DiscardingTextWrapper(io.TextIOWrapper):
    def __exit__(self, exc_type, exc, tb):
        discard = getattr(self.buffer, "discard", None)
        if exc_type is not None and discard is not None and not self.closed:
            discard()  # also marks the file closed, so nothing is flushed or committed
            return
        super().__exit__(exc_type, exc, tb)


class MultipartUpload:
    """One OSS multipart upload: parts as they come, then complete (or abort)."""

    def __init__(self, fs, bucket: str, key: str, headers=None):
        self.fs, self.bucket, self.key = fs, bucket, key
        res = fs._call_oss("init_multipart_upload", key, headers=headers, bucket=bucket)
        self.upload_id = res.upload_id
        self.headers = headers
        self.parts: list[oss2.models.PartInfo] = []

    def add(self, data: bytes) -> None:
        number = len(self.parts) + 1
        res = self.fs._call_oss(
            "upload_part", self.key, self.upload_id, number, bytes(data), bucket=self.bucket
        )
        self.parts.append(oss2.models.PartInfo(number, res.etag, size=len(data), part_crc=res.crc))

    def complete(self) -> None:
        if not self.parts:  # OSS needs at least one part
            self.add(b"")
        self.fs._call_oss(
            "complete_multipart_upload",
            self.key,
            self.upload_id,
            self.parts,
            headers=self.headers,
            bucket=self.bucket,
        )

    def abort(self) -> None:
        try:
            self.fs._call_oss(
                "abort_multipart_upload", self.key, self.upload_id, bucket=self.bucket
            )
        except Exception as err:  # noqa: BLE001 - best effort; the original error matters
            log.warning("Could not abort multipart upload %s: %s", self.upload_id, err)


class WorkbenchOSSFile(AbstractBufferedFile):
    """A file on OSS. Writes become visible only on close: one PUT for small files, a multipart
    upload (a part per block) for large ones. A failed or discarded write leaves the previous
    object untouched. ``ab`` rewrites the object with the new bytes appended."""

    def __init__(self, fs, path, mode="rb", block_size="default", autocommit=True, **kwargs):
        super().__init__(fs, path, mode, block_size, autocommit, **kwargs)
        self._upload: MultipartUpload | None = None
        self._failed = False
        self._pending: bytes | None = None
        bucket, key = fs.split_path(path)
        self._bucket, self._key = bucket, key
        try:
            if mode != "rb" and not key:
                raise IsADirectoryError(errno.EISDIR, "Cannot write to a bucket", path)
            if mode == "rb" and self.details.get("type") == "directory":
                raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
            if mode == "xb" and fs.exists(path):
                raise FileExistsError(errno.EEXIST, "File exists", path)
            if mode == "ab":
                try:
                    existing = fs.cat_file(path)
                except FileNotFoundError:
                    existing = b""
                self.buffer = io.BytesIO()
                self.buffer.write(existing)
                self.loc = len(existing)
        except BaseException:
            self._failed = True
            self.closed = True  # so that __del__ does not try to write anything
            raise

    def _initiate_upload(self):
        pass  # the upload starts with the first full block

    def _fetch_range(self, start: int, end: int) -> bytes:
        start = max(start, 0)
        end = min(self.size, end)
        if start >= end:
            return b""
        return self.fs.get_object(self.path, start, end)

    def _upload_chunk(self, final=False):
        if self._failed:
            raise OSError(errno.EIO, "An earlier write to this file failed", self.path)
        data = self.buffer.getvalue()
        forbid = self.mode == "xb"
        try:
            if self._upload is None and final:
                if self.autocommit:
                    self.fs._put_bytes(self._bucket, self._key, data, forbid_overwrite=forbid)
                else:
                    self._pending = data
                return True
            if self._upload is None:
                self._upload = MultipartUpload(
                    self.fs,
                    self._bucket,
                    self._key,
                    {"x-oss-forbid-overwrite": "true"} if forbid else None,
                )
            if data:
                self._upload.add(data)
            if final and self.autocommit:
                self._upload.complete()
                self._upload = None
        except BaseException:
            self._failed = True
            if self._upload is not None:
                self._upload.abort()
                self._upload = None
            raise
        return True

    def commit(self):
        if self._failed:
            raise OSError(errno.EIO, "Cannot commit a failed write", self.path)
        if self._pending is not None:
            self.fs._put_bytes(self._bucket, self._key, self._pending)
            self._pending = None
        elif self._upload is not None:
            self._upload.complete()
            self._upload = None
        self.fs.invalidate_cache(self.path)

    def discard(self):
        """Drop what was written: abort the upload; the stored object stays as it was."""
        if self.mode == "rb":
            return
        self._failed = True
        self._pending = None
        self.closed = True
        if self._upload is not None:
            self._upload.abort()
            self._upload = None

    def close(self):
        if self.closed:
            return
        if self.mode != "rb" and self._failed:
            self.closed = True
            return
        super().close()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and self.mode != "rb" and not self.closed:
            self.discard()
            return
        self.close()
