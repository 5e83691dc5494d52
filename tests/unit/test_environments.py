"""Environments: definitions, discovery, kernelspecs, errors. Fast: no network, no pip.

The real py3/tf2 environments are exercised in test_environments_real.py / _tf2.py.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jupyter_client.kernelspec import NoSuchKernel

from jupyter_workbench import environments as envs
from jupyter_workbench.environments import _paths, templates
from jupyter_workbench.environments._lock import env_lock
from jupyter_workbench.environments.commands import interpreter_ok, pip_failure
from jupyter_workbench.environments.kernelspecs import (
    EnvironmentKernelUnavailable,
    WorkbenchKernelSpecManager,
    install_kernelspecs,
)
from jupyter_workbench.environments.spec import MARKER_NAME

try:
    from ._env_fixtures import make_fake_env
except ImportError:
    from _env_fixtures import make_fake_env


@pytest.fixture(autouse=True)
def _no_gpu(monkeypatch):
    monkeypatch.setenv("JUPYTER_WORKBENCH_GPU", "0")


# ---------------------------------------------------------------- definitions, dirs, GPU


def test_import_is_cheap():
    # Given a fresh interpreter
    code = (
        "import sys, jupyter_workbench.environments as e; e.list_environments('/nonexistent');"
        "print(sorted(m for m in ('tensorflow','jupyter_client','jupyter_server') "
        "if m in sys.modules))"
    )
    # When the environments package is imported and used for a listing
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # Then neither TensorFlow nor Jupyter's client/server were imported
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "call",
    [
        lambda d: envs.create_environment("py4", d),
        lambda d: envs.environment_python("tf3", d),
        lambda d: envs.remove_environment("nope", d),
        lambda d: envs.environment_info("", d),
        lambda d: envs.install_kernelspecs(d, names=["R"]),
    ],
)
def test_unknown_environment_is_a_clear_error(tmp_path, call):
    # Given no environment called like that
    # When it is asked for
    with pytest.raises(envs.WorkbenchEnvError) as err:
        call(tmp_path)
    # Then the message names the known environments, and nothing was created
    assert "Unknown environment" in str(err.value)
    assert "py3, tf2" in str(err.value)
    assert err.value.kind == "unknown"
    assert not any(tmp_path.iterdir())


def test_default_environments_dir(monkeypatch, tmp_path):
    # Given no override
    monkeypatch.delenv("JUPYTER_WORKBENCH_ENVS_DIR", raising=False)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    # Then the default is under the Jupyter data dir
    assert envs.default_environments_dir() == tmp_path / "data" / "workbench" / "envs"
    # When the environment variable is set, it wins; an explicit argument wins over both
    monkeypatch.setenv("JUPYTER_WORKBENCH_ENVS_DIR", str(tmp_path / "elsewhere"))
    assert envs.default_environments_dir() == tmp_path / "elsewhere"
    assert envs.resolve_environments_dir(tmp_path / "x") == tmp_path / "x"
    assert envs.list_environments()[0]["path"] == str(tmp_path / "elsewhere" / "py3")


def test_tf2_plan_cpu_and_gpu():
    # Given the tf2 definition
    tf2 = envs.get_spec("tf2")
    # When planned without and with a visible GPU
    cpu, gpu = tf2.plan(gpu=False), tf2.plan(gpu=True)
    # Then the CPU wheel or the GPU build is chosen, tf_keras always comes with --no-deps
    assert "tensorflow-cpu==2.21.0" in cpu["requirements"]
    assert not any(r.startswith("tensorflow[") for r in cpu["requirements"])
    assert "tensorflow[and-cuda]==2.21.0" in gpu["requirements"]
    assert not any(r.startswith("tensorflow-cpu") for r in gpu["requirements"])
    for plan in (cpu, gpu):
        assert plan["nodeps_requirements"] == ["tf_keras==2.21.0", "tensorflow-serving-api==2.21.0"]
        assert not any(r.startswith("tf_keras") for r in plan["requirements"])
        assert {"numpy", "pandas"} <= set(plan["requirements"])
        assert any(r.startswith("ipykernel") for r in plan["requirements"])
    assert cpu["uninstall_first"] == ["tensorflow"] and gpu["uninstall_first"] == ["tensorflow-cpu"]
    assert tf2.fingerprint(False) != tf2.fingerprint(True)
    # And py3 stays light: no TensorFlow, no GPU variant
    py3 = envs.get_spec("py3").plan(gpu=True)
    assert not any("tensorflow" in r or "keras" in r for r in py3["requirements"])
    assert py3["gpu_build"] is None
    names = {r.split(">")[0].split("=")[0] for r in py3["requirements"]}
    assert {"ipykernel", "fsspec", "ossfs", "tqdm"} <= names


def _fake_nvidia_smi(tmp_path: Path, output: str, rc: int = 0) -> Path:
    bindir = tmp_path / "fakebin"
    bindir.mkdir(exist_ok=True)
    exe = bindir / "nvidia-smi"
    exe.write_text(f"#!/bin/sh\nprintf '%s\\n' '{output}'\nexit {rc}\n")  # builtins only
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return bindir


def test_gpu_visibility(monkeypatch, tmp_path):
    monkeypatch.delenv("JUPYTER_WORKBENCH_GPU", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    # Given no nvidia-smi at all
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert envs.gpu_visible(refresh=True) is False
    # Given an nvidia-smi that lists a GPU
    bindir = _fake_nvidia_smi(tmp_path, "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1234)")
    monkeypatch.setenv("PATH", str(bindir))
    assert envs.gpu_visible(refresh=True) is True
    # When CUDA_VISIBLE_DEVICES hides it, or the override says no
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert envs.gpu_visible(refresh=True) is False
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setenv("JUPYTER_WORKBENCH_GPU", "0")
    assert envs.gpu_visible(refresh=True) is False
    # Given an nvidia-smi that finds no device (driver installed, no GPU)
    monkeypatch.delenv("JUPYTER_WORKBENCH_GPU")
    bindir = _fake_nvidia_smi(tmp_path, "No devices found.", rc=6)
    assert envs.gpu_visible(refresh=True) is False


# ---------------------------------------------------------------- kernelspec templates


@pytest.mark.parametrize("name,display", [("py3", "Python 3 (py3)"), ("tf2", "TensorFlow 2 (tf2)")])
def test_kernelspec_rendering(tmp_path, name, display):
    # Given an environment directory
    env = tmp_path / name
    # When its kernelspec is rendered from the template
    spec = templates.render_kernelspec(name, env)
    # Then it runs the environment's interpreter with the workbench preloaded
    assert spec["display_name"] == display
    assert spec["argv"][0] == str(env / "bin" / "python")
    assert "{connection_file}" in spec["argv"]
    assert "--IPKernelApp.extra_extensions=jupyter_workbench" in spec["argv"]
    # And puts the environment's bin first on PATH (so `!pip` is the env's pip)
    assert spec["env"]["PATH"] == f"{env / 'bin'}:${{PATH}}"
    assert spec["env"]["VIRTUAL_ENV"] == str(env)
    assert spec["env"]["JUPYTER_WORKBENCH_ENVIRONMENT"] == name
    # And carries a per-environment idle culling timeout
    assert isinstance(spec["metadata"]["cull_idle_timeout"], int)
    assert spec["metadata"]["cull_idle_timeout"] > 0
    assert spec["metadata"]["workbench"]["environment"] == name
    assert not any("{python}" in a or "{env_" in a for a in spec["argv"])


def test_templates_found_in_shared_data(monkeypatch, tmp_path):
    # Given an installed wheel: no source tree, templates in <prefix>/share/jupyter/workbench
    shared = tmp_path / "prefix" / "share" / "jupyter" / "workbench" / "kernels"
    shutil.copytree(Path(__file__).resolve().parents[2] / "kernels", shared)
    data = json.loads((shared / "py3" / "kernel.json").read_text())
    data["display_name"] = "Python 3 (py3) [installed]"
    (shared / "py3" / "kernel.json").write_text(json.dumps(data))
    monkeypatch.setattr(templates, "__file__", str(tmp_path / "site" / "jw" / "env" / "t.py"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    # When the template is looked up
    # Then the shared-data copy is used
    assert templates.find_template("py3") == shared / "py3"
    assert templates.render_kernelspec("py3", tmp_path / "e")["display_name"].endswith(
        "[installed]"
    )


def test_missing_templates_is_a_clear_error(monkeypatch, tmp_path):
    # Given an installation without the kernels/ templates anywhere
    monkeypatch.setattr(templates, "template_roots", lambda: [])
    # When an environment is created
    with pytest.raises(envs.WorkbenchEnvError) as err:
        envs.create_environment("py3", tmp_path)
    # Then the message says the installation is incomplete, before any work was done
    assert err.value.kind == "templates-missing"
    assert "reinstall" in str(err.value)
    assert not (tmp_path / "py3").exists()


# ---------------------------------------------------------------- discovery


def test_listing_states(tmp_path):
    # Given py3 looks created and ready, tf2 was never created
    make_fake_env(tmp_path, "py3")
    # When listed
    t0 = time.perf_counter()
    listed = {e["name"]: e for e in envs.list_environments(tmp_path)}
    elapsed = time.perf_counter() - t0
    # Then both are listed with the fields the REST API serves, cheaply
    assert elapsed < 1.0
    assert list(listed) == ["py3", "tf2"]
    py3, tf2 = listed["py3"], listed["tf2"]
    for e in (py3, tf2):
        assert {"name", "display_name", "kernel_name", "python", "packages", "gpu", "ready"} <= set(
            e
        )
    assert py3["ready"] is True and py3["state"] == "ready"
    assert py3["python"] == "3.11.7" and py3["packages"] == {"ipykernel": "7.4.0"}
    assert py3["python_executable"] == str(tmp_path / "py3" / "bin" / "python")
    assert py3["gpu"] is None and py3["kernel_name"] == "py3"
    assert tf2["ready"] is False and tf2["state"] == "missing"
    assert "jupyter workbench env create tf2" in tf2["message"]
    assert envs.environment_python("py3", tmp_path) == py3["python_executable"]
    assert envs.environment_python("tf2", tmp_path) is None


def test_half_created_environment_is_not_ready(tmp_path):
    # Given a py3 directory whose creation never finished (no ready marker)
    make_fake_env(tmp_path, "py3", ready=False)
    # When listed
    info = envs.environment_info("py3", tmp_path)
    # Then it is not ready and says how to repair it
    assert info["ready"] is False and info["state"] == "incomplete"
    assert "repair" in info["message"] and "env create py3" in info["message"]
    assert info["python"] == "3.11.7"  # from pyvenv.cfg
    assert envs.environment_python("py3", tmp_path) is None
    with pytest.raises(envs.WorkbenchEnvError) as err:
        envs.require_ready("py3", tmp_path)
    assert err.value.kind == "not-ready"


def test_broken_and_outdated_environments(tmp_path):
    # Given a ready py3 whose base interpreter disappeared
    env = make_fake_env(tmp_path, "py3")
    py = env / "bin" / "python"
    py.unlink()
    py.symlink_to(tmp_path / "gone" / "python3.11")
    # Then it is broken, with the reason
    info = envs.environment_info("py3", tmp_path)
    assert info["ready"] is False and info["state"] == "broken"
    assert "interpreter" in info["message"]
    # Given a tf2 built from an older definition
    make_fake_env(tmp_path, "tf2", fingerprint="0000")
    info = envs.environment_info("tf2", tmp_path)
    # Then it is still usable but flagged outdated
    assert info["ready"] is True and info["outdated"] is True
    assert info["gpu"] is False and info["gpu_build"] is False
    # Given the workbench package link is broken
    (_paths.link_dir(tmp_path / "tf2") / "jupyter_workbench").unlink()
    info = envs.environment_info("tf2", tmp_path)
    assert info["state"] == "broken" and "jupyter_workbench" in info["message"]


def test_creation_in_progress_is_reported_and_serialised(tmp_path):
    # Given another process is creating py3 (holds its lock) and the env is half-made
    make_fake_env(tmp_path, "py3", ready=False)
    with env_lock(_paths.lock_path(tmp_path, "py3"), "py3", 1):
        # Then listing says so
        assert envs.environment_info("py3", tmp_path)["state"] == "creating"
        # And a second create waits, then gives up with a clear message
        with pytest.raises(envs.WorkbenchEnvError) as err:
            envs.create_environment("py3", tmp_path, lock_wait_s=0.5)
        assert err.value.kind == "busy"
    assert envs.environment_info("py3", tmp_path)["state"] == "incomplete"


def test_no_repair_when_told_not_to(tmp_path):
    # Given a half-created py3
    make_fake_env(tmp_path, "py3", ready=False)
    # When created with repair=False
    with pytest.raises(envs.WorkbenchEnvError) as err:
        envs.create_environment("py3", tmp_path, repair=False)
    # Then it refuses, saying what to run
    assert err.value.kind == "not-ready"
    assert "env create py3" in str(err.value)


def test_remove_environment(tmp_path):
    make_fake_env(tmp_path, "py3")
    assert envs.remove_environment("py3", tmp_path) is True
    assert envs.environment_info("py3", tmp_path)["state"] == "missing"
    assert envs.remove_environment("py3", tmp_path) is False


# ---------------------------------------------------------------- kernelspec manager


def test_kernelspec_manager_lists_ready_environments(tmp_path):
    # Given a ready py3, a half-created tf2
    make_fake_env(tmp_path, "py3")
    make_fake_env(tmp_path, "tf2", ready=False)
    ksm = WorkbenchKernelSpecManager(environments_dir=str(tmp_path))
    # When the server asks for all kernelspecs (what /api/kernelspecs serves)
    specs = ksm.get_all_specs()
    # Then py3 is there with its display name; the usual kernels stay; tf2 is not offered
    assert specs["py3"]["spec"]["display_name"] == "Python 3 (py3)"
    assert specs["py3"]["resource_dir"] == str(tmp_path / "py3/share/jupyter/kernels/py3")
    assert specs["py3"]["spec"]["metadata"]["cull_idle_timeout"] > 0
    assert "python3" in specs
    assert "tf2" not in specs
    # And asking for tf2 explains why it is not available
    with pytest.raises(NoSuchKernel) as err:
        ksm.get_kernel_spec("tf2")
    assert isinstance(err.value, EnvironmentKernelUnavailable)
    assert "env create tf2" in str(err.value)
    assert ksm.get_kernel_spec("python3").language == "python"


def test_environment_deleted_under_a_running_server(tmp_path):
    # Given a server whose kernelspec manager lists a ready py3
    make_fake_env(tmp_path, "py3")
    ksm = WorkbenchKernelSpecManager(environments_dir=str(tmp_path))
    assert "py3" in ksm.find_kernel_specs()
    assert ksm.get_kernel_spec("py3").display_name == "Python 3 (py3)"
    # When the environment directory is deleted
    shutil.rmtree(tmp_path / "py3")
    # Then the kernel disappears from the listing, and starting it says what to do
    assert "py3" not in ksm.find_kernel_specs()
    with pytest.raises(NoSuchKernel) as err:
        ksm.get_kernel_spec("py3")
    assert "not created" in str(err.value) and "env create py3" in str(err.value)


def test_kernelspec_rewritten_when_missing_and_allowlist_respected(tmp_path):
    # Given a ready py3 whose rendered kernelspec was deleted by hand
    env = make_fake_env(tmp_path, "py3")
    assert not (env / "share/jupyter/kernels/py3/kernel.json").exists()
    ksm = WorkbenchKernelSpecManager(environments_dir=str(tmp_path))
    # When listed, it is rendered again
    assert "py3" in ksm.find_kernel_specs()
    assert (env / "share/jupyter/kernels/py3/kernel.json").is_file()
    # And an allow-list without it hides it
    ksm.allowed_kernelspecs = {"python3"}
    assert "py3" not in ksm.find_kernel_specs()


def test_install_kernelspecs_into_a_prefix(tmp_path):
    # Given a ready py3 and a missing tf2
    make_fake_env(tmp_path / "envs", "py3")
    # When kernelspecs are installed for plain Jupyter front ends
    result = {r["name"]: r for r in install_kernelspecs(tmp_path / "envs", prefix=tmp_path / "p")}
    # Then py3's is copied there, tf2 is reported as not installable with the reason
    kj = tmp_path / "p/share/jupyter/kernels/py3/kernel.json"
    assert result["py3"]["installed"] is True and kj.is_file()
    spec = json.loads(kj.read_text())
    assert spec["argv"][0] == str(tmp_path / "envs/py3/bin/python")
    assert result["tf2"]["installed"] is False
    assert "env create tf2" in result["tf2"]["message"]


# ---------------------------------------------------------------- pip failures


def test_pip_failure_messages():
    refused = [
        "Looking in indexes: http://127.0.0.1:9/simple/",
        "WARNING: Retrying (Retry(total=0, ...)) after connection broken by "
        "'NewConnectionError('<HTTPConnection>: Failed to establish a new connection: "
        "[Errno 111] Connection refused')': /simple/ipykernel/",
        "ERROR: Could not find a version that satisfies the requirement ipykernel>=6.29 "
        "(from versions: none)",
        "ERROR: No matching distribution found for ipykernel>=6.29",
    ]
    err = pip_failure("py3", "ipykernel", 1, refused)
    assert err.kind == "registry-unreachable"
    assert "Could not reach the package index (http://127.0.0.1:9/simple/)" in str(err)
    assert "Connection refused" in str(err) and "env create py3" in str(err)
    assert "NewConnectionError" in err.details

    missing = refused[:1] + refused[2:]
    err = pip_failure("tf2", "tensorflow-cpu", 1, missing)
    assert err.kind in ("no-distribution", "registry-unreachable")
    assert "ipykernel>=6.29" in str(err)

    err = pip_failure("tf2", "x", 1, ["ERROR: [Errno 28] No space left on device"])
    assert err.kind == "disk-full"

    err = pip_failure("tf2", "x", 2, ["something odd happened"])
    assert err.kind == "pip-failed" and "something odd happened" in str(err)


def test_marker_is_the_only_readiness_signal(tmp_path):
    # Given a ready environment
    env = make_fake_env(tmp_path, "py3")
    assert envs.environment_info("py3", tmp_path)["ready"]
    # When its marker is corrupted (e.g. a disk-full write)
    (env / MARKER_NAME).write_text("{not json")
    # Then it is treated as half-created
    assert envs.environment_info("py3", tmp_path)["state"] == "incomplete"
    os.remove(env / MARKER_NAME)
    assert envs.environment_info("py3", tmp_path)["state"] == "incomplete"


def test_half_created_interpreter_is_detected(tmp_path):
    # Given a venv killed during `python -m venv` (interpreter there, pip never installed)
    env = make_fake_env(tmp_path, "py3", ready=False)
    # Then it is not considered usable (create rebuilds it from scratch)
    assert interpreter_ok(env) is False
    assert interpreter_ok(tmp_path / "nothing") is False


def test_read_only_environments_dir_is_a_clear_error(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(envs.WorkbenchEnvError) as err:
            envs.create_environment("py3", ro)
        assert "writable" in str(err.value)
    finally:
        ro.chmod(0o755)


def test_outdated_environment_left_alone_without_repair(tmp_path):
    # Given a ready py3 built from an older definition
    make_fake_env(tmp_path, "py3", fingerprint="0000")
    # When created with repair=False
    info = envs.create_environment("py3", tmp_path, repair=False)
    # Then nothing is touched, and the listing says it is outdated
    assert info["action"] == "none" and info["ready"] and info["outdated"]
