"""Byte sizes: parse "500MB" / "10GB" / 1024 and format them back for humans."""

from __future__ import annotations

import math
import re

from .errors import ExportError

# Decimal units as storage vendors and the deployment docs count them; binary units when asked.
_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$")

#: Deployment limits the classic serving docs cite (model directory size for online prediction):
#: 500 MB on legacy (MLS1) machine types, 10 GB on Compute Engine (N1) machine types.
LEGACY_SERVING_LIMIT = 500 * 10**6
SERVING_LIMIT = 10 * 10**9


def parse_size(value, what: str = "max_size") -> int | None:
    """Return ``value`` in bytes: an int, or a string such as ``"500MB"``, ``"10 GB"``, ``"2GiB"``.

    MB/GB are decimal (10**6, 10**9); MiB/GiB are binary. ``None`` stays ``None``.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ExportError(f"{what}={value!r} is not a size: pass bytes (an int) or e.g. '500MB'.")
    if isinstance(value, (int, float)):
        if value < 0 or (isinstance(value, float) and not math.isfinite(value)):
            raise ExportError(f"{what}={value!r} must be a non-negative number of bytes.")
        return int(value)
    if isinstance(value, str):
        match = _SIZE_RE.match(value)
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise ExportError(
                f"{what}={value!r} is not a size: use bytes or a number with a unit "
                "(B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. '500MB' or '10GB'."
            )
        return int(float(match.group(1)) * _UNITS[unit])
    raise ExportError(f"{what}={value!r} is not a size: pass bytes (an int) or e.g. '500MB'.")


def format_size(n: int | float | None) -> str:
    """``1234567`` -> ``'1.2 MB'`` (decimal units, like the limits above)."""
    if n is None:
        return "unknown"
    n = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def size_warnings(size_bytes: int) -> list[str]:
    """Warnings for a SavedModel of ``size_bytes`` against the cited deployment limits."""
    if size_bytes > SERVING_LIMIT:
        return [
            f"the SavedModel is {format_size(size_bytes)}, above the 10 GB limit for online "
            "prediction models (and the 500 MB limit of legacy machine types): serve it from "
            "your own TF Serving, or shrink it (weights_dtype='float16' halves the weights)."
        ]
    if size_bytes > LEGACY_SERVING_LIMIT:
        return [
            f"the SavedModel is {format_size(size_bytes)}, above the 500 MB limit of legacy "
            "(MLS1) online prediction machine types; it fits the 10 GB limit of Compute Engine "
            "(N1) machine types. weights_dtype='float16' halves the weights."
        ]
    return []
