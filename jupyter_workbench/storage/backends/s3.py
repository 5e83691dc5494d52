"""s3:// (and s3a://): s3fs. Credentials from the store, else botocore's usual chain; one page
of a listing is one ListObjectsV2 call."""

from __future__ import annotations

import re

from ..errors import StorageUnavailableError, UnsupportedMountError
from ..urls import normalize_endpoint, redacted, split_url
from .base import check_not_file, entry, unwrap
from .objectstore import ObjectStoreBackend


class S3Backend(ObjectStoreBackend):
    protocols = ("s3", "s3a")
    bucket_re = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    bucket_rule = "3-63 lower-case letters, digits, '.' and '-'."
    schema = {
        "endpoint_url": str,
        "region": str,
        "key": str,
        "secret": str,
        "token": str,
        "anon": bool,
        "connect_timeout": float,
        "read_timeout": float,
        "retries": int,
    }
    aliases = {
        "endpoint": "endpoint_url",
        "aws_access_key_id": "key",
        "aws_secret_access_key": "secret",
    }

    def parse(self, protocol, url, options, *, allowed_local_roots=None):
        host, prefix, public, secrets = self.parse_bucket_url(
            split_url(url), redacted(url), options
        )
        if "endpoint_url" in public:
            public["endpoint_url"] = normalize_endpoint(public["endpoint_url"], "endpoint_url")
        return self.bucket_target(host, prefix, public, secrets)

    def filesystem(self, mount, secrets, *, allowed_local_roots=None, state_dir=None):
        try:
            import s3fs
        except ImportError:
            raise UnsupportedMountError(
                "s3:// mounts need the s3fs package: pip install s3fs"
            ) from None
        opts = dict(mount.options)
        kwargs: dict = {"anon": bool(opts.get("anon", False))}
        for k in ("key", "secret", "token"):
            if secrets.get(k):
                kwargs[k] = secrets[k]
        if opts.get("endpoint_url"):
            kwargs["endpoint_url"] = opts["endpoint_url"]
        if opts.get("region"):
            kwargs["client_kwargs"] = {"region_name": opts["region"]}
        # Bounded like oss:// (a hung endpoint fails within 30 s): botocore retries once; s3fs's
        # own retry loop (5 attempts by default, on top of botocore's) is turned off.
        retries = int(opts.get("retries", 1))
        kwargs["config_kwargs"] = {
            "connect_timeout": opts.get("connect_timeout", 5.0),
            "read_timeout": opts.get("read_timeout", 12.0),
            "retries": {"max_attempts": 1 + retries, "mode": "standard"},
        }
        fs = s3fs.S3FileSystem(**kwargs)
        fs.retries = 1
        return fs, mount.root

    def list_page(self, fs, rel, page_size, marker):
        inner, full = unwrap(fs, rel)
        norm = inner._strip_protocol(full).strip("/")
        bucket, _, key = norm.partition("/")
        prefix = f"{key}/" if key else ""
        kwargs = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/", "MaxKeys": page_size}
        if marker:
            kwargs["ContinuationToken"] = marker
        try:
            res = inner.call_s3("list_objects_v2", **kwargs)
        except (OSError, ValueError):
            raise
        except Exception as e:  # botocore's connection errors are not OSErrors
            raise StorageUnavailableError(f"Could not list s3://{norm}: {e}") from None
        entries, has_marker = [], False
        for obj in res.get("Contents", []):
            if obj["Key"] == prefix:
                has_marker = True
                continue
            name = obj["Key"][len(prefix) :]
            entries.append(entry(name, rel, "file", obj.get("Size"), obj.get("LastModified")))
        for p in res.get("CommonPrefixes", []):
            entries.append(entry(p["Prefix"][len(prefix) :].rstrip("/"), rel, "directory", 0, None))
        entries.sort(key=lambda e: e["name"])
        next_marker = res.get("NextContinuationToken") if res.get("IsTruncated") else None
        if not entries and not marker and not has_marker and not next_marker and key:
            check_not_file(inner, norm)
        return entries, next_marker
