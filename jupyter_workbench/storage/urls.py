"""Mount names and mount URLs: parsing, validation and normalisation.

Supported URLs (DESIGN.md, "Mount URLs")::

    oss://bucket[/prefix]            options: endpoint, key, secret, token, anonymous, timeouts
    s3://bucket[/prefix]             options: endpoint_url, region, key, secret, token, anon
    file:///path                     an already-mounted path, only under allowed_local_roots
    nas://server:/export[/path]      NFS, mounted by the system where that is allowed
    smb://[user@]server[:port]/share[/path]   options: username, password, port, timeout
    <protocol>://...                 any other installed fsspec protocol, options passed through

Secrets (keys, passwords, tokens; see ``is_secret_option``) are split from the other options
here, including credentials written into the URL (``oss://AK:SECRET@bucket``), so that nothing
downstream stores or prints them by accident.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from .errors import InvalidMountError, PathNotAllowedError, UnsupportedMountError

MAX_NAME_LENGTH = 64
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# Protocols that would reach outside a mount's root (wrappers over local files or other URLs)
# or that live inside one process (kernels could not see them).
_BLOCKED_PROTOCOLS = {
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


_SCHEMAS: dict[str, dict[str, type]] = {
    "oss": {
        "endpoint": str,
        "key": str,
        "secret": str,
        "token": str,
        "anonymous": bool,
        "connect_timeout": float,
        "read_timeout": float,
        "retries": int,
        "call_budget": float,
        "listings_expiry_time": float,
        "credentials_file": str,
        "credentials_command": str,
        "ram_role_endpoint": str,
        "block_size": int,
    },
    "s3": {
        "endpoint_url": str,
        "region": str,
        "key": str,
        "secret": str,
        "token": str,
        "anon": bool,
        "connect_timeout": float,
        "read_timeout": float,
        "retries": int,
    },
    "smb": {
        "username": str,
        "password": str,
        "port": int,
        "timeout": float,
        "encrypt": bool,
    },
    "nas": {"mount_options": str},
    "file": {},
}
_ALIASES = {
    "oss": {
        "access_key_id": "key",
        "access_key_secret": "secret",
        "security_token": "token",
        "anon": "anonymous",
    },
    "s3": {
        "endpoint": "endpoint_url",
        "aws_access_key_id": "key",
        "aws_secret_access_key": "secret",
    },
    "smb": {"user": "username"},
}


def _apply_schema(protocol: str, options: dict) -> tuple[dict, dict]:
    schema = _SCHEMAS.get(protocol)
    public, secrets = {}, {}
    for raw_name, value in options.items():
        if not isinstance(raw_name, str) or not raw_name:
            raise InvalidMountError("Option names must be non-empty strings.")
        name = _ALIASES.get(protocol, {}).get(raw_name, raw_name)
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


def _split_netloc(netloc: str) -> tuple[str | None, str | None, str]:
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        return None, None, netloc
    user, colon, password = userinfo.partition(":")
    return unquote(user) or None, (unquote(password) if colon else None), hostport


def _clean_prefix(path: str, url_for_errors: str) -> str:
    try:
        return normalize_relative_path(unquote(path))
    except PathNotAllowedError:
        raise PathNotAllowedError(
            f"Mount URL {url_for_errors!r} must not contain '..' segments."
        ) from None


def _reject_query(u, url_for_errors: str) -> None:
    if u.query or u.fragment:
        raise InvalidMountError(
            f"Mount URL {url_for_errors!r} must not have a query or fragment: "
            "pass settings as options instead."
        )


_ENDPOINT_RE = re.compile(r"^(https?://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(:\d{1,5})?/?$")
_OSS_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_S3_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?)$")


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


def _redacted(url: str) -> str:
    """The URL with any userinfo removed, for error messages."""
    try:
        u = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" in u.netloc:
        return url.replace(u.netloc, u.netloc.rpartition("@")[2], 1)
    return url


def _parse_bucket_url(scheme: str, u, url: str, options: dict, valid_name, rule: str):
    """(bucket, prefix, public options, secrets) of an object-store URL; key/secret may come
    from the URL's user info (``oss://AK:SK@bucket``) unless given as options."""
    user, password, host = _split_netloc(u.netloc)
    if not valid_name.match(host):
        raise InvalidMountError(
            f"{scheme.upper()} bucket name {host!r} in {url!r} is not valid: {rule}"
        )
    prefix = _clean_prefix(u.path, url)
    public, secrets = _apply_schema(scheme, options)
    if user:
        secrets.setdefault("key", user)
    if password:
        secrets.setdefault("secret", password)
    return host, prefix, public, secrets


def _bucket_target(scheme: str, bucket: str, prefix: str, public, secrets) -> MountTarget:
    root = f"{bucket}/{prefix}" if prefix else bucket
    return MountTarget(
        scheme, f"{scheme}://{root}", root, {"bucket": bucket, "prefix": prefix}, public, secrets
    )


def _parse_oss(u, url: str, options: dict) -> MountTarget:
    host, prefix, public, secrets = _parse_bucket_url(
        "oss",
        u,
        url,
        options,
        _OSS_BUCKET_RE,
        "3-63 lower-case letters, digits and '-', starting and ending with a letter or digit.",
    )
    if "endpoint" in public:
        public["endpoint"] = normalize_endpoint(public["endpoint"])
    elif not os.environ.get("OSS_ENDPOINT"):
        raise InvalidMountError(
            "oss:// mounts need an 'endpoint' option (for example "
            "https://oss-cn-hangzhou.aliyuncs.com) or the OSS_ENDPOINT environment variable."
        )
    if ("key" in secrets) != ("secret" in secrets):
        raise InvalidMountError(
            "OSS credentials need both 'key' (AccessKey ID) and 'secret' (AccessKey secret)."
        )
    if "token" in secrets and "key" not in secrets:
        raise InvalidMountError("An STS 'token' needs the temporary 'key' and 'secret' too.")
    return _bucket_target("oss", host, prefix, public, secrets)


def _parse_s3(u, url: str, options: dict) -> MountTarget:
    host, prefix, public, secrets = _parse_bucket_url(
        "s3", u, url, options, _S3_BUCKET_RE, "3-63 lower-case letters, digits, '.' and '-'."
    )
    if "endpoint_url" in public:
        public["endpoint_url"] = normalize_endpoint(public["endpoint_url"], "endpoint_url")
    return _bucket_target("s3", host, prefix, public, secrets)


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


def _parse_file(u, url: str, options: dict, allowed_local_roots) -> MountTarget:
    if u.netloc not in ("", "localhost"):
        raise InvalidMountError(
            f"{url!r} names host {u.netloc!r}: file:// URLs must be local (file:///path). "
            "For an NFS share use nas://server:/export."
        )
    _reject_query(u, url)
    _apply_schema("file", options)
    path = unquote(u.path)
    if "\x00" in path:
        raise PathNotAllowedError("Path contains a NUL character.")
    real = resolve_local_path(path, allowed_local_roots, url)
    return MountTarget("file", f"file://{real}", real, {"path": real}, {}, {})


_NAS_RE = re.compile(r"^nas://(?P<host>\[[0-9A-Fa-f:.]+\]|[^/:@?#\s\[\]]+):?(?P<path>/[^?#]*)?$")


def _parse_nas(url: str, options: dict) -> MountTarget:
    m = _NAS_RE.match(url)
    if not m or not m.group("path"):
        raise InvalidMountError(
            f"NAS URL {url!r} is not valid: use nas://server:/export[/path] "
            "(for example nas://0a1b2c.cn-hangzhou.nas.aliyuncs.com:/share)."
        )
    host = m.group("host")
    if not _HOST_RE.match(host):
        raise InvalidMountError(f"NAS server {host!r} in {url!r} is not a valid host name.")
    path = "/" + _clean_prefix(m.group("path"), url)
    public, secrets = _apply_schema("nas", options)
    mount_options = public.get("mount_options", "")
    if mount_options and not re.match(r"^[A-Za-z0-9=,._:-]+$", mount_options):
        raise InvalidMountError(
            f"Option 'mount_options' {mount_options!r} may contain only letters, digits and "
            "'=,._:-' (for example vers=4.1,ro)."
        )
    return MountTarget(
        "nas", f"nas://{host}:{path}", path, {"server": host, "export": path}, public, secrets
    )


def _parse_smb(u, url: str, options: dict) -> MountTarget:
    user, password, hostport = _split_netloc(u.netloc)
    host, _, port = hostport.partition(":")
    if hostport.startswith("["):
        host, _, rest = hostport.partition("]")
        host += "]"
        port = rest.lstrip(":")
    if not host or not _HOST_RE.match(host):
        raise InvalidMountError(f"SMB server {host!r} in {_redacted(url)!r} is not valid.")
    parts = _clean_prefix(u.path, _redacted(url)).split("/", 1)
    share = parts[0]
    if not share:
        raise InvalidMountError(
            f"SMB URL {_redacted(url)!r} needs a share: smb://server/share[/path]."
        )
    sub = parts[1] if len(parts) > 1 else ""
    public, secrets = _apply_schema("smb", options)
    if user:
        public.setdefault("username", user)
    if password:
        secrets.setdefault("password", password)
    if port:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidMountError(f"SMB port {port!r} in {_redacted(url)!r} is not valid.")
        public.setdefault("port", int(port))
    root = f"/{share}/{sub}" if sub else f"/{share}"
    port_part = f":{public['port']}" if "port" in public else ""
    return MountTarget(
        "smb",
        f"smb://{host}{port_part}{root}",
        root,
        {"host": host, "share": share, "path": sub},
        public,
        secrets,
    )


def _parse_generic(protocol: str, url: str, options: dict) -> MountTarget:
    import fsspec
    from fsspec.registry import known_implementations, registry

    if protocol in _BLOCKED_PROTOCOLS:
        raise InvalidMountError(f"{protocol}:// cannot be mounted: {_BLOCKED_PROTOCOLS[protocol]}.")
    if protocol not in known_implementations and protocol not in registry:
        raise InvalidMountError(
            f"Unknown protocol {protocol!r} in {_redacted(url)!r}: use oss://, s3://, file://, "
            "nas://, smb:// or another installed fsspec protocol."
        )
    try:
        cls = fsspec.get_filesystem_class(protocol)
    except ImportError as e:
        raise UnsupportedMountError(
            f"{protocol}:// needs a package that is not installed here: {e}"
        ) from None
    public, secrets = _apply_schema(protocol, options)
    try:
        url_kwargs = cls._get_kwargs_from_urls(url) or {}
        root = cls._strip_protocol(url)
    except Exception as e:  # noqa: BLE001 - third-party parsers raise anything
        raise InvalidMountError(
            f"{_redacted(url)!r} is not a valid {protocol}:// URL: {e}"
        ) from None
    for k, v in url_kwargs.items():
        (secrets if is_secret_option(k) else public).setdefault(k, v)
    if any(p == ".." for p in str(root).split("/")):
        raise PathNotAllowedError(f"Mount URL {_redacted(url)!r} must not contain '..' segments.")
    return MountTarget(protocol, _redacted(url), str(root), {}, public, secrets)


def parse_mount_url(url, options: dict | None = None, *, allowed_local_roots=None) -> MountTarget:
    """Parse and validate a mount URL with its options.

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
            f"Mount URL {_redacted(url)!r} has no protocol: use oss://bucket/prefix, "
            "s3://bucket, file:///path, nas://server:/export or smb://server/share."
        )
    protocol = m.group(1).lower()
    if protocol == "nas":
        return _parse_nas(url, options)
    try:
        u = urlsplit(url)
    except ValueError as e:
        raise InvalidMountError(f"Mount URL {_redacted(url)!r} is not valid: {e}") from None
    if protocol == "file":
        return _parse_file(u, url, options, allowed_local_roots)
    if protocol in ("oss", "s3", "s3a", "smb"):
        _reject_query(u, _redacted(url))
        if protocol == "oss":
            return _parse_oss(u, _redacted(url), options)
        if protocol == "smb":
            return _parse_smb(u, url, options)
        return _parse_s3(u, _redacted(url), options)
    return _parse_generic(protocol, url, options)
