"""Exports and environment creations are jobs: they go on when the server that started them
stops, and a new server over the same state dir reports how they ended.

A real ``jupyter server`` process is started, stopped with SIGTERM (its clean shutdown, which
used to cancel exports) and started again; the export's SavedModel is then reloaded and run by
TensorFlow, and the repaired py3 environment's interpreter is run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from _envcopy import clone_environment
from _servers import jupyter_env, start_jupyter

from jupyter_workbench.environments import create_environment
from jupyter_workbench.environments.spec import MARKER_NAME
from jupyter_workbench.session.jobs import JobManager

BASE_URL = "/a@b/"


@dataclass
class Server:
    url: str
    token: str
    process: subprocess.Popen
    log: Path

    def call(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(
            f"{self.url}workbench/api/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")


def start_server(tmp: Path, root: Path, envs: Path, tag: str) -> Server:
    config = tmp / "config"
    config.mkdir(exist_ok=True)
    (config / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "ServerApp": {"jpserver_extensions": {"jupyter_workbench": True}},
                "Workbench": {"fuse_mounts": False, "environments_dir": str(envs)},
            }
        )
    )
    token = secrets.token_hex(16)
    proc, url = start_jupyter(
        [sys.executable, "-m", "jupyter_server"],
        [f"--ServerApp.base_url={BASE_URL}"],
        root=root,
        token=token,
        env=jupyter_env(tmp),
        log=tmp / f"server-{tag}.log",
        ready="jupyter-workbench",
        timeout=90,
        what="jupyter server",
    )
    return Server(url.rstrip("/") + BASE_URL, token, proc, tmp / f"server-{tag}.log")


def stop_server(server: Server) -> None:
    """SIGTERM to the server only (not its process group), as a stopping service manager or
    Ctrl-C does; SIGKILL to the group if it does not stop."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(10)


def wait_until(fetch, done, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


@pytest.fixture(scope="module")
def cached_py3():
    """A ready py3 environment: the test cache's ($JUPYTER_WORKBENCH_TEST_ENVS), else a new one."""
    cached = os.environ.get("JUPYTER_WORKBENCH_TEST_ENVS")
    path = Path(cached).expanduser().absolute() if cached else Path(tempfile.mkdtemp())
    info = create_environment("py3", path)
    assert info["ready"], info["message"]
    yield path / "py3"
    if not cached:
        shutil.rmtree(path, ignore_errors=True)


def test_an_export_and_an_environment_repair_outlive_the_server_that_started_them(
    tmp_path, tiny_keras_file, cached_py3
):
    # Given a model under the root, and a py3 environment whose creation never finished
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(tiny_keras_file, root / "tiny.keras")
    envs = tmp_path / "envs"
    envs.mkdir()
    clone_environment(cached_py3, envs / "py3")
    (envs / "py3" / MARKER_NAME).unlink()

    # When the sidebar starts an export and a repair of py3, and the server is stopped at once
    server = start_server(tmp_path, root, envs, "first")
    try:
        code, started = server.call(
            "POST", "exports", {"source": "tiny.keras", "destination": "models/tiny"}
        )
        assert (code, started["state"]) == (202, "queued"), started
        code, creation = server.call("POST", "environments/py3", {})
        assert (code, creation["creation"]["state"]) == (202, "running"), creation
        _, jobs = server.call("GET", "jobs")
        repair_id = next(j["id"] for j in jobs if j["kind"] == "environment")
    finally:
        stop_server(server)
    assert server.process.returncode is not None

    # Then both were still running when the server had stopped
    jobs = JobManager(state_dir=tmp_path / "state")
    assert not jobs.get(started["id"]).finished, jobs.get(started["id"])
    assert not jobs.get(repair_id).finished, jobs.get(repair_id)

    # When a new server starts over the same state dir
    server = start_server(tmp_path, root, envs, "second")
    try:
        # Then the export ends done, with the version, as the exports API always showed it
        export = wait_until(
            lambda: server.call("GET", f"exports/{started['id']}")[1],
            lambda e: e["state"] in ("done", "failed"),
            timeout=300,
        )
        assert export["state"] == "done", export
        assert export["progress"] == 1.0 and export["result"]["version"] == 1
        assert export["source"] == "tiny.keras" and export["destination"] == "models/tiny"
        # and the repair ends with py3 ready
        env = wait_until(
            lambda: server.call("GET", "environments/py3")[1],
            lambda e: e.get("creation", {}).get("state") != "running",
            timeout=400,
        )
        assert env["creation"]["state"] == "done", env["creation"]
        assert env["ready"] is True and env["creation"]["error"] is None
        assert any("py3 is ready" in line for line in env["creation"]["log"]), env["creation"]
        # and both are in the Jobs panel's listing with their kinds
        _, listing = server.call("GET", "jobs")
        kinds = {j["id"]: (j["kind"], j["state"]) for j in listing}
        assert kinds == {
            started["id"]: ("export", "succeeded"),
            repair_id: ("environment", "succeeded"),
        }
        _, exports = server.call("GET", "exports")
        assert [e["id"] for e in exports] == [started["id"]]
    finally:
        stop_server(server)

    # and TensorFlow loads the published SavedModel and it computes what the Keras model does
    # (in this process: the suite's workers have TensorFlow loaded already, a child would
    # start it again)
    import keras
    import numpy as np
    import tensorflow as tf

    x = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)
    want = keras.saving.load_model(root / "tiny.keras")(x).numpy()
    fn = tf.saved_model.load(str(root / "models" / "tiny" / "1")).signatures["serving_default"]
    got = list(fn(features=tf.constant(x)).values())[0].numpy()
    assert got.shape == (2, 3) and float(np.abs(got - want).max()) < 1e-5, (got, want)
    # and the repaired interpreter runs
    python = envs / "py3" / "bin" / "python"
    assert subprocess.run([python, "-c", "import ipykernel"], timeout=60).returncode == 0
