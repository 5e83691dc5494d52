"""The one atomic-write helper: a file written next to its target and renamed over it.

Every file the workbench writes for others to read (the mount registry, the 0600 credential
store, job records, kernelspecs, environment markers, saves on local mounts, checkpoints) goes
through ``AtomicFile`` or ``write_atomic``, so they all give the same guarantees:

- a reader sees the old file or the new one, never half of one (temporary sibling, ``fsync``,
  ``os.replace``);
- the temporary file is created with ``O_EXCL|O_NOFOLLOW`` and, with ``mode``, has that mode
  from its first instant (``fchmod`` against odd umasks): a private file is never readable by
  others, not even briefly;
- ``keep_mode=True`` gives the new file the mode of the one it replaces;
- a failed write leaves no temporary file behind.

Nothing here imports Jupyter.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import uuid

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


class AtomicFile:
    """A binary file that replaces ``path`` on ``commit()`` (``discard()`` leaves it alone).

    As a context manager it commits when the block succeeds and discards when it raises.
    """

    def __init__(self, path, *, mode: int | None = None, keep_mode: bool = False):
        self.path = os.fspath(path)
        folder, name = os.path.split(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(errno.ENOENT, "No such directory", folder)
        self.temp = os.path.join(folder, f".~{name}.{uuid.uuid4().hex[:12]}.tmp")
        self._keep_mode = keep_mode
        fd = os.open(self.temp, _FLAGS, 0o666 if mode is None else mode)
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            self._f = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(self.temp)
            raise

    def write(self, data: bytes) -> int:
        return self._f.write(data)

    def commit(self) -> None:
        try:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            if self._keep_mode:
                with contextlib.suppress(OSError):
                    os.chmod(self.temp, os.stat(self.path).st_mode & 0o7777)
            os.replace(self.temp, self.path)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._f.close()
        with contextlib.suppress(OSError):
            os.unlink(self.temp)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def write_atomic(path, data: bytes | str, *, mode: int | None = None, keep_mode=False) -> None:
    """Replace ``path`` with ``data`` (str is written as UTF-8) in one step."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with AtomicFile(path, mode=mode, keep_mode=keep_mode) as f:
        f.write(data)


def write_json_atomic(path, data, *, mode: int | None = 0o644, indent: int | None = 1) -> None:
    """Replace ``path`` with ``data`` as JSON (sorted keys) in one step."""
    write_atomic(path, json.dumps(data, indent=indent, sort_keys=True), mode=mode)
