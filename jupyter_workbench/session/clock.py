"""The browser-session clocks both workbench identity providers apply (the password one in
``identity`` and JupyterHub's in ``hub``): the policy in force and the check of one request.

Its own module so that ``hub`` (imported only under JupyterHub) and ``identity`` share it without
importing each other.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from .activity import SessionPolicy, SessionTimes, is_user_activity

# The request's SessionTimes, set on the handler by the provider (read by ``session_reply``).
SESSION_ATTR = "_workbench_session"
# Why the request's browser session was refused ("absolute", "idle" or "logout"); absent
# otherwise.
EXPIRED_ATTR = "_workbench_session_expired"


def session_policy(handler: Any, provider: Any = None) -> SessionPolicy:
    """The policy in force: the one the ``Workbench`` extension built from its
    ``session_*`` traits (read once, when it was linked) and handed both to the handlers
    (``settings["workbench_session"]``) and to the identity provider when the server created
    it (``provider.workbench_policy``, used before any handler exists). ``SessionPolicy``'s
    defaults, which the traits share, when the extension is not loaded."""
    policy = handler.settings.get("workbench_session") if handler is not None else None
    if isinstance(policy, SessionPolicy):
        return policy
    policy = getattr(provider, "workbench_policy", None)
    return policy if isinstance(policy, SessionPolicy) else SessionPolicy()


def apply_session_clock(handler, provider, username: str, times: SessionTimes, touch) -> bool:
    """Whether browser session ``times`` still authenticates ``handler``'s request.

    Shared by both workbench identity providers: marks an expired request (``EXPIRED_ATTR``)
    and, for a request that is user activity under an idle timeout, calls ``touch`` with the
    times moved to now (the provider rewrites its cookie); else records the times on the
    handler for ``session_reply``.
    """
    now = time.time()
    policy = session_policy(handler, provider)
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
