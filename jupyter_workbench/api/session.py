"""``workbench/api/session``: the browser session's login and expiry times.

``GET`` answers 200 even when logged out (``{"logged_in": false}``): jupyter_server answers an
expired session with a bare 403 (tornado drops custom headers on errors), so this is how the
page tells "your login expired" from other 403s. ``POST session/activity`` is the page's
user-activity ping: like every state-changing request it resets the idle clock, never the
absolute one. The expiry itself is enforced by ``session.identity.WorkbenchIdentityProvider``.
"""

from __future__ import annotations

from tornado import web

try:
    from jupyter_server.auth.decorator import allow_unauthenticated
except ImportError:  # jupyter_server < 2.13: every handler may answer without a login

    def allow_unauthenticated(method):
        return method


from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin

from ..session.identity import logged_out_reply, session_reply
from .base import API, WorkbenchHandler

FEATURE = "session"


class SessionHandler(WorkbenchHandler):
    @allow_unauthenticated
    def get(self):
        if self.current_user is None:
            self.reply(logged_out_reply(self))
        else:
            self.reply(session_reply(self))


class ActivityHandler(WorkbenchHandler):
    @web.authenticated
    def post(self):
        # The identity provider has already moved the idle clock (a POST is activity).
        self.reply(session_reply(self))


# Opened by the page in a popup to log in again through JupyterHub's OAuth flow (or the
# server's login form): unauthenticated, it redirects there; once logged in it tells the tab
# (BroadcastChannel, window.opener) and closes, so the tab keeps everything it held.
_LOGGED_IN_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Logged in</title></head>
<body><p>You are logged in again. You can close this window.</p>
<script>
(function () {
  var message = {type: "jupyter-workbench:login"};
  try { new BroadcastChannel("jupyter-workbench-session").postMessage(message); } catch (e) {}
  try { if (window.opener) { window.opener.postMessage(message, window.location.origin); } }
  catch (e) {}
  window.setTimeout(function () { window.close(); }, 300);
})();
</script></body></html>
"""


class LoginDoneHandler(ExtensionHandlerMixin, JupyterHandler):
    @allow_unauthenticated
    def get(self):
        hub_auth = getattr(self.identity_provider, "hub_auth", None)
        if self.get_argument("renew", "") and hub_auth is not None:
            # "Log in again" before expiry: drop this browser's hub token so that the hub's
            # OAuth flow runs and starts a new session clock.
            hub_auth.clear_cookie(self)
            self.redirect(self.request.path)
            return
        self._logged_in()

    @web.authenticated
    def _logged_in(self):
        self.set_header("Cache-Control", "no-store")
        self.finish(_LOGGED_IN_PAGE)


handlers = [
    (rf"{API}/session", SessionHandler),
    (r"workbench/session/login", LoginDoneHandler),
    (rf"{API}/session/activity", ActivityHandler),
]
