"""Environments' kernels are found by every Jupyter client, not only by the workbench server.

``jupyter kernelspec list``, ``jupyter console --kernel tf2``, nbconvert and papermill read the
standard kernels directories: creating an environment registers its kernelspec there (the user's
data dir by default, ``--prefix``/``--sys-prefix`` like ``ipykernel install``), a repair or a
removal takes it away, and the workbench server never offers a registered copy of an environment
that is not ready.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_workbench import environments as envs
from jupyter_workbench.environments.kernelspecs import (
    EnvironmentKernelUnavailable,
    WorkbenchKernelSpecManager,
)
from jupyter_workbench.environments.registration import (
    register_kernelspec,
    registered_copies,
    unregister_kernelspecs,
)
from jupyter_workbench.environments.spec import MARKER_NAME

try:
    from ._env_fixtures import make_fake_env, real_envs_dir
except ImportError:
    from _env_fixtures import make_fake_env, real_envs_dir

JUPYTER = str(Path(sys.executable).parent / "jupyter")


def kernelspec_list(data_dir: Path, **extra) -> dict:
    """``jupyter kernelspec list --json`` in a fresh process, as a user would run it."""
    env = dict(os.environ, JUPYTER_DATA_DIR=str(data_dir))
    env.pop("JUPYTER_PATH", None)
    env.update(extra)
    out = subprocess.run(
        [JUPYTER, "kernelspec", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout)["kernelspecs"]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "jupyter-data"
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(d))
    monkeypatch.delenv("JUPYTER_PATH", raising=False)
    return d


def test_registered_kernelspec_is_listed_by_jupyter(tmp_path, data_dir):
    # Given a ready py3 environment
    env = make_fake_env(tmp_path / "envs", "py3")
    # When its kernelspec is registered for the user
    dest = register_kernelspec("py3", env, "py3")
    # Then `jupyter kernelspec list` in a fresh process shows it, running the env's python
    specs = kernelspec_list(data_dir)
    assert Path(specs["py3"]["resource_dir"]) == dest == data_dir / "kernels" / "py3"
    assert specs["py3"]["spec"]["argv"][0] == str(env / "bin" / "python")
    assert specs["py3"]["spec"]["metadata"]["workbench"]["env_dir"] == str(env)
    assert registered_copies(env) == [dest]


def test_prefix_registration(tmp_path, data_dir):
    env = make_fake_env(tmp_path / "envs", "tf2")
    prefix = tmp_path / "prefix"
    dest = register_kernelspec("tf2", env, "tf2", prefix=str(prefix))
    assert dest == prefix / "share" / "jupyter" / "kernels" / "tf2"
    # A client that has the prefix on its Jupyter path finds it; the user dir stays empty.
    specs = kernelspec_list(data_dir, JUPYTER_PATH=str(prefix / "share" / "jupyter"))
    assert Path(specs["tf2"]["resource_dir"]) == dest
    assert not (data_dir / "kernels" / "tf2").exists()


def test_a_foreign_kernelspec_of_the_same_name_is_left_alone(tmp_path, data_dir):
    own = data_dir / "kernels" / "py3"
    own.mkdir(parents=True)
    (own / "kernel.json").write_text(json.dumps({"argv": ["python"], "display_name": "mine"}))
    env = make_fake_env(tmp_path / "envs", "py3")
    with pytest.raises(FileExistsError, match="did not write"):
        register_kernelspec("py3", env, "py3")
    assert json.loads((own / "kernel.json").read_text())["display_name"] == "mine"
    assert unregister_kernelspecs(env) == []
    assert (own / "kernel.json").exists()


def test_removing_an_environment_unregisters_its_kernel(tmp_path, data_dir):
    root = tmp_path / "envs"
    env = make_fake_env(root, "py3")
    register_kernelspec("py3", env, "py3")
    assert "py3" in kernelspec_list(data_dir)
    assert envs.remove_environment("py3", root)
    assert "py3" not in kernelspec_list(data_dir)


def test_server_never_offers_the_copy_of_a_broken_environment(tmp_path, data_dir):
    # Given a registered py3 whose environment then breaks (the ready marker is gone)
    root = tmp_path / "envs"
    env = make_fake_env(root, "py3")
    register_kernelspec("py3", env, "py3")
    ksm = WorkbenchKernelSpecManager(environments_dir=str(root))
    assert "py3" in ksm.find_kernel_specs()
    (env / MARKER_NAME).unlink()
    # Then the workbench server neither lists it nor starts it from the registered copy
    ksm = WorkbenchKernelSpecManager(environments_dir=str(root))
    assert "py3" not in ksm.find_kernel_specs()
    with pytest.raises(EnvironmentKernelUnavailable, match="not available"):
        ksm.get_kernel_spec("py3")


@pytest.mark.timeout(900)
def test_env_create_registers_py3_and_tf2_for_every_client(tmp_path):
    """Done-when of the storage/environments issue: `jupyter kernelspec list` in a fresh shell
    shows py3/tf2 after `env create`, and a plain jupyter_client program runs the py3 kernel."""
    data_dir = tmp_path / "jupyter-data"
    with real_envs_dir("py3") as root:
        env = dict(
            os.environ,
            JUPYTER_DATA_DIR=str(data_dir),
            JUPYTER_WORKBENCH_ENVS_DIR=str(root),
        )
        env.pop("JUPYTER_PATH", None)
        for name in ("py3", "tf2"):
            out = subprocess.run(
                [JUPYTER, "workbench", "env", "create", name],
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert out.returncode == 0, out.stderr[-2000:]
            assert f"kernelspec {name} registered in {data_dir / 'kernels' / name}" in out.stdout
        specs = kernelspec_list(data_dir)
        assert {"py3", "tf2"} <= set(specs)
        assert specs["tf2"]["spec"]["argv"][0] == str(root / "tf2" / "bin" / "python")
        # A jupyter_client program (what nbconvert/papermill/jupyter console do) runs py3
        code = (
            "from jupyter_client.manager import start_new_kernel\n"
            "km, kc = start_new_kernel(kernel_name='py3', startup_timeout=120)\n"
            "try:\n"
            "    msgs = []\n"
            "    kc.execute_interactive('import sys; print(sys.prefix)', timeout=60,\n"
            "                           output_hook=msgs.append)\n"
            "    print(''.join(m['content'].get('text', '') for m in msgs"
            " if m['msg_type'] == 'stream'))\n"
            "finally:\n"
            "    kc.stop_channels(); km.shutdown_kernel(now=True)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert Path(out.stdout.strip()).resolve() == (root / "py3").resolve()
