"""fsspec's ``SMBFileSystem`` made safe for several mounts in one process.

smbclient (smbprotocol) keeps one process-wide pool of connections keyed by ``server:port``;
on a connection it reuses the first session whose user name matches, without checking the
password, or any session when no user name is given. fsspec's ``SMBFileSystem`` logs in once
and then calls smbclient with the port only. So, in one process (the server, a kernel):

- a mount with a wrong password for a user that another mount had already logged in as was
  accepted: ``add(check=True)`` passed and files could be read and written (measured against
  Samba 4.17, tests/unit/test_storage_smb.py);
- every file operation of a mount runs on whichever session was opened first on that server,
  possibly another mount's user (from smbclient's code; the test server has one user).

``WorkbenchSMBFileSystem`` keeps a connection pool per (server, port, user, password) and
passes it with the credentials on every smbclient call, so each mount logs in itself and uses
its own session (filesystems of the same mount share it). Also:

- smbprotocol's ``SMBOSError`` is re-raised as the builtin class (``FileNotFoundError``,
  ``PermissionError``, ...) that the storage layer and the contents bridge turn into 404/403
  (a missing folder was "Could not list", a missing file a 502);
- ``info``/``ls`` drop fsspec's own keywords: ``info(path, refresh=True)`` (the contents
  bridge) reached ``smbclient.stat`` as a TypeError;
- ``open(path, "wb", autocommit=False)`` (how the contents bridge saves) writes a temporary
  file next to the target and renames it over the target on ``commit()``, with this mount's
  session (fsspec writes it at the root of the share);
- connection retries are not done: the mount's ``timeout`` bounds a connection attempt.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import threading
import uuid
from stat import S_ISDIR

import smbclient
from fsspec.implementations.smb import SMBFileSystem
from smbprotocol.exceptions import LogonFailure, NtStatus, SMBAuthenticationError, SMBOSError

_POOLS: dict[tuple, dict] = {}
_POOLS_LOCK = threading.Lock()


def _pool(host: str, port: int, username, password) -> dict:
    """The smbclient connection cache for one set of credentials."""
    digest = hashlib.sha256((password or "").encode()).hexdigest()  # not the password itself
    key = (host.lower(), int(port), username or "", digest)
    with _POOLS_LOCK:
        return _POOLS.setdefault(key, {})


def _builtin_errors(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except SMBOSError as e:
            code = e.errno
            if not code and e.ntstatus == NtStatus.STATUS_ACCESS_DENIED:
                code = errno.EACCES
            if not code:
                raise
            # OSError(errno, ...) builds the matching subclass (FileNotFoundError, ...).
            raise OSError(code, e.strerror or str(e), e.filename) from None

    return wrapper


def _unc(host: str, path: str) -> str:
    return "\\\\" + host + path.replace("/", "\\")


class _DeferredSMBFile:
    """A file written next to its target and renamed over it by ``commit()``.

    (fsspec's SMBFileOpener writes at the root of the share, where a mount of a folder may not
    be allowed to write, and renames through the process-wide session.)
    """

    def __init__(self, fs, path: str, mode: str, block_size, kwargs: dict):
        folder, _, name = path.rpartition("/")
        self._fs = fs
        self.path = _unc(fs.host, path)
        self.temp = _unc(fs.host, f"{folder}/.~{name}.{uuid.uuid4().hex[:8]}.tmp")
        buffering = block_size if block_size is not None and block_size >= 0 else -1
        self.smbfile = smbclient.open_file(
            self.temp, mode, buffering=buffering, port=fs._port, **fs._session, **kwargs
        )

    def __getattr__(self, item):
        if item == "smbfile":  # __init__ failed before opening it
            raise AttributeError(item)
        return getattr(self.smbfile, item)

    def __fspath__(self):
        return self.path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.smbfile.close()

    @_builtin_errors
    def commit(self):
        self.smbfile.close()
        smbclient.replace(self.temp, self.path, port=self._fs._port, **self._fs._session)

    @_builtin_errors
    def discard(self):
        with contextlib.suppress(Exception):
            self.smbfile.close()
        smbclient.remove(self.temp, port=self._fs._port, **self._fs._session)


def _below_share(path: str) -> bool:
    return path.rstrip("/").count("/") > 1


class WorkbenchSMBFileSystem(SMBFileSystem):
    """``SMBFileSystem`` whose every call uses this filesystem's own credentials and session."""

    def __init__(self, host, port=None, username=None, password=None, **kwargs):
        self._pool = _pool(host, 445 if port is None else port, username, password)
        super().__init__(host, port=port, username=username, password=password, **kwargs)

    @property
    def _session(self) -> dict:
        return {
            "username": self.username,
            "password": self.password,
            "encrypt": self.encrypt,
            "connection_timeout": self.timeout,
            "connection_cache": self._pool,
        }

    def _connect(self):
        try:
            smbclient.register_session(self.host, port=self._port, **self._session)
        except (SMBAuthenticationError, LogonFailure):
            # Do not keep the connection the rejected login was tried on.
            smbclient.reset_connection_cache(fail_on_error=False, connection_cache=self._pool)
            raise

    # fsspec passes the keywords of these on to smbclient
    @_builtin_errors
    def mkdir(self, path, create_parents=True, **kwargs):
        return super().mkdir(path, create_parents, **self._session, **kwargs)

    # fsspec's own keywords (``refresh=True``, ...) would reach smbclient: a TypeError
    @_builtin_errors
    def info(self, path, **kwargs):
        return super().info(path, **self._session)

    @_builtin_errors
    def ls(self, path, detail=True, **kwargs):
        return super().ls(path, detail=detail, **self._session)

    @_builtin_errors
    def _open(self, path, mode="rb", block_size=-1, autocommit=True, cache_options=None, **kw):
        if "w" in mode and not autocommit:
            if self.auto_mkdir:
                self.makedirs(self._parent(path), exist_ok=True)
            return _DeferredSMBFile(self, path, mode, block_size, kw)
        return super()._open(
            path, mode, block_size, autocommit, cache_options, **self._session, **kw
        )

    @_builtin_errors
    def copy(self, path1, path2, **kwargs):
        return super().copy(path1, path2, **self._session, **kwargs)

    @_builtin_errors
    def mv(self, path1, path2, recursive=None, maxdepth=None, **kwargs):
        return super().mv(path1, path2, recursive, maxdepth, **self._session, **kwargs)

    # fsspec calls smbclient with the port only in these
    @_builtin_errors
    def makedirs(self, path, exist_ok=False):
        if _below_share(path):
            smbclient.makedirs(
                _unc(self.host, path), exist_ok=exist_ok, port=self._port, **self._session
            )

    @_builtin_errors
    def rmdir(self, path):
        if _below_share(path):
            smbclient.rmdir(_unc(self.host, path), port=self._port, **self._session)

    @_builtin_errors
    def _rm(self, path):
        if _below_share(path):
            unc = _unc(self.host, path)
            stats = smbclient.stat(unc, port=self._port, **self._session)
            if S_ISDIR(stats.st_mode):
                smbclient.rmdir(unc, port=self._port, **self._session)
            else:
                smbclient.remove(unc, port=self._port, **self._session)

    def created(self, path):
        return self._stamp(path, "st_ctime")

    def modified(self, path):
        return self._stamp(path, "st_mtime")

    @_builtin_errors
    def _stamp(self, path, field):
        import datetime

        stats = smbclient.stat(_unc(self.host, path), port=self._port, **self._session)
        return datetime.datetime.fromtimestamp(getattr(stats, field), tz=datetime.timezone.utc)
