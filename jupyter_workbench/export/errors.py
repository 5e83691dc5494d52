"""The export library's errors (``jupyter_workbench.errors`` protocol: status and category)."""

from __future__ import annotations

from ..errors import WorkbenchError


class ExportError(WorkbenchError, ValueError):
    """A user-facing export failure.

    The message names the input that was wrong and what to do about it. Raised without a
    TensorFlow traceback for user mistakes (missing files, unknown tensor names, an unbuilt
    model, an existing version, ...), so that the magic, the CLI and the REST API can show it
    as one line.
    """


class ExportNotFoundError(ExportError, LookupError):
    """No server-side export with that id."""

    category = "not_found"
    http_status = 404


class ExportUnavailableError(ExportError):
    """Exports cannot run here now (no interpreter with TensorFlow): a 409 saying how to fix it."""

    category = "unavailable"
    http_status = 409


def require_tensorflow() -> None:
    """A clear error where this interpreter has no TensorFlow (e.g. the server's py3 env)."""
    import importlib.util
    import sys

    if importlib.util.find_spec("tensorflow") is None:
        raise ExportError(
            f"TensorFlow is not installed for {sys.executable}: run the export with the "
            "interpreter of an environment that has it (the tf2 environment), e.g. "
            "`python -m jupyter_workbench.export.worker`, or pip install tensorflow-cpu."
        )
