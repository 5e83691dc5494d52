"""The browser-session clocks both workbench identity providers apply (the password one in
``identity`` and JupyterHub's in ``hub``): the policy in force and the check of one request.

Its own module so that ``hub`` (imported only under JupyterHub) and ``identity`` share it without
importing each other.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from traitlets import Int
from traitlets.config import Config, DeferredConfig

from .activity import SessionPolicy, SessionTimes, is_user_activity

# The request's SessionTimes, set on the handler by the provider (read by ``session_reply``).
SESSION_ATTR = "_workbench_session"
# Why the request's browser session was refused ("absolute", "idle" or "logout"); absent
# otherwise.
EXPIRED_ATTR = "_workbench_session_expired"


def policy_from_config(config: Config) -> SessionPolicy:
    """``c.Workbench.session_*`` read from a config object (before the extension has started;
    the defaults are ``SessionPolicy``'s, which the ``Workbench`` traits share)."""
    defaults = SessionPolicy()
    section = config.get("Workbench", {}) if config else {}
    values: dict[str, int] = {}
    for field, name in (
        ("absolute_timeout", "session_absolute_timeout"),
        ("idle_timeout", "session_idle_timeout"),
        ("warning", "session_warning"),
    ):
        value: Any = section.get(name, getattr(defaults, field))
        if isinstance(value, DeferredConfig):  # from the command line, not yet typed
            value = value.get_value(Int())
        values[field] = int(value)
    return SessionPolicy(**values)


def session_policy(handler: Any, config: Config | None) -> SessionPolicy:
    """The running extension's policy (its traits, read once), else the server config's."""
    policy = handler.settings.get("workbench_session") if handler is not None else None
    if isinstance(policy, SessionPolicy):
        return policy
    return policy_from_config(config or Config())


def apply_session_clock(handler, config, username: str, times: SessionTimes, touch) -> bool:
    """Whether browser session ``times`` still authenticates ``handler``'s request.

    Shared by both workbench identity providers: marks an expired request (``EXPIRED_ATTR``)
    and, for a request that is user activity under an idle timeout, calls ``touch`` with the
    times moved to now (the provider rewrites its cookie); else records the times on the
    handler for ``session_reply``.
    """
    now = time.time()
    policy = session_policy(handler, config)
    reason = policy.expiry_reason(times, now)
    if reason is not None:
        setattr(handler, EXPIRED_ATTR, reason)
        logging.getLogger("ServerApp").debug(
            "Browser session of %s expired (%s timeout): %s %s",
            username,
            reason,
            handler.request.method,
            handler.request.path,
        )
        return False
    request = handler.request
    if policy.idle_timeout > 0 and is_user_activity(request.method or "GET", request.path):
        touch(times.touched(now))
    else:
        setattr(handler, SESSION_ATTR, times)
    return True
