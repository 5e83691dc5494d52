"""Small file helpers for the state directory: JSON reads, private folders, a lock (atomic
writes: ``jupyter_workbench.atomic``)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (also when it belongs to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700 when new) and return it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def read_json(path: Path, default):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return default


_held = threading.local()
_thread_locks: dict[str, threading.RLock] = {}
_thread_locks_guard = threading.Lock()


@contextlib.contextmanager
def locked(lock_path: Path):
    """An exclusive lock on the state directory, reentrant within a thread.

    A thread lock serialises threads of this process; flock serialises processes (the server,
    the CLI, kernels). flock is per open file, so nested use in one thread must not re-lock.
    """
    key = os.path.abspath(lock_path)
    with _thread_locks_guard:
        tlock = _thread_locks.setdefault(key, threading.RLock())
    with tlock:
        depth = getattr(_held, key, 0)
        if depth or fcntl is None:
            setattr(_held, key, depth + 1)
            try:
                yield
            finally:
                setattr(_held, key, depth)
            return
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            setattr(_held, key, 1)
            yield
        finally:
            setattr(_held, key, 0)
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
