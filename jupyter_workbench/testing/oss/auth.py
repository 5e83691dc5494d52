"""Request authentication: OSS signature V1 (header and presigned URL), STS tokens, public ACLs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from .records import OSSServiceError
from .wire import _from_wire

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
    """The handler's authentication (mixed into :class:`~.handler.Handler`)."""

    def _authenticate(self, bucket) -> None:
        auth = self.headers.get("Authorization")
        q = self.query
        if auth is None and "OSSAccessKeyId" in q and "Signature" in q:
            return self._check_presigned()
        if auth is None:
            read = self.command in ("GET", "HEAD")
            if bucket is not None and (
                (bucket.public_read and read)
                or (bucket.public_write and self.command in ("PUT", "POST", "DELETE"))
            ):
                return None
            raise OSSServiceError(
                403,
                "AccessDenied",
                "You have no right to access this object because of bucket acl."
                if bucket is not None
                else "AccessDenied: anonymous access is not allowed here.",
            )
        if not auth.startswith("OSS "):
            raise OSSServiceError(
                400,
                "InvalidArgument",
                "Authorization header is invalid: the emulator checks OSS signature V1 "
                "('OSS <AccessKeyId>:<Signature>') only.",
            )
        ak, sep, signature = auth[4:].strip().rpartition(":")
        if not sep:
            raise OSSServiceError(400, "InvalidArgument", "Authorization header is invalid.")
        date = self.headers.get("x-oss-date") or self.headers.get("Date", "")
        self._verify(ak, signature, date, self.headers.get("x-oss-security-token"))

    def _check_presigned(self) -> None:
        q = self.query
        expires = q.get("Expires", "")
        if not expires.isdigit():
            raise OSSServiceError(403, "AccessDenied", "Invalid Expires in the signed URL.")
        if int(expires) < time.time():
            raise OSSServiceError(403, "AccessDenied", "Request has expired.")
        self._verify(q["OSSAccessKeyId"], q["Signature"], expires, q.get("security-token"))

    def _verify(self, ak: str, signature: str, date: str, token: str | None) -> None:
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
        string_to_sign = self._string_to_sign(date)
        digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha1).digest()
        expected = base64.b64encode(digest).decode()
        if not hmac.compare_digest(expected, signature):
            raise OSSServiceError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                "provided. Check your key and signing method.",
                StringToSign=string_to_sign.decode("utf-8", "replace"),
                OSSAccessKeyId=ak,
            )

    def _string_to_sign(self, date: str) -> bytes:
        canon = sorted(
            (k.lower(), _from_wire(v))
            for k, v in self.headers.items()
            if k.lower().startswith("x-oss-")
        )
        headers = "".join(f"{k}:{v}\n" for k, v in canon)
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
