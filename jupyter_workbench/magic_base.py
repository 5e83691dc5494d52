"""What every workbench magic shares: the one-line error and an argparse that never exits.

Kept apart from ``magics`` so that the magics of each capability (``session.magics``) build on
it without importing the module that registers them.
"""

from __future__ import annotations

import argparse

from .errors import WorkbenchError, family


class WorkbenchMagicError(Exception):
    """Shown by IPython as its message alone (no traceback): it is the user's mistake."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind

    @classmethod
    def from_error(cls, exc: WorkbenchError) -> WorkbenchMagicError:
        """The magic's form of a library's user-facing error (``ExportError: ...``)."""
        return cls(family(exc), exc.message)

    def _render_traceback_(self):
        return [f"{self.kind}: {self}"]


class MagicParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting the kernel."""

    def error(self, message):
        raise WorkbenchMagicError("UsageError", f"{message}\n{self.format_usage().strip()}")

    def exit(self, status=0, message=None):
        if message:
            raise WorkbenchMagicError("UsageError", message.strip())
        raise WorkbenchMagicError("UsageError", self.format_help())
