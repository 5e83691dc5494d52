"""smb:// (Windows shares, Samba): ``WorkbenchSMBFileSystem`` (smbfix.py: fsspec's
SMBFileSystem with a session per mount; needs smbprotocol)."""

from __future__ import annotations

from ..errors import (
    InvalidMountError,
    StorageCredentialsError,
    StorageUnavailableError,
    UnsupportedMountError,
)
from ..urls import (
    HOST_RE,
    MountTarget,
    apply_schema,
    clean_prefix,
    redacted,
    reject_query,
    split_netloc,
    split_url,
)
from .base import Backend


class SMBBackend(Backend):
    protocols = ("smb",)
    schema = {"username": str, "password": str, "port": int, "timeout": float, "encrypt": bool}
    aliases = {"user": "username"}

    def parse(self, protocol, url, options, *, allowed_local_roots=None):
        shown = redacted(url)
        u = split_url(url)
        reject_query(u, shown)
        user, password, hostport = split_netloc(u.netloc)
        host, _, port = hostport.partition(":")
        if hostport.startswith("["):
            host, _, rest = hostport.partition("]")
            host += "]"
            port = rest.lstrip(":")
        if not host or not HOST_RE.match(host):
            raise InvalidMountError(f"SMB server {host!r} in {shown!r} is not valid.")
        parts = clean_prefix(u.path, shown).split("/", 1)
        share = parts[0]
        if not share:
            raise InvalidMountError(f"SMB URL {shown!r} needs a share: smb://server/share[/path].")
        sub = parts[1] if len(parts) > 1 else ""
        public, secrets = apply_schema("smb", options, self.schema, self.aliases)
        if user:
            public.setdefault("username", user)
        if password:
            secrets.setdefault("password", password)
        if port:
            if not port.isdigit() or not 0 < int(port) < 65536:
                raise InvalidMountError(f"SMB port {port!r} in {shown!r} is not valid.")
            public.setdefault("port", int(port))
        root = f"/{share}/{sub}" if sub else f"/{share}"
        port_part = f":{public['port']}" if "port" in public else ""
        return MountTarget(
            "smb",
            f"smb://{host}{port_part}{root}",
            root,
            {"host": host, "share": share, "path": sub},
            public,
            secrets,
        )

    def filesystem(self, mount, secrets, *, allowed_local_roots=None, state_dir=None):
        try:
            import smbprotocol.exceptions as smb_errors

            from ..smbfix import WorkbenchSMBFileSystem
        except ImportError:
            raise UnsupportedMountError(
                "smb:// mounts need the smbprotocol package: pip install smbprotocol"
            ) from None
        opts = dict(mount.options)
        host = mount.location["host"]
        try:
            fs = WorkbenchSMBFileSystem(
                host=host.strip("[]"),
                port=opts.get("port"),
                username=opts.get("username"),
                password=secrets.get("password"),
                timeout=opts.get("timeout", 10),
                encrypt=opts.get("encrypt"),
                register_session_retries=0,
                skip_instance_cache=True,
            )
        except (smb_errors.SMBAuthenticationError, smb_errors.LogonFailure) as e:
            raise StorageCredentialsError(
                f"The SMB server {host} rejected the username or password: {e}", "LogonFailure"
            ) from None
        except (ValueError, OSError, smb_errors.SMBException) as e:
            raise StorageUnavailableError(
                f"Could not connect to the SMB server {host}: {e}"
            ) from None
        return fs, mount.root
