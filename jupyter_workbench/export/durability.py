"""Making a staged export durable before it is published: fsync helpers and the writeback flusher.

:func:`fsync_tree` syncs every file and directory of a staged model before the rename that
publishes it; :func:`fsync_path` one path (a directory after a rename or a marker creation);
:class:`Flusher` starts writeback while TensorFlow is still writing, so that the final fsync
finds little left to do. Callers use them through this module (``durability.fsync_tree``), so
that a benchmark can switch durability off in one place (``bench/export.py``).
"""

from __future__ import annotations

import os
import threading


def fsync_path(path: str, data_only: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        (os.fdatasync if data_only else os.fsync)(fd)
    finally:
        os.close(fd)


def fsync_tree(root: str) -> None:
    """fsync every file and every directory under ``root``, all before the caller's rename.

    The syncs run concurrently: the file system batches them into few journal commits, where
    one after the other each pays its own (their order does not matter, only that all are done).
    """
    jobs = []
    for dirpath, _dirs, names in os.walk(root):
        jobs.append((dirpath, False))
        jobs.extend((os.path.join(dirpath, n), True) for n in names)  # size is data here
    if len(jobs) <= 1:
        for path, data_only in jobs:
            fsync_path(path, data_only)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        for future in [pool.submit(fsync_path, p, d) for p, d in jobs]:
            future.result()  # re-raise the first failure


def _sync_file_range():
    """libc's sync_file_range (Linux): start writeback of a byte range without waiting."""
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.sync_file_range
        fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
        return fn
    except (OSError, AttributeError):
        return None


_SYNC_FILE_RANGE_WRITE = 2


class Flusher(threading.Thread):
    """Starts disk writeback of files while TensorFlow is still writing them.

    TensorFlow writes variables without holding the GIL; kicking off writeback of each new
    chunk (``sync_file_range``, else ``fdatasync``) overlaps the disk with the write, so the
    fsync before the rename finds little left to do.
    """

    def __init__(self, root: str, interval: float = 0.01, chunk: int = 8 << 20):
        super().__init__(name="savedmodel-flusher", daemon=True)
        self.root, self.interval, self.chunk = root, interval, chunk
        self._stop_event = threading.Event()
        self._synced: dict[str, int] = {}
        self._range = _sync_file_range()

    def _flush(self, path: str, start: int, end: int) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            if self._range is None or self._range(fd, start, end - start, _SYNC_FILE_RANGE_WRITE):
                os.fdatasync(fd)
        finally:
            os.close(fd)

    def run(self) -> None:
        last_size: dict[str, int] = {}
        while not self._stop_event.wait(self.interval):
            for dirpath, _dirs, names in os.walk(self.root):
                for name in names:
                    path = os.path.join(dirpath, name)
                    try:
                        size = os.stat(path).st_size
                        done = self._synced.get(path, 0)
                        # a new chunk, or the tail of a file the writer has moved on from
                        settled = size == last_size.get(path)
                        last_size[path] = size
                        if size - done >= self.chunk or (settled and size > done):
                            self._flush(path, done, size)
                            self._synced[path] = size
                    except OSError:
                        pass  # renamed or removed by the writer meanwhile

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
