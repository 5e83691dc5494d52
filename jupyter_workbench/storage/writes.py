"""Writes to a mount that replace their target only when complete, and streaming copies.

``StoreFile`` is how every write through the contents bridge reaches a store: on object stores
an fsspec file opened with ``autocommit=False`` (one PUT, or a multipart upload committed at the
end), on local mounts a sibling file renamed over the target. A write that fails leaves the old
content; a reader never sees half a file. ``write_bytes`` replaces a file at once;
``copy_stream`` copies between two filesystems in ``STREAM_CHUNK`` pieces (never the whole file
in memory).
"""

from __future__ import annotations

import contextlib
import functools

from .backends import backend_for

STREAM_CHUNK = 8 * 2**20  # bytes per read when streaming between stores or to a browser


class StoreFile:
    """A file opened for writing on a mount whose content replaces the target only on commit
    (the backend's ``writer``: a renamed sibling on local mounts, a deferred commit on object
    stores)."""

    def __init__(self, fs, rel: str):
        self.size = 0
        self._f = backend_for(fs).writer(fs, rel)

    def write(self, data: bytes) -> None:
        self._f.write(data)
        self.size += len(data)

    def commit(self) -> None:
        try:
            self._f.commit()
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        try:
            self._f.discard()
        except Exception:  # noqa: BLE001 - best effort; the original error matters
            pass


def _write(fs, rel: str, blocks) -> None:
    out = StoreFile(fs, rel)
    try:
        for block in blocks:
            out.write(block)
    except BaseException:
        out.discard()
        raise
    out.commit()
    with contextlib.suppress(Exception):
        fs.invalidate_cache(rel)


def write_bytes(fs, rel: str, data: bytes) -> None:
    """Replace ``rel`` on ``fs`` with ``data`` all at once (the old content stays on failure)."""
    _write(fs, rel, [data])


def copy_stream(src_fs, src: str, dst_fs, dst: str) -> None:
    """Copy a file between two filesystems in chunks; the target appears only when complete."""
    with src_fs.open(src, "rb") as f:
        _write(dst_fs, dst, iter(functools.partial(f.read, STREAM_CHUNK), b""))
