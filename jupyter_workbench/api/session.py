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


from ..session.identity import session_reply
from .base import API, WorkbenchHandler

FEATURE = "session"


class SessionHandler(WorkbenchHandler):
    @allow_unauthenticated
    def get(self):
        if self.current_user is None:
            self.reply({"logged_in": False})
        else:
            self.reply(session_reply(self))


class ActivityHandler(WorkbenchHandler):
    @web.authenticated
    def post(self):
        # The identity provider has already moved the idle clock (a POST is activity).
        self.reply(session_reply(self))


handlers = [
    (rf"{API}/session", SessionHandler),
    (rf"{API}/session/activity", ActivityHandler),
]
