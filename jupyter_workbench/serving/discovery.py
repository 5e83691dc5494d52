"""Finding the servable versions under a model base (no TensorFlow).

A model base is a directory of integer version directories (TF Serving's layout), on the local
disk, on a mount (a mount path or ``mount://NAME/...``) or behind an fsspec URL. A version is
*complete* when its directory holds ``saved_model.pb`` and nothing marks it as still being
written: the export library's reservation marker (``<base>/.workbench-versions/N.G.json``, see
:mod:`jupyter_workbench.export.reservation`) must not say ``reserved`` or ``abandoned`` (a
version without a marker was not written by the workbench and is judged by its files alone).
The export library never shows a half version under an integer name on local disks
(it renames a hidden ``.tmp-*`` sibling into place), but object stores receive files one by one
(``saved_model.pb`` last) and other tools may copy directories file by file. A version is
therefore only loaded once it is complete *and* its listing (names, sizes, mtimes) is the same
in two consecutive scans: a new version is picked up within two poll intervals.

Remote versions are copied into a local cache directory (``workbench-serving-<pid>`` under the
temporary directory) before TensorFlow loads them; a cache left by a killed server is removed by
the next one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile

from ..export.reservation import MARKER_DIR, MarkerStore
from ..storage.backends import backend_for
from .errors import ServingError

SAVED_MODEL_PB = "saved_model.pb"
#: Files whose presence says a writer has not finished the version (the export library's
#: reservation/commit markers, and partial downloads of common copy tools).
IN_PROGRESS_PREFIXES = (".tmp-", ".workbench-", "._COPYING_")
IN_PROGRESS_SUFFIXES = (".partial", ".part", ".tmp", "._COPYING_")
CACHE_PREFIX = "workbench-serving-"


class ModelBase:
    """A model base: lists versions and gives a local directory for each one."""

    def __init__(self, base: str, storage_options: dict | None = None):
        if isinstance(base, os.PathLike):
            base = os.fspath(base)
        if not isinstance(base, str) or not base.strip():
            raise ServingError(f"BASE={base!r} is not a path or URL of a model base.")
        self.shown = base.rstrip("/") or base
        self.fs = None
        self.root = None
        located = None
        try:
            from ..storage.locate import locate

            located = locate(base)
        except Exception as err:  # unknown mount, unreadable registry
            raise ServingError(f"model base {base}: {err}") from None
        if located is not None:
            self.fs, self.root, self.shown = located
        elif "://" in base and not backend_for(base).local:
            import fsspec

            try:
                self.fs, self.root = fsspec.core.url_to_fs(base, **(storage_options or {}))
            except (ImportError, ValueError, TypeError) as err:
                raise ServingError(f"model base {base}: cannot open it ({err}).") from None
        else:
            path = base.split("://", 1)[1] if "://" in base else base
            self.root = os.path.abspath(os.path.expanduser(path))
        if self.fs is not None and _is_local_fs(self.fs):
            self.root = "/" + self.root.lstrip("/") if not os.path.isabs(self.root) else self.root
            self.fs = None
        self._cache_dir: str | None = None
        self._final_markers: dict[str, bytes] = {}  # published/abandoned markers never change

    @property
    def local(self) -> bool:
        return self.fs is None

    def _join(self, *parts) -> str:
        if self.local:
            return os.path.join(self.root, *map(str, parts))
        return (
            "/".join([self.root.rstrip("/"), *map(str, parts)])
            if self.root
            else "/".join(map(str, parts))
        )

    def check(self) -> None:
        """Raise a clear error when the base is missing or is not a directory."""
        if self.local:
            if not os.path.exists(self.root):
                raise ServingError(
                    f"model base {self.shown} does not exist: export a model there first "
                    "(jupyter workbench export MODEL BASE) or pass the directory that holds the "
                    "version directories 1/, 2/, ..."
                )
            if not os.path.isdir(self.root):
                raise ServingError(f"model base {self.shown} is a file, not a directory.")
            return
        try:
            ok = self.fs.isdir(self.root)
        except Exception as err:
            raise ServingError(f"model base {self.shown} cannot be read ({err}).") from None
        if not ok:
            raise ServingError(f"model base {self.shown} does not exist (or holds nothing).")

    # ------------------------------------------------------------------ scanning

    def scan(self) -> dict[int, tuple | None]:
        """``{version: fingerprint}`` of integer directories; ``None`` for incomplete ones."""
        found: dict[int, tuple | None] = {}
        names = self._list_names()
        writing = self._being_written() if MARKER_DIR in names else set()
        for name in names:
            if name.isdigit():
                found[int(name)] = None if int(name) in writing else self._fingerprint(name)
        return found

    def _being_written(self) -> set[int]:
        """Versions whose current reservation marker is not ``published``."""
        from ..export.reservation import Reservations

        markers = _MarkerReader(self)
        reservations = Reservations(markers)
        writing = set()
        for version in reservations.reserved_versions():
            current = reservations.current(version)
            if current is not None and current.state != "published":
                writing.add(version)
        return writing

    def _list_names(self) -> list[str]:
        if self.local:
            try:
                return [n for n in os.listdir(self.root) if os.path.isdir(self._join(n))]
            except FileNotFoundError:
                return []
        try:
            entries = self.fs.ls(self.root, detail=True, refresh=True)
        except TypeError:
            entries = self.fs.ls(self.root, detail=True)
        except FileNotFoundError:
            return []
        return [
            e["name"].rstrip("/").rsplit("/", 1)[-1]
            for e in entries
            if e.get("type") == "directory"
        ]

    def _files(self, version) -> list[tuple[str, int, float]]:
        top = self._join(version)
        out = []
        if self.local:
            for dirpath, _dirs, names in os.walk(top):
                for name in names:
                    full = os.path.join(dirpath, name)
                    try:
                        st = os.stat(full)
                    except OSError:
                        continue
                    out.append((os.path.relpath(full, top), st.st_size, st.st_mtime))
            return sorted(out)
        try:
            entries = self.fs.find(top, detail=True)
        except FileNotFoundError:
            return []
        for path, info in entries.items():
            rel = path[len(top.rstrip("/")) :].lstrip("/")
            mtime = info.get("LastModified") or info.get("mtime") or info.get("last_modified")
            out.append((rel, int(info.get("size") or 0), str(mtime)))
        return sorted(out)

    def _fingerprint(self, version) -> tuple | None:
        files = self._files(version)
        names = {os.path.basename(rel) for rel, _s, _m in files}
        if SAVED_MODEL_PB not in {rel for rel, _s, _m in files}:
            return None
        for name in names:
            if name.startswith(IN_PROGRESS_PREFIXES) or name.endswith(IN_PROGRESS_SUFFIXES):
                return None
        return tuple(files)

    # ------------------------------------------------------------------ loading

    def local_path(self, version: int) -> str:
        """A local directory holding ``version`` (the version itself, or a cached copy)."""
        if self.local:
            return self._join(version)
        cache = self.cache_dir()
        target = os.path.join(cache, str(version))
        partial = target + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
        top = self._join(version).rstrip("/")
        for rel, _size, _mtime in self._files(version):
            dst = os.path.join(partial, *rel.split("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            self.fs.get_file(f"{top}/{rel}", dst)
        os.rename(partial, target)
        return target

    def release(self, version: int) -> None:
        """Forget the cached copy of ``version`` (nothing happens for local bases)."""
        if not self.local and self._cache_dir:
            shutil.rmtree(os.path.join(self._cache_dir, str(version)), ignore_errors=True)

    def cache_dir(self) -> str:
        if self._cache_dir is None:
            remove_stale_caches()
            self._cache_dir = tempfile.mkdtemp(prefix=f"{CACHE_PREFIX}{os.getpid()}-")
        return self._cache_dir

    def close(self) -> None:
        if self._cache_dir:
            shutil.rmtree(self._cache_dir, ignore_errors=True)
            self._cache_dir = None


class _MarkerReader(MarkerStore):
    """Read-only view of a base's reservation markers (one listing per scan)."""

    def __init__(self, base: ModelBase):
        self.base = base
        self.folder = base._join(MARKER_DIR)
        self._names: list[str] | None = None

    def names(self) -> list[str]:
        if self._names is None:
            try:
                if self.base.local:
                    self._names = os.listdir(self.folder)
                else:
                    listed = self.base.fs.ls(self.folder, detail=False)
                    self._names = [p.rstrip("/").rsplit("/", 1)[-1] for p in listed]
            except (FileNotFoundError, NotADirectoryError):
                self._names = []
        return self._names

    def read(self, name: str) -> bytes | None:
        cached = self.base._final_markers.get(name)
        if cached is not None:
            return cached
        try:
            if self.base.local:
                with open(os.path.join(self.folder, name), "rb") as fh:
                    data = fh.read()
            else:
                data = self.base.fs.cat_file(f"{self.folder}/{name}")
        except FileNotFoundError:
            return None
        try:
            if json.loads(data).get("state") in ("published", "abandoned"):
                self.base._final_markers[name] = data
        except (ValueError, AttributeError):
            pass
        return data


def _is_local_fs(fs) -> bool:
    """A bare local filesystem, whose paths are real paths (a mount's DirFileSystem keeps its
    paths relative to the mount, so it stays a filesystem)."""
    from fsspec.implementations.dirfs import DirFileSystem

    return not isinstance(fs, DirFileSystem) and backend_for(fs).local


_CACHE_RE = re.compile(rf"^{CACHE_PREFIX}(\d+)-")


def remove_stale_caches(tmp: str | None = None) -> list[str]:
    """Remove cache directories of serving processes that no longer run; returns them."""
    tmp = tmp or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(tmp)
    except OSError:
        return removed
    for name in names:
        match = _CACHE_RE.match(name)
        if not match:
            continue
        pid = int(match.group(1))
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # still running
        except ProcessLookupError:
            pass
        except OSError:
            continue
        shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)
        removed.append(name)
    return removed


def select_versions(complete: list[int], policy: tuple[str, tuple[int, ...]]) -> list[int]:
    """The versions a policy serves among the complete ones (ascending)."""
    kind, wanted = policy
    complete = sorted(complete)
    if kind == "all":
        return complete
    if kind == "specific":
        return [v for v in complete if v in wanted]
    return complete[-1:]
