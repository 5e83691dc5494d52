"""One page of a directory listing, for the file browser.

``list_page(fs, path, page_size, marker)`` asks the store for one page only, without a HEAD
per entry: on OSS a single ListObjects call (delimiter ``/``, ``max-keys=page_size``), on S3 a
single ListObjectsV2 call, so the first page of a 100,000-key prefix comes back as fast as the
first 100. Other filesystems list the directory (fsspec ``ls``) and slice it.

``ListingBounds`` says how many entries the file browser lists of each mount folder: every folder
up to ``c.Workbench.listing_limit`` (10,000 by default), and one step more each time the user
asks for the next entries of a larger folder ("Load the next 10,000" in the file browser).
"""

from __future__ import annotations

import errno
import threading
from bisect import bisect_right
from collections import OrderedDict
from datetime import datetime, timezone

from fsspec.implementations.dirfs import DirFileSystem

from .compute import computing
from .errors import InvalidMountError, StorageUnavailableError
from .urls import normalize_relative_path

MAX_PAGE_SIZE = 1000
DEFAULT_LISTING_LIMIT = 10_000


def _to_utc(value) -> datetime | None:
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
        return _to_utc(parsed)
    return None


def _entry(name: str, rel_dir: str, kind: str, size, modified) -> dict:
    return {
        "name": name,
        "path": f"{rel_dir}/{name}" if rel_dir else name,
        "type": "directory" if kind == "directory" else "file",
        "size": int(size or 0) if kind != "directory" else 0,
        "last_modified": _to_utc(modified),
    }


def _unwrap(fs, rel: str):
    """(inner filesystem, path in it) for a mount (DirFileSystem) or a plain filesystem."""
    if isinstance(fs, DirFileSystem):
        return fs.fs, fs._join(rel)
    return fs, rel


def list_page(fs, path: str = "", page_size: int = 100, marker: str | None = None):
    """``(entries, next_marker)``: at most ``page_size`` entries of directory ``path``.

    Entries are dicts ``{name, path, type ("file"|"directory"), size, last_modified}`` with
    ``last_modified`` a UTC datetime (or None), ``path`` relative to ``fs``. Pass the returned
    ``next_marker`` to get the next page; it is None after the last page. Raises
    FileNotFoundError for a missing directory and NotADirectoryError for a file.
    """
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise InvalidMountError("page_size must be an integer.")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidMountError(f"page_size must be between 1 and {MAX_PAGE_SIZE}.")
    rel = normalize_relative_path(path)
    inner, full = _unwrap(fs, rel)
    if hasattr(inner, "list_objects_page"):
        return _oss_page(inner, full, rel, page_size, marker)
    if type(inner).__name__ == "S3FileSystem" and hasattr(inner, "call_s3"):
        return _s3_page(inner, full, rel, page_size, marker)
    return _generic_page(fs, rel, page_size, marker)


def _oss_page(inner, full: str, rel: str, page_size: int, marker):
    norm = inner._strip_protocol(full).strip("/")
    bucket, key = inner.split_path(norm)
    prefix = f"{key}/" if key else ""
    res = inner.list_objects_page(bucket, prefix, "/", marker or "", page_size)
    entries, has_marker = [], False
    with computing():  # per-entry work: one thread of the process at a time
        for obj in res.object_list:
            if obj.key == prefix:
                has_marker = True
                continue
            entries.append(_entry(obj.key[len(prefix) :], rel, "file", obj.size, obj.last_modified))
        for p in res.prefix_list:
            entries.append(_entry(p[len(prefix) :].rstrip("/"), rel, "directory", 0, None))
        entries.sort(key=lambda e: e["name"])
    next_marker = res.next_marker if res.is_truncated else None
    if not entries and not marker and not has_marker and not res.is_truncated and key:
        _check_not_file(inner, norm)
    return entries, next_marker


def _s3_page(inner, full: str, rel: str, page_size: int, marker):
    norm = inner._strip_protocol(full).strip("/")
    bucket, _, key = norm.partition("/")
    prefix = f"{key}/" if key else ""
    kwargs = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/", "MaxKeys": page_size}
    if marker:
        kwargs["ContinuationToken"] = marker
    try:
        res = inner.call_s3("list_objects_v2", **kwargs)
    except (OSError, ValueError):
        raise
    except Exception as e:  # botocore's connection errors are not OSErrors
        raise StorageUnavailableError(f"Could not list s3://{norm}: {e}") from None
    entries, has_marker = [], False
    for obj in res.get("Contents", []):
        if obj["Key"] == prefix:
            has_marker = True
            continue
        entries.append(
            _entry(obj["Key"][len(prefix) :], rel, "file", obj.get("Size"), obj.get("LastModified"))
        )
    for p in res.get("CommonPrefixes", []):
        entries.append(_entry(p["Prefix"][len(prefix) :].rstrip("/"), rel, "directory", 0, None))
    entries.sort(key=lambda e: e["name"])
    next_marker = res.get("NextContinuationToken") if res.get("IsTruncated") else None
    if not entries and not marker and not has_marker and not next_marker and key:
        _check_not_file(inner, norm)
    return entries, next_marker


def _check_not_file(inner, norm: str) -> None:
    """An empty first page: an empty directory, a file, or nothing at all?"""
    info = inner.info(norm)  # FileNotFoundError when nothing is there
    if info.get("type") != "directory":
        raise NotADirectoryError(errno.ENOTDIR, "Not a directory", norm)


def _generic_page(fs, rel: str, page_size: int, marker):
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
        items.append(_entry(name, rel, info.get("type", "file"), info.get("size"), modified))
    items.sort(key=lambda e: e["name"])
    names = [e["name"] for e in items]
    start = bisect_right(names, marker) if marker else 0
    page = items[start : start + page_size]
    more = start + page_size < len(items)
    return page, (page[-1]["name"] if more and page else None)


class ListingBounds:
    """How many entries the file browser lists of each mount folder, and what it last found.

    Every folder gets ``limit`` entries; ``more(name, rel)`` raises that folder's bound by one
    ``limit`` (the user asked for the next entries). The raised bounds of the ``max_folders``
    folders used last are kept for the server's lifetime (or until the mount is removed):
    the file browser's periodic refresh then lists as much as the user loaded.
    """

    def __init__(self, limit: int = DEFAULT_LISTING_LIMIT, max_folders: int = 256):
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidMountError("listing_limit must be a positive integer.")
        self.step = limit
        self.max_folders = max_folders
        self._lock = threading.Lock()
        self._raised: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._found: OrderedDict[tuple[str, str], tuple[int, bool]] = OrderedDict()

    def limit(self, name: str, rel: str) -> int:
        """The number of entries to list of folder ``rel`` of mount ``name``."""
        with self._lock:
            return self._raised.get((name, rel), self.step)

    def more(self, name: str, rel: str) -> int:
        """One step more for that folder; returns its new bound."""
        with self._lock:
            key = (name, rel)
            value = self._raised.pop(key, self.step) + self.step
            self._raised[key] = value
            while len(self._raised) > self.max_folders:
                self._raised.popitem(last=False)
            return value

    def record(self, name: str, rel: str, shown: int, truncated: bool) -> None:
        """What the last listing of that folder found (entries listed, whether more exist)."""
        with self._lock:
            key = (name, rel)
            self._found.pop(key, None)
            self._found[key] = (shown, truncated)
            while len(self._found) > self.max_folders:
                self._found.popitem(last=False)

    def state(self, name: str, rel: str) -> dict:
        """``{limit, step, shown, truncated}``: ``shown`` is None before the first listing."""
        with self._lock:
            shown, truncated = self._found.get((name, rel), (None, False))
            limit = self._raised.get((name, rel), self.step)
        return {"limit": limit, "step": self.step, "shown": shown, "truncated": truncated}

    def forget(self, name: str) -> None:
        """Mount ``name`` was removed or redefined: its folders start from one step again."""
        with self._lock:
            for table in (self._raised, self._found):
                for key in [k for k in table if k[0] == name]:
                    del table[key]
