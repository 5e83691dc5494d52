"""The contents bridge: mounts in JupyterLab's stock file browser.

``WorkbenchContentsManager`` is jupyter_server's ``AsyncLargeFileManager`` with one difference:
API paths under the mount directory (``c.Workbench.mount_dir``, default ``mnt``) that start with
a mount's name, ``mnt/<name>/...``, are served from that mount's fsspec filesystem
(``MountRegistry.filesystem``); every other path goes to the parent class unchanged. ``mnt``
itself lists the mounts as folders, merged with whatever real files are there.

How it behaves on a mount:

- Directory listings are one ``storage.list_page`` call (one ListObjects on OSS/S3, no HEAD per
  object) returning at most ``c.Workbench.listing_page_size`` entries, so the first page of a
  100,000-key prefix shows at once. A model that stops early carries ``"truncated": true`` and
  ``"next_marker"``; the stock file browser ignores both, so the Workbench sidebar's Mounts
  panel offers "List more" (through ``GET workbench/api/mounts/<name>/listing``).
- Every call to the store runs on a dedicated thread pool (``run_blocking``): a slow or
  unreachable store never blocks the server's event loop.
- Missing files answer 404, existing targets 409, read-only mounts refuse writes with 403, store
  failures (unreachable, repeated 5xx) 502 and rejected credentials 400, each with a message that
  says what to do. Names are kept as they are (spaces included).
- Saves write to a temporary object or file that replaces the old one only once complete (one PUT
  or a multipart upload on OSS, a sibling file renamed into place on local paths): a save that
  fails leaves the previous content and is reported as failed. Chunked uploads (large files from
  the file browser) stream into one upload that is committed with the last chunk.
- Checkpoints of mount files live in a local cache under the workbench state directory
  (``<state_dir>/checkpoints/<mount>/...``), never on the storage.
- ``/files/mnt/<name>/...`` (downloads, images, "Open in new tab") is streamed from the store in
  chunks by ``MountFilesHandler``, never built as one base64 body.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import errno
import functools
import json
import mimetypes
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone

import nbformat
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import AuthenticatedFileHandler
from jupyter_server.services.contents.filecheckpoints import AsyncFileCheckpoints
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from jupyter_server.services.contents.manager import AsyncContentsManager
from tornado import web
from tornado.iostream import StreamClosedError
from traitlets import Int, TraitError, Unicode, default, validate

from .storage import (
    Mount,
    MountRegistry,
    StorageCredentialsError,
    StorageError,
    StorageUnavailableError,
    http_status_for,
    normalize_relative_path,
)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
STREAM_CHUNK = 8 * 2**20  # bytes per ranged read when streaming a download
UPLOAD_IDLE_TIMEOUT = 30 * 60  # seconds after which an unfinished chunked upload is dropped
MAX_STORAGE_THREADS = 16

# ------------------------------------------------------------------------------ threads

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def storage_executor() -> ThreadPoolExecutor:
    """The pool that runs blocking storage calls (separate from the server's default pool,
    so that a hanging store cannot starve local file operations)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=MAX_STORAGE_THREADS, thread_name_prefix="workbench-storage"
            )
        return _executor


async def run_blocking(fn, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` on the storage thread pool and await its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(storage_executor(), functools.partial(fn, *args, **kwargs))


# ------------------------------------------------------------------------------ mount state


class MountStates:
    """The last known health of each mount, from checks and from file operations."""

    def __init__(self):
        self._lock = threading.Lock()
        self._states: dict[str, dict] = {}

    def ok(self, name: str) -> None:
        with self._lock:
            self._states[name] = {"state": "ok", "message": None, "checked_at": time.time()}

    def error(self, name: str, message: str) -> None:
        with self._lock:
            self._states[name] = {"state": "error", "message": message, "checked_at": time.time()}

    def get(self, name: str) -> dict:
        with self._lock:
            state = self._states.get(name)
            return (
                dict(state) if state else {"state": "unknown", "message": None, "checked_at": None}
            )

    def forget(self, name: str) -> None:
        with self._lock:
            self._states.pop(name, None)


mount_states = MountStates()


# ------------------------------------------------------------------------------ errors


def http_error(exc: BaseException, api_path: str = "") -> web.HTTPError:
    """The HTTPError to answer for an exception raised by a storage call on ``api_path``."""
    if isinstance(exc, web.HTTPError):
        return exc
    status = http_status_for(exc)
    where = f": {api_path}" if api_path else ""
    if isinstance(exc, StorageError):
        message = exc.message
    elif isinstance(exc, FileNotFoundError):
        message = f"No such file or directory{where}"
    elif isinstance(exc, FileExistsError):
        message = f"A file or directory already exists{where}"
    elif isinstance(exc, NotADirectoryError):
        message = f"Not a directory{where}"
    elif isinstance(exc, IsADirectoryError):
        message = f"Is a directory{where}"
    elif isinstance(exc, PermissionError):
        message = f"Permission denied{where}"
    elif isinstance(exc, OSError):
        # The store failed in a way the storage layer did not classify: still the store's fault.
        status = 502
        message = f"Storage error{where}: {exc.strerror or exc}"
    else:
        message = f"{type(exc).__name__}{where}: {exc}"
    return web.HTTPError(status, message)


def _utc(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    if isinstance(value, str) and value:
        try:
            return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _modified(info: dict) -> datetime | None:
    for key in ("LastModified", "mtime", "last_modified", "modified", "updated", "created"):
        value = _utc(info.get(key))
        if value is not None:
            return value
    return None


# ------------------------------------------------------------------------------ writes


class _AtomicLocalFile:
    """A file written next to its target and renamed over it on commit (local mounts)."""

    def __init__(self, path: str):
        self.path = path
        folder, name = os.path.split(path)
        if not os.path.isdir(folder):
            raise FileNotFoundError(errno.ENOENT, "No such directory", folder)
        self.temp = os.path.join(folder, f".~{name}.{uuid.uuid4().hex[:8]}.tmp")
        self._f = open(self.temp, "xb")  # noqa: SIM115 - closed in commit/discard

    def write(self, data: bytes) -> int:
        return self._f.write(data)

    def commit(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        with contextlib.suppress(OSError):
            os.chmod(self.temp, os.stat(self.path).st_mode & 0o7777)
        os.replace(self.temp, self.path)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._f.close()
        with contextlib.suppress(OSError):
            os.unlink(self.temp)


class _StoreFile:
    """An fsspec file opened for writing whose content replaces the target only on commit."""

    def __init__(self, fs, rel: str):
        self.size = 0
        inner = getattr(fs, "fs", None)
        if type(inner).__name__ == "LocalFileSystem":
            self._f, self._deferred, self._local = _AtomicLocalFile(fs._join(rel)), True, True
            return
        self._local = False
        try:
            self._f, self._deferred = fs.open(rel, "wb", autocommit=False), True
        except (TypeError, NotImplementedError):
            self._f, self._deferred = fs.open(rel, "wb"), False

    def write(self, data: bytes) -> None:
        self._f.write(data)
        self.size += len(data)

    def commit(self) -> None:
        try:
            if self._local:
                self._f.commit()
                return
            self._f.close()
            if self._deferred:
                self._f.commit()
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        try:
            if hasattr(self._f, "discard"):
                self._f.discard()
            else:  # no way to undo: at least never let close() commit half a file
                self._f.closed = True
        except Exception:  # noqa: BLE001 - best effort; the original error matters
            pass


def write_bytes(fs, rel: str, data: bytes) -> None:
    """Replace ``rel`` on ``fs`` with ``data`` all at once (the old content stays on failure)."""
    f = _StoreFile(fs, rel)
    try:
        f.write(data)
    except BaseException:
        f.discard()
        raise
    f.commit()
    with contextlib.suppress(Exception):
        fs.invalidate_cache(rel)


@dataclass
class _Upload:
    """A chunked upload in progress (JupyterLab sends chunks 1, 2, ..., then -1)."""

    file: _StoreFile
    next_chunk: int = 2
    touched: float = 0.0


# ------------------------------------------------------------------------------ routing


@dataclass(frozen=True)
class Route:
    """Where an API path lives: ``local`` (parent class), ``mount_dir`` (``mnt`` itself) or
    ``mount`` (``mnt/<name>/<rel>``)."""

    kind: str
    path: str
    mount: Mount | None = None
    rel: str = ""

    @property
    def name(self) -> str:
        return self.mount.name if self.mount else ""


class WorkbenchContentsManager(AsyncLargeFileManager):
    """``AsyncLargeFileManager`` that serves ``<mount_dir>/<name>/...`` from mounts."""

    mount_dir = Unicode(
        help="API path under the server root where mounts appear (c.Workbench.mount_dir)."
    ).tag(config=True)
    listing_page_size = Int(
        help="Most entries of a mount directory listed at once (c.Workbench.listing_page_size)."
    ).tag(config=True)

    @default("mount_dir")
    def _default_mount_dir(self):
        return self._workbench_setting("mount_dir", "mnt")

    @default("listing_page_size")
    def _default_listing_page_size(self):
        return self._workbench_setting("listing_page_size", 1000)

    @validate("mount_dir")
    def _validate_mount_dir(self, proposal):
        value = str(proposal["value"] or "").strip()
        root = os.path.abspath(self.root_dir)
        if os.path.isabs(value):
            value = os.path.relpath(os.path.abspath(value), root)
        try:
            value = normalize_relative_path(value)
        except StorageError as e:
            raise TraitError(f"mount_dir {proposal['value']!r}: {e.message}") from None
        if not value or value.startswith(".."):
            raise TraitError(f"mount_dir {proposal['value']!r} must be a folder under the root.")
        return value

    @validate("listing_page_size")
    def _validate_listing_page_size(self, proposal):
        if proposal["value"] < 1:
            raise TraitError("listing_page_size must be at least 1.")
        return proposal["value"]

    @default("checkpoints_class")
    def _default_checkpoints_class(self):
        return WorkbenchCheckpoints

    @default("files_handler_class")
    def _default_files_handler_class(self):
        return MountFilesHandler

    def _workbench_setting(self, key: str, fallback):
        config = self.config
        if "Workbench" in config and key in config["Workbench"]:
            return config["Workbench"][key]
        return fallback

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._registry: MountRegistry | None = None
        self._mounts_key = None
        self._mounts_cache: dict[str, Mount] = {}
        self._fs_cache: dict[str, tuple] = {}
        self._uploads: dict[tuple, _Upload] = {}
        self._upload_locks: dict[tuple, asyncio.Lock] = {}

    # ------------------------------------------------------------------ registry

    @property
    def registry(self) -> MountRegistry:
        if self._registry is None:
            self._registry = MountRegistry()
        return self._registry

    @registry.setter
    def registry(self, value: MountRegistry) -> None:
        self._registry = value
        self._mounts_key = None
        self._fs_cache.clear()

    @property
    def checkpoint_cache_dir(self) -> str:
        return os.path.join(self.registry.state_dir, "checkpoints")

    def mounts(self) -> dict[str, Mount]:
        """Registered mounts by name (re-read when the registry file changes)."""
        try:
            st = os.stat(self.registry.path)
            key = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            key = None
        if key != self._mounts_key:
            self._mounts_cache = {m.name: m for m in self.registry.list()} if key else {}
            self._mounts_key = key
            for name in list(self._fs_cache):
                if name not in self._mounts_cache:
                    self._fs_cache.pop(name, None)
        return self._mounts_cache

    def route(self, path: str) -> Route:
        path = (path or "").strip("/")
        md = self.mount_dir
        if path == md:
            return Route("mount_dir", path)
        if path.startswith(md + "/"):
            name, _, rest = path[len(md) + 1 :].partition("/")
            mount = self.mounts().get(name)
            if mount is not None:
                try:
                    rel = normalize_relative_path(rest)
                except StorageError as e:
                    raise web.HTTPError(400, e.message) from None
                return Route("mount", path, mount, rel)
        return Route("local", path)

    def mount_path(self, name: str, rel: str = "") -> str:
        """The API path of ``rel`` inside mount ``name``."""
        base = f"{self.mount_dir}/{name}"
        return f"{base}/{rel}" if rel else base

    def forget_mount(self, name: str) -> None:
        """Drop cached state of a mount (after it was removed)."""
        self._fs_cache.pop(name, None)
        self._mounts_key = None
        for key in [k for k in self._uploads if k[0] == name]:
            upload = self._uploads.pop(key)
            storage_executor().submit(upload.file.discard)  # may call the store: off the loop

    async def filesystem(self, mount: Mount):
        """The mount's filesystem, built once per mount definition and credentials."""
        try:
            creds = os.stat(self.registry.credentials.path).st_mtime_ns
        except FileNotFoundError:
            creds = None
        key = (json.dumps(mount._record(), sort_keys=True, default=str), creds)
        cached = self._fs_cache.get(mount.name)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            fs = await run_blocking(self.registry.filesystem, mount.name)
        except Exception as e:
            raise self._fail(mount.name, e, self.mount_path(mount.name)) from None
        self._fs_cache[mount.name] = (key, fs)
        return fs

    def _fail(self, name: str, exc: BaseException, api_path: str) -> web.HTTPError:
        err = http_error(exc, api_path)
        if isinstance(exc, (StorageCredentialsError, StorageUnavailableError)):
            mount_states.error(name, err.log_message)
        if err.status_code >= 500:
            self.log.warning("Mount %s: %s", name, err.log_message)
        return err

    async def _call(self, r: Route, fn, *args, api_path: str | None = None, **kwargs):
        """Run a blocking storage call for route ``r``, mapping failures to HTTP errors."""
        try:
            result = await run_blocking(fn, *args, **kwargs)
        except Exception as e:
            raise self._fail(r.name, e, r.path if api_path is None else api_path) from None
        mount_states.ok(r.name)
        return result

    def _check_writable(self, r: Route) -> None:
        if r.mount.read_only:
            raise web.HTTPError(
                403,
                f"Mount {r.name!r} is read-only: {r.path} cannot be changed. Add the mount again "
                "without read-only to write to it.",
            )

    def _hidden_name(self, name: str) -> bool:
        return (not self.allow_hidden and name.startswith(".")) or not self.should_list(name)

    # ------------------------------------------------------------------ models

    def _model(self, api_path: str, kind: str, *, writable: bool, size=None, modified=None):
        return {
            "name": api_path.rsplit("/", 1)[-1],
            "path": api_path,
            "type": kind,
            "writable": writable,
            "created": modified,
            "last_modified": modified,
            "content": None,
            "format": None,
            "mimetype": None,
            "size": size,
            "hash": None,
            "hash_algorithm": None,
        }

    def _mount_entry(self, mount: Mount) -> dict:
        created = _utc(mount.created_at) or EPOCH
        model = self._model(
            self.mount_path(mount.name), "directory", writable=not mount.read_only, modified=created
        )
        model["mount"] = mount.name
        return model

    def _entry_model(self, r: Route, entry: dict) -> dict:
        name = entry["name"]
        api_path = f"{r.path}/{name}"
        if entry["type"] == "directory":
            return self._model(api_path, "directory", writable=not r.mount.read_only)
        kind = "notebook" if name.endswith(".ipynb") else "file"
        model = self._model(
            api_path,
            kind,
            writable=not r.mount.read_only,
            size=entry.get("size"),
            modified=_utc(entry.get("last_modified")),
        )
        if kind == "file":
            model["mimetype"] = mimetypes.guess_type(name)[0]
        return model

    def _list_pages(self, fs, rel: str, limit: int, marker: str | None = None):
        """Up to ``limit`` entries of directory ``rel`` (several store pages if limit > 1000)."""
        from .storage.listing import MAX_PAGE_SIZE, list_page

        entries: list[dict] = []
        while True:
            page, marker = list_page(fs, rel, min(limit - len(entries), MAX_PAGE_SIZE), marker)
            entries.extend(page)
            if marker is None or len(entries) >= limit:
                return entries, marker

    async def _mount_directory_model(
        self, r: Route, fs, content: bool, *, file_ok: bool = False
    ) -> dict | None:
        """The folder's model (one page of entries); None for a file when ``file_ok``."""
        created = _utc(r.mount.created_at) or EPOCH
        model = self._model(r.path, "directory", writable=not r.mount.read_only, modified=created)
        if r.rel:
            model["name"] = r.rel.rsplit("/", 1)[-1]
        if not content:
            if r.rel:
                info = await self._call(r, fs.info, r.rel)
                if info.get("type") != "directory":
                    raise web.HTTPError(400, f"{r.path} is not a directory", reason="bad type")
            return model
        try:
            try:
                entries, marker = await run_blocking(
                    self._list_pages, fs, r.rel, self.listing_page_size
                )
            except NotADirectoryError:
                if file_ok:
                    return None
                raise
            except Exception as e:
                raise self._fail(r.name, e, r.path) from None
            mount_states.ok(r.name)
        except web.HTTPError as e:
            if r.rel or e.status_code != 404:
                raise
            entries, marker = [], None  # an empty prefix: the mount's root before any write
        model["content"] = [
            self._entry_model(r, e) for e in entries if not self._hidden_name(e["name"])
        ]
        model["format"] = "json"
        model["truncated"] = marker is not None
        model["next_marker"] = marker
        return model

    async def _read_bytes(self, r: Route, fs) -> bytes:
        return await self._call(r, fs.cat_file, r.rel)

    async def _mount_file_model(self, r: Route, fs, info, content, type, format, require_hash):
        kind = (
            "notebook"
            if type == "notebook" or (type is None and r.rel.endswith(".ipynb"))
            else "file"
        )
        model = self._model(
            r.path,
            kind,
            writable=not r.mount.read_only,
            size=info.get("size"),
            modified=_modified(info) or EPOCH,
        )
        data = None
        if content or require_hash:
            data = await self._read_bytes(r, fs)
        if kind == "notebook":
            if content:
                validation_error: dict = {}
                try:
                    nb = nbformat.reads(
                        data.decode("utf-8"),
                        as_version=4,
                        capture_validation_error=validation_error,
                    )
                except Exception as e:
                    raise web.HTTPError(400, f"Unreadable Notebook: {r.path} {e!r}") from None
                self.mark_trusted_cells(nb, r.path)
                model["content"] = nb
                model["format"] = "json"
                self.validate_notebook_model(model, validation_error)
        else:
            model["mimetype"] = mimetypes.guess_type(r.rel)[0]
            if content:
                text = None
                if format != "base64":
                    try:
                        text = data.decode("utf-8")
                    except UnicodeError:
                        if format == "text":
                            raise web.HTTPError(
                                400, f"{r.path} is not UTF-8 encoded", reason="bad format"
                            ) from None
                if text is not None:
                    model.update(content=text, format="text")
                    model["mimetype"] = model["mimetype"] or "text/plain"
                else:
                    model.update(content=base64.b64encode(data).decode("ascii"), format="base64")
                    model["mimetype"] = model["mimetype"] or "application/octet-stream"
        if require_hash:
            model.update(**self._get_hash(data))
        return model

    async def _mount_get(self, r: Route, content, type, format, require_hash):
        if r.rel == "":
            if type not in (None, "directory"):
                raise web.HTTPError(
                    400, f"{r.path} is a directory, not a {type}", reason="bad type"
                )
            if not content:
                return self._mount_entry(r.mount)
            return await self._mount_directory_model(r, await self.filesystem(r.mount), content)
        fs = await self.filesystem(r.mount)
        if type == "directory":
            return await self._mount_directory_model(r, fs, content)
        if type is None and content and "." not in r.rel.rsplit("/", 1)[-1]:
            # Probably a folder (the file browser opens folders without a type): list it
            # right away, one store call instead of HEAD + probe + list.
            model = await self._mount_directory_model(r, fs, content, file_ok=True)
            if model is not None:
                return model
        info = await self._call(r, fs.info, r.rel, refresh=True)
        if info.get("type") == "directory":
            if type not in (None, "directory"):
                raise web.HTTPError(
                    400, f"{r.path} is a directory, not a {type}", reason="bad type"
                )
            return await self._mount_directory_model(r, fs, content)
        return await self._mount_file_model(r, fs, info, content, type, format, require_hash)

    async def _mount_dir_model(self, content: bool, type=None) -> dict:
        if type not in (None, "directory"):
            raise web.HTTPError(400, f"{self.mount_dir} is a directory", reason="bad type")
        mounts = self.mounts()
        local = os.path.isdir(self._get_os_path(self.mount_dir))
        if local:
            model = await super().get(self.mount_dir, content=content)
        elif mounts:
            model = self._model(self.mount_dir, "directory", writable=False, modified=EPOCH)
            if content:
                model.update(content=[], format="json")
        else:
            raise web.HTTPError(404, f"No such file or directory: {self.mount_dir}")
        if content:
            # Mount folders replace same-named real entries (e.g. empty FUSE mount points).
            entries = {e["name"]: e for e in model["content"] if e["name"] not in mounts}
            entries.update({name: self._mount_entry(m) for name, m in mounts.items()})
            model["content"] = [entries[n] for n in sorted(entries)]
        return model

    def _add_virtual_mount_dir(self, path: str, model: dict) -> None:
        """List ``mnt`` in its parent folder when it exists only because of mounts."""
        parent, _, name = self.mount_dir.rpartition("/")
        if path != parent or model.get("type") != "directory" or model.get("content") is None:
            return
        if not self.mounts() or any(e["name"] == name for e in model["content"]):
            return
        model["content"].append(
            self._model(self.mount_dir, "directory", writable=False, modified=EPOCH)
        )

    # ------------------------------------------------------------------ ContentsManager API

    async def get(self, path, content=True, type=None, format=None, require_hash=False):
        r = self.route(path)
        if r.kind == "mount":
            model = await self._mount_get(r, content, type, format, require_hash)
        elif r.kind == "mount_dir":
            model = await self._mount_dir_model(content, type)
        else:
            model = await super().get(
                path, content=content, type=type, format=format, require_hash=require_hash
            )
            if content and model.get("content") is not None:
                self._add_virtual_mount_dir(r.path, model)
            return model
        self.emit(data={"action": "get", "path": r.path})
        return model

    async def file_exists(self, path):
        r = self.route(path)
        if r.kind == "local":
            return await super().file_exists(path)
        if r.kind == "mount_dir" or not r.rel:
            return False
        if (r.name, r.rel) in self._uploads:
            return False  # a chunked upload in progress: nothing on the store yet
        info = await self._info_or_none(r)
        return info is not None and info.get("type") != "directory"

    async def dir_exists(self, path):
        r = self.route(path)
        if r.kind == "local":
            return await super().dir_exists(path)
        if r.kind == "mount_dir":
            return bool(self.mounts()) or await super().dir_exists(path)
        if not r.rel:
            return True
        info = await self._info_or_none(r)
        return info is not None and info.get("type") == "directory"

    def exists(self, path):
        # The parent's get() calls this synchronously for local paths; mount paths (which need
        # the network) return an awaitable, which every caller outside the parent awaits.
        r = self.route(path)
        if r.kind == "local":
            return super().exists(path)
        if r.kind == "mount_dir":
            return bool(self.mounts()) or os.path.isdir(self._get_os_path(r.path))
        return self._exists(r)

    async def _exists(self, r: Route) -> bool:
        if r.kind == "mount_dir":
            return self.exists(r.path)
        if not r.rel:
            return True
        return await self._info_or_none(r) is not None

    async def _info_or_none(self, r: Route):
        fs = await self.filesystem(r.mount)
        try:
            return await self._call(r, fs.info, r.rel, refresh=True)
        except web.HTTPError as e:
            if e.status_code == 404:
                return None
            raise

    async def is_hidden(self, path):
        r = self.route(path)
        if r.kind == "local":
            return await super().is_hidden(path)
        if r.kind == "mount_dir":
            return False
        return any(part.startswith(".") for part in r.rel.split("/") if part)

    def is_writable(self, path):
        r = self.route(path)
        if r.kind == "mount":
            return not r.mount.read_only
        return super().is_writable(path)

    async def save(self, model, path=""):
        r = self.route(path)
        if r.kind == "local":
            return await super().save(model, path)
        if "type" not in model:
            raise web.HTTPError(400, "No file type provided")
        if r.kind == "mount_dir" or not r.rel:
            if model["type"] != "directory":
                raise web.HTTPError(400, f"{r.path} is a directory")
            return await self.get(r.path, content=False)
        self._check_writable(r)
        if model.get("chunk") is not None:
            return await self._save_chunk(r, model)
        self.run_pre_save_hooks(model=model, path=r.path)
        if "content" not in model and model["type"] != "directory":
            raise web.HTTPError(400, "No file content provided")
        fs = await self.filesystem(r.mount)
        validation_error: dict = {}
        if model["type"] == "directory":
            info = await self._info_or_none(r)
            if info is None:
                await self._call(r, fs.mkdir, r.rel, create_parents=True)
            elif info.get("type") != "directory":
                raise web.HTTPError(400, f"Not a directory: {r.path}")
            saved = await self._mount_directory_model(r, fs, content=False)
            self.emit(data={"action": "save", "path": r.path})
            return saved
        if model["type"] == "notebook":
            nb = nbformat.from_dict(model["content"])
            self.check_and_sign(nb, r.path)
            data = nbformat.writes(
                nb, version=nbformat.NO_CONVERT, capture_validation_error=validation_error
            ).encode("utf-8")
        elif model["type"] == "file":
            data = self._decode(model.get("content"), model.get("format"), r.path)
        else:
            raise web.HTTPError(400, f"Unhandled contents type: {model['type']}")
        await self._call(r, write_bytes, fs, r.rel, data)
        saved = await self._saved_model(r, model["type"], len(data))
        if model["type"] == "notebook":
            self.validate_notebook_model(model, validation_error=validation_error)
            if model.get("message"):
                saved["message"] = model["message"]
            try:
                if not await self.checkpoints.list_checkpoints(r.path):
                    await self.create_checkpoint(r.path)
            except web.HTTPError as e:  # the notebook itself is saved: do not report failure
                self.log.warning("No checkpoint for %s: %s", r.path, e.log_message)
        self.emit(data={"action": "save", "path": r.path})
        return saved

    async def _saved_model(self, r: Route, kind: str, size: int) -> dict:
        """The model of a file just written (from the store; from what was written if the
        store cannot say right now: the write itself succeeded)."""
        try:
            return await self._mount_get(r, False, kind, None, False)
        except web.HTTPError as e:
            self.log.warning("Saved %s, but could not read back its details: %s", r.path, e)
            return self._model(
                r.path, kind, writable=True, size=size, modified=datetime.now(timezone.utc)
            )

    @staticmethod
    def _decode(content, format, path: str) -> bytes:
        if format not in ("text", "base64"):
            raise web.HTTPError(400, "Must specify format of file contents as 'text' or 'base64'")
        if not isinstance(content, str):
            raise web.HTTPError(400, f"File content for {path} must be a string")
        try:
            if format == "text":
                return content.encode("utf-8")
            return base64.b64decode(content.encode("ascii"), validate=False)
        except (UnicodeError, binascii.Error, ValueError) as e:
            raise web.HTTPError(400, f"Encoding error saving {path}: {e}") from None

    async def _save_chunk(self, r: Route, model: dict) -> dict:
        chunk = model["chunk"]
        if model["type"] != "file":
            raise web.HTTPError(
                400, f'File type "{model["type"]}" is not supported for large file transfer'
            )
        if "content" not in model:
            raise web.HTTPError(400, "No file content provided")
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk == 0 or chunk < -1:
            raise web.HTTPError(400, f"Invalid chunk number {chunk!r}")
        data = self._decode(model["content"], model.get("format"), r.path)
        key = (r.name, r.rel)
        lock = self._upload_locks.setdefault(key, asyncio.Lock())
        async with lock:
            upload = self._uploads.get(key)
            if chunk == 1:
                self.run_pre_save_hooks(model=model, path=r.path)
                await self._drop_stale_uploads(exclude=key)
                if upload is not None:
                    self._uploads.pop(key, None)
                    await run_blocking(upload.file.discard)
                fs = await self.filesystem(r.mount)
                upload = _Upload(await self._call(r, _StoreFile, fs, r.rel))
                self._uploads[key] = upload
            elif upload is None or (chunk != -1 and chunk != upload.next_chunk):
                raise web.HTTPError(
                    400,
                    f"The upload of {r.path} was interrupted (chunk {chunk} arrived without the "
                    "ones before it): upload the file again.",
                )
            else:
                upload.next_chunk += 1
            upload.touched = time.monotonic()
            try:
                await self._call(r, upload.file.write, data)
                if chunk == -1:
                    await self._call(r, upload.file.commit)
            except BaseException:
                self._uploads.pop(key, None)
                await run_blocking(upload.file.discard)
                raise
            if chunk == -1:
                self._uploads.pop(key, None)
                self._upload_locks.pop(key, None)
        if chunk == -1:
            fs = await self.filesystem(r.mount)
            with contextlib.suppress(Exception):
                await run_blocking(fs.invalidate_cache, r.rel)
            saved = await self._saved_model(r, "file", upload.file.size)
            self.emit(data={"action": "save", "path": r.path})
            return saved
        # In progress: nothing is on the store yet; describe what was received so far.
        return self._model(
            r.path,
            "file",
            writable=True,
            size=upload.file.size,
            modified=datetime.now(timezone.utc),
        )

    async def _drop_stale_uploads(self, exclude=None) -> None:
        now = time.monotonic()
        for key, upload in list(self._uploads.items()):
            if key != exclude and now - upload.touched > UPLOAD_IDLE_TIMEOUT:
                self._uploads.pop(key, None)
                self._upload_locks.pop(key, None)
                await run_blocking(upload.file.discard)

    async def delete_file(self, path):
        r = self.route(path)
        if r.kind == "local":
            return await super().delete_file(path)
        if r.kind == "mount_dir":
            if self.mounts():
                raise web.HTTPError(
                    400,
                    f"{r.path} holds the mounts: unmount them in the Workbench sidebar's Mounts "
                    "panel first.",
                )
            return await super().delete_file(path)
        if not r.rel:
            raise web.HTTPError(
                400,
                f"{r.path} is mount {r.name!r}: to remove it, use Unmount in the Workbench "
                "sidebar's Mounts panel (that deletes nothing on the storage).",
            )
        self._check_writable(r)
        fs = await self.filesystem(r.mount)
        info = await self._info_or_none(r)
        if info is None:
            raise web.HTTPError(404, f"File or directory does not exist: {r.path}")
        if info.get("type") == "directory":
            if not self.always_delete_dir:
                entries, _ = await self._call(r, self._list_pages, fs, r.rel, 1)
                if entries:
                    raise web.HTTPError(400, f"Directory {r.path} not empty")
            await self._call(r, fs.rm, r.rel, recursive=True)
        else:
            await self._call(r, fs.rm_file, r.rel)
        with contextlib.suppress(Exception):
            fs.invalidate_cache(r.rel)

    async def rename_file(self, old_path, new_path):
        old, new = self.route(old_path), self.route(new_path)
        if old.path == new.path:
            return
        if old.kind == "local" and new.kind == "local":
            return await super().rename_file(old_path, new_path)
        for r in (old, new):
            if r.kind == "mount_dir" or (r.kind == "mount" and not r.rel):
                raise web.HTTPError(
                    400,
                    f"{r.path} is where mounts appear and cannot be renamed or replaced "
                    "(change c.Workbench.mount_dir, or add the mount again under another name).",
                )
            if r.kind == "mount":
                self._check_writable(r)  # a move out of a mount deletes there too
        if await self._exists_any(new):
            raise web.HTTPError(409, f"File already exists: {new.path}")
        if old.kind == "mount" and new.kind == "mount" and old.name == new.name:
            fs = await self.filesystem(old.mount)
            info = await self._info_or_none(old)
            if info is None:
                raise web.HTTPError(404, f"File or directory does not exist: {old.path}")
            recursive = info.get("type") == "directory"
            await self._call(old, fs.mv, old.rel, new.rel, recursive=recursive)
            with contextlib.suppress(Exception):
                fs.invalidate_cache()
            return
        await self._move_across(old, new)

    async def _exists_any(self, r: Route) -> bool:
        if r.kind == "local":
            return os.path.lexists(self._get_os_path(r.path))
        return await self._exists(r)

    async def _open_side(self, r: Route):
        """(filesystem, path in it) for either side of a copy or move."""
        if r.kind == "mount":
            return await self.filesystem(r.mount), r.rel
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem(), self._get_os_path(r.path)

    async def _move_across(self, old: Route, new: Route) -> None:
        """Move a file between a mount and elsewhere (another mount or the local root)."""
        src_fs, src = await self._open_side(old)
        dst_fs, dst = await self._open_side(new)
        probe = old if old.kind == "mount" else new
        try:
            info = await run_blocking(src_fs.info, src)
        except Exception as e:
            raise self._fail(probe.name, e, old.path) from None
        if info.get("type") == "directory":
            raise web.HTTPError(
                400,
                f"{old.path} is a folder: folders can be moved within one mount or within the "
                "local files, not between them. Copy its files instead.",
            )
        try:
            await run_blocking(_copy_stream, src_fs, src, dst_fs, dst)
            await run_blocking(src_fs.rm_file, src)
        except Exception as e:
            raise self._fail(probe.name, e, old.path) from None

    async def copy(self, from_path, to_path=None):
        src = self.route(from_path)
        dst = self.route(to_path) if to_path is not None else None
        if src.kind == "local" and (dst is None or dst.kind == "local"):
            return await super().copy(from_path, to_path)
        model = await self.get(src.path, content=False)
        if model["type"] == "directory":
            raise web.HTTPError(400, "Folders on mounts cannot be copied here; copy the files.")
        from_dir, _, from_name = src.path.rpartition("/")
        target_dir = from_dir if to_path is None else dst.path
        if await self.dir_exists(target_dir):
            from jupyter_server.services.contents.manager import copy_pat

            name = copy_pat.sub(".", from_name)
            to_name = await self.increment_filename(name, target_dir, insert="-Copy")
            target = f"{target_dir}/{to_name}" if target_dir else to_name
        elif to_path is not None:
            target = dst.path
        else:
            raise web.HTTPError(404, f"No such directory: {target_dir}")
        dst = self.route(target)
        if dst.kind == "mount":
            if not dst.rel:
                raise web.HTTPError(400, f"Cannot copy onto mount {dst.name!r} itself")
            self._check_writable(dst)
        if src.kind == "mount" and dst.kind == "mount" and src.name == dst.name:
            fs = await self.filesystem(src.mount)
            await self._call(src, fs.cp_file, src.rel, dst.rel, api_path=dst.path)
        elif src.kind == "mount" or dst.kind == "mount":
            src_fs, s = await self._open_side(src)
            dst_fs, d = await self._open_side(dst)
            probe = src if src.kind == "mount" else dst
            try:
                await run_blocking(_copy_stream, src_fs, s, dst_fs, d)
            except Exception as e:
                raise self._fail(probe.name, e, dst.path) from None
        else:
            return await AsyncContentsManager.copy(self, from_path, target)
        saved = await self.get(dst.path, content=False)
        self.emit(data={"action": "copy", "path": dst.path, "source_path": src.path})
        return saved

    async def get_kernel_path(self, path, model=None):
        # Kernels start in a real directory: for a notebook on a mount, its folder where the
        # mount is also a local directory (FUSE), else the server root.
        r = self.route(path)
        if r.kind == "local":
            return await super().get_kernel_path(path, model)
        parent = r.path.rpartition("/")[0] if r.kind == "mount" and r.rel else r.path
        return parent if os.path.isdir(self._get_os_path(parent)) else ""


def _copy_stream(src_fs, src: str, dst_fs, dst: str) -> None:
    """Copy a file between two filesystems in chunks; the target appears only when complete."""
    out = _StoreFile(dst_fs, dst)
    try:
        with src_fs.open(src, "rb") as f:
            while True:
                block = f.read(STREAM_CHUNK)
                if not block:
                    break
                out.write(block)
    except BaseException:
        out.discard()
        raise
    out.commit()
    with contextlib.suppress(Exception):
        dst_fs.invalidate_cache(dst)


# ------------------------------------------------------------------------------ checkpoints


class WorkbenchCheckpoints(AsyncFileCheckpoints):
    """Local file checkpoints; those of mount files live under ``<state_dir>/checkpoints``."""

    def _mount_route(self, path: str) -> Route | None:
        cm = self.parent
        if not isinstance(cm, WorkbenchContentsManager):
            return None
        r = cm.route(path)
        return r if r.kind == "mount" and r.rel else None

    def checkpoint_path(self, checkpoint_id, path):
        r = self._mount_route(path)
        if r is None:
            return super().checkpoint_path(checkpoint_id, path)
        parent, _, name = r.rel.rpartition("/")
        base, ext = os.path.splitext(name)
        folder = os.path.join(self.parent.checkpoint_cache_dir, r.name, *parent.split("/"))
        os.makedirs(folder, mode=0o700, exist_ok=True)
        return os.path.join(folder, f"{base}-{checkpoint_id}{ext}")

    async def create_checkpoint(self, contents_mgr, path):
        r = self._mount_route(path)
        if r is None:
            return await super().create_checkpoint(contents_mgr, path)
        fs = await contents_mgr.filesystem(r.mount)
        data = await contents_mgr._read_bytes(r, fs)
        dest = self.checkpoint_path("checkpoint", path)
        await run_blocking(_write_local, dest, data)
        return await self.checkpoint_model("checkpoint", dest)

    async def restore_checkpoint(self, contents_mgr, checkpoint_id, path):
        r = self._mount_route(path)
        if r is None:
            return await super().restore_checkpoint(contents_mgr, checkpoint_id, path)
        contents_mgr._check_writable(r)
        src = self.checkpoint_path(checkpoint_id, path)
        if not os.path.isfile(src):
            self.no_such_checkpoint(path, checkpoint_id)
        data = await run_blocking(_read_local, src)
        fs = await contents_mgr.filesystem(r.mount)
        await contents_mgr._call(r, write_bytes, fs, r.rel, data)


def _write_local(path: str, data: bytes) -> None:
    tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _read_local(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# ------------------------------------------------------------------------------ /files


class MountFilesHandler(AuthenticatedFileHandler):
    """``/files/<path>``: local files as jupyter_server serves them; mount files streamed from
    the store in ranged chunks (``Range`` requests answered with 206)."""

    @web.authenticated
    @authorized
    async def get(self, path, include_body=True):
        cm = self.contents_manager
        r = cm.route(path) if isinstance(cm, WorkbenchContentsManager) else None
        if r is None or r.kind != "mount":
            return await super().get(path, include_body=include_body)
        self.check_xsrf_cookie()
        if not cm.allow_hidden and await cm.is_hidden(r.path):
            raise web.HTTPError(404)
        if not r.rel:
            raise web.HTTPError(404, f"{r.path} is a folder, not a file")
        fs = await cm.filesystem(r.mount)
        info = await cm._call(r, fs.info, r.rel, refresh=True)
        if info.get("type") == "directory":
            raise web.HTTPError(404, f"{r.path} is a folder, not a file")
        size = int(info.get("size") or 0)
        name = r.rel.rsplit("/", 1)[-1]
        if name.endswith(".ipynb") or self.get_argument("download", None):
            self.set_attachment_header(name)
        self.set_header("Content-Type", _content_type(name))
        self.set_header("Cache-Control", "no-cache")
        self.set_header("Accept-Ranges", "bytes")
        modified = _modified(info)
        if modified is not None:
            self.set_header("Last-Modified", modified)
        start, end = 0, size
        range_header = self.request.headers.get("Range")
        if range_header and size:
            parsed = _parse_range(range_header, size)
            if parsed is None:
                self.set_status(416)
                self.set_header("Content-Range", f"bytes */{size}")
                return
            start, end = parsed
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.set_header("Content-Length", str(end - start))
        if not include_body or start >= end:
            return
        await self._stream(cm, r, fs, start, end)

    async def _stream(self, cm, r: Route, fs, start: int, end: int) -> None:
        loop = asyncio.get_running_loop()

        def fetch(pos):
            return loop.run_in_executor(
                storage_executor(), fs.cat_file, r.rel, pos, min(pos + STREAM_CHUNK, end)
            )

        pos, pending = start, fetch(start)
        try:
            while pending is not None:
                try:
                    data = await pending
                except Exception as e:
                    if pos == start:
                        raise cm._fail(r.name, e, r.path) from None
                    # Headers are gone: all we can do is cut the response short.
                    cm.log.warning("Download of %s failed at byte %d: %s", r.path, pos, e)
                    self.request.connection.close()
                    return
                pos += len(data)
                # Read the next chunk from the store while this one goes to the browser.
                pending = fetch(pos) if data and pos < end else None
                self.write(data)
                await self.flush()
        except StreamClosedError:
            return  # the browser went away


def _content_type(name: str) -> str:
    if name.endswith(".ipynb"):
        return "application/x-ipynb+json"
    mime, encoding = mimetypes.guess_type(name)
    if encoding == "gzip":
        return "application/gzip"
    if encoding is not None or mime is None:
        return "application/octet-stream"
    if mime == "text/plain":
        return "text/plain; charset=UTF-8"
    return mime


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` as (start, end exclusive); None if unusable."""
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            n = int(last)
            return (max(0, size - n), size) if n > 0 else None
        start = int(first)
        end = min(int(last) + 1, size) if last else size
    except ValueError:
        return None
    return (start, end) if 0 <= start < end else None
