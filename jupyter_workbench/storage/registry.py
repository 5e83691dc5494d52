"""The mount registry: named mounts persisted as JSON in the workbench state directory.

The state directory is ``$JUPYTER_WORKBENCH_STATE_DIR`` if set, else
``<jupyter_data_dir()>/workbench``; the server, the CLI and every kernel of the same user find
the same registry there. It holds::

    mounts.json        mounts (name, url, options without secrets, read_only) and the server's
                       settings (mount_dir, allowed_local_roots) so that kernels can use them
    credentials.json   secrets by mount name, mode 0600 (see credentials.py)

Removing a mount forgets it; nothing on the storage is ever deleted.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..atomic import write_json_atomic
from ..state import ENV_STATE_DIR, default_state_dir  # noqa: F401 - part of the storage API
from ._files import ensure_private_dir, locked, read_json
from .backends import parse_mount_url
from .credentials import CredentialStore
from .errors import MountExistsError, MountNotFoundError, UnsupportedMountError
from .urls import MountTarget, validate_mount_name

log = logging.getLogger(__name__)

ENV_MOUNT_DIR = "JUPYTER_WORKBENCH_MOUNT_DIR"
REGISTRY_FILE = "mounts.json"


@dataclass(frozen=True)
class Mount:
    """A registered mount. It holds no secrets, only the names of the secret options it has."""

    name: str
    url: str
    protocol: str
    root: str
    location: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    read_only: bool = False
    secret_options: tuple = ()
    created_at: str = ""

    def to_dict(self) -> dict:
        """JSON-ready description (what the REST API returns, plus local_path from the registry)."""
        return {
            "name": self.name,
            "url": self.url,
            "protocol": self.protocol,
            "options": dict(self.options),
            "read_only": self.read_only,
            "secret_options": list(self.secret_options),
            "created_at": self.created_at,
        }

    def _record(self) -> dict:
        return {**self.to_dict(), "root": self.root, "location": dict(self.location)}

    @classmethod
    def _from_record(cls, data: dict) -> Mount:
        return cls(
            name=data["name"],
            url=data["url"],
            protocol=data["protocol"],
            root=data.get("root", ""),
            location=dict(data.get("location") or {}),
            options=dict(data.get("options") or {}),
            read_only=bool(data.get("read_only", False)),
            secret_options=tuple(data.get("secret_options") or ()),
            created_at=data.get("created_at", ""),
        )

    @classmethod
    def from_target(cls, name: str, target: MountTarget, read_only: bool = False) -> Mount:
        return cls(
            name=name,
            url=target.url,
            protocol=target.protocol,
            root=target.root,
            location=dict(target.location),
            options=dict(target.options),
            read_only=bool(read_only),
            secret_options=tuple(sorted(target.secrets)),
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )


class MountRegistry:
    """Add, list, get and remove mounts; build their filesystems.

    ``allowed_local_roots`` and ``mount_dir`` given here (the server passes its configuration)
    take precedence over, and are recorded into, the registry file by ``configure()``; a kernel
    constructs ``MountRegistry()`` and reads them from the file.
    """

    def __init__(self, state_dir: str | os.PathLike | None = None):
        self.state_dir = Path(state_dir).expanduser() if state_dir else default_state_dir()
        self.path = self.state_dir / REGISTRY_FILE
        self.credentials = CredentialStore(self.state_dir / "credentials.json")
        self._lock_path = self.state_dir / ".lock"

    def __repr__(self) -> str:
        return f"MountRegistry({str(self.state_dir)!r})"

    # ---------------------------------------------------------------- file

    def _read(self) -> dict:
        data = read_json(self.path, {})
        if not isinstance(data, dict):
            log.warning("Ignoring malformed mount registry %s", self.path)
            data = {}
        data.setdefault("version", 1)
        data.setdefault("settings", {})
        data.setdefault("mounts", {})
        return data

    def _write(self, data: dict) -> None:
        ensure_private_dir(self.state_dir)
        write_json_atomic(self.path, data, mode=0o600)

    # ---------------------------------------------------------------- settings

    def configure(
        self,
        *,
        mount_dir: str | os.PathLike | None = None,
        allowed_local_roots=None,
    ) -> None:
        """Record the server's settings so that kernels and the CLI use the same ones."""
        ensure_private_dir(self.state_dir)
        with locked(self._lock_path):
            data = self._read()
            settings = data["settings"]
            if mount_dir is not None:
                settings["mount_dir"] = os.path.abspath(os.fspath(mount_dir))
            if allowed_local_roots is not None:
                settings["allowed_local_roots"] = [
                    os.path.realpath(os.path.expanduser(os.fspath(r))) for r in allowed_local_roots
                ]
            self._write(data)

    @property
    def settings(self) -> dict:
        return dict(self._read()["settings"])

    @property
    def allowed_local_roots(self) -> list[str]:
        return list(self.settings.get("allowed_local_roots") or [])

    @property
    def mount_dir(self) -> Path | None:
        value = os.environ.get(ENV_MOUNT_DIR) or self.settings.get("mount_dir")
        return Path(value) if value else None

    # ---------------------------------------------------------------- mounts

    def list(self) -> list[Mount]:
        mounts = self._read()["mounts"]
        return [Mount._from_record(mounts[n]) for n in sorted(mounts)]

    def names(self) -> list[str]:
        return sorted(self._read()["mounts"])

    def __contains__(self, name) -> bool:
        return name in self._read()["mounts"]

    def get(self, name: str) -> Mount:
        validate_mount_name(name)
        record = self._read()["mounts"].get(name)
        if record is None:
            known = ", ".join(self.names()) or "none"
            raise MountNotFoundError(f"No mount named {name!r} (mounts: {known}).")
        return Mount._from_record(record)

    def add(
        self,
        name: str,
        url: str,
        options: dict | None = None,
        read_only: bool = False,
        *,
        check: bool = False,
        replace: bool = False,
        allowed_local_roots=None,
    ) -> Mount:
        """Validate and register a mount; its secrets go to the credential store.

        ``check=True`` first connects to the store and lists the mount's root, so that a wrong
        key, a missing bucket or an unreachable endpoint fails here with a clear error and
        nothing is saved. ``allowed_local_roots`` defaults to the recorded setting.
        """
        validate_mount_name(name)
        roots = self.allowed_local_roots if allowed_local_roots is None else allowed_local_roots
        target = parse_mount_url(url, options, allowed_local_roots=roots)
        mount = Mount.from_target(name, target, read_only)
        if not replace and name in self:
            raise MountExistsError(
                f"A mount named {name!r} already exists; remove it first or choose another name."
            )
        if check:
            from .backends import check_mount

            check_mount(mount, target.secrets, allowed_local_roots=roots, state_dir=self.state_dir)
        ensure_private_dir(self.state_dir)
        with locked(self._lock_path):
            data = self._read()
            if not replace and name in data["mounts"]:
                raise MountExistsError(f"A mount named {name!r} already exists.")
            self.credentials.set(name, target.secrets)
            data["mounts"][name] = mount._record()
            try:
                self._write(data)
            except BaseException:
                self.credentials.delete(name)
                raise
        log.info("Added mount %s (%s)", name, mount.url)
        return mount

    def remove(self, name: str) -> Mount:
        """Forget a mount and its secrets. Nothing on the storage is deleted."""
        validate_mount_name(name)
        with locked(self._lock_path):
            data = self._read()
            record = data["mounts"].pop(name, None)
            if record is None:
                raise MountNotFoundError(f"No mount named {name!r}.")
            self._write(data)
            self.credentials.delete(name)
        mount = Mount._from_record(record)
        from .backends import release_mount

        release_mount(mount, state_dir=self.state_dir)
        log.info("Removed mount %s", name)
        return mount

    # ---------------------------------------------------------------- use

    def filesystem(self, name: str):
        """The fsspec filesystem rooted at mount ``name`` (see backends.filesystem_for)."""
        from .backends import filesystem_for

        mount = self.get(name)
        return filesystem_for(
            mount,
            self.credentials.get(name),
            allowed_local_roots=self.allowed_local_roots,
            state_dir=self.state_dir,
        )

    def local_path(self, name: str) -> Path:
        """Where the file browser (and FUSE, where available) shows mount ``name``."""
        self.get(name)
        mount_dir = self.mount_dir
        if mount_dir is None:
            raise UnsupportedMountError(
                "The mount directory is not known yet: start the workbench server once "
                f"(it records it) or set {ENV_MOUNT_DIR}."
            )
        return mount_dir / name

    def describe(self, mount: Mount) -> dict:
        """``mount.to_dict()`` plus ``local_path`` (or None) and ``has_credentials``."""
        out = mount.to_dict()
        mount_dir = self.mount_dir
        out["local_path"] = str(mount_dir / mount.name) if mount_dir else None
        out["has_credentials"] = bool(mount.secret_options)
        return out
