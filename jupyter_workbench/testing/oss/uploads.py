"""Multipart uploads in the emulator's store: parts on disk or in memory until completion."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import time
import uuid

from .records import (
    CHUNK,
    MAX_PART_NUMBER,
    MIN_PART_SIZE,
    BucketState,
    Ingested,
    ObjectRecord,
    OSSServiceError,
    PartRecord,
    ReadFn,
    Upload,
    _file_exists,
    crc64,
    no_such_upload,
    validate_key,
    write_json_atomic,
)


class MultipartStore:
    """The multipart half of :class:`~.store.ObjectStore` (which mixes it in)."""

    def _load_uploads(self, bucket: BucketState) -> None:
        uploads_dir = os.path.join(bucket.directory, ".uploads")
        if not os.path.isdir(uploads_dir):
            return
        for entry in os.scandir(uploads_dir):
            info_path = os.path.join(entry.path, "upload.json")
            if not os.path.exists(info_path):
                continue
            with open(info_path, encoding="utf-8") as f:
                info = json.load(f)
            upload = Upload(
                entry.name, info["key"], info["initiated"], info["content_type"], info["meta"]
            )
            upload.directory = entry.path
            upload.tags, upload.acl = info.get("tags", {}), info.get("acl", "default")
            upload.storage_class = info.get("class", "Standard")
            for p in info.get("parts", []):
                part_path = os.path.join(entry.path, f"{p['number']}.part")
                if os.path.exists(part_path):
                    upload.parts[p["number"]] = PartRecord(
                        p["number"],
                        p["size"],
                        p["etag"],
                        bytes.fromhex(p["etag"]),
                        int(p["crc64"]),
                        p["mtime"],
                        path=part_path,
                    )
            bucket.uploads[upload.upload_id] = upload

    def _save_upload(self, upload: Upload) -> None:
        if upload.directory is None:
            return
        info = {
            "key": upload.key,
            "initiated": upload.initiated,
            "content_type": upload.content_type,
            "meta": upload.meta,
            "tags": upload.tags,
            "acl": upload.acl,
            "class": upload.storage_class,
            "parts": [
                {
                    "number": p.number,
                    "size": p.size,
                    "etag": p.etag,
                    "crc64": str(p.crc64),
                    "mtime": p.mtime,
                }
                for p in sorted(upload.parts.values(), key=lambda p: p.number)
            ],
        }
        write_json_atomic(os.path.join(upload.directory, "upload.json"), info)

    # ---------------------------------------------------------------- multipart

    def init_multipart(
        self,
        bucket_name: str,
        key: str,
        content_type: str,
        meta: dict,
        tags: dict | None = None,
        acl: str = "default",
        storage_class: str | None = None,
    ) -> str:
        validate_key(key)
        bucket = self.bucket(bucket_name)
        upload = Upload(uuid.uuid4().hex.upper(), key, time.time(), content_type, dict(meta))
        upload.tags, upload.acl = dict(tags or {}), acl
        upload.storage_class = storage_class or bucket.storage_class
        if bucket.directory is not None:
            upload.directory = os.path.join(bucket.directory, ".uploads", upload.upload_id)
            os.makedirs(upload.directory)
            self._save_upload(upload)
        with bucket.lock:
            bucket.uploads[upload.upload_id] = upload
        return upload.upload_id

    def _upload(self, bucket: BucketState, key: str, upload_id: str) -> Upload:
        upload = bucket.uploads.get(upload_id)
        if upload is None or upload.key != key:
            raise no_such_upload(upload_id)
        return upload

    def upload_part(
        self,
        bucket_name: str,
        key: str,
        upload_id: str,
        number: int,
        read: ReadFn,
        content_md5: str | None = None,
    ) -> PartRecord:
        if not 1 <= number <= MAX_PART_NUMBER:
            raise OSSServiceError(
                400, "InvalidArgument", f"Part number must be 1..{MAX_PART_NUMBER}."
            )
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            self._upload(bucket, key, upload_id)
        body = self.ingest(bucket, read)
        if content_md5 is not None and base64.b64encode(body.md5).decode() != content_md5:
            body.discard()
            raise OSSServiceError(
                400, "InvalidDigest", "The Content-MD5 you specified is not valid."
            )
        part = PartRecord(
            number, body.size, body.md5.hex().upper(), body.md5, body.crc64, time.time()
        )
        with bucket.lock:
            try:
                upload = self._upload(bucket, key, upload_id)
            except OSSServiceError:
                body.discard()
                raise
            if upload.directory is not None:
                part.path = os.path.join(upload.directory, f"{number}.part")
                os.replace(body.path, part.path)
            else:
                part.data = body.data
            upload.parts[number] = part
            self._save_upload(upload)
        return part

    def list_parts(self, bucket_name: str, key: str, upload_id: str) -> list[PartRecord]:
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            upload = self._upload(bucket, key, upload_id)
            return [upload.parts[n] for n in sorted(upload.parts)]

    def list_uploads(self, bucket_name: str, prefix: str = "") -> list[Upload]:
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            uploads = [u for u in bucket.uploads.values() if u.key.startswith(prefix)]
        return sorted(uploads, key=lambda u: (u.key, u.upload_id))

    def abort_multipart(self, bucket_name: str, key: str, upload_id: str) -> None:
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            upload = self._upload(bucket, key, upload_id)
            del bucket.uploads[upload_id]
        if upload.directory:
            shutil.rmtree(upload.directory, ignore_errors=True)

    def complete_multipart(
        self,
        bucket_name: str,
        key: str,
        upload_id: str,
        parts: list[tuple[int, str]] | None,
        forbid_overwrite: bool = False,
    ) -> ObjectRecord:
        """Assemble the listed ``(part number, ETag)`` pairs, or every part when ``None``."""
        bucket = self.bucket(bucket_name)
        with bucket.lock:
            upload = self._upload(bucket, key, upload_id)
            if forbid_overwrite and key in bucket.objects:
                raise _file_exists(key)  # the upload stays, so the client can abort it
            if parts is None:
                chosen = [upload.parts[n] for n in sorted(upload.parts)]
            else:
                if not parts:
                    raise OSSServiceError(
                        400, "MalformedXML", "The XML you provided was not well-formed."
                    )
                numbers = [n for n, _ in parts]
                if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
                    raise OSSServiceError(
                        400, "InvalidPartOrder", "The list of parts was not in ascending order."
                    )
                chosen = []
                for n, etag in parts:
                    part = upload.parts.get(n)
                    if part is None or part.etag != etag.strip('"').upper():
                        raise OSSServiceError(
                            400,
                            "InvalidPart",
                            "One or more of the specified parts could not be found or the "
                            "specified entity tag might not have matched the part's entity tag.",
                            PartNumber=str(n),
                        )
                    chosen.append(part)
            for part in chosen[:-1]:
                if part.size < MIN_PART_SIZE:
                    raise OSSServiceError(
                        400,
                        "EntityTooSmall",
                        "Your proposed upload is smaller than the minimum allowed size.",
                        PartNumber=str(part.number),
                        MinSizeAllowed=str(MIN_PART_SIZE),
                    )
            del bucket.uploads[upload_id]
        crc = 0
        md5s = b""
        size = 0
        if bucket.directory is not None:
            path = self._tmp_path(bucket)
            with open(path, "wb") as out:
                for part in chosen:
                    with open(part.path, "rb") as src:
                        for chunk in iter(lambda s=src: s.read(CHUNK), b""):
                            crc = crc64(chunk, crc)
                            out.write(chunk)
                    md5s += part.md5
                    size += part.size
            body = Ingested(size, b"", crc, path=path)
        else:
            data = b"".join(p.data for p in chosen)
            for p in chosen:
                md5s += p.md5
            crc = crc64(data)
            size = len(data)
            body = Ingested(size, b"", crc, data=data)
        etag = f"{hashlib.md5(md5s).hexdigest().upper()}-{len(chosen)}"
        rec = ObjectRecord.from_body(
            key,
            body,
            etag=etag,
            content_type=upload.content_type,
            object_type="Multipart",
            meta=upload.meta,
            tags=upload.tags,
            acl=upload.acl,
            storage_class=upload.storage_class,
        )
        try:
            with bucket.lock:
                return self._commit(bucket, rec, body, forbid_overwrite)
        finally:
            if upload.directory:
                shutil.rmtree(upload.directory, ignore_errors=True)
