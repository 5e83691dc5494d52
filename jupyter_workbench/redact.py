"""Keeping secrets out of messages: the one scrubbing function every error path uses.

``scrub(message, secrets)`` replaces each secret value in ``message`` with ``***``;
``url_secrets(url)`` finds credentials written into a URL (``oss://AK:SECRET@bucket``).
Nothing here imports Jupyter.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

MIN_SECRET_LENGTH = 3  # shorter values would blank out ordinary words


def scrub(message: str, secrets: Iterable) -> str:
    """``message`` with every secret value in ``secrets`` replaced by ``***``."""
    for value in sorted((s for s in secrets if isinstance(s, str)), key=len, reverse=True):
        if len(value) >= MIN_SECRET_LENGTH and value in message:
            message = message.replace(value, "***")
    return message


def url_secrets(url: str) -> list[str]:
    """Credentials written into a URL's userinfo, to keep out of messages."""
    try:
        netloc = urlsplit(url).netloc
    except (ValueError, TypeError, AttributeError):
        return []
    userinfo, at, _ = netloc.rpartition("@")
    if not at:
        return []
    user, _, password = userinfo.partition(":")
    return [unquote(p) for p in (password, userinfo) if p] + ([unquote(user)] if password else [])
