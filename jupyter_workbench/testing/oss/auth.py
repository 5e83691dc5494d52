"""Request authentication: OSS signatures V1, V2 and V4 (headers and presigned URLs), STS tokens,
public ACLs.

V4 (``OSS4-HMAC-SHA256``, the default of oss2 >= 2.18's ``AuthV4`` and of alibabacloud-oss-v2) is
checked as OSS documents it: the canonical request (method, URI-encoded ``/bucket/key``, every
query parameter, the ``x-oss-*``/``Content-Type``/``Content-MD5`` headers and the
``AdditionalHeaders``, the payload hash as the client declares it) signed with the key derived
from the secret, date, region and product of the credential scope. Any region in the scope is
accepted (the emulator serves every region), and a declared ``x-oss-content-sha256`` is signed
but not compared with the body. Header-signed requests must be dated within 15 minutes
(``RequestTimeTooSkewed``), presigned URLs until they expire.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import time

from .records import OSSServiceError
from .wire import _from_wire, _parse_http_date

MAX_SKEW = 15 * 60  # seconds between a signed request's date and the emulator's clock
V4_ALGORITHM = "OSS4-HMAC-SHA256"
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-~.")

# Query parameters that OSS includes in the V1 canonicalized resource (oss2.auth's list).
SUBRESOURCES = frozenset(
    [
        "response-content-type",
        "response-content-language",
        "response-cache-control",
        "logging",
        "response-content-encoding",
        "acl",
        "uploadId",
        "uploads",
        "partNumber",
        "group",
        "link",
        "delete",
        "website",
        "location",
        "objectInfo",
        "objectMeta",
        "response-expires",
        "response-content-disposition",
        "cors",
        "lifecycle",
        "restore",
        "qos",
        "referer",
        "stat",
        "bucketInfo",
        "append",
        "position",
        "security-token",
        "live",
        "comp",
        "status",
        "vod",
        "startTime",
        "endTime",
        "x-oss-process",
        "symlink",
        "callback",
        "callback-var",
        "tagging",
        "encryption",
        "versions",
        "versioning",
        "versionId",
        "policy",
        "requestPayment",
        "x-oss-traffic-limit",
        "qosInfo",
        "asyncFetch",
        "x-oss-request-payer",
        "sequential",
        "inventory",
        "inventoryId",
        "continuation-token",
        "worm",
        "wormId",
        "wormExtend",
        "replication",
        "replicationLocation",
        "replicationProgress",
        "transferAcceleration",
        "cname",
        "metaQuery",
        "x-oss-ac-source-ip",
        "x-oss-ac-subnet-mask",
        "x-oss-ac-vpc-id",
        "x-oss-ac-forward-allow",
        "resourceGroup",
        "style",
        "styleName",
        "x-oss-async-process",
        "regionList",
        "x-oss-write-get-object-response",
    ]
)


class SignatureChecks:
    """The handler's authentication (mixed into :class:`~.handler.Handler`).

    After :meth:`_authenticate`, ``anonymous`` says whether the request was let in unsigned (a
    public bucket), so that operations reading a second resource (a copy's source) check it too.
    """

    anonymous = False

    def _authenticate(self, bucket) -> None:
        self.anonymous = False
        auth = self.headers.get("Authorization")
        q = self.query
        version = q.get("x-oss-signature-version")
        if auth is None and version == V4_ALGORITHM:
            return self._check_presigned_v4()
        if auth is None and version == "OSS2":
            return self._check_presigned_v2()
        if auth is None and "OSSAccessKeyId" in q and "Signature" in q:
            return self._check_presigned()
        if auth is None:
            read = self.command in ("GET", "HEAD")
            if bucket is not None and (
                (bucket.public_read and read)
                or (bucket.public_write and self.command in ("PUT", "POST", "DELETE"))
            ):
                self.anonymous = True
                return None
            raise OSSServiceError(
                403,
                "AccessDenied",
                "You have no right to access this object because of bucket acl."
                if bucket is not None
                else "AccessDenied: anonymous access is not allowed here.",
            )
        if auth.startswith(V4_ALGORITHM + " "):
            return self._check_v4(auth[len(V4_ALGORITHM) + 1 :])
        if auth.startswith("OSS2 "):
            return self._check_v2(auth[5:])
        if not auth.startswith("OSS "):
            raise OSSServiceError(
                400,
                "InvalidArgument",
                "Authorization header is invalid: the emulator checks OSS signatures V1 "
                "('OSS <AccessKeyId>:<Signature>'), V2 ('OSS2 ...') and V4 "
                "('OSS4-HMAC-SHA256 ...').",
            )
        ak, sep, signature = auth[4:].strip().rpartition(":")
        if not sep:
            raise OSSServiceError(400, "InvalidArgument", "Authorization header is invalid.")
        date = self.headers.get("x-oss-date") or self.headers.get("Date", "")
        self._check_skew(_parse_http_date(date))
        secret = self._secret(ak, self.headers.get("x-oss-security-token"))
        self._compare_v1(ak, secret, signature, self._string_to_sign(date))

    # ---------------------------------------------------------------- common

    def _secret(self, ak: str, token: str | None) -> str:
        """The secret of ``ak`` once the key, its expiry and its STS token check out."""
        cred = self.emulator.credentials.get(ak)
        if cred is None:
            raise OSSServiceError(
                403,
                "InvalidAccessKeyId",
                "The OSS Access Key Id you provided does not exist in our records.",
                OSSAccessKeyId=ak,
            )
        secret, expected_token = cred
        expires = self.emulator.expirations.get(ak)
        if expires is not None and time.time() >= expires:
            raise OSSServiceError(
                403,
                "SecurityTokenExpired",
                "The security token you provided has expired.",
                OSSAccessKeyId=ak,
            )
        if (expected_token or token) and token != expected_token:
            raise OSSServiceError(
                403, "InvalidSecurityToken", "The security token you provided is invalid."
            )
        return secret

    @staticmethod
    def _check_skew(when: float | None) -> None:
        if when is None:
            raise OSSServiceError(403, "AccessDenied", "The request carries no valid date.")
        if abs(when - time.time()) > MAX_SKEW:
            raise OSSServiceError(
                403,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
            )

    @staticmethod
    def _mismatch(ak: str, string_to_sign: bytes) -> OSSServiceError:
        return OSSServiceError(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you "
            "provided. Check your key and signing method.",
            StringToSign=string_to_sign.decode("utf-8", "replace"),
            OSSAccessKeyId=ak,
        )

    def _signed_headers(self, extra) -> list[tuple[str, str]]:
        """(lower-case name, value) of the ``x-oss-*`` headers and ``extra`` ones, sorted."""
        return sorted(
            (k.lower(), _from_wire(v).strip())
            for k, v in self.headers.items()
            if k.lower().startswith("x-oss-") or k.lower() in extra
        )

    def _canonical_query(self, encode, skip: str) -> str:
        """Every query parameter but ``skip``, encoded and sorted (``k=v``, or ``k`` if empty)."""
        pairs = sorted((encode(k), encode(v)) for k, v in self.query.items() if k != skip)
        return "&".join(f"{k}={v}" if v else k for k, v in pairs)

    # ---------------------------------------------------------------- V1

    def _check_presigned(self) -> None:
        q = self.query
        expires = q.get("Expires", "")
        if not expires.isdigit():
            raise OSSServiceError(403, "AccessDenied", "Invalid Expires in the signed URL.")
        if int(expires) < time.time():
            raise OSSServiceError(403, "AccessDenied", "Request has expired.")
        ak = q["OSSAccessKeyId"]
        secret = self._secret(ak, q.get("security-token"))
        self._compare_v1(ak, secret, q["Signature"], self._string_to_sign(expires))

    def _compare_v1(self, ak: str, secret: str, signature: str, string_to_sign: bytes) -> None:
        digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha1).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), signature):
            raise self._mismatch(ak, string_to_sign)

    def _string_to_sign(self, date: str) -> bytes:
        headers = "".join(f"{k}:{v}\n" for k, v in self._signed_headers(()))
        if self.bucket_name:
            resource = f"/{self.bucket_name}/{self.key}"
        else:
            resource = "/"
        sub = sorted((k, v) for k, v in self.query.items() if k in SUBRESOURCES)
        if sub:
            resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in sub)
        return "\n".join(
            [
                self.command,
                self.headers.get("Content-MD5", ""),
                self.headers.get("Content-Type", ""),
                date,
                headers + resource,
            ]
        ).encode("utf-8")

    # ---------------------------------------------------------------- V2 (OSS2)

    def _check_v2(self, fields: str) -> None:
        parts = dict(p.strip().partition(":")[::2] for p in fields.split(","))
        ak, signature = parts.get("AccessKeyId", ""), parts.get("Signature", "")
        if not ak or not signature:
            raise OSSServiceError(400, "InvalidArgument", "Authorization header is invalid.")
        date = self.headers.get("Date", "")
        self._check_skew(_parse_http_date(self.headers.get("x-oss-date") or date))
        secret = self._secret(ak, self.headers.get("x-oss-security-token"))
        extra = _header_list(parts.get("AdditionalHeaders", ""))
        self._compare_v2(ak, secret, signature, date, extra, "")

    def _check_presigned_v2(self) -> None:
        q = self.query
        expires = q.get("x-oss-expires", "")
        if not expires.isdigit() or int(expires) < time.time():
            raise OSSServiceError(403, "AccessDenied", "Request has expired.")
        ak = q.get("x-oss-access-key-id", "")
        secret = self._secret(ak, q.get("security-token"))
        extra = _header_list(q.get("x-oss-additional-headers", ""))
        self._compare_v2(
            ak, secret, q.get("x-oss-signature", ""), expires, extra, "x-oss-signature"
        )

    def _compare_v2(self, ak, secret, signature, date, extra, skip) -> None:
        headers = "".join(f"{k}:{v}\n" for k, v in self._signed_headers(extra))
        path = f"/{self.bucket_name}/{self.key}" if self.bucket_name else "/"
        query = self._canonical_query(_v2_encode, skip)
        string_to_sign = "\n".join(
            [
                self.command,
                self.headers.get("Content-MD5", ""),
                self.headers.get("Content-Type", ""),
                date,
                headers + ";".join(sorted(extra)),
                _v2_encode(path) + (f"?{query}" if query else ""),
            ]
        ).encode("utf-8")
        digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), signature):
            raise self._mismatch(ak, string_to_sign)

    # ---------------------------------------------------------------- V4

    def _check_v4(self, fields: str) -> None:
        parts = dict(p.strip().partition("=")[::2] for p in fields.split(","))
        credential, signature = parts.get("Credential", ""), parts.get("Signature", "")
        if not credential or not signature:
            raise OSSServiceError(400, "InvalidArgument", "Authorization header is invalid.")
        date = self.headers.get("x-oss-date", "")
        self._check_skew(_parse_v4_date(date))
        extra = _header_list(parts.get("AdditionalHeaders", ""))
        payload = self.headers.get("x-oss-content-sha256", "UNSIGNED-PAYLOAD")
        token = self.headers.get("x-oss-security-token")
        self._compare_v4(credential, signature, date, extra, payload, token, "")

    def _check_presigned_v4(self) -> None:
        q = self.query
        date, expires = q.get("x-oss-date", ""), q.get("x-oss-expires", "")
        when = _parse_v4_date(date)
        if when is None or not expires.isdigit():
            raise OSSServiceError(403, "AccessDenied", "Invalid x-oss-date or x-oss-expires.")
        if when + int(expires) < time.time():
            raise OSSServiceError(403, "AccessDenied", "Request has expired.")
        extra = _header_list(q.get("x-oss-additional-headers", ""))
        credential, token = q.get("x-oss-credential", ""), q.get("x-oss-security-token")
        signature = q.get("x-oss-signature", "")
        self._compare_v4(
            credential, signature, date, extra, "UNSIGNED-PAYLOAD", token, "x-oss-signature"
        )

    def _compare_v4(self, credential, signature, date, extra, payload, token, skip) -> None:
        ak, _, scope = credential.partition("/")
        day, region, product, terminator = ([*scope.split("/"), "", "", ""])[:4]
        if (
            not ak
            or day != date[:8]
            or not region
            or not product
            or terminator != ("aliyun_v4_request")
        ):
            raise OSSServiceError(
                400, "InvalidArgument", "Invalid credential in Authorization header."
            )
        secret = self._secret(ak, token)
        path = f"/{self.bucket_name}/{self.key}" if self.bucket_name else "/"
        headers = "".join(
            f"{k}:{v}\n" for k, v in self._signed_headers({"content-type", "content-md5", *extra})
        )
        canonical = "\n".join(
            [
                self.command,
                _v2_encode(path, keep="/"),
                self._canonical_query(_v2_encode, skip),
                headers,
                ";".join(sorted(extra)),
                payload,
            ]
        ).encode("utf-8")
        string_to_sign = "\n".join(
            [V4_ALGORITHM, date, scope, hashlib.sha256(canonical).hexdigest()]
        ).encode("utf-8")
        key = ("aliyun_v4" + secret).encode()
        for part in (day, region, product, "aliyun_v4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, string_to_sign, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise self._mismatch(ak, string_to_sign)


def _v2_encode(text: str, keep: str = "") -> str:
    """OSS's URI encoding for signatures V2 and V4: every byte but ``A-Za-z0-9_-~.`` (and
    ``keep``) as ``%XX``."""
    safe = _UNRESERVED | frozenset(keep.encode())
    return "".join(chr(b) if b in safe else f"%{b:02X}" for b in text.encode("utf-8"))


def _header_list(value: str) -> set[str]:
    return {h.strip().lower() for h in value.split(";") if h.strip()}


def _parse_v4_date(value: str) -> float | None:
    """The epoch of an ISO 8601 basic ``20250102T030405Z`` (V4's ``x-oss-date``), else None."""
    try:
        return calendar.timegm(time.strptime(value, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return None
