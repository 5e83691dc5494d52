"""Where a path or URL from a request may point: the server root, a mount, or an allowed URL.

``confine(target, root=..., what="destination")`` is what every REST capability that takes a
path calls before it starts anything (the export's ``source``, ``destination`` and
``checkpoint``). It accepts:

- a path relative to the server root (or an absolute one inside it), resolved with symlinks:
  ``../x``, ``/etc/x`` or a symlink leading out of the root answer 404, like the contents API;
- ``file:///abs/path`` inside the root (``file://../x``, ``file://host/x`` are refused);
- ``mount://NAME/sub/path`` of a registered mount (no ``..`` segments);
- a URL whose protocol is in ``protocols`` (object stores: ``oss``, ``s3``, ...).

Anything else (other protocols, including fsspec's local ones such as ``simplecache::``,
``tar://``, ``memory://``, and ``::`` chains) is a 400. Messages show the target scrubbed.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

from .redact import scrub, url_secrets
from .storage.backends import backend_for
from .storage.errors import PathNotAllowedError, StorageError

DEFAULT_URL_PROTOCOLS = ("oss", "s3", "s3a", "gs", "gcs", "abfs", "az")


class OutsideRootError(StorageError, FileNotFoundError):
    """A local path outside the server root, or one that must exist and does not (404)."""

    category = "not_found"
    http_status = 404

    def __str__(self) -> str:
        return self.message


def _under(root: str, path: str, what: str, shown: str, must_exist: bool) -> str:
    real_root = os.path.realpath(root)
    full = os.path.realpath(os.path.join(real_root, path))
    if os.path.commonpath([full, real_root]) != real_root:
        raise OutsideRootError(
            f"The {what} {shown!r} is outside the server root: give a path relative to the "
            "root (as in the file browser), a mount, or an object-store URL."
        )
    if must_exist and not os.path.exists(full):
        raise OutsideRootError(f"The {what} {shown!r} does not exist under the server root.")
    return full


def confine(
    target,
    *,
    root: str,
    what: str,
    must_exist: bool = False,
    protocols=DEFAULT_URL_PROTOCOLS,
    registry=None,
) -> str:
    """The absolute local path (inside ``root``) or the URL ``target`` means, or a
    ``StorageError`` (400 / 404 with a message naming ``what``)."""
    if not isinstance(target, str) or not target.strip() or "\x00" in target:
        raise PathNotAllowedError(f"The {what} is empty or not a valid path.")
    shown = scrub(target, url_secrets(target))
    if len(shown) > 200:
        shown = shown[:200] + "..."
    if "::" in target:
        raise PathNotAllowedError(
            f"The {what} {shown!r} chains URLs ('::'): give one path, mount or URL."
        )
    if "://" not in target:
        return _under(root, target, what, shown, must_exist)
    protocol, rest = target.split("://", 1)
    protocol = protocol.lower()
    if backend_for(protocol).local:
        try:
            parts = urlsplit(target)
        except ValueError:
            parts = None
        if parts is None or parts.netloc not in ("", "localhost") or not parts.path:
            raise PathNotAllowedError(
                f"The {what} {shown!r} is not an absolute file URL: use file:///path/inside/"
                "the/root, or a path relative to the server root."
            )
        return _under(root, unquote(parts.path), what, shown, must_exist)
    if protocol == "mount":
        name, _, sub = rest.partition("/")
        if ".." in sub.split("/"):
            raise PathNotAllowedError(f"The {what} {shown!r} must not contain '..' segments.")
        from .storage import MountRegistry

        (registry or MountRegistry()).get(name)  # MountNotFoundError (404) names it
        return target
    if protocol in protocols:
        return target
    allowed = ", ".join(f"{p}://" for p in protocols)
    raise PathNotAllowedError(
        f"The {what} {shown!r} uses '{protocol}://', which the server does not accept: give a "
        f"path under the server root, a mount (mount://NAME/...), or a URL with {allowed}."
    )
