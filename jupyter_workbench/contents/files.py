"""``/files/<path>``: local files as jupyter_server serves them; mount files streamed from the
store in ranged chunks (``Range`` requests answered with 206), never built as one body."""

from __future__ import annotations

import asyncio

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import AuthenticatedFileHandler
from tornado import web
from tornado.iostream import StreamClosedError

from ..storage.writes import STREAM_CHUNK
from .models import content_type, modified


def parse_range(header: str, size: int) -> tuple[int, int] | None:
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


class MountFilesHandler(AuthenticatedFileHandler):
    """``/files/<path>``, streaming files on mounts from their store."""

    @web.authenticated
    @authorized
    async def get(self, path, include_body=True):
        cm = self.contents_manager
        route = getattr(cm, "route", None)
        r = route(path) if route is not None else None
        if r is None or r.kind != "mount":
            return await super().get(path, include_body=include_body)
        self.check_xsrf_cookie()
        if not cm.allow_hidden and await cm.is_hidden(r.path):
            raise web.HTTPError(404)
        if not r.rel:
            raise web.HTTPError(404, f"{r.path} is a folder, not a file")
        contents = r.contents
        fs = await contents.filesystem()
        info = await contents.call(r.rel, fs.info, r.rel, refresh=True)
        if info.get("type") == "directory":
            raise web.HTTPError(404, f"{r.path} is a folder, not a file")
        size = int(info.get("size") or 0)
        name = r.rel.rsplit("/", 1)[-1]
        if name.endswith(".ipynb") or self.get_argument("download", None):
            self.set_attachment_header(name)
        self.set_header("Content-Type", content_type(name))
        self.set_header("Cache-Control", "no-cache")
        self.set_header("Accept-Ranges", "bytes")
        last_modified = modified(info)
        if last_modified is not None:
            self.set_header("Last-Modified", last_modified)
        start, end = 0, size
        range_header = self.request.headers.get("Range")
        if range_header and size:
            parsed = parse_range(range_header, size)
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
        await self._stream(r, fs, start, end)

    async def _stream(self, r, fs, start: int, end: int) -> None:
        contents = r.contents

        def fetch(pos):
            return contents.run(fs.cat_file, r.rel, pos, min(pos + STREAM_CHUNK, end))

        pos, pending = start, asyncio.ensure_future(fetch(start))
        try:
            while pending is not None:
                try:
                    data = await pending
                except Exception as e:
                    if pos == start:
                        raise contents.fail(e, r.path) from None
                    # Headers are gone: all we can do is cut the response short.
                    contents.log.warning("Download of %s failed at byte %d: %s", r.path, pos, e)
                    self.request.connection.close()
                    return
                pos += len(data)
                # Read the next chunk from the store while this one goes to the browser.
                pending = asyncio.ensure_future(fetch(pos)) if data and pos < end else None
                self.write(data)
                await self.flush()
        except StreamClosedError:
            if pending is not None:
                pending.cancel()
            return  # the browser went away
