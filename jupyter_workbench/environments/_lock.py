"""A per-environment advisory lock: the server and the CLI never provision one env at once."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import WorkbenchEnvError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locking
    fcntl = None


@contextlib.contextmanager
def env_lock(
    path: Path, name: str, wait_s: float, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover
        yield
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise WorkbenchEnvError(
            f"Cannot write to the environments directory {path.parent}: "
            f"{exc.strerror or exc}. Set environments_dir (JUPYTER_WORKBENCH_ENVS_DIR) to a "
            "writable directory.",
            environment=name,
            kind="venv-failed",
        ) from exc
    try:
        deadline = time.monotonic() + wait_s
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and on_wait is not None:
                    on_wait()
                    told = True
                if time.monotonic() >= deadline:
                    raise WorkbenchEnvError(
                        f"Environment {name!r} is being created or repaired by another process "
                        f"(lock {path}); try again when it has finished.",
                        environment=name,
                        kind="busy",
                    ) from None
                time.sleep(0.5)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        except OSError:
            pass
        yield
    finally:
        os.close(fd)  # closing releases the flock


def is_locked(path: Path) -> bool:
    """True while another process holds the lock (a create/repair is running). Never creates it."""
    if fcntl is None or not path.exists():  # pragma: no cover - trivial
        return False
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False
