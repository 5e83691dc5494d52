"""Browser sessions that expire (c.Workbench.session_*), and what expiry must never cost.

The server runs ``WorkbenchIdentityProvider`` with timeouts of a few seconds. A
``BrowserClient`` keeps cookies and sends the _xsrf header like a browser tab; ``jp_fetch``
(token in the Authorization header) plays an API client.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from http.cookies import SimpleCookie
from urllib.parse import quote, urlencode

import pytest
from jupyter_server.auth.identity import PasswordIdentityProvider
from jupyter_server.auth.security import passwd
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.web import create_signed_value, decode_signed_value
from tornado.websocket import websocket_connect

from jupyter_workbench.session.activity import SessionPolicy, SessionTimes, is_user_activity
from jupyter_workbench.session.identity import WorkbenchIdentityProvider

PASSWORD = "correct horse"
HASHED = passwd(PASSWORD)
# GET workbench/api/session without a login that expired: logged out, no expiry to announce.
LOGGED_OUT = {
    "logged_in": False,
    "expired": False,
    "reason": None,
    "enforced": True,
    "login": "password",
}


def expired(reason: str) -> dict:
    """The session endpoint's answer once this browser's login ran out (``reason`` timeout)."""
    return {**LOGGED_OUT, "expired": True, "reason": reason}


@pytest.fixture
def timeouts():
    """c.Workbench.session_* for the test server; parametrize a test to change them."""
    return {"session_absolute_timeout": 3, "session_idle_timeout": 0, "session_warning": 1}


@pytest.fixture
def jp_server_config(jp_server_config, timeouts):
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_workbench": True},
            "identity_provider_class": WorkbenchIdentityProvider,
        },
        "PasswordIdentityProvider": {"hashed_password": HASHED},
        "Workbench": dict(timeouts),
    }


@pytest.fixture
def token(jp_serverapp):
    return jp_serverapp.identity_provider.token


@pytest.fixture
def browser(jp_serverapp, http_server_client, jp_http_port, jp_base_url):
    # http_server_client: the fixture that makes the test server listen on jp_http_port
    return BrowserClient(jp_http_port, jp_base_url)


@pytest.fixture
def jobs_state_dir(tmp_path, monkeypatch):
    state = tmp_path / "wb-state"
    monkeypatch.setenv("JUPYTER_WORKBENCH_STATE_DIR", str(state))
    return state


class BrowserClient:
    """Keeps cookies like a browser and sends the _xsrf header on state-changing requests."""

    def __init__(self, port: int, base_url: str):
        self.origin = f"http://localhost:{port}"
        self.port = port
        self.base_url = base_url
        self.cookies: dict[str, str] = {}

    def url(self, path: str, params: dict | None = None) -> str:
        url = f"{self.origin}{self.base_url}{path.lstrip('/')}"
        return f"{url}?{urlencode(params)}" if params else url

    def _headers(self, method: str, extra: dict | None) -> dict:
        headers = dict(extra or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method not in ("GET", "HEAD") and "_xsrf" in self.cookies:
            headers["X-XSRFToken"] = self.cookies["_xsrf"]
        return headers

    def _keep_cookies(self, response) -> None:
        for header in response.headers.get_list("Set-Cookie"):
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                expired = morsel["expires"] and "1970" in morsel["expires"]
                if not morsel.value or morsel.value == '""' or expired:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    async def fetch(self, path: str, method: str = "GET", body=None, *, params=None, headers=None):
        if isinstance(body, dict):
            body = json.dumps(body)
        if method in ("POST", "PUT", "PATCH") and body is None:
            body = ""
        response = await AsyncHTTPClient().fetch(
            self.url(path, params),
            method=method,
            body=body,
            headers=self._headers(method, headers),
            follow_redirects=False,
            raise_error=False,
            request_timeout=30,
        )
        self._keep_cookies(response)
        return response

    async def json(self, path: str, method: str = "GET", body=None, **kwargs):
        response = await self.fetch(path, method, body, **kwargs)
        assert response.code < 300, (response.code, response.body[:500])
        return json.loads(response.body)

    # -- logins ----------------------------------------------------------------------

    @property
    def login_cookie(self) -> str | None:
        return next((k for k in self.cookies if k.startswith("username-")), None)

    async def login_with_token_url(self, token: str) -> None:
        """Open a page with ``?token=`` as the link printed by ``jupyter lab`` does."""
        await self.ensure_xsrf()
        response = await self.fetch("api/status", params={"token": token})
        assert response.code == 200, response.code
        assert self.login_cookie, "the ?token= visit did not set a login cookie"

    async def ensure_xsrf(self) -> None:
        if "_xsrf" not in self.cookies:
            # The login page sets it (while logged out; as the lab page does in a browser).
            await self.fetch("login")
        assert "_xsrf" in self.cookies

    async def login_with_form(self, password: str):
        """Submit the login form (password or token), as a person or the re-login dialog."""
        await self.ensure_xsrf()
        body = urlencode({"password": password, "_xsrf": self.cookies["_xsrf"]})
        return await self.fetch("login", "POST", body)

    async def session(self) -> dict:
        return await self.json("workbench/api/session")

    # -- kernels ---------------------------------------------------------------------

    async def run_code(self, kernel_id: str, code: str, timeout: float = 30) -> str:
        """Execute ``code`` over the kernel websocket; return its stdout."""
        ws = await self.connect_kernel(kernel_id)
        try:
            return await execute(ws, code, timeout)
        finally:
            ws.close()

    async def connect_kernel(self, kernel_id: str):
        url = f"ws://localhost:{self.port}{self.base_url}api/kernels/{kernel_id}/channels"
        request = HTTPRequest(
            f"{url}?session_id={uuid.uuid4().hex}", headers=self._headers("GET", None)
        )
        return await websocket_connect(request)


async def execute(ws, code: str, timeout: float = 30) -> str:
    """Send an execute_request on an open kernel websocket and collect the stdout."""
    import asyncio

    msg_id = uuid.uuid4().hex
    await ws.write_message(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "username": "test",
                    "session": uuid.uuid4().hex,
                    "version": "5.3",
                    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
                "parent_header": {},
                "metadata": {},
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                },
                "channel": "shell",
                "buffers": [],
            }
        )
    )
    out, deadline = [], time.monotonic() + timeout
    while True:
        raw = await asyncio.wait_for(ws.read_message(), max(0.1, deadline - time.monotonic()))
        assert raw is not None, "the kernel websocket closed"
        msg = json.loads(raw)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "stream":
            out.append(msg["content"]["text"])
        elif kind == "error":
            raise AssertionError(f"{msg['content']['ename']}: {msg['content']['evalue']}")
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(out)


async def wait_until(t: float) -> None:
    """Sleep until epoch time ``t`` (plus a little, so the server's clock has passed it)."""
    await asyncio.sleep(max(0.0, t - time.time()) + 0.25)


def cookie_payload(serverapp, name: str, value: str) -> dict:
    raw = decode_signed_value(serverapp.cookie_secret, name, value)
    assert raw is not None, "the login cookie is not signed with the server's secret"
    return json.loads(raw)


def retamper(value: str, payload: dict) -> str:
    """A signed cookie whose payload was swapped but whose signature was kept."""
    parts = value.split("|")
    b64 = base64.b64encode(json.dumps(payload).encode()).decode()
    parts[4] = f"{len(b64)}:{b64}"
    return "|".join(parts)


# -- the session endpoint and logins -----------------------------------------------------


async def test_session_answers_200_when_logged_out(browser):
    # Given a browser that never logged in
    # When the page asks for its session
    response = await browser.fetch("workbench/api/session")

    # Then it is told plainly that it is logged out (not a 403 it cannot explain)
    assert response.code == 200
    # and that this is no expiry (the page must not announce one it cannot confirm)
    assert json.loads(response.body) == LOGGED_OUT


async def test_token_url_login_becomes_a_session_cookie_with_its_times(
    browser, token, jp_serverapp
):
    # When the user opens the ?token= link that jupyter lab prints
    before = time.time()
    await browser.login_with_token_url(token)

    # Then the browser holds a session whose clock started at login
    session = await browser.session()
    assert session["logged_in"] is True
    assert session["kind"] == "browser"
    assert before - 1 <= session["login_at"] <= time.time()
    assert session["expires_at"] == pytest.approx(session["login_at"] + 3)
    assert session["idle_expires_at"] is None
    assert session["user"] and session["warning"] == 1
    # and the login time is inside the cookie the server signed (it survives restarts)
    name = browser.login_cookie
    payload = cookie_payload(jp_serverapp, name, browser.cookies[name])
    assert payload["login_at"] == pytest.approx(session["login_at"], abs=0.01)


async def test_password_login_works_and_a_wrong_password_does_not(browser):
    # When the user submits a wrong password
    response = await browser.login_with_form("wrong")
    # Then the form says no and no session exists
    assert response.code == 401
    assert browser.login_cookie is None
    assert (await browser.session()) == LOGGED_OUT

    # When the user submits the right one
    response = await browser.login_with_form(PASSWORD)
    # Then they are logged in, with the session clock running
    assert response.code == 302
    session = await browser.session()
    assert session["logged_in"] is True and session["expires_at"] > time.time()


async def test_the_jupyterlab_page_gets_no_token(jp_serverapp):
    # Given the page config JupyterLab would render (it puts the server token into it)
    hook = jp_serverapp.web_app.settings["page_config_hook"]
    # Then the token is left out: the page authenticates with its expiring cookie
    assert hook(None, {"token": "secret", "baseUrl": "/"}) == {"token": "", "baseUrl": "/"}


@pytest.mark.parametrize(
    "jp_server_config", [{"ServerApp": {"jpserver_extensions": {"jupyter_workbench": True}}}]
)
async def test_loading_the_extension_enables_session_expiry(jp_serverapp):
    # Given a server with the workbench extension and no identity provider configured
    # Then its logins are workbench sessions (the extension installed the provider at link time)
    assert isinstance(jp_serverapp.identity_provider, WorkbenchIdentityProvider)


@pytest.mark.parametrize(
    "jp_server_config",
    [
        {
            "ServerApp": {
                "jpserver_extensions": {"jupyter_workbench": True},
                "identity_provider_class": PasswordIdentityProvider,
            }
        }
    ],
)
async def test_an_identity_provider_chosen_by_the_admin_is_respected(jp_serverapp, jp_fetch):
    # Given an admin who configured another identity provider
    # Then the server keeps it, and the session endpoint does not promise an expiry
    assert type(jp_serverapp.identity_provider) is PasswordIdentityProvider
    session = json.loads((await jp_fetch("workbench", "api", "session")).body)
    assert session["enforced"] is False and session["expires_at"] is None


# -- expiry ----------------------------------------------------------------------------


async def test_absolute_timeout_expires_an_active_session(browser, token, jp_fetch):
    # Given a browser session (absolute timeout 3 s) whose user keeps working
    await browser.login_with_token_url(token)
    session = await browser.session()
    while time.time() < session["expires_at"] - 0.5:
        assert (await browser.fetch("workbench/api/session/activity", "POST")).code == 200
        await asyncio.sleep(0.4)
    assert (await browser.fetch("api/contents")).code == 200

    # When the absolute timeout passes, activity or not
    await wait_until(session["expires_at"])

    # Then the session is over: 403 as jupyter_server answers, and the page can tell why
    assert (await browser.fetch("api/contents")).code == 403
    assert (await browser.fetch("workbench/api/session/activity", "POST")).code == 403
    assert (await browser.session()) == expired("absolute")
    # while an API client with the token in its Authorization header never expires
    assert (await jp_fetch("api", "contents")).code == 200
    assert json.loads((await jp_fetch("workbench", "api", "session")).body)["kind"] == "token"

    # When the user logs in again, a new session starts from now
    await browser.login_with_token_url(token)
    again = await browser.session()
    assert again["login_at"] > session["login_at"] + 2
    assert (await browser.fetch("api/contents")).code == 200


@pytest.mark.parametrize(
    "timeouts",
    [{"session_absolute_timeout": 60, "session_idle_timeout": 2, "session_warning": 1}],
)
async def test_idle_timeout_counts_activity_but_not_polling(browser):
    # Given a password login with a 2 s idle timeout
    assert (await browser.login_with_form(PASSWORD)).code == 302
    first = await browser.session()
    assert first["idle_expires_at"] == pytest.approx(first["login_at"] + 2, abs=0.01)

    # When the user keeps doing things for longer than the idle timeout (pings and a save)
    deadline = time.time() + 3
    while time.time() < deadline:
        ping = await browser.json("workbench/api/session/activity", "POST")
        await asyncio.sleep(0.4)
    saved = await browser.fetch(
        "api/contents/a.txt", "PUT", {"type": "file", "format": "text", "content": "x"}
    )
    assert saved.code in (200, 201)
    # Then the session is still alive, its idle clock moved, its absolute clock did not
    session = await browser.session()
    assert session["logged_in"] is True
    assert session["idle_expires_at"] > first["idle_expires_at"] + 2
    assert session["login_at"] == first["login_at"] == ping["login_at"]

    # When only background polling happens for longer than the idle timeout
    deadline = session["idle_expires_at"]
    while time.time() < deadline + 0.3:
        await browser.fetch("api/contents")
        await browser.fetch("api/kernels")
        await asyncio.sleep(0.3)

    # Then the session has expired for inactivity
    assert (await browser.fetch("api/contents")).code == 403
    assert (await browser.session()) == expired("idle")


def test_what_counts_as_activity_and_when_sessions_end():
    # Saves, runs and renames are the user's doing; polling and layout autosaves are not
    assert is_user_activity("PUT", "/a%40b/api/contents/train.ipynb")
    assert is_user_activity("POST", "/workbench/api/session/activity")
    assert not is_user_activity("GET", "/api/kernels")
    assert not is_user_activity("PUT", "/lab/api/workspaces/default")
    # 0 switches a timeout off; the idle clock never moves the absolute one
    times = SessionTimes.new_login(now=1000.0)
    assert SessionPolicy(0, 0).expiry_reason(times, now=10**9) is None
    assert SessionPolicy(100, 10).expiry_reason(times.touched(1095.0), now=1100.0) == "absolute"
    assert SessionPolicy(100, 10).expiry_reason(times.touched(1050.0), now=1061.0) == "idle"
    assert SessionPolicy(100, 10).expiry_reason(times.touched(1050.0), now=1059.0) is None


# -- bad cookies -------------------------------------------------------------------------


async def test_forged_tampered_and_foreign_cookies_are_refused(browser, token, jp_serverapp):
    # Given a real session cookie and its payload
    await browser.login_with_token_url(token)
    name = browser.login_cookie
    real = browser.cookies[name]
    payload = cookie_payload(jp_serverapp, name, real)
    later = dict(payload, login_at=time.time() + 3600, active_at=time.time() + 3600)
    forgeries = {
        # an unsigned cookie someone typed in
        "unsigned": json.dumps(later),
        # the real cookie with its payload swapped to push the login time forward
        "tampered": retamper(real, later),
        # a well-formed cookie signed by another server (another cookie_secret)
        "other server": create_signed_value(
            b"another server's secret", name, json.dumps(payload)
        ).decode(),
        # signed by this server but without session times (a stock jupyter_server cookie)
        "no times": create_signed_value(
            jp_serverapp.cookie_secret,
            name,
            json.dumps({k: v for k, v in payload.items() if k not in ("login_at", "active_at")}),
        ).decode(),
    }
    for label, value in forgeries.items():
        # When a request comes with the forged cookie
        browser.cookies[name] = value
        # Then it is not logged in
        assert (await browser.fetch("api/contents")).code == 403, label
        browser.cookies[name] = value
        assert (await browser.session()) == LOGGED_OUT, label
    # while the genuine cookie still works
    browser.cookies[name] = real
    assert (await browser.fetch("api/contents")).code == 200


# -- expiry never costs work -----------------------------------------------------------


@pytest.mark.parametrize(
    "timeouts",
    [{"session_absolute_timeout": 4, "session_idle_timeout": 0, "session_warning": 1}],
)
async def test_kernel_keeps_its_state_across_expiry_and_relogin(browser, token, jp_fetch):
    # Given a browser session with a kernel holding some state
    await browser.login_with_token_url(token)
    session = await browser.session()
    kernel = await browser.json("api/kernels", "POST", {"name": "python3"})
    ws = await browser.connect_kernel(kernel["id"])
    try:
        await execute(ws, "x = 41")

        # When the session expires
        await wait_until(session["expires_at"])
        assert (await browser.fetch(f"api/kernels/{kernel['id']}")).code == 403

        # Then the kernel is still running and the open connection still works
        model = json.loads((await jp_fetch("api", "kernels", kernel["id"])).body)
        assert model["execution_state"] != "dead"
        assert await execute(ws, "x += 1; print(x)") == "42\n"
    finally:
        ws.close()

    # When the user logs in again and reconnects
    assert (await browser.login_with_form(token)).code == 302
    # Then the kernel has kept its state
    assert await browser.run_code(kernel["id"], "print(x)") == "42\n"
    await jp_fetch("api", "kernels", kernel["id"], method="DELETE")


@pytest.mark.parametrize(
    "timeouts",
    [{"session_absolute_timeout": 2, "session_idle_timeout": 0, "session_warning": 1}],
)
async def test_a_job_outlives_the_session_that_started_it(
    browser, token, jp_fetch, jp_root_dir, jobs_state_dir
):
    # Given a job started from a browser session
    (jp_root_dir / "slow.py").write_text("import time\ntime.sleep(3)\nprint('done')\n")
    await browser.login_with_token_url(token)
    session = await browser.session()
    job = await browser.json("workbench/api/jobs", "POST", {"path": "slow.py"})
    assert job["state"] == "running"

    # When the session expires while it runs
    await wait_until(session["expires_at"])
    assert (await browser.fetch(f"workbench/api/jobs/{job['id']}")).code == 403

    # Then the job carries on and succeeds
    for _ in range(100):
        state = json.loads((await jp_fetch("workbench", "api", "jobs", job["id"])).body)
        if state["state"] != "running":
            break
        await asyncio.sleep(0.1)
    assert state["state"] == "succeeded", state
    log = json.loads((await jp_fetch("workbench", "api", "jobs", job["id"], "log")).body)
    assert log["log"] == "done\n"


async def test_no_page_served_to_a_browser_session_carries_the_server_token(
    browser, token, jp_serverapp
):
    # Given a browser logged in with the ?token= link (the token is exchanged for a session)
    await browser.login_with_token_url(token)
    assert (await browser.session())["kind"] == "browser"
    # When it is served a stock HTML page (jupyter_server's 404 page templates the token in)
    page = await browser.fetch("no-such-page")
    assert page.code == 404
    html = page.body.decode()
    assert "<html" in html.lower()
    # Then the page has no long-lived credential: the token is nowhere in it
    assert token not in html and quote(token, safe="") not in html
    assert 'data-jupyter-api-token=""' in html or "data-jupyter-api-token" not in html
