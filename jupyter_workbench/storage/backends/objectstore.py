"""What object stores (oss://, s3://) share: ``bucket[/prefix]`` URLs with credentials allowed
in the user info, conditional create, and a mount of a not-yet-created prefix."""

from __future__ import annotations

import re

from ..errors import InvalidMountError
from ..urls import MountTarget, apply_schema, clean_prefix, reject_query, split_netloc
from .base import Backend


class ObjectStoreBackend(Backend):
    """A bucket of keys. Subclasses set ``bucket_re``/``bucket_rule`` and the option schema."""

    object_store = True
    conditional_create = True  # pipe_file(mode="create"): x-oss-forbid-overwrite, If-None-Match
    url_credentials = True
    bucket_re: re.Pattern = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    bucket_rule = ""
    schema: dict[str, type] = {}
    aliases: dict[str, str] = {}

    def parse_bucket_url(self, u, url: str, options: dict):
        """(bucket, prefix, public options, secrets) of an object-store URL; key/secret may
        come from the URL's user info (``oss://AK:SK@bucket``) unless given as options."""
        reject_query(u, url)
        user, password, host = split_netloc(u.netloc)
        if not self.bucket_re.match(host):
            raise InvalidMountError(
                f"{self.name.upper()} bucket name {host!r} in {url!r} is not valid: "
                f"{self.bucket_rule}"
            )
        prefix = clean_prefix(u.path, url)
        public, secrets = apply_schema(self.name, options, self.schema, self.aliases)
        if user:
            secrets.setdefault("key", user)
        if password:
            secrets.setdefault("secret", password)
        return host, prefix, public, secrets

    def bucket_target(self, bucket: str, prefix: str, public, secrets) -> MountTarget:
        root = f"{bucket}/{prefix}" if prefix else bucket
        return MountTarget(
            self.name,
            f"{self.name}://{root}",
            root,
            {"bucket": bucket, "prefix": prefix},
            public,
            secrets,
        )

    def probe(self, mount, fs) -> None:
        try:
            super().probe(mount, fs)
        except FileNotFoundError:
            if not mount.location.get("prefix"):
                raise
            # An empty prefix of an object store is fine (the first write creates it) as long
            # as the bucket itself is there.
            from .mountfs import MountFileSystem

            super().probe(mount, MountFileSystem(mount.location["bucket"], fs.fs))
