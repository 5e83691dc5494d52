"""A kernel's working folder inside a mount where FUSE does not serve it: a synced local view.

A notebook or console opened at ``mnt/<name>/<rel>`` gets a kernel whose relative paths reach
the mount. Where FUSE serves the mount the kernel simply starts in the real folder. Elsewhere the
server passes ``JUPYTER_WORKBENCH_MOUNT_CWD=<name>/<rel>`` (``contents.kernels``) and the
workbench's kernel extension calls ``activate_from_environment``, which

- makes a local folder standing for the mount (``<tmp>/jupyter-workbench-views-<uid>/<pid>/
  <mount dir>/<name>``) and ``os.chdir``\\ s into ``<rel>`` inside it;
- patches ``open`` (``builtins.open``, ``io.open`` and the one IPython gives notebooks, so also
  ``pathlib``, pandas, numpy, pickle, matplotlib ...) for this kernel only: opening a file of
  the view for reading (or appending / updating) first downloads it from the mount when the
  local copy is missing or the store's copy changed (one HEAD per open; a local copy with
  unsaved changes wins);
- uploads, when each cell ends (and when the kernel exits, or on ``sync()``), every file of the
  view that is new or changed since it was fetched or last uploaded, whoever wrote it (Python
  or C code such as h5py or TensorFlow); each upload replaces the object only once complete.

- patches ``os.stat`` the same way for paths of the view that have no local copy, so
  ``os.path.exists/isfile/isdir/getsize``, ``pathlib.Path.exists`` ... answer for the mount's
  file (from one HEAD, without downloading it);

Also mapped: absolute paths under the server's ``<mount dir>/<name>`` (what the file browser
shows), when that folder does not exist locally. Not mirrored (documented in docs/contracts.md):
``os.listdir``/``glob`` see only the files this kernel opened or wrote (list the mount with
``mounts.filesystem(name).ls(...)``), C code reading a file never opened from Python does not
find it, deletions and renames are not propagated, and a file written during a long cell
reaches the mount when the cell ends.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import functools
import io
import os
import shutil
import stat
import sys
import tempfile
import threading

from ._files import pid_alive

MOUNT_CWD_ENV = "JUPYTER_WORKBENCH_MOUNT_CWD"
_real_open = builtins.open
_real_stat = os.stat
_active: MountView | None = None
_inside = threading.local()  # set while the view itself works: its own stats stay local


@contextlib.contextmanager
def _internal():
    depth = getattr(_inside, "depth", 0)
    _inside.depth = depth + 1
    try:
        yield
    finally:
        _inside.depth = depth


def _views_base() -> str:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    base = os.path.join(tempfile.gettempdir(), f"jupyter-workbench-views-{uid}")
    os.makedirs(base, mode=0o700, exist_ok=True)
    return base


def _remove_stale_views(base: str) -> None:
    for entry in os.listdir(base):
        if entry.isdigit() and int(entry) != os.getpid() and not pid_alive(int(entry)):
            shutil.rmtree(os.path.join(base, entry), ignore_errors=True)


def _signature(info: dict) -> tuple:
    """What tells one version of a stored file from another (size + ETag or mtime)."""
    when = next(
        (info.get(k) for k in ("ETag", "etag", "LastModified", "mtime", "last_modified")
         if info.get(k) is not None),
        None,
    )  # fmt: skip
    return (info.get("size"), str(when))


class MountView:
    """The local view of mount ``name`` for one kernel (see the module docstring)."""

    def __init__(self, name: str, fs, root: str, aliases=()):
        from fsspec.implementations.dirfs import DirFileSystem
        from fsspec.implementations.local import LocalFileSystem

        self.name = name
        self.fs = fs  # the mount's filesystem (paths relative to the mount)
        self.root = os.path.abspath(root)
        self.aliases = [os.path.abspath(a) for a in aliases]
        os.makedirs(self.root, exist_ok=True)
        self.local = DirFileSystem(path=self.root, fs=LocalFileSystem())
        self._lock = threading.RLock()
        self._local_state: dict[str, tuple[int, int]] = {}  # rel -> (size, mtime_ns) in sync
        self._remote_state: dict[str, tuple] = {}  # rel -> the store's signature then

    # ------------------------------------------------------------------ paths

    def rel_of(self, file) -> str | None:
        """The mount path of ``file`` (a path given to ``open``) when it is in this view."""
        if isinstance(file, int):
            return None
        try:
            path = os.fspath(file)
        except TypeError:
            return None
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        full = os.path.abspath(path)
        for base in (self.root, *self.aliases):
            if full.startswith(base + os.sep):
                return os.path.relpath(full, base).replace(os.sep, "/")
        return None

    def local_path(self, rel: str) -> str:
        return os.path.join(self.root, *rel.split("/"))

    # ------------------------------------------------------------------ fetch and upload

    def _changed_locally(self, rel: str, local: str) -> bool:
        try:
            st = _real_stat(local)
        except FileNotFoundError:
            return False
        return self._local_state.get(rel) != (st.st_size, st.st_mtime_ns)

    def _record(self, rel: str, info: dict | None = None) -> None:
        st = _real_stat(self.local_path(rel))
        self._local_state[rel] = (st.st_size, st.st_mtime_ns)
        if info is None:
            with contextlib.suppress(Exception):
                self.fs.invalidate_cache(rel)
            info = self.fs.info(rel)
        self._remote_state[rel] = _signature(info)

    def fetch(self, rel: str, *, missing_ok: bool = False) -> None:
        """Bring the mount's ``rel`` into the view unless the local copy is current (or holds
        changes not uploaded yet). FileNotFoundError when the mount has no such file."""
        from .writes import copy_stream

        local = self.local_path(rel)
        with self._lock, _internal():
            if self._changed_locally(rel, local):
                return
            try:
                with contextlib.suppress(Exception):
                    self.fs.invalidate_cache(rel)
                info = self.fs.info(rel)
            except FileNotFoundError:
                if missing_ok:
                    return
                raise FileNotFoundError(
                    2, f"No such file on mount {self.name!r}: {rel}", local
                ) from None
            if info.get("type") == "directory":
                os.makedirs(local, exist_ok=True)
                return
            if os.path.exists(local) and self._remote_state.get(rel) == _signature(info):
                return
            os.makedirs(os.path.dirname(local), exist_ok=True)
            copy_stream(self.fs, rel, self.local, rel)
            self._record(rel, info)

    def remote_stat(self, rel: str) -> os.stat_result | None:
        """``os.stat`` of the mount's ``rel`` (None when missing): a folder gets its local
        stand-in, a file a stat from the store's size and date (nothing is downloaded)."""
        with _internal():
            try:
                info = self.fs.info(rel)
            except (FileNotFoundError, NotADirectoryError):
                return None
            local = self.local_path(rel)
            if info.get("type") == "directory":
                os.makedirs(local, exist_ok=True)
                return _real_stat(local)
            from .backends.base import to_utc

            when = next(
                (info.get(k) for k in ("LastModified", "mtime", "last_modified")
                 if info.get(k) is not None),
                None,
            )  # fmt: skip
            when = to_utc(when)
            t = when.timestamp() if when is not None else 0.0
            uid = os.getuid() if hasattr(os, "getuid") else 0
            gid = os.getgid() if hasattr(os, "getgid") else 0
            mode = stat.S_IFREG | (0o444 if getattr(self.fs, "read_only", False) else 0o644)
            return os.stat_result((mode, 0, 0, 1, uid, gid, int(info.get("size") or 0), t, t, t))

    def prepare_open(self, rel: str, mode: str) -> str:
        """Make ``open(<view>/rel, mode)`` behave as on the mount; returns the local path."""
        with _internal():
            return self._prepare_open(rel, mode)

    def _prepare_open(self, rel: str, mode: str) -> str:
        local = self.local_path(rel)
        if "r" in mode or "a" in mode or "+" in mode:
            self.fetch(rel, missing_ok="r" not in mode)
        if "x" in mode and self.fs.exists(rel):
            raise FileExistsError(17, f"File exists on mount {self.name!r}: {rel}", local)
        if any(c in mode for c in "wax+"):
            parent = rel.rpartition("/")[0]
            if parent and not os.path.isdir(os.path.dirname(local)) and self.fs.isdir(parent):
                os.makedirs(os.path.dirname(local), exist_ok=True)
        return local

    def pending(self) -> list[str]:
        """Files of the view that are new or changed since they were last in sync."""
        out = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if d != ".ipynb_checkpoints"]
            for filename in filenames:
                local = os.path.join(dirpath, filename)
                rel = os.path.relpath(local, self.root).replace(os.sep, "/")
                if self._changed_locally(rel, local):
                    out.append(rel)
        return sorted(out)

    def sync(self) -> list[str]:
        """Upload every pending file; returns their paths. Raises the first failure after
        trying all (the others stay pending and are tried again next time)."""
        from .writes import copy_stream

        done, failures = [], []
        with self._lock, _internal():
            for rel in self.pending():
                try:
                    copy_stream(self.local, rel, self.fs, rel)
                    self._record(rel)
                except Exception as e:  # noqa: BLE001 - reported below, retried next time
                    failures.append((rel, e))
                else:
                    done.append(rel)
        if failures:
            rel, e = failures[0]
            more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
            raise OSError(f"Could not upload {rel}{more} to mount {self.name!r}: {e}") from e
        return done


# ---------------------------------------------------------------------- the kernel's open


@functools.wraps(_real_open)
def _open(file, mode="r", *args, **kwargs):
    view = _active
    if view is not None:
        rel = view.rel_of(file)
        if rel is not None:
            file = view.prepare_open(rel, mode if isinstance(mode, str) else "r")
    return _real_open(file, mode, *args, **kwargs)


@functools.wraps(_real_stat)
def _stat(path, *args, **kwargs):
    try:
        return _real_stat(path, *args, **kwargs)
    except FileNotFoundError:
        view = _active
        if view is None or getattr(_inside, "depth", 0) or kwargs.get("dir_fd") is not None:
            raise
        rel = view.rel_of(path)
        found = view.remote_stat(rel) if rel is not None else None
        if found is None:
            raise
        return found


def active() -> MountView | None:
    """This kernel's mount view, if it works in one."""
    return _active


def sync() -> list[str]:
    """Upload the files this kernel wrote in its mount view now (normally done when each cell
    ends); returns their mount paths."""
    return _active.sync() if _active is not None else []


def _after_cell(result=None) -> None:
    try:
        sync()
    except OSError as e:
        print(f"jupyter-workbench: {e}", file=sys.stderr)


def _patch_open(value, stat_function) -> None:
    builtins.open = io.open = value
    os.stat = stat_function
    # IPython puts its own open() in the user namespace; it calls this module global.
    shell = sys.modules.get("IPython.core.interactiveshell")
    if shell is not None and hasattr(shell, "io_open"):
        shell.io_open = value


def _at_exit(base: str) -> None:
    global _active
    with contextlib.suppress(Exception):
        sync()
    _active = None
    _patch_open(_real_open, _real_stat)
    shutil.rmtree(base, ignore_errors=True)


def activate(name: str, rel: str = "", *, registry=None, ipython=None) -> MountView:
    """Work in folder ``rel`` of mount ``name`` through a synced local view (this process)."""
    global _active
    from .registry import MountRegistry
    from .urls import normalize_relative_path

    registry = registry or MountRegistry()
    rel = normalize_relative_path(rel)
    fs = registry.filesystem(name)
    mount_dir = registry.mount_dir
    base = _views_base()
    _remove_stale_views(base)
    mine = os.path.join(base, str(os.getpid()))
    root = os.path.join(mine, mount_dir.name if mount_dir else "mnt", name)
    aliases = []
    if mount_dir is not None and not os.path.exists(mount_dir / name):
        aliases.append(str(mount_dir / name))
    view = MountView(name, fs, root, aliases)
    if rel and fs.isdir(rel):
        os.makedirs(view.local_path(rel), exist_ok=True)
    cwd = view.local_path(rel) if rel else view.root
    os.makedirs(cwd, exist_ok=True)
    _active = view
    _patch_open(_open, _stat)
    os.chdir(cwd)
    if ipython is not None:
        ipython.events.register("post_run_cell", _after_cell)
    atexit.register(_at_exit, mine)
    return view


def activate_from_environment(ipython=None) -> MountView | None:
    """``activate`` the folder named by ``$JUPYTER_WORKBENCH_MOUNT_CWD`` (set by the server
    for a kernel opened inside a mount that FUSE does not serve); None when unset or failing
    (said on stderr: the kernel then stays in the server root)."""
    spec = os.environ.get(MOUNT_CWD_ENV, "").strip("/")
    if not spec or _active is not None:
        return None
    name, _, rel = spec.partition("/")
    try:
        return activate(name, rel, ipython=ipython)
    except Exception as e:  # noqa: BLE001 - a kernel must start even if its mount cannot be read
        message = getattr(e, "message", None) or str(e)
        print(
            f"jupyter-workbench: cannot work in mount {name!r} folder {rel or '/'!r}: {message}; "
            "this kernel stays in the server's root folder.",
            file=sys.stderr,
        )
        return None
