"""Filesystems for mounts: each mount is configuration of an fsspec filesystem, wrapped in a
``MountFileSystem`` (fsspec's DirFileSystem) rooted at the mount.

==========  ==========================================================================
oss://      ``WorkbenchOSSFileSystem`` (ossfs's API over oss2, see ossfix.py); credentials from the
            credential store, else OSS_ACCESS_KEY_ID / OSS_ACCESS_KEY_SECRET (/ OSS_SESSION_TOKEN),
            else anonymous (public buckets); endpoint from options or OSS_ENDPOINT
s3://       s3fs; credentials from the store, else botocore's usual chain
file://     fsspec's LocalFileSystem; the path is re-checked against allowed_local_roots (a
            symlink swapped after the mount was added is refused)
nas://      NFS mounted with the system's ``mount -t nfs`` under ``<state_dir>/nfs/<name>``
            when this process may do so (root and mount.nfs present); otherwise a clear error
            explains how to mount it on the host and add it as file://
smb://      ``WorkbenchSMBFileSystem`` (fsspec's SMBFileSystem with a session per mount, see
            smbfix.py; needs smbprotocol)
other       ``fsspec.filesystem(protocol, **options)``
==========  ==========================================================================
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import shutil
import subprocess
from pathlib import Path

from fsspec.implementations.dirfs import DirFileSystem

from .errors import (
    InvalidMountError,
    PathNotAllowedError,
    ReadOnlyMountError,
    StorageCredentialsError,
    StorageError,
    StorageUnavailableError,
    UnsupportedMountError,
)
from .urls import normalize_relative_path, resolve_local_path

log = logging.getLogger(__name__)

NFS_DEFAULT_OPTIONS = "nolock,proto=tcp,hard,timeo=600,retrans=2,noresvport"
NFS_MOUNT_TIMEOUT = 60

_WRITE_METHODS = (
    "pipe",
    "pipe_file",
    "put",
    "put_file",
    "rm",
    "rm_file",
    "delete",
    "cp_file",
    "copy",
    "mv",
    "mkdir",
    "makedirs",
    "rmdir",
    "touch",
    "write_text",
    "write_bytes",
)


class MountFileSystem(DirFileSystem):
    """An fsspec filesystem rooted at a mount: paths are relative to the mount's root.

    Paths with ``..`` segments are refused (they would step outside the mount on local
    storage, and mean something else on object stores). A read-only mount refuses writes
    with ``ReadOnlyMountError``. ``repr`` shows the mount, never credentials.
    """

    # fsspec would share instances whose arguments print alike; two mounts of one endpoint
    # with different credentials must never share a filesystem.
    cachable = False

    def __init__(self, path, fs, *, mount_name: str = "", url: str = "", read_only=False, **kw):
        super().__init__(path=path, fs=fs, **kw)
        self.mount_name = mount_name
        self.url = url
        self.read_only = bool(read_only)

    def __repr__(self) -> str:
        return (
            f"MountFileSystem(mount={self.mount_name!r}, url={self.url!r}, "
            f"read_only={self.read_only})"
        )

    def _join(self, path):
        if isinstance(path, str):
            path = normalize_relative_path(self._strip_protocol(path))
        return super()._join(path)

    def _refuse(self, what: str):
        raise ReadOnlyMountError(
            f"Mount {self.mount_name!r} is read-only: cannot {what}. "
            "Remove it and add it again without read_only to write."
        )

    def open(self, path, mode="rb", *args, **kwargs):
        if self.read_only and any(c in mode for c in "wax+"):
            self._refuse(f"open {path!r} for writing")
        return super().open(path, mode, *args, **kwargs)


def _guard(name):
    original = getattr(DirFileSystem, name)

    @functools.wraps(original)
    def method(self, *args, **kwargs):
        if self.read_only:
            self._refuse(name.replace("_", " "))
        return original(self, *args, **kwargs)

    return method


for _name in _WRITE_METHODS:
    if hasattr(DirFileSystem, _name):
        setattr(MountFileSystem, _name, _guard(_name))


# ------------------------------------------------------------------------------- builders


def _oss(mount, secrets: dict):
    from .ossfix import WorkbenchOSSFileSystem
    from .sts import SOURCE_OPTIONS, RefreshingCredentials

    opts = dict(mount.options)
    anonymous = opts.pop("anonymous", False)
    endpoint = opts.pop("endpoint", None) or os.environ.get("OSS_ENDPOINT")
    if not endpoint:
        raise InvalidMountError(
            f"Mount {mount.name!r} has no OSS endpoint: add the 'endpoint' option or set "
            "OSS_ENDPOINT."
        )
    key, secret, token = secrets.get("key"), secrets.get("secret"), secrets.get("token")
    if not key and not os.environ.get("OSS_ACCESS_KEY_SECRET"):
        anonymous = True  # no stored key and no usable environment: public buckets only
    kwargs = {
        k: opts[k]
        for k in (
            "connect_timeout",
            "read_timeout",
            "retries",
            "call_budget",
            "listings_expiry_time",
        )
        if k in opts
    }
    if "block_size" in opts:
        kwargs["default_block_size"] = opts["block_size"]
    # The source options count as secrets (a command line may hold one): they come from the
    # 0600 credential store like keys do.
    sources = {k: opts.get(k) or secrets.get(k) for k in SOURCE_OPTIONS}
    sources = {k: v for k, v in sources.items() if v}
    if sources:  # a refreshing STS source instead of fixed keys (storage/sts.py)
        kwargs["credentials_provider"] = RefreshingCredentials(**sources)
        key = secret = token = None
        anonymous = False
    # Without stored credentials, WorkbenchOSSFileSystem reads OSS_ACCESS_KEY_ID/SECRET itself.
    return WorkbenchOSSFileSystem(
        endpoint=endpoint, key=key, secret=secret, token=token or None, anon=anonymous, **kwargs
    )


def _s3(mount, secrets: dict):
    try:
        import s3fs
    except ImportError:
        raise UnsupportedMountError(
            "s3:// mounts need the s3fs package: pip install s3fs"
        ) from None
    opts = dict(mount.options)
    kwargs: dict = {"anon": bool(opts.get("anon", False))}
    for k in ("key", "secret", "token"):
        if secrets.get(k):
            kwargs[k] = secrets[k]
    if opts.get("endpoint_url"):
        kwargs["endpoint_url"] = opts["endpoint_url"]
    if opts.get("region"):
        kwargs["client_kwargs"] = {"region_name": opts["region"]}
    # Bounded like oss:// (a hung endpoint fails within 30 s): botocore retries once; s3fs's
    # own retry loop (5 attempts by default, on top of botocore's) is turned off.
    retries = int(opts.get("retries", 1))
    kwargs["config_kwargs"] = {
        "connect_timeout": opts.get("connect_timeout", 5.0),
        "read_timeout": opts.get("read_timeout", 12.0),
        "retries": {"max_attempts": 1 + retries, "mode": "standard"},
    }
    fs = s3fs.S3FileSystem(**kwargs)
    fs.retries = 1
    return fs


def _local(mount, allowed_local_roots):
    from fsspec.implementations.local import LocalFileSystem

    path = mount.root
    if allowed_local_roots:
        real = resolve_local_path(path, allowed_local_roots, mount.url)
    else:
        real = os.path.realpath(path)
        if not os.path.isdir(real):
            raise FileNotFoundError(errno.ENOENT, f"Mount {mount.name!r}: no directory", path)
    if real != path:
        raise PathNotAllowedError(
            f"Mount {mount.name!r}: {path!r} now resolves to {real!r} (a symlink changed); "
            "remove the mount and add it again."
        )
    return LocalFileSystem()


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


def _nas(mount, state_dir):
    from fsspec.implementations.local import LocalFileSystem

    if state_dir is None:
        raise UnsupportedMountError(_nas_instructions(mount, "no state directory is known"))
    target = nfs_mount_point(mount, state_dir)
    if os.path.ismount(target):
        return LocalFileSystem(), str(target)
    if os.name != "posix" or not hasattr(os, "geteuid") or os.geteuid() != 0:
        raise UnsupportedMountError(
            _nas_instructions(mount, "mounting NFS needs root and this server does not run as root")
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


def _smb(mount, secrets: dict):
    try:
        import smbprotocol.exceptions as smb_errors

        from .smbfix import WorkbenchSMBFileSystem
    except ImportError:
        raise UnsupportedMountError(
            "smb:// mounts need the smbprotocol package: pip install smbprotocol"
        ) from None
    opts = dict(mount.options)
    try:
        return WorkbenchSMBFileSystem(
            host=mount.location["host"].strip("[]"),
            port=opts.get("port"),
            username=opts.get("username"),
            password=secrets.get("password"),
            timeout=opts.get("timeout", 10),
            encrypt=opts.get("encrypt"),
            register_session_retries=0,
            skip_instance_cache=True,
        )
    except (smb_errors.SMBAuthenticationError, smb_errors.LogonFailure) as e:
        raise StorageCredentialsError(
            f"The SMB server {mount.location['host']} rejected the username or password: {e}",
            "LogonFailure",
        ) from None
    except (ValueError, OSError, smb_errors.SMBException) as e:
        raise StorageUnavailableError(
            f"Could not connect to the SMB server {mount.location['host']}: {e}"
        ) from None


def _generic(mount, secrets: dict):
    import fsspec

    try:
        return fsspec.filesystem(mount.protocol, **mount.options, **secrets)
    except ImportError as e:
        raise UnsupportedMountError(f"{mount.protocol}:// needs a package: {e}") from None
    except TypeError as e:
        raise InvalidMountError(f"Options for {mount.protocol}:// are not accepted: {e}") from None


def filesystem_for(
    mount, secrets: dict | None = None, *, allowed_local_roots=None, state_dir=None
) -> MountFileSystem:
    """The fsspec filesystem rooted at ``mount`` (a ``Mount``), using ``secrets``."""
    secrets = dict(secrets or {})
    protocol = mount.protocol
    root = mount.root
    if protocol == "oss":
        inner = _oss(mount, secrets)
    elif protocol == "s3":
        inner = _s3(mount, secrets)
    elif protocol == "file":
        inner = _local(mount, allowed_local_roots)
    elif protocol == "nas":
        inner, root = _nas(mount, state_dir)
    elif protocol == "smb":
        inner = _smb(mount, secrets)
    else:
        inner = _generic(mount, secrets)
    return MountFileSystem(
        root, inner, mount_name=mount.name, url=mount.url, read_only=mount.read_only
    )


def check_mount(mount, secrets=None, *, allowed_local_roots=None, state_dir=None) -> None:
    """Connect and list the mount's root once; raise a StorageError saying what is wrong."""
    from .listing import list_page

    fs = filesystem_for(
        mount, secrets, allowed_local_roots=allowed_local_roots, state_dir=state_dir
    )
    try:
        try:
            list_page(fs, "", 1)
        except FileNotFoundError:
            prefix = mount.location.get("prefix")
            if mount.protocol not in ("oss", "s3") or not prefix:
                raise
            # An empty prefix of an object store is fine (the first write creates it) as long
            # as the bucket itself is there.
            list_page(MountFileSystem(mount.location["bucket"], fs.fs), "", 1)
    except StorageError:
        raise
    except FileNotFoundError:
        raise InvalidMountError(
            f"{mount.url} does not exist (check the bucket or path name)."
        ) from None
    except NotADirectoryError:
        raise InvalidMountError(f"{mount.url} is a file, not a directory.") from None
    except PermissionError as e:
        raise StorageCredentialsError(f"Access to {mount.url} was denied: {e}") from None
    except Exception as e:  # noqa: BLE001 - third-party clients raise anything
        raise StorageUnavailableError(f"Could not list {mount.url}: {e}") from None


def release_mount(mount, state_dir=None) -> None:
    """Undo what using the mount set up on this machine (an NFS mount); never deletes data."""
    if mount.protocol != "nas" or state_dir is None:
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
