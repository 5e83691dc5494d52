"""Mounts from inside a kernel (or any Python process of the same user).

    from jupyter_workbench import mounts
    fs = mounts.filesystem("data")         # fsspec filesystem rooted at the mount
    with fs.open("train.csv") as f: ...
    mounts.list_mounts()                   # [{"name", "url", "protocol", "local_path", ...}]
    mounts.local_path("data")              # where the file browser (and FUSE) shows it
    mounts.local_folder("data")            # a local folder holding its files now, or None
    mounts.sync()                          # upload what this kernel wrote in its mount view

The registry and credential store are read from the state directory
($JUPYTER_WORKBENCH_STATE_DIR, else <jupyter_data_dir>/workbench), the same one the server
writes, so this works in every kernel, whatever its environment.
"""

from __future__ import annotations

import os
from pathlib import Path

from .storage.registry import MountRegistry


def _registry(state_dir=None) -> MountRegistry:
    return MountRegistry(state_dir)


def filesystem(name: str, *, state_dir=None):
    """The fsspec filesystem rooted at mount ``name`` (paths are relative to the mount)."""
    return _registry(state_dir).filesystem(name)


def list_mounts(*, state_dir=None) -> list[dict]:
    """Every mount as a dict: name, url, protocol, options (no secrets), read_only, local_path."""
    reg = _registry(state_dir)
    return [reg.describe(m) for m in reg.list()]


def local_path(name: str, *, state_dir=None) -> Path:
    """The path under the server's mount directory where mount ``name`` appears."""
    return _registry(state_dir).local_path(name)


def local_folder(name: str, *, state_dir=None) -> Path | None:
    """A local folder where mount ``name``'s files are right now: the FUSE mount point when FUSE
    serves it, the directory itself for a ``file://`` mount, else None (never a path that does
    not exist)."""
    reg = _registry(state_dir)
    mount = reg.get(name)
    try:
        path = reg.local_path(name)
    except Exception:  # noqa: BLE001 - the mount directory is not recorded yet
        path = None
    if path is not None and os.path.ismount(path):
        return path
    if mount.url.startswith("file://"):
        source = Path(mount.url[len("file://") :])
        if source.is_dir():
            return source
    return None


def sync() -> list[str]:
    """Upload now the files this kernel wrote in its synced mount view (done anyway when each
    cell ends); returns their paths on the mount. See ``storage.workdir``."""
    from .storage import workdir

    return workdir.sync()


__all__ = ["filesystem", "list_mounts", "local_folder", "local_path", "sync"]
