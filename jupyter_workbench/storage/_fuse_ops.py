"""The FUSE filesystem behind ``storage.fuse``: an fsspec filesystem served through mfusepy.

This module imports ``mfusepy`` (and so loads libfuse); only the FUSE process imports it. See
fuse.py for the public API and the process model.

Semantics (what makes it data-safe, unlike ``fsspec.fuse``):

- Every file opened for writing is backed by a local temporary file (a write-back cache),
  shared by all handles open on that path, so append, overwrite, ``r+`` seek and write,
  ``truncate``/``ftruncate`` and reading back what was written behave as on a local disk.
  Opening an existing file without ``O_TRUNC`` first downloads it.
- The temporary file is uploaded when a handle is flushed (every ``close()``) or fsynced, if
  it changed. The upload happens inside ``close()``: when ``close()`` returns, the data is in
  the store; when the upload fails, ``close()`` fails with EIO and the error is logged. A file
  whose data could not be stored by its last release is kept under ``<cache root>/unsaved``.
- Reads of files not open for writing stream from the store with range requests: a window
  that starts at 256 KiB and grows while reading sequentially, with the next window
  prefetched in the background; a few bytes of a large file cost one small range request.
- Directory listings come from ``storage.list_page`` (one ListObjects per 1,000 entries on
  OSS/S3, ``ls`` elsewhere) and fill a short-lived attribute cache, so ``ls -l`` and
  ``os.scandir`` make no HEAD per entry.
- rename: files are renamed natively on local filesystems and by copy + delete on object
  stores; directories on object stores are copied object by object and then deleted when
  they hold at most ``max_dir_rename`` entries and no file below them is open for writing,
  otherwise rename fails with EXDEV ("Invalid cross-device link"), which ``mv`` and
  ``shutil.move`` handle by copying.
- A read-only mount refuses every change with EROFS.
"""

from __future__ import annotations

import collections
import concurrent.futures
import errno
import functools
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
import time
from datetime import datetime

import mfusepy
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem

from .errors import (
    PathNotAllowedError,
    ReadOnlyMountError,
    StorageCredentialsError,
    StorageUnavailableError,
)

log = logging.getLogger("jupyter_workbench.storage.fuse")

MIN_WINDOW = 256 * 1024
MAX_WINDOW = 16 * 2**20
PREFETCH_FROM = 2 * 2**20  # prefetch once sequential windows reach this size
MAX_SEGMENTS = 3
STREAM_BUFFER = 32 * 2**20  # bytes queued for a streaming upload before writes wait
MAX_PENDING = 2
OPEN_MAX_AGE = 1.0  # attributes older than this are looked up again when a file is opened
MAX_LIST_ENTRIES = 1_000_000
LIST_PAGE = 1000

_FuseOSError = mfusepy.FuseOSError


# ----------------------------------------------------------------------------- errors


def _errno_for(exc: BaseException) -> int:
    if isinstance(exc, ReadOnlyMountError):
        return errno.EROFS
    if isinstance(exc, StorageCredentialsError):
        return errno.EACCES
    if isinstance(exc, StorageUnavailableError):
        return errno.EIO
    if isinstance(exc, PathNotAllowedError):
        return errno.EINVAL
    if isinstance(exc, OSError) and isinstance(exc.errno, int) and exc.errno > 0:
        return exc.errno
    if isinstance(exc, FileNotFoundError):
        return errno.ENOENT
    if isinstance(exc, FileExistsError):
        return errno.EEXIST
    if isinstance(exc, IsADirectoryError):
        return errno.EISDIR
    if isinstance(exc, NotADirectoryError):
        return errno.ENOTDIR
    if isinstance(exc, PermissionError):
        return errno.EACCES
    if isinstance(exc, NotImplementedError):
        return errno.ENOTSUP
    if isinstance(exc, ValueError):
        return errno.EINVAL
    return errno.EIO


_QUIET = {errno.ENOENT, errno.EEXIST, errno.ENOTEMPTY, errno.EXDEV, errno.EROFS, errno.EISDIR}


def _op(method):
    """Turn any exception into a FuseOSError with a sensible errno (and log real failures)."""

    @functools.wraps(method)
    def wrapper(self, *args):
        try:
            return method(self, *args)
        except _FuseOSError:
            raise
        except BaseException as exc:  # noqa: BLE001 - a FUSE callback must answer an errno
            if not isinstance(exc, Exception):
                raise
            code = _errno_for(exc)
            if code not in _QUIET:
                log.warning("%s %s failed: %s", method.__name__, args[:1], exc)
            raise _FuseOSError(code) from None

    return wrapper


def _err(code: int):
    return _FuseOSError(code)


# ----------------------------------------------------------------------------- helpers


def _mtime_ns(info: dict, default: int) -> int:
    for key in ("mtime", "LastModified", "last_modified", "modified", "updated", "created"):
        value = info.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, datetime):
            return int(value.timestamp() * 1e9)
        if isinstance(value, (int, float)):
            return int(float(value) * 1e9)
        if isinstance(value, str):
            try:
                return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1e9)
            except ValueError:
                continue
    return default


def _split(rel: str) -> tuple[str, str]:
    parent, _, name = rel.rpartition("/")
    return parent, name


def _under(path: str, directory: str) -> bool:
    return not directory or path == directory or path.startswith(directory + "/")


class _StreamingUpload:
    """Uploads a file to OSS while it is written front to back (multipart, one part per
    block), so that ``close()`` only waits for the last part.

    The local copy stays the reference: if the file is then written anywhere but at its end,
    or the upload fails, the stream is abandoned (the multipart upload aborted, nothing
    visible in the store) and the whole local copy is uploaded at close as usual.
    """

    def __init__(self, inner, full_path: str, block: int, max_buffer: int = STREAM_BUFFER):
        from .ossfix import MIN_PART_SIZE, MultipartUpload

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


class _DirtyFile:
    """The local copy of a file open for writing, shared by every handle on its path."""

    def __init__(self, rel: str, tmp_path: str, fd: int):
        self.rel = rel
        self.tmp_path = tmp_path
        self.fd = fd
        self.refs = 0
        self.lock = threading.RLock()
        self.ready = threading.Event()  # set once downloaded (or created empty)
        self.load_error: BaseException | None = None
        self.dirty = False
        self.unlinked = False
        self.in_store = True  # whether the path exists in the store (rm needed on unlink)
        self.failed: BaseException | None = None  # the last upload's error
        self.mtime_ns = time.time_ns()
        self.stream_factory = None  # set when the file may be streamed (empty, object store)
        self.stream: _StreamingUpload | None = None

    @property
    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def _stop_stream(self) -> None:
        self.stream_factory = None
        if self.stream is not None:
            self.stream.abandon()
            self.stream = None

    def write(self, data: bytes, offset: int) -> int:
        with self.lock:
            n = os.pwrite(self.fd, data, offset)
            self.dirty = True
            self.mtime_ns = time.time_ns()
            if self.stream is None and self.stream_factory is not None and offset == 0:
                self.stream = self.stream_factory(self.rel)
                self.stream_factory = None
            if self.stream is not None:
                if offset != self.stream.offset or n != len(data) or not self.stream.feed(data):
                    self._stop_stream()
            elif offset != 0:
                self.stream_factory = None  # not written front to back
            return n

    def append(self, data: bytes) -> int:
        with self.lock:
            return self.write(data, self.size)

    def read(self, size: int, offset: int) -> bytes:
        return os.pread(self.fd, size, offset)

    def truncate(self, length: int) -> None:
        with self.lock:
            if length != self.size:
                self._stop_stream()
            os.ftruncate(self.fd, length)
            self.dirty = True
            self.mtime_ns = time.time_ns()

    def close(self) -> None:
        self._stop_stream()
        try:
            os.close(self.fd)
        except OSError:
            pass
        try:
            os.unlink(self.tmp_path)
        except OSError:
            pass


class _Handle:
    __slots__ = ("append", "dirty_file", "reader", "rel", "writable")

    def __init__(self, rel, *, dirty_file=None, reader=None, writable=False, append=False):
        self.rel = rel
        self.dirty_file = dirty_file
        self.reader = reader
        self.writable = writable
        self.append = append


class _StreamReader:
    """Range reads of one object with a growing window and one window of prefetch."""

    def __init__(self, fs, rel: str, size: int, pool: concurrent.futures.Executor):
        self.fs = fs
        self.rel = rel
        self.size = size
        self.pool = pool
        self.lock = threading.Lock()
        self.segments: list[tuple[int, bytes]] = []  # (start, data), most recent last
        self.pending: dict[int, tuple[int, concurrent.futures.Future]] = {}
        self.window = MIN_WINDOW
        self.last_end: int | None = None
        self.closed = False

    def _fetch(self, start: int, end: int) -> bytes:
        return self.fs.cat_file(self.rel, start=start, end=end)

    def _find(self, pos: int):
        for start, data in reversed(self.segments):
            if start <= pos < start + len(data):
                return start, data
        return None

    def _find_pending(self, pos: int):
        for start, (end, fut) in self.pending.items():
            if start <= pos < end:
                return start, end, fut
        return None

    def _keep(self, start: int, data: bytes) -> None:
        self.segments = [s for s in self.segments if s[0] != start]
        self.segments.append((start, data))
        if len(self.segments) > MAX_SEGMENTS:
            self.segments = self.segments[-MAX_SEGMENTS:]

    def _prefetch(self, start: int) -> None:
        """Fetch [start, start + window) in the background if nothing covers it yet."""
        if self.closed or start >= self.size or self.window < PREFETCH_FROM:
            return
        if len(self.pending) >= MAX_PENDING:
            return
        if self._find(start) is not None or self._find_pending(start) is not None:
            return
        self.window = min(self.window * 2, MAX_WINDOW)
        end = min(self.size, start + self.window)
        fut = self.pool.submit(self._fetch, start, end)
        self.pending[start] = (end, fut)

    def _piece(self, pos: int, end: int) -> bytes:
        mine = None
        with self.lock:
            hit = self._find(pos)
            if hit is not None:
                start, data = hit
                seg_end = start + len(data)
                if end > seg_end - self.window // 2:
                    self._prefetch(seg_end)  # only while reading sequentially (window large)
                return data[pos - start : min(end, seg_end) - start]
            waiting = self._find_pending(pos)
            if waiting is None:
                near = self.last_end is not None and abs(pos - self.last_end) <= self.window
                self.window = min(self.window * 4, MAX_WINDOW) if near else MIN_WINDOW
                fstart, fend = pos, min(self.size, max(end, pos + self.window))
                mine = concurrent.futures.Future()
                self.pending[fstart] = (fend, mine)
                waiting = (fstart, fend, mine)
        fstart, fend, fut = waiting
        if mine is not None:
            try:
                mine.set_result(self._fetch(fstart, fend))
            except BaseException as exc:  # noqa: BLE001 - handed to every waiter
                mine.set_exception(exc)
        try:
            data = fut.result()
        finally:
            with self.lock:
                if self.pending.get(fstart, (None, None))[1] is fut:
                    del self.pending[fstart]
                    if fut.done() and fut.exception() is None:
                        self._keep(fstart, fut.result())
        with self.lock:
            if mine is not None and self.window >= PREFETCH_FROM:
                self._prefetch(fstart + len(data))
        if pos - fstart >= len(data):
            return b""
        return data[pos - fstart : min(end, fstart + len(data)) - fstart]

    def read(self, size: int, offset: int) -> bytes:
        if offset >= self.size or size <= 0:
            return b""
        end = min(offset + size, self.size)
        pieces, pos = [], offset
        while pos < end:
            piece = self._piece(pos, end)
            if not piece:
                break  # the object is shorter than it was when opened
            pieces.append(piece)
            pos += len(piece)
        with self.lock:
            self.last_end = pos
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            for _end, fut in self.pending.values():
                fut.cancel()
            self.pending.clear()
            self.segments.clear()


# ----------------------------------------------------------------------------- operations


class WorkbenchFuseOperations(mfusepy.Operations):
    """FUSE operations over an fsspec filesystem whose paths are relative to the mount."""

    use_ns = True

    def __init__(
        self,
        fs,
        *,
        read_only: bool = False,
        cache_dir: str | None = None,
        unsaved_dir: str | None = None,
        attr_ttl: float = 2.0,
        max_dir_rename: int = 1000,
        on_ready=None,
    ):
        super().__init__()
        self.fs = fs
        self.read_only = bool(read_only or getattr(fs, "read_only", False))
        self.cache_dir = cache_dir or tempfile.mkdtemp(prefix="jw-fuse-cache-")
        os.makedirs(self.cache_dir, mode=0o700, exist_ok=True)
        self.unsaved_dir = unsaved_dir or os.path.join(self.cache_dir, "unsaved")
        self.attr_ttl = float(attr_ttl)
        self.negative_ttl = min(self.attr_ttl, 1.0)
        self.max_dir_rename = int(max_dir_rename)
        self.on_ready = on_ready
        inner = fs.fs if isinstance(fs, DirFileSystem) else fs
        self._local_root = (
            fs._join("")
            if isinstance(fs, DirFileSystem) and isinstance(inner, LocalFileSystem)
            else None
        )
        self._stream_factory = None
        if getattr(inner, "protocol", None) == "oss" and hasattr(inner, "_call_oss"):
            block = getattr(inner, "_default_block_size", 8 * 2**20)
            join = fs._join if isinstance(fs, DirFileSystem) else (lambda rel: rel)

            def stream_factory(rel):
                return _StreamingUpload(inner, join(rel), block)

            self._stream_factory = stream_factory
        self.uid, self.gid = os.getuid(), os.getgid()
        self.started_ns = time.time_ns()
        self._meta = threading.Lock()
        self._attrs: dict[str, tuple[float, dict | None]] = {}  # rel -> (when, stat or None)
        self._listed: dict[str, tuple[float, set]] = {}  # directory -> (when, names)
        self._files: dict[str, _DirtyFile] = {}  # rel -> open-for-write local copy
        self._files_lock = threading.Lock()
        self._handles: dict[int, _Handle] = {}
        self._next_fh = 1
        self._uploading: dict[str, int] = {}
        self._idle = threading.Condition(threading.Lock())
        self._failed: dict[str, str] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="fuse-prefetch")

    # ------------------------------------------------------------------ bookkeeping

    @staticmethod
    def _rel(path: str | None) -> str:
        return (path or "").strip("/")

    def _stat(self, kind: str, size: int = 0, mtime_ns: int | None = None) -> dict:
        t = self.started_ns if mtime_ns is None else mtime_ns
        if kind == "directory":
            mode = stat.S_IFDIR | (0o555 if self.read_only else 0o755)
            nlink, size = 2, 0
        else:
            mode = stat.S_IFREG | (0o444 if self.read_only else 0o644)
            nlink = 1
        return {
            "st_mode": mode,
            "st_nlink": nlink,
            "st_size": int(size),
            "st_uid": self.uid,
            "st_gid": self.gid,
            "st_mtime": t,
            "st_ctime": t,
            "st_atime": t,
            "st_blksize": 1 << 20,
            "st_blocks": (int(size) + 511) // 512,
        }

    def _from_info(self, info: dict) -> dict:
        kind = "directory" if info.get("type") == "directory" else "file"
        return self._stat(kind, info.get("size") or 0, _mtime_ns(info, self.started_ns))

    def _remember(self, rel: str, st: dict) -> None:
        with self._meta:
            self._attrs[rel] = (time.monotonic(), st)
            parent, name = _split(rel)
            listed = self._listed.get(parent)
            if listed is not None:
                listed[1].add(name)

    def _forget(self, rel: str, *, tree: bool = False, exists: bool = False) -> None:
        """Drop cached attributes of ``rel`` (and below with ``tree``); its directory's
        cached listing gains (``exists``) or loses its name."""
        with self._meta:
            self._attrs.pop(rel, None)
            parent, name = _split(rel)
            listed = self._listed.get(parent)
            if listed is not None:
                if exists:
                    listed[1].add(name)
                else:
                    listed[1].discard(name)
            if tree:
                for key in [k for k in self._attrs if _under(k, rel)]:
                    del self._attrs[key]
                for key in [k for k in self._listed if _under(k, rel)]:
                    del self._listed[key]

    def _cached(self, rel: str, max_age: float):
        """The cached attributes of ``rel`` if younger than ``max_age``, else None; raises
        ENOENT when a fresh listing of its directory does not have it."""
        now = time.monotonic()
        with self._meta:
            hit = self._attrs.get(rel)
            if hit is not None and hit[1] is None:  # recently found missing
                if now - hit[0] < min(max_age, self.negative_ttl):
                    raise _err(errno.ENOENT)
            elif hit is not None and now - hit[0] < max_age:
                return hit[1]
            parent, name = _split(rel)
            listed = self._listed.get(parent)
            if (
                listed is not None
                and now - listed[0] < min(max_age, self.negative_ttl)
                and name not in listed[1]
            ):
                raise _err(errno.ENOENT)
        return None

    def _check_writable(self) -> None:
        if self.read_only:
            raise _err(errno.EROFS)

    def _lookup(self, rel: str, max_age: float | None = None) -> dict:
        """Attributes of ``rel``: of its open local copy, cached, or from one ``info``."""
        if not rel:
            return self._stat("directory")
        with self._files_lock:
            dirty = self._files.get(rel)
        if dirty is not None and dirty.ready.is_set() and dirty.load_error is None:
            return self._stat("file", dirty.size, dirty.mtime_ns)
        st = self._cached(rel, self.attr_ttl if max_age is None else max_age)
        if st is not None:
            return st
        try:
            info = self.fs.info(rel, refresh=True)
        except (FileNotFoundError, NotADirectoryError):
            with self._meta:
                self._attrs[rel] = (time.monotonic(), None)
            raise _err(errno.ENOENT) from None
        st = self._from_info(info)
        self._remember(rel, st)
        return st

    def _is_dir(self, st: dict) -> bool:
        return stat.S_ISDIR(st["st_mode"])

    def _exists(self, rel: str):
        try:
            return self._lookup(rel)
        except _FuseOSError as e:
            if e.errno == errno.ENOENT:
                return None
            raise
        except FileNotFoundError:
            return None

    def _add_handle(self, handle: _Handle) -> int:
        with self._meta:
            fh = self._next_fh
            self._next_fh += 1
            self._handles[fh] = handle
        return fh

    # ------------------------------------------------------------------ write-back files

    def _open_dirty(self, rel: str, *, truncate: bool, new: bool) -> _DirtyFile:
        """The shared local copy of ``rel`` with one more reference (downloaded if needed)."""
        with self._files_lock:
            dirty = self._files.get(rel)
            created = dirty is None
            if created:
                label = re.sub(r"[^A-Za-z0-9._-]", "_", rel.replace("/", "__"))[-80:]
                fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix=f"w-{label}-")
                dirty = _DirtyFile(rel, tmp, fd)
                self._files[rel] = dirty
            dirty.refs += 1
        if created:
            try:
                if new or truncate:
                    dirty.in_store = not new
                    dirty.dirty = True
                    dirty.stream_factory = self._stream_factory
                else:
                    self._download(rel, dirty)
            except BaseException as exc:
                dirty.load_error = exc
                with self._files_lock:
                    if self._files.get(rel) is dirty:
                        del self._files[rel]
                    dirty.refs -= 1
                dirty.ready.set()
                dirty.close()
                raise
            dirty.ready.set()
        else:
            dirty.ready.wait()
            if dirty.load_error is not None:
                with self._files_lock:
                    dirty.refs -= 1
                raise dirty.load_error
            if truncate:
                dirty.truncate(0)
        return dirty

    def _download(self, rel: str, dirty: _DirtyFile) -> None:
        if self._is_dir(self._lookup(rel)):
            raise _err(errno.EISDIR)
        self.fs.get_file(rel, dirty.tmp_path)  # never skipped on a cached size: it may be old
        # get_file wrote through its own descriptor; ours sees the same inode unless the
        # implementation replaced the file, in which case reopen it.
        if os.fstat(dirty.fd).st_ino != os.stat(dirty.tmp_path).st_ino:
            os.close(dirty.fd)
            dirty.fd = os.open(dirty.tmp_path, os.O_RDWR)

    def _upload(self, dirty: _DirtyFile) -> None:
        """Store the local copy if it changed; raise on failure (the caller answers EIO)."""
        with dirty.lock:
            if not dirty.dirty or dirty.unlinked:
                return
            rel = dirty.rel
            with self._idle:
                self._uploading[rel] = self._uploading.get(rel, 0) + 1
            try:
                stream, dirty.stream, dirty.stream_factory = dirty.stream, None, None
                if stream is not None and stream.offset == dirty.size and stream.finish():
                    pass  # streamed while written
                else:
                    if stream is not None:
                        stream.abandon()
                    self.fs.put_file(dirty.tmp_path, rel)
            except BaseException as exc:
                dirty.failed = exc
                with self._meta:
                    self._failed[rel] = str(exc)[:300]
                raise
            finally:
                with self._idle:
                    n = self._uploading.get(rel, 1) - 1
                    if n:
                        self._uploading[rel] = n
                    else:
                        self._uploading.pop(rel, None)
                    self._idle.notify_all()
            dirty.dirty = False
            dirty.failed = None
            dirty.in_store = True
            with self._meta:
                self._failed.pop(rel, None)
            self._remember(rel, self._stat("file", dirty.size, dirty.mtime_ns))

    def _release_dirty(self, dirty: _DirtyFile) -> None:
        with self._files_lock:
            dirty.refs -= 1
            if dirty.refs > 0:
                return
            if self._files.get(dirty.rel) is dirty:
                del self._files[dirty.rel]
        try:
            if dirty.dirty and not dirty.unlinked:
                try:
                    self._upload(dirty)
                except Exception as exc:  # noqa: BLE001 - keep the data, say where
                    self._save_unsaved(dirty, exc)
                    return
        finally:
            dirty.close()

    def _save_unsaved(self, dirty: _DirtyFile, exc: BaseException) -> None:
        os.makedirs(self.unsaved_dir, mode=0o700, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = os.path.join(
            self.unsaved_dir, f"{stamp}-{os.getpid()}-{dirty.rel.replace('/', '__')}"
        )
        try:
            shutil.copyfile(dirty.tmp_path, target)
        except OSError as copy_error:
            log.error("Could not store %s (%s) nor keep a copy: %s", dirty.rel, exc, copy_error)
            return
        log.error("Could not store %s: %s. Its data is kept in %s", dirty.rel, exc, target)

    # ------------------------------------------------------------------ status

    def status(self) -> dict:
        with self._files_lock:
            open_files = sorted(f.rel for f in self._files.values())
            dirty = sorted(f.rel for f in self._files.values() if f.dirty and not f.unlinked)
        with self._idle:
            uploading = sorted(self._uploading)
        with self._meta:
            failed = dict(self._failed)
        return {
            "open_for_write": open_files,
            "unsaved_changes": dirty,
            "uploading": uploading,
            "failed": failed,
        }

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no upload is in progress; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._uploading:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    # ------------------------------------------------------------------ lifecycle

    def init_with_config(self, conn_info, config_3) -> None:
        if config_3 is not None:
            # Attributes change behind our back (other writers): keep kernel caching short.
            config_3.attr_timeout = 1.0
            config_3.entry_timeout = 1.0
            config_3.negative_timeout = 0.0
        if self.on_ready is not None:
            self.on_ready()

    def destroy(self, path) -> None:
        with self._files_lock:
            remaining = list(self._files.values())
            self._files.clear()
        for dirty in remaining:
            if dirty.dirty and not dirty.unlinked:
                try:
                    self._upload(dirty)
                except Exception as exc:  # noqa: BLE001
                    self._save_unsaved(dirty, exc)
            dirty.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ metadata

    @_op
    def getattr(self, path, fh=None):
        if fh is not None:
            handle = self._handles.get(fh)
            if handle is not None and handle.dirty_file is not None:
                d = handle.dirty_file
                return self._stat("file", d.size, d.mtime_ns)
        return self._lookup(self._rel(path))

    @_op
    def access(self, path, amode):
        self._lookup(self._rel(path))
        if amode & os.W_OK and self.read_only:
            raise _err(errno.EROFS)
        return 0

    @_op
    def opendir(self, path):
        st = self._lookup(self._rel(path))
        if not self._is_dir(st):
            raise _err(errno.ENOTDIR)
        return 0

    @_op
    def readdir(self, path, fh):
        from .listing import list_page

        rel = self._rel(path)
        names: dict[str, dict] = {}
        marker, total = None, 0
        while True:
            entries, marker = list_page(self.fs, rel, LIST_PAGE, marker)
            for e in entries:
                name = e["name"]
                if not name or "/" in name or name in names and e["type"] == "directory":
                    continue  # a key and a prefix of one name: the file wins, as in info()
                mtime = e.get("last_modified")
                st = self._stat(
                    e["type"],
                    e.get("size") or 0,
                    int(mtime.timestamp() * 1e9) if mtime is not None else None,
                )
                names[name] = st
            total += len(entries)
            if marker is None or total >= MAX_LIST_ENTRIES:
                if marker is not None:
                    log.warning("Listing of %r stopped after %d entries", rel, total)
                break
        with self._files_lock:
            for dirty in self._files.values():
                parent, name = _split(dirty.rel)
                if parent == rel and name not in names and dirty.ready.is_set():
                    names[name] = self._stat("file", dirty.size, dirty.mtime_ns)
        now = time.monotonic()
        with self._meta:
            for name, st in names.items():
                self._attrs[f"{rel}/{name}" if rel else name] = (now, st)
            self._listed[rel] = (now, set(names))
        return [".", ".."] + [(n, {"st_mode": st["st_mode"]}, 0) for n, st in names.items()]

    def releasedir(self, path, fh):
        return 0

    @_op
    def statfs(self, path):
        try:
            local = os.statvfs(self.cache_dir)
            free = local.f_bavail * local.f_frsize
        except OSError:
            free = 1 << 40
        bsize = 4096
        return {
            "f_bsize": 1 << 20,
            "f_frsize": bsize,
            "f_blocks": max(free // bsize * 2, 1 << 28),
            "f_bfree": free // bsize,
            "f_bavail": free // bsize,
            "f_files": 1 << 30,
            "f_ffree": 1 << 30,
            "f_favail": 1 << 30,
            "f_namemax": 255,
        }

    @_op
    def chmod(self, path, mode):
        self._lookup(self._rel(path))
        self._check_writable()
        return 0  # object stores have no permission bits; accepted so that cp -p works

    @_op
    def chown(self, path, uid, gid):
        self._lookup(self._rel(path))
        self._check_writable()
        return 0

    @_op
    def utimens(self, path, times=None):
        rel = self._rel(path)
        self._lookup(rel)
        self._check_writable()
        with self._files_lock:
            dirty = self._files.get(rel)
        if dirty is not None and times is not None:
            dirty.mtime_ns = int(times[1])
        return 0  # stores set modification times themselves (touch of a new file works)

    # ------------------------------------------------------------------ files

    @_op
    def create(self, path, mode, flags=0):
        self._check_writable()
        rel = self._rel(path)
        dirty = self._open_dirty(rel, truncate=True, new=self._exists(rel) is None)
        self._remember(rel, self._stat("file", 0, dirty.mtime_ns))
        return self._add_handle(
            _Handle(rel, dirty_file=dirty, writable=True, append=bool(flags & os.O_APPEND))
        )

    @_op
    def open(self, path, flags):
        rel = self._rel(path)
        accmode = flags & os.O_ACCMODE
        writing = accmode != os.O_RDONLY or bool(flags & os.O_TRUNC)
        if writing:
            self._check_writable()
        st = self._lookup(rel, max_age=OPEN_MAX_AGE)  # close-to-open, as NFS
        if self._is_dir(st):
            raise _err(errno.EISDIR)
        if writing:
            dirty = self._open_dirty(rel, truncate=bool(flags & os.O_TRUNC), new=False)
            return self._add_handle(
                _Handle(
                    rel,
                    dirty_file=dirty,
                    writable=accmode != os.O_RDONLY,
                    append=bool(flags & os.O_APPEND),
                )
            )
        with self._files_lock:
            dirty = self._files.get(rel)
            if dirty is not None:
                dirty.refs += 1
        if dirty is not None:
            dirty.ready.wait()
            if dirty.load_error is None:
                return self._add_handle(_Handle(rel, dirty_file=dirty))
            with self._files_lock:
                dirty.refs -= 1
        reader = _StreamReader(self.fs, rel, st["st_size"], self._pool)
        return self._add_handle(_Handle(rel, reader=reader))

    def _handle(self, fh) -> _Handle:
        handle = self._handles.get(fh)
        if handle is None:
            raise _err(errno.EBADF)
        return handle

    @_op
    def read(self, path, size, offset, fh):
        handle = self._handle(fh)
        if handle.dirty_file is not None:
            return handle.dirty_file.read(size, offset)
        return handle.reader.read(size, offset)

    @_op
    def write(self, path, data, offset, fh):
        handle = self._handle(fh)
        if not handle.writable or handle.dirty_file is None:
            raise _err(errno.EBADF)
        if handle.append:
            return handle.dirty_file.append(data)
        return handle.dirty_file.write(data, offset)

    @_op
    def truncate(self, path, length, fh=None):
        self._check_writable()
        handle = self._handles.get(fh) if fh is not None else None
        if handle is not None and handle.dirty_file is not None:
            handle.dirty_file.truncate(length)
            return 0
        rel = self._rel(path)
        st = self._lookup(rel)
        if self._is_dir(st):
            raise _err(errno.EISDIR)
        dirty = self._open_dirty(rel, truncate=length == 0, new=False)
        try:
            dirty.truncate(length)
            with self._files_lock:
                shared = dirty.refs > 1
            if not shared:  # nobody has it open: store the change now
                self._upload(dirty)
        finally:
            self._release_dirty(dirty)
        return 0

    def _store(self, fh) -> int:
        handle = self._handle(fh)
        dirty = handle.dirty_file
        if dirty is None or not handle.writable:
            return 0  # a reader's close does not store a writer's unfinished data
        try:
            self._upload(dirty)
        except Exception as exc:  # noqa: BLE001 - close() must fail, not lose data quietly
            log.error("Could not store %s: %s", dirty.rel, exc)
            raise _err(errno.EIO) from None
        return 0

    @_op
    def flush(self, path, fh):
        return self._store(fh)

    @_op
    def fsync(self, path, datasync, fh):
        return self._store(fh)

    @_op
    def release(self, path, fh):
        with self._meta:
            handle = self._handles.pop(fh, None)
        if handle is None:
            return 0
        if handle.reader is not None:
            handle.reader.close()
        if handle.dirty_file is not None:
            self._release_dirty(handle.dirty_file)
        return 0

    @_op
    def unlink(self, path):
        self._check_writable()
        rel = self._rel(path)
        with self._files_lock:
            dirty = self._files.pop(rel, None)
        in_store = True
        if dirty is not None:
            with dirty.lock:
                dirty.unlinked = True
                in_store = dirty.in_store
        if in_store:
            try:
                self.fs.rm_file(rel)
            except FileNotFoundError:
                if dirty is None:
                    raise
        self._forget(rel)
        self._keep_directory(_split(rel)[0])
        return 0

    def _keep_directory(self, rel: str) -> None:
        """On object stores a directory is only a key prefix and vanishes with its last
        object; after removing one, make sure an emptied directory stays (a marker object,
        as ``mkdir`` writes), as it would on a disk."""
        if not rel or self._local_root is not None:
            return
        with self._meta:
            listed = self._listed.get(rel)
            if listed is not None and time.monotonic() - listed[0] < self.attr_ttl and listed[1]:
                return  # known to hold other entries
        from .listing import list_page

        try:
            entries, _ = list_page(self.fs, rel, 1)
            if entries:
                return
        except FileNotFoundError:
            pass
        except Exception as exc:  # noqa: BLE001 - the removal itself worked
            log.debug("Could not check %s after a removal: %s", rel, exc)
            return
        try:
            self.fs.mkdir(rel, create_parents=False)
        except FileExistsError:
            pass
        except Exception as exc:  # noqa: BLE001
            log.warning("Could not keep the emptied directory %s: %s", rel, exc)

    # ------------------------------------------------------------------ directories

    @_op
    def mkdir(self, path, mode):
        self._check_writable()
        rel = self._rel(path)
        if self._exists(rel) is not None:
            raise _err(errno.EEXIST)
        self.fs.mkdir(rel, create_parents=False)
        self._remember(rel, self._stat("directory", 0, time.time_ns()))
        with self._meta:
            self._listed[rel] = (time.monotonic(), set())
        return 0

    @_op
    def rmdir(self, path):
        self._check_writable()
        rel = self._rel(path)
        with self._files_lock:
            if any(_under(r, rel) and r != rel for r in self._files):
                raise _err(errno.ENOTEMPTY)
        try:
            self.fs.rmdir(rel)
        except FileNotFoundError:
            # The kernel has just looked it up: on an object store it was a prefix whose
            # last object went away meanwhile. It is gone either way.
            if self._local_root is not None:
                raise
        self._forget(rel, tree=True)
        self._keep_directory(_split(rel)[0])
        return 0

    # ------------------------------------------------------------------ rename

    @_op
    def rename(self, old, new):
        self._check_writable()
        src, dst = self._rel(old), self._rel(new)
        if src == dst:
            return 0
        if not src or not dst:
            raise _err(errno.EBUSY)
        src_st = self._lookup(src)
        dst_st = self._exists(dst)
        if self._is_dir(src_st):
            if _under(dst, src):
                raise _err(errno.EINVAL)
            if dst_st is not None:
                if not self._is_dir(dst_st):
                    raise _err(errno.ENOTDIR)
                if self.readdir("/" + dst, 0)[2:]:
                    raise _err(errno.ENOTEMPTY)
            self._rename_dir(src, dst, dst_exists=dst_st is not None)
        else:
            if dst_st is not None and self._is_dir(dst_st):
                raise _err(errno.EISDIR)
            self._rename_file(src, dst)
        self._forget(src, tree=True)
        self._forget(dst, tree=True, exists=True)
        self._keep_directory(_split(src)[0])
        return 0

    def _rename_file(self, src: str, dst: str) -> None:
        with self._files_lock:
            moving = self._files.get(src)
            replaced = self._files.get(dst)
        if replaced is not None:  # its open handles keep the old data, as with an inode
            with replaced.lock:
                replaced.unlinked = True
        if moving is not None:
            with moving.lock:
                moving._stop_stream()  # it targets the old name
                with self._files_lock:
                    self._files.pop(src, None)
                    if replaced is not None and self._files.get(dst) is replaced:
                        del self._files[dst]
                    self._files[dst] = moving
                old_in_store = moving.in_store
                moving.rel = dst
                if moving.dirty or not old_in_store:
                    moving.dirty = True
                    moving.in_store = False
                    self._upload(moving)
                    if old_in_store:
                        self.fs.rm_file(src)
                    return
            # unchanged since opened: move the stored object below
        if self._local_root is not None:
            os.rename(self.fs._join(src), self.fs._join(dst))
            return
        self.fs.cp_file(src, dst)
        self.fs.rm_file(src)

    def _rename_dir(self, src: str, dst: str, dst_exists: bool) -> None:
        if self._local_root is not None:
            os.rename(self.fs._join(src), self.fs._join(dst))
            return
        with self._files_lock:
            if any(_under(r, src) for r in self._files):
                log.info("rename %s: files below are open for writing; refusing (EXDEV)", src)
                raise _err(errno.EXDEV)
        entries = self.fs.find(src, withdirs=True, detail=True)
        if len(entries) > self.max_dir_rename:
            log.info(
                "rename %s: %d entries (over %d); refusing with EXDEV so that tools copy",
                src,
                len(entries),
                self.max_dir_rename,
            )
            raise _err(errno.EXDEV)
        if dst_exists:
            self.fs.rmdir(dst)
        self.fs.makedirs(dst, exist_ok=True)
        prefix = src + "/"
        dirs = sorted(n for n, i in entries.items() if i.get("type") == "directory")
        files = sorted(n for n, i in entries.items() if i.get("type") != "directory")
        for name in dirs:
            if name.startswith(prefix):
                self.fs.makedirs(dst + "/" + name[len(prefix) :], exist_ok=True)
        for name in files:
            if name.startswith(prefix):
                self.fs.cp_file(name, dst + "/" + name[len(prefix) :])
        self.fs.rm(src, recursive=True)


# ----------------------------------------------------------------------------- running


def run_fuse(
    fs,
    mountpoint: str,
    *,
    read_only: bool = False,
    name: str = "",
    cache_dir: str | None = None,
    unsaved_dir: str | None = None,
    allow_other: bool = False,
    attr_ttl: float = 2.0,
    max_dir_rename: int = 1000,
    on_ready=None,
    debug: bool = False,
    ops_ref: list | None = None,
) -> None:
    """Mount ``fs`` at ``mountpoint`` and serve it until unmounted (blocks this thread)."""
    ops = WorkbenchFuseOperations(
        fs,
        read_only=read_only,
        cache_dir=cache_dir,
        unsaved_dir=unsaved_dir,
        attr_ttl=attr_ttl,
        max_dir_rename=max_dir_rename,
        on_ready=on_ready,
    )
    if ops_ref is not None:
        ops_ref.append(ops)
    options = {
        "fsname": f"workbench:{name or 'fs'}".replace(",", "_"),
        "subtype": "workbench",
        "default_permissions": True,
    }
    if ops.read_only:
        options["ro"] = True
    if allow_other:
        options["allow_other"] = True
    mfusepy.FUSE(ops, mountpoint, foreground=True, nothreads=False, debug=debug, **options)


__all__ = ["WorkbenchFuseOperations", "run_fuse"]
