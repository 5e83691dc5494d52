"""One page of a directory listing, for the file browser, and how much of a folder it lists.

``list_page(fs, path, page_size, marker)`` asks the store for one page only, without a HEAD
per entry: the filesystem's backend (``storage/backends``) lists it, on OSS with a single
ListObjects call (delimiter ``/``, ``max-keys=page_size``), on S3 a single ListObjectsV2 call,
so the first page of a 100,000-key prefix comes back as fast as the first 100. Other
filesystems list the directory (fsspec ``ls``) and slice it.

``ListingBounds`` says how many entries the file browser lists of each mount folder: every folder
up to ``c.Workbench.listing_limit`` (10,000 by default), and one step more each time the user
asks for the next entries of a larger folder ("Load the next 10,000" in the file browser).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from .backends import backend_for
from .errors import InvalidMountError
from .urls import normalize_relative_path

MAX_PAGE_SIZE = 1000
DEFAULT_LISTING_LIMIT = 10_000


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
    return backend_for(fs).list_page(fs, rel, page_size, marker)


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
