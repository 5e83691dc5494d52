"""The py3 environment for REAL: venv + pip from the package index, its kernel, the server's
/api/kernelspecs, repair after a kill or corruption, and an unreachable index.

Reuses $JUPYTER_WORKBENCH_TEST_ENVS when set (CI: a cache dir), else a temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from _envcopy import clone_environment
from jupyter_client import BlockingKernelClient

import jupyter_workbench
from jupyter_workbench import environments as envs
from jupyter_workbench.environments import _paths
from jupyter_workbench.environments.kernelspecs import WorkbenchKernelSpecManager
from jupyter_workbench.environments.provision import workbench_package_dir
from jupyter_workbench.environments.spec import MARKER_NAME

try:
    from ._env_fixtures import (
        closed_port,
        execute,
        free_port,
        make_fake_env,
        offline_pip,
        real_envs_dir,
        started_kernel,
    )
except ImportError:
    from _env_fixtures import (
        closed_port,
        execute,
        free_port,
        make_fake_env,
        offline_pip,
        real_envs_dir,
        started_kernel,
    )

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def envs_dir():
    with real_envs_dir("py3") as d:
        yield d


@pytest.fixture(scope="module")
def py3(envs_dir):
    events: list[dict] = []
    info = envs.create_environment("py3", envs_dir, progress=events.append)
    return info, events


def test_create_py3_for_real(py3, envs_dir):
    # Given a py3 created (or found ready in the cache dir)
    info, events = py3
    # Then it is ready, with its Python and key packages recorded
    assert info["ready"] is True, info
    assert info["action"] in ("created", "repaired", "updated", "none")
    assert info["python"] == ".".join(map(str, sys.version_info[:3]))
    assert {"ipykernel", "fsspec", "ossfs", "tqdm"} <= set(info["packages"])
    assert "tensorflow" not in info["packages"]
    assert info["python_executable"] == str(envs_dir / "py3" / "bin" / "python")
    # And progress was reported step by step (with pip's own output when pip ran)
    steps = [e["stage"] for e in events if e["kind"] == "step"]
    assert steps[0] == "check" and events[-1]["message"].startswith("py3 is ready")
    if info["action"] != "none":
        assert steps[-1] == "marker"
        assert {"venv", "link", "pip", "verify", "kernelspec"} <= set(steps)
        pip_lines = [e["message"] for e in events if e["kind"] == "output"]
        assert any("ipykernel" in ln for ln in pip_lines)
    # When created again
    t0 = time.perf_counter()
    again = envs.create_environment("py3", envs_dir)
    # Then nothing is reinstalled (idempotent) and it is quick
    assert again["action"] == "none" and again["ready"]
    assert time.perf_counter() - t0 < 10
    assert envs.environment_python("py3", envs_dir) == info["python_executable"]


KERNEL_FACTS = """
import importlib.util, json, os, shutil, sys
ip = get_ipython()
import jupyter_workbench
print("@@" + json.dumps({
    "executable": sys.executable,
    "prefix": sys.prefix,
    "which_pip": shutil.which("pip"),
    "virtual_env": os.environ.get("VIRTUAL_ENV"),
    "environment": os.environ.get("JUPYTER_WORKBENCH_ENVIRONMENT"),
    "workbench_file": jupyter_workbench.__file__,
    "workbench_version": jupyter_workbench.__version__,
    "workbench_loaded": "jupyter_workbench" in sys.modules,
    "magics_module": importlib.util.find_spec("jupyter_workbench.magics") is not None,
    "magics": sorted(m for m in ("savedmodel", "mounts") if ip.find_line_magic(m)),
    "extensions": sorted(ip.extension_manager.loaded),
}))
"""


def kernel_facts(kc) -> dict:
    status, out = execute(kc, KERNEL_FACTS)
    assert status == "ok", out
    line = next(ln for ln in out.splitlines() if ln.startswith("@@"))
    return json.loads(line[2:])


def check_workbench_preloaded(facts: dict) -> None:
    assert facts["workbench_loaded"]
    if facts["magics_module"]:
        assert facts["magics"] == ["mounts", "savedmodel"], facts
        assert "jupyter_workbench" in facts["extensions"]


def test_py3_kernel_runs_in_its_environment(py3, envs_dir):
    # Given the server's kernelspec manager and a ready py3
    env = envs_dir / "py3"
    ksm = WorkbenchKernelSpecManager(environments_dir=str(envs_dir))
    # When a py3 kernel is started through its kernelspec
    with started_kernel(ksm, "py3") as kc:
        facts = kernel_facts(kc)
        tf_status, tf_out = execute(kc, "import tensorflow")
        _, which_out = execute(kc, "!which pip")
        _, pip_out = execute(kc, "%pip --version")
        _, deps_out = execute(kc, "import fsspec, ossfs, tqdm, ipykernel; print('deps ok')")
    # Then it runs the environment's interpreter, with the env's bin first on PATH
    assert facts["executable"] == str(env / "bin" / "python")
    assert facts["prefix"] == str(env)
    assert facts["which_pip"] == str(env / "bin" / "pip")
    assert which_out.strip() == str(env / "bin" / "pip")  # `!pip` lands in the environment
    assert str(env / "lib") in pip_out  # `%pip` too
    assert facts["virtual_env"] == str(env) and facts["environment"] == "py3"
    # And the workbench package is importable (the running installation's) and preloaded
    assert Path(facts["workbench_file"]).resolve().parent == workbench_package_dir()
    assert facts["workbench_version"] == jupyter_workbench.__version__
    check_workbench_preloaded(facts)
    assert "deps ok" in deps_out
    # And TensorFlow is NOT there: py3 is the light environment
    assert tf_status == "error" and "ModuleNotFoundError" in tf_out


def _server_get(base: str, path: str, token: str, method: str = "GET", body=None):
    req = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")


def test_server_lists_and_starts_environment_kernels(py3, envs_dir, tmp_path):
    # Given an environments dir with the real py3 and a (fake) ready tf2
    root = tmp_path / "envs"
    root.mkdir()
    (root / "py3").symlink_to(envs_dir / "py3", target_is_directory=True)
    make_fake_env(root, "tf2")
    # And a Jupyter server configured with the workbench kernelspec manager
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"jupyter_workbench": False}}})
    )
    port, token = free_port(), "wb-env-test"
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(cfg),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyter_server",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={tmp_path}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.kernel_spec_manager_class="
        "jupyter_workbench.environments.kernelspecs.WorkbenchKernelSpecManager",
        f"--WorkbenchKernelSpecManager.environments_dir={root}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, specs = _server_get(base, "/api/kernelspecs", token)
                if status == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.3)
        # When /api/kernelspecs is asked
        # Then both environments are offered with clear names, next to the usual kernels
        ks = specs["kernelspecs"]
        assert ks["py3"]["spec"]["display_name"] == "Python 3 (py3)"
        assert ks["tf2"]["spec"]["display_name"] == "TensorFlow 2 (tf2)"
        assert ks["py3"]["spec"]["metadata"]["cull_idle_timeout"] > 0
        assert ks["py3"]["spec"]["env"]["VIRTUAL_ENV"] == str(envs_dir / "py3")
        # with real logos (not letter tiles), and the server's own kernel named for what it is
        assert {"logo-64x64", "logo-svg"} <= set(ks["py3"]["resources"]), ks["py3"]
        assert {"logo-64x64", "logo-svg"} <= set(ks["tf2"]["resources"]), ks["tf2"]
        if "python3" in ks:
            name = ks["python3"]["spec"]["display_name"]
            assert name == "Python 3 (server, no workbench environment)", name
        # And c.Workbench.default_kernel makes a ready environment the default for new notebooks
        from types import SimpleNamespace

        from jupyter_workbench.environments.kernelspecs import (
            WorkbenchKernelSpecManager,
            set_default_kernel,
        )

        app = SimpleNamespace(
            kernel_spec_manager=WorkbenchKernelSpecManager(environments_dir=str(root)),
            kernel_manager=SimpleNamespace(default_kernel_name="python3"),
            log=None,
        )
        assert set_default_kernel(app, "py3") == "py3"
        assert app.kernel_manager.default_kernel_name == "py3"
        assert set_default_kernel(app, "no-such-env") is None
        assert app.kernel_manager.default_kernel_name == "py3"
        # When a py3 kernel is started through the REST API
        status, kernel = _server_get(base, "/api/kernels", token, "POST", {"name": "py3"})
        assert status == 201, kernel
        # Then it runs in the environment (the server used the environment's kernelspec)
        assert kernel["name"] == "py3"
        cf = tmp_path / "rt" / f"kernel-{kernel['id']}.json"
        kc = BlockingKernelClient(connection_file=str(cf))
        kc.load_connection_file()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            status, out = execute(kc, "import sys; print(sys.executable)")
        finally:
            kc.stop_channels()
        assert out.strip() == str(envs_dir / "py3" / "bin" / "python")
        _server_get(base, f"/api/kernels/{kernel['id']}", token, "DELETE")
        # When tf2's directory is deleted under the running server
        shutil.rmtree(root / "tf2")
        status, specs = _server_get(base, "/api/kernelspecs", token)
        # Then it is no longer offered, and a session asking for it gets a clear refusal
        assert "tf2" not in specs["kernelspecs"] and "py3" in specs["kernelspecs"]
        status, body = _server_get(
            base,
            "/api/sessions",
            token,
            "POST",
            {"path": "a.ipynb", "type": "notebook", "kernel": {"name": "tf2"}},
        )
        assert status in (404, 501), body
        assert "tf2" in json.dumps(body)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_repair_after_corruption(py3, envs_dir):
    # Given a ready py3 that gets damaged: marker removed, tqdm uninstalled by hand,
    # a file of fsspec deleted (its metadata still says "installed")
    env = envs_dir / "py3"
    site = _paths.site_packages(env)
    (env / MARKER_NAME).unlink()
    shutil.rmtree(site / "tqdm")
    for d in site.glob("tqdm-*.dist-info"):
        shutil.rmtree(d)
    (site / "fsspec" / "spec.py").unlink()
    # Then it lists as not ready and its kernel is not offered
    info = envs.environment_info("py3", envs_dir)
    assert info["ready"] is False and info["state"] == "incomplete"
    assert (
        "py3" not in WorkbenchKernelSpecManager(environments_dir=str(envs_dir)).find_kernel_specs()
    )
    # When created again
    events: list[dict] = []
    info = envs.create_environment("py3", envs_dir, progress=events.append)
    # Then it is repaired in place (not rebuilt) and both damages are fixed
    assert info["ready"] is True and info["action"] == "repaired"
    messages = " ".join(e["message"] for e in events)
    assert "interpreter ok" in messages
    assert "reinstalling damaged packages" in messages and "fsspec" in messages
    out = subprocess.run(
        [str(env / "bin" / "python"), "-c", "import tqdm, fsspec.spec; print('fixed')"],
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "fixed", out.stderr
    # Given the marker still says ready but a key package was removed since
    shutil.rmtree(site / "tqdm")
    for d in site.glob("tqdm-*.dist-info"):
        shutil.rmtree(d)
    # When created again
    events = []
    info = envs.create_environment("py3", envs_dir, progress=events.append)
    # Then the damage is noticed and repaired
    assert info["action"] == "repaired" and info["ready"]
    assert any("damaged" in e["message"] for e in events)
    assert (site / "tqdm" / "__init__.py").is_file()


def test_killed_half_way_then_repaired(py3, envs_dir, tmp_path):
    # Given a py3 creation killed while pip is installing packages: a clone of the ready py3
    # that lost two packages, so that pip has something to install (a creation from nothing
    # takes two full pip installs, ~100 s; this one kills the same pip step)
    root = tmp_path / "envs"
    clone_environment(envs_dir / "py3", root / "py3")
    (root / "py3" / MARKER_NAME).unlink()
    python = str(root / "py3" / "bin" / "python")
    removed = subprocess.run(
        [python, "-m", "pip", "uninstall", "-y", "-q", "tqdm", "jedi"],
        capture_output=True,
        text=True,
    )
    assert removed.returncode == 0, removed.stderr
    script = (
        "import sys\n"
        "from jupyter_workbench.environments import create_environment\n"
        "create_environment('py3', sys.argv[1], progress=lambda e: print(e['message'], "
        "flush=True))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = []
    killed = False
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("Installing collected packages"):
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
    proc.wait()
    proc.stdout.close()
    assert killed, "".join(seen[-20:])
    # Then it lists as not ready and is not offered as a kernel
    info = envs.environment_info("py3", root)
    assert info["ready"] is False and info["state"] == "incomplete", info
    assert "repair" in info["message"]
    assert envs.environment_python("py3", root) is None
    assert "py3" not in WorkbenchKernelSpecManager(environments_dir=str(root)).find_kernel_specs()
    # When created again
    info = envs.create_environment("py3", root)
    # Then it is repaired and works
    assert info["ready"] is True and info["action"] == "repaired"
    out = subprocess.run(
        [info["python_executable"], "-c", "import ipykernel, jedi, ossfs, tqdm, jupyter_workbench"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr


def test_registry_unreachable(tmp_path, monkeypatch):
    with closed_port() as port:
        # Given the package index is unreachable (and no local wheels or pip.conf)
        offline_pip(monkeypatch, port)
        # When py3 is created
        t0 = time.monotonic()
        with pytest.raises(envs.WorkbenchEnvError) as err:
            envs.create_environment("py3", tmp_path)
        # Then a clear message names the index and how to resume, within bounded time
        assert time.monotonic() - t0 < 120
        msg = str(err.value)
        assert err.value.kind == "registry-unreachable", msg
        assert "Could not reach the package index" in msg
        assert f"127.0.0.1:{port}" in msg and "Connection refused" in msg
        assert "env create py3" in msg
        assert "Traceback" not in msg and len(msg) < 600
        # And the environment is not ready
        assert envs.environment_info("py3", tmp_path)["state"] == "incomplete"
        # When the index is switched off entirely (PIP_NO_INDEX) and create is retried
        offline_pip(monkeypatch, port, no_index=True)
        with pytest.raises(envs.WorkbenchEnvError) as err:
            envs.create_environment("py3", tmp_path)
        # Then the message says so
        assert err.value.kind == "registry-unreachable"
        assert "PIP_NO_INDEX" in str(err.value) and "ipykernel" in str(err.value)


def test_cancel_through_the_progress_callback(tmp_path):
    # Given a client that goes away while pip is running (its progress callback raises)
    class Gone(Exception):
        pass

    def progress(event):
        if event["stage"] == "pip" and event["kind"] == "output":
            raise Gone()

    # When py3 is created
    with pytest.raises(Gone):
        envs.create_environment("py3", tmp_path, progress=progress)
    # Then pip was stopped and the environment is reported as not ready (the next create resumes)
    assert envs.environment_info("py3", tmp_path)["state"] == "incomplete"
