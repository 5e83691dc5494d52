"""The machine's side of FUSE mounts: the mount table, unmount commands, stale mounts left by
killed helpers, and the helpers' private work directories (see fuse.py)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ._files import pid_alive as _pid_alive

log = logging.getLogger("jupyter_workbench.storage.fuse")

_STALE_ERRNOS = {errno.ENOTCONN, errno.ECONNABORTED}


def _fusermount_binary() -> str | None:
    return shutil.which("fusermount3") or shutil.which("fusermount")


def _unmount_commands(mountpoint: str, lazy: bool) -> list[list[str]]:
    cmds = []
    binary = _fusermount_binary()
    if binary:
        cmds.append([binary, "-u", *(["-z"] if lazy else []), mountpoint])
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("umount"):
        cmds.append(["umount", *(["-l"] if lazy else []), mountpoint])
    return cmds


def _run_unmount(mountpoint: str, lazy: bool) -> tuple[bool, str]:
    """Unmount ``mountpoint``; ``(ok, message of the last failure)``."""
    message = "no fusermount3, fusermount or umount found"
    for cmd in _unmount_commands(str(mountpoint), lazy):
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            message = f"{cmd[0]}: {e}"
            continue
        if proc.returncode == 0:
            return True, ""
        message = (proc.stderr or proc.stdout).strip() or f"{cmd[0]} exited {proc.returncode}"
    return False, message


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _mounts() -> list[tuple[str, str]]:
    """``(mount point, fstype)`` of every mount this process sees."""
    out = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if len(fields) >= 5 and right:
                    out.append((_unescape(fields[4]), right.split()[0]))
    except OSError:
        pass
    return out


def _is_mounted(path) -> bool:
    target = os.path.abspath(os.fspath(path))
    return any(mp == target for mp, _ in _mounts())


def is_stale(path) -> bool:
    """Whether ``path`` is a FUSE mount whose process is gone (ENOTCONN on stat)."""
    try:
        os.stat(path)
    except OSError as e:
        return e.errno in _STALE_ERRNOS
    return False


def cleanup_stale_mounts(mount_dir) -> list[str]:
    """Detach stale FUSE mounts at or below ``mount_dir`` (their process was killed); return
    the paths cleaned. Live mounts are left alone. Call it when the server starts."""
    base = os.path.abspath(os.fspath(mount_dir))
    candidates = {
        mp
        for mp, fstype in _mounts()
        if fstype.startswith("fuse") and (mp == base or mp.startswith(base + os.sep))
    }
    with contextlib.suppress(OSError), os.scandir(base) as it:
        for entry in it:
            if is_stale(entry.path):
                candidates.add(entry.path)
    cleaned = []
    for mp in sorted(candidates, key=len, reverse=True):
        if not is_stale(mp):
            continue
        ok, message = _run_unmount(mp, lazy=True)
        if ok:
            log.info("Detached the stale FUSE mount %s", mp)
            cleaned.append(mp)
        else:
            log.warning("Could not detach the stale FUSE mount %s: %s", mp, message)
    if cleaned:
        cleanup_cache()
    return cleaned


def _work_dir(base: str, name: str) -> str:
    """A private directory for one FUSE process's local copies: ``<name>.<pid>.<random>``."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:40] or "fs"
    return tempfile.mkdtemp(prefix=f"{safe}.{os.getpid()}.", dir=base)


def cleanup_cache(cache_dir=None) -> list[str]:
    """Remove the work directories of FUSE processes that died without cleaning up (killed).

    Local copies of files that were open for writing in them are moved to ``unsaved/`` (they
    may hold data that never reached the store) and logged. Returns the directories removed.
    """
    base = os.fspath(cache_dir) if cache_dir else _cache_root()
    removed = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        m = re.fullmatch(r".+\.(\d+)\.[^.]+", entry.name)
        if not m or not entry.is_dir(follow_symlinks=False) or _pid_alive(int(m.group(1))):
            continue
        for f in Path(entry.path).glob("w-*"):
            with contextlib.suppress(OSError):
                if f.stat().st_size == 0:
                    continue
                unsaved = Path(base) / "unsaved"
                unsaved.mkdir(mode=0o700, exist_ok=True)
                target = unsaved / f"{time.strftime('%Y%m%d-%H%M%S')}-{m.group(1)}-{f.name}"
                shutil.move(str(f), target)
                log.warning(
                    "A FUSE process (pid %s) died with a file open for writing; its local copy "
                    "is kept in %s",
                    m.group(1),
                    target,
                )
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.path)
    return removed


def _cache_root() -> str:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    root = os.path.join(tempfile.gettempdir(), f"jupyter-workbench-fuse-{uid}")
    os.makedirs(root, mode=0o700, exist_ok=True)
    return root
