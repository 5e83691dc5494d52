"""``FuseMount``: one FUSE mount served by its helper process, as the server sees it (status
over the helper's pipe, unmount, kill), and the errors of FUSE mounts (see fuse.py)."""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import queue
import re
import subprocess
import threading
import time
from pathlib import Path

from ._fuse_system import _is_mounted, _run_unmount, is_stale
from .errors import StorageError, UnsupportedMountError

log = logging.getLogger("jupyter_workbench.storage.fuse")

_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


class FuseUnavailableError(UnsupportedMountError):
    """FUSE cannot work on this machine; the message says why (see ``fuse_available``)."""

    category = "fuse_unavailable"


class FuseMountError(StorageError):
    """Mounting or unmounting failed (the mount point is busy, the FUSE process died, ...)."""

    category = "fuse"
    http_status = 500

    def __str__(self) -> str:
        return self.message


_active: dict[int, FuseMount] = {}
_active_lock = threading.Lock()


class FuseMount:
    """A filesystem mounted with FUSE, served by a child process (see the module doc).

    ``mountpoint``, ``name``, ``read_only``, ``pid``; ``alive`` (the process runs),
    ``mounted`` (the kernel has it mounted); ``status()``; ``unmount(timeout)``.
    Usable as a context manager (unmounts on exit).
    """

    def __init__(self, mountpoint, name: str, read_only: bool, process=None, detached=False):
        self.mountpoint = Path(mountpoint)
        self.name = name
        self.read_only = read_only
        self.detached = detached
        self._proc: subprocess.Popen | None = process
        self._events: queue.Queue = queue.Queue()
        self._replies: dict[int, dict] = {}
        self._reply_cv = threading.Condition()
        self._write_lock = threading.Lock()
        self._next_id = 0
        self._stderr_tail: collections.deque = collections.deque(maxlen=40)
        self._threads: list[threading.Thread] = []
        self._lazily_detached = False

    def __repr__(self) -> str:
        state = "mounted" if self.alive else "unmounted"
        return f"FuseMount({self.name!r} at {str(self.mountpoint)!r}, pid={self.pid}, {state})"

    def __enter__(self) -> FuseMount:
        return self

    def __exit__(self, *exc) -> None:
        self.unmount()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def mounted(self) -> bool:
        return _is_mounted(self.mountpoint)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "mountpoint": str(self.mountpoint),
            "pid": self.pid,
            "alive": self.alive,
            "read_only": self.read_only,
        }

    # ------------------------------------------------------------------ pipes

    def _start_readers(self, log_stderr: bool) -> None:
        proc = self._proc

        def read_stdout():
            for raw in proc.stdout:
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue
                if msg.get("id") is not None:
                    with self._reply_cv:
                        self._replies[msg["id"]] = msg
                        self._reply_cv.notify_all()
                elif "event" in msg:
                    self._events.put(msg)
            self._events.put({"event": "eof"})
            with self._reply_cv:
                self._reply_cv.notify_all()

        def read_stderr():
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                if not line:
                    continue
                self._stderr_tail.append(line)
                m = re.match(r"\[fuse \d+ (\w+)\] ", line)
                if m:
                    level = _LEVELS.get(m.group(1), logging.INFO)
                elif "invalid max threads" in line:
                    level = logging.DEBUG  # libfuse 3.14 about mfusepy's loop config
                else:
                    level = logging.WARNING
                log.log(level, "%s: %s", self.name, line[m.end() :] if m else line)

        readers = [read_stdout] + ([read_stderr] if log_stderr else [])
        for target in readers:
            t = threading.Thread(target=target, daemon=True, name=f"fuse-{self.name}")
            t.start()
            self._threads.append(t)

    def _request(self, msg: dict, timeout: float) -> dict | None:
        proc = self._proc
        if proc is None or proc.poll() is not None or proc.stdin is None or proc.stdin.closed:
            return None
        with self._write_lock:
            self._next_id += 1
            msg_id = msg["id"] = self._next_id
            try:
                proc.stdin.write((json.dumps(msg) + "\n").encode())
                proc.stdin.flush()
            except (OSError, ValueError):
                return None
        deadline = time.monotonic() + timeout
        with self._reply_cv:
            while msg_id not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or proc.poll() is not None:
                    return None
                self._reply_cv.wait(min(left, 0.5))
            return self._replies.pop(msg_id)

    def status(self, timeout: float = 5.0) -> dict | None:
        """Files open for writing, uploads in progress, failed uploads (None if not running)."""
        reply = self._request({"cmd": "status"}, timeout)
        if reply is not None:
            reply.pop("id", None)
        return reply

    def _close_stdin(self) -> None:
        proc = self._proc
        if proc is not None and proc.stdin is not None:
            with self._write_lock, contextlib.suppress(OSError, ValueError):
                proc.stdin.close()

    # ------------------------------------------------------------------ lifecycle

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the FUSE process to exit; False on timeout."""
        if self._proc is None:
            return True
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def unmount(self, timeout: float = 60.0, *, lazy: bool = True, remove_dir=False) -> bool:
        """Unmount after uploads in progress finish; True once the FUSE process has exited.

        Waits up to ``timeout`` seconds for uploads and for files open on the mount to be
        closed. If some are still open then: with ``lazy=True`` the mount is detached from the
        directory tree and the process keeps serving the open files, uploading them when they
        are closed, then exits (returns False); with ``lazy=False`` ``FuseMountError`` is
        raised and the mount stays. Nothing written is dropped either way.
        ``remove_dir=True`` then removes the mount point if it is an empty directory.
        """
        try:
            return self._unmount(timeout, lazy)
        finally:
            mp = str(self.mountpoint)
            if remove_dir and not _is_mounted(mp):
                with contextlib.suppress(OSError):
                    os.rmdir(mp)  # only ever an empty directory

    def _unmount(self, timeout: float, lazy: bool) -> bool:
        deadline = time.monotonic() + max(0.0, float(timeout))
        mp = str(self.mountpoint)
        try:
            if not self.alive:
                if is_stale(mp) or _is_mounted(mp):
                    _run_unmount(mp, lazy=True)
                return True
            self._request({"cmd": "wait_idle", "timeout": max(0.0, timeout - 1)}, timeout)
            busy_logged = False
            while _is_mounted(mp):
                ok, message = _run_unmount(mp, lazy=False)
                if ok or not _is_mounted(mp):
                    break
                if time.monotonic() >= deadline:
                    status = self.status(timeout=2) or {}
                    open_files = status.get("open_for_write") or []
                    if not lazy:
                        raise FuseMountError(
                            f"Cannot unmount {mp}: it is busy ({message}). "
                            f"Files open for writing: {', '.join(open_files) or 'none'}."
                        )
                    log.warning(
                        "%s is busy (%s); detaching it. Files still open (%s) are stored "
                        "when closed.",
                        mp,
                        message,
                        ", ".join(open_files) or "read-only",
                    )
                    _run_unmount(mp, lazy=True)
                    self._lazily_detached = True
                    break
                if not busy_logged:
                    log.info("%s is busy (%s); waiting", mp, message)
                    busy_logged = True
                time.sleep(0.2)
            self._close_stdin()
            exited = self.wait(max(0.5, deadline - time.monotonic()))
            if not exited and not self._lazily_detached and not _is_mounted(mp):
                # Cleanly unmounted (so every file was closed and stored), yet still running.
                self._proc.terminate()
                exited = self.wait(5)
            return exited
        finally:
            if not self.alive:
                with _active_lock:
                    _active.pop(id(self), None)

    def kill(self) -> None:
        """SIGKILL the FUSE process (tests: it leaves a stale mount behind)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)
