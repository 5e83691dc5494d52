"""``workbench/api/mounts``: add, list, inspect and remove mounts (thin over ``storage``).

::

    GET    mounts                   [mount, ...]
    POST   mounts                   {name, url, options?, read_only?} -> 201 mount
    GET    mounts/{name}            mount (``?check=1`` lists the store's root first)
    DELETE mounts/{name}            unmount: the registry forgets it; nothing on the storage changes
    GET    mounts/{name}/listing    ?path=&marker=&limit= -> {path, entries, next_marker}

A mount is the registry's description (no secrets: only the names of the secret options it has)
plus ``path`` (where the file browser shows it, e.g. ``mnt/data``), ``state`` (``ok`` /
``error`` with a message / ``unknown``, from the last check or file operation), ``fuse`` (the
FUSE helper's status where that helper exists, else null) and ``listing_page_size``.

Adding a mount connects to the store first (``MountRegistry.add(check=True)``) on the storage
thread pool, bounded by ``CHECK_TIMEOUT``: the server keeps answering meanwhile, and a mount
whose store cannot be listed is not saved. Secrets in ``options`` go to the 0600 credential
store only; they are never returned, logged or put in an error message.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from urllib.parse import unquote, urlsplit

from tornado import web
from traitlets import TraitError

from ..contents import WorkbenchContentsManager, mount_states, run_blocking
from ..storage import (
    MountRegistry,
    StorageError,
    http_status_for,
    is_secret_option,
    normalize_relative_path,
    validate_mount_name,
)
from .base import API, WorkbenchHandler, field

FEATURE = "mounts"

CHECK_TIMEOUT = 30.0  # seconds a POST may spend connecting to the store
_FIELDS = {"name", "url", "options", "read_only"}


# ------------------------------------------------------------------------------ setup


def setup(app) -> MountRegistry:
    """Record the server's mount settings; call it from ``Workbench.initialize_settings``.

    Writes ``mount_dir`` (absolute) and ``allowed_local_roots`` (the configured ones plus the
    server root) into the registry so that kernels and the CLI use the same ones, and hands
    ``mount_dir`` / ``listing_page_size`` to the contents manager. Safe to call again.
    """
    registry = MountRegistry()
    cm = app.serverapp.contents_manager
    workbench_cm = isinstance(cm, WorkbenchContentsManager)
    if workbench_cm:
        try:
            cm.mount_dir = app.mount_dir
            cm.listing_page_size = app.listing_page_size
        except TraitError as e:
            app.log.error("Invalid mount setting (%s); using mount_dir=%r.", e, cm.mount_dir)
        cm.registry = registry
        mount_dir = cm.mount_dir  # validated and normalised
    else:
        try:
            mount_dir = normalize_relative_path(app.mount_dir) or "mnt"
        except StorageError:
            mount_dir = "mnt"
        app.log.warning(
            "Mounts will not appear in the file browser: the contents manager is %s; set "
            "ServerApp.contents_manager_class = "
            "'jupyter_workbench.contents.WorkbenchContentsManager'.",
            type(cm).__name__,
        )
    roots = [app.root_dir, *app.allowed_local_roots]
    try:
        registry.configure(
            mount_dir=os.path.join(app.root_dir, mount_dir), allowed_local_roots=roots
        )
    except OSError as e:
        app.log.warning("Could not record mount settings in %s: %s", registry.state_dir, e)
    first_setup = getattr(app, "_workbench_mounts", None) is None
    app._workbench_mounts = (registry, mount_dir)
    if first_setup and app.fuse_mounts:
        # Mounting can take seconds per mount: never on the event loop or in the start path.
        threading.Thread(
            target=_fuse_start_all,
            args=(registry, os.path.join(app.root_dir, mount_dir), app.log),
            name="workbench-fuse-start",
            daemon=True,
        ).start()
    return registry


def _registry(handler: WorkbenchHandler) -> MountRegistry:
    app = handler.workbench
    if getattr(app, "_workbench_mounts", None) is None:
        setup(app)
    return app._workbench_mounts[0]


def _mount_dir(handler: WorkbenchHandler) -> str:
    _registry(handler)
    return handler.workbench._workbench_mounts[1]


def _contents(handler: WorkbenchHandler) -> WorkbenchContentsManager | None:
    cm = handler.contents_manager
    return cm if isinstance(cm, WorkbenchContentsManager) else None


# ------------------------------------------------------------------------------ FUSE (optional)


def _fuse_module():
    try:
        from ..storage import fuse
    except ImportError:
        return None
    return fuse


_fuse_availability: tuple[bool, str] | None = None


def _fuse_mount_of(fuse, name: str):
    active = getattr(fuse, "active_mounts", None)
    for m in active() if callable(active) else ():
        if getattr(m, "name", None) == name:
            return m
    return None


def fuse_status(name: str) -> dict | None:
    """Whether mount ``name`` is also a FUSE directory (None where there is no FUSE helper)."""
    global _fuse_availability
    fuse = _fuse_module()
    if fuse is None:
        return None
    try:
        m = _fuse_mount_of(fuse, name)
        if m is not None:
            return {"state": "mounted" if m.mounted else "not mounted", **m.to_dict()}
        if _fuse_availability is None:
            _fuse_availability = fuse.fuse_available()
        ok, why = _fuse_availability
        return {"state": "not mounted" if ok else "unavailable", "message": None if ok else why}
    except Exception as e:  # noqa: BLE001 - FUSE is optional: report, never fail
        return {"state": "error", "message": str(e)}


def _fuse_release(name: str, log) -> None:
    """Unmount the FUSE directory of mount ``name``, if this process made one (blocking)."""
    fuse = _fuse_module()
    m = _fuse_mount_of(fuse, name) if fuse is not None else None
    if m is not None:
        try:
            m.unmount(timeout=60)
        except Exception as e:  # noqa: BLE001 - the registry entry is gone either way
            log.warning("FUSE unmount of %s failed: %s", name, e)


def _fuse_attach(registry: MountRegistry, name: str, log) -> None:
    """Also show mount ``name`` as a real directory through FUSE where that works (blocking).

    Never raises: without FUSE the mount still works through the file browser and
    ``jupyter_workbench.mounts.filesystem``; the panel shows why FUSE is unavailable.
    """
    fuse = _fuse_module()
    if fuse is None or _fuse_mount_of(fuse, name) is not None:
        return
    ok, why = fuse.fuse_available()
    if not ok:
        log.info("Mount %s is not a FUSE directory: %s", name, why)
        return
    try:
        mount = registry.get(name)
        fuse.mount_fuse(
            name, registry.local_path(name), registry=registry, read_only=mount.read_only
        )
    except Exception as e:  # noqa: BLE001 - optional: log and carry on with the others
        log.warning("FUSE mount of %s failed: %s", name, e)


def _fuse_start_all(registry: MountRegistry, mount_dir: str, log) -> None:
    """At server start: detach stale FUSE mounts left by a killed process, mount the rest."""
    fuse = _fuse_module()
    if fuse is None or not fuse.fuse_available()[0]:
        return
    try:
        cleaned = fuse.cleanup_stale_mounts(mount_dir)
        if cleaned:
            log.warning("Detached stale FUSE mounts: %s", ", ".join(cleaned))
    except Exception as e:  # noqa: BLE001
        log.warning("Could not clean stale FUSE mounts in %s: %s", mount_dir, e)
    for mount in registry.list():
        _fuse_attach(registry, mount.name, log)


# ------------------------------------------------------------------------------ helpers


def _scrub(message: str, secrets) -> str:
    for value in secrets:
        if isinstance(value, str) and len(value) >= 3 and value in message:
            message = message.replace(value, "***")
    return message


def _url_secrets(url: str) -> list[str]:
    """Credentials written into a URL (``oss://AK:SECRET@bucket``), to keep out of messages."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return []
    userinfo, at, _ = netloc.rpartition("@")
    if not at:
        return []
    user, _, password = userinfo.partition(":")
    return [unquote(p) for p in (password, userinfo) if p] + ([unquote(user)] if password else [])


def _fail(exc: BaseException, secrets=(), *, store_status: int | None = None) -> web.HTTPError:
    """A 4xx for what the user gave (5xx of the storage layer become ``store_status``)."""
    if isinstance(exc, web.HTTPError):
        return exc
    status = http_status_for(exc)
    if isinstance(exc, StorageError):
        message = exc.message
    else:
        message = str(exc) or type(exc).__name__
    if status >= 500 and store_status is not None and isinstance(exc, (StorageError, OSError)):
        status = store_status
    return web.HTTPError(status, _scrub(message, secrets))


def describe(handler: WorkbenchHandler, mount) -> dict:
    registry = _registry(handler)
    out = registry.describe(mount)
    out["path"] = f"{_mount_dir(handler)}/{mount.name}"
    out["state"] = mount_states.get(mount.name)
    out["fuse"] = fuse_status(mount.name)
    out["listing_page_size"] = handler.workbench.listing_page_size
    out["in_file_browser"] = _contents(handler) is not None
    return out


def _get_mount(handler: WorkbenchHandler, name: str):
    try:
        validate_mount_name(name)
        return _registry(handler).get(name)
    except StorageError as e:
        raise _fail(e) from None


class _PendingAdd:
    """Lets a timed-out POST undo the mount its worker thread may still add."""

    def __init__(self):
        self.lock = threading.Lock()
        self.abandoned = False
        self.mount = None

    def run(self, registry: MountRegistry, name, url, options, read_only):
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


# ------------------------------------------------------------------------------ handlers


class MountsHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self):
        registry = _registry(self)
        mounts = await run_blocking(registry.list)
        self.reply([describe(self, m) for m in mounts])

    @web.authenticated
    async def post(self):
        body = self.json_body(allowed=_FIELDS)
        name = field(body, "name", str, required=True)
        url = field(body, "url", str, required=True)
        options = field(body, "options", dict, default={})
        read_only = field(body, "read_only", bool, default=False)
        for key, value in options.items():
            if value is not None and not isinstance(value, (str, int, float, bool)):
                raise web.HTTPError(400, f"Option {key!r} must be a string, number or boolean.")
        secrets = [v for k, v in options.items() if is_secret_option(k) and isinstance(v, str)]
        secrets += _url_secrets(url)
        registry = _registry(self)
        pending = _PendingAdd()
        try:
            mount = await asyncio.wait_for(
                run_blocking(pending.run, registry, name, url, options, read_only),
                timeout=CHECK_TIMEOUT,
            )
        except asyncio.TimeoutError:
            if not pending.abandon():
                mount = pending.mount
            else:
                raise web.HTTPError(
                    400,
                    f"The storage for {name!r} did not answer within {CHECK_TIMEOUT:g} s, so the "
                    "mount was not added. Check the endpoint and the network.",
                ) from None
        except Exception as e:
            raise _fail(e, secrets, store_status=400) from None
        mount_states.ok(mount.name)
        cm = _contents(self)
        if cm is not None:
            cm.forget_mount(mount.name)  # a previous mount of that name may be cached
        if self.workbench.fuse_mounts:
            await run_blocking(_fuse_attach, registry, mount.name, self.log)
        self.reply(describe(self, mount), status=201)


class MountHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self, name: str):
        mount = _get_mount(self, name)
        if self.get_argument("check", "0") in ("1", "true"):
            await self._check(mount)
        self.reply(describe(self, mount))

    async def _check(self, mount) -> None:
        from ..storage import list_page

        registry = _registry(self)

        def check():
            list_page(registry.filesystem(mount.name), "", 1)

        try:
            await asyncio.wait_for(run_blocking(check), timeout=CHECK_TIMEOUT)
        except asyncio.TimeoutError:
            mount_states.error(mount.name, f"No answer within {CHECK_TIMEOUT:g} s.")
        except FileNotFoundError:
            mount_states.ok(mount.name)  # an empty prefix: fine until the first write
        except Exception as e:  # noqa: BLE001 - reported as the mount's state
            mount_states.error(mount.name, _fail(e).log_message)
        else:
            mount_states.ok(mount.name)

    @web.authenticated
    async def delete(self, name: str):
        mount = _get_mount(self, name)
        registry = _registry(self)
        # Unmount FUSE first: it waits for pending uploads, which still need the mount.
        await run_blocking(_fuse_release, mount.name, self.log)
        try:
            await run_blocking(registry.remove, mount.name)
        except Exception as e:
            raise _fail(e) from None
        cm = _contents(self)
        if cm is not None:
            cm.forget_mount(mount.name)
            cache = os.path.join(cm.checkpoint_cache_dir, mount.name)
            await run_blocking(shutil.rmtree, cache, True)
        mount_states.forget(mount.name)
        self.reply(
            {
                "name": mount.name,
                "url": mount.url,
                "removed": True,
                "message": f"Unmounted {mount.name}; nothing on the storage was deleted.",
            }
        )


class MountListingHandler(WorkbenchHandler):
    """One page of a mount folder, for the Mounts panel's "List more"."""

    @web.authenticated
    async def get(self, name: str):
        from ..storage import list_page
        from ..storage.listing import MAX_PAGE_SIZE

        mount = _get_mount(self, name)
        path = self.get_argument("path", "")
        marker = self.get_argument("marker", None) or None
        try:
            limit = int(self.get_argument("limit", str(self.workbench.listing_page_size)))
        except ValueError:
            raise web.HTTPError(400, "limit must be an integer.") from None
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        try:
            rel = normalize_relative_path(path)
        except StorageError as e:
            raise _fail(e) from None
        cm = _contents(self)
        registry = _registry(self)
        try:
            if cm is not None:
                fs = await cm.filesystem(mount)
            else:
                fs = await run_blocking(registry.filesystem, mount.name)
            entries, next_marker = await run_blocking(list_page, fs, rel, limit, marker)
        except web.HTTPError:
            raise
        except Exception as e:
            raise _fail(e) from None
        base = f"{_mount_dir(self)}/{mount.name}"
        self.reply(
            {
                "path": f"{base}/{rel}" if rel else base,
                "entries": [
                    {**e, "path": f"{base}/{e['path']}"}
                    for e in entries
                    if not e["name"].startswith(".")
                ],
                "next_marker": next_marker,
            }
        )


async def stop(app) -> None:
    """Server shutdown: unmount FUSE directories (each waits for its pending uploads)."""
    fuse = _fuse_module()
    if fuse is None:
        return
    for m in list(fuse.active_mounts()):
        await run_blocking(_fuse_release, m.name, app.log)


handlers = [
    (rf"{API}/mounts", MountsHandler),
    (rf"{API}/mounts/([^/]+)", MountHandler),
    (rf"{API}/mounts/([^/]+)/listing", MountListingHandler),
]
