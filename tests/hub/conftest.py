"""A real JupyterHub for the workbench: JupyterHub 6 + configurable-http-proxy on loopback.

One hub for the whole run (``hub`` fixture, session scope): DummyAuthenticator (password
``PASSWORD``), SimpleLocalProcessSpawner with one home per user under a temp dir, the
single-user servers started by ``jupyterhub-singleuser`` with this checkout's workbench and
frontend, and two users:

- ``alice``: ``--Workbench.session_absolute_timeout=40``; extensions linked in jupyter_server's
  usual (sorted) order, so JupyterHub's extension is linked after the workbench;
- ``bob``: ``--Workbench.session_idle_timeout=20``; extensions linked in reverse order
  (``singleuser.py``), so JupyterHub's is linked first.

The proxy comes from npm (``configurable-http-proxy@5``), installed on first use into
``.cache/npm`` in the repo (not globally). Run these tests in their own pytest invocation
(``pytest tests/hub``): they drive chromium through playwright's sync API.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
NPM_PREFIX = REPO / ".cache" / "npm"
CHP_VERSION = "5"
PASSWORD = "hub-test-password"
USERS = ("alice", "bob")
# Per-user single-user arguments (see the module docstring).
USER_ARGS = {
    "alice": ["--Workbench.session_absolute_timeout=40", "--Workbench.session_warning=5"],
    "bob": ["--Workbench.session_idle_timeout=20", "--Workbench.session_warning=5"],
}
LINK_ORDER = {"alice": "sorted", "bob": "reversed"}
# How often single-user servers report activity and the hub reads the proxy's (seconds).
ACTIVITY_INTERVAL = 3

# The browser and the failure-report hook are the UI tests' (tests/ui/conftest.py).
_spec = importlib.util.spec_from_file_location(
    "workbench_ui_conftest", REPO / "tests/ui/conftest.py"
)
_ui = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _ui  # (its dataclasses look themselves up there)
_spec.loader.exec_module(_ui)
browser = _ui.browser
pytest_runtest_makereport = _ui.pytest_runtest_makereport


def configurable_http_proxy() -> str:
    """The proxy's executable, installed with npm into the repo's .cache/npm when missing."""
    exe = NPM_PREFIX / "node_modules" / ".bin" / "configurable-http-proxy"
    if not exe.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install configurable-http-proxy (apt-get install npm)")
        NPM_PREFIX.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(NPM_PREFIX),
                "--no-audit",
                "--no-fund",
                f"configurable-http-proxy@{CHP_VERSION}",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return str(exe)


def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (held open together, so none is handed out twice)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class Hub:
    url: str  # the proxy's public URL, ends with /
    admin_token: str
    culler_token: str
    homes: Path
    log: Path
    process: subprocess.Popen
    start_seconds: dict[str, float] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)

    def api(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = {"Authorization": f"token {token or self.admin_token}"}
        return requests.request(
            method, f"{self.url}hub/api/{path.lstrip('/')}", headers=headers, timeout=30, **kwargs
        )

    def user_token(self, user: str) -> str:
        """A hub API token of ``user`` (what a script or service of theirs would use)."""
        if user not in self._tokens:
            r = self.api("POST", f"users/{user}/tokens", json={"note": "hub tests"})
            r.raise_for_status()
            self._tokens[user] = r.json()["token"]
        return self._tokens[user]

    def server_url(self, user: str, path: str = "") -> str:
        return f"{self.url}user/{user}/{path}"

    def server(self, user: str) -> dict | None:
        r = self.api("GET", f"users/{user}")
        r.raise_for_status()
        return r.json().get("servers", {}).get("")

    def spawn(self, user: str, timeout: float = 120) -> float:
        """Start ``user``'s server; seconds until the hub reports it ready."""
        t0 = time.monotonic()
        r = self.api("POST", f"users/{user}/server")
        assert r.status_code in (201, 202, 400), r.text  # 400: already running
        while time.monotonic() - t0 < timeout:
            server = self.server(user)
            if server and server.get("ready"):
                return time.monotonic() - t0
            time.sleep(0.5)
        raise AssertionError(f"{user}'s server did not start:\n{self.log_tail()}")

    def user_api(self, user: str, path: str, method: str = "GET", token: str | None = None, **kw):
        """A request to ``user``'s server with a hub token (``token``, default the user's)."""
        headers = {"Authorization": f"token {token or self.user_token(user)}"}
        return requests.request(
            method, self.server_url(user, path), headers=headers, timeout=30, **kw
        )

    def log_tail(self, n: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-n:]


def _write_home(home: Path) -> None:
    """A user's home: this checkout's frontend, no announcements popup."""
    (home / ".jupyter" / "labconfig").mkdir(parents=True, exist_ok=True)
    (home / ".jupyter" / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    built = REPO / "jupyter_workbench" / "labextension"
    labext = home / ".local" / "share" / "jupyter" / "labextensions"
    labext.mkdir(parents=True, exist_ok=True)
    link = labext / "jupyter-workbench"
    if (built / "package.json").exists() and not link.exists():
        link.symlink_to(built, target_is_directory=True)


def write_config(tmp: Path, chp: str, ports: dict, admin_token: str, culler_token: str) -> Path:
    homes = tmp / "homes"
    for user in USERS:
        _write_home(homes / user)
    extra = ["--LabApp.news_url=", "--ServerApp.shutdown_no_activity_timeout=0"]
    if os.geteuid() == 0:
        extra.append("--allow-root")
    settings = {
        "chp": chp,
        "ports": ports,
        "homes": str(homes),
        "python": sys.executable,
        "singleuser": str(HERE / "singleuser.py"),
        "repo": str(REPO),
        "user_args": {u: USER_ARGS[u] + extra for u in USERS},
        "link_order": LINK_ORDER,
        "admin_token": admin_token,
        "culler_token": culler_token,
        "activity_interval": ACTIVITY_INTERVAL,
        "path": os.environ.get("PATH", ""),
    }
    config = tmp / "jupyterhub_config.py"
    config.write_text(
        f"import json\nS = json.loads({json.dumps(json.dumps(settings))})\n"
        + (HERE / "hub_config_template.py").read_text()
    )
    return config


@pytest.fixture(scope="session")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hub")
    chp = configurable_http_proxy()
    ports = dict(zip(("public", "hub", "proxy_api"), free_ports(3), strict=True))
    admin_token = secrets.token_hex(24)
    culler_token = secrets.token_hex(24)
    config = write_config(tmp, chp, ports, admin_token, culler_token)
    log = tmp / "hub.log"
    env = dict(
        os.environ, PYTHONPATH=str(REPO), TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="2"
    )
    hub_exe = str(Path(sys.executable).parent / "jupyterhub")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [hub_exe, "-f", str(config)],
            cwd=tmp,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    h = Hub(
        f"http://127.0.0.1:{ports['public']}/", admin_token, culler_token, tmp / "homes", log, proc
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if h.api("GET", "").ok:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterHub did not start:\n{h.log_tail()}")
            time.sleep(0.25)
        for user in USERS:  # one at a time: each start time is measured alone
            h.start_seconds[user] = h.spawn(user)
        print(f"\nsingle-user start times (s): {h.start_seconds}")
        yield h
    finally:
        _stop_hub(h)


def _stop_hub(h: Hub) -> None:
    if h.process.poll() is None:
        os.killpg(h.process.pid, signal.SIGTERM)  # the hub stops the servers and the proxy
        try:
            h.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(h.process.pid, signal.SIGKILL)
    for pidfile in h.homes.glob("*/singleuser.pid"):  # anything the hub left running
        try:
            pid = int(pidfile.read_text())
            if "singleuser.py" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                os.kill(pid, signal.SIGKILL)
        except (ValueError, OSError):
            pass


@pytest.fixture
def contexts(browser, request):
    """Browser contexts (one per user: separate cookie jars), screenshots on failure."""
    made = []

    def make():
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(30_000)
        made.append(context)
        return context

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for i, context in enumerate(made):
        if failed:
            out = Path(os.environ.get("WORKBENCH_UI_ARTIFACTS", "/tmp/workbench-ui"))
            out.mkdir(parents=True, exist_ok=True)
            for j, pg in enumerate(context.pages):
                pg.screenshot(path=str(out / f"{request.node.name}-{i}-{j}.png"))
        context.close()


def hub_login_form(page, user: str) -> None:
    """Fill JupyterHub's own login form (the page must show it)."""
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("#login_submit").click()


def open_lab_through_hub(context, hub: Hub, user: str, path: str = "lab"):
    """Log in at the hub's login page, as a person would, and land in JupyterLab."""
    page = context.new_page()
    next_url = f"/user/{user}/{path}"
    page.goto(f"{hub.url}hub/login?next={quote(next_url)}")
    hub_login_form(page, user)
    page.wait_for_url(f"**/user/{user}/**", timeout=60_000)
    page.wait_for_selector("#jp-main-dock-panel", state="visible", timeout=60_000)
    page.locator('.lm-TabBar-tab[data-id="filebrowser"]').wait_for(timeout=60_000)
    return page


def page_session(page) -> dict:
    """``GET workbench/api/session`` from the page, as the frontend sends it."""
    return page.evaluate(
        """async () => {
          const m = document.cookie.split(';').map(c => c.trim())
            .filter(c => c.startsWith('_xsrf=')).pop();
          const headers = m ? {'X-XSRFToken': decodeURIComponent(m.slice(6))} : {};
          const base = document.querySelector('#jupyter-config-data');
          const url = JSON.parse(base.textContent).baseUrl + 'workbench/api/session';
          const r = await fetch(url, {headers, credentials: 'same-origin'});
          return await r.json();
        }"""
    )
