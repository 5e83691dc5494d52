"""Errors of the serving package (no TensorFlow, no Jupyter)."""

from __future__ import annotations

from ..errors import WorkbenchError


class ServingError(WorkbenchError):
    """A user-facing failure to start or reach a model server: one clear message."""


class ServingNotFoundError(ServingError):
    """No model server of that name."""

    category = "not_found"
    http_status = 404


class ServingConflictError(ServingError):
    """A model server of that name already runs (or has exited)."""

    category = "conflict"
    http_status = 409


class ServingUnavailableError(ServingError):
    """The model server did not answer."""

    category = "unavailable"
    http_status = 502
