"""What every OSS call of ``WorkbenchOSSFileSystem`` (ossfix.py) shares: bounded timeouts and
retries, which calls may be repeated, which errors are the network's, and how oss2's errors
read to a user."""

from __future__ import annotations

import errno
import logging
import time
from datetime import datetime, timezone

import oss2

from .compute import computing
from .errors import StorageCredentialsError, StorageUnavailableError

log = logging.getLogger("jupyter_workbench.storage.ossfix")

MIN_PART_SIZE = 100 * 1024  # OSS rejects smaller non-final parts
# Bounded by default, so a hung store (accepting connections, never answering) fails a listing
# or a save in under 30 s with a clear message instead of oss2's 60 s per attempt: a retry goes
# out only while the call's whole time, another read timeout included, stays within the budget.
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 12.0
DEFAULT_RETRIES = 2
CALL_BUDGET = 25.0
DEFAULT_BLOCK_SIZE = 8 * 2**20
MAX_SINGLE_PUT = 5 * 2**30
COPY_OBJECT_LIMIT = 2**30  # CopyObject handles up to 1 GB; larger copies go part by part

_CREDENTIAL_CODES = {
    "SignatureDoesNotMatch": "the AccessKey secret does not match the AccessKey ID",
    "InvalidAccessKeyId": "the AccessKey ID is not known to this endpoint",
    "InvalidSecurityToken": "the STS security token is invalid",
    "SecurityTokenExpired": "the STS security token has expired",
    "AccessDenied": "access was denied",
    "RequestTimeTooSkewed": "this machine's clock differs from the server's by over 15 minutes",
}

# Calls that can be repeated safely after a connection error or a 5xx.
_RETRY_SAFE = {
    "get_object",
    "head_object",
    "get_object_meta",
    "list_objects",
    "list_objects_v2",
    "list_buckets",
    "get_bucket_info",
    "delete_object",
    "batch_delete_objects",
    "copy_object",
    "list_parts",
    "abort_multipart_upload",
}
_NETWORK_ERRORS: tuple = (ConnectionError, TimeoutError)
try:  # errors raised while reading a streamed body that was cut
    import requests
    import urllib3

    _NETWORK_ERRORS += (requests.exceptions.RequestException, urllib3.exceptions.HTTPError)
except ImportError:  # pragma: no cover
    pass
_READ_ERRORS: tuple = (*_NETWORK_ERRORS, OSError)


def _utc(epoch) -> datetime | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc)


def _reason(err: oss2.exceptions.RequestError) -> str:
    text = str(getattr(err, "exception", "") or err)
    low = text.lower()
    if "timed out" in low or "timeout" in low:
        return "the connection timed out"
    if "refused" in low:
        return "the connection was refused"
    if "name or service not known" in low or "nodename nor servname" in low:
        return "the host name does not resolve"
    if "remote end closed" in low or "connection aborted" in low or "reset" in low:
        return "the connection was closed by the server"
    return text.split("\n")[0][:200]


class _Bucket(oss2.Bucket):
    """``oss2.Bucket`` that parses answers (ListObjects' XML: ~2 ms per 100 keys) holding the
    process's gate for computing (``compute``), and reads them before, outside it."""

    @staticmethod
    def _parse_result(resp, parse_func, klass):
        result = klass(resp)
        body = resp.read()  # the network: never while holding the gate
        with computing():
            parse_func(result, body)
        return result


class _OSSCalls:
    """Mixed into ``WorkbenchOSSFileSystem``: every oss2 call goes through ``_call_oss``."""

    # ------------------------------------------------------------------ calls and errors

    def _get_bucket(self, bucket_name: str, connect_timeout=None) -> oss2.Bucket:
        if not self._endpoint:
            raise ValueError(
                "No OSS endpoint: pass endpoint= or set the OSS_ENDPOINT environment variable."
            )
        with self._bucket_lock:
            bucket = self._bucket_objects.get(bucket_name)
            if bucket is None:
                try:
                    bucket = _Bucket(
                        self._auth,
                        self._endpoint,
                        bucket_name,
                        session=self._session,
                        connect_timeout=self._timeouts,
                        app_name="jupyter-workbench",
                        enable_crc=True,
                    )
                except oss2.exceptions.ClientError as err:
                    raise FileNotFoundError(
                        errno.ENOENT, f"Invalid OSS bucket or endpoint: {err}", bucket_name
                    ) from None
                self._bucket_objects[bucket_name] = bucket
            return bucket

    def _call_oss(self, method_name: str, *args, bucket: str | None = None, **kwargs):
        """Call an oss2 Bucket/Service method with bounded retries and clear errors."""
        kwargs.pop("timeout", None)
        kwargs.pop("retry", None)
        if bucket:
            service = self._get_bucket(bucket)
        else:
            service = oss2.Service(
                self._auth, self._endpoint, session=self._session, connect_timeout=self._timeouts
            )
        method = getattr(service, method_name, None)
        if method is None:  # ossfs code paths call oss2 helpers such as ObjectIterator
            helper = getattr(oss2, method_name)

            def method(*a, **kw):
                return helper(service, *a, **kw)

        safe = method_name in _RETRY_SAFE or (
            method_name in ("put_object", "upload_part")
            and isinstance(args[-1] if args else None, (bytes, bytearray, memoryview))
        )
        attempts = 1 + (self._retries if safe else 0)
        started = time.monotonic()
        refreshed = False
        for attempt in range(attempts):
            try:
                return method(*args, **kwargs)
            except oss2.exceptions.RequestError as err:
                error: Exception = err
            except oss2.exceptions.ServerError as err:
                if err.status < 500:
                    if not refreshed and self._token_rejected(err):
                        # The issuer rotated the token before its Expiration: fetch the new
                        # one and repeat the call once.
                        refreshed = True
                        self._credentials_provider.refresh(force=True)
                        try:
                            return method(*args, **kwargs)
                        except oss2.exceptions.OssError as again:
                            err = again
                    raise self._translate(err, bucket, args) from err
                error = err
            except oss2.exceptions.InconsistentError as err:  # CRC-64 mismatch in transit
                error = err
            pause = min(0.2 * 2**attempt, 2.0)
            spent = time.monotonic() - started
            if spent + pause + sum(self._timeouts) > self._call_budget:
                break  # another attempt could outlast the budget: report now
            if attempt + 1 < attempts:
                log.debug("OSS %s failed (%s); retrying", method_name, error)
                time.sleep(pause)
        raise self._translate(error, bucket, args) from error

    def _token_rejected(self, err) -> bool:
        return self._credentials_provider is not None and err.code in (
            "SecurityTokenExpired",
            "InvalidSecurityToken",
            "InvalidAccessKeyId",
        )

    def _translate(self, err: Exception, bucket: str | None, args) -> Exception:
        where = f"bucket {bucket!r} at {self._endpoint}" if bucket else f"{self._endpoint}"
        key = args[0] if args and isinstance(args[0], str) else ""
        path = f"{bucket}/{key}" if bucket and key else (bucket or "")
        if isinstance(err, oss2.exceptions.RequestError):
            return StorageUnavailableError(
                f"Could not reach the OSS endpoint {self._endpoint}: {_reason(err)}. "
                "Check the endpoint option and the network."
            )
        if isinstance(err, oss2.exceptions.InconsistentError):
            return StorageUnavailableError(
                f"Data for {path or 'the request'} was corrupted in transit (CRC-64 mismatch)."
            )
        if not isinstance(err, oss2.exceptions.OssError):
            return err
        code = err.code or ""
        if err.status == 403 or code in _CREDENTIAL_CODES:
            why = _CREDENTIAL_CODES.get(code) or "access was denied"
            if code == "AccessDenied" and self._anonymous:
                why = "the bucket is private and no credentials were given"
            elif code == "AccessDenied":
                why = "these credentials lack permission for it"
            return StorageCredentialsError(
                f"OSS rejected the request for {where}: {why} ({code or err.status}). "
                "Check the mount's key, secret and token.",
                code,
            )
        if code == "NoSuchBucket":
            return FileNotFoundError(
                errno.ENOENT, f"OSS bucket {bucket!r} does not exist at {self._endpoint}", bucket
            )
        if err.status == 404:
            return FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        if code in ("FileAlreadyExists", "ObjectAlreadyExists"):
            return FileExistsError(errno.EEXIST, "File exists", path)
        if err.status >= 500:
            return StorageUnavailableError(
                f"OSS at {self._endpoint} kept failing for {path or 'the request'}: "
                f"{err.status} {code} (request id {err.request_id})."
            )
        return OSError(errno.EIO, f"OSS error {err.status} {code}: {err.message}", path)
