"""Any other installed fsspec protocol (``https://``, ``gcs://``, ...): ``fsspec.filesystem``
with the mount's options passed through; and memory://, which cannot be mounted (it lives in
one process) but is an export destination with atomic conditional create."""

from __future__ import annotations

from ..errors import InvalidMountError, PathNotAllowedError, UnsupportedMountError
from ..urls import MountTarget, apply_schema, is_secret_option, redacted, split_url
from .base import Backend

# Protocols that would reach outside a mount's root (wrappers over local files or other URLs)
# or that live inside one process (kernels could not see them).
BLOCKED_PROTOCOLS = {
    "local": "use file:///path (checked against allowed_local_roots)",
    "dir": "use the wrapped URL directly",
    "cached": "caching wrappers are not mountable",
    "blockcache": "caching wrappers are not mountable",
    "filecache": "caching wrappers are not mountable",
    "simplecache": "caching wrappers are not mountable",
    "reference": "reference filesystems are not mountable",
    "zip": "archives are not mountable; mount the directory that holds them",
    "tar": "archives are not mountable; mount the directory that holds them",
    "libarchive": "archives are not mountable; mount the directory that holds them",
    "memory": "memory:// lives inside one process, so kernels would not see it",
    "async_wrapper": "wrappers are not mountable",
    "asyncwrapper": "wrappers are not mountable",
    "generic": "wrappers are not mountable",
    "data": "data: URLs hold no files",
}


class FsspecBackend(Backend):
    """A protocol fsspec knows and the workbench has no backend of its own for."""

    def __init__(self, protocol: str):
        self.protocols = (protocol,)

    def parse(self, protocol, url, options, *, allowed_local_roots=None):
        import fsspec
        from fsspec.registry import known_implementations, registry

        split_url(url)
        if protocol not in known_implementations and protocol not in registry:
            raise InvalidMountError(
                f"Unknown protocol {protocol!r} in {redacted(url)!r}: use oss://, s3://, "
                "file://, nas://, smb:// or another installed fsspec protocol."
            )
        try:
            cls = fsspec.get_filesystem_class(protocol)
        except ImportError as e:
            raise UnsupportedMountError(
                f"{protocol}:// needs a package that is not installed here: {e}"
            ) from None
        public, secrets = apply_schema(protocol, options)
        try:
            url_kwargs = cls._get_kwargs_from_urls(url) or {}
            root = cls._strip_protocol(url)
        except Exception as e:  # noqa: BLE001 - third-party parsers raise anything
            raise InvalidMountError(
                f"{redacted(url)!r} is not a valid {protocol}:// URL: {e}"
            ) from None
        for k, v in url_kwargs.items():
            (secrets if is_secret_option(k) else public).setdefault(k, v)
        if any(p == ".." for p in str(root).split("/")):
            raise PathNotAllowedError(
                f"Mount URL {redacted(url)!r} must not contain '..' segments."
            )
        return MountTarget(protocol, redacted(url), str(root), {}, public, secrets)

    def filesystem(self, mount, secrets, *, allowed_local_roots=None, state_dir=None):
        import fsspec

        try:
            fs = fsspec.filesystem(mount.protocol, **mount.options, **secrets)
        except ImportError as e:
            raise UnsupportedMountError(f"{mount.protocol}:// needs a package: {e}") from None
        except TypeError as e:
            raise InvalidMountError(
                f"Options for {mount.protocol}:// are not accepted: {e}"
            ) from None
        return fs, mount.root


class MemoryBackend(FsspecBackend):
    """memory://: never a mount (see BLOCKED_PROTOCOLS); ``pipe_file(mode="create")`` is
    atomic under fsspec's lock, so export reservations use it."""

    conditional_create = True

    def __init__(self):
        super().__init__("memory")
