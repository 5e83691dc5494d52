"""Request errors with TF Serving's status codes, and their HTTP and gRPC equivalents."""

from __future__ import annotations

# TF Serving's http_server.cc ToHTTPStatusCode
_HTTP = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "NOT_FOUND": 404,
    "UNAVAILABLE": 503,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNKNOWN": 500,
}


class RequestError(Exception):
    code = "UNKNOWN"

    @property
    def http_status(self) -> int:
        return _HTTP.get(self.code, 500)


class InvalidArgument(RequestError):
    code = "INVALID_ARGUMENT"


class FailedPrecondition(RequestError):
    code = "FAILED_PRECONDITION"


class NotFound(RequestError):
    code = "NOT_FOUND"


class Unavailable(RequestError):
    code = "UNAVAILABLE"


class Unimplemented(RequestError):
    code = "UNIMPLEMENTED"


class Internal(RequestError):
    code = "INTERNAL"
