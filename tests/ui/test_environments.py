"""Environments in a real JupyterLab: the sidebar panel, the status bar item, switching a notebook
from py3 to tf2 (kernel and saved kernelspec), and creating the environment a notebook needs.

Uses REAL py3/tf2 environments: $JUPYTER_WORKBENCH_TEST_ENVS (a cache dir, reused between runs;
the first run creates them, ~20 s + ~60 s) or a temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from _envcopy import clone_environment
from conftest import Clicks, record_clicks, show_section, snap, start_lab, stop_lab

from jupyter_workbench.environments import create_environment, get_spec
from jupyter_workbench.environments.spec import MARKER_NAME

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

TEST_ENVS_VAR = "JUPYTER_WORKBENCH_TEST_ENVS"
PY3 = get_spec("py3").kernel_name
TF2 = get_spec("tf2").kernel_name


@pytest.fixture(scope="module")
def envs_dir():
    """Ready py3 and tf2 environments (created once into the cache dir when set)."""
    cached = os.environ.get(TEST_ENVS_VAR)
    if cached:
        path = Path(cached).expanduser().absolute()
        tmp = None
    else:
        path = tmp = Path(tempfile.mkdtemp(prefix="wb-ui-envs-"))
    try:
        infos = {name: create_environment(name, path) for name in ("py3", "tf2")}
        for name, info in infos.items():
            assert info["ready"], f"{name}: {info['message']}"
        yield path, infos
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def env_lab(envs_dir, tmp_path_factory):
    path, _ = envs_dir
    server = start_lab(tmp_path_factory.mktemp("envlab"), f"--Workbench.environments_dir={path}")
    yield server
    stop_lab(server)


def write_notebook(path: Path, kernel: str, display_name: str, source: str = "x = 1") -> None:
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "c1",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
        ],
        "metadata": {
            "kernelspec": {"name": kernel, "display_name": display_name, "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))


def open_notebook(page, server, name: str) -> None:
    """Open ``name`` alone, in a workspace of its own (no notebook restored from another test),
    and wait until its kernel is connected and idle."""
    workspace = f"t{uuid.uuid4().hex[:12]}"
    page.goto(server.lab_url(f"lab/workspaces/{workspace}/tree/{name}"))
    page.wait_for_selector("#jp-main-dock-panel", state="visible", timeout=60_000)
    page.locator(".jp-NotebookPanel:visible .jp-Notebook").wait_for()


def wait_kernel(page, display_name: str, timeout=120_000) -> None:
    """The status bar's kernel item says ``<display name> | Idle`` (connected and idle)."""
    page.wait_for_function(
        """name => [...document.querySelectorAll('.jp-StatusBar-Widget *')]
            .some(e => e.textContent.trim() === `${name} | Idle`)""",
        arg=display_name,
        timeout=timeout,
    )


def env_status(page):
    return page.locator(".jp-StatusBar-Widget .jp-WorkbenchEnvStatus")


def wait_until(predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.2)


def saved_notebook(path: Path) -> dict:
    """The notebook on disk ({} while the server is writing it: saves write in place)."""
    try:
        return json.loads(path.read_text())
    except ValueError:
        return {}


def saved_kernelspec(path: Path) -> dict:
    return saved_notebook(path).get("metadata", {}).get("kernelspec", {})


def test_status_bar_shows_the_notebook_environment(env_lab, page):
    # Given a notebook saved with the py3 kernel
    write_notebook(env_lab.root / "status.ipynb", PY3, "Python 3 (py3)")

    # When the user opens it
    open_notebook(page, env_lab, "status.ipynb")
    wait_kernel(page, "Python 3 (py3)")

    # Then the status bar names its environment
    status = env_status(page)
    status.wait_for(state="visible")
    page.wait_for_function(
        "() => document.querySelector('.jp-WorkbenchEnvStatus')?.textContent === 'env: py3'"
    )

    # and the palette offers the environment commands
    page.locator(".lm-MenuBar-item", has_text="View").click()
    page.locator(".lm-Menu-item", has_text="Activate Command Palette").click()
    palette = page.locator(".lm-CommandPalette")
    palette.locator("input").fill("Workbench: ")
    labels = palette.locator(".lm-CommandPalette-itemLabel").all_inner_texts()
    assert "Workbench: Switch Environment…" in labels, labels
    assert "Workbench: Create Environment…" in labels, labels
    page.keyboard.press("Escape")
    palette.wait_for(state="hidden")

    # When the user clicks the status bar item
    status.click()

    # Then the environment switcher opens, offering tf2
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    assert "Switch" in dialog.locator(".jp-Dialog-header").inner_text()
    options = dialog.locator("select option").all_inner_texts()
    assert any("tf2" in o for o in options), options
    dialog.get_by_role("button", name="Cancel").click()
    dialog.wait_for(state="detached")


def test_switch_notebook_from_py3_to_tf2_from_sidebar(env_lab, envs_dir, page):
    _, infos = envs_dir
    tf_version = infos["tf2"]["packages"].get("tensorflow") or infos["tf2"]["packages"].get(
        "tensorflow-cpu"
    )
    nb_path = env_lab.root / "analysis.ipynb"
    write_notebook(nb_path, PY3, "Python 3 (py3)", source="")

    # Given a notebook running on py3
    open_notebook(page, env_lab, "analysis.ipynb")
    wait_kernel(page, "Python 3 (py3)")
    page.wait_for_function(
        "() => document.querySelector('.jp-WorkbenchEnvStatus')?.textContent === 'env: py3'"
    )

    # When the user opens the Environments section of the Workbench sidebar
    clicks = Clicks(page)
    show_section(page, "environments", alone=False)
    section = page.locator('[data-section="environments"]')
    section.wait_for(state="visible")
    py3 = section.locator('.jp-WorkbenchEnv[data-env="py3"]')
    tf2 = section.locator('.jp-WorkbenchEnv[data-env="tf2"]')
    tf2.wait_for()

    # Then both environments are listed ready, py3 highlighted as the notebook's,
    # tf2 with its Python and TensorFlow versions and GPU visibility
    assert py3.get_attribute("data-state") == "ready"
    assert "jp-mod-active" in (py3.get_attribute("class") or "")
    assert "jp-mod-active" not in (tf2.get_attribute("class") or "")
    assert tf2.get_attribute("data-state") == "ready"
    assert tf2.locator('[data-field="python"]').inner_text() == infos["tf2"]["python"]
    assert f"TensorFlow {tf_version}" in tf2.locator('[data-field="packages"]').inner_text()
    assert tf2.locator('[data-field="gpu"]').inner_text()

    # When the user switches the notebook to tf2 and confirms the warning
    tf2.get_by_role("button", name="Switch active notebook to tf2").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    assert "variables" in dialog.inner_text()
    dialog.get_by_role("button", name="Switch to tf2").click()
    dialog.wait_for(state="detached")

    # Then the kernel restarts in tf2: status bar, highlight and the saved file all say tf2
    page.wait_for_function(
        "() => document.querySelector('.jp-WorkbenchEnvStatus')?.textContent === 'env: tf2'",
        timeout=120_000,
    )
    wait_kernel(page, "TensorFlow 2 (tf2)")
    tf2.locator("xpath=self::*[contains(@class, 'jp-mod-active')]").wait_for()
    wait_until(lambda: saved_kernelspec(nb_path).get("name") == TF2, "kernelspec saved")
    snap(page, "light-environment-switched")
    # in four clicks on a first visit: the Workbench tab, the Environments title (one section
    # is open at first, Mounts), "Switch", the dialog's "Switch to tf2" (three once the section
    # was opened: the sidebar keeps it open)
    seen = record_clicks("switch an environment", clicks, "light-environment-switched")
    assert len(seen) <= 4, seen

    # When the user runs TensorFlow in a cell
    cell = page.locator(".jp-NotebookPanel:visible .jp-Cell").first
    cell.locator(".cm-content").click()
    page.keyboard.type("import tensorflow as tf; print(tf.__version__)")
    page.keyboard.press("Shift+Enter")

    # Then it prints tf2's TensorFlow version
    output = page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output").first
    output.wait_for(timeout=120_000)
    page.wait_for_function(
        "v => [...document.querySelectorAll('.jp-OutputArea-output')]"
        ".some(e => e.textContent.includes(v))",
        arg=tf_version,
        timeout=120_000,
    )

    # When the user saves
    page.keyboard.press("Control+s")

    # Then the notebook on disk names tf2, with its display name and language, and the output
    def saved_output() -> str:
        cells = saved_notebook(nb_path).get("cells", [])
        return "".join("".join(o.get("text", "")) for c in cells for o in c.get("outputs", []))

    wait_until(lambda: tf_version in saved_output(), "the output saved")
    assert saved_kernelspec(nb_path) == {
        "name": TF2,
        "display_name": "TensorFlow 2 (tf2)",
        "language": "python",
    }


def test_notebook_whose_environment_is_not_ready_offers_to_create_it(envs_dir, tmp_path, page):
    # Given a server whose py3 environment is half-created (a copy without its ready marker)
    cache, _ = envs_dir
    envs = tmp_path / "envs"
    envs.mkdir()
    clone_environment(cache / "py3", envs / "py3")
    (envs / "py3" / MARKER_NAME).unlink()
    server = start_lab(tmp_path / "lab", f"--Workbench.environments_dir={envs}")
    try:
        write_notebook(server.root / "needs_py3.ipynb", PY3, "Python 3 (py3)")

        # When the user opens a notebook that runs in py3
        open_notebook(page, server, "needs_py3.ipynb")

        # Then instead of a silent "No Kernel" (or a kernel picker) they are offered to repair it
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for()
        assert "py3 is not ready" in dialog.inner_text()
        assert page.locator(".jp-Dialog").count() == 1
        page.wait_for_function(
            "() => document.querySelector('.jp-WorkbenchEnvStatus')?.textContent "
            "=== 'env: py3 (incomplete)'"
        )

        # When they accept
        dialog.get_by_role("button", name="Repair py3").click()

        # Then the Workbench sidebar shows the creation's progress (step and pip's output)
        card = page.locator('[data-section="environments"] .jp-WorkbenchEnv[data-env="py3"]')
        card.wait_for(state="visible")
        card.locator('[data-field="step"]').wait_for()

        # and once it is ready, the notebook's kernel starts in py3
        card.locator("xpath=self::*[@data-state='ready']").wait_for(timeout=300_000)
        page.wait_for_function(
            "() => document.querySelector('.jp-WorkbenchEnvStatus')?.textContent === 'env: py3'",
            timeout=120_000,
        )
        wait_kernel(page, "Python 3 (py3)")
        assert (envs / "py3" / MARKER_NAME).is_file()
    finally:
        stop_lab(server)
