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

Under ``jupyterhub-singleuser`` the same clocks apply to the hub's OAuth login instead
(:mod:`.hub`, ``WorkbenchHubIdentityProvider``); :func:`enable_session_expiry` picks the
provider whatever order jupyter_server links the extensions in.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from jupyter_server.auth.identity import PasswordIdentityProvider, User
from tornado import web
from traitlets import Bool

from . import usage
from .activity import SessionPolicy, SessionTimes
from .clock import (
    EXPIRED_ATTR,
    SESSION_ATTR,
    apply_session_clock,
    session_policy,
)

_USER_FIELDS = ("username", "name", "display_name", "initials", "avatar_url", "color")


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

    # Read by ``session_reply``: this provider enforces the workbench's session clocks.
    workbench_session_expiry = True
    # How the page logs in again: a password/token form POSTed without reloading the page.
    workbench_login = "password"
    # The Workbench extension's SessionPolicy, handed over when the server creates this
    # provider (``Workbench._hand_session_policy``).
    workbench_policy: SessionPolicy | None = None

    expose_token_to_page = Bool(
        False,
        config=True,
        help="Put the server token into the JupyterLab page, as stock JupyterLab does. The "
        "page then authenticates every request with the token, so its session never expires.",
    )

    # -- configuration -----------------------------------------------------------------

    def policy(self, handler: web.RequestHandler | None = None) -> SessionPolicy:
        return session_policy(handler, self)

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

    async def _get_user(self, handler: web.RequestHandler) -> User | None:
        handler._workbench_authenticating = True  # type: ignore[attr-defined]
        try:
            user = await super()._get_user(handler)
        finally:
            handler._workbench_authenticating = False  # type: ignore[attr-defined]
        if user is not None:
            usage.note(handler)  # what the server reports as its last activity
        return user

    def _header_token_request(self, handler: web.RequestHandler) -> bool:
        """A request authenticated by the token in its Authorization header (an API client)."""
        token = self.token
        if not token or handler.get_argument("token", ""):
            return False
        m = self.auth_header_pat.match(handler.request.headers.get("Authorization", ""))
        return bool(m) and m.group(2) == token

    # -- the cookie ---------------------------------------------------------------------

    def _cookie_options(self, handler: web.RequestHandler) -> dict[str, Any]:
        options: dict[str, Any] = dict(self.cookie_options)
        options.setdefault("httponly", True)
        secure = self.secure_cookie
        if secure is None:
            secure = handler.request.protocol == "https"
        if secure:
            options.setdefault("secure", True)
        options.setdefault("path", handler.base_url)  # type: ignore[attr-defined]
        return options

    def _write_cookie(self, handler: web.RequestHandler, user: User, times: SessionTimes) -> None:
        value = {f: getattr(user, f, None) for f in _USER_FIELDS}
        value.update(times.to_fields())
        handler.set_secure_cookie(
            self.get_cookie_name(handler), json.dumps(value), **self._cookie_options(handler)
        )
        setattr(handler, SESSION_ATTR, times)

    def set_login_cookie(self, handler: web.RequestHandler, user: User) -> None:
        """A new login (login form, ``?token=`` URL): both clocks start now."""
        if self._header_token_request(handler):
            return  # API clients are not browser sessions: no cookie, no expiry
        self._write_cookie(handler, user, SessionTimes.new_login())

    def clear_login_cookie(self, handler: web.RequestHandler) -> None:
        """Keep an expired cookie that authentication refused (it authenticates nobody), so
        ``GET workbench/api/session`` can go on confirming the expiry; logout clears it."""
        authenticating = getattr(handler, "_workbench_authenticating", False)
        if authenticating and getattr(handler, EXPIRED_ATTR, None):
            return
        super().clear_login_cookie(handler)
        if not authenticating:
            # An explicit logout: leave a signed note (it authenticates nobody), so that a
            # page still open can confirm that its login ended.
            note = json.dumps({"logged_out_at": round(time.time(), 3)})
            handler.set_secure_cookie(
                self.get_cookie_name(handler), note, **self._cookie_options(handler)
            )

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
            if isinstance(data, dict) and "logged_out_at" in data:
                setattr(handler, EXPIRED_ATTR, "logout")  # see clear_login_cookie
                return None
            user = User(**{f: data.get(f) for f in _USER_FIELDS if data.get(f) is not None})
            times = SessionTimes.from_fields(data, now)
        except (ValueError, TypeError, AttributeError) as e:
            self.log.warning("Refusing a login cookie: %s", e)
            return None
        valid = apply_session_clock(
            handler,
            self,
            user.username,
            times,
            lambda touched: self._write_cookie(handler, user, touched),
        )
        return user if valid else None


def enforces_expiry(provider: Any) -> bool:
    """Whether ``provider`` applies the workbench's session clocks (either workbench provider)."""
    return bool(getattr(provider, "workbench_session_expiry", False))


def _login_fields(handler) -> dict:
    """How the page logs in again: ``password`` (the dialog) or ``hub`` (JupyterHub's OAuth)."""
    provider = handler.identity_provider
    kind = getattr(provider, "workbench_login", None)
    fields: dict[str, Any] = {"login": kind or "page"}
    if kind == "hub":
        fields["login_url"] = f"{handler.base_url}workbench/session/login"
    return fields


def session_reply(handler) -> dict:
    """The body of ``GET workbench/api/session`` for an authenticated request."""
    user = handler.current_user
    provider = handler.identity_provider
    times = getattr(handler, SESSION_ATTR, None)
    enforced = enforces_expiry(provider)
    policy = session_policy(handler, provider)
    reply: dict[str, Any] = {}
    if not enforced:
        # Another identity provider decides: we cannot promise (or announce) expiry.
        policy = SessionPolicy(0, 0, policy.warning)
        reply["not_enforced_because"] = (
            f"the server's identity provider ({type(provider).__name__}) is not one the "
            "workbench can extend"
        )
    kind = "browser" if times is not None else "token"
    return {
        "logged_in": True,
        "user": user.username,
        "display_name": user.display_name,
        "kind": kind,
        "enforced": enforced,
        # The page reports real use (typing, clicking) to the server, which tells the hub.
        "report_activity": bool(os.environ.get("JUPYTERHUB_ACTIVITY_URL")),
        **_login_fields(handler),
        **reply,
        **policy.describe(times),
    }


def logged_out_reply(handler) -> dict:
    """``GET workbench/api/session`` without a login: ``expired`` only when it is confirmed.

    ``expired`` is true when the request carried this server's browser session and its
    clock ran out; anything else (no cookie, a cookie the identity provider did not accept)
    is not announced as expiry, so the page never shows an expiry it cannot confirm.
    """
    reason = getattr(handler, EXPIRED_ATTR, None)
    return {
        "logged_in": False,
        "expired": reason is not None,
        "reason": reason,
        "enforced": enforces_expiry(handler.identity_provider),
        **_login_fields(handler),
    }


def _hub_provider_classes() -> tuple[type | None, type | None]:
    """(JupyterHub's identity provider, the workbench's hub provider), or Nones without a hub."""
    import sys

    if "jupyterhub.singleuser.extension" not in sys.modules:
        return None, None  # no hub in this process: never import jupyterhub for nothing
    from jupyterhub.singleuser.extension import JupyterHubIdentityProvider

    from .hub import WorkbenchHubIdentityProvider

    return JupyterHubIdentityProvider, WorkbenchHubIdentityProvider


def _composed(cls: Any) -> type | None:
    """The workbench provider that extends identity provider ``cls``; None when none does."""
    if not isinstance(cls, type):
        return None
    if enforces_expiry(cls):
        return cls
    if cls is PasswordIdentityProvider:
        return WorkbenchIdentityProvider
    hub_cls, ours = _hub_provider_classes()
    if hub_cls is not None and cls is hub_cls:
        return ours
    return None


def enable_session_expiry(serverapp) -> bool:
    """Make ``serverapp`` use a workbench identity provider; True when it will (so far).

    Call while the extension is linked (``ExtensionApp._link_jupyter_server_extension``),
    before ``ServerApp.init_configurables`` creates the identity provider. jupyter_server's
    ``PasswordIdentityProvider`` becomes :class:`WorkbenchIdentityProvider`; JupyterHub's
    ``JupyterHubIdentityProvider`` becomes :class:`.hub.WorkbenchHubIdentityProvider`, also
    when ``jupyterhub-singleuser`` sets it after this extension is linked (the trait is
    watched). An identity provider or a legacy ``login_handler_class`` configured by the
    user is respected; :func:`check_session_expiry` then warns once.
    """
    from jupyter_server.auth.login import LoginHandler

    if serverapp.login_handler_class is not LoginHandler:
        return False  # a legacy login handler: jupyter_server uses it, we cannot extend it
    configured = serverapp.config.get("ServerApp", {}).get("identity_provider_class")
    hub_cls, _ = _hub_provider_classes()
    user_chosen = configured is not None and not (hub_cls is not None and configured is hub_cls)
    if user_chosen and not enforces_expiry(configured):
        return False  # the user's own choice: respected, reported at startup

    def replace(change: dict) -> None:
        ours = _composed(change["new"])
        if ours is not None and ours is not change["new"]:
            serverapp.identity_provider_class = ours

    if not getattr(serverapp, "_workbench_watches_identity", False):
        serverapp.observe(replace, names="identity_provider_class")
        serverapp._workbench_watches_identity = True
    replace({"new": serverapp.identity_provider_class})
    return enforces_expiry(serverapp.identity_provider_class)


def check_session_expiry(serverapp) -> bool:
    """After the identity provider exists: True when expiry is enforced, else one warning."""
    provider = getattr(serverapp, "identity_provider", None)
    if enforces_expiry(provider):
        return True
    serverapp.log.warning(
        "jupyter-workbench: browser sessions do not expire (c.Workbench.session_* is not "
        "enforced): the identity provider %s.%s is not one the workbench can extend; subclass "
        "jupyter_workbench.session.identity.WorkbenchIdentityProvider (or, under JupyterHub, "
        "jupyter_workbench.session.hub.WorkbenchHubIdentityProvider) to combine both.",
        type(provider).__module__,
        type(provider).__name__,
    )
    return False


def keep_token_out_of_pages(serverapp) -> bool:
    """With session expiry on, no HTML page carries the server's token; True when installed.

    jupyter_server renders ``data-jupyter-api-token="<token>"`` into every page it templates
    for a logged-in browser (its 404 and error pages too); under JupyterHub that token is the
    server's own hub API token. A browser holding it would hold a login that never expires,
    so a tornado output transform removes the token from every ``text/html`` response.
    """
    provider = getattr(serverapp, "identity_provider", None)
    if not enforces_expiry(provider) or getattr(provider, "expose_token_to_page", False):
        return False
    token = provider.token or ""
    if len(token) < 8:
        return False  # no token (or a trivially short one that could match page text)
    from urllib.parse import quote

    secrets = sorted({token.encode(), quote(token, safe="").encode()}, key=len, reverse=True)

    class StripToken:
        def __init__(self, request):
            self._html = False

        def _strip(self, chunk: bytes) -> bytes:
            for secret in secrets:
                chunk = chunk.replace(secret, b"")
            return chunk

        def transform_first_chunk(self, status_code, headers, chunk, finishing):
            self._html = headers.get("Content-Type", "").startswith("text/html")
            if self._html:
                new = self._strip(chunk)
                if new != chunk and "Content-Length" in headers:
                    headers["Content-Length"] = str(len(new))
                chunk = new
            return status_code, headers, chunk

        def transform_chunk(self, chunk, finishing):
            return self._strip(chunk) if self._html else chunk

    serverapp.web_app.add_transform(StripToken)
    return True
