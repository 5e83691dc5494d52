"""A real JupyterHub for the workbench: JupyterHub 6 + configurable-http-proxy on loopback.

One hub for the whole run (``hub`` fixture, session scope): DummyAuthenticator (password
``PASSWORD``), SimpleLocalProcessSpawner with one home per user under a temp dir, the
single-user servers started by ``jupyterhub-singleuser`` with this checkout's workbench and
frontend, and two users:

- ``alice``: ``--Workbench.session_absolute_timeout=40``; extensions linked in jupyter_server's
  usual (sorted) order, so JupyterHub's extension is linked after the workbench;
- ``bob``: ``--Workbench.session_idle_timeout=20``; extensions linked in reverse order
  (``singleuser.py``), so JupyterHub's is linked first.

Run as root (CI, this machine), the users are REAL Unix accounts: ``wbhub<run>-alice`` and
``wbhub<run>-bob`` are created with ``useradd`` (homes 0700 under a 0755 temp dir), the hub logs
them in as ``alice``/``bob`` (DummyAuthenticator) and LocalProcessSpawner runs each server as
its Unix user, from a Python every user can run (``public_python``), with py3/tf2 shared from a
root-owned, read-only directory (``SHARED_ENVS``). Otherwise SimpleLocalProcessSpawner runs both
servers as the current user and the tests that need real users skip, saying why.

The proxy comes from npm (``configurable-http-proxy@5``), installed on first use into
``.cache/npm`` in the repo (not globally). Run these tests in their own pytest invocation
(``pytest tests/hub``): they drive chromium through playwright's sync API.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
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
# Real users: hub user -> Unix account (a prefix, so no real account is ever touched).
# One pair per run (test runs on one machine may overlap); the comment field names the run's
# pid, so that the accounts of a run that was killed are removed by the next one.
UNIX_USERS = {u: f"wbhub{secrets.token_hex(3)}-{u}" for u in USERS}
UNIX_COMMENT = "jupyter-workbench hub test, pid "
# The admin-created, read-only py3/tf2 every user's kernels run from (kept between runs: tf2 is
# 1.6 GB and minutes to build; outside any home so that every user can reach it).
SHARED_ENVS = Path(
    os.environ.get("JUPYTER_WORKBENCH_HUB_ENVS", "/var/tmp/jupyter-workbench-hub-envs")
)
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


def reachable_by_all(path: str | os.PathLike) -> bool:
    """Whether every user can reach ``path``: each directory on the way is searchable by
    others (o+x) and ``path`` itself readable by others."""
    p = Path(os.path.realpath(path))
    try:
        for d in p.parents:
            if not d.stat().st_mode & stat.S_IXOTH:
                return False
        return bool(p.stat().st_mode & stat.S_IROTH)
    except OSError:
        return False


def public_python() -> str | None:
    """An interpreter every Unix user can run that has this test environment's packages.

    This interpreter itself when its installation is reachable by all; else (a pyenv under
    /root, say) a virtual environment in ``.cache/hub-python`` made from the system Python of
    the same version, whose ``.pth`` adds this environment's site-packages and whose ``etc`` and
    ``share`` are this environment's (JupyterLab's app dir, the server extensions' config).
    None when neither works.
    """
    if reachable_by_all(sys.executable) and reachable_by_all(sysconfig.get_paths()["purelib"]):
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path="/usr/local/bin:/usr/bin:/bin")
    if system is None or not reachable_by_all(system):
        return None
    venv = REPO / ".cache" / "hub-python"
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([system, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = sysconfig.get_paths()["purelib"]
    pth = venv / "lib" / version / "site-packages" / "workbench-test-env.pth"
    pth.write_text(f"import site; site.addsitedir({purelib!r})\n")
    for name in ("etc", "share"):
        link = venv / name
        if (Path(sys.prefix) / name).exists() and not link.is_symlink():
            if link.is_dir():
                shutil.rmtree(link)
            link.symlink_to(Path(sys.prefix) / name, target_is_directory=True)
    return str(py)


def real_users_reason() -> str | None:
    """Why the hub cannot run real Unix users here (None when it can)."""
    if os.geteuid() != 0:
        return "real Unix users need root (useradd, LocalProcessSpawner's setuid)"
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        return "useradd/userdel are missing"
    if not reachable_by_all(REPO / "jupyter_workbench" / "__init__.py"):
        return f"the checkout {REPO} is not readable by other users (clone it outside /root)"
    if public_python() is None:
        return "no Python every user can run (install python3 and python3-venv)"
    return None


REAL_USERS_REASON = real_users_reason()
needs_real_users = pytest.mark.skipif(REAL_USERS_REASON is not None, reason=f"{REAL_USERS_REASON}")


def _processes_of(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def _remove_unix_user(name: str) -> None:
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        return
    for pid in _processes_of(uid):  # what the test's servers and kernels left (by pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    subprocess.run(["userdel", name], check=False, capture_output=True, timeout=60)


def _remove_stale_unix_users() -> None:
    """The test accounts (and temp homes) of runs whose process is gone."""
    for pw in pwd.getpwall():
        if not (pw.pw_name.startswith("wbhub") and pw.pw_gecos.startswith(UNIX_COMMENT)):
            continue
        try:
            os.kill(int(pw.pw_gecos[len(UNIX_COMMENT) :]), 0)
            continue  # that run is still going
        except ProcessLookupError:
            pass
        except (ValueError, OSError):
            continue
        _remove_unix_user(pw.pw_name)
        homes = Path(pw.pw_dir).parent
        if homes.name.startswith("wb-hub-homes-"):
            shutil.rmtree(homes, ignore_errors=True)


def create_unix_users(homes: Path) -> dict[str, str]:
    """``useradd`` this run's test accounts, homes ``homes/<user>`` (0700, theirs, with this
    checkout's frontend)."""
    _remove_stale_unix_users()
    for user, name in UNIX_USERS.items():
        home = homes / user
        subprocess.run(
            [
                "useradd",
                "--home-dir",
                str(home),
                "--create-home",
                "--shell",
                "/bin/bash",
                "--comment",
                f"{UNIX_COMMENT}{os.getpid()}",
                "--user-group",
                name,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        _write_home(home)
        pw = pwd.getpwnam(name)
        for path in [home, *home.rglob("*")]:
            os.lchown(path, pw.pw_uid, pw.pw_gid)
        home.chmod(0o700)
    return dict(UNIX_USERS)


def ensure_shared_environments(python: str, names=("py3", "tf2")) -> Path:
    """py3/tf2 in SHARED_ENVS, created by root (this process) from ``python``, mode 0755: what a
    team admin does once with ``jupyter workbench env create`` (seconds when they are ready)."""
    SHARED_ENVS.mkdir(parents=True, exist_ok=True)
    SHARED_ENVS.chmod(0o755)
    env = dict(
        os.environ,
        JUPYTER_WORKBENCH_ENVS_DIR=str(SHARED_ENVS),
        PYTHONPATH=str(REPO),
        TF_ENABLE_ONEDNN_OPTS="0",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    old = os.umask(0o022)
    try:
        for name in names:
            r = subprocess.run(
                [python, "-m", "jupyter_workbench.cli", "env", "create", name, "--no-kernelspec"],
                env=env,
                capture_output=True,
                text=True,
                timeout=1500,
            )
            assert r.returncode == 0, (
                f"creating the shared {name} failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}"
            )
    finally:
        os.umask(old)
    return SHARED_ENVS


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
    unix: dict[str, str] = field(default_factory=dict)  # hub user -> Unix account (real users)
    python: str = sys.executable  # what the single-user servers run
    _tokens: dict[str, str] = field(default_factory=dict)

    def write_home(self, user: str, relpath: str, text: str) -> Path:
        """A file in ``user``'s home, owned by them (as if they had written it)."""
        path = self.homes / user / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if user in self.unix:
            pw = pwd.getpwnam(self.unix[user])
            os.chown(path, pw.pw_uid, pw.pw_gid)
        return path

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


def write_config(
    tmp: Path,
    chp: str,
    ports: dict,
    admin_token: str,
    culler_token: str,
    homes: Path,
    unix: dict[str, str],
    python: str,
) -> Path:
    extra = ["--LabApp.news_url=", "--ServerApp.shutdown_no_activity_timeout=0"]
    if unix:
        extra.append(f"--Workbench.environments_dir={SHARED_ENVS}")
        path = f"{Path(python).parent}:/usr/local/bin:/usr/bin:/bin"
    else:
        for user in USERS:
            _write_home(homes / user)
        path = os.environ.get("PATH", "")
    if os.geteuid() == 0 and not unix:
        extra.append("--allow-root")
    settings = {
        "chp": chp,
        "ports": ports,
        "homes": str(homes),
        "unix_users": unix,
        "python": python,
        "singleuser": str(HERE / "singleuser.py"),
        "repo": str(REPO),
        "user_args": {u: USER_ARGS[u] + extra for u in USERS},
        "link_order": LINK_ORDER,
        "admin_token": admin_token,
        "culler_token": culler_token,
        "activity_interval": ACTIVITY_INTERVAL,
        "path": path,
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
    if REAL_USERS_REASON is None:
        # (pytest's temp dirs are 0700 root's: the homes need a parent every user can cross)
        homes = Path(tempfile.mkdtemp(prefix="wb-hub-homes-"))
        homes.chmod(0o755)
        try:
            unix = create_unix_users(homes)
        except BaseException:
            for name in UNIX_USERS.values():
                _remove_unix_user(name)
            shutil.rmtree(homes, ignore_errors=True)
            raise
        python = public_python()
    else:
        homes, unix, python = tmp / "homes", {}, sys.executable
    config = write_config(tmp, chp, ports, admin_token, culler_token, homes, unix, python)
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
        f"http://127.0.0.1:{ports['public']}/",
        admin_token,
        culler_token,
        homes,
        log,
        proc,
        unix=unix,
        python=python,
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
        if unix:
            for name in unix.values():
                _remove_unix_user(name)
            shutil.rmtree(homes, ignore_errors=True)


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


def run_async(coro):
    """``asyncio.run(coro)`` in a thread of its own: playwright's sync API may hold this
    thread's event loop."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class HubKernel:
    """A kernel of ``user``'s server, driven over its websocket through the hub's proxy with
    the user's hub token (what a notebook tab does, without a browser)."""

    def __init__(self, hub: Hub, user: str, kernel_name: str):
        self.hub, self.user = hub, user
        t0 = time.monotonic()
        r = hub.user_api(user, "api/kernels", "POST", json={"name": kernel_name})
        assert r.status_code == 201, r.text
        self.id = r.json()["id"]
        status, out = self.execute("print('ready')")
        assert status == "ok" and "ready" in out, out
        self.start_seconds = time.monotonic() - t0

    def execute(self, code: str, timeout: float = 240) -> tuple[str, str]:
        """Run ``code``; (status, stdout + stderr + error text)."""
        return run_async(self._execute(code, timeout))

    async def _execute(self, code: str, timeout: float) -> tuple[str, str]:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        url = self.hub.server_url(self.user, f"api/kernels/{self.id}/channels")
        request = HTTPRequest(
            url.replace("http://", "ws://"),
            headers={"Authorization": f"token {self.hub.user_token(self.user)}"},
        )
        ws = await asyncio.wait_for(websocket_connect(request), 60)
        msg_id = uuid.uuid4().hex
        ws.write_message(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "username": self.user,
                        "session": uuid.uuid4().hex,
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {"code": code, "silent": False, "allow_stdin": False},
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        out: list[str] = []
        status, idle = None, False
        deadline = time.monotonic() + timeout
        try:
            while status is None or not idle:
                raw = await asyncio.wait_for(ws.read_message(), deadline - time.monotonic())
                assert raw is not None, "the kernel websocket closed"
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    out.append(content["text"])
                elif kind == "error":
                    out.append(f"{content['ename']}: {content['evalue']}\n")
                elif kind == "execute_result":
                    out.append(content["data"].get("text/plain", "") + "\n")
                elif kind == "execute_reply":
                    status = content["status"]
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
        finally:
            ws.close()
        return status, "".join(out)

    def restart(self) -> None:
        r = self.hub.user_api(self.user, f"api/kernels/{self.id}/restart", "POST")
        assert r.status_code == 200, r.text

    def shutdown(self) -> None:
        self.hub.user_api(self.user, f"api/kernels/{self.id}", "DELETE")


def as_unix_user(
    hub: Hub, user: str, code: str, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess:
    """Run Python ``code`` as ``user``'s Unix account (what bob could do in his terminal)."""
    pw = pwd.getpwnam(hub.unix[user])
    return subprocess.run(
        [hub.python, "-c", code, *args],
        user=pw.pw_uid,
        group=pw.pw_gid,
        extra_groups=[],
        env={"HOME": pw.pw_dir, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        cwd="/",
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
