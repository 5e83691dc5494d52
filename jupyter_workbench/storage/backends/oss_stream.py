"""Streaming uploads to OSS: a file written front to back goes up as a multipart upload while
it is written (the FUSE layer's write-back cache asks ``OSSBackend.streaming_writer`` for one)."""

from __future__ import annotations

import collections
import logging
import threading

log = logging.getLogger("jupyter_workbench.storage.fuse")

STREAM_BUFFER = 32 * 2**20  # bytes queued for a streaming upload before writes wait


class StreamingUpload:
    """Uploads a file to OSS while it is written front to back (multipart, one part per
    block), so that ``close()`` only waits for the last part.

    The local copy stays the reference: if the file is then written anywhere but at its end,
    or the upload fails, the stream is abandoned (the multipart upload aborted, nothing
    visible in the store) and the whole local copy is uploaded at close as usual.
    """

    def __init__(self, inner, full_path: str, block: int, max_buffer: int = STREAM_BUFFER):
        from .._oss_calls import MIN_PART_SIZE
        from .._oss_files import MultipartUpload

        self._multipart = MultipartUpload
        self.inner = inner
        self.full_path = full_path
        self.bucket, self.key = inner.split_path(inner._strip_protocol(full_path).strip("/"))
        self.block = max(int(block), MIN_PART_SIZE)
        self.max_buffer = max(int(max_buffer), self.block)
        self.offset = 0  # bytes accepted so far: the file's prefix [0, offset)
        self.error: BaseException | None = None
        self._cv = threading.Condition()
        self._chunks: collections.deque = collections.deque()
        self._queued = 0
        self._state = "open"  # open -> finishing | abandoned
        self._upload = None
        self._buf: collections.deque = collections.deque()  # chunks not yet in a part
        self._buffered = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name="fuse-stream")
        self._thread.start()

    def feed(self, data: bytes) -> bool:
        """Queue ``data`` (the bytes at ``offset``); False if the stream has failed."""
        with self._cv:
            while self._queued > self.max_buffer and self.error is None:
                self._cv.wait()
            if self.error is not None or self._state != "open":
                return False
            self._chunks.append(data)
            self._queued += len(data)
            self.offset += len(data)
            self._cv.notify_all()
        return True

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._chunks and self._state == "open":
                    self._cv.wait()
                if self._state == "abandoned":
                    break
                if not self._chunks:  # finishing and drained
                    return
                chunk = self._chunks.popleft()
                self._queued -= len(chunk)
                self._cv.notify_all()
            if self.error is not None:
                continue
            self._buf.append(chunk)
            self._buffered += len(chunk)
            try:
                # Keep the last full block back: the final part may be of any size but
                # must exist, and a single small file is cheaper as one PUT.
                while self._buffered >= 2 * self.block:
                    if self._upload is None:
                        self._upload = self._multipart(self.inner, self.bucket, self.key)
                    self._upload.add(self._take(self.block))
            except BaseException as exc:  # noqa: BLE001 - reported by finish()
                with self._cv:
                    self.error = exc
                    self._cv.notify_all()
        self._abort()

    def _take(self, n: int) -> bytes:
        """The first ``n`` buffered bytes (all of them if fewer), removed from the buffer."""
        parts, size = [], 0
        while self._buf and size < n:
            chunk = self._buf.popleft()
            if size + len(chunk) > n:
                keep = n - size
                self._buf.appendleft(chunk[keep:])
                chunk = chunk[:keep]
            parts.append(chunk)
            size += len(chunk)
        self._buffered -= size
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _abort(self) -> None:
        upload, self._upload = self._upload, None
        if upload is not None:
            upload.abort()
        self._buf.clear()
        self._buffered = 0

    def finish(self) -> bool:
        """Complete the upload; False if the caller must upload the local copy instead
        (nothing uploaded yet, or the stream failed; a failed upload has been aborted)."""
        with self._cv:
            self._state = "finishing"
            self._cv.notify_all()
        self._thread.join()
        try:
            if self.error is not None or self._upload is None:
                if self.error is not None:
                    log.info(
                        "Streaming upload of %s failed (%s); uploading again", self.key, self.error
                    )
                return False
            if self._buffered:
                self._upload.add(self._take(self._buffered))
            self._upload.complete()
            self._upload = None
            self.inner.invalidate_cache(self.full_path)
            return True
        except Exception as exc:  # noqa: BLE001
            log.info("Completing the upload of %s failed (%s); uploading again", self.key, exc)
            return False
        finally:
            self._abort()

    def abandon(self) -> None:
        """Stop streaming; the multipart upload is aborted in the background."""
        with self._cv:
            if self._state == "open":
                self._state = "abandoned"
                self._chunks.clear()
                self._queued = 0
            self._cv.notify_all()
