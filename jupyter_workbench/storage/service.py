"""``MountService``: the mounts capability's core object, one per server.

The extension builds one ``MountService`` when it starts and hands it to the REST handlers and
the contents bridge (``settings["workbench_mounts"]``, the jupyterlab-git ``settings["git"]``
pattern); nothing about mounts lives in module globals, so two servers in one process share
nothing. It owns:

- the registry (``MountRegistry``) and a view of it re-read only when its file changes;
- each mount's filesystem, built once per mount definition and credentials;
- each mount's health (``ok`` / ``error`` with a message / ``unknown``), from checks and from
  file operations;
- each mount's own bounded thread pool (``run``): blocking store calls never run on the event
  loop, and a stalled store can occupy at most ``threads_per_mount`` threads of its own mount,
  never delaying another mount or the server's own endpoints; CPU-bound work of a listing runs
  there too (``run_cpu``), one thread of the process computing at a time (``compute``);
  registry file access has a pool of its own; ``stop()`` shuts them all down;
- the FUSE directories it made (mounted in the background at start, on add; unmounted on remove
  and on stop);
- adding with a bounded check and undo (a timed-out add that later succeeds is removed again)
  and removing (FUSE first, then the registry, caches and the mount's checkpoint cache).

Errors are the storage layer's (``storage.errors``: each carries its HTTP status and category);
messages of a failed add never contain the secrets of the request (``redact.scrub``).
Nothing here imports jupyter_server or tornado.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import logging
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ..redact import scrub, url_secrets
from .compute import gated
from .errors import InvalidMountError, MountUnreachableError, StorageError, http_status_for
from .listing import DEFAULT_LISTING_LIMIT, ListingBounds
from .registry import Mount, MountRegistry
from .urls import is_secret_option, normalize_relative_path, validate_mount_name

log = logging.getLogger(__name__)

THREADS_PER_MOUNT = 8
CHECK_TIMEOUT = 30.0  # seconds adding or checking a mount may spend connecting to the store


def resolve_mount_dir(value, root_dir) -> str:
    """``c.Workbench.mount_dir`` as an API path under the server root (``InvalidMountError``
    for one outside it)."""
    text = str(value or "").strip()
    root = os.path.abspath(root_dir)
    if os.path.isabs(text):
        text = os.path.relpath(os.path.abspath(text), root)
    try:
        rel = normalize_relative_path(text)
    except StorageError as e:
        raise InvalidMountError(f"mount_dir {value!r}: {e.message}") from None
    if not rel or rel.startswith(".."):
        raise InvalidMountError(f"mount_dir {value!r} must be a folder under the root.")
    return rel


class MountHealth:
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
        return dict(state) if state else {"state": "unknown", "message": None, "checked_at": None}

    def forget(self, name: str) -> None:
        with self._lock:
            self._states.pop(name, None)


class _PendingAdd:
    """Lets a timed-out add undo the mount its worker thread may still add."""

    def __init__(self):
        self.lock = threading.Lock()
        self.abandoned = False
        self.mount: Mount | None = None

    def run(self, registry: MountRegistry, name, url, options, read_only) -> Mount | None:
        mount = registry.add(name, url, options, read_only, check=True)
        with self.lock:
            if not self.abandoned:
                self.mount = mount
                return mount
        registry.remove(name)  # the client was already told that adding failed
        return None

    def abandon(self) -> bool:
        """Abandon the add; False if it had already succeeded (``self.mount``)."""
        with self.lock:
            if self.mount is not None:
                return False
            self.abandoned = True
            return True


def request_secrets(url: str, options: dict | None) -> list[str]:
    """The secret values of a mount request: secret options and credentials in the URL."""
    values = [v for k, v in (options or {}).items() if is_secret_option(k) and isinstance(v, str)]
    return values + url_secrets(url)


def scrubbed(exc: BaseException, secrets) -> BaseException:
    """``exc`` itself when its message holds none of ``secrets``, else a copy of the same class
    whose message has them replaced by ***."""
    message = exc.message if isinstance(exc, StorageError) else str(exc)
    clean = scrub(message, secrets)
    if clean == message:
        return exc
    try:
        if isinstance(exc, StorageError):  # keep its class and attributes (code, ...)
            clone = copy.copy(exc)
            clone.args, clone.message = (clean,), clean
            return clone
        return type(exc)(clean)
    except Exception:  # noqa: BLE001 - an exception that cannot be rebuilt
        return ValueError(clean)


class MountService:
    """Mounts of one server: registry, filesystems, health, thread pools, FUSE, add/remove."""

    def __init__(
        self,
        registry: MountRegistry | None = None,
        *,
        mount_dir: str = "mnt",
        root_dir: str | None = None,
        allowed_local_roots=(),
        listing_page_size: int = 1000,
        listing_limit: int = DEFAULT_LISTING_LIMIT,
        fuse: bool = False,
        in_file_browser: bool = True,
        threads_per_mount: int = THREADS_PER_MOUNT,
        check_timeout: float = CHECK_TIMEOUT,
        logger: logging.Logger | None = None,
    ):
        self.registry = registry if registry is not None else MountRegistry()
        self.mount_dir = mount_dir  # API path under the server root, e.g. "mnt"
        self.root_dir = os.path.abspath(root_dir) if root_dir else None
        self.allowed_local_roots = list(allowed_local_roots)
        self.listing_page_size = listing_page_size
        self.listing_bounds = ListingBounds(listing_limit)
        self.fuse_enabled = fuse
        self.in_file_browser = in_file_browser
        self.threads_per_mount = threads_per_mount
        self.check_timeout = check_timeout
        self.log = logger or log
        self.health = MountHealth()
        self._lock = threading.Lock()
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._control = ThreadPoolExecutor(max_workers=2, thread_name_prefix="workbench-registry")
        self._fs_cache: dict[str, tuple] = {}
        self._mounts_key = None
        self._mounts: dict[str, Mount] = {}
        self._fuse: dict[str, object] = {}
        self._fuse_availability: tuple[bool, str] | None = None
        self._fuse_supervisor = None  # fuse.FuseSupervisor, made with the first FUSE mount
        self._forget_listeners: list = []
        self._stopped = False

    def __repr__(self) -> str:
        return f"MountService({self.registry!r}, mount_dir={self.mount_dir!r})"

    # ------------------------------------------------------------------ settings

    @property
    def local_mount_dir(self) -> str | None:
        """The absolute folder where mounts appear (None without a server root)."""
        return os.path.join(self.root_dir, self.mount_dir) if self.root_dir else None

    @property
    def checkpoint_dir(self) -> str:
        """Where checkpoints of files on mounts live (never on the storage)."""
        return os.path.join(self.registry.state_dir, "checkpoints")

    def record_settings(self) -> None:
        """Write ``mount_dir`` and the allowed local roots into the registry, so that kernels and
        the CLI use the server's (the server root is always allowed)."""
        roots = [r for r in (self.root_dir, *self.allowed_local_roots) if r]
        self.registry.configure(mount_dir=self.local_mount_dir, allowed_local_roots=roots)

    def on_forget(self, listener) -> None:
        """Call ``listener(name)`` whenever the cached state of a mount is dropped."""
        self._forget_listeners.append(listener)

    # ------------------------------------------------------------------ threads

    def executor(self, name: str) -> ThreadPoolExecutor:
        """Mount ``name``'s own bounded pool."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("The mount service has been stopped.")
            pool = self._executors.get(name)
            if pool is None:
                pool = self._executors[name] = ThreadPoolExecutor(
                    max_workers=self.threads_per_mount,
                    thread_name_prefix=f"workbench-mount-{name}",
                )
            return pool

    async def run(self, name: str, fn, *args, **kwargs):
        """Run ``fn(*args, **kwargs)`` on mount ``name``'s pool and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.executor(name), functools.partial(fn, *args, **kwargs)
        )

    async def run_cpu(self, name: str, fn, *args, **kwargs):
        """Run CPU-bound work of mount ``name`` (the contents models of a listing, its JSON) on
        that mount's pool, holding the process's gate for computing (``compute.computing``):
        never on the event loop, and never many threads at once competing with it for the GIL.
        Store calls (``run``) are not gated: a stalled store must not hold the gate."""
        return await self.run(name, gated, fn, *args, **kwargs)

    async def run_registry(self, fn, *args, **kwargs):
        """Run a registry call (local state files) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._control, functools.partial(fn, *args, **kwargs))

    # ------------------------------------------------------------------ the registry's view

    def mounts(self) -> dict[str, Mount]:
        """Registered mounts by name (re-read when the registry file changes)."""
        try:
            st = os.stat(self.registry.path)
            key = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            key = None
        with self._lock:
            if key != self._mounts_key:
                self._mounts = {m.name: m for m in self.registry.list()} if key else {}
                self._mounts_key = key
                for name in list(self._fs_cache):
                    if name not in self._mounts:
                        self._fs_cache.pop(name, None)
            return self._mounts

    def get(self, name: str) -> Mount:
        """Mount ``name`` (``InvalidMountError`` / ``MountNotFoundError`` otherwise)."""
        validate_mount_name(name)
        return self.registry.get(name)

    def mount_path(self, name: str, rel: str = "") -> str:
        """The API path of ``rel`` inside mount ``name``."""
        base = f"{self.mount_dir}/{name}"
        return f"{base}/{rel}" if rel else base

    def filesystem(self, mount: Mount):
        """The mount's filesystem, built once per mount definition and credentials (blocking:
        the first call may connect to the store)."""
        try:
            creds = os.stat(self.registry.credentials.path).st_mtime_ns
        except FileNotFoundError:
            creds = None
        key = (json.dumps(mount._record(), sort_keys=True, default=str), creds)
        with self._lock:
            cached = self._fs_cache.get(mount.name)
        if cached is not None and cached[0] == key:
            return cached[1]
        fs = self.registry.filesystem(mount.name)
        with self._lock:
            self._fs_cache[mount.name] = (key, fs)
        return fs

    async def afilesystem(self, mount: Mount):
        """``filesystem(mount)`` without blocking the event loop when it must be built."""
        return await self.run(mount.name, self.filesystem, mount)

    def forget(self, name: str) -> None:
        """Drop cached state of mount ``name`` (after it was added again or removed)."""
        with self._lock:
            self._fs_cache.pop(name, None)
            self._mounts_key = None
        self.listing_bounds.forget(name)
        for listener in self._forget_listeners:
            try:
                listener(name)
            except Exception as e:  # noqa: BLE001 - a listener must not break removal
                self.log.warning("Forgetting mount %s: %s", name, e)

    # ------------------------------------------------------------------ add, check, remove

    async def add(self, name: str, url: str, options=None, read_only: bool = False) -> Mount:
        """Check the store and register the mount (bounded by ``check_timeout``), then show it
        through FUSE where enabled. Errors never contain the request's secrets."""
        secrets = request_secrets(url, options)
        pending = _PendingAdd()
        try:
            validate_mount_name(name)
            mount = await asyncio.wait_for(
                self.run(name, pending.run, self.registry, name, url, options, read_only),
                timeout=self.check_timeout,
            )
        except asyncio.TimeoutError:
            if pending.abandon():
                raise MountUnreachableError(
                    f"The storage for {name!r} did not answer within {self.check_timeout:g} s, "
                    "so the mount was not added. Check the endpoint and the network."
                ) from None
            mount = pending.mount
        except StorageError as e:
            if e.http_status >= 500:  # a store that fails while adding: fix what was entered
                raise MountUnreachableError(scrub(e.message, secrets)) from None
            raise scrubbed(e, secrets) from None
        except OSError as e:
            if http_status_for(e) >= 500:  # the store's fault, but what was entered is to fix
                raise MountUnreachableError(scrub(str(e) or type(e).__name__, secrets)) from None
            raise scrubbed(e, secrets) from None
        except Exception as e:
            raise scrubbed(e, secrets) from None
        self.health.ok(mount.name)
        self.forget(mount.name)  # a previous mount of that name may be cached
        if self.fuse_enabled:
            await self.run(mount.name, self._fuse_attach, mount.name)
        return mount

    async def check(self, mount: Mount) -> None:
        """List the store's root once (bounded by ``check_timeout``) and record the health."""
        from .listing import list_page

        def check():
            list_page(self.filesystem(mount), "", 1)

        try:
            await asyncio.wait_for(self.run(mount.name, check), timeout=self.check_timeout)
        except asyncio.TimeoutError:
            self.health.error(mount.name, f"No answer within {self.check_timeout:g} s.")
        except FileNotFoundError:
            self.health.ok(mount.name)  # an empty prefix: fine until the first write
        except Exception as e:  # noqa: BLE001 - reported as the mount's state
            self.health.error(mount.name, e.message if isinstance(e, StorageError) else str(e))
        else:
            self.health.ok(mount.name)

    async def remove(self, name: str) -> Mount:
        """Unmount: FUSE first (it waits for pending uploads, which still need the mount),
        then the registry forgets it. Nothing on the storage is deleted."""
        mount = self.get(name)
        await self.run(name, self._fuse_release, name)
        await self.run_registry(self.registry.remove, name)
        self.forget(name)
        await self.run_registry(shutil.rmtree, os.path.join(self.checkpoint_dir, name), True)
        self.health.forget(name)
        with self._lock:
            pool = self._executors.pop(name, None)
        if pool is not None:
            pool.shutdown(wait=False)  # work already queued finishes; a re-added mount starts anew
        return mount

    async def list_page(self, mount: Mount, rel: str, limit: int, marker: str | None = None):
        """One page of folder ``rel`` of ``mount``: (entries, next marker)."""
        from .listing import list_page

        rel = normalize_relative_path(rel)
        fs = await self.afilesystem(mount)
        return await self.run(mount.name, list_page, fs, rel, limit, marker)

    def describe(self, mount: Mount) -> dict:
        """What the REST API shows of a mount (no secrets)."""
        out = self.registry.describe(mount)
        out["path"] = self.mount_path(mount.name)
        out["state"] = self.health.get(mount.name)
        out["fuse"] = self.fuse_status(mount.name)
        out["listing_page_size"] = self.listing_page_size
        out["listing_limit"] = self.listing_bounds.step
        out["in_file_browser"] = self.in_file_browser
        return out

    # ------------------------------------------------------------------ FUSE (optional)

    @staticmethod
    def _fuse_module():
        try:
            from . import fuse
        except ImportError:
            return None
        return fuse

    def _fuse_available(self, fuse) -> tuple[bool, str]:
        if self._fuse_availability is None:
            self._fuse_availability = fuse.fuse_available()
        return self._fuse_availability

    def _fuse_mount_of(self, name: str):
        with self._lock:
            m = self._fuse.get(name)
        if m is not None and self._fuse_supervisor is not None:
            m = self._fuse_supervisor.get(name) or m  # its replacement after a restart
        return m if m is not None and m.alive else None

    def fuse_status(self, name: str) -> dict | None:
        """Whether mount ``name`` is also a FUSE directory (None where there is no FUSE helper)."""
        fuse = self._fuse_module()
        if fuse is None:
            return None
        try:
            m = self._fuse_mount_of(name)
            if m is not None:
                return {"state": "mounted" if m.mounted else "not mounted", **m.to_dict()}
            ok, why = self._fuse_available(fuse)
            return {"state": "not mounted" if ok else "unavailable", "message": None if ok else why}
        except Exception as e:  # noqa: BLE001 - FUSE is optional: report, never fail
            return {"state": "error", "message": str(e)}

    def _fuse_attach(self, name: str) -> None:
        """Also show mount ``name`` as a real directory through FUSE where that works (blocking).

        Never raises: without FUSE the mount still works through the file browser and
        ``jupyter_workbench.mounts.filesystem``; the panel shows why FUSE is unavailable.
        """
        fuse = self._fuse_module()
        if fuse is None or self._fuse_mount_of(name) is not None:
            return
        ok, why = fuse.fuse_available()
        if not ok:
            self.log.info("Mount %s is not a FUSE directory: %s", name, why)
            return
        try:
            mount = self.registry.get(name)
            with self._lock:
                if self._fuse_supervisor is None:
                    self._fuse_supervisor = fuse.FuseSupervisor(logger=self.log)
            start = functools.partial(
                fuse.mount_fuse,
                name,
                self.registry.local_path(name),
                registry=self.registry,
                read_only=mount.read_only,
            )
            m = self._fuse_supervisor.add(name, start)  # restarted if its helper dies
        except Exception as e:  # noqa: BLE001 - optional: log and carry on with the others
            self.log.warning("FUSE mount of %s failed: %s", name, e)
            return
        with self._lock:
            self._fuse[name] = m

    def _fuse_release(self, name: str) -> None:
        """Unmount the FUSE directory of mount ``name``, if this service made one (blocking)."""
        with self._lock:
            m = self._fuse.pop(name, None)
        if self._fuse_supervisor is not None:
            m = self._fuse_supervisor.remove(name) or m
        if m is not None and m.alive:
            try:
                m.unmount(timeout=60)
            except Exception as e:  # noqa: BLE001 - the registry entry is gone either way
                self.log.warning("FUSE unmount of %s failed: %s", name, e)

    def _fuse_start_all(self) -> None:
        """At server start: detach stale FUSE mounts left by a killed process, mount the rest."""
        fuse = self._fuse_module()
        if fuse is None or not fuse.fuse_available()[0]:
            return
        mount_dir = self.local_mount_dir
        try:
            cleaned = fuse.cleanup_stale_mounts(mount_dir)
            if cleaned:
                self.log.warning("Detached stale FUSE mounts: %s", ", ".join(cleaned))
        except Exception as e:  # noqa: BLE001
            self.log.warning("Could not clean stale FUSE mounts in %s: %s", mount_dir, e)
        for mount in self.registry.list():
            if self._stopped:
                return
            self._fuse_attach(mount.name)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Mount the registered mounts through FUSE in the background (seconds per mount:
        never on the event loop or in the server's start path)."""
        if self.fuse_enabled and self.local_mount_dir:
            threading.Thread(
                target=self._fuse_start_all, name="workbench-fuse-start", daemon=True
            ).start()

    async def stop(self) -> None:
        """Server shutdown: unmount FUSE directories (each waits for its pending uploads), then
        shut every pool down."""
        if self._fuse_supervisor is not None:
            self._fuse_supervisor.stop()
        with self._lock:
            names = list(self._fuse)
        loop = asyncio.get_running_loop()
        for name in names:
            await loop.run_in_executor(self._control, self._fuse_release, name)
        with self._lock:
            self._stopped = True
            pools = [*self._executors.values(), self._control]
            self._executors.clear()
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)
