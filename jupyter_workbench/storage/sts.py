"""Credentials that refresh: STS tokens from a file, a command or an ECS RAM-role endpoint.

A mount's options may name a source instead of fixed keys:

``credentials_file``     a JSON file ``{"AccessKeyId", "AccessKeySecret", "SecurityToken",
                         "Expiration"}`` (what ``aliyun sts AssumeRole`` and most credential
                         helpers write); re-read before ``Expiration``
``credentials_command``  a command (split like a shell would, run without one) that prints
                         that JSON on stdout
``ram_role_endpoint``    an ECS RAM-role metadata URL, e.g.
                         ``http://100.100.100.200/latest/meta-data/ram/security-credentials/ROLE``
                         (the answer carries the same fields)

:class:`RefreshingCredentials` is an oss2 credentials provider (``oss2.ProviderAuth``): every
request asks it for the current triple; it fetches a new one ``refresh_margin`` seconds (at most
a quarter of the token's lifetime) before its expiry (without an ``Expiration``: every
``max_age`` seconds), and at once after the store rejected the token (``refresh(force=True)``;
the filesystem then repeats the call once). FUSE helpers receive the source, never the secrets,
and read it themselves. The source options live in the 0600 credential store. Secrets from
any source follow the store's rules: never in a repr, a log line or an error message.
"""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import threading
import time
import urllib.request
from datetime import datetime, timezone

import oss2

from .errors import StorageCredentialsError

log = logging.getLogger(__name__)

SOURCE_OPTIONS = ("credentials_file", "credentials_command", "ram_role_endpoint")
COMMAND_TIMEOUT = 30.0
ENDPOINT_TIMEOUT = 5.0


def _parse_expiration(value) -> float | None:
    if not value:
        return None
    text = str(value).strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise StorageCredentialsError(
            f"The credentials' Expiration {value!r} is not an ISO 8601 time.", "BadCredentials"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


class RefreshingCredentials(oss2.credentials.CredentialsProvider):
    """The current STS triple of one source (file, command or RAM-role endpoint)."""

    def __init__(
        self,
        *,
        credentials_file: str | None = None,
        credentials_command: str | None = None,
        ram_role_endpoint: str | None = None,
        refresh_margin: float = 300.0,
        max_age: float = 900.0,
    ):
        given = [
            (k, v)
            for k, v in (
                ("credentials_file", credentials_file),
                ("credentials_command", credentials_command),
                ("ram_role_endpoint", ram_role_endpoint),
            )
            if v
        ]
        if len(given) != 1:
            raise StorageCredentialsError(
                "Give exactly one of credentials_file, credentials_command or ram_role_endpoint.",
                "BadCredentials",
            )
        self.kind, self.source = given[0]
        self.refresh_margin = float(refresh_margin)
        self.max_age = float(max_age)
        self._lock = threading.Lock()
        self._current: oss2.credentials.Credentials | None = None
        self._expires: float | None = None
        self._fetched = 0.0
        self.refreshes = 0  # how many times a triple was fetched (for tests and diagnostics)

    def __getstate__(self) -> dict:
        # Sent to FUSE helpers: the source travels, never the secrets it gave (re-read there).
        state = dict(self.__dict__)
        state.update(_lock=None, _current=None, _expires=None, _fetched=0.0)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # the source, never what it gave
        return f"RefreshingCredentials({self.kind}={self.source!r})"

    # ------------------------------------------------------------------ oss2's interface

    def get_credentials(self) -> oss2.credentials.Credentials:
        with self._lock:
            if self._current is None or self._stale():
                self._load()
            return self._current

    def refresh(self, force: bool = True) -> None:
        """Fetch a new triple now (after the store said the token expired or is invalid)."""
        with self._lock:
            if force or self._current is None or self._stale():
                self._load()

    @property
    def expires_at(self) -> float | None:
        return self._expires

    # ------------------------------------------------------------------ internals

    def _stale(self) -> bool:
        now = time.time()
        if self._expires is not None:
            # Refresh refresh_margin before expiry, or at 3/4 of a short token's lifetime.
            margin = min(self.refresh_margin, max(0.0, self._expires - self._fetched) / 4)
            return now >= self._expires - margin
        return now - self._fetched >= self.max_age

    def _load(self) -> None:
        data = self._read()
        missing = [k for k in ("AccessKeyId", "AccessKeySecret") if not data.get(k)]
        if missing:
            raise StorageCredentialsError(
                f"The credentials from {self.kind} {self.source!r} lack {', '.join(missing)}.",
                "BadCredentials",
            )
        self._current = oss2.credentials.Credentials(
            data["AccessKeyId"], data["AccessKeySecret"], data.get("SecurityToken") or ""
        )
        self._expires = _parse_expiration(data.get("Expiration"))
        self._fetched = time.time()
        self.refreshes += 1
        log.debug("Fetched credentials from %s (expire %s)", self.kind, data.get("Expiration"))

    def _read(self) -> dict:
        try:
            if self.kind == "credentials_file":
                with open(self.source, encoding="utf-8") as f:
                    text = f.read()
            elif self.kind == "credentials_command":
                proc = subprocess.run(
                    shlex.split(self.source),
                    capture_output=True,
                    text=True,
                    timeout=COMMAND_TIMEOUT,
                    check=False,
                )
                if proc.returncode != 0:
                    raise StorageCredentialsError(
                        f"The credentials command {self.source!r} failed (exit {proc.returncode}).",
                        "BadCredentials",
                    )
                text = proc.stdout
            else:
                with urllib.request.urlopen(self.source, timeout=ENDPOINT_TIMEOUT) as r:  # noqa: S310
                    text = r.read().decode("utf-8")
        except StorageCredentialsError:
            raise
        except (OSError, subprocess.SubprocessError) as e:
            raise StorageCredentialsError(
                f"Could not read credentials from {self.kind} {self.source!r}: {type(e).__name__}.",
                "BadCredentials",
            ) from None
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("Credentials"), dict):
            data = data["Credentials"]  # the whole AssumeRole answer
        if not isinstance(data, dict):
            raise StorageCredentialsError(
                f"The credentials from {self.kind} {self.source!r} are not a JSON object.",
                "BadCredentials",
            )
        return data
