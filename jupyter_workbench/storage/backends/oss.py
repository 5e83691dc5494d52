"""oss:// (Alibaba Cloud OSS): ``WorkbenchOSSFileSystem`` (ossfix.py, ossfs's API over oss2).

Credentials come from the credential store, else OSS_ACCESS_KEY_ID / OSS_ACCESS_KEY_SECRET
(/ OSS_SESSION_TOKEN), else anonymous access (public buckets), or from a refreshing STS
source (sts.py); the endpoint from the ``endpoint`` option or OSS_ENDPOINT. One page of a
listing is one ListObjects call; files written front to back through FUSE stream up as a
multipart upload (oss_stream.py).
"""

from __future__ import annotations

import os
import re

from ..compute import computing
from ..errors import InvalidMountError
from ..urls import normalize_endpoint, redacted, split_url
from .base import check_not_file, entry, unwrap
from .objectstore import ObjectStoreBackend

FSSPEC_CLASS = "jupyter_workbench.storage.ossfix.WorkbenchOSSFileSystem"


class OSSBackend(ObjectStoreBackend):
    protocols = ("oss",)
    bucket_re = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
    bucket_rule = (
        "3-63 lower-case letters, digits and '-', starting and ending with a letter or digit."
    )
    schema = {
        "endpoint": str,
        "key": str,
        "secret": str,
        "token": str,
        "anonymous": bool,
        "connect_timeout": float,
        "read_timeout": float,
        "retries": int,
        "call_budget": float,
        "listings_expiry_time": float,
        "credentials_file": str,
        "credentials_command": str,
        "ram_role_endpoint": str,
        "block_size": int,
    }
    aliases = {
        "access_key_id": "key",
        "access_key_secret": "secret",
        "security_token": "token",
        "anon": "anonymous",
    }

    def parse(self, protocol, url, options, *, allowed_local_roots=None):
        host, prefix, public, secrets = self.parse_bucket_url(
            split_url(url), redacted(url), options
        )
        if "endpoint" in public:
            public["endpoint"] = normalize_endpoint(public["endpoint"])
        elif not os.environ.get("OSS_ENDPOINT"):
            raise InvalidMountError(
                "oss:// mounts need an 'endpoint' option (for example "
                "https://oss-cn-hangzhou.aliyuncs.com) or the OSS_ENDPOINT environment variable."
            )
        if ("key" in secrets) != ("secret" in secrets):
            raise InvalidMountError(
                "OSS credentials need both 'key' (AccessKey ID) and 'secret' (AccessKey secret)."
            )
        if "token" in secrets and "key" not in secrets:
            raise InvalidMountError("An STS 'token' needs the temporary 'key' and 'secret' too.")
        return self.bucket_target(host, prefix, public, secrets)

    def filesystem(self, mount, secrets, *, allowed_local_roots=None, state_dir=None):
        from ..ossfix import WorkbenchOSSFileSystem
        from ..sts import SOURCE_OPTIONS, RefreshingCredentials

        opts = dict(mount.options)
        anonymous = opts.pop("anonymous", False)
        endpoint = opts.pop("endpoint", None) or os.environ.get("OSS_ENDPOINT")
        if not endpoint:
            raise InvalidMountError(
                f"Mount {mount.name!r} has no OSS endpoint: add the 'endpoint' option or set "
                "OSS_ENDPOINT."
            )
        key, secret, token = secrets.get("key"), secrets.get("secret"), secrets.get("token")
        if not key and not os.environ.get("OSS_ACCESS_KEY_SECRET"):
            anonymous = True  # no stored key and no usable environment: public buckets only
        names = ("connect_timeout", "read_timeout", "retries", "call_budget")
        kwargs = {k: opts[k] for k in (*names, "listings_expiry_time") if k in opts}
        if "block_size" in opts:
            kwargs["default_block_size"] = opts["block_size"]
        # The source options count as secrets (a command line may hold one): they come from
        # the 0600 credential store like keys do.
        sources = {k: opts.get(k) or secrets.get(k) for k in SOURCE_OPTIONS}
        sources = {k: v for k, v in sources.items() if v}
        if sources:  # a refreshing STS source instead of fixed keys (storage/sts.py)
            kwargs["credentials_provider"] = RefreshingCredentials(**sources)
            key = secret = token = None
            anonymous = False
        # Without stored credentials, WorkbenchOSSFileSystem reads OSS_ACCESS_KEY_ID/SECRET.
        fs = WorkbenchOSSFileSystem(
            endpoint=endpoint, key=key, secret=secret, token=token or None, anon=anonymous, **kwargs
        )
        return fs, mount.root

    def register_fsspec(self) -> None:
        """Make ``oss://`` URLs in fsspec (``fsspec.open``, ``url_to_fs``, pandas) use the fixed
        filesystem instead of stock ossfs (which corrupts multi-block writes). Idempotent and
        cheap: fsspec imports the class (and oss2) only when an ``oss://`` URL is first opened."""
        import fsspec

        if "oss" in fsspec.registry:  # a class was imported already: a name would not replace it
            from ..ossfix import WorkbenchOSSFileSystem

            fsspec.register_implementation("oss", WorkbenchOSSFileSystem, clobber=True)
        else:
            fsspec.register_implementation("oss", FSSPEC_CLASS, clobber=True)

    def list_page(self, fs, rel, page_size, marker):
        inner, full = unwrap(fs, rel)
        norm = inner._strip_protocol(full).strip("/")
        bucket, key = inner.split_path(norm)
        prefix = f"{key}/" if key else ""
        res = inner.list_objects_page(bucket, prefix, "/", marker or "", page_size)
        entries, has_marker = [], False
        with computing():  # per-entry work: one thread of the process at a time
            for obj in res.object_list:
                if obj.key == prefix:
                    has_marker = True
                    continue
                name = obj.key[len(prefix) :]
                entries.append(entry(name, rel, "file", obj.size, obj.last_modified))
            for p in res.prefix_list:
                entries.append(entry(p[len(prefix) :].rstrip("/"), rel, "directory", 0, None))
            entries.sort(key=lambda e: e["name"])
        next_marker = res.next_marker if res.is_truncated else None
        if not entries and not marker and not has_marker and not res.is_truncated and key:
            check_not_file(inner, norm)
        return entries, next_marker

    def streaming_writer(self, fs):
        from .oss_stream import StreamingUpload

        inner, _ = unwrap(fs)
        block = getattr(inner, "_default_block_size", 8 * 2**20)

        def start(rel: str) -> StreamingUpload:
            return StreamingUpload(inner, unwrap(fs, rel)[1], block)

        return start
