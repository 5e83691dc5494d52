"""Errors inside FUSE callbacks: every exception becomes an errno the kernel understands."""

from __future__ import annotations

import errno
import functools
import logging

import mfusepy

from .errors import (
    PathNotAllowedError,
    ReadOnlyMountError,
    StorageCredentialsError,
    StorageUnavailableError,
)

log = logging.getLogger("jupyter_workbench.storage.fuse")

_FuseOSError = mfusepy.FuseOSError


# The first class an exception is an instance of gives its errno (order matters: subclasses
# first). ``None``: an OSError's own errno when it carries one, else the rows below decide.
_ERRNOS: tuple[tuple[type[BaseException], int | None], ...] = (
    (ReadOnlyMountError, errno.EROFS),
    (StorageCredentialsError, errno.EACCES),
    (StorageUnavailableError, errno.EIO),
    (PathNotAllowedError, errno.EINVAL),
    (OSError, None),
    (FileNotFoundError, errno.ENOENT),
    (FileExistsError, errno.EEXIST),
    (IsADirectoryError, errno.EISDIR),
    (NotADirectoryError, errno.ENOTDIR),
    (PermissionError, errno.EACCES),
    (NotImplementedError, errno.ENOTSUP),
    (ValueError, errno.EINVAL),
)


def _errno_for(exc: BaseException) -> int:
    for cls, code in _ERRNOS:
        if isinstance(exc, cls):
            if code is not None:
                return code
            own = getattr(exc, "errno", None)
            if isinstance(own, int) and own > 0:
                return own
    return errno.EIO


_QUIET = {errno.ENOENT, errno.EEXIST, errno.ENOTEMPTY, errno.EXDEV, errno.EROFS, errno.EISDIR}


def _op(method):
    """Turn any exception into a FuseOSError with a sensible errno (and log real failures)."""

    @functools.wraps(method)
    def wrapper(self, *args):
        try:
            return method(self, *args)
        except _FuseOSError:
            raise
        except BaseException as exc:  # noqa: BLE001 - a FUSE callback must answer an errno
            if not isinstance(exc, Exception):
                raise
            code = _errno_for(exc)
            if code not in _QUIET:
                log.warning("%s %s failed: %s", method.__name__, args[:1], exc)
            raise _FuseOSError(code) from None

    return wrapper


def _err(code: int):
    return _FuseOSError(code)
