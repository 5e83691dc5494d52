"""``WorkbenchContentsManager``: a router over the local files and one manager per mount.

In the spirit of jupyter-fs's ``MetaManager``, every ContentsManager method looks at its path
first (``route``) and hands the call to whoever owns it:

==================================  ==========================================================
``<mount_dir>/<name>/<rel>``        that mount's ``MountContents`` (its fsspec filesystem)
``<mount_dir>``                     the mounts as folders, merged with real files there
anything else                       jupyter_server's ``AsyncLargeFileManager``, unchanged
==================================  ==========================================================

Renames and copies between two owners stream the file across (``storage.writes.copy_stream``).
Settings (``mount_dir``, ``listing_page_size``) and the mounts themselves come from the server's
``MountService`` (``mount_service``), which the extension hands over when it starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from jupyter_server.services.contents.manager import AsyncContentsManager, copy_pat
from tornado import web
from traitlets import default

from ..storage import Mount, StorageError, normalize_relative_path
from ..storage.service import MountService
from ..storage.writes import copy_stream
from .checkpoints import WorkbenchCheckpoints
from .files import MountFilesHandler
from .models import STARTED, base_model
from .mount import MountContents


@dataclass(frozen=True)
class Route:
    """Where an API path lives: ``local`` (the parent class), ``mount_dir`` (``mnt`` itself) or
    ``mount`` (``mnt/<name>/<rel>``, served by ``contents``)."""

    kind: str
    path: str
    contents: MountContents | None = None
    rel: str = ""

    @property
    def name(self) -> str:
        return self.contents.name if self.contents else ""


class WorkbenchContentsManager(AsyncLargeFileManager):
    """``AsyncLargeFileManager`` that serves ``<mount_dir>/<name>/...`` from mounts."""

    @default("checkpoints_class")
    def _default_checkpoints_class(self):
        return WorkbenchCheckpoints

    @default("files_handler_class")
    def _default_files_handler_class(self):
        return MountFilesHandler

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._service: MountService | None = None
        self._managers: dict[str, MountContents] = {}

    # ------------------------------------------------------------------ mounts

    @property
    def mount_service(self) -> MountService:
        """The server's mounts (a private one until the extension hands its own over)."""
        if self._service is None:
            self.mount_service = MountService(root_dir=self.root_dir, logger=self.log)
        return self._service

    @mount_service.setter
    def mount_service(self, service: MountService) -> None:
        if service is self._service:
            return
        for manager in self._managers.values():
            manager.forget()
        self._managers.clear()
        self._service = service
        service.on_forget(self.forget_mount)

    @property
    def mount_dir(self) -> str:
        return self.mount_service.mount_dir

    @property
    def listing_page_size(self) -> int:
        return self.mount_service.listing_page_size

    def mounts(self) -> dict[str, Mount]:
        return self.mount_service.mounts()

    def forget_mount(self, name: str) -> None:
        """Drop the manager of mount ``name`` (removed or added again) and its uploads."""
        manager = self._managers.pop(name, None)
        if manager is not None:
            manager.forget()

    def _manager(self, mount: Mount) -> MountContents:
        manager = self._managers.get(mount.name)
        if manager is None or manager.mount != mount:
            if manager is not None:
                manager.forget()
            manager = self._managers[mount.name] = MountContents(self, mount)
        return manager

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
                return Route("mount", path, self._manager(mount), rel)
        return Route("local", path)

    def hidden_name(self, name: str) -> bool:
        return (not self.allow_hidden and name.startswith(".")) or not self.should_list(name)

    # ------------------------------------------------------------------ the mount directory

    async def _mount_dir_model(self, content: bool, type=None) -> dict:
        if type not in (None, "directory"):
            raise web.HTTPError(400, f"{self.mount_dir} is a directory", reason="bad type")
        mounts = self.mounts()
        if os.path.isdir(self._get_os_path(self.mount_dir)):
            model = await super().get(self.mount_dir, content=content)
        elif mounts:
            model = base_model(self.mount_dir, "directory", writable=False, modified=STARTED)
            if content:
                model.update(content=[], format="json")
        else:
            raise web.HTTPError(404, f"No such file or directory: {self.mount_dir}")
        if content:
            # Mount folders replace same-named real entries (e.g. empty FUSE mount points).
            entries = {e["name"]: e for e in model["content"] if e["name"] not in mounts}
            entries.update({name: self._manager(m).entry() for name, m in mounts.items()})
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
            base_model(self.mount_dir, "directory", writable=False, modified=STARTED)
        )

    def _refuse_mount_dir(self, r: Route) -> None:
        if r.kind == "mount_dir" or (r.kind == "mount" and not r.rel):
            raise web.HTTPError(
                400,
                f"{r.path} is where mounts appear and cannot be renamed or replaced "
                "(change c.Workbench.mount_dir, or add the mount again under another name).",
            )

    # ------------------------------------------------------------------ ContentsManager API

    async def get(self, path, content=True, type=None, format=None, require_hash=False):
        r = self.route(path)
        if r.kind == "local":
            model = await super().get(
                path, content=content, type=type, format=format, require_hash=require_hash
            )
            if content and model.get("content") is not None:
                self._add_virtual_mount_dir(r.path, model)
            return model
        if r.kind == "mount":
            model = await r.contents.get(r.rel, content, type, format, require_hash)
        else:
            model = await self._mount_dir_model(content, type)
        self.emit(data={"action": "get", "path": r.path})
        return model

    def _check_not_unmounted(self, path: str) -> None:
        """A save into ``mnt/<name>/...`` whose mount is gone (unmounted while the document
        was open) is a 404 saying so, instead of the local disk's raw ``[Errno 2]``."""
        path = (path or "").strip("/")
        md = self.mount_dir
        if not path.startswith(md + "/"):
            return
        name, _, rest = path[len(md) + 1 :].partition("/")
        if rest and not os.path.isdir(self._get_os_path(f"{md}/{name}")):
            raise web.HTTPError(
                404,
                f"Cannot save {path}: {md}/{name} is not mounted any more. Mount it again "
                "(Workbench sidebar, Mounts) and save, or use File > Save As… to keep a copy "
                "elsewhere.",
            )

    async def save(self, model, path=""):
        r = self.route(path)
        if r.kind == "local":
            self._check_not_unmounted(path)
            return await super().save(model, path)
        if not isinstance(model, dict) or "type" not in model:
            raise web.HTTPError(400, "No file type provided")
        if r.kind == "mount_dir":
            if model["type"] != "directory":
                raise web.HTTPError(400, f"{r.path} is a directory")
            return await self.get(r.path, content=False)
        return await r.contents.save(model, r.rel)

    async def delete_file(self, path):
        r = self.route(path)
        if r.kind == "mount":
            return await r.contents.delete_file(r.rel)
        if r.kind == "mount_dir" and self.mounts():
            raise web.HTTPError(
                400,
                f"{r.path} holds the mounts: unmount them in the Workbench sidebar's Mounts "
                "panel first.",
            )
        return await super().delete_file(path)

    async def file_exists(self, path):
        r = self.route(path)
        if r.kind == "local":
            return await super().file_exists(path)
        return r.kind == "mount" and await r.contents.file_exists(r.rel)

    async def dir_exists(self, path):
        r = self.route(path)
        if r.kind == "mount":
            return await r.contents.dir_exists(r.rel)
        if r.kind == "mount_dir" and self.mounts():
            return True
        return await super().dir_exists(path)

    def exists(self, path):
        # The parent's get() calls this synchronously for local paths; mount paths (which need
        # the network) return an awaitable, which every caller outside the parent awaits.
        r = self.route(path)
        if r.kind == "local":
            return super().exists(path)
        if r.kind == "mount_dir":
            return bool(self.mounts()) or os.path.isdir(self._get_os_path(r.path))
        return r.contents.exists(r.rel)

    async def _exists_any(self, r: Route) -> bool:
        if r.kind == "local":
            return os.path.lexists(self._get_os_path(r.path))
        if r.kind == "mount_dir":
            return self.exists(r.path)
        return await r.contents.exists(r.rel)

    async def is_hidden(self, path):
        r = self.route(path)
        if r.kind == "local":
            return await super().is_hidden(path)
        return r.kind == "mount" and r.contents.is_hidden(r.rel)

    def is_writable(self, path):
        r = self.route(path)
        if r.kind == "mount":
            return not r.contents.mount.read_only
        return super().is_writable(path)

    async def rename_file(self, old_path, new_path):
        old, new = self.route(old_path), self.route(new_path)
        if old.path == new.path:
            return
        if old.kind == "local" and new.kind == "local":
            return await super().rename_file(old_path, new_path)
        for r in (old, new):
            self._refuse_mount_dir(r)
            if r.kind == "mount":
                r.contents.check_writable(r.rel)  # a move out of a mount deletes there too
        if await self._exists_any(new):
            raise web.HTTPError(409, f"File already exists: {new.path}")
        if old.kind == "mount" and new.kind == "mount" and old.name == new.name:
            return await old.contents.rename(old.rel, new.rel)
        await self._move_across(old, new)

    async def _side(self, r: Route):
        """(filesystem, path in it) for either side of a copy or move."""
        if r.kind == "mount":
            return await r.contents.filesystem(), r.rel
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem(), self._get_os_path(r.path)

    async def _move_across(self, old: Route, new: Route) -> None:
        """Move a file between a mount and elsewhere (another mount or the local root)."""
        src_fs, src = await self._side(old)
        dst_fs, dst = await self._side(new)
        probe = (old if old.kind == "mount" else new).contents
        try:
            info = await probe.run(src_fs.info, src)
        except Exception as e:
            raise probe.fail(e, old.path) from None
        if info.get("type") == "directory":
            raise web.HTTPError(
                400,
                f"{old.path} is a folder: folders can be moved within one mount or within the "
                "local files, not between them. Copy its files instead.",
            )
        try:
            await probe.run(copy_stream, src_fs, src, dst_fs, dst)
            await probe.run(src_fs.rm_file, src)
        except Exception as e:
            raise probe.fail(e, old.path) from None

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
            dst.contents.check_writable(dst.rel)
        if src.kind == "mount" and dst.kind == "mount" and src.name == dst.name:
            await src.contents.copy(src.rel, dst.rel)
        elif src.kind == "mount" or dst.kind == "mount":
            src_fs, s = await self._side(src)
            dst_fs, d = await self._side(dst)
            probe = (src if src.kind == "mount" else dst).contents
            try:
                await probe.run(copy_stream, src_fs, s, dst_fs, d)
            except Exception as e:
                raise probe.fail(e, dst.path) from None
        else:
            return await AsyncContentsManager.copy(self, from_path, target)
        saved = await self.get(dst.path, content=False)
        self.emit(data={"action": "copy", "path": dst.path, "source_path": src.path})
        return saved

    async def get_kernel_path(self, path, model=None):
        # A notebook or console on a mount: its folder. The kernel manager starts the kernel
        # there where FUSE makes it a real directory, else in the server root, telling the
        # kernel which mount folder it is in (``contents.kernels``).
        r = self.route(path)
        if r.kind == "local":
            return await super().get_kernel_path(path, model)
        return r.path.rpartition("/")[0] if r.kind == "mount" and r.rel else r.path
