"""FUSE mounts: a mount named N also appears as a real directory ``<mount_dir>/N``, so that
plain ``open()``, ``os.listdir``, ``pandas.read_csv`` and ``np.save`` work in every kernel.

::

    from jupyter_workbench.storage import MountRegistry
    from jupyter_workbench.storage.fuse import cleanup_stale_mounts, fuse_available, mount_fuse

    ok, why = fuse_available()                 # (False, "no /dev/fuse ...") where it cannot work
    cleanup_stale_mounts(mount_dir)            # at start: mounts left by a killed process
    m = mount_fuse("data", f"{mount_dir}/data", registry=reg)   # or a Mount, or a filesystem
    ...
    m.unmount(timeout=60)                      # waits for uploads in progress

Semantics are those of a local disk for one writer at a time: see _fuse_ops.py. In short, a
file open for writing lives in a local temporary file and is uploaded by ``close()`` (and
``flush``/``fsync``); when the upload fails, ``close()`` raises ``OSError(EIO)``. Reads stream
with range requests. Directory renames on object stores copy (small trees) or fail with EXDEV.

Process model: each mount is served by its own process
(``python -m jupyter_workbench.storage._fuse_main``), so a crash there cannot take the server
down and a kernel's ``open()`` never waits for the server's GIL. The process receives the
filesystem (pickled, with its credentials) through a pipe and lives until:

- ``FuseMount.unmount()`` (or ``fusermount -u``) unmounts it, or
- the process that mounted it exits or is killed: it watches its stdin pipe, and on EOF lets
  uploads in progress finish and unmounts itself (lazily if files are still open, in which case
  it keeps serving them until they are closed, then exits). An ``atexit`` hook also unmounts
  every mount of this process on a normal exit.
- ``detach=True`` mounts do not watch the parent; they last until unmounted.

If the FUSE process itself is killed (SIGKILL, OOM), the directory becomes a stale mount
("Transport endpoint is not connected"); ``cleanup_stale_mounts`` detaches it (and moves the
local copies of files it had open for writing to ``<cache>/unsaved``), and ``mount_fuse`` does
so for its own mount point. The server runs its mounts under a :class:`FuseSupervisor`, which
does both within a second of the helper's death.

Server integration (``mount_fuse``/``unmount`` block for up to seconds: call them from a
thread, e.g. ``await asyncio.to_thread(...)``, never on the event loop):

- start: ``fuse_available()``; if True, ``cleanup_stale_mounts(mount_dir)``, then
  ``mount_fuse(name, registry.local_path(name), registry=registry)`` for each registered mount
  (a failure for one mount is logged, the others go on); keep the ``FuseMount`` by name.
- mount added: ``mount_fuse`` it; replaced: unmount, then mount again.
- mount removed: ``unmount(timeout=60, remove_dir=True)`` *before* ``registry.remove`` (the
  uploads in progress need the credentials). Never ``shutil.rmtree`` a mount directory: while
  mounted that deletes the data in the store.
- shutdown: ``unmount`` each (the atexit hook and the pipe watch are safety nets).

Kernels need nothing: the mount is ``<mount_dir>/<name>`` (``jupyter_workbench.mounts
.local_path(name)``), a directory like any other, for every process of the user (of every user
with ``allow_other``).

``foreground=True`` serves in the calling thread; libfuse then installs SIGINT/SIGTERM/SIGHUP
handlers in that process, so use it only in a process of its own (a CLI command).

Nothing here imports mfusepy at module import, nor jupyter_server or tornado. The machine's
side (mount table, unmount commands, stale mounts, work directories) is in ``_fuse_system.py``,
``FuseMount`` and the errors in ``_fuse_mount.py``, ``FuseSupervisor`` in
``_fuse_supervisor.py``, the helper process in ``_fuse_main.py`` and the FUSE operations in
``_fuse_ops.py``; their public names are re-exported here.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
import pickle
import queue
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fsspec.implementations.dirfs import DirFileSystem
from fsspec.spec import AbstractFileSystem

from ._fuse_mount import (  # noqa: F401 - part of this module's API
    FuseMount,
    FuseMountError,
    FuseUnavailableError,
    _active,
    _active_lock,
)
from ._fuse_supervisor import FuseSupervisor  # noqa: F401 - part of this module's API
from ._fuse_system import (  # noqa: F401 - part of this module's API (tests)
    _cache_root,
    _fusermount_binary,
    _is_mounted,
    _mounts,
    _pid_alive,
    _run_unmount,
    _work_dir,
    cleanup_cache,
    cleanup_stale_mounts,
    is_stale,
)
from .errors import StorageError

log = logging.getLogger(__name__)

ENV_FUSE = "JUPYTER_WORKBENCH_FUSE"  # "0" disables FUSE mounts
MOUNT_TIMEOUT = 30.0


# ----------------------------------------------------------------------------- availability


def _has_sys_admin() -> bool:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << 21))
    except (OSError, ValueError):
        pass
    return False


_probe_result: tuple[bool, str] | None = None


def fuse_available(*, probe: bool = False) -> tuple[bool, str]:
    """``(True, description)`` where FUSE mounts can work, else ``(False, why and what to do)``.

    Checks, without mounting anything: Linux, ``/dev/fuse`` present and openable, a
    ``fusermount3``/``fusermount`` (setuid root unless this process is root with
    CAP_SYS_ADMIN), ``mfusepy`` installed and libfuse found. ``probe=True`` also mounts and
    unmounts an empty filesystem once (the result is cached for the process).
    """
    global _probe_result
    if os.environ.get(ENV_FUSE, "").strip().lower() in ("0", "false", "no", "off"):
        return False, f"FUSE mounts are disabled ({ENV_FUSE}={os.environ[ENV_FUSE]})."
    if not sys.platform.startswith("linux"):
        return False, "FUSE mounts are supported on Linux only."
    dev = "/dev/fuse"
    try:
        st = os.stat(dev)
    except OSError:
        return False, (
            "There is no /dev/fuse: the kernel lacks FUSE or the container was started "
            "without it (docker run --device /dev/fuse --cap-add SYS_ADMIN)."
        )
    if not stat.S_ISCHR(st.st_mode):
        return False, "/dev/fuse is not a character device."
    try:
        os.close(os.open(dev, os.O_RDWR))
    except OSError as e:
        return False, f"/dev/fuse cannot be opened ({e.strerror}); the container may deny it."
    binary = _fusermount_binary()
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    if root:
        if not _has_sys_admin():
            return False, (
                "This process is root but lacks CAP_SYS_ADMIN, which mounting needs "
                "(docker run --cap-add SYS_ADMIN --device /dev/fuse)."
            )
        if binary is None and shutil.which("umount") is None:
            return False, "Neither fusermount3 nor umount is installed (apt-get install fuse3)."
    else:
        if binary is None:
            return False, "fusermount3 is not installed (apt-get install fuse3)."
        if not os.stat(binary).st_mode & stat.S_ISUID:
            return False, f"{binary} is not setuid root, so this user cannot mount."
    if importlib.util.find_spec("mfusepy") is None:
        return False, "The mfusepy package is not installed (pip install mfusepy)."
    try:
        import mfusepy
    except Exception as e:  # noqa: BLE001 - mfusepy raises OSError/AttributeError for libfuse
        return False, f"libfuse could not be loaded ({e}); install it (apt-get install fuse3)."
    version = f"libfuse {mfusepy.fuse_version_major}.{mfusepy.fuse_version_minor}"
    tool = os.path.basename(binary) if binary else "umount"
    description = f"FUSE is available ({version}, {tool})."
    if probe:
        if _probe_result is None:
            _probe_result = _probe()
        if not _probe_result[0]:
            return _probe_result
    return True, description


def _probe() -> tuple[bool, str]:
    from fsspec.implementations.memory import MemoryFileSystem

    with tempfile.TemporaryDirectory(prefix="jw-fuse-probe-") as tmp:
        mp = os.path.join(tmp, "mnt")
        try:
            m = mount_fuse(
                MemoryFileSystem(skip_instance_cache=True),
                mp,
                root="/probe",
                name="probe",
                timeout=20,
                _checked=True,
            )
        except StorageError as e:
            return False, f"A trial FUSE mount failed: {e}"
        m.unmount(timeout=20)
    return True, "FUSE is available (a trial mount worked)."


# ----------------------------------------------------------------------------- mounts


def _resolve(mount_or_fs, registry, root, name, read_only):
    from .registry import Mount, MountRegistry

    if isinstance(mount_or_fs, (str, Mount)):
        mount_name = mount_or_fs if isinstance(mount_or_fs, str) else mount_or_fs.name
        reg = registry if registry is not None else MountRegistry()
        fs = reg.filesystem(mount_name)
        return fs, name or mount_name, bool(read_only or reg.get(mount_name).read_only)
    if not isinstance(mount_or_fs, AbstractFileSystem):
        raise TypeError("mount_fuse needs a mount name, a Mount or an fsspec filesystem")
    fs = mount_or_fs
    if root is not None:
        fs = DirFileSystem(path=root, fs=fs)
    elif not isinstance(fs, DirFileSystem):
        raise ValueError(
            "Give root= for a filesystem that is not rooted at the mount (a MountFileSystem "
            "or DirFileSystem), e.g. mount_fuse(LocalFileSystem(), mp, root='/data')."
        )
    label = name or getattr(fs, "mount_name", "") or "fs"
    return fs, label, bool(read_only or getattr(fs, "read_only", False))


def mount_fuse(
    mount_or_fs,
    mountpoint,
    *,
    read_only: bool = False,
    foreground: bool = False,
    registry=None,
    root: str | None = None,
    name: str | None = None,
    detach: bool = False,
    allow_other: bool = False,
    attr_ttl: float = 2.0,
    max_dir_rename: int = 1000,
    timeout: float = MOUNT_TIMEOUT,
    cache_dir=None,
    log_level: int = logging.INFO,
    _checked: bool = False,
) -> FuseMount:
    """Mount ``mount_or_fs`` at ``mountpoint`` (created if missing) and return once mounted.

    ``mount_or_fs``: a mount name or ``Mount`` (its filesystem and credentials come from
    ``registry``, default ``MountRegistry()``), or an fsspec filesystem rooted at the mount
    (``MountFileSystem``/``DirFileSystem``; for others pass ``root=``).
    ``read_only`` (also implied by a read-only mount) refuses writes with EROFS.
    ``foreground=True`` serves in this process and returns only after it is unmounted (for a
    CLI command); otherwise a child process serves it (see the module doc), ``detach=True``
    letting it outlive this process. ``allow_other`` lets other users in (needs
    ``user_allow_other`` in /etc/fuse.conf unless root). ``cache_dir`` holds the local copies
    of files open for writing (default: a private directory under the system temp dir) and,
    in ``unsaved/``, copies of files whose upload failed. ``attr_ttl``: seconds attributes and
    listings are cached. ``max_dir_rename``: directories with more entries than this are not
    renamed on object stores (EXDEV; ``mv``/``shutil.move`` then copy).

    Raises ``FuseUnavailableError`` where FUSE cannot work and ``FuseMountError`` when the
    mount point is already mounted or mounting fails.
    """
    if not _checked:
        ok, why = fuse_available()
        if not ok:
            raise FuseUnavailableError(f"FUSE mounts are not available: {why}")
    fs, name, read_only = _resolve(mount_or_fs, registry, root, name, read_only)
    mp = os.path.abspath(os.fspath(mountpoint))
    if is_stale(mp):
        ok, message = _run_unmount(mp, lazy=True)
        if not ok:
            raise FuseMountError(f"{mp} is a stale mount that could not be detached: {message}")
    elif _is_mounted(mp):
        raise FuseMountError(f"{mp} is already a mount point; unmount it first.")
    try:
        os.makedirs(mp, exist_ok=True)
    except OSError as e:
        raise FuseMountError(f"Cannot create the mount point {mp}: {e.strerror}") from None
    base = os.fspath(cache_dir) if cache_dir else _cache_root()
    os.makedirs(base, mode=0o700, exist_ok=True)
    unsaved = os.path.join(base, "unsaved")
    if foreground:
        from ._fuse_ops import run_fuse

        work = _work_dir(base, name)
        try:
            run_fuse(
                fs,
                mp,
                read_only=read_only,
                name=name,
                cache_dir=work,
                unsaved_dir=unsaved,
                allow_other=allow_other,
                attr_ttl=attr_ttl,
                max_dir_rename=max_dir_rename,
            )
        except RuntimeError as e:
            raise FuseMountError(f"Mounting at {mp} failed: {e}") from None
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return FuseMount(mp, name, read_only)
    try:
        fs_bytes = pickle.dumps(fs)
    except Exception as e:  # noqa: BLE001
        raise FuseMountError(
            f"The filesystem for {name!r} cannot be sent to the FUSE process: {e}"
        ) from None
    payload = pickle.dumps(
        {
            "fs": fs_bytes,
            "sys_path": [p for p in sys.path if p],
            "mountpoint": mp,
            "name": name,
            "read_only": read_only,
            "detach": detach,
            "allow_other": allow_other,
            "attr_ttl": attr_ttl,
            "max_dir_rename": max_dir_rename,
            "cache_base": base,
            "unsaved_dir": unsaved,
            "log_level": log_level,
        }
    )
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    if detach:
        stderr = open(os.path.join(base, f"{name}.log"), "ab")  # noqa: SIM115
    else:
        stderr = subprocess.PIPE
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_workbench.storage._fuse_main"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            cwd="/",
            close_fds=True,
            start_new_session=True,  # a Ctrl-C for the server must not kill it mid-upload
        )
    finally:
        if detach:
            stderr.close()
    m = FuseMount(mp, name, read_only, proc, detached=detach)
    m._start_readers(log_stderr=not detach)
    try:
        proc.stdin.write(struct.pack("!Q", len(payload)) + payload)
        proc.stdin.flush()
    except OSError:
        pass  # the process died; its exit is reported below
    try:
        event = m._events.get(timeout=timeout)
    except queue.Empty:
        event = {"event": "timeout"}
    if event.get("event") != "ready":
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if is_stale(mp) or _is_mounted(mp):
            _run_unmount(mp, lazy=True)
        for t in m._threads:
            t.join(timeout=2)
        cleanup_cache(base)
        why = event.get("message") or (
            f"no answer within {timeout:.0f} s"
            if event.get("event") == "timeout"
            else f"the FUSE process exited with status {proc.returncode}"
        )
        tail = " | ".join(list(m._stderr_tail)[-5:])
        raise FuseMountError(
            f"Mounting {name!r} at {mp} failed: {why}" + (f" ({tail})" if tail else "")
        )
    if detach:
        m._close_stdin()
    else:
        with _active_lock:
            _active[id(m)] = m
    log.info("Mounted %s at %s (FUSE process %d)", name, mp, proc.pid)
    return m


def active_mounts() -> list[FuseMount]:
    """The FUSE mounts started (not detached) by this process that are still running."""
    with _active_lock:
        return [m for m in _active.values() if m.alive]


@atexit.register
def _unmount_all() -> None:
    for m in active_mounts():
        try:
            m.unmount(timeout=30)
        except Exception as e:  # noqa: BLE001 - at exit, report and go on
            log.warning("Could not unmount %s: %s", m.mountpoint, e)


# ----------------------------------------------------------------------------- benchmark


def fuse_throughput(
    fs,
    *,
    size: int = 100 * 2**20,
    chunk: int = 2**20,
    path: str = "fuse-throughput.bin",
    repeat: int = 1,
) -> dict:
    """Time writing and reading ``size`` bytes directly through ``fs`` (fsspec) and through a
    FUSE mount of it, ``repeat`` times interleaved; return the median MB/s of each and the
    FUSE/direct ratios (``write_ratio``, ``read_ratio``).

    ``fs`` is rooted at the mount (e.g. ``registry.filesystem(name)``); the files ``path`` and
    ``fuse-<path>`` are written there and removed afterwards. Writes are ``chunk`` bytes each
    and the FUSE write includes ``close()``, which uploads; reads read the whole file.
    """
    import statistics

    data = os.urandom(size)
    view = memoryview(data)
    fuse_path = f"fuse-{path}"
    times: dict[str, list[float]] = {k: [] for k in ("dw", "fw", "dr", "fr")}

    def timed(key, fn):
        t0 = time.perf_counter()
        got = fn()
        times[key].append(time.perf_counter() - t0)
        if got is not None and got != data:
            raise RuntimeError(f"{key}: the bytes read back differ from those written.")

    def write_direct():
        with fs.open(path, "wb") as f:
            for i in range(0, size, chunk):
                f.write(view[i : i + chunk])

    def read_direct():
        with fs.open(path, "rb") as f:
            return f.read()

    try:
        with (
            tempfile.TemporaryDirectory(prefix="jw-fuse-bench-") as tmp,
            mount_fuse(fs, os.path.join(tmp, "mnt"), name="bench") as m,
        ):
            target = os.path.join(m.mountpoint, fuse_path)

            def write_fuse():
                with open(target, "wb") as f:
                    for i in range(0, size, chunk):
                        f.write(view[i : i + chunk])

            def read_fuse():
                with open(target, "rb") as f:
                    return f.read()

            for _ in range(max(1, int(repeat))):
                timed("dw", write_direct)
                timed("fw", write_fuse)
                timed("dr", read_direct)
                timed("fr", read_fuse)
    finally:
        for p in (path, fuse_path):
            with contextlib.suppress(Exception):
                fs.rm_file(p)
    mb = size / 1e6
    rate = {k: mb / statistics.median(v) for k, v in times.items()}
    return {
        "size_mb": mb,
        "repeat": len(times["dw"]),
        "direct_write_mb_s": rate["dw"],
        "fuse_write_mb_s": rate["fw"],
        "direct_read_mb_s": rate["dr"],
        "fuse_read_mb_s": rate["fr"],
        "write_ratio": rate["fw"] / rate["dw"],
        "read_ratio": rate["fr"] / rate["dr"],
    }


__all__ = [
    "ENV_FUSE",
    "FuseMount",
    "FuseMountError",
    "FuseUnavailableError",
    "active_mounts",
    "cleanup_cache",
    "cleanup_stale_mounts",
    "fuse_available",
    "fuse_throughput",
    "is_stale",
    "mount_fuse",
]
