"""``WorkbenchKernelManager``: kernels opened inside a mount work in that mount's folder.

jupyter_server starts a notebook's or console's kernel in the local directory of the folder the
contents manager names (``get_kernel_path``), walking up to the server root when that directory
does not exist. For ``mnt/<name>/<rel>``:

- where FUSE serves the mount, ``<root>/mnt/<name>/<rel>`` is a real directory: the kernel starts
  there and every relative path (``open``, pandas, C libraries, ``!ls``) reaches the mount;
- otherwise the kernel gets ``JUPYTER_WORKBENCH_MOUNT_CWD=<name>/<rel>`` in its environment, and
  the workbench's kernel extension (preloaded in the py3/tf2 kernels) moves it into a synced local
  view of that folder (``storage.workdir``): ``open('iris.csv')`` fetches the file from the mount,
  files written there are uploaded when the cell ends. Kernels without the workbench extension
  (the stock ``python3``) start in the server root, as before.
"""

from __future__ import annotations

import os

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

MOUNT_CWD_ENV = "JUPYTER_WORKBENCH_MOUNT_CWD"


def mount_folder_of(contents_manager, path: str) -> tuple[str, str] | None:
    """``(mount name, folder in it)`` when API path ``path`` is inside a mount."""
    route = getattr(contents_manager, "route", None)
    if route is None:
        return None
    try:
        r = route(path)
    except Exception:  # noqa: BLE001 - an unroutable path starts the kernel as stock does
        return None
    if r.kind != "mount":
        return None
    return r.name, r.rel


class WorkbenchKernelManager(AsyncMappingKernelManager):
    """``AsyncMappingKernelManager`` that tells a kernel which mount folder it was opened in."""

    def cwd_for_path(self, path, **kwargs):
        cwd = super().cwd_for_path(path, **kwargs)
        env = kwargs.get("env")
        if env is None or path is None:  # (the session manager asks without env: its own use)
            return cwd
        env.pop(MOUNT_CWD_ENV, None)
        where = mount_folder_of(getattr(self.parent, "contents_manager", None), path)
        if where is None:
            return cwd
        name, rel = where
        mount_dir = self.parent.contents_manager.mount_dir
        mount_root = os.path.join(self.root_dir, *mount_dir.split("/"), name)
        if os.path.ismount(mount_root):
            return cwd  # FUSE serves it: the kernel starts in the real folder
        env[MOUNT_CWD_ENV] = f"{name}/{rel}" if rel else name
        return cwd
