"""A shared py3 with a personal overlay, for REAL: the kernel runs from the user's overlay,
``%pip install`` and ``!pip install`` land there (importable after a restart) and never in the
shared environment, and an upgrade of a shared package shadows it instead of replacing it.

Runs as whoever runs the tests, so "shared" is forced with ``WORKBENCH_SHARED_ENV=1`` (root can
write anywhere); tests/hub checks the same with real Unix users and a root-owned directory.
"""

from __future__ import annotations

import json

import pytest

from jupyter_workbench import environments as envs
from jupyter_workbench.environments import _paths
from jupyter_workbench.environments.discovery import environment_info
from jupyter_workbench.environments.kernelspecs import WorkbenchKernelSpecManager
from jupyter_workbench.environments.overlay import SHARED_ENV, overlay_dir

try:
    from ._env_fixtures import execute, make_fake_env, make_wheel, real_envs_dir, started_kernel
except ImportError:
    from _env_fixtures import execute, make_fake_env, make_wheel, real_envs_dir, started_kernel

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def envs_dir():
    with real_envs_dir("py3") as d:
        info = envs.create_environment("py3", d)
        assert info["ready"], info
        yield d


@pytest.fixture
def shared(monkeypatch, tmp_path, envs_dir):
    """py3 seen as shared by a user whose Jupyter data dir is ``tmp_path/data``."""
    monkeypatch.setenv(SHARED_ENV, "1")
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # local wheels only: nothing from the network
    return WorkbenchKernelSpecManager(environments_dir=str(envs_dir))


def test_pip_in_a_shared_env_goes_to_the_users_overlay(shared, envs_dir, tmp_path):
    env_dir = envs_dir / "py3"
    overlay = overlay_dir("py3")
    shared_site = _paths.site_packages(env_dir)
    wheels = [
        make_wheel(tmp_path / "wheels", "wbovl_magic"),
        make_wheel(tmp_path / "wheels", "wbovl_shell"),
        # A newer tqdm than the shared one: must shadow it, never replace it.
        make_wheel(tmp_path / "wheels", "tqdm", "999.0", value="overlay tqdm"),
    ]
    shared_tqdm = sorted(p.name for p in shared_site.glob("tqdm-*.dist-info"))
    # Given the user's py3 kernel (the kernelspec points at the overlay's interpreter)
    spec = shared.get_kernel_spec("py3")
    assert spec.argv[0] == str(overlay / "bin" / "python")
    with started_kernel(shared, "py3") as kc:
        status, out = execute(kc, "import sys; print(sys.prefix)")
        assert status == "ok" and out.strip() == str(overlay), out
        # When the user installs with %pip and with !pip
        status, out = execute(kc, f"%pip install --no-index {wheels[0]}")
        assert status == "ok" and "Successfully installed wbovl_magic" in out.replace("-", "_"), out
        status, out = execute(kc, f"!pip install --no-index {wheels[1]} {wheels[2]}")
        assert "Successfully installed" in out and "Not uninstalling tqdm" in out, out
    # Then after a restart all three import, from the overlay, shared packages still import
    with started_kernel(shared, "py3") as kc:
        code = (
            "import json, wbovl_magic, wbovl_shell, tqdm, fsspec, jupyter_workbench\n"
            "print(json.dumps([wbovl_magic.__file__, wbovl_shell.__file__, tqdm.VALUE,"
            " fsspec.__file__]))"
        )
        status, out = execute(kc, code)
        assert status == "ok", out
        magic, shell, tqdm_value, fsspec_file = json.loads(out.strip().splitlines()[-1])
        assert magic.startswith(str(overlay)) and shell.startswith(str(overlay))
        assert tqdm_value == "overlay tqdm"
        assert fsspec_file.startswith(str(shared_site))
    # And the shared environment is unchanged: nothing added, its tqdm still there
    assert not list(shared_site.glob("wbovl_*"))
    assert sorted(p.name for p in shared_site.glob("tqdm-*.dist-info")) == shared_tqdm
    # And the listing tells shared from personal packages
    info = environment_info("py3", envs_dir)
    assert info["shared"] is True and info["overlay"] == str(overlay)
    assert info["personal_packages"] == {
        "wbovl-magic": "0.1",
        "wbovl-shell": "0.1",
        "tqdm": "999.0",
    }
    assert "tqdm" in info["packages"]  # the shared one, as recorded by the admin's build


def test_an_environment_the_user_owns_gets_no_overlay(monkeypatch, tmp_path, envs_dir):
    monkeypatch.setenv(SHARED_ENV, "0")
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    ksm = WorkbenchKernelSpecManager(environments_dir=str(envs_dir))
    spec = ksm.get_kernel_spec("py3")
    assert spec.argv[0] == str(envs_dir / "py3" / "bin" / "python")
    assert not overlay_dir("py3").exists()
    info = environment_info("py3", envs_dir)
    assert info["shared"] is False and info["personal_packages"] == {}


def test_a_shared_environment_that_is_not_ready_points_at_the_administrator(monkeypatch, tmp_path):
    # Given a shared environments directory where py3 is half-created and tf2 missing
    monkeypatch.setenv(SHARED_ENV, "1")
    make_fake_env(tmp_path, "py3", ready=False)
    py3, tf2 = environment_info("py3", tmp_path), environment_info("tf2", tmp_path)
    # Then both say so, and who can fix it (the user cannot create there)
    for info, what in ((py3, "repair"), (tf2, "create")):
        assert info["shared"] is True and info["ready"] is False
        assert f"ask the administrator to {what} it" in info["message"], info["message"]
        assert f"`jupyter workbench env create {info['name']}`" in info["message"]
