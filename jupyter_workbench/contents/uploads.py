"""Chunked uploads into a mount (large files from the file browser).

JupyterLab sends chunks 1, 2, ..., then -1. They stream into one ``storage.writes.StoreFile``
(a multipart upload on OSS) that is committed with the last chunk: until then nothing is on the
store, and a chunk out of order, a failure or ``UPLOAD_IDLE_TIMEOUT`` of silence discards it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from tornado import web

from ..storage.writes import StoreFile
from .models import base_model, decode

UPLOAD_IDLE_TIMEOUT = 30 * 60  # seconds after which an unfinished chunked upload is dropped


@dataclass
class _Upload:
    file: StoreFile
    next_chunk: int = 2
    touched: float = 0.0


class Uploads:
    """The unfinished chunked uploads of one mount (``MountContents``)."""

    def __init__(self, contents):
        self.contents = contents
        self._uploads: dict[str, _Upload] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def in_progress(self, rel: str) -> bool:
        return rel in self._uploads

    async def _discard(self, upload: _Upload) -> None:
        await self.contents.run(upload.file.discard)

    async def _drop_stale(self, exclude: str) -> None:
        now = time.monotonic()
        for rel, upload in list(self._uploads.items()):
            if rel != exclude and now - upload.touched > UPLOAD_IDLE_TIMEOUT:
                self._uploads.pop(rel, None)
                self._locks.pop(rel, None)
                await self._discard(upload)

    def discard_all(self) -> None:
        """Drop every unfinished upload (the store calls run on the mount's pool)."""
        pool = self.contents.service.executor(self.contents.name)
        for rel in list(self._uploads):
            upload = self._uploads.pop(rel)
            pool.submit(upload.file.discard)

    async def save_chunk(self, rel: str, model: dict) -> dict:
        contents, cm = self.contents, self.contents.cm
        api_path = contents.path(rel)
        chunk = model["chunk"]
        if model["type"] != "file":
            raise web.HTTPError(
                400, f'File type "{model["type"]}" is not supported for large file transfer'
            )
        if "content" not in model:
            raise web.HTTPError(400, "No file content provided")
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk == 0 or chunk < -1:
            raise web.HTTPError(400, f"Invalid chunk number {chunk!r}")
        data = decode(model["content"], model.get("format"), api_path)
        lock = self._locks.setdefault(rel, asyncio.Lock())
        async with lock:
            upload = self._uploads.get(rel)
            if chunk == 1:
                cm.run_pre_save_hooks(model=model, path=api_path)
                await self._drop_stale(exclude=rel)
                if upload is not None:
                    self._uploads.pop(rel, None)
                    await self._discard(upload)
                fs = await contents.filesystem()
                upload = _Upload(await contents.call(rel, StoreFile, fs, rel))
                self._uploads[rel] = upload
            elif upload is None or (chunk != -1 and chunk != upload.next_chunk):
                raise web.HTTPError(
                    400,
                    f"The upload of {api_path} was interrupted (chunk {chunk} arrived without the "
                    "ones before it): upload the file again.",
                )
            else:
                upload.next_chunk += 1
            upload.touched = time.monotonic()
            try:
                await contents.call(rel, upload.file.write, data)
                if chunk == -1:
                    await contents.call(rel, upload.file.commit)
            except BaseException:
                self._uploads.pop(rel, None)
                await self._discard(upload)
                raise
            if chunk == -1:
                self._uploads.pop(rel, None)
                self._locks.pop(rel, None)
        if chunk == -1:
            fs = await contents.filesystem()
            with contextlib.suppress(Exception):
                await contents.run(fs.invalidate_cache, rel)
            saved = await contents.saved_model(rel, "file", upload.file.size)
            cm.emit(data={"action": "save", "path": api_path})
            return saved
        # In progress: nothing is on the store yet; describe what was received so far.
        return base_model(
            api_path,
            "file",
            writable=True,
            size=upload.file.size,
            modified=datetime.now(timezone.utc),
        )
