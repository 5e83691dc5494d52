"""``/api/contents/<mount_dir>/...``: jupyter_server's ``ContentsHandler``, except that the JSON
of a big mount listing is encoded on the mount's pool instead of the event loop.

jupyter_server encodes every model on the event loop (``json.dumps(model,
default=json_default)``): about 30 ms for a 2,000-entry listing, 150 ms for 10,000, during which
no other request of the server is answered. With 50 listings at once that kept ``/api/status``
waiting for seconds. Here a listing of more than ``OFF_LOOP_ENTRIES`` entries is encoded by
``MountService.run_cpu`` (the mount's own threads, a bounded number of them computing at once);
everything else (authentication, arguments, errors, small models, other methods) is the stock
handler's. The extension registers it for paths under the mount directory only, and only when
``WorkbenchContentsManager`` serves the contents API (extension routes win over the server's).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from jupyter_client.jsonutil import json_default
from jupyter_server.services.contents.handlers import ContentsHandler

#: Listings with more entries than this are encoded off the event loop.
OFF_LOOP_ENTRIES = 200


class MountContentsHandler(ContentsHandler):
    """``ContentsHandler`` whose big mount listings are encoded off the event loop."""

    _deferred: tuple[dict, str] | None = None

    async def get(self, path=""):
        self._deferred = None
        await super().get(path)
        if self._deferred is None:
            return
        model, name = self._deferred
        self._deferred = None
        service = self.contents_manager.mount_service
        body = await service.run_cpu(name, json.dumps, model, default=json_default)
        await self.finish(body)

    def _finish_model(self, model, location=True):
        name = self._mount_of(model) if self.request.method == "GET" else None
        if name is None:
            return super()._finish_model(model, location)
        if location:
            self.set_header("Location", self.location_url(model["path"]))
        self.set_header("Last-Modified", model["last_modified"])
        self.set_header("Content-Type", "application/json")
        self._deferred = (model, name)  # encoded and sent by get(), off the event loop
        return None

    def _mount_of(self, model: dict) -> str | None:
        """The mount whose big listing ``model`` is, else None."""
        content = model.get("content")
        if model.get("type") != "directory" or not isinstance(content, list):
            return None
        if len(content) <= OFF_LOOP_ENTRIES:
            return None
        route = getattr(self.contents_manager, "route", None)
        if route is None:
            return None
        r = route(model["path"])
        return r.name if r.kind == "mount" else None


def handler_pattern(mount_dir: str) -> str:
    """The route (under base_url) of API paths inside mounts of ``mount_dir``; the server's own
    ``.../checkpoints[/<id>]`` and ``.../trust`` routes keep theirs."""
    own_routes = r"(?!(?:/[^/]+)*/(?:checkpoints(?:/[\w-]+)?|trust)$)"
    return rf"/api/contents(?P<path>{own_routes}/{re.escape(quote(mount_dir))}(?:/[^/]+)+)"
