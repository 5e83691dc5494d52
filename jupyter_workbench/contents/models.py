"""Contents models of mount entries, the times and types they carry, and decoding of saves."""

from __future__ import annotations

import base64
import binascii
import mimetypes
from datetime import datetime, timezone

from tornado import web

# Folders with no time of their own (mnt/, a mount registered before times were kept, an
# object-store prefix) show when this server started, not 1970 ("56 years ago").
STARTED = datetime.now(timezone.utc).replace(microsecond=0)


def utc(value) -> datetime | None:
    """``value`` (datetime, epoch seconds or ISO string) as an aware UTC datetime, or None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    if isinstance(value, str) and value:
        try:
            return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def modified(info: dict) -> datetime | None:
    """The modification time in an fsspec ``info()`` dict, whatever the backend calls it."""
    for key in ("LastModified", "mtime", "last_modified", "modified", "updated", "created"):
        value = utc(info.get(key))
        if value is not None:
            return value
    return None


def base_model(api_path: str, kind: str, *, writable: bool, size=None, modified=None) -> dict:
    """A contents model without content (jupyter_server's fields)."""
    return {
        "name": api_path.rsplit("/", 1)[-1],
        "path": api_path,
        "type": kind,
        "writable": writable,
        "created": modified,
        "last_modified": modified,
        "content": None,
        "format": None,
        "mimetype": None,
        "size": size,
        "hash": None,
        "hash_algorithm": None,
    }


def content_type(name: str) -> str:
    """The Content-Type of a download named ``name``."""
    if name.endswith(".ipynb"):
        return "application/x-ipynb+json"
    mime, encoding = mimetypes.guess_type(name)
    if encoding == "gzip":
        return "application/gzip"
    if encoding is not None or mime is None:
        return "application/octet-stream"
    if mime == "text/plain":
        return "text/plain; charset=UTF-8"
    return mime


def decode(content, format, path: str) -> bytes:
    """The bytes of a file model's ``content`` in ``format`` (a 400 naming what is wrong)."""
    if format not in ("text", "base64"):
        raise web.HTTPError(400, "Must specify format of file contents as 'text' or 'base64'")
    if not isinstance(content, str):
        raise web.HTTPError(400, f"File content for {path} must be a string")
    try:
        if format == "text":
            return content.encode("utf-8")
        # Line breaks are fine; anything else outside the alphabet is a broken upload, not
        # something to drop silently (that would save a truncated file).
        return base64.b64decode("".join(content.split()).encode("ascii"), validate=True)
    except (UnicodeError, binascii.Error, ValueError) as e:
        raise web.HTTPError(400, f"Encoding error saving {path}: {e}") from None
