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


def _errno_for(exc: BaseException) -> int:
    if isinstance(exc, ReadOnlyMountError):
        return errno.EROFS
    if isinstance(exc, StorageCredentialsError):
        return errno.EACCES
    if isinstance(exc, StorageUnavailableError):
        return errno.EIO
    if isinstance(exc, PathNotAllowedError):
        return errno.EINVAL
    if isinstance(exc, OSError) and isinstance(exc.errno, int) and exc.errno > 0:
        return exc.errno
    if isinstance(exc, FileNotFoundError):
        return errno.ENOENT
    if isinstance(exc, FileExistsError):
        return errno.EEXIST
    if isinstance(exc, IsADirectoryError):
        return errno.EISDIR
    if isinstance(exc, NotADirectoryError):
        return errno.ENOTDIR
    if isinstance(exc, PermissionError):
        return errno.EACCES
    if isinstance(exc, NotImplementedError):
        return errno.ENOTSUP
    if isinstance(exc, ValueError):
        return errno.EINVAL
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
