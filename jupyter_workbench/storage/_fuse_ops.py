"""The FUSE filesystem behind ``storage.fuse``: an fsspec filesystem served through mfusepy.

This module imports ``mfusepy`` (and so loads libfuse); only the FUSE process imports it. See
fuse.py for the public API and the process model. The operations are here; the errno mapping is
in ``_fuse_errors.py``, open files and read-ahead in ``_fuse_files.py``, the attribute cache in
``_fuse_cache.py`` and the write-back cache in ``_fuse_writeback.py``; streaming uploads come
from the mount's backend (``backends/oss_stream.py``).

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

import concurrent.futures
import errno
import logging
import os
import tempfile
import threading
import time

import mfusepy
from fsspec.implementations.dirfs import DirFileSystem

from ._fuse_cache import _AttributeCache
from ._fuse_errors import _err, _op
from ._fuse_files import MIN_WINDOW, _DirtyFile, _Handle, _split, _StreamReader, _under  # noqa: F401
from ._fuse_writeback import _WriteBack
from .backends import backend_for

log = logging.getLogger("jupyter_workbench.storage.fuse")

OPEN_MAX_AGE = 1.0  # attributes older than this are looked up again when a file is opened
MAX_LIST_ENTRIES = 1_000_000
LIST_PAGE = 1000

_FuseOSError = mfusepy.FuseOSError


# ----------------------------------------------------------------------------- operations


class WorkbenchFuseOperations(_AttributeCache, _WriteBack, mfusepy.Operations):
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
        backend = backend_for(fs)
        # Local files are renamed natively (os.rename under the mount's real root).
        self._local_root = fs._join("") if backend.local and isinstance(fs, DirFileSystem) else None
        self._stream_factory = backend.streaming_writer(fs)
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
