"""The FUSE layer's attribute and listing cache (short-lived, so ``ls -l`` costs no HEAD per
entry), and the bookkeeping of stat results and handles."""

from __future__ import annotations

import errno
import stat
import time

from ._fuse_errors import _err, _FuseOSError
from ._fuse_files import _Handle, _mtime_ns, _split, _under


class _AttributeCache:
    """Mixed into ``WorkbenchFuseOperations``, whose ``__init__`` sets the state used here."""

    # ------------------------------------------------------------------ bookkeeping

    @staticmethod
    def _rel(path: str | None) -> str:
        return (path or "").strip("/")

    def _stat(self, kind: str, size: int = 0, mtime_ns: int | None = None) -> dict:
        t = self.started_ns if mtime_ns is None else mtime_ns
        if kind == "directory":
            mode = stat.S_IFDIR | (0o555 if self.read_only else 0o755)
            nlink, size = 2, 0
        else:
            mode = stat.S_IFREG | (0o444 if self.read_only else 0o644)
            nlink = 1
        return {
            "st_mode": mode,
            "st_nlink": nlink,
            "st_size": int(size),
            "st_uid": self.uid,
            "st_gid": self.gid,
            "st_mtime": t,
            "st_ctime": t,
            "st_atime": t,
            "st_blksize": 1 << 20,
            "st_blocks": (int(size) + 511) // 512,
        }

    def _from_info(self, info: dict) -> dict:
        kind = "directory" if info.get("type") == "directory" else "file"
        return self._stat(kind, info.get("size") or 0, _mtime_ns(info, self.started_ns))

    def _remember(self, rel: str, st: dict) -> None:
        with self._meta:
            self._attrs[rel] = (time.monotonic(), st)
            parent, name = _split(rel)
            listed = self._listed.get(parent)
            if listed is not None:
                listed[1].add(name)

    def _forget(self, rel: str, *, tree: bool = False, exists: bool = False) -> None:
        """Drop cached attributes of ``rel`` (and below with ``tree``); its directory's
        cached listing gains (``exists``) or loses its name."""
        with self._meta:
            self._attrs.pop(rel, None)
            parent, name = _split(rel)
            listed = self._listed.get(parent)
            if listed is not None:
                if exists:
                    listed[1].add(name)
                else:
                    listed[1].discard(name)
            if tree:
                for key in [k for k in self._attrs if _under(k, rel)]:
                    del self._attrs[key]
                for key in [k for k in self._listed if _under(k, rel)]:
                    del self._listed[key]

    def _cached(self, rel: str, max_age: float):
        """The cached attributes of ``rel`` if younger than ``max_age``, else None; raises
        ENOENT when a fresh listing of its directory does not have it."""
        now = time.monotonic()
        with self._meta:
            hit = self._attrs.get(rel)
            if hit is not None and hit[1] is None:  # recently found missing
                if now - hit[0] < min(max_age, self.negative_ttl):
                    raise _err(errno.ENOENT)
            elif hit is not None and now - hit[0] < max_age:
                return hit[1]
            parent, name = _split(rel)
            listed = self._listed.get(parent)
            if (
                listed is not None
                and now - listed[0] < min(max_age, self.negative_ttl)
                and name not in listed[1]
            ):
                raise _err(errno.ENOENT)
        return None

    def _check_writable(self) -> None:
        if self.read_only:
            raise _err(errno.EROFS)

    def _lookup(self, rel: str, max_age: float | None = None) -> dict:
        """Attributes of ``rel``: of its open local copy, cached, or from one ``info``."""
        if not rel:
            return self._stat("directory")
        with self._files_lock:
            dirty = self._files.get(rel)
        if dirty is not None and dirty.ready.is_set() and dirty.load_error is None:
            return self._stat("file", dirty.size, dirty.mtime_ns)
        st = self._cached(rel, self.attr_ttl if max_age is None else max_age)
        if st is not None:
            return st
        try:
            info = self.fs.info(rel, refresh=True)
        except (FileNotFoundError, NotADirectoryError):
            with self._meta:
                self._attrs[rel] = (time.monotonic(), None)
            raise _err(errno.ENOENT) from None
        st = self._from_info(info)
        self._remember(rel, st)
        return st

    def _is_dir(self, st: dict) -> bool:
        return stat.S_ISDIR(st["st_mode"])

    def _exists(self, rel: str):
        try:
            return self._lookup(rel)
        except _FuseOSError as e:
            if e.errno == errno.ENOENT:
                return None
            raise
        except FileNotFoundError:
            return None

    def _add_handle(self, handle: _Handle) -> int:
        with self._meta:
            fh = self._next_fh
            self._next_fh += 1
            self._handles[fh] = handle
        return fh
