"""Where a model base keeps its version markers (``<base>/.workbench-versions/``).

:class:`~.reservation.MarkerStore` is the protocol the reservations use; here are its two
implementations: :class:`LocalMarkers` for local paths (``O_EXCL`` creation, fsynced) and
:class:`FsspecMarkers` for fsspec filesystems (the store's conditional write where its backend
has one, else ``open(path, "xb")``).
"""

from __future__ import annotations

import os
import secrets

from . import durability
from .reservation import MARKER_DIR, MarkerStore


class LocalMarkers(MarkerStore):
    def __init__(self, base: str):
        self.dir = os.path.join(base, MARKER_DIR)

    def create(self, name: str, data: bytes) -> bool:
        os.makedirs(self.dir, exist_ok=True)
        path = os.path.join(self.dir, name)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        durability.fsync_path(self.dir)
        return True

    def write(self, name: str, data: bytes) -> None:
        path = os.path.join(self.dir, name)
        tmp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def read(self, name: str) -> bytes | None:
        try:
            with open(os.path.join(self.dir, name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def names(self) -> list[str]:
        try:
            return os.listdir(self.dir)
        except (FileNotFoundError, NotADirectoryError):
            return []

    def remove(self, name: str) -> None:
        try:
            os.unlink(os.path.join(self.dir, name))
        except FileNotFoundError:
            pass


class FsspecMarkers(MarkerStore):
    """Markers on an fsspec filesystem; exclusive creation through the store's conditional
    write (``pipe_file(mode="create")``: OSS ``x-oss-forbid-overwrite``, S3
    ``If-None-Match``), or ``open(path, "xb")`` for the others."""

    def __init__(self, fs, directory: str):
        self.fs, self.dir = fs, directory.rstrip("/")

    def _conditional_put(self) -> bool:
        from ..storage.backends import backend_for

        return backend_for(self.fs).conditional_create

    def create(self, name: str, data: bytes) -> bool:
        path = f"{self.dir}/{name}"
        try:
            if self._conditional_put():
                self.fs.pipe_file(path, data, mode="create")
            else:
                self.fs.makedirs(self.dir, exist_ok=True)
                with self.fs.open(path, "xb") as f:
                    f.write(data)
        except FileExistsError:
            return False
        except OSError as err:
            # s3fs reports a failed If-None-Match (412 PreconditionFailed) as a plain OSError
            if "PreconditionFailed" in str(err) or "412" in str(err):
                return False
            raise
        return True

    def write(self, name: str, data: bytes) -> None:
        self.fs.pipe_file(f"{self.dir}/{name}", data)

    def read(self, name: str) -> bytes | None:
        try:
            return self.fs.cat_file(f"{self.dir}/{name}")
        except FileNotFoundError:
            return None

    def names(self) -> list[str]:
        self.fs.invalidate_cache(self.dir)
        try:
            entries = self.fs.ls(self.dir, detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [e.rstrip("/").rsplit("/", 1)[-1] for e in entries]

    def remove(self, name: str) -> None:
        try:
            self.fs.rm_file(f"{self.dir}/{name}")
        except FileNotFoundError:
            pass
