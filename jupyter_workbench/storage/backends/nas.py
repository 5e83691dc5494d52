"""nas:// (NFS, e.g. Alibaba Cloud NAS): mounted with the system's ``mount -t nfs`` under
``<state_dir>/nfs/<name>`` when this process may do so (root and mount.nfs present), then
served as local files; otherwise a clear error explains how to mount the share on the host and
add it as file://."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from ..errors import InvalidMountError, StorageUnavailableError, UnsupportedMountError
from ..urls import HOST_RE, MountTarget, apply_schema, clean_prefix
from .base import Backend

log = logging.getLogger("jupyter_workbench.storage.backends")

NFS_DEFAULT_OPTIONS = "nolock,proto=tcp,hard,timeo=600,retrans=2,noresvport"
NFS_MOUNT_TIMEOUT = 60
_NAS_RE = re.compile(r"^nas://(?P<host>\[[0-9A-Fa-f:.]+\]|[^/:@?#\s\[\]]+):?(?P<path>/[^?#]*)?$")


def nfs_mount_point(mount, state_dir) -> Path:
    return Path(state_dir) / "nfs" / mount.name


def _nfs_helper() -> str | None:
    return shutil.which("mount.nfs") or next(
        (p for p in ("/sbin/mount.nfs", "/usr/sbin/mount.nfs") if os.path.exists(p)), None
    )


def _nas_instructions(mount, why: str) -> str:
    server, export = mount.location.get("server"), mount.location.get("export")
    return (
        f"Cannot mount {mount.url}: {why}. Mount the NFS share on the host instead, e.g. "
        f"'sudo mount -t nfs -o vers=3,nolock,proto=tcp {server}:{export} /mnt/{mount.name}', "
        f"then add it as file:///mnt/{mount.name} (its parent must be in "
        "c.Workbench.allowed_local_roots)."
    )


class NASBackend(Backend):
    protocols = ("nas",)
    schema = {"mount_options": str}

    def parse(self, protocol, url, options, *, allowed_local_roots=None):
        m = _NAS_RE.match(url)
        if not m or not m.group("path"):
            raise InvalidMountError(
                f"NAS URL {url!r} is not valid: use nas://server:/export[/path] "
                "(for example nas://0a1b2c.cn-hangzhou.nas.aliyuncs.com:/share)."
            )
        host = m.group("host")
        if not HOST_RE.match(host):
            raise InvalidMountError(f"NAS server {host!r} in {url!r} is not a valid host name.")
        path = "/" + clean_prefix(m.group("path"), url)
        public, secrets = apply_schema("nas", options, self.schema)
        mount_options = public.get("mount_options", "")
        if mount_options and not re.match(r"^[A-Za-z0-9=,._:-]+$", mount_options):
            raise InvalidMountError(
                f"Option 'mount_options' {mount_options!r} may contain only letters, digits and "
                "'=,._:-' (for example vers=4.1,ro)."
            )
        return MountTarget(
            "nas", f"nas://{host}:{path}", path, {"server": host, "export": path}, public, secrets
        )

    def filesystem(self, mount, secrets, *, allowed_local_roots=None, state_dir=None):
        from fsspec.implementations.local import LocalFileSystem

        if state_dir is None:
            raise UnsupportedMountError(_nas_instructions(mount, "no state directory is known"))
        target = nfs_mount_point(mount, state_dir)
        if os.path.ismount(target):
            return LocalFileSystem(), str(target)
        if os.name != "posix" or not hasattr(os, "geteuid") or os.geteuid() != 0:
            raise UnsupportedMountError(
                _nas_instructions(
                    mount, "mounting NFS needs root and this server does not run as root"
                )
            )
        helper = _nfs_helper()
        if helper is None:
            raise UnsupportedMountError(
                _nas_instructions(mount, "this machine has no NFS client (mount.nfs is missing)")
            )
        target.mkdir(parents=True, exist_ok=True)
        options = mount.options.get("mount_options") or NFS_DEFAULT_OPTIONS
        source = f"{mount.location['server']}:{mount.location['export']}"
        cmd = ["mount", "-t", "nfs", "-o", options, source, str(target)]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=NFS_MOUNT_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise StorageUnavailableError(f"Mounting {source} failed: {e}") from None
        if proc.returncode != 0:
            raise StorageUnavailableError(
                _nas_instructions(mount, f"'mount -t nfs' failed: {proc.stderr.strip()[:300]}")
            )
        return LocalFileSystem(), str(target)

    def release(self, mount, state_dir=None) -> None:
        """Unmount the NFS share this server mounted (never deletes data)."""
        if state_dir is None:
            return
        target = nfs_mount_point(mount, state_dir)
        if os.path.ismount(target):
            proc = subprocess.run(
                ["umount", str(target)], capture_output=True, text=True, timeout=30, check=False
            )
            if proc.returncode != 0:
                log.warning("Could not unmount %s: %s", target, proc.stderr.strip())
                return
        try:
            target.rmdir()
        except OSError:
            pass
