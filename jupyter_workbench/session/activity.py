"""The session clock: when a browser session expires, and which requests count as activity.

A browser session carries two times inside its signed login cookie: ``login_at`` (when the
user logged in; only a new login moves it) and ``active_at`` (the last real user activity).
``SessionPolicy`` turns them into expiry times. No Jupyter imports: the identity provider,
the REST handler and the tests share this logic.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

# Requests that change state are something the user did (save, run, rename, open a
# notebook); GETs are what the page polls in the background and never keep a session alive.
ACTIVITY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# State-changing requests the page sends on its own: JupyterLab saves its layout
# (workspace) every few seconds after a notebook ran or changed, with nobody at the keyboard.
BACKGROUND_PATHS = ("/lab/api/workspaces",)

# A cookie time further in the future than this is not ours (clock jumps, tampering).
_CLOCK_SKEW = 300.0


def is_user_activity(method: str, path: str = "") -> bool:
    """Whether a request (HTTP method, URL path) is user activity that resets the idle clock."""
    if method.upper() not in ACTIVITY_METHODS:
        return False
    return not any(p in path for p in BACKGROUND_PATHS)


@dataclass(frozen=True)
class SessionTimes:
    """The two clocks of one browser session (epoch seconds)."""

    login_at: float
    active_at: float

    @classmethod
    def new_login(cls, now: float | None = None) -> SessionTimes:
        now = time.time() if now is None else now
        return cls(login_at=now, active_at=now)

    def touched(self, now: float | None = None) -> SessionTimes:
        """The same login, with activity now (the absolute clock never moves)."""
        now = time.time() if now is None else now
        return SessionTimes(self.login_at, max(self.active_at, now))

    def to_fields(self) -> dict[str, float]:
        return {"login_at": round(self.login_at, 3), "active_at": round(self.active_at, 3)}

    @classmethod
    def from_fields(cls, data: dict, now: float | None = None) -> SessionTimes:
        """Read the times stored in a cookie; ValueError when missing or implausible."""
        now = time.time() if now is None else now
        try:
            login_at = float(data["login_at"])
            active_at = float(data["active_at"])
        except (KeyError, TypeError, ValueError):
            raise ValueError("the login cookie carries no session times") from None
        if not (math.isfinite(login_at) and math.isfinite(active_at)):
            raise ValueError("the login cookie's session times are not numbers")
        if login_at > now + _CLOCK_SKEW or active_at > now + _CLOCK_SKEW:
            raise ValueError("the login cookie's session times are in the future")
        if active_at < login_at:
            raise ValueError("the login cookie's activity predates its login")
        return cls(login_at, active_at)


@dataclass(frozen=True)
class SessionPolicy:
    """``c.Workbench.session_*``: timeouts in seconds (0 = off)."""

    absolute_timeout: int = 10800
    idle_timeout: int = 0
    warning: int = 300

    def expires_at(self, times: SessionTimes) -> float | None:
        if self.absolute_timeout <= 0:
            return None
        return times.login_at + self.absolute_timeout

    def idle_expires_at(self, times: SessionTimes) -> float | None:
        if self.idle_timeout <= 0:
            return None
        return times.active_at + self.idle_timeout

    def expiry_reason(self, times: SessionTimes, now: float | None = None) -> str | None:
        """``"absolute"`` or ``"idle"`` when the session has expired, else None."""
        now = time.time() if now is None else now
        expires = self.expires_at(times)
        if expires is not None and now >= expires:
            return "absolute"
        idle = self.idle_expires_at(times)
        if idle is not None and now >= idle:
            return "idle"
        return None

    def describe(self, times: SessionTimes | None, now: float | None = None) -> dict:
        """The time fields of ``GET workbench/api/session`` (times None: a token client)."""
        now = time.time() if now is None else now
        return {
            "login_at": times.login_at if times else None,
            "active_at": times.active_at if times else None,
            "expires_at": self.expires_at(times) if times else None,
            "idle_expires_at": self.idle_expires_at(times) if times else None,
            "absolute_timeout": self.absolute_timeout,
            "idle_timeout": self.idle_timeout,
            "warning": self.warning,
            "now": now,
        }
