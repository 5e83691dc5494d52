"""Multipart uploads: initiate, upload part, complete, list parts and uploads, abort."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from urllib.parse import quote

from .records import OSSServiceError
from .wire import _iso, _sub


class MultipartOps:
    """Handlers of the multipart routes (mixed into :class:`~.handler.Handler`)."""

    def _put_part(self, bucket) -> None:
        if "x-oss-copy-source" in self.headers:
            return self._upload_part_copy()
        return self._upload_part()

    def _part_number(self) -> int:
        number = self.query.get("partNumber", "")
        if not number.isdigit():
            raise OSSServiceError(400, "InvalidArgument", "partNumber must be an integer.")
        return int(number)

    def _upload_part_copy(self) -> None:
        """UploadPartCopy: a part from (a ``x-oss-copy-source-range`` of) an existing object."""
        self._drain()
        number = self._part_number()
        src_bucket, src_key = self._copy_source()
        rec, f = self.store.open_object(src_bucket, src_key)
        with f:
            self._check_copy_source(rec)
            start, end = _copy_range(self.headers.get("x-oss-copy-source-range", ""), rec.size)
            f.seek(start)
            left = end - start

            def read(n: int) -> bytes:
                nonlocal left
                chunk = f.read(min(n, left))
                left -= len(chunk)
                return chunk

            part = self.store.upload_part(
                self.bucket_name, self.key, self.query["uploadId"], number, read
            )
        root = ET.Element("CopyPartResult")
        _sub(root, "LastModified", _iso(part.mtime))
        _sub(root, "ETag", f'"{part.etag}"')
        self._send_xml(
            200, root, {"ETag": f'"{part.etag}"', "x-oss-hash-crc64ecma": str(part.crc64)}
        )

    def _abort_multipart(self, bucket) -> None:
        self.store.abort_multipart(bucket.name, self.key, self.query["uploadId"])
        self._send(204)

    def _init_multipart(self, bucket=None) -> None:
        self._read_all()
        upload_id = self.store.init_multipart(
            self.bucket_name,
            self.key,
            self._content_type(),
            self._user_meta(),
            self._tagging_header(),
            self._object_acl_header(),
            self._storage_class_header(),
        )
        enc = self._encoder()
        root = ET.Element("InitiateMultipartUploadResult")
        if self.query.get("encoding-type") == "url":
            _sub(root, "EncodingType", "url")
        _sub(root, "Bucket", self.bucket_name)
        _sub(root, "Key", enc(self.key))
        _sub(root, "UploadId", upload_id)
        self._send_xml(200, root)

    def _upload_part(self) -> None:
        part = self.store.upload_part(
            self.bucket_name,
            self.key,
            self.query["uploadId"],
            self._part_number(),
            self.read_body,
            self.headers.get("Content-MD5"),
        )
        self._send(
            200,
            headers={
                "ETag": f'"{part.etag}"',
                "x-oss-hash-crc64ecma": str(part.crc64),
                "Content-MD5": base64.b64encode(part.md5).decode(),
            },
        )

    def _complete_multipart(self, bucket=None) -> None:
        body = self._read_all()
        parts = None
        if not (self.headers.get("x-oss-complete-all", "").lower() == "yes" and not body):
            try:
                root = ET.fromstring(body)
                parts = [
                    (int(p.findtext("PartNumber") or ""), p.findtext("ETag") or "")
                    for p in root.findall("Part")
                ]
            except (ET.ParseError, ValueError):
                raise OSSServiceError(
                    400, "MalformedXML", "The XML you provided was not well-formed."
                ) from None
        rec = self.store.complete_multipart(
            self.bucket_name, self.key, self.query["uploadId"], parts, self._forbid_overwrite()
        )
        enc = self._encoder()
        root = ET.Element("CompleteMultipartUploadResult")
        if self.query.get("encoding-type") == "url":
            _sub(root, "EncodingType", "url")
        _sub(root, "Location", f"http://{self._host()}/{self.bucket_name}/{quote(self.key)}")
        _sub(root, "Bucket", self.bucket_name)
        _sub(root, "Key", enc(self.key))
        _sub(root, "ETag", f'"{rec.etag}"')
        self._send_xml(200, root, {"ETag": f'"{rec.etag}"', "x-oss-hash-crc64ecma": str(rec.crc64)})

    def _list_parts(self, bucket=None) -> None:
        marker = self.query.get("part-number-marker", "") or "0"
        if not marker.isdigit():
            raise OSSServiceError(400, "InvalidArgument", "part-number-marker must be an integer.")
        max_parts = self._max("max-parts", 1000, 1000)
        parts = [
            p
            for p in self.store.list_parts(self.bucket_name, self.key, self.query["uploadId"])
            if p.number > int(marker)
        ]
        truncated = len(parts) > max_parts
        parts = parts[:max_parts]
        root = ET.Element("ListPartsResult")
        _sub(root, "Bucket", self.bucket_name)
        _sub(root, "Key", self.key)
        _sub(root, "UploadId", self.query["uploadId"])
        _sub(root, "PartNumberMarker", marker)
        _sub(root, "NextPartNumberMarker", str(parts[-1].number if parts else 0))
        _sub(root, "MaxParts", str(max_parts))
        _sub(root, "IsTruncated", "true" if truncated else "false")
        for p in parts:
            node = _sub(root, "Part")
            _sub(node, "PartNumber", str(p.number))
            _sub(node, "LastModified", _iso(p.mtime))
            _sub(node, "ETag", f'"{p.etag}"')
            _sub(node, "HashCrc64ecma", str(p.crc64))
            _sub(node, "Size", str(p.size))
        self._send_xml(200, root)


def _copy_range(header: str, size: int) -> tuple[int, int]:
    """[start, end) of ``x-oss-copy-source-range: bytes=a-b``; the whole object when absent or
    invalid (OSS copies the whole object for a range it cannot satisfy)."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d+)\s*-\s*(\d*)\s*", header)
    if not m:
        return 0, size
    start = int(m.group(1))
    end = int(m.group(2)) + 1 if m.group(2) else size
    if start >= size or end <= start or end > size:
        return 0, size
    return start, end
