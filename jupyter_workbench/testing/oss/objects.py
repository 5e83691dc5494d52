"""Object operations: get/head (ranges, conditions), put, copy, append, delete, tagging, ACL,
symlinks."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, quote, unquote

from .records import (
    CHUNK,
    ObjectRecord,
    OSSServiceError,
    check_storage_class,
    invalid_object_state,
)
from .wire import _Drop, _from_wire, _http_date, _iso, _parse_http_date, _sub, _to_wire


class ObjectOps:
    """Handlers of the object routes (mixed into :class:`~.handler.Handler`)."""

    def _get_object_acl(self, bucket) -> None:
        self._acl(self.store.head(bucket.name, self.key).acl)

    def _put_object_acl(self, bucket) -> None:
        self._read_all()
        self.store.update_object(bucket.name, self.key, acl=self._object_acl_header(None))
        self._send(200)

    def _storage_class_header(self) -> str | None:
        """``x-oss-storage-class`` if given (None: the bucket's default)."""
        name = self.headers.get("x-oss-storage-class")
        return None if name is None else check_storage_class(name)

    def _restore_object(self, bucket) -> None:
        """RestoreObject: the restored copy is readable after ``OSSEmulator.restore_seconds``."""
        body = self._read_all()
        days, tier = 1, None
        if body:
            try:
                root = ET.fromstring(body)
                days = int(root.findtext("Days") or "1")
            except (ET.ParseError, ValueError):
                raise OSSServiceError(
                    400, "MalformedXML", "The XML you provided was not well-formed."
                ) from None
            tier = root.findtext("JobParameters/Tier")
        rec = self.store.head(bucket.name, self.key)
        if tier is not None and rec.storage_class == "Archive":
            raise OSSServiceError(  # as OSS: job parameters are for the colder classes only
                400, "MalformedXML", "JobParameters are not allowed for Archive objects."
            )
        if tier is not None and tier not in ("Expedited", "Standard", "Bulk"):
            raise OSSServiceError(400, "InvalidArgument", f"Invalid restore tier {tier!r}.")
        if not 1 <= days <= 365:
            raise OSSServiceError(400, "InvalidArgument", "Days must be 1..365.")
        status = self.store.restore_object(
            bucket.name, self.key, days, self.emulator.restore_seconds
        )
        self._send(status)

    def _object_acl_header(self, default: str | None = "default") -> str:
        acl = self.headers.get("x-oss-object-acl", default)
        if acl not in ("default", "private", "public-read", "public-read-write"):
            raise OSSServiceError(400, "InvalidArgument", f"Invalid object ACL {acl!r}.")
        return acl

    def _get_tagging(self, bucket) -> None:
        rec = self.store.head(bucket.name, self.key)
        root = ET.Element("Tagging")
        tag_set = _sub(root, "TagSet")
        for k, v in rec.tags.items():
            tag = _sub(tag_set, "Tag")
            _sub(tag, "Key", k)
            _sub(tag, "Value", v)
        self._send_xml(200, root)

    def _put_tagging(self, bucket) -> None:
        body = self._read_all()
        try:
            root = ET.fromstring(body)
            tags = {t.findtext("Key") or "": t.findtext("Value") or "" for t in root.iter("Tag")}
        except ET.ParseError:
            raise OSSServiceError(
                400, "MalformedXML", "The XML you provided was not well-formed."
            ) from None
        self.store.update_object(bucket.name, self.key, tags=_checked_tags(tags))
        self._send(200)

    def _tagging_header(self) -> dict:
        """The tags of an ``x-oss-tagging: k1=v1&k2=v2`` header (PutObject, symlinks, multipart)."""
        pairs = parse_qsl(_from_wire(self.headers.get("x-oss-tagging", "")), keep_blank_values=True)
        if len({k for k, _ in pairs}) != len(pairs):
            raise OSSServiceError(400, "InvalidTag", "A tag key appears twice.")
        return _checked_tags(dict(pairs))

    def _put_symlink(self, bucket) -> None:
        self._read_all()
        target = self.headers.get("x-oss-symlink-target")
        if not target:
            raise OSSServiceError(
                400, "InvalidArgument", "PutSymlink needs the x-oss-symlink-target header."
            )
        rec = self.store.put_symlink(
            bucket.name,
            self.key,
            unquote(_from_wire(target)),
            self.headers.get("Content-Type", ""),
            self._user_meta(),
            self._tagging_header(),
            self._forbid_overwrite(),
        )
        self._send(200, headers={"ETag": f'"{rec.etag}"'})

    def _get_symlink(self, bucket) -> None:
        rec = self.store.head(bucket.name, self.key)
        if rec.symlink_target is None:
            raise OSSServiceError(
                400, "NotSymlink", "The specified object is not a symlink.", Key=self.key
            )
        headers = {
            "x-oss-symlink-target": quote(rec.symlink_target, safe=""),
            "ETag": f'"{rec.etag}"',
            "Last-Modified": _http_date(rec.mtime),
        }
        headers.update({f"x-oss-meta-{k}": _to_wire(v) for k, v in rec.meta.items()})
        self._send(200, headers=headers)

    def _delete_tagging(self, bucket) -> None:
        self.store.update_object(bucket.name, self.key, tags={})
        self._send(204)

    def _get(self, bucket) -> None:
        self._get_object(head=False)

    def _head(self, bucket) -> None:
        self._get_object(head=True)

    def _head_meta(self, bucket) -> None:
        self._get_object(head=True, meta_only=True)

    def _put(self, bucket) -> None:
        if "x-oss-copy-source" in self.headers:
            return self._copy_object()
        return self._put_object()

    def _delete(self, bucket) -> None:
        self.store.delete_object(bucket.name, self.key)
        self._send(204)

    def _user_meta(self) -> dict:
        return {
            k.lower()[len("x-oss-meta-") :]: _from_wire(v)
            for k, v in self.headers.items()
            if k.lower().startswith("x-oss-meta-")
        }

    def _forbid_overwrite(self) -> bool:
        return self.headers.get("x-oss-forbid-overwrite", "").lower() == "true"

    def _content_type(self) -> str:
        return self.headers.get("Content-Type") or "application/octet-stream"

    def _object_headers(self, rec: ObjectRecord) -> dict:
        h = {
            "Content-Type": rec.content_type,
            "ETag": f'"{rec.etag}"',
            "Last-Modified": _http_date(rec.mtime),
            "x-oss-object-type": rec.object_type,
            "x-oss-hash-crc64ecma": str(rec.crc64),
            "x-oss-storage-class": rec.storage_class,
            "Accept-Ranges": "bytes",
        }
        if rec.object_type == "Appendable":
            h["x-oss-next-append-position"] = str(rec.size)
        for k, v in rec.meta.items():
            h[f"x-oss-meta-{k}"] = _to_wire(v)
        restore = rec.restore_header()
        if restore:
            h["x-oss-restore"] = restore
        if rec.tags:
            h["x-oss-tagging-count"] = str(len(rec.tags))
        return h

    def _put_object(self) -> None:
        rec = self.store.put_object(
            self.bucket_name,
            self.key,
            self.read_body,
            self._content_type(),
            self._user_meta(),
            self.headers.get("Content-MD5"),
            self._forbid_overwrite(),
            tags=self._tagging_header(),
            acl=self._object_acl_header(),
            storage_class=self._storage_class_header(),
        )
        self._send(
            200,
            headers={
                "ETag": f'"{rec.etag}"',
                "x-oss-hash-crc64ecma": str(rec.crc64),
                "Content-MD5": base64.b64encode(bytes.fromhex(rec.etag)).decode(),
            },
        )

    def _copy_source(self) -> tuple[str, str]:
        """(bucket, key) of ``x-oss-copy-source``, readable by this request's signer."""
        source = unquote(self.headers["x-oss-copy-source"].split("?", 1)[0]).lstrip("/")
        src_bucket, _, src_key = source.partition("/")
        if not src_bucket or not src_key:
            raise OSSServiceError(400, "InvalidArgument", "Invalid x-oss-copy-source.")
        if self.anonymous and not self.store.bucket(src_bucket).public_read:
            raise OSSServiceError(
                403, "AccessDenied", "You have no right to access the copy source."
            )
        return src_bucket, src_key

    def _check_copy_source(self, rec: ObjectRecord) -> None:
        """412 unless the ``x-oss-copy-source-if-*`` conditions hold for the source."""
        if rec.frozen:
            raise invalid_object_state(rec.key)
        if self._check_conditions(rec, "x-oss-copy-source-") is not None:
            raise OSSServiceError(
                412,
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold.",
            )

    def _copy_object(self) -> None:
        src_bucket, src_key = self._copy_source()
        self._check_copy_source(
            self.store.followed(src_bucket, self.store.head(src_bucket, src_key))
        )
        replace_meta = self.headers.get("x-oss-metadata-directive", "COPY").upper() == "REPLACE"
        replace_tags = self.headers.get("x-oss-tagging-directive", "COPY").upper() == "REPLACE"
        rec = self.store.copy_object(
            src_bucket,
            src_key,
            self.bucket_name,
            self.key,
            content_type=self._content_type() if replace_meta else None,
            meta=self._user_meta() if replace_meta else None,
            forbid_overwrite=self._forbid_overwrite(),
            tags=self._tagging_header() if replace_tags else None,
            storage_class=self._storage_class_header(),
        )
        root = ET.Element("CopyObjectResult")
        _sub(root, "ETag", f'"{rec.etag}"')
        _sub(root, "LastModified", _iso(rec.mtime))
        self._send_xml(200, root, {"ETag": f'"{rec.etag}"', "x-oss-hash-crc64ecma": str(rec.crc64)})

    def _append_object(self, bucket=None) -> None:
        position = self.query.get("position", "")
        if not position.isdigit():
            raise OSSServiceError(
                400, "InvalidArgument", "position must be a non-negative integer."
            )
        rec = self.store.append_object(
            self.bucket_name,
            self.key,
            int(position),
            self.read_body,
            self._content_type(),
            self._user_meta(),
            self._tagging_header() if position == "0" else None,  # later appends keep them
        )
        self._send(
            200,
            headers={
                "ETag": f'"{rec.etag}"',
                "x-oss-hash-crc64ecma": str(rec.crc64),
                "x-oss-next-append-position": str(rec.size),
            },
        )

    def _check_conditions(self, rec: ObjectRecord, prefix: str = "") -> int | None:
        """304/412 for conditional requests, else None (``prefix``: ``x-oss-copy-source-`` for
        the conditions a copy puts on its source)."""
        etag = f'"{rec.etag}"'
        if_match = self.headers.get(prefix + "If-Match")
        if if_match is not None and if_match.strip() not in (etag, rec.etag, "*"):
            return 412
        since = self.headers.get(prefix + "If-Unmodified-Since")
        if since is not None:
            t = _parse_http_date(since)
            if t is not None and int(rec.mtime) > t:
                return 412
        if_none = self.headers.get(prefix + "If-None-Match")
        if if_none is not None and if_none.strip() in (etag, rec.etag, "*"):
            return 304
        since = self.headers.get(prefix + "If-Modified-Since")
        if since is not None and if_none is None:
            t = _parse_http_date(since)
            if t is not None and int(rec.mtime) <= t:
                return 304
        return None

    def _range(self, size: int) -> tuple[int, int] | None:
        """Inclusive (start, end) of a valid single Range, else None (whole object)."""
        header = self.headers.get("Range")
        if not header:
            return None
        standard = self.headers.get("x-oss-range-behavior", "").lower() == "standard"
        m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
        if not m or (not m.group(1) and not m.group(2)):
            return None  # multi-range or malformed: OSS returns the whole object
        first, last = m.group(1), m.group(2)
        if not first:  # suffix: the last N bytes
            n = int(last)
            if n == 0 or size == 0:
                if standard:
                    raise self._invalid_range(size)
                return None
            return max(0, size - n), size - 1
        start = int(first)
        end = int(last) if last else size - 1
        if last and end < start:
            if standard:
                raise self._invalid_range(size)
            return None
        if start >= size:
            if standard:
                raise self._invalid_range(size)
            return None
        if end >= size:
            if not standard and last:
                return None  # legacy behaviour: an out-of-bounds range means the whole object
            end = size - 1
        return start, end

    def _invalid_range(self, size: int) -> OSSServiceError:
        return OSSServiceError(
            416,
            "InvalidRange",
            "The requested range cannot be satisfied.",
            headers={"Content-Range": f"bytes */{size}"},
            ObjectSize=str(size),
        )

    def _get_object(self, head: bool, meta_only: bool = False) -> None:
        if head:
            rec = self.store.followed(self.bucket_name, self.store.head(self.bucket_name, self.key))
            f = None
        else:
            rec, f = self.store.open_object(self.bucket_name, self.key)
        try:
            if f is not None and rec.frozen:
                raise invalid_object_state(self.key)
            cond = self._check_conditions(rec)
            if cond is not None:
                if cond == 304:
                    return self._send(304, headers={"ETag": f'"{rec.etag}"'})
                raise OSSServiceError(
                    412,
                    "PreconditionFailed",
                    "At least one of the pre-conditions you specified did not hold.",
                )
            headers = self._object_headers(rec)
            if meta_only:
                headers = {
                    "ETag": headers["ETag"],
                    "Last-Modified": headers["Last-Modified"],
                    "x-oss-hash-crc64ecma": headers["x-oss-hash-crc64ecma"],
                }
            rng = None if meta_only else self._range(rec.size)
            status = 200
            start, length = 0, rec.size
            if rng is not None:
                status = 206
                start, length = rng[0], rng[1] - rng[0] + 1
                headers["Content-Range"] = f"bytes {rng[0]}-{rng[1]}/{rec.size}"
            for param, header in (
                ("response-content-type", "Content-Type"),
                ("response-content-disposition", "Content-Disposition"),
                ("response-content-encoding", "Content-Encoding"),
                ("response-cache-control", "Cache-Control"),
                ("response-expires", "Expires"),
            ):
                if param in self.query:
                    headers[header] = self.query[param]
            self.send_response(status)
            headers["x-oss-request-id"] = self.request_id
            headers["Content-Length"] = str(length)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.status_sent = status
            if head:
                return None
            f.seek(start)
            stop_at = length // 2 if self._partial_drop else length
            sent = 0
            while sent < stop_at:
                chunk = f.read(min(CHUNK, stop_at - sent))
                if not chunk:
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
            if self._partial_drop:
                self.wfile.flush()
                raise _Drop()
            return None
        finally:
            if f is not None:
                f.close()


def _checked_tags(tags: dict) -> dict:
    """``tags`` if OSS would accept them: up to 10, keys of 1-128 and values of 0-256 letters,
    digits, spaces and ``+ - = . _ : /``."""
    if len(tags) > 10 or any(
        not 0 < len(k) <= 128 or len(v) > 256 or not _tag_text(k) or not _tag_text(v)
        for k, v in tags.items()
    ):
        raise OSSServiceError(
            400,
            "InvalidTag",
            "Up to 10 tags; keys of 1-128 and values of 0-256 letters, digits, spaces and "
            "+ - = . _ : /.",
        )
    return tags


def _tag_text(text: str) -> bool:
    return all(c.isalnum() or c in " +-=._:/" for c in text)
