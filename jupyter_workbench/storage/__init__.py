"""Mounts: URL parsing and validation, the registry, credentials, one backend per protocol.

The public surface, shared by the REST handlers, the CLI, the magics and kernels::

    from jupyter_workbench.storage import MountRegistry, list_page
    reg = MountRegistry()                      # $JUPYTER_WORKBENCH_STATE_DIR or default
    reg.add("data", "oss://bucket/prefix", {"endpoint": ..., "key": ..., "secret": ...}, check=True)
    fs = reg.filesystem("data")                # fsspec filesystem rooted at the mount
    entries, marker = list_page(fs, "sub/dir", 100)

Nothing here imports jupyter_server, tornado, IPython or TensorFlow; heavy backends (ossfs,
s3fs, smbprotocol) are imported when a filesystem is first built.
"""

from .backends import BACKENDS, backend_for, parse_mount_url
from .credentials import CredentialStore
from .errors import (
    InvalidMountError,
    MountError,
    MountExistsError,
    MountNotFoundError,
    MountUnreachableError,
    PathNotAllowedError,
    ReadOnlyMountError,
    StorageCredentialsError,
    StorageError,
    StorageUnavailableError,
    UnsupportedMountError,
    http_status_for,
)
from .registry import ENV_MOUNT_DIR, ENV_STATE_DIR, Mount, MountRegistry, default_state_dir
from .urls import MountTarget, is_secret_option, normalize_relative_path, validate_mount_name


def register_fsspec_oss() -> None:
    """Make ``oss://`` URLs in fsspec (``fsspec.open``, ``url_to_fs``, pandas) use the fixed
    filesystem instead of stock ossfs (which corrupts multi-block writes). Idempotent and cheap:
    fsspec imports the class (and oss2) only when an ``oss://`` URL is first opened."""
    BACKENDS["oss"].register_fsspec()


def __getattr__(name):
    # Lazily: these import fsspec (and, when used, ossfs/oss2).
    if name in ("filesystem_for", "check_mount", "MountFileSystem"):
        from . import backends

        return getattr(backends, name)
    if name == "list_page":
        from .listing import list_page

        return list_page
    if name in ("WorkbenchOSSFileSystem", "WorkbenchOSSFile"):
        from . import ossfix

        return getattr(ossfix, name)
    raise AttributeError(name)


__all__ = [
    "BACKENDS",
    "ENV_MOUNT_DIR",
    "ENV_STATE_DIR",
    "CredentialStore",
    "InvalidMountError",
    "Mount",
    "MountError",
    "MountExistsError",
    "MountFileSystem",
    "MountNotFoundError",
    "MountRegistry",
    "MountTarget",
    "MountUnreachableError",
    "PathNotAllowedError",
    "ReadOnlyMountError",
    "StorageCredentialsError",
    "StorageError",
    "StorageUnavailableError",
    "UnsupportedMountError",
    "WorkbenchOSSFile",
    "WorkbenchOSSFileSystem",
    "backend_for",
    "check_mount",
    "default_state_dir",
    "filesystem_for",
    "http_status_for",
    "is_secret_option",
    "list_page",
    "normalize_relative_path",
    "register_fsspec_oss",
    "parse_mount_url",
    "validate_mount_name",
]
