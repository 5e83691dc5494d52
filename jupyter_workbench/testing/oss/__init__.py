"""An HTTP server speaking the Alibaba Cloud OSS REST API, for tests and demos.

It answers the calls that ``oss2``, ``alibabacloud-oss-v2`` and ``ossfs`` make, path-style
(``http://127.0.0.1:PORT/bucket/key``; the SDKs use path style for IP and ``localhost`` endpoints):
bucket listing, ``?bucketInfo``, ``?location``, ``?acl``, ``?stat``, object listing v1 and v2
(prefix, delimiter, marker / continuation-token, max-keys, ``encoding-type=url``), PUT / GET
(``Range``, ``x-oss-range-behavior``, conditional headers) / HEAD / DELETE, ``?objectMeta``, copy
through ``x-oss-copy-source`` (with ``x-oss-copy-source-if-*``), ``POST ?append&position``,
multipart uploads (``?uploads``, ``?uploadId&partNumber`` with Content-MD5 checked, UploadPartCopy
with ``x-oss-copy-source-range``, complete, ListParts, abort, list uploads), ``POST ?delete``,
bucket creation, object tagging (``?tagging`` PUT/GET/DELETE, and ``x-oss-tagging`` on Put, Copy,
Append, multipart and symlinks), symlinks (``?symlink`` PUT/GET; GET and HEAD of a symlink follow
it), object ACLs (``?acl`` and ``x-oss-object-acl``, kept but not enforced), storage classes
(``x-oss-storage-class``, a bucket's default from CreateBucket; Archive and colder objects are
readable only after ``POST ?restore``, which takes ``restore_seconds``) and an always empty
live-channel listing (``GET ?live``). ``x-oss-meta-*`` values are UTF-8 (signed and returned byte
for byte). ``x-oss-forbid-overwrite: true`` on PutObject, CopyObject, PutSymlink and
CompleteMultipartUpload answers 409 FileAlreadyExists when the key exists (OSS's conditional
create). Any other request (an unknown subresource such as ``?lifecycle``, or a method a resource
does not take) answers 501 NotImplemented: the emulator never runs it as a different operation.
Errors are OSS XML bodies (``Code``, ``Message``, ``RequestId``, ``HostId``) with OSS's statuses;
HEAD errors carry the body base64-encoded in ``x-oss-err`` as OSS does.

Requests are authenticated with OSS signatures V1 (``Authorization: OSS <ak>:<signature>``, or
the ``OSSAccessKeyId``/``Expires``/``Signature`` query of a presigned URL), V2 (``OSS2 ...``) and
V4 (``OSS4-HMAC-SHA256 ...``, the current SDKs' default, or its ``x-oss-signature-version``
query): a wrong secret gets 403 SignatureDoesNotMatch, an unknown key 403 InvalidAccessKeyId, a
date over 15 minutes off 403 RequestTimeTooSkewed (:mod:`.auth` says what V4 checks). STS
credentials are triples (key, secret, token): the request must carry the token in
``x-oss-security-token``; they may expire (``issue_sts(lifetime)``, ``expire(ak)``: then 403
SecurityTokenExpired). Buckets marked public accept anonymous reads. Objects carry
``x-oss-hash-crc64ecma`` (CRC-64/ECMA-182 as OSS computes it, which oss2 verifies) and an
upper-case MD5 ETag (``<md5 of part md5s>-<n>`` for multipart objects).

Modules: :mod:`.emulator` (``OSSEmulator``, CLI), :mod:`.handler` (HTTP plumbing and the route
table), :mod:`.auth` (signatures), :mod:`.buckets`, :mod:`.objects` and :mod:`.multipart` (the
operations), :mod:`.store` and :mod:`.records` (the data, in memory or on disk), :mod:`.faults`,
:mod:`.wire` (XML and header helpers). ``tests/thirdparty/oss2_suite.py`` runs oss2's own tests
against it.

``OSSEmulator.faults`` injects delays, forced errors and dropped connections, optionally only for
a method and a path pattern, for reliability tests.

Demo credentials (printed by ``jupyter workbench oss-emulator``; they protect nothing)::

    access key id:     WORKBENCHDEMOKEY
    access key secret: workbench-demo-secret
    bucket:            demo (with README.txt and data/iris.csv)

Usage::

    with OSSEmulator() as oss:
        fs = ossfs.OSSFileSystem(endpoint=oss.endpoint, key=DEMO_ACCESS_KEY_ID,
                                 secret=DEMO_ACCESS_KEY_SECRET)
        fs.pipe("demo/hello.txt", b"hi")
        oss.faults.fail(count=2, method="PUT")   # the next two PUTs answer 500
"""

from .emulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    DEMO_BUCKET,
    OSSEmulator,
    add_arguments,
    main,
    run_emulator,
    run_from_args,
)
from .faults import Faults
from .records import OSSServiceError

__all__ = [
    "DEMO_ACCESS_KEY_ID",
    "DEMO_ACCESS_KEY_SECRET",
    "DEMO_BUCKET",
    "Faults",
    "OSSEmulator",
    "OSSServiceError",
    "add_arguments",
    "main",
    "run_emulator",
    "run_from_args",
]
