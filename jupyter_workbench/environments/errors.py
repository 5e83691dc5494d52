"""The one exception type of the environments package."""

from __future__ import annotations

from ..errors import WorkbenchError

# HTTP status by ``kind`` (every other kind is a 400).
_STATUS_FOR_KIND = {"unknown": 404, "busy": 409, "not-ready": 409}


class WorkbenchEnvError(WorkbenchError, RuntimeError):
    """A user-facing environment problem, with a message that says what to do.

    ``str(err)`` is the clear, one-paragraph message (safe to show in the UI or the CLI).
    ``err.environment`` is the environment name when known, ``err.details`` the tail of the
    tool output (pip's) that led to it, for logs and ``--verbose`` output.
    ``err.kind`` is a short machine-readable category: ``unknown``, ``not-ready``,
    ``registry-unreachable``, ``no-distribution``, ``disk-full``, ``pip-failed``,
    ``venv-failed``, ``verify-failed``, ``templates-missing``, ``busy``.
    """

    def __init__(
        self,
        message: str,
        *,
        environment: str | None = None,
        kind: str = "error",
        details: str = "",
    ) -> None:
        super().__init__(message)
        self.environment = environment
        self.kind = kind
        self.details = details

    @property
    def category(self) -> str:
        return self.kind

    @property
    def http_status(self) -> int:
        return _STATUS_FOR_KIND.get(self.kind, 400)
