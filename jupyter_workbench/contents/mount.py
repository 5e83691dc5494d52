"""``MountContents``: the contents API of one mount (``<mount_dir>/<name>/...``).

One instance per mount, made by the router (``WorkbenchContentsManager``) and dropped when the
mount is removed or redefined. It speaks jupyter_server's contents models over the mount's
fsspec filesystem; every store call runs on the mount's own thread pool (``MountService.run``)
and its failures become HTTP errors through the one mapping (``api.base.http_error``):

- listings are one ``storage.list_page`` call per store page of ``listing_page_size`` entries
  (no HEAD per object), up to the folder's bound (``MountService.listing_bounds``:
  ``c.Workbench.listing_limit``, raised by the file browser's "Load the next ..."); a model that
  stops early carries ``"truncated": true`` and ``"next_marker"``, and the bound's state
  (``workbench/api/mounts/<name>/listing/more``) tells the file browser to say so;
- missing files 404, existing targets 409, writes to a read-only mount 403, store failures 502,
  rejected credentials 400, each with a message that says what to do;
- saves replace the file only once complete (``storage.writes``): a failed save leaves the old
  content and is reported as failed.
"""

from __future__ import annotations

import base64
import contextlib
import mimetypes
from datetime import datetime, timezone

import nbformat
from tornado import web

from ..api.base import http_error
from ..storage import Mount, StorageCredentialsError, StorageUnavailableError
from ..storage.writes import write_bytes
from .models import STARTED, base_model, decode, modified, utc
from .uploads import Uploads


class MountContents:
    """Contents of mount ``mount`` for the router ``cm`` (its settings, hooks and events)."""

    def __init__(self, cm, mount: Mount):
        self.cm = cm
        self.service = cm.mount_service
        self.mount = mount
        self.name = mount.name
        self.uploads = Uploads(self)

    @property
    def log(self):
        return self.cm.log

    def path(self, rel: str = "") -> str:
        return self.service.mount_path(self.name, rel)

    # ------------------------------------------------------------------ store calls

    def fail(self, exc: BaseException, api_path: str) -> web.HTTPError:
        """The HTTP error for a failed store call (recorded as the mount's health)."""
        err = http_error(exc, api_path)
        if isinstance(exc, (StorageCredentialsError, StorageUnavailableError)):
            self.service.health.error(self.name, err.log_message)
        if err.status_code >= 500:
            self.log.warning("Mount %s: %s", self.name, err.log_message)
        return err

    async def run(self, fn, *args, **kwargs):
        """Run a blocking call on this mount's pool (failures are not mapped)."""
        return await self.service.run(self.name, fn, *args, **kwargs)

    async def call(self, rel: str, fn, *args, api_path: str | None = None, **kwargs):
        """Run a blocking store call about ``rel``, mapping failures to HTTP errors."""
        try:
            result = await self.run(fn, *args, **kwargs)
        except Exception as e:
            raise self.fail(e, self.path(rel) if api_path is None else api_path) from None
        self.service.health.ok(self.name)
        return result

    async def filesystem(self):
        try:
            return await self.service.afilesystem(self.mount)
        except Exception as e:
            raise self.fail(e, self.path()) from None

    async def info_or_none(self, rel: str):
        fs = await self.filesystem()
        try:
            return await self.call(rel, fs.info, rel, refresh=True)
        except web.HTTPError as e:
            if e.status_code == 404:
                return None
            raise

    async def read_bytes(self, rel: str) -> bytes:
        fs = await self.filesystem()
        return await self.call(rel, fs.cat_file, rel)

    async def write_bytes(self, rel: str, data: bytes) -> None:
        fs = await self.filesystem()
        await self.call(rel, write_bytes, fs, rel, data)

    def check_writable(self, rel: str) -> None:
        if self.mount.read_only:
            raise web.HTTPError(
                403,
                f"Mount {self.name!r} is read-only: {self.path(rel)} cannot be changed. Add the "
                "mount again without read-only to write to it.",
            )

    # ------------------------------------------------------------------ models

    def entry(self) -> dict:
        """The mount itself as a folder of the mount directory."""
        created = utc(self.mount.created_at) or STARTED
        model = base_model(
            self.path(), "directory", writable=not self.mount.read_only, modified=created
        )
        model["mount"] = self.name
        return model

    def _entry_model(self, rel_dir: str, entry: dict) -> dict:
        name = entry["name"]
        api_path = f"{self.path(rel_dir)}/{name}"
        writable = not self.mount.read_only
        if entry["type"] == "directory":
            when = utc(entry.get("last_modified")) or STARTED
            return base_model(api_path, "directory", writable=writable, modified=when)
        kind = "notebook" if name.endswith(".ipynb") else "file"
        model = base_model(
            api_path,
            kind,
            writable=writable,
            size=entry.get("size"),
            modified=utc(entry.get("last_modified")),
        )
        if kind == "file":
            model["mimetype"] = mimetypes.guess_type(name)[0]
        return model

    def entry_models(self, rel_dir: str, entries: list[dict]) -> list[dict]:
        """The contents models of listed ``entries`` of folder ``rel_dir``, hidden names left
        out: per-entry work, so it runs on the mount's pool (``MountService.run_cpu``), never
        on the event loop."""
        hidden = self.cm.hidden_name
        return [self._entry_model(rel_dir, e) for e in entries if not hidden(e["name"])]

    @staticmethod
    def list_pages(fs, rel: str, limit: int, marker: str | None = None, page_size: int = 1000):
        """Up to ``limit`` entries of directory ``rel``, ``page_size`` per store call."""
        from ..storage.listing import MAX_PAGE_SIZE, list_page

        page_size = min(page_size, MAX_PAGE_SIZE)
        entries: list[dict] = []
        while True:
            page, marker = list_page(fs, rel, min(limit - len(entries), page_size), marker)
            entries.extend(page)
            if marker is None or len(entries) >= limit:
                return entries, marker

    async def directory_model(self, rel: str, content: bool, *, file_ok: bool = False):
        """The folder's model (one page of entries); None for a file when ``file_ok``."""
        fs = await self.filesystem()
        created = utc(self.mount.created_at) or STARTED
        api_path = self.path(rel)
        model = base_model(
            api_path, "directory", writable=not self.mount.read_only, modified=created
        )
        if rel:
            model["name"] = rel.rsplit("/", 1)[-1]
        if not content:
            if rel:
                info = await self.call(rel, fs.info, rel)
                if info.get("type") != "directory":
                    raise web.HTTPError(400, f"{api_path} is not a directory", reason="bad type")
            return model
        try:
            try:
                entries, marker = await self.run(
                    self.list_pages,
                    fs,
                    rel,
                    self.service.listing_bounds.limit(self.name, rel),
                    None,
                    self.cm.listing_page_size,
                )
            except NotADirectoryError as e:
                if file_ok:
                    return None
                raise self.fail(e, api_path) from None
            except Exception as e:
                raise self.fail(e, api_path) from None
            self.service.health.ok(self.name)
        except web.HTTPError as e:
            if rel or e.status_code != 404:
                raise
            entries, marker = [], None  # an empty prefix: the mount's root before any write
        model["content"] = await self.service.run_cpu(self.name, self.entry_models, rel, entries)
        model["format"] = "json"
        model["truncated"] = marker is not None
        model["next_marker"] = marker
        self.service.listing_bounds.record(self.name, rel, len(entries), marker is not None)
        return model

    async def _file_model(self, rel, info, content, type, format, require_hash):
        api_path = self.path(rel)
        kind = (
            "notebook"
            if type == "notebook" or (type is None and rel.endswith(".ipynb"))
            else "file"
        )
        model = base_model(
            api_path,
            kind,
            writable=not self.mount.read_only,
            size=info.get("size"),
            modified=modified(info) or STARTED,
        )
        data = None
        if content or require_hash:
            data = await self.read_bytes(rel)
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
                    raise web.HTTPError(400, f"Unreadable Notebook: {api_path} {e!r}") from None
                self.cm.mark_trusted_cells(nb, api_path)
                model["content"] = nb
                model["format"] = "json"
                self.cm.validate_notebook_model(model, validation_error)
        else:
            model["mimetype"] = mimetypes.guess_type(rel)[0]
            if content:
                text = None
                if format != "base64":
                    try:
                        text = data.decode("utf-8")
                    except UnicodeError:
                        if format == "text":
                            raise web.HTTPError(
                                400, f"{api_path} is not UTF-8 encoded", reason="bad format"
                            ) from None
                if text is not None:
                    model.update(content=text, format="text")
                    model["mimetype"] = model["mimetype"] or "text/plain"
                else:
                    model.update(content=base64.b64encode(data).decode("ascii"), format="base64")
                    model["mimetype"] = model["mimetype"] or "application/octet-stream"
        if require_hash:
            model.update(**self.cm._get_hash(data))
        return model

    def _not_a(self, rel: str, type) -> web.HTTPError:
        return web.HTTPError(
            400, f"{self.path(rel)} is a directory, not a {type}", reason="bad type"
        )

    # ------------------------------------------------------------------ ContentsManager API

    async def get(self, rel, content=True, type=None, format=None, require_hash=False):
        if rel == "":
            if type not in (None, "directory"):
                raise self._not_a(rel, type)
            if not content:
                return self.entry()
            return await self.directory_model(rel, content)
        if type == "directory":
            return await self.directory_model(rel, content)
        if type is None and content and "." not in rel.rsplit("/", 1)[-1]:
            # Probably a folder (the file browser opens folders without a type): list it
            # right away, one store call instead of HEAD + probe + list.
            model = await self.directory_model(rel, content, file_ok=True)
            if model is not None:
                return model
        fs = await self.filesystem()
        info = await self.call(rel, fs.info, rel, refresh=True)
        if info.get("type") == "directory":
            if type not in (None, "directory"):
                raise self._not_a(rel, type)
            return await self.directory_model(rel, content)
        return await self._file_model(rel, info, content, type, format, require_hash)

    async def saved_model(self, rel: str, kind: str, size: int) -> dict:
        """The model of a file just written (from the store; from what was written if the
        store cannot say right now: the write itself succeeded)."""
        try:
            return await self.get(rel, False, kind, None, False)
        except web.HTTPError as e:
            self.log.warning("Saved %s, but could not read back its details: %s", self.path(rel), e)
            return base_model(
                self.path(rel), kind, writable=True, size=size, modified=datetime.now(timezone.utc)
            )

    async def save(self, model: dict, rel: str) -> dict:
        cm, api_path = self.cm, self.path(rel)
        if not rel:
            if model["type"] != "directory":
                raise web.HTTPError(400, f"{api_path} is a directory")
            return await cm.get(api_path, content=False)
        self.check_writable(rel)
        if model.get("chunk") is not None:
            return await self.uploads.save_chunk(rel, model)
        cm.run_pre_save_hooks(model=model, path=api_path)
        if "content" not in model and model["type"] != "directory":
            raise web.HTTPError(400, "No file content provided")
        if model["type"] == "directory":
            info = await self.info_or_none(rel)
            fs = await self.filesystem()
            if info is None:
                await self.call(rel, fs.mkdir, rel, create_parents=True)
            elif info.get("type") != "directory":
                raise web.HTTPError(400, f"Not a directory: {api_path}")
            saved = await self.directory_model(rel, content=False)
            cm.emit(data={"action": "save", "path": api_path})
            return saved
        validation_error: dict = {}
        if model["type"] == "notebook":
            if _deeper_than(model.get("content"), MAX_NOTEBOOK_DEPTH):
                # refused before nbformat recurses into it: a RecursionError deep in the
                # server's stack also breaks whatever finalizer runs there
                raise web.HTTPError(
                    400,
                    f"Unsaveable notebook {api_path}: its JSON is nested more than "
                    f"{MAX_NOTEBOOK_DEPTH} levels deep",
                )
            try:
                nb = nbformat.from_dict(model["content"])
                cm.check_and_sign(nb, api_path)
                data = nbformat.writes(
                    nb, version=nbformat.NO_CONVERT, capture_validation_error=validation_error
                ).encode("utf-8")
            except web.HTTPError:
                raise
            except Exception as e:
                raise web.HTTPError(
                    400, f"Unsaveable notebook {api_path}: {type(e).__name__}: {e}"
                ) from None
        elif model["type"] == "file":
            data = decode(model.get("content"), model.get("format"), api_path)
        else:
            raise web.HTTPError(400, f"Unhandled contents type: {model['type']}")
        await self.write_bytes(rel, data)
        saved = await self.saved_model(rel, model["type"], len(data))
        if model["type"] == "notebook":
            cm.validate_notebook_model(model, validation_error=validation_error)
            if model.get("message"):
                saved["message"] = model["message"]
            try:
                if not await cm.checkpoints.list_checkpoints(api_path):
                    await cm.create_checkpoint(api_path)
            except web.HTTPError as e:  # the notebook itself is saved: do not report failure
                self.log.warning("No checkpoint for %s: %s", api_path, e.log_message)
        cm.emit(data={"action": "save", "path": api_path})
        return saved

    async def delete_file(self, rel: str) -> None:
        api_path = self.path(rel)
        if not rel:
            raise web.HTTPError(
                400,
                f"{api_path} is mount {self.name!r}: to remove it, use Unmount in the Workbench "
                "sidebar's Mounts panel (that deletes nothing on the storage).",
            )
        self.check_writable(rel)
        fs = await self.filesystem()
        info = await self.info_or_none(rel)
        if info is None:
            raise web.HTTPError(404, f"File or directory does not exist: {api_path}")
        if info.get("type") == "directory":
            if not self.cm.always_delete_dir:
                entries, _ = await self.call(rel, self.list_pages, fs, rel, 1)
                if entries:
                    raise web.HTTPError(400, f"Directory {api_path} not empty")
            await self.call(rel, fs.rm, rel, recursive=True)
        else:
            await self.call(rel, fs.rm_file, rel)
        with contextlib.suppress(Exception):
            fs.invalidate_cache(rel)

    async def rename(self, old: str, new: str) -> None:
        """Move ``old`` to ``new`` within this mount."""
        fs = await self.filesystem()
        info = await self.info_or_none(old)
        if info is None:
            raise web.HTTPError(404, f"File or directory does not exist: {self.path(old)}")
        recursive = info.get("type") == "directory"
        await self.call(old, fs.mv, old, new, recursive=recursive)
        with contextlib.suppress(Exception):
            fs.invalidate_cache()

    async def copy(self, src: str, dst: str) -> None:
        """Copy file ``src`` to ``dst`` within this mount (on the store, no download)."""
        fs = await self.filesystem()
        await self.call(src, fs.cp_file, src, dst, api_path=self.path(dst))

    async def file_exists(self, rel: str) -> bool:
        if not rel:
            return False
        if self.uploads.in_progress(rel):
            return False  # a chunked upload in progress: nothing on the store yet
        info = await self.info_or_none(rel)
        return info is not None and info.get("type") != "directory"

    async def dir_exists(self, rel: str) -> bool:
        if not rel:
            return True
        info = await self.info_or_none(rel)
        return info is not None and info.get("type") == "directory"

    async def exists(self, rel: str) -> bool:
        return True if not rel else await self.info_or_none(rel) is not None

    def is_hidden(self, rel: str) -> bool:
        return any(part.startswith(".") for part in rel.split("/") if part)

    def forget(self) -> None:
        """The mount is gone or redefined: drop unfinished uploads (off the event loop)."""
        self.uploads.discard_all()


#: Deeper than any real notebook (cells > outputs > data > a JSON output's own nesting).
MAX_NOTEBOOK_DEPTH = 100


def _deeper_than(value, limit: int) -> bool:
    """Whether lists/dicts in ``value`` nest more than ``limit`` levels (walked without
    recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
