"""``WorkbenchIdentityProvider``: jupyter_server's login, with browser sessions that expire.

The workbench server extension installs it when it is linked (:func:`enable_session_expiry`),
unless ``ServerApp.identity_provider_class`` is configured (then that one is used; subclass
this one to combine both). jupyter_server reads only ``jpserver_extensions`` from
``jupyter_server_config.d/*.json``, so a config file shipped there could not do it. It is
jupyter_server's ``PasswordIdentityProvider`` (password or token login, unchanged) plus:

- The login cookie also carries ``login_at`` and ``active_at``. It is signed with the
  server's ``cookie_secret``, so the times survive a server restart and cannot be forged;
  a cookie without them (tampered, or issued by a stock server) is refused.
- ``c.Workbench.session_absolute_timeout`` counts from ``login_at`` (only a new login moves
  it); ``c.Workbench.session_idle_timeout`` counts from ``active_at``, which state-changing
  requests and ``POST workbench/api/session/activity`` move and background GET polling does not.
- An expired cookie authenticates nobody: the request gets jupyter_server's usual 403, and
  ``GET workbench/api/session`` answers ``{"logged_in": false}`` so the page can tell expiry
  from other 403s. Nothing is stopped: kernels, terminals and jobs keep running.
- Requests that carry the token in an ``Authorization`` header are API clients, not browser
  sessions: they never expire and get no cookie. A ``?token=`` URL is a login: it is exchanged
  for a session cookie. The token is therefore left out of the JupyterLab page (else the page
  would send it on every request and its session could never expire).
"""

from __future__ import annotations

import json
import time
from typing import Any

from jupyter_server.auth.identity import PasswordIdentityProvider, User
from tornado import web
from traitlets import Bool, Int
from traitlets.config import Config, DeferredConfig

from .activity import SessionPolicy, SessionTimes, is_user_activity

# The request's SessionTimes, set on the handler by the provider (read by ``session_reply``).
SESSION_ATTR = "_workbench_session"

_USER_FIELDS = ("username", "name", "display_name", "initials", "avatar_url", "color")


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


def session_policy(handler: web.RequestHandler | None, config: Config | None) -> SessionPolicy:
    """The running extension's policy (its traits, read once), else the server config's."""
    policy = handler.settings.get("workbench_session") if handler is not None else None
    if isinstance(policy, SessionPolicy):
        return policy
    return policy_from_config(config or Config())


def _blank_page_token(settings: dict) -> None:
    """Keep the server token out of the JupyterLab page (see the module docstring)."""
    previous = settings.get("page_config_hook")
    if getattr(previous, "_workbench", False):
        return

    def hook(handler, page_config):
        if previous is not None:
            page_config = previous(handler, page_config)
        page_config["token"] = ""
        return page_config

    hook._workbench = True  # type: ignore[attr-defined]
    settings["page_config_hook"] = hook


class WorkbenchIdentityProvider(PasswordIdentityProvider):
    """Password/token login whose browser sessions expire (``c.Workbench.session_*``)."""

    expose_token_to_page = Bool(
        False,
        config=True,
        help="Put the server token into the JupyterLab page, as stock JupyterLab does. The "
        "page then authenticates every request with the token, so its session never expires.",
    )

    # -- configuration -----------------------------------------------------------------

    def policy(self, handler: web.RequestHandler | None = None) -> SessionPolicy:
        return session_policy(handler, self.config)

    def validate_security(self, app: Any, ssl_options: dict | None = None) -> None:
        super().validate_security(app, ssl_options)
        web_app = getattr(app, "web_app", None)
        if web_app is not None and not self.expose_token_to_page:
            _blank_page_token(web_app.settings)
        policy = self.policy()
        self.log.info(
            "jupyter-workbench: browser sessions expire %s after login%s",
            f"{policy.absolute_timeout} s" if policy.absolute_timeout else "never",
            f", or after {policy.idle_timeout} s without activity" if policy.idle_timeout else "",
        )

    # -- who is asking ------------------------------------------------------------------

    def _header_token_request(self, handler: web.RequestHandler) -> bool:
        """A request authenticated by the token in its Authorization header (an API client)."""
        token = self.token
        if not token or handler.get_argument("token", ""):
            return False
        m = self.auth_header_pat.match(handler.request.headers.get("Authorization", ""))
        return bool(m) and m.group(2) == token

    # -- the cookie ---------------------------------------------------------------------

    def _write_cookie(self, handler: web.RequestHandler, user: User, times: SessionTimes) -> None:
        options: dict[str, Any] = dict(self.cookie_options)
        options.setdefault("httponly", True)
        secure = self.secure_cookie
        if secure is None:
            secure = handler.request.protocol == "https"
        if secure:
            options.setdefault("secure", True)
        options.setdefault("path", handler.base_url)  # type: ignore[attr-defined]
        value = {f: getattr(user, f, None) for f in _USER_FIELDS}
        value.update(times.to_fields())
        handler.set_secure_cookie(self.get_cookie_name(handler), json.dumps(value), **options)
        setattr(handler, SESSION_ATTR, times)

    def set_login_cookie(self, handler: web.RequestHandler, user: User) -> None:
        """A new login (login form, ``?token=`` URL): both clocks start now."""
        if self._header_token_request(handler):
            return  # API clients are not browser sessions: no cookie, no expiry
        self._write_cookie(handler, user, SessionTimes.new_login())

    def persist_user_model(self, handler: web.RequestHandler) -> None:
        """``PATCH /api/me`` rewrites the cookie without restarting the login clock."""
        times = getattr(handler, SESSION_ATTR, None)
        if times is None:
            super().persist_user_model(handler)
        else:
            self._write_cookie(handler, handler.current_user, times)

    def get_user_cookie(self, handler: web.RequestHandler) -> User | None:
        raw = handler.get_secure_cookie(
            self.get_cookie_name(handler), **self.get_secure_cookie_kwargs
        )
        if not raw:
            return None  # absent, or a bad signature (forged, another server's secret)
        now = time.time()
        try:
            data = json.loads(raw)
            user = User(**{f: data.get(f) for f in _USER_FIELDS if data.get(f) is not None})
            times = SessionTimes.from_fields(data, now)
        except (ValueError, TypeError, AttributeError) as e:
            self.log.warning("Refusing a login cookie: %s", e)
            return None
        policy = self.policy(handler)
        reason = policy.expiry_reason(times, now)
        if reason is not None:
            self.log.debug(
                "Browser session of %s expired (%s timeout): %s %s",
                user.username,
                reason,
                handler.request.method,
                handler.request.path,
            )
            return None
        request = handler.request
        if policy.idle_timeout > 0 and is_user_activity(request.method or "GET", request.path):
            self._write_cookie(handler, user, times.touched(now))
        else:
            setattr(handler, SESSION_ATTR, times)
        return user


def session_reply(handler) -> dict:
    """The body of ``GET workbench/api/session`` for an authenticated request."""
    user = handler.current_user
    provider = handler.identity_provider
    times = getattr(handler, SESSION_ATTR, None)
    enforced = isinstance(provider, WorkbenchIdentityProvider)
    policy = session_policy(handler, getattr(provider, "config", None))
    if not enforced:
        # Another identity provider is configured: it decides, we cannot promise expiry.
        policy = SessionPolicy(0, 0, policy.warning)
    kind = "browser" if times is not None else "token"
    return {
        "logged_in": True,
        "user": user.username,
        "display_name": user.display_name,
        "kind": kind,
        "enforced": enforced,
        **policy.describe(times),
    }


def enable_session_expiry(serverapp) -> bool:
    """Make ``serverapp`` use :class:`WorkbenchIdentityProvider`; True when it will.

    Call while the extension is linked (``ExtensionApp._link_jupyter_server_extension``),
    before ``ServerApp.init_configurables`` creates the identity provider. An identity provider
    or a legacy ``login_handler_class`` configured by the user is respected (with a warning
    that sessions then do not expire).
    """
    from jupyter_server.auth.login import LoginHandler

    current = serverapp.identity_provider_class
    if isinstance(current, type) and issubclass(current, WorkbenchIdentityProvider):
        return True
    chosen = "identity_provider_class" in serverapp.config.get("ServerApp", {})
    legacy = serverapp.login_handler_class is not LoginHandler
    if chosen or legacy or current is not PasswordIdentityProvider:
        what = "login_handler_class" if legacy and not chosen else "identity_provider_class"
        serverapp.log.warning(
            "jupyter-workbench: browser sessions do not expire because ServerApp.%s is "
            "configured; subclass jupyter_workbench.session.identity.WorkbenchIdentityProvider "
            "to combine it with session expiry.",
            what,
        )
        return False
    serverapp.identity_provider_class = WorkbenchIdentityProvider
    return True
