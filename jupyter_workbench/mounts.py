"""Mounts from inside a kernel (or any Python process of the same user).

    from jupyter_workbench import mounts
    fs = mounts.filesystem("data")         # fsspec filesystem rooted at the mount
    with fs.open("train.csv") as f: ...
    mounts.list_mounts()                   # [{"name", "url", "protocol", "local_path", ...}]
    mounts.local_path("data")              # where the file browser (and FUSE) shows it

The registry and credential store are read from the state directory
($JUPYTER_WORKBENCH_STATE_DIR, else <jupyter_data_dir>/workbench), the same one the server
writes, so this works in every kernel, whatever its environment.
"""

from __future__ import annotations

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


__all__ = ["filesystem", "list_mounts", "local_path"]
