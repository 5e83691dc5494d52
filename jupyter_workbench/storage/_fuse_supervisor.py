"""``FuseSupervisor``: remounts a FUSE mount whose helper process died (see fuse.py)."""

from __future__ import annotations

import logging
import threading
import time

from ._fuse_system import _is_mounted, _run_unmount, is_stale

log = logging.getLogger("jupyter_workbench.storage.fuse")


class FuseSupervisor:
    """Keeps the FUSE helpers of wanted mounts running.

    ``add(name, start)`` calls ``start()`` (which returns a :class:`FuseMount`, e.g. a
    ``functools.partial`` of :func:`mount_fuse`) and watches the result: a helper process that
    exits while its mount is wanted (SIGKILL, OOM, a crash, an outside ``fusermount -u``) would
    leave a stale directory ("Transport endpoint is not connected") until the mount is removed
    and added again. Instead, within ``interval`` seconds the supervisor detaches the stale
    mount point and calls ``start()`` again; a start that fails is retried after 1, 2, 4 ... up
    to ``max_backoff`` seconds, so a helper that cannot start never spins. ``remove(name)``
    stops watching (call it *before* unmounting on purpose); ``stop()`` stops the thread.
    """

    def __init__(self, *, interval: float = 1.0, max_backoff: float = 60.0, logger=None):
        self.interval = interval
        self.max_backoff = max_backoff
        self.log = logger or log
        self._lock = threading.Lock()
        self._wanted: dict[str, dict] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, name: str, start):
        """Mount with ``start()`` (its errors propagate) and supervise the result."""
        m = start()
        with self._lock:
            self._wanted[name] = {
                "start": start, "mount": m, "failures": 0, "next": 0.0, "restarts": 0
            }  # fmt: skip
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="workbench-fuse-supervisor", daemon=True
                )
                self._thread.start()
        return m

    def get(self, name: str):
        with self._lock:
            entry = self._wanted.get(name)
            return entry["mount"] if entry else None

    def restarts(self, name: str) -> int:
        with self._lock:
            entry = self._wanted.get(name)
            return entry["restarts"] if entry else 0

    def remove(self, name: str):
        """Stop supervising ``name``; returns its current mount (the caller unmounts it)."""
        with self._lock:
            entry = self._wanted.pop(name, None)
        return entry["mount"] if entry else None

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception as e:  # noqa: BLE001 - the supervisor must outlive any one error
                self.log.warning("FUSE supervisor: %s", e)

    def check(self) -> list[str]:
        """One pass: restart every wanted mount whose helper is gone; the names restarted."""
        now = time.monotonic()
        with self._lock:
            due = [
                (name, dict(entry))
                for name, entry in self._wanted.items()
                if not entry["mount"].alive and now >= entry["next"]
            ]
        restarted = []
        for name, entry in due:
            old = entry["mount"]
            code = old._proc.returncode if old._proc is not None else None
            mp = str(old.mountpoint)
            if is_stale(mp) or _is_mounted(mp):
                _run_unmount(mp, lazy=True)
            try:
                new = entry["start"]()
            except Exception as e:  # noqa: BLE001 - retried with a growing pause
                failures = entry["failures"] + 1
                wait = min(self.max_backoff, 2.0 ** (failures - 1))
                self.log.warning(
                    "FUSE helper of mount %s is gone and could not be restarted (%s); "
                    "retrying in %.0f s",
                    name,
                    e,
                    wait,
                )
                with self._lock:
                    if self._wanted.get(name, {}).get("mount") is old:
                        self._wanted[name].update(failures=failures, next=now + wait)
                continue
            with self._lock:
                current = self._wanted.get(name)
                if current is None or current["mount"] is not old:  # removed meanwhile
                    current = None
                else:
                    current.update(mount=new, failures=0, next=0.0)
                    current["restarts"] += 1
            if current is None:
                new.unmount(timeout=30)
                continue
            self.log.warning(
                "FUSE helper of mount %s (pid %s) exited with %s; remounted %s (pid %s)",
                name,
                old.pid,
                code,
                mp,
                new.pid,
            )
            restarted.append(name)
        return restarted
