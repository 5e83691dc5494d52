"""Storage backends: one class per protocol, registered by name (like fsspec's
``known_implementations``), and the mount operations that ask them.

==========  ===================  ==============================================================
protocol    class                what it knows
==========  ===================  ==============================================================
oss://      ``OSSBackend``       ``WorkbenchOSSFileSystem`` (ossfix.py); store/env/anonymous/STS
                                 credentials; one ListObjects per page; streaming FUSE uploads
s3://       ``S3Backend``        s3fs; store credentials or botocore's chain; one
                                 ListObjectsV2 per page (``s3a://`` is the same backend)
file://     ``LocalBackend``     LocalFileSystem under ``allowed_local_roots``, re-checked each
                                 time (a swapped symlink is refused); native rename
nas://      ``NASBackend``       NFS mounted with ``mount -t nfs`` under ``<state_dir>/nfs``
                                 where allowed, else a clear error on how to mount it on the host
smb://      ``SMBBackend``       ``WorkbenchSMBFileSystem`` (smbfix.py, needs smbprotocol)
memory://   ``MemoryBackend``    not mountable; an export destination with conditional create
other       ``FsspecBackend``    ``fsspec.filesystem(protocol, **options)``
==========  ===================  ==============================================================

Every backend implements :class:`~.base.Backend`: ``parse`` (mount URL and options to a
``MountTarget``), ``filesystem`` (the fsspec filesystem and the root in it), ``probe`` (the
check of a new mount), ``list_page`` (one page of a directory), ``streaming_writer`` (upload
while a file is written), ``release`` (undo what a mount set up on this machine), and says what
its store guarantees (``local``, ``object_store``, ``conditional_create``, ``url_credentials``).
Callers ask :func:`backend_for` (a URL, a protocol name, a mount or a filesystem) instead of
looking at a filesystem's class.

The modules import only the standard library at first; fsspec and each store's client are
imported when a filesystem is built.
"""

from __future__ import annotations

import re

from ..errors import (
    InvalidMountError,
    StorageCredentialsError,
    StorageError,
    StorageUnavailableError,
)
from ..urls import MountTarget, redacted, split_url
from .base import Backend, unwrap
from .generic import BLOCKED_PROTOCOLS, FsspecBackend, MemoryBackend
from .local import LocalBackend
from .nas import NASBackend, nfs_mount_point
from .oss import OSSBackend
from .s3 import S3Backend
from .smb import SMBBackend

BACKENDS: dict[str, Backend] = {}


def register_backend(backend: Backend, *, clobber: bool = False) -> Backend:
    """Register ``backend`` under each of its protocols (as fsspec.register_implementation)."""
    for protocol in backend.protocols:
        if protocol in BACKENDS and not clobber and BACKENDS[protocol] is not backend:
            raise ValueError(f"A backend for {protocol}:// is registered already.")
        BACKENDS[protocol] = backend
    return backend


for _backend in (OSSBackend(), S3Backend(), LocalBackend(), NASBackend(), SMBBackend()):
    register_backend(_backend)
register_backend(MemoryBackend())
_GENERIC: dict[str, Backend] = {}


def _by_protocol(protocol: str) -> Backend:
    protocol = protocol.lower()
    backend = BACKENDS.get(protocol)
    if backend is None:
        backend = _GENERIC.get(protocol) or _GENERIC.setdefault(protocol, FsspecBackend(protocol))
    return backend


def backend_for(target) -> Backend:
    """The backend for ``target``: a URL (``oss://b/k``), a protocol name (``"s3"``), a
    ``Mount``/``MountTarget`` (its protocol), or an fsspec filesystem (its ``protocol``, seen
    through a mount's ``DirFileSystem``). Unknown protocols get a generic fsspec backend."""
    if isinstance(target, str):
        return _by_protocol(target.split("://", 1)[0] if "://" in target else target)
    from fsspec import AbstractFileSystem

    if not isinstance(target, AbstractFileSystem):
        protocol = getattr(target, "protocol", None)  # a Mount or a MountTarget
        if not isinstance(protocol, str):
            raise TypeError(f"backend_for() needs a URL, a mount or a filesystem, not {target!r}")
        return _by_protocol(protocol)
    inner, _ = unwrap(target)
    names = inner.protocol if isinstance(inner.protocol, (tuple, list)) else (inner.protocol,)
    for name in names:
        if name in BACKENDS:
            return BACKENDS[name]
    return _by_protocol(names[0])


def url_credential_protocols() -> tuple[str, ...]:
    """The protocols whose URLs may carry a key and secret (``oss://AK:SK@bucket``)."""
    return tuple(p for p, b in BACKENDS.items() if b.url_credentials)


# ----------------------------------------------------------------------------- mount URLs


def parse_mount_url(url, options: dict | None = None, *, allowed_local_roots=None) -> MountTarget:
    """Parse and validate a mount URL with its options (its backend's ``parse``).

    Raises InvalidMountError (or PathNotAllowedError / UnsupportedMountError) naming what is
    wrong. ``allowed_local_roots`` bounds ``file://`` mounts (none allowed when empty).
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidMountError("Mount URL is empty: give one such as oss://bucket/prefix.")
    url = url.strip()
    options = dict(options or {})
    if "::" in url:
        raise InvalidMountError("Chained URLs ('a::b') cannot be mounted: mount one store.")
    if any(ord(c) < 32 for c in url):
        raise InvalidMountError("Mount URL contains control characters.")
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if not m:
        raise InvalidMountError(
            f"Mount URL {redacted(url)!r} has no protocol: use oss://bucket/prefix, "
            "s3://bucket, file:///path, nas://server:/export or smb://server/share."
        )
    protocol = m.group(1).lower()
    if protocol in BLOCKED_PROTOCOLS:
        split_url(url)
        raise InvalidMountError(f"{protocol}:// cannot be mounted: {BLOCKED_PROTOCOLS[protocol]}.")
    return _by_protocol(protocol).parse(
        protocol, url, options, allowed_local_roots=allowed_local_roots
    )


# ----------------------------------------------------------------------------- mounts


def filesystem_for(mount, secrets: dict | None = None, *, allowed_local_roots=None, state_dir=None):
    """The fsspec filesystem (a ``MountFileSystem``) rooted at ``mount``, using ``secrets``."""
    from .mountfs import MountFileSystem

    inner, root = backend_for(mount).filesystem(
        mount, dict(secrets or {}), allowed_local_roots=allowed_local_roots, state_dir=state_dir
    )
    return MountFileSystem(
        root, inner, mount_name=mount.name, url=mount.url, read_only=mount.read_only
    )


def check_mount(mount, secrets=None, *, allowed_local_roots=None, state_dir=None) -> None:
    """Connect and list the mount's root once; raise a StorageError saying what is wrong."""
    fs = filesystem_for(
        mount, secrets, allowed_local_roots=allowed_local_roots, state_dir=state_dir
    )
    try:
        backend_for(mount).probe(mount, fs)
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
    backend_for(mount).release(mount, state_dir)


def __getattr__(name):
    if name == "MountFileSystem":  # imports fsspec
        from .mountfs import MountFileSystem

        return MountFileSystem
    raise AttributeError(name)


__all__ = [
    "BACKENDS",
    "Backend",
    "FsspecBackend",
    "LocalBackend",
    "MemoryBackend",
    "MountFileSystem",
    "NASBackend",
    "OSSBackend",
    "S3Backend",
    "SMBBackend",
    "backend_for",
    "check_mount",
    "filesystem_for",
    "nfs_mount_point",
    "parse_mount_url",
    "register_backend",
    "release_mount",
    "url_credential_protocols",
]
