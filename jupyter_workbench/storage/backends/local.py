"""file://: fsspec's LocalFileSystem over an already-mounted directory. The path must be under
``allowed_local_roots`` and is re-checked whenever the filesystem is built (a symlink swapped
after the mount was added is refused)."""

from __future__ import annotations

import errno
import os
from urllib.parse import unquote

from ..errors import InvalidMountError, PathNotAllowedError
from ..urls import MountTarget, apply_schema, reject_query, resolve_local_path, split_url
from .base import Backend


class LocalBackend(Backend):
    protocols = ("file", "local")
    local = True

    def parse(self, protocol, url, options, *, allowed_local_roots=None):
        u = split_url(url)
        if u.netloc not in ("", "localhost"):
            raise InvalidMountError(
                f"{url!r} names host {u.netloc!r}: file:// URLs must be local (file:///path). "
                "For an NFS share use nas://server:/export."
            )
        reject_query(u, url)
        apply_schema("file", options, {})
        path = unquote(u.path)
        if "\x00" in path:
            raise PathNotAllowedError("Path contains a NUL character.")
        real = resolve_local_path(path, allowed_local_roots, url)
        return MountTarget("file", f"file://{real}", real, {"path": real}, {}, {})

    def filesystem(self, mount, secrets, *, allowed_local_roots=None, state_dir=None):
        from fsspec.implementations.local import LocalFileSystem

        path = mount.root
        if allowed_local_roots:
            real = resolve_local_path(path, allowed_local_roots, mount.url)
        else:
            real = os.path.realpath(path)
            if not os.path.isdir(real):
                raise FileNotFoundError(errno.ENOENT, f"Mount {mount.name!r}: no directory", path)
        if real != path:
            raise PathNotAllowedError(
                f"Mount {mount.name!r}: {path!r} now resolves to {real!r} (a symlink changed); "
                "remove the mount and add it again."
            )
        return LocalFileSystem(), path

    def writer(self, fs, rel: str):
        """A sibling temporary file renamed over the target at commit (fsynced)."""
        from fsspec.implementations.dirfs import DirFileSystem

        from ...atomic import AtomicFile

        if not isinstance(fs, DirFileSystem):  # no real root to put the sibling under
            return super().writer(fs, rel)
        return AtomicFile(fs._join(rel), keep_mode=True)
