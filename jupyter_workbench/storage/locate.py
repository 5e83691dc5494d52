"""Where a path or URL really lives: on a mount, on object storage, or on the local disk.

Libraries that take "a local path, a mounted path, or an fsspec URL" (the export library) call
:func:`locate` so that every form reaches the store through the mount's fixed filesystem:

- ``mount://NAME/sub/path``: mount ``NAME`` of the registry;
- a local path under the server's mount directory (``<root>/mnt/NAME/...``): the same mount,
  through fsspec rather than the FUSE directory (object stores have no atomic directory rename;
  without FUSE the directory is not even there and files would land on the local disk, hidden
  behind the file browser's view of the mount);
- ``oss://...``: fsspec with the fixed ossfs (stock ossfs corrupts multi-block writes);
- anything else: ``None`` (a plain local path, or a URL fsspec opens as usual).
"""

from __future__ import annotations

import os
from typing import Any

from .backends import backend_for
from .errors import MountNotFoundError
from .registry import MountRegistry


def locate(target: str, *, registry: MountRegistry | None = None) -> tuple[Any, str, str] | None:
    """``(filesystem, path in it, how to show it)`` for mount paths and ``mount://`` URLs.

    Returns ``None`` for what is not on a mount; registers the fixed ``oss://`` implementation
    with fsspec on the way, so a caller's own ``fsspec.url_to_fs`` gets it.
    """
    if "://" in target:
        protocol, rest = target.split("://", 1)
        if protocol != "mount":
            backend_for(protocol).register_fsspec()  # oss://: the fixed filesystem
            return None
        name, _, sub = rest.partition("/")
        registry = registry or MountRegistry()
        return registry.filesystem(name), sub.strip("/"), target.rstrip("/")
    registry = registry or MountRegistry()
    try:
        mount_dir = registry.mount_dir
    except (OSError, ValueError):
        return None
    if mount_dir is None:
        return None
    full = os.path.abspath(os.path.expanduser(target))
    rel = os.path.relpath(full, os.path.abspath(mount_dir))
    if rel == "." or rel.startswith(".." + os.sep) or rel == "..":
        return None
    name, _, sub = rel.partition(os.sep)
    try:
        fs = registry.filesystem(name)
    except MountNotFoundError:
        return None  # a plain folder inside the mount directory
    sub = sub.replace(os.sep, "/").strip("/")
    return fs, sub, f"mount://{name}/{sub}".rstrip("/")
