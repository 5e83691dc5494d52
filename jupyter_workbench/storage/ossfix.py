"""The workbench's fsspec filesystem for Alibaba Cloud OSS: ossfs's API over oss2, defects fixed.

``WorkbenchOSSFileSystem`` (protocol ``oss``) is its own ``fsspec.AbstractFileSystem`` over
oss2; it used to subclass ossfs's ``OSSFileSystem``. Why it no longer does (measured on ossfs
2025.5.0 with fsspec 2026.9): the subclass already overrode 22 of the 37 methods ossfs defines,
and of the 15 it inherited the one that mattered, ``_strip_protocol``, was the bug (``/b/k``
paths against ``b/k`` names broke glob, ``open_files`` and recursive get/cp); the rest were
internals of the methods it had replaced, plus ``set_endpoint``/``split_path`` (a few lines
here). Subclassing pinned the workbench to ossfs internals that already lag fsspec (ossfs's own
async class cannot be instantiated with fsspec 2026.9). Without it: ossfs's own test suite,
run against the emulator with this class (``tests/thirdparty/ossfs_suite.py``), passes 118/155
where stock ossfs passes 110/155 (and the subclass 105/159); fsspec's abstract suites pass
411/411 over the three path styles. ossfs remains a dependency only for code that imports it.

Modules: this one is the filesystem's paths, listings, directories and deletes; it mixes in
``_OSSCalls`` (``_oss_calls.py``: every oss2 call with bounded timeouts and retries, and the
error wording) and ``_OSSTransfers`` (``_oss_transfers.py``: reads, writes, copies);
``_oss_files.py`` holds the file class and multipart uploads; ``backends/oss.py`` builds the
filesystem for mounts.

Path styles: ``bucket/key``, ``/bucket/key``, ``oss://bucket/key`` (and ossfs's endpoint URLs
``https://oss-....aliyuncs.com/bucket/key``) name the same object. Listings (``ls``, ``find``,
``glob``, ``info``) name entries canonically, ``bucket/key``, whatever style was asked.

Deliberate differences from ossfs, each where fsspec's convention says otherwise (s3fs, the
reference fsspec implementation, behaves like this class):

- Names never mirror the caller's leading ``/`` (ossfs returns ``/b/k`` for ``ls('/b')`` and
  ``b/k`` for ``ls('b')``): one object, one name, as ``_strip_protocol`` gives it.
- ``ls`` of a missing path raises ``FileNotFoundError`` (ossfs returns ``[]``).
- ``LastModified`` and ``modified()`` are timezone-aware UTC ``datetime`` objects (ossfs: int).
- ``rm`` of a missing bucket raises ``FileNotFoundError`` (ossfs: ``PermissionError``).

Kept for code written for ossfs: the ``Key`` and ``Size`` fields beside ``name``/``size`` in
every info dict, ``set_endpoint``, ``sign``, the ``OSS_ENDPOINT`` / ``OSS_ACCESS_KEY_ID`` /
``OSS_ACCESS_KEY_SECRET`` / ``OSS_SESSION_TOKEN`` environment (an id without a secret is a clear
``StorageCredentialsError``, not a crash).

Fixed relative to ossfs:

- ``open('wb')``: ossfs appends with a wrong position once a file spans several blocks (409
  PositionNotEqualToLength, because AbstractBufferedFile's ``loc`` doubles as its append
  position). Writes here go through one PUT, or a multipart upload for multi-block files; the
  object appears only when the file is closed, a failed write aborts the upload, and an
  exception inside ``with fs.open(...)`` discards the write instead of committing half of it.
- ``mkdir('bucket')`` creates the bucket instead of doing nothing.
- Directories: ``ls`` names carry no trailing ``/``; ``mkdir`` of a prefix writes a zero-byte
  marker object ``prefix/`` (as the OSS console does) so empty directories stay visible;
  markers are hidden from listings and removed by ``rmdir``/``rm``.
- Listing cache: ``refresh=True`` is honoured and entries expire (``listings_expiry_time``,
  10 s by default), so objects written by others become visible.
- ``info()`` looks up one entry of the cached listing (ossfs deep-copies the whole listing on
  every call: 16.6 s for 2,000 entries) or does one HEAD.
- ``LastModified`` is a timezone-aware UTC ``datetime`` everywhere (ossfs mixes int epochs);
  entries also carry ``mtime`` (float epoch) and ``ETag``.
- Reads use exclusive ends (ossfs asks OSS for one byte too many), retry a dropped download and
  verify the CRC-64 of whole-object reads.
- Errors: rejected credentials raise ``StorageCredentialsError`` (ossfs hides AccessDenied as an
  empty listing and SignatureDoesNotMatch as a bare EIO), unreachable endpoints and repeated
  5xx raise ``StorageUnavailableError`` after bounded retries, with connect/read timeouts of
  5/12 s and a 25 s budget per call (ossfs waits 60 s per attempt, three attempts).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import threading

import oss2
from fsspec.spec import AbstractFileSystem
from fsspec.utils import stringify_path

from ._oss_calls import (  # noqa: F401 - the constants are part of this module's API
    CALL_BUDGET,
    COPY_OBJECT_LIMIT,
    DEFAULT_BLOCK_SIZE,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRIES,
    MAX_SINGLE_PUT,
    MIN_PART_SIZE,
    _OSSCalls,
    _utc,
)
from ._oss_files import MultipartUpload, WorkbenchOSSFile, _DiscardingTextWrapper  # noqa: F401
from ._oss_transfers import _OSSTransfers
from .errors import StorageCredentialsError

log = logging.getLogger(__name__)
# oss2 logs every request's headers (the STS token) and string to sign at DEBUG/INFO: never let
# them reach a log (ossfs silenced oss2 the same way when it was imported).
logging.getLogger("oss2").setLevel(logging.WARNING)

# ``https://oss-cn-hangzhou.aliyuncs.com/bucket/key``: ossfs accepts endpoint URLs as paths.
_ENDPOINT_URL = re.compile(r"https?://(?:[^/]+\.)?oss[^/]*\.aliyuncs\.com(?P<path>/.*)?$")


def _with_ossfs_fields(entry: dict) -> dict:
    """An info dict with ossfs's ``Key``/``Size`` aliases, so code written for ossfs keeps
    working (``info(p)["Size"]``)."""
    entry["Key"] = entry["name"]
    entry["Size"] = entry["size"]
    return entry


class WorkbenchOSSFileSystem(_OSSCalls, _OSSTransfers, AbstractFileSystem):
    """fsspec filesystem for Alibaba Cloud OSS (ossfs with the fixes listed in the module doc).

    Extra parameters: ``connect_timeout`` / ``read_timeout`` (seconds; 5 and 12 by default),
    ``call_budget`` (seconds one call may take with its retries, 25), ``retries`` (extra
    attempts for idempotent calls after connection errors or 5xx), ``listings_expiry_time``
    (seconds a cached directory listing stays valid).
    """

    protocol = "oss"
    # Credentials and endpoint may come from OSS_* environment variables, which fsspec's
    # instance cache does not see: a cached instance could keep another store's credentials.
    cachable = False

    def __init__(
        self,
        endpoint: str | None = None,
        key: str | None = None,
        secret: str | None = None,
        token: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        call_budget: float = CALL_BUDGET,
        credentials_provider=None,
        listings_expiry_time: float | None = 10.0,
        default_block_size: int | None = None,
        default_cache_type: str = "readahead",
        anon: bool = False,
        **kwargs,
    ):
        if anon:
            key = secret = token = None
        elif not key and credentials_provider is None and os.environ.get("OSS_ACCESS_KEY_ID"):
            # The standard OSS variables, so that plain oss:// URLs work in kernels and scripts.
            key = os.environ["OSS_ACCESS_KEY_ID"]
            secret = os.environ.get("OSS_ACCESS_KEY_SECRET")
            token = os.environ.get("OSS_SESSION_TOKEN") or os.environ.get("OSS_SECURITY_TOKEN")
            if not secret:
                raise StorageCredentialsError(
                    "OSS_ACCESS_KEY_ID is set but OSS_ACCESS_KEY_SECRET is not: set both "
                    "(and OSS_SESSION_TOKEN for STS credentials), or pass key= and secret=.",
                    "MissingSecret",
                )
        if key and not secret and credentials_provider is None:
            raise StorageCredentialsError(
                "An OSS access key id was given without its secret: pass secret= as well.",
                "MissingSecret",
            )
        super().__init__(
            listings_expiry_time=listings_expiry_time,
            **{k: kwargs.pop(k) for k in ("use_listings_cache", "max_paths") if k in kwargs},
        )
        self._credentials_provider = credentials_provider
        if credentials_provider is not None:  # a refreshing source (storage/sts.py)
            self._auth = oss2.ProviderAuth(credentials_provider)
            key = key or "provider"
        elif token:
            self._auth = oss2.StsAuth(key, secret, token)
        elif key:
            self._auth = oss2.Auth(key, secret)
        else:
            self._auth = oss2.AnonymousAuth()
        self._endpoint = endpoint or os.environ.get("OSS_ENDPOINT")
        self._session = oss2.Session()
        self._default_block_size = max(default_block_size or DEFAULT_BLOCK_SIZE, MIN_PART_SIZE)
        self._default_cache_type = default_cache_type
        self._timeouts = (float(connect_timeout), float(read_timeout))
        self._retries = max(0, int(retries))
        self._call_budget = float(call_budget)
        self._anonymous = not key
        self._credential_kind = (
            "refreshing"
            if credentials_provider is not None
            else "sts"
            if token
            else ("static" if key else "anonymous")
        )
        self._bucket_objects: dict[str, oss2.Bucket] = {}
        self._bucket_lock = threading.Lock()
        self.copy_limit = COPY_OBJECT_LIMIT

    def __repr__(self) -> str:  # never the key or secret
        return (
            f"{type(self).__name__}(endpoint={self._endpoint!r}, "
            f"credentials={self._credential_kind!r})"
        )

    # ------------------------------------------------------------------ paths

    @classmethod
    def _strip_protocol(cls, path):
        """``bucket/key`` for every accepted style: ``bucket/key``, ``/bucket/key``,
        ``oss://bucket/key`` and ossfs's endpoint URLs; no leading or trailing ``/``."""
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = stringify_path(path)
        if path.startswith("oss://"):
            path = path[len("oss://") :]
        else:
            m = _ENDPOINT_URL.match(path)
            if m:
                path = m["path"] or ""
        return path.strip("/")

    @staticmethod
    def _get_kwargs_from_urls(urlpath):
        return {}

    def split_path(self, path) -> tuple[str, str]:
        """``(bucket, key)`` of a path in any accepted style (key ``""`` for a bucket)."""
        bucket, _, key = self._strip_protocol(path).partition("/")
        return bucket, key

    def set_endpoint(self, endpoint: str) -> None:
        """Point this filesystem at another endpoint (as ossfs allows)."""
        if not endpoint:
            raise ValueError("Not a valid endpoint")
        self._endpoint = endpoint
        with self._bucket_lock:
            self._bucket_objects.clear()

    # ------------------------------------------------------------------ listing

    def _file_entry(self, bucket: str, obj) -> dict:
        return _with_ossfs_fields(
            {
                "name": f"{bucket}/{obj.key}",
                "type": "file",
                "size": obj.size,
                "LastModified": _utc(obj.last_modified),
                "mtime": float(obj.last_modified or 0),
                "ETag": obj.etag,
            }
        )

    @staticmethod
    def _dir_entry(name: str) -> dict:
        return _with_ossfs_fields({"name": name.rstrip("/"), "type": "directory", "size": 0})

    def list_objects_page(
        self, bucket: str, prefix: str, delimiter: str = "/", marker: str = "", max_keys=1000
    ):
        """One ListObjects call (the building block of ``ls``, ``find`` and ``list_page``)."""
        return self._call_oss(
            "list_objects",
            prefix=prefix,
            delimiter=delimiter,
            marker=marker,
            max_keys=max_keys,
            bucket=bucket,
        )

    def _list_dir(self, bucket: str, key: str) -> tuple[list[dict], bool]:
        """Entries directly under ``bucket/key`` and whether a ``key/`` marker exists."""
        prefix = f"{key}/" if key else ""
        entries, marker, has_marker = [], "", False
        while True:
            res = self.list_objects_page(bucket, prefix, "/", marker)
            for obj in res.object_list:
                if obj.key == prefix:
                    has_marker = True
                    continue
                entries.append(self._file_entry(bucket, obj))
            for p in res.prefix_list:
                entries.append(self._dir_entry(f"{bucket}/{p}"))
            if not res.is_truncated:
                break
            marker = res.next_marker
        entries.sort(key=lambda e: e["name"])
        return entries, has_marker

    def _list_buckets(self) -> list[dict]:
        if self._anonymous:
            return []
        out, marker = [], ""
        while True:
            res = self._call_oss("list_buckets", marker=marker, max_keys=1000)
            for b in res.buckets:
                entry = self._dir_entry(b.name)
                entry["CreateTime"] = _utc(b.creation_date)
                out.append(entry)
            if not res.is_truncated:
                return out
            marker = res.next_marker

    def _cached_listing(self, norm: str):
        try:
            return self.dircache[norm]
        except KeyError:
            return None

    def ls(self, path, detail=True, refresh=False, **kwargs):
        norm = self._strip_protocol(path).strip("/")
        entries = None if refresh else self._cached_listing(norm)
        if entries is None:
            if not norm:
                entries = self._list_buckets()
            else:
                bucket, key = self.split_path(norm)
                entries, has_marker = self._list_dir(bucket, key)
                if not entries and not has_marker and key:
                    # Not a directory: a file lists as itself, anything else does not exist.
                    info = self._head(bucket, key)
                    if info is None:
                        raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
                    return [info] if detail else [info["name"]]
            self.dircache[norm] = entries
        if detail:
            return [dict(e) for e in entries]
        return [e["name"] for e in entries]

    def _head(self, bucket: str, key: str) -> dict | None:
        try:
            meta = self._call_oss("head_object", key, bucket=bucket)
        except FileNotFoundError:
            return None
        return _with_ossfs_fields(
            {
                "name": f"{bucket}/{key}",
                "type": "file",
                "size": meta.content_length,
                "LastModified": _utc(meta.last_modified),
                "mtime": float(meta.last_modified or 0),
                "ETag": meta.etag,
                "ContentType": meta.content_type,
                "ObjectType": meta.object_type,
            }
        )

    def info(self, path, **kwargs):
        norm = self._strip_protocol(path).strip("/")
        if not norm:
            return self._dir_entry("")
        bucket, key = self.split_path(norm)
        if not key:
            self.list_objects_page(bucket, "", "/", "", 1)  # raises for a missing bucket
            return self._dir_entry(bucket)
        if not kwargs.get("refresh"):
            listing = self._cached_listing(self._parent(norm).strip("/"))
            if listing is not None:
                for entry in listing:
                    if entry["name"] == norm:
                        return dict(entry)
        info = self._head(bucket, key)
        if info is not None:
            return info
        res = self.list_objects_page(bucket, f"{key}/", "/", "", 1)
        if res.object_list or res.prefix_list:
            return self._dir_entry(norm)
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)

    # fsspec's versions turn every OSError into False, which would hide rejected credentials
    # and unreachable endpoints as "no such file".
    def exists(self, path, **kwargs):
        try:
            self.info(path, **kwargs)
        except FileNotFoundError:
            return False
        return True

    def isdir(self, path):
        try:
            return self.info(path)["type"] == "directory"
        except FileNotFoundError:
            return False

    def isfile(self, path):
        try:
            return self.info(path)["type"] == "file"
        except FileNotFoundError:
            return False

    def find(self, path, maxdepth=None, withdirs=False, detail=False, **kwargs):
        """All files below ``path`` from one flat listing (no directory-by-directory walk)."""
        if maxdepth is not None:
            return AbstractFileSystem.find(self, path, maxdepth, withdirs, detail, **kwargs)
        norm = self._strip_protocol(path).strip("/")
        if not norm:
            raise ValueError("Cannot search every bucket: give a bucket.")
        bucket, key = self.split_path(norm)
        prefix = f"{key}/" if key else ""
        prefix += kwargs.pop("prefix", "")
        out: dict[str, dict] = {}
        marker = ""
        while True:
            res = self.list_objects_page(bucket, prefix, "", marker)
            for obj in res.object_list:
                name = f"{bucket}/{obj.key}".rstrip("/")
                if withdirs:
                    if obj.key.endswith("/") and len(name) > len(norm):  # a directory marker
                        out.setdefault(name, self._dir_entry(name))
                    parent = self._parent(name)
                    while len(parent) > len(norm):
                        out.setdefault(parent, self._dir_entry(parent))
                        parent = self._parent(parent)
                if obj.key.endswith("/"):
                    continue  # a directory marker
                out[name] = self._file_entry(bucket, obj)
            if not res.is_truncated:
                break
            marker = res.next_marker
        if not out and key:
            info = self._head(bucket, key)
            if info is not None:
                out[norm] = info
        names = sorted(out)
        if detail:
            return {n: out[n] for n in names}
        return names

    def invalidate_cache(self, path=None):
        if path is None:
            self.dircache.clear()
            return
        norm = self._strip_protocol(path).strip("/")
        while True:
            self.dircache.pop(norm, None)
            if not norm:
                break
            norm = self._parent(norm).strip("/")

    # ------------------------------------------------------------------ directories

    def mkdir(self, path, create_parents=True, **kwargs):
        norm = self._strip_protocol(path).strip("/")
        bucket, key = self.split_path(norm)
        if not bucket:
            raise ValueError("Give a bucket name to create.")
        if not key:
            try:
                self.list_objects_page(bucket, "", "/", "", 1)
            except FileNotFoundError:
                self._call_oss("create_bucket", bucket=bucket)
                self.invalidate_cache("")
                return
            raise FileExistsError(errno.EEXIST, "Bucket exists", bucket)
        if self.exists(norm):
            raise FileExistsError(errno.EEXIST, "File exists", norm)
        parent = self._parent(norm).strip("/")
        if not create_parents and "/" in key and not self.isdir(parent):
            raise FileNotFoundError(errno.ENOENT, "Parent directory does not exist", parent)
        self._call_oss("put_object", f"{key}/", b"", bucket=bucket)
        self.invalidate_cache(norm)

    def makedirs(self, path, exist_ok=False):
        try:
            self.mkdir(path, create_parents=True)
        except FileExistsError:
            if not exist_ok or not self.isdir(path):
                raise

    def rmdir(self, path):
        norm = self._strip_protocol(path).strip("/")
        bucket, key = self.split_path(norm)
        if not key:
            raise PermissionError(errno.EPERM, "Buckets are not deleted through the filesystem")
        res = self.list_objects_page(bucket, f"{key}/", "/", "", 2)
        children = [o for o in res.object_list if o.key != f"{key}/"] + list(res.prefix_list)
        if children:
            raise OSError(errno.ENOTEMPTY, "Directory not empty", norm)
        if len(res.object_list) == 0:
            raise FileNotFoundError(errno.ENOENT, "No such directory", norm)
        self._call_oss("delete_object", f"{key}/", bucket=bucket)
        self.invalidate_cache(norm)

    # ------------------------------------------------------------------ deleting

    def _delete_keys(self, bucket: str, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):
            self._call_oss("batch_delete_objects", keys[i : i + 1000], bucket=bucket)

    def rm_file(self, path, **kwargs):
        norm = self._strip_protocol(path).strip("/")
        bucket, key = self.split_path(norm)
        self._call_oss("delete_object", key, bucket=bucket)
        self.invalidate_cache(norm)

    _rm = rm_file

    def rm(self, path, recursive=False, maxdepth=None, **kwargs):
        paths = path if isinstance(path, list) else [path]
        for p in paths:
            norm = self._strip_protocol(p).strip("/")
            bucket, key = self.split_path(norm)
            if not key and not recursive:
                self.info(norm)  # a missing bucket is FileNotFoundError, as in ossfs
                raise PermissionError(errno.EPERM, "Buckets are not deleted through ossfs", norm)
            if not recursive or maxdepth is not None:
                if maxdepth is not None:
                    files = self.expand_path(norm, recursive=True, maxdepth=maxdepth)
                    for f in sorted(files, reverse=True):
                        if self.isdir(f):
                            try:
                                self.rmdir(f)
                            except OSError:
                                pass
                        else:
                            self.rm_file(f)
                    continue
                info = self.info(norm)
                if info["type"] == "directory":
                    self.rmdir(norm)  # only an empty directory goes without recursive=True
                else:
                    self.rm_file(norm)
                continue
            keys, marker = [], ""
            prefix = f"{key}/" if key else ""
            while True:
                res = self.list_objects_page(bucket, prefix, "", marker)
                keys.extend(o.key for o in res.object_list)
                if not res.is_truncated:
                    break
                marker = res.next_marker
            if key and self._head(bucket, key) is not None:
                keys.append(key)
            if not keys:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", norm)
            self._delete_keys(bucket, keys)
            self.invalidate_cache(norm)
            for cached in [k for k in self.dircache if k.startswith(f"{norm}/")]:
                self.dircache.pop(cached, None)

    def open(self, path, mode="rb", block_size=None, cache_options=None, compression=None, **kw):
        if "b" in mode or "r" in mode:
            return super().open(path, mode, block_size, cache_options, compression, **kw)
        # Text writes: like fsspec's, but an exception inside ``with`` discards the write too.
        text_kwargs = {k: kw.pop(k) for k in ("encoding", "errors", "newline") if k in kw}
        binary = super().open(
            path, mode.replace("t", "") + "b", block_size, cache_options, compression, **kw
        )
        return _DiscardingTextWrapper(binary, **text_kwargs)

    def _open(
        self,
        path,
        mode="rb",
        block_size=None,
        autocommit=True,
        cache_options=None,
        **kwargs,
    ):
        cache_type = kwargs.pop("cache_type", self._default_cache_type)
        block = max(int(block_size or self._default_block_size), MIN_PART_SIZE)
        return WorkbenchOSSFile(
            self,
            path,
            mode,
            block,
            autocommit,
            cache_options=cache_options,
            cache_type=cache_type,
            **kwargs,
        )

    def sign(self, path, expiration=100, **kwargs):
        bucket, key = self.split_path(path)
        return self._get_bucket(bucket).sign_url("GET", key, int(expiration))
