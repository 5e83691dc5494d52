"""The FUSE layer's write-back cache: a file open for writing is a local copy, downloaded
first unless truncated, uploaded when a handle is flushed, kept under ``unsaved`` when its last
upload failed (see _fuse_ops.py for the semantics)."""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import tempfile
import time

from ._fuse_errors import _err
from ._fuse_files import _DirtyFile

log = logging.getLogger("jupyter_workbench.storage.fuse")


class _WriteBack:
    """Mixed into ``WorkbenchFuseOperations``, whose ``__init__`` sets the state used here."""

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
