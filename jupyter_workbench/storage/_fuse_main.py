"""The FUSE process: ``python -m jupyter_workbench.storage._fuse_main`` (started by fuse.py).

Protocol with the parent (``fuse.mount_fuse``):

- stdin: an 8-byte big-endian length, then a pickled dict (the filesystem, the mount point and
  options; it may hold credentials, which is why it travels through a pipe and never through
  argv, the environment or a file). After that, stdin stays open: JSON lines ``{"cmd":
  "status", "id": n}`` ask for the open files and uploads. EOF on stdin means the parent is
  gone (exited or killed): unless the mount is detached, this process then unmounts itself
  (waiting for uploads in progress; files still open keep working until closed) and exits.
- stdout: JSON lines: ``{"event": "ready"}`` once the kernel has mounted the filesystem,
  ``{"event": "error", "message": ...}`` when mounting failed, and replies ``{"id": n, ...}``.
- stderr: log lines (the parent forwards them to its logger).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import shutil
import struct
import sys
import threading
import time

log = logging.getLogger("jupyter_workbench.storage.fuse")

MOUNT_WAIT = 120  # seconds to wait for the mount when the parent goes away while mounting

_out_lock = threading.Lock()
_out = None


def _emit(obj: dict) -> None:
    with _out_lock:
        if _out is None:
            return
        try:
            _out.write(json.dumps(obj) + "\n")
            _out.flush()
        except (OSError, ValueError):
            pass


def _read_exact(stream, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            raise EOFError("the parent closed the pipe before sending the configuration")
        buf += chunk
    return buf


def _self_unmount(ops, mountpoint: str) -> None:
    """The parent is gone: let uploads finish, then unmount (lazily if files are open)."""
    from ._fuse_system import _is_mounted, _run_unmount

    ops.wait_idle(600)
    deadline = time.monotonic() + 10
    while _is_mounted(mountpoint) and time.monotonic() < deadline:
        if _run_unmount(mountpoint, lazy=False)[0]:
            return
        time.sleep(0.5)
    if _is_mounted(mountpoint):
        log.warning("Files under %s are still open; unmounting lazily", mountpoint)
        _run_unmount(mountpoint, lazy=True)


def _control(stdin, ops_ref: list, mountpoint: str, detach: bool, mounted) -> None:
    for line in stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        reply = {"id": msg.get("id")}
        if msg.get("cmd") == "status" and ops_ref:
            reply.update(ops_ref[0].status())
        elif msg.get("cmd") == "wait_idle" and ops_ref:
            reply["idle"] = ops_ref[0].wait_idle(float(msg.get("timeout", 60)))
            reply.update(ops_ref[0].status())
        _emit(reply)
    if detach:
        return
    # The parent is gone. If it went while mounting, wait for the mount so as not to leave
    # it behind (mount failures end this process anyway).
    if mounted.wait(MOUNT_WAIT) and ops_ref:
        log.info("The process that mounted %s is gone; unmounting", mountpoint)
        _self_unmount(ops_ref[0], mountpoint)


def main() -> int:
    global _out
    # Keep stdout for the protocol: anything else writing to fd 1 goes to stderr.
    _out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    stdin = sys.stdin.buffer
    try:
        size = struct.unpack("!Q", _read_exact(stdin, 8))[0]
        config = pickle.loads(_read_exact(stdin, size))  # noqa: S301 - from our parent's pipe
    except Exception as exc:  # noqa: BLE001
        _emit({"event": "error", "message": f"Bad configuration: {exc}"})
        return 2
    logging.basicConfig(
        level=config.get("log_level", logging.INFO),
        format="[fuse %(process)d %(levelname)s] %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("mfusepy").setLevel(logging.WARNING)

    from ._fuse_ops import run_fuse

    for entry in config.get("sys_path", []):
        if entry not in sys.path:
            sys.path.append(entry)
    try:
        fs = pickle.loads(config["fs"])  # noqa: S301 - from our parent's pipe
    except Exception as exc:  # noqa: BLE001
        _emit({"event": "error", "message": f"Could not rebuild the filesystem: {exc!r}"})
        return 2
    mountpoint = config["mountpoint"]
    detach = bool(config.get("detach"))
    ops_ref: list = []
    mounted = threading.Event()
    control = threading.Thread(
        target=_control, args=(stdin, ops_ref, mountpoint, detach, mounted), daemon=True
    )

    def ready():
        mounted.set()
        _emit({"event": "ready", "pid": os.getpid()})

    control.start()
    from ._fuse_system import _work_dir

    cache_dir = _work_dir(config["cache_base"], config.get("name", "fs"))
    try:
        run_fuse(
            fs,
            mountpoint,
            read_only=config.get("read_only", False),
            name=config.get("name", ""),
            cache_dir=cache_dir,
            unsaved_dir=config.get("unsaved_dir"),
            allow_other=config.get("allow_other", False),
            attr_ttl=config.get("attr_ttl", 2.0),
            max_dir_rename=config.get("max_dir_rename", 1000),
            on_ready=ready,
            debug=config.get("debug", False),
            ops_ref=ops_ref,
        )
    except Exception as exc:  # noqa: BLE001 - mfusepy raises RuntimeError(code) on failure
        _emit({"event": "error", "message": f"Mounting at {mountpoint} failed: {exc}"})
        return 1
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    log.info("Unmounted %s", mountpoint)
    _emit({"event": "exited"})
    return 0


if __name__ == "__main__":
    code = main()
    # Exit without interpreter finalisation: the control thread may be blocked reading stdin.
    logging.shutdown()
    with _out_lock:
        if _out is not None:
            with contextlib.suppress(OSError, ValueError):
                _out.flush()
    sys.stderr.flush()
    os._exit(code)
