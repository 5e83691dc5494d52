"""Service and bucket operations: listing buckets and objects, creation, info, ACL, batch delete."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import xml.etree.ElementTree as ET
from urllib.parse import quote

from .records import ObjectRecord, OSSServiceError
from .wire import OWNER_ID, OWNER_NAME, _iso, _sub

_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_PRIVATE = re.compile("[\ue000-\ue01f]")


_STAT_CLASSES = (
    ("Standard", "Standard"),
    ("IA", "InfrequentAccess"),
    ("Archive", "Archive"),
    ("ColdArchive", "ColdArchive"),
    ("DeepColdArchive", "DeepColdArchive"),
)


class BucketOps:
    """Handlers of the service and bucket routes (mixed into :class:`~.handler.Handler`)."""

    def _list_objects_any(self, bucket) -> None:
        if self.query.get("list-type") == "2":
            return self._list_objects_v2()
        return self._list_objects()

    def _put_bucket_acl(self, bucket) -> None:
        self._read_all()
        self.store.set_bucket_acl(bucket.name, self.headers.get("x-oss-acl", "private"))
        self._send(200)

    def _delete_bucket(self, bucket) -> None:
        self.store.delete_bucket(bucket.name)
        self._send(204)

    def _get_bucket_acl(self, bucket) -> None:
        self._acl(bucket.acl)

    def _head_bucket(self, bucket) -> None:
        self._send(200)

    def _list_buckets(self) -> None:
        prefix = self.query.get("prefix", "")
        root = ET.Element("ListAllMyBucketsResult")
        owner = _sub(root, "Owner")
        _sub(owner, "ID", OWNER_ID)
        _sub(owner, "DisplayName", OWNER_NAME)
        buckets = _sub(root, "Buckets")
        for b in self.store.buckets():
            if not b.name.startswith(prefix):
                continue
            node = _sub(buckets, "Bucket")
            _sub(node, "CreationDate", _iso(b.created))
            _sub(node, "ExtranetEndpoint", self._host())
            _sub(node, "IntranetEndpoint", self._host())
            _sub(node, "Location", self.emulator.region)
            _sub(node, "Name", b.name)
            _sub(node, "Region", self.emulator.region.removeprefix("oss-"))
            _sub(node, "StorageClass", b.storage_class)
        self._send_xml(200, root)

    def _host(self) -> str:
        return self.headers.get("Host", "127.0.0.1")

    def _create_bucket(self) -> None:
        body = self._read_all()
        storage_class = "Standard"
        if body:
            try:
                storage_class = ET.fromstring(body).findtext("StorageClass") or "Standard"
            except ET.ParseError:
                raise OSSServiceError(
                    400, "MalformedXML", "The XML you provided was not well-formed."
                ) from None
        # Every credential is the one account, and OSS answers 200 to an owner re-creating its
        # bucket (leaving it as it is); BucketAlreadyExists is for other accounts' buckets.
        self.store.create_bucket(
            self.bucket_name,
            self.headers.get("x-oss-acl", "private"),
            exist_ok=True,
            storage_class=storage_class,
        )
        self._send(200, headers={"Location": f"/{self.bucket_name}"})

    def _bucket_info(self, bucket) -> None:
        root = ET.Element("BucketInfo")
        node = _sub(root, "Bucket")
        _sub(node, "AccessMonitor", "Disabled")
        _sub(node, "CreationDate", _iso(bucket.created))
        _sub(node, "ExtranetEndpoint", self._host())
        _sub(node, "IntranetEndpoint", self._host())
        _sub(node, "Location", self.emulator.region)
        _sub(node, "StorageClass", bucket.storage_class)
        _sub(node, "TransferAcceleration", "Disabled")
        _sub(node, "CrossRegionReplication", "Disabled")
        _sub(node, "Name", bucket.name)
        _sub(node, "DataRedundancyType", "LRS")
        _sub(node, "Comment", "")
        _sub(_sub(node, "ServerSideEncryptionRule"), "SSEAlgorithm", "None")
        owner = _sub(node, "Owner")
        _sub(owner, "DisplayName", OWNER_NAME)
        _sub(owner, "ID", OWNER_ID)
        acl = _sub(node, "AccessControlList")
        _sub(acl, "Grant", bucket.acl)
        self._send_xml(200, root)

    def _bucket_location(self, bucket=None) -> None:
        root = ET.Element("LocationConstraint")
        root.text = self.emulator.region
        self._send_xml(200, root)

    def _acl(self, grant: str) -> None:
        root = ET.Element("AccessControlPolicy")
        owner = _sub(root, "Owner")
        _sub(owner, "ID", OWNER_ID)
        _sub(owner, "DisplayName", OWNER_NAME)
        _sub(_sub(root, "AccessControlList"), "Grant", grant)
        self._send_xml(200, root)

    def _bucket_stat(self, bucket) -> None:
        with bucket.lock:
            records = list(bucket.objects.values())
            uploads = len(bucket.uploads)
        size, count = str(sum(r.size for r in records)), str(len(records))
        root = ET.Element("BucketStat")
        _sub(root, "Storage", size)
        _sub(root, "ObjectCount", count)
        _sub(root, "MultipartUploadCount", str(uploads))
        _sub(root, "LiveChannelCount", "0")
        _sub(root, "LastModifiedTime", str(int(max((r.mtime for r in records), default=0))))
        for name, tag in _STAT_CLASSES:
            of_class = [r.size for r in records if r.storage_class == name]
            _sub(root, f"{tag}Storage", str(sum(of_class)))
            if name != "Standard":
                _sub(root, f"{tag}RealStorage", str(sum(of_class)))
            _sub(root, f"{tag}ObjectCount", str(len(of_class)))
        self._send_xml(200, root)

    # ----------------------------------------------------------- listing

    def _max(self, name: str, default: int = 100, limit: int = 1000) -> int:
        raw = self.query.get(name, "")
        if raw == "":
            return default
        if not raw.isdigit() or not 0 < int(raw) <= limit:
            raise OSSServiceError(
                400, "InvalidArgument", f"Argument {name} must be an integer in 1..{limit}."
            )
        return int(raw)

    def _encoder(self):
        if self.query.get("encoding-type") == "url":
            return lambda s: quote(s, safe="/")
        return lambda s: s

    def _contents(self, root: ET.Element, rec: ObjectRecord, enc, owner: bool) -> None:
        node = _sub(root, "Contents")
        _sub(node, "Key", enc(rec.key))
        _sub(node, "LastModified", _iso(rec.mtime))
        _sub(node, "ETag", f'"{rec.etag}"')
        _sub(node, "Type", rec.object_type)
        _sub(node, "Size", str(rec.size))
        _sub(node, "StorageClass", rec.storage_class)
        restore = rec.restore_header()
        if restore:
            _sub(node, "RestoreInfo", restore)
        if owner:
            node = _sub(node, "Owner")
            _sub(node, "ID", OWNER_ID)
            _sub(node, "DisplayName", OWNER_NAME)

    def _list_page(self, prefix: str, delimiter: str, marker: str, own: list) -> tuple:
        """One ListObjects page (v1 and v2) and its reply's shared elements: Name, Prefix, the
        version's ``own`` (tag, text) pairs, MaxKeys, Delimiter, EncodingType, IsTruncated."""
        max_keys = self._max("max-keys")
        res = self.store.list_objects(self.bucket_name, prefix, delimiter, marker, max_keys)
        enc = self._encoder()
        root = ET.Element("ListBucketResult")
        _sub(root, "Name", self.bucket_name)
        _sub(root, "Prefix", enc(prefix))
        for tag, text in own:
            _sub(root, tag, text)
        _sub(root, "MaxKeys", str(max_keys))
        _sub(root, "Delimiter", enc(delimiter))
        if self.query.get("encoding-type") == "url":
            _sub(root, "EncodingType", "url")
        _sub(root, "IsTruncated", "true" if res.truncated else "false")
        return res, enc, root

    def _list_objects(self) -> None:
        q = self.query
        prefix, delimiter, marker = q.get("prefix", ""), q.get("delimiter", ""), q.get("marker", "")
        enc = self._encoder()
        res, enc, root = self._list_page(prefix, delimiter, marker, [("Marker", enc(marker))])
        if res.truncated:
            _sub(root, "NextMarker", enc(res.next_marker))
        self._send_listing(root, res, enc)

    def _send_listing(self, root, res, enc, owner: bool = True) -> None:
        """The entries shared by ListObjects v1 and v2 (v2 names owners on request), then the
        reply."""
        for rec in res.objects:
            self._contents(root, rec, enc, owner)
        for p in res.prefixes:
            _sub(_sub(root, "CommonPrefixes"), "Prefix", enc(p))
        self._send_xml(200, root)

    def _list_objects_v2(self) -> None:
        q = self.query
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        token = q.get("continuation-token", "")
        start_after = q.get("start-after", "")
        if token:
            try:
                marker = base64.urlsafe_b64decode(token.encode()).decode("utf-8")
            except (ValueError, binascii.Error):
                raise OSSServiceError(
                    400, "InvalidArgument", "The continuation token is invalid."
                ) from None
        else:
            marker = start_after
        enc = self._encoder()
        own = [("StartAfter", enc(start_after))] if start_after else []
        if token:
            own.append(("ContinuationToken", token))
        res, enc, root = self._list_page(prefix, delimiter, marker, own)
        if res.truncated:
            nxt = base64.urlsafe_b64encode(res.next_marker.encode("utf-8")).decode()
            _sub(root, "NextContinuationToken", nxt)
        _sub(root, "KeyCount", str(len(res.objects) + len(res.prefixes)))
        self._send_listing(root, res, enc, q.get("fetch-owner", "").lower() == "true")

    def _list_uploads(self, bucket=None) -> None:
        """ListMultipartUploads: by key then upload id, after ``key-marker``/``upload-id-marker``,
        rolled up at ``delimiter``, ``max-uploads`` per page."""
        q = self.query
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        key_marker, id_marker = q.get("key-marker", ""), q.get("upload-id-marker", "")
        max_uploads = self._max("max-uploads", 1000, 1000)
        entries: list = []  # Upload, or a common prefix (str)
        truncated = False
        for u in self.store.list_uploads(self.bucket_name, prefix):
            if (u.key, u.upload_id) <= (key_marker, id_marker or "\uffff"):
                continue
            cut = u.key.find(delimiter, len(prefix)) if delimiter else -1
            item = u.key[: cut + len(delimiter)] if cut >= 0 else u
            if isinstance(item, str) and (item <= key_marker or (entries and entries[-1] == item)):
                continue
            if len(entries) == max_uploads:
                truncated = True
                break
            entries.append(item)
        enc = self._encoder()
        last = entries[-1] if truncated else None
        root = ET.Element("ListMultipartUploadsResult")
        _sub(root, "Bucket", self.bucket_name)
        _sub(root, "KeyMarker", enc(key_marker))
        _sub(root, "UploadIdMarker", id_marker)
        next_key = last if isinstance(last, str) else last.key if last else ""
        _sub(root, "NextKeyMarker", enc(next_key))
        _sub(
            root, "NextUploadIdMarker", last.upload_id if last and not isinstance(last, str) else ""
        )
        _sub(root, "Delimiter", enc(delimiter))
        _sub(root, "Prefix", enc(prefix))
        _sub(root, "MaxUploads", str(max_uploads))
        if q.get("encoding-type") == "url":
            _sub(root, "EncodingType", "url")
        _sub(root, "IsTruncated", "true" if truncated else "false")
        for e in entries:
            if isinstance(e, str):
                _sub(_sub(root, "CommonPrefixes"), "Prefix", enc(e))
                continue
            node = _sub(root, "Upload")
            _sub(node, "Key", enc(e.key))
            _sub(node, "UploadId", e.upload_id)
            _sub(node, "Initiated", _iso(e.initiated))
        self._send_xml(200, root)

    def _list_live_channels(self, bucket) -> None:
        """ListLiveChannel: always empty (creating a live channel answers NotImplemented)."""
        root = ET.Element("ListLiveChannelResult")
        _sub(root, "Prefix", self.query.get("prefix", ""))
        _sub(root, "Marker", self.query.get("marker", ""))
        _sub(root, "MaxKeys", str(self._max("max-keys")))
        _sub(root, "IsTruncated", "false")
        self._send_xml(200, root)

    def _batch_delete(self, bucket=None) -> None:
        body = self._read_all()
        md5 = self.headers.get("Content-MD5")
        if md5 is None:
            raise OSSServiceError(
                400, "InvalidRequest", "Missing required header for this request: Content-MD5."
            )
        if base64.b64encode(hashlib.md5(body).digest()).decode() != md5:
            raise OSSServiceError(
                400, "InvalidDigest", "The Content-MD5 you specified is not valid."
            )
        try:  # keys may hold control characters, which XML 1.0 forbids but OSS accepts
            root = ET.fromstring(_CONTROL.sub(lambda m: b"&#x%X;" % (0xE000 + m[0][0]), body))
        except ET.ParseError:
            raise OSSServiceError(
                400, "MalformedXML", "The XML you provided was not well-formed."
            ) from None
        quiet = (root.findtext("Quiet") or "false").lower() == "true"
        keys = [
            _PRIVATE.sub(lambda m: chr(ord(m[0]) - 0xE000), o.findtext("Key") or "")
            for o in root.findall("Object")
        ]
        if not keys or len(keys) > 1000:
            raise OSSServiceError(400, "MalformedXML", "Delete 1 to 1000 objects per request.")
        enc = self._encoder()
        result = ET.Element("DeleteResult")
        if self.query.get("encoding-type") == "url":
            _sub(result, "EncodingType", "url")
        for key in keys:
            self.store.delete_object(self.bucket_name, key)
            if not quiet:
                _sub(_sub(result, "Deleted"), "Key", enc(key))
        self._send_xml(200, result)
