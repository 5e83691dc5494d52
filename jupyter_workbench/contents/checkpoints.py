"""Checkpoints: jupyter_server's file checkpoints for local files; those of mount files live in
a local cache (``<state_dir>/checkpoints/<mount>/...``, written atomically, mode 0600), never on
the storage, and are removed with the mount."""

from __future__ import annotations

import os

from jupyter_server.services.contents.filecheckpoints import AsyncFileCheckpoints

from ..atomic import write_atomic


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


class WorkbenchCheckpoints(AsyncFileCheckpoints):
    """Local file checkpoints; those of mount files live under ``<state_dir>/checkpoints``."""

    def _mount_route(self, path: str):
        route = getattr(self.parent, "route", None)
        r = route(path) if route is not None else None
        return r if r is not None and r.kind == "mount" and r.rel else None

    def checkpoint_path(self, checkpoint_id, path):
        r = self._mount_route(path)
        if r is None:
            return super().checkpoint_path(checkpoint_id, path)
        parent, _, name = r.rel.rpartition("/")
        base, ext = os.path.splitext(name)
        folder = os.path.join(self.parent.mount_service.checkpoint_dir, r.name, *parent.split("/"))
        os.makedirs(folder, mode=0o700, exist_ok=True)
        return os.path.join(folder, f"{base}-{checkpoint_id}{ext}")

    async def create_checkpoint(self, contents_mgr, path):
        r = self._mount_route(path)
        if r is None:
            return await super().create_checkpoint(contents_mgr, path)
        data = await r.contents.read_bytes(r.rel)
        dest = self.checkpoint_path("checkpoint", path)
        await r.contents.run(write_atomic, dest, data, mode=0o600)
        return await self.checkpoint_model("checkpoint", dest)

    async def restore_checkpoint(self, contents_mgr, checkpoint_id, path):
        r = self._mount_route(path)
        if r is None:
            return await super().restore_checkpoint(contents_mgr, checkpoint_id, path)
        r.contents.check_writable(r.rel)
        src = self.checkpoint_path(checkpoint_id, path)
        if not os.path.isfile(src):
            self.no_such_checkpoint(path, checkpoint_id)
        data = await r.contents.run(_read, src)
        await r.contents.write_bytes(r.rel, data)
