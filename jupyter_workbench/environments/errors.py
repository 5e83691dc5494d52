"""The one exception type of the environments package."""

from __future__ import annotations


class WorkbenchEnvError(RuntimeError):
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
        self.message = message
        self.environment = environment
        self.kind = kind
        self.details = details

    def __str__(self) -> str:
        return self.message
