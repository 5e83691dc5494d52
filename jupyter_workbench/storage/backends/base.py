"""The protocol every storage backend implements, and what backends share.

A backend is the one place that knows a storage protocol: how its mount URLs parse, how its
fsspec filesystem is built, how one page of a directory is listed, how a new mount is checked,
how a file is streamed to it while being written, and what the store guarantees (conditional
create, native rename). Callers ask :func:`~jupyter_workbench.storage.backends.backend_for`
instead of looking at a filesystem's class.
"""

from __future__ import annotations

import errno
from bisect import bisect_right
from datetime import datetime, timezone

from ..urls import MountTarget


class Backend:
    """A storage protocol. Subclasses override what their store does differently.

    ``protocols``: the URL schemes (and fsspec protocol names) this backend answers for, the
    first being its name. ``local``: files live on this machine's disk (native rename, real
    paths). ``object_store``: a bucket with keys (an empty prefix is a valid mount).
    ``conditional_create``: ``pipe_file(path, data, mode="create")`` is atomic on the store.
    ``url_credentials``: a key and secret may be written into the URL (``oss://AK:SK@b``).
    """

    protocols: tuple[str, ...] = ()
    local = False
    object_store = False
    conditional_create = False
    url_credentials = False

    @property
    def name(self) -> str:
        return self.protocols[0]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}://>"

    # ------------------------------------------------------------------ mount URLs

    def parse(
        self, protocol: str, url: str, options: dict, *, allowed_local_roots=None
    ) -> MountTarget:
        """The validated :class:`MountTarget` of ``url`` (``protocol`` is its scheme)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ filesystems

    def filesystem(self, mount, secrets: dict, *, allowed_local_roots=None, state_dir=None):
        """``(fsspec filesystem, root path in it)`` for ``mount`` (a ``Mount``)."""
        raise NotImplementedError

    def release(self, mount, state_dir=None) -> None:
        """Undo what using the mount set up on this machine; never deletes data."""

    def register_fsspec(self) -> None:
        """Make fsspec's own URL opening use this backend's filesystem (when it has one)."""

    # ------------------------------------------------------------------ operations

    def probe(self, mount, fs) -> None:
        """List the root of ``fs`` (the mount's filesystem) once; raise what the store says."""
        self.list_page(fs, "", 1, None)

    def list_page(self, fs, rel: str, page_size: int, marker: str | None):
        """``(entries, next_marker)`` of directory ``rel`` of ``fs``: fsspec ``ls``, sliced."""
        return generic_page(fs, rel, page_size, marker)

    def writer(self, fs, rel: str):
        """A file for replacing ``rel`` on ``fs``: ``write(data)``, then ``commit()`` (the
        target changes only now) or ``discard()`` (it keeps its old content)."""
        return DeferredWriter(fs, rel)

    def streaming_writer(self, fs):
        """A function ``rel -> upload`` that uploads file ``rel`` of ``fs`` while it is written
        front to back (``feed(data)``, ``offset``, ``finish()``, ``abandon()``; see
        ``oss_stream.StreamingUpload``), or None when the store has no such upload (the FUSE
        layer then uploads the whole local copy at close)."""
        return None


class DeferredWriter:
    """An fsspec file opened with ``autocommit=False`` (one PUT, or a multipart upload
    completed at commit); filesystems without deferred commit write as they go, and a
    discarded write at least never lets ``close()`` commit half a file."""

    def __init__(self, fs, rel: str):
        try:
            self._f, self._deferred = fs.open(rel, "wb", autocommit=False), True
        except (TypeError, NotImplementedError):
            self._f, self._deferred = fs.open(rel, "wb"), False

    def write(self, data: bytes) -> None:
        self._f.write(data)

    def commit(self) -> None:
        self._f.close()
        if self._deferred:
            self._f.commit()

    def discard(self) -> None:
        if hasattr(self._f, "discard"):
            self._f.discard()
        else:
            self._f.closed = True


def unwrap(fs, rel: str = ""):
    """(inner filesystem, path in it) for a mount (DirFileSystem) or a plain filesystem."""
    from fsspec.implementations.dirfs import DirFileSystem

    if isinstance(fs, DirFileSystem):
        return fs.fs, fs._join(rel)
    return fs, rel


# ------------------------------------------------------------------ listing entries


def to_utc(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return (
            value.replace(tzinfo=timezone.utc)
            if value.tzinfo is None
            else value.astimezone(timezone.utc)
        )
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return to_utc(parsed)
    return None


def entry(name: str, rel_dir: str, kind: str, size, modified) -> dict:
    """One listing entry (see ``storage.list_page``)."""
    return {
        "name": name,
        "path": f"{rel_dir}/{name}" if rel_dir else name,
        "type": "directory" if kind == "directory" else "file",
        "size": int(size or 0) if kind != "directory" else 0,
        "last_modified": to_utc(modified),
    }


def check_not_file(inner, norm: str) -> None:
    """An empty first page: an empty directory, a file, or nothing at all?"""
    info = inner.info(norm)  # FileNotFoundError when nothing is there
    if info.get("type") != "directory":
        raise NotADirectoryError(errno.ENOTDIR, "Not a directory", norm)


def generic_page(fs, rel: str, page_size: int, marker):
    if rel and not fs.isdir(rel):
        if fs.exists(rel):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", rel)
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", rel)
    listing = fs.ls(rel, detail=True)
    items = []
    for info in listing:
        name = info["name"].rstrip("/").rsplit("/", 1)[-1]
        if not name:
            continue
        modified = next(
            (
                info[k]
                for k in ("LastModified", "mtime", "last_modified", "modified", "updated")
                if info.get(k) is not None
            ),
            None,
        )
        items.append(entry(name, rel, info.get("type", "file"), info.get("size"), modified))
    items.sort(key=lambda e: e["name"])
    names = [e["name"] for e in items]
    start = bisect_right(names, marker) if marker else 0
    page = items[start : start + page_size]
    more = start + page_size < len(items)
    return page, (page[-1]["name"] if more and page else None)
