"""One shared, admin-created, read-only py3/tf2 for the whole team (conftest.SHARED_ENVS, owned
by root, 0755; ``--Workbench.environments_dir`` of every server): both users' kernels run from
it, alice's ``%pip install`` lands in her own py3 overlay (importable after a restart, invisible
to bob and to her tf2), and nobody can break the shared environment."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from jupyter_workbench.environments import _paths

from .conftest import (
    HubKernel,
    _ui,
    ensure_shared_environments,
    needs_real_users,
    open_lab_through_hub,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from _env_fixtures import make_wheel  # noqa: E402

pytestmark = [pytest.mark.timeout(900), needs_real_users]
OVERLAYS = ".local/share/jupyter/workbench/overlays"


@pytest.fixture(scope="module")
def shared_envs(hub):
    return ensure_shared_environments(hub.python)


@pytest.fixture(scope="module")
def wheel(hub):
    # (in the 0755 homes root: readable by alice, written by nobody but root)
    return make_wheel(hub.homes / "wheels", "wbhub_tiny")


def environments(hub, user: str) -> dict:
    r = hub.user_api(user, "workbench/api/environments")
    assert r.status_code == 200, r.text
    return {e["name"]: e for e in r.json()}


def test_alices_pip_install_in_the_shared_py3_is_hers_alone(hub, shared_envs, wheel, contexts):
    shared_site = _paths.site_packages(shared_envs / "py3")
    assert shared_site.stat().st_uid == 0 and shared_site.stat().st_mode & 0o022 == 0
    alice_overlay = hub.homes / "alice" / OVERLAYS / "py3"
    # Given alice's py3 kernel (the shared environment, seen through her overlay)
    alice = HubKernel(hub, "alice", "py3")
    bob = None
    try:
        status, out = alice.execute("import sys, fsspec; print(sys.prefix); print(fsspec.__file__)")
        assert status == "ok", out
        prefix, fsspec_file = out.split()
        assert prefix == str(alice_overlay) and fsspec_file.startswith(str(shared_site))
        # When she installs a package with %pip and restarts the kernel
        status, out = alice.execute(f"%pip install --no-index --disable-pip-version-check {wheel}")
        assert status == "ok" and "Successfully installed wbhub" in out.replace("-", "_"), out
        alice.restart()
        status, out = alice.execute("import wbhub_tiny; print(wbhub_tiny.__file__)")
        # Then it imports, from her overlay in her home
        assert status == "ok" and out.strip().startswith(str(alice_overlay)), out
        assert (alice_overlay / "lib").stat().st_uid == (hub.homes / "alice").stat().st_uid

        # And bob's py3 kernel, from the same shared environment, does not see it
        bob = HubKernel(hub, "bob", "py3")
        status, out = bob.execute("import wbhub_tiny")
        assert status == "error" and "ModuleNotFoundError" in out, out
        # nor can he break the shared environment: not by writing, not with pip
        status, out = bob.execute(f"open({str(shared_site / 'evil.py')!r}, 'w')")
        assert status == "error" and "PermissionError" in out, out
        status, out = bob.execute("!pip uninstall -y tqdm")
        assert "Not uninstalling tqdm" in out, out
        status, out = bob.execute("import tqdm; print(tqdm.__file__)")
        assert status == "ok" and out.strip().startswith(str(shared_site)), out
        assert not list(shared_site.glob("wbhub_tiny*"))

        # And the Environments listing tells each user what is shared and what is theirs
        mine, his = environments(hub, "alice")["py3"], environments(hub, "bob")["py3"]
        assert mine["shared"] is True and his["shared"] is True
        assert mine["personal_packages"] == {"wbhub-tiny": "0.1"}
        assert his["personal_packages"] == {}
        assert "ipykernel" in mine["packages"] and "wbhub-tiny" not in mine["packages"]
        # and so does her Environments panel
        page = open_lab_through_hub(contexts(), hub, "alice")
        section = _ui.show_section(page, "environments")
        card = section.locator('.jp-WorkbenchEnv[data-env="py3"]')
        card.locator('[data-field="personal-packages"]').wait_for()
        assert card.locator('[data-field="shared"]').inner_text() == "shared"
        assert card.locator('[data-field="personal-packages"]').inner_text() == "wbhub-tiny 0.1"
        assert "ipykernel" in card.locator('[data-field="packages"]').inner_text()
    finally:
        alice.shutdown()
        if bob is not None:
            bob.shutdown()


def test_a_shared_tf2_serves_both_users_with_overlays_apart(hub, shared_envs):
    tf2_site = _paths.site_packages(shared_envs / "tf2")
    starts = {}
    for user in ("alice", "bob"):
        # Given each user's tf2 kernel
        kernel = HubKernel(hub, user, "tf2")
        try:
            t0 = time.monotonic()
            status, out = kernel.execute(
                "import sys, tensorflow as tf; print(tf.__version__, tf.__file__, sys.prefix)"
            )
            starts[user] = {
                "kernel": round(kernel.start_seconds, 1),
                "import tensorflow": round(time.monotonic() - t0, 1),
            }
            # Then TensorFlow comes from the one shared tf2, run through the user's tf2 overlay
            assert status == "ok", out
            version, tf_file, prefix = out.split()[-3:]
            assert version == "2.21.0" and tf_file.startswith(str(tf2_site))
            assert prefix == str(hub.homes / user / OVERLAYS / "tf2")
            status, out = kernel.execute("print(tf.reduce_sum(tf.constant([1.0, 2.0])).numpy())")
            assert status == "ok" and out.strip() == "3.0", out
            # and alice's py3 package is not in her tf2 (one overlay per environment)
            status, out = kernel.execute("import wbhub_tiny")
            assert status == "error" and "ModuleNotFoundError" in out, out
        finally:
            kernel.shutdown()
    env = environments(hub, "bob")["tf2"]
    assert env["ready"] is True and env["shared"] is True
    print(f"\ntf2 per user (s, through the hub): {starts}")
