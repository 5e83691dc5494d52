"""Mount names, mount-relative paths, and the parts of mount URLs every protocol shares.

Each protocol's own URL parsing lives in its backend (``storage/backends/``; the table of
supported URLs is there); ``parse_mount_url`` there picks the backend. This module holds the
shared vocabulary: names, relative paths, option schemas, secret options, endpoints, hosts.

Secrets (keys, passwords, tokens; see ``is_secret_option``) are split from the other options
here, including credentials written into the URL (``oss://AK:SECRET@bucket``), so that nothing
downstream stores or prints them by accident.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from .errors import InvalidMountError, PathNotAllowedError

MAX_NAME_LENGTH = 64
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

_SECRET_NAMES = {
    "key",
    "secret",
    "token",
    "password",
    "passwd",
    "access_key",
    "secret_key",
    "access_key_id",
    "access_key_secret",
    "session_token",
    "security_token",
    "sas_token",
    "account_key",
    "client_secret",
    "connection_string",
    "credentials",
    "private_key",
    "passphrase",
    "api_key",
    "pkey",
    "refresh_token",
}
_SECRET_PARTS = ("secret", "password", "passwd", "token", "credential", "passphrase")


def is_secret_option(name: str) -> bool:
    """Whether an option holds a secret (it then lives only in the credential store)."""
    n = name.lower()
    return n in _SECRET_NAMES or any(p in n for p in _SECRET_PARTS) or n.endswith("_key")


def validate_mount_name(name) -> str:
    """Return ``name`` if it is a valid mount name, else raise InvalidMountError saying why.

    A name becomes a directory under the mount dir, so: 1-64 characters, letters, digits,
    ``.``, ``_`` and ``-``, starting with a letter or digit; no slashes, no ``..``.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidMountError("Mount name is empty: give a name such as 'data'.")
    if "/" in name or "\\" in name:
        raise PathNotAllowedError(f"Mount name {name!r} must not contain slashes.")
    if ".." in name:
        raise PathNotAllowedError(f"Mount name {name!r} must not contain '..'.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidMountError(
            f"Mount name {name[:20]!r}... is {len(name)} characters long; "
            f"the limit is {MAX_NAME_LENGTH}."
        )
    if not _NAME_RE.match(name):
        raise InvalidMountError(
            f"Mount name {name!r} is not valid: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit."
        )
    return name


def normalize_relative_path(path: str | None) -> str:
    """``a/b`` for a path inside a mount; rejects ``..`` (and NUL) instead of resolving it."""
    if path is None:
        return ""
    if not isinstance(path, str):
        raise InvalidMountError(f"Path must be a string, got {type(path).__name__}.")
    if "\x00" in path:
        raise PathNotAllowedError("Path contains a NUL character.")
    parts = []
    for part in path.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise PathNotAllowedError(f"Path {path!r} must not contain '..' segments.")
        parts.append(part)
    return "/".join(parts)


@dataclass(frozen=True)
class MountTarget:
    """A parsed mount URL.

    ``url`` is normalised and carries no credentials; ``root`` is the path to wrap inside the
    protocol's filesystem; ``location`` holds the parsed parts (bucket, host, share, ...);
    ``options`` are the non-secret options, ``secrets`` the secret ones.
    """

    protocol: str
    url: str
    root: str
    location: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    secrets: dict = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:  # never show secret values
        names = sorted(self.secrets)
        return (
            f"MountTarget(protocol={self.protocol!r}, url={self.url!r}, root={self.root!r}, "
            f"options={self.options!r}, secrets={names!r})"
        )


# ----------------------------------------------------------------------------- option schemas

_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off"}


def _coerce(protocol: str, name: str, value, kind):
    if kind is str:
        if not isinstance(value, str):
            raise InvalidMountError(f"Option {name!r} of {protocol}:// must be a string.")
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _BOOL_TRUE | _BOOL_FALSE:
            return value.lower() in _BOOL_TRUE
        raise InvalidMountError(f"Option {name!r} of {protocol}:// must be true or false.")
    if kind in (int, float):
        if isinstance(value, bool):
            raise InvalidMountError(f"Option {name!r} of {protocol}:// must be a number.")
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise InvalidMountError(
                f"Option {name!r} of {protocol}:// must be a number, got {value!r}."
            ) from None
        if number < 0:
            raise InvalidMountError(f"Option {name!r} of {protocol}:// must not be negative.")
        return number
    raise AssertionError(kind)


def apply_schema(
    protocol: str, options: dict, schema: dict | None = None, aliases: dict | None = None
) -> tuple[dict, dict]:
    """``(public options, secrets)``: ``options`` renamed by ``aliases``, checked against
    ``schema`` (name -> type; None accepts anything) and split by :func:`is_secret_option`."""
    public, secrets = {}, {}
    for raw_name, value in options.items():
        if not isinstance(raw_name, str) or not raw_name:
            raise InvalidMountError("Option names must be non-empty strings.")
        name = (aliases or {}).get(raw_name, raw_name)
        if value is None or value == "":
            continue
        if schema is not None:
            if name not in schema:
                allowed = ", ".join(sorted(schema)) or "none"
                raise InvalidMountError(
                    f"Unknown option {raw_name!r} for {protocol}:// mounts (allowed: {allowed})."
                )
            value = _coerce(protocol, name, value, schema[name])
        (secrets if is_secret_option(name) else public)[name] = value
    return public, secrets


# ----------------------------------------------------------------------------- parsers


def split_netloc(netloc: str) -> tuple[str | None, str | None, str]:
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        return None, None, netloc
    user, colon, password = userinfo.partition(":")
    return unquote(user) or None, (unquote(password) if colon else None), hostport


def clean_prefix(path: str, url_for_errors: str) -> str:
    try:
        return normalize_relative_path(unquote(path))
    except PathNotAllowedError:
        raise PathNotAllowedError(
            f"Mount URL {url_for_errors!r} must not contain '..' segments."
        ) from None


def split_url(url: str):
    """``urlsplit(url)``, or InvalidMountError saying the URL is not valid."""
    try:
        return urlsplit(url)
    except ValueError as e:
        raise InvalidMountError(f"Mount URL {redacted(url)!r} is not valid: {e}") from None


def reject_query(u, url_for_errors: str) -> None:
    if u.query or u.fragment:
        raise InvalidMountError(
            f"Mount URL {url_for_errors!r} must not have a query or fragment: "
            "pass settings as options instead."
        )


_ENDPOINT_RE = re.compile(r"^(https?://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(:\d{1,5})?/?$")
HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?)$")


def normalize_endpoint(endpoint: str, what: str = "endpoint") -> str:
    """``http(s)://host[:port]`` (scheme defaults to https); rejects paths and credentials."""
    endpoint = endpoint.strip()
    if not _ENDPOINT_RE.match(endpoint):
        raise InvalidMountError(
            f"Option {what!r} must look like https://oss-cn-hangzhou.aliyuncs.com or "
            f"http://host:port, got {endpoint!r}."
        )
    if not endpoint.startswith(("http://", "https://")):
        endpoint = "https://" + endpoint
    return endpoint.rstrip("/")


def redacted(url: str) -> str:
    """The URL with any userinfo removed, for error messages."""
    try:
        u = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" in u.netloc:
        return url.replace(u.netloc, u.netloc.rpartition("@")[2], 1)
    return url


def resolve_local_path(path: str, allowed_local_roots, url_for_errors: str | None = None) -> str:
    """The real path of ``path`` if it is an existing directory under an allowed root."""
    shown = url_for_errors or path
    if not os.path.isabs(path):
        raise InvalidMountError(f"{shown!r} must be an absolute path (file:///data/...).")
    if any(part == ".." for part in path.split("/")):
        raise PathNotAllowedError(f"{shown!r} must not contain '..' segments.")
    roots = [os.path.realpath(os.path.expanduser(str(r))) for r in (allowed_local_roots or ())]
    if not roots:
        raise PathNotAllowedError(
            f"Local mounts are disabled: {shown!r} cannot be mounted because no "
            "allowed_local_roots are configured (c.Workbench.allowed_local_roots)."
        )
    real = os.path.realpath(path)
    if not any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots):
        raise PathNotAllowedError(
            f"{shown!r} (resolved to {real!r}) is outside the allowed local roots "
            f"({', '.join(roots)}); add its parent to c.Workbench.allowed_local_roots."
        )
    if not os.path.exists(real):
        raise InvalidMountError(f"{shown!r} does not exist.")
    if not os.path.isdir(real):
        raise InvalidMountError(f"{shown!r} is not a directory.")
    return real
