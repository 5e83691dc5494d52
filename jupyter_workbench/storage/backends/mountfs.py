"""``MountFileSystem``: the fsspec filesystem a mount is, rooted at the mount's root."""

from __future__ import annotations

import functools

from fsspec.implementations.dirfs import DirFileSystem

from ..errors import ReadOnlyMountError
from ..urls import normalize_relative_path

_WRITE_METHODS = (
    "pipe",
    "pipe_file",
    "put",
    "put_file",
    "rm",
    "rm_file",
    "delete",
    "cp_file",
    "copy",
    "mv",
    "mkdir",
    "makedirs",
    "rmdir",
    "touch",
    "write_text",
    "write_bytes",
)


class MountFileSystem(DirFileSystem):
    """An fsspec filesystem rooted at a mount: paths are relative to the mount's root.

    Paths with ``..`` segments are refused (they would step outside the mount on local
    storage, and mean something else on object stores). A read-only mount refuses writes
    with ``ReadOnlyMountError``. ``repr`` shows the mount, never credentials.
    """

    # fsspec would share instances whose arguments print alike; two mounts of one endpoint
    # with different credentials must never share a filesystem.
    cachable = False

    def __init__(self, path, fs, *, mount_name: str = "", url: str = "", read_only=False, **kw):
        super().__init__(path=path, fs=fs, **kw)
        self.mount_name = mount_name
        self.url = url
        self.read_only = bool(read_only)

    def __repr__(self) -> str:
        return (
            f"MountFileSystem(mount={self.mount_name!r}, url={self.url!r}, "
            f"read_only={self.read_only})"
        )

    def _join(self, path):
        if isinstance(path, str):
            path = normalize_relative_path(self._strip_protocol(path))
        return super()._join(path)

    def _refuse(self, what: str):
        raise ReadOnlyMountError(
            f"Mount {self.mount_name!r} is read-only: cannot {what}. "
            "Remove it and add it again without read_only to write."
        )

    def open(self, path, mode="rb", *args, **kwargs):
        if self.read_only and any(c in mode for c in "wax+"):
            self._refuse(f"open {path!r} for writing")
        return super().open(path, mode, *args, **kwargs)


def _guard(name):
    original = getattr(DirFileSystem, name)

    @functools.wraps(original)
    def method(self, *args, **kwargs):
        if self.read_only:
            self._refuse(name.replace("_", " "))
        return original(self, *args, **kwargs)

    return method


for _name in _WRITE_METHODS:
    if hasattr(DirFileSystem, _name):
        setattr(MountFileSystem, _name, _guard(_name))
