"""Keeping secrets out of everything: the one scrubbing function every capability applies
before it stores, returns, logs or puts into an error message anything a request carried.

``scrub(value, secrets=())`` accepts a string, a dict, a list/tuple (recursively) or anything
else (returned as is) and removes:

- URL userinfo: ``oss://AK:SECRET@bucket/x`` -> ``oss://***@bucket/x`` (any scheme, anywhere
  in a string, also in the middle of an error message);
- secret-bearing query parameters: ``?secret=..``, ``&token=..``, ``Signature=``,
  ``X-Amz-Credential=``, ``OSSAccessKeyId=`` ... -> ``name=***``;
- string values of secret options in dicts (``{"secret": "x"}`` -> ``{"secret": "***"}``; the names
  are :func:`jupyter_workbench.storage.urls.is_secret_option`'s);
- every known secret value given in ``secrets`` (e.g. a mount's key and secret, or the parts
  of a URL's userinfo) wherever it occurs.

:func:`split_url_credentials` takes a URL's userinfo out (``key``/``secret`` options for the
store), so the URL itself can be shown and passed on without them.

Nothing here imports Jupyter, tornado or TensorFlow.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
MIN_SECRET_LENGTH = 3  # shorter values would blank out ordinary words

# scheme://userinfo@ where userinfo has no '/', whitespace, quote or '@'
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/\s@'\"<>]+)@")
_QUERY_PARAM = re.compile(r"(?P<lead>[?&;])(?P<name>[A-Za-z0-9_.\-]+)=(?P<value>[^&;#\s'\"<>]*)")
_QUERY_SECRET_NAMES = {
    "signature",
    "sig",
    "key",
    "ossaccesskeyid",
    "x-amz-credential",
    "x-amz-signature",
    "x-amz-security-token",
    "x-oss-credential",
    "x-oss-signature",
    "x-oss-security-token",
    "awsaccesskeyid",
    "accesskeyid",
    "securitytoken",
}


def is_secret_name(name: str) -> bool:
    """Whether an option or query parameter named ``name`` carries a secret."""
    from .storage.urls import is_secret_option

    n = name.lower()
    return n in _QUERY_SECRET_NAMES or is_secret_option(n) or is_secret_option(n.replace("-", "_"))


def _scrub_text(text: str, secrets) -> str:
    for value in secrets:
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH and value in text:
            text = text.replace(value, MASK)
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)

    def param(m):
        if is_secret_name(m.group("name")) and m.group("value") not in ("", MASK):
            return f"{m.group('lead')}{m.group('name')}={MASK}"
        return m.group(0)

    return _QUERY_PARAM.sub(param, text)


def scrub(value, secrets=()):
    """``value`` with every secret removed (see the module docstring); never raises."""
    secrets = [s for s in secrets if isinstance(s, str) and s]
    secrets.sort(key=len, reverse=True)  # "AK:SECRET" before "AK"
    return _scrub(value, secrets)


def _scrub(value, secrets):
    if isinstance(value, str):
        return _scrub_text(value, secrets)
    if isinstance(value, dict):
        return {
            k: (
                MASK
                if isinstance(k, str) and isinstance(v, (str, bytes)) and v and is_secret_name(k)
                else _scrub(v, secrets)
            )
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(v, secrets) for v in value)
    return value


def url_secrets(url: str) -> list[str]:
    """The credentials written into a URL's userinfo (raw and percent-decoded)."""
    if not isinstance(url, str):
        return []
    match = _USERINFO.search(url)
    if not match:
        return []
    userinfo = match.group("userinfo")
    user, _, password = userinfo.partition(":")
    parts = [userinfo, unquote(userinfo), password, unquote(password)]
    if password:
        parts += [user, unquote(user)]
    return [p for p in parts if p]


def split_url_credentials(url: str) -> tuple[str, dict]:
    """``("oss://bucket/x", {"key": "AK", "secret": "SECRET"})`` for ``oss://AK:SECRET@bucket/x``.

    A URL without userinfo comes back unchanged with ``{}``.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, {}
    if "@" not in parts.netloc:
        return url, {}
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    options = {"key": unquote(user)} if user else {}
    if password:
        options["secret"] = unquote(password)
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)), options
