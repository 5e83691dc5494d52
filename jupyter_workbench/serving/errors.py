"""Errors of the serving package (no TensorFlow, no Jupyter)."""

from __future__ import annotations

from ..errors import WorkbenchError


class ServingError(WorkbenchError):
    """A user-facing failure to start or reach a model server: one clear message."""
