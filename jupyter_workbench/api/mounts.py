"""``workbench/api/mounts``: add, list, inspect and remove mounts (thin over ``MountService``).

::

    GET    mounts                   [mount, ...]
    POST   mounts                   {name, url, options?, read_only?} -> 201 mount
    GET    mounts/{name}            mount (``?check=1`` lists the store's root first)
    DELETE mounts/{name}            unmount: the registry forgets it; nothing on the storage changes
    GET    mounts/{name}/listing    ?path=&marker=&limit= -> {path, entries, next_marker}
    GET    mounts/{name}/listing/more ?path=   -> {path, limit, step, shown, truncated}
    POST   mounts/{name}/listing/more {path}   -> the same, the folder's bound raised one step

The file browser lists a mount folder up to its bound (``c.Workbench.listing_limit``); after
each listing of a folder, ``listing/more`` says how many entries it holds (``shown``) and whether
the store has more (``truncated``), and POST raises that folder's bound by ``step`` entries (the
file browser's "Load the next ..."; it then refreshes).

A mount is the registry's description (no secrets: only the names of the secret options it has)
plus ``path`` (where the file browser shows it, e.g. ``mnt/data``), ``state`` (``ok`` /
``error`` with a message / ``unknown``, from the last check or file operation), ``fuse`` (the
FUSE helper's status where that helper exists, else null) and ``listing_page_size``.

Adding a mount connects to the store first, bounded by ``MountService.check_timeout``: the
server keeps answering meanwhile, and a mount whose store cannot be listed is not saved.
Secrets in ``options`` go to the 0600 credential store only; they are never returned, logged or
put in an error message. Errors are the storage layer's, answered by the handler base.
"""

from __future__ import annotations

from tornado import web

from ..storage import normalize_relative_path
from ..storage.listing import MAX_PAGE_SIZE
from .base import API, WorkbenchHandler, field

FEATURE = "mounts"

_FIELDS = {"name", "url", "options", "read_only"}


class MountsHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self):
        service = self.mounts
        mounts = await service.run_registry(service.registry.list)
        self.reply([service.describe(m) for m in mounts])

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
        mount = await self.mounts.add(name, url, options, read_only)
        self.reply(self.mounts.describe(mount), status=201)


class MountHandler(WorkbenchHandler):
    @web.authenticated
    async def get(self, name: str):
        mount = self.mounts.get(name)
        if self.get_argument("check", "0") in ("1", "true"):
            await self.mounts.check(mount)
        self.reply(self.mounts.describe(mount))

    @web.authenticated
    async def delete(self, name: str):
        mount = await self.mounts.remove(name)
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
        service = self.mounts
        mount = service.get(name)
        path = self.get_argument("path", "")
        marker = self.get_argument("marker", None) or None
        limit = self.int_argument("limit", service.listing_page_size)
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        entries, next_marker = await service.list_page(mount, path, limit, marker)
        base = service.mount_path(mount.name)
        rel = normalize_relative_path(path)
        self.reply(
            {
                "path": service.mount_path(mount.name, rel),
                "entries": [
                    {**e, "path": f"{base}/{e['path']}"}
                    for e in entries
                    if not e["name"].startswith(".")
                ],
                "next_marker": next_marker,
            }
        )


class ListingMoreHandler(WorkbenchHandler):
    """The file browser's bound for one mount folder: what it shows, and one step more."""

    def _state(self, name: str, rel: str) -> dict:
        service = self.mounts
        return {
            "path": service.mount_path(name, rel),
            **service.listing_bounds.state(name, rel),
        }

    @web.authenticated
    async def get(self, name: str):
        mount = self.mounts.get(name)
        rel = normalize_relative_path(self.get_argument("path", ""))
        self.reply(self._state(mount.name, rel))

    @web.authenticated
    async def post(self, name: str):
        mount = self.mounts.get(name)
        body = self.json_body(allowed={"path"})
        rel = normalize_relative_path(field(body, "path", str, default=""))
        self.mounts.listing_bounds.more(mount.name, rel)
        self.reply(self._state(mount.name, rel))


handlers = [
    (rf"{API}/mounts", MountsHandler),
    (rf"{API}/mounts/([^/]+)", MountHandler),
    (rf"{API}/mounts/([^/]+)/listing", MountListingHandler),
    (rf"{API}/mounts/([^/]+)/listing/more", ListingMoreHandler),
]
