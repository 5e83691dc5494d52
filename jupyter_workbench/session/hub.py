"""Login expiry under JupyterHub: ``WorkbenchHubIdentityProvider``.

``jupyterhub-singleuser`` authenticates browsers by OAuth with the hub: its callback stores
the hub's access token in a cookie, and every later request is checked with the hub. This
provider is JupyterHub's own ``JupyterHubIdentityProvider`` (chosen by
``identity.enable_session_expiry`` in place of it, whatever order the extensions link in)
plus the workbench's session clocks:

- The OAuth callback (a new hub login of this browser session) also writes the signed cookie
  ``jupyter-workbench-session``: ``login_at``/``active_at`` bound to a hash of that access
  token, so a later OAuth login (another token) starts a new session and a copied cookie is
  worthless. ``c.Workbench.session_absolute_timeout`` / ``session_idle_timeout`` apply as in
  single-user mode; state-changing requests move ``active_at``, background GETs do not.
- An expired session authenticates nobody: API requests get 403 (and ``GET
  workbench/api/session`` answers ``{"logged_in": false, "expired": true}``), pages redirect
  into the hub's OAuth flow, whose callback starts a new session. ``workbench/session/login``
  is the page the frontend opens in a popup for that, so the tab keeps its state.
- Requests authenticated by a token (``Authorization: token ...`` or ``?token=``: hub API
  tokens, services) are API clients and never expire here; a ``?token=`` page visit that the
  hub stores in its cookie is a login.
- The OAuth token is kept out of the JupyterLab page (stock JupyterHub puts it there, and the
  page would then send it in a header: a session that never expires). The page authenticates
  with the cookie and the ``_xsrf`` header instead, as ``ServerConnection`` does.

Importing this module imports JupyterHub: only ``identity`` does it, under a hub.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from jupyterhub.services.auth import HubOAuth
from jupyterhub.singleuser.extension import JupyterHubIdentityProvider
from tornado import web
from traitlets import default

from . import usage
from .activity import SessionTimes
from .clock import SESSION_ATTR, apply_session_clock, session_policy

SESSION_COOKIE = "jupyter-workbench-session"
_USER_ATTR = "_workbench_hub_user"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf8", "replace")).hexdigest()[:32]


def write_session_cookie(
    handler: web.RequestHandler, hub_auth: HubOAuth, token: str, times: SessionTimes
) -> None:
    """Store ``times`` for the browser session holding hub access token ``token``."""
    kwargs: dict[str, Any] = {"path": hub_auth.cookie_path, "httponly": True}
    if handler.request.protocol == "https" or hub_auth.cookie_host_prefix_enabled:
        kwargs["secure"] = True
    value = {"tok": _token_hash(token), **times.to_fields()}
    handler.set_secure_cookie(SESSION_COOKIE, json.dumps(value), **kwargs)
    setattr(handler, SESSION_ATTR, times)


def read_session_cookie(handler: web.RequestHandler, token: str) -> SessionTimes | None:
    """The times of this browser session; None when absent, forged or for another token."""
    raw = handler.get_secure_cookie(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        if data.get("tok") != _token_hash(token):
            return None
        return SessionTimes.from_fields(data, time.time())
    except (ValueError, TypeError, AttributeError):
        return None


class WorkbenchHubOAuth(HubOAuth):
    """HubOAuth whose OAuth login also starts a workbench browser session."""

    def set_cookie(self, handler, access_token):
        super().set_cookie(handler, access_token)
        write_session_cookie(handler, self, access_token, SessionTimes.new_login())

    def clear_cookie(self, handler):
        super().clear_cookie(handler)
        handler.clear_cookie(SESSION_COOKIE, path=self.cookie_path)


class WorkbenchHubIdentityProvider(JupyterHubIdentityProvider):
    """JupyterHub's OAuth login whose browser sessions expire (``c.Workbench.session_*``)."""

    workbench_session_expiry = True
    workbench_login = "hub"
    workbench_policy = None  # the Workbench extension's SessionPolicy (see identity.py)

    @default("hub_auth")
    def _default_hub_auth(self):
        return WorkbenchHubOAuth(parent=self)

    def validate_security(self, app: Any, ssl_options: dict | None = None) -> None:
        policy = session_policy(None, self)
        self.log.info(
            "jupyter-workbench: JupyterHub browser sessions expire %s after the hub login%s",
            f"{policy.absolute_timeout} s" if policy.absolute_timeout else "never",
            f", or after {policy.idle_timeout} s without activity" if policy.idle_timeout else "",
        )

    async def get_user(self, handler):
        if hasattr(handler, _USER_ATTR):
            return getattr(handler, _USER_ATTR)
        user = await super().get_user(handler)
        if user is not None and not getattr(handler, "_token_authenticated", False):
            user = self._check_browser_session(handler, user)
        if user is not None:
            usage.note(handler)  # what the server reports to the hub as its last activity
        setattr(handler, _USER_ATTR, user)
        return user

    def _check_browser_session(self, handler, user):
        """A cookie-authenticated request: the user while the session's clocks allow."""
        if getattr(handler, SESSION_ATTR, None) is not None:
            return user  # this very request logged in (set_cookie)
        token = self.hub_auth._get_token_cookie(handler)
        times = read_session_cookie(handler, token) if token else None
        if times is None:
            # The hub's cookie without our session (issued before the workbench was loaded,
            # or the session cookie was removed): not a session we can date, so a new login.
            self.log.debug("No workbench session for %s's hub cookie", user.username)
            return None
        valid = apply_session_clock(
            handler,
            self,
            user.username,
            times,
            lambda touched: write_session_cookie(handler, self.hub_auth, token, touched),
        )
        return user if valid else None

    def page_config_hook(self, handler, page_config):
        """JupyterHub's page config, without the access token (see the module docstring)."""
        page_config = super().page_config_hook(handler, page_config)
        page_config["token"] = ""
        return page_config
