"""The one error protocol: every user-facing error carries its HTTP status and a category.

Each library raises subclasses of ``WorkbenchError`` (storage, export, environments, jobs); the
REST handler base answers them with ``http_status`` and ``{"message"}``, the CLI prints
``message`` and exits 1, the magics show it as one line. Nothing here imports Jupyter.

=========================================  =================  ======
class                                      category           HTTP
=========================================  =================  ======
``storage.errors.*``                       see that module    4xx/502
``export.ExportError``                     ``invalid``        400
``export.errors.ExportNotFoundError``      ``not_found``      404
``export.errors.ExportUnavailableError``   ``unavailable``    409
``environments.WorkbenchEnvError``         its ``kind``       400/404/409
``session.jobs.JobError``                  ``invalid``        400
``session.jobs.JobNotFound``               ``not_found``      404
``session.jobs.JobConflict``               ``conflict``       409
=========================================  =================  ======
"""

from __future__ import annotations

import errno

# OS errors that a request's input causes (a name too long, a path through a file).
_USER_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.ENOTDIR, errno.EINVAL})


class WorkbenchError(Exception):
    """A user-facing error: ``message`` names what was wrong and what to do about it.

    ``http_status`` is what a REST handler answers, ``category`` a short machine-readable kind.
    """

    category = "invalid"
    http_status = 400

    def __init__(self, message: str = "", *args):
        super().__init__(message, *args)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict:
        return {"message": self.message, "category": self.category}


def family(exc: BaseException) -> str:
    """The name of the library's error class ``exc`` belongs to (``ExportError``, ``JobError``,
    ``StorageError``, ...): how the magics label a one-line error."""
    for cls in type(exc).__mro__:
        if WorkbenchError in cls.__bases__:
            return cls.__name__
    return type(exc).__name__


def user_message(exc: BaseException) -> str:
    """The one-line message of a user-facing error (or of any exception)."""
    if isinstance(exc, WorkbenchError):
        return exc.message
    return str(exc) or type(exc).__name__


def http_status_for(exc: BaseException) -> int:
    """The status a REST handler should answer for ``exc`` (500 only for real bugs)."""
    if isinstance(exc, WorkbenchError):
        return exc.http_status
    if isinstance(exc, FileNotFoundError):
        return 404
    if isinstance(exc, FileExistsError):
        return 409
    if isinstance(exc, (IsADirectoryError, NotADirectoryError, ValueError)):
        return 400
    if isinstance(exc, PermissionError):
        return 403
    if isinstance(exc, OSError) and exc.errno in _USER_ERRNOS:
        return 400
    return 500
