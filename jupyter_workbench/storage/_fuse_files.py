"""The FUSE layer's open files: the write-back copy of a file open for writing (shared by its
handles), handles, and the read-ahead reader of files open only for reading."""

from __future__ import annotations

import concurrent.futures
import os
import threading
import time
from datetime import datetime

MIN_WINDOW = 256 * 1024
MAX_WINDOW = 16 * 2**20
PREFETCH_FROM = 2 * 2**20  # prefetch once sequential windows reach this size
MAX_SEGMENTS = 3
MAX_PENDING = 2


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
        self.stream = None  # the backend's streaming upload (oss_stream.StreamingUpload)

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
