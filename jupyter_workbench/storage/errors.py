"""Errors of the storage layer, each with a ``category`` and the HTTP status a handler answers.

Messages name the input that was wrong and what to do about it; they never contain secrets.

=====================================  =================  ======
class                                  category           HTTP
=====================================  =================  ======
InvalidMountError (ValueError)         ``invalid``        400
PathNotAllowedError (ValueError)       ``not_allowed``    400
UnsupportedMountError                  ``unsupported``    400
StorageCredentialsError (PermissionE.) ``credentials``    400
MountNotFoundError (LookupError)       ``not_found``      404
MountExistsError                       ``conflict``       409
ReadOnlyMountError (PermissionError)   ``read_only``      403
StorageUnavailableError (Connection.)  ``unavailable``    502
MountUnreachableError (Connection.)    ``unavailable``    400
=====================================  =================  ======

Credential errors are 400, not 403: a 403 from the workbench API means "logged out" to the
frontend, and a rejected key is a problem with what the user entered.
"""

from __future__ import annotations

from ..errors import WorkbenchError, http_status_for  # noqa: F401 - part of the storage API


class StorageError(WorkbenchError):
    """Base class: ``category`` and ``http_status`` let callers map errors without isinstance."""

    category = "error"
    http_status = 500


class MountError(StorageError):
    """A problem with a mount definition (name, URL, options) or the registry."""


class InvalidMountError(MountError, ValueError):
    category = "invalid"
    http_status = 400


class PathNotAllowedError(InvalidMountError):
    """A path escapes its root (``..``) or a local path lies outside ``allowed_local_roots``."""

    category = "not_allowed"


class UnsupportedMountError(MountError):
    """The URL is well formed but this machine cannot serve it (no NFS client, no package)."""

    category = "unsupported"
    http_status = 400


class MountNotFoundError(MountError, LookupError):
    category = "not_found"
    http_status = 404


class MountExistsError(MountError):
    category = "conflict"
    http_status = 409


class StorageCredentialsError(StorageError, PermissionError):
    """The store rejected the credentials (wrong key or secret, expired token, no permission)."""

    category = "credentials"
    http_status = 400

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


class ReadOnlyMountError(StorageError, PermissionError):
    category = "read_only"
    http_status = 403


class StorageUnavailableError(StorageError, ConnectionError):
    """The store could not be reached or kept failing (timeouts, refused connections, 5xx)."""

    category = "unavailable"
    http_status = 502


class MountUnreachableError(StorageUnavailableError):
    """Adding a mount failed because its store did not answer: the endpoint the user entered
    is what to fix, so a 400 (an existing mount's store failing is a 502)."""

    http_status = 400
