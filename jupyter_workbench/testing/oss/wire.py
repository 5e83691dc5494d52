"""Small pieces every handler module uses: XML building, dates, header bytes, the owner."""

from __future__ import annotations

import email.utils
import time
import xml.etree.ElementTree as ET

OWNER_ID = "1000000000000000"
OWNER_NAME = "workbench-emulator"
MAX_XML_BODY = 4 << 20


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def _http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def _parse_http_date(value: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _from_wire(value: str) -> str:
    """A header value as the client sent it: http.server decodes bytes as latin-1, OSS clients
    send UTF-8 (``x-oss-meta-*`` values, which the V1 signature covers byte for byte)."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _to_wire(value: str) -> str:
    """The inverse of :func:`_from_wire` (http.server encodes headers as latin-1)."""
    return value.encode("utf-8").decode("latin-1")


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    node = ET.SubElement(parent, tag)
    if text is not None:
        node.text = text
    return node


class _Drop(Exception):
    """Close the connection without answering."""
