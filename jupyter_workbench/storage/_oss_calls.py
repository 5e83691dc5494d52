"""What every OSS call of ``WorkbenchOSSFileSystem`` (ossfix.py) shares: bounded timeouts and
retries, which calls may be repeated, which errors are the network's, and how oss2's errors
read to a user."""

from __future__ import annotations

from datetime import datetime, timezone

import oss2

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
