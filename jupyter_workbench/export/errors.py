"""The one error type of the export library."""

from __future__ import annotations


class ExportError(ValueError):
    """A user-facing export failure.

    The message names the input that was wrong and what to do about it. Raised without a
    TensorFlow traceback for user mistakes (missing files, unknown tensor names, an unbuilt
    model, an existing version, ...), so that the magic, the CLI and the REST API can show it
    as one line.
    """
