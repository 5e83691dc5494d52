"""The credential store: secrets (OSS secret, STS token, SMB password, ...) by mount name.

One JSON file, mode 0600, in the state directory. It is written atomically and created with its
final mode, so it is never world-readable, not even briefly. Nothing else in the workbench
stores a secret: the registry keeps only the names of the secret options a mount has.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from ..atomic import write_json_atomic
from ._files import ensure_private_dir, locked, read_json

log = logging.getLogger(__name__)

FILE_NAME = "credentials.json"


class CredentialStore:
    """Secrets by mount name. ``get`` returns a copy; values never appear in repr or logs."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock_path = self.path.with_name(".lock")

    def __repr__(self) -> str:
        return f"CredentialStore({str(self.path)!r})"

    def _load(self) -> dict:
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return {}
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            # Someone loosened it: tighten again rather than keep serving a readable secret.
            log.warning(
                "Credential store %s was accessible to others; resetting to 0600", self.path
            )
            os.chmod(self.path, 0o600)
        data = read_json(self.path, {})
        mounts = data.get("mounts", {}) if isinstance(data, dict) else {}
        return mounts if isinstance(mounts, dict) else {}

    def _save(self, mounts: dict) -> None:
        ensure_private_dir(self.path.parent)
        write_json_atomic(self.path, {"version": 1, "mounts": mounts}, mode=0o600)

    def get(self, name: str) -> dict:
        """The secrets stored for mount ``name`` ({} when none)."""
        return dict(self._load().get(name) or {})

    def names(self) -> list[str]:
        return sorted(self._load())

    def values(self) -> list[str]:
        """Every stored secret value (to scrub from what is shown elsewhere, e.g. job logs)."""
        return [
            v
            for secrets in self._load().values()
            if isinstance(secrets, dict)
            for v in secrets.values()
            if isinstance(v, str) and v
        ]

    def set(self, name: str, secrets: dict) -> None:
        """Replace the secrets of ``name`` (an empty dict removes them)."""
        ensure_private_dir(self.path.parent)
        with locked(self._lock_path):
            mounts = self._load()
            if secrets:
                mounts[name] = dict(secrets)
            elif name in mounts:
                del mounts[name]
            else:
                return
            self._save(mounts)

    def delete(self, name: str) -> None:
        self.set(name, {})
