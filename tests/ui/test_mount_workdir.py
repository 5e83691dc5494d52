"""A notebook opened inside a mount without FUSE reads and writes the files beside it.

Real JupyterLab, chromium, the OSS emulator on 127.0.0.1 and a REAL py3 kernel from
$JUPYTER_WORKBENCH_TEST_ENVS (skipped without it, rather than building an environment).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import open_notebook, run_cell, snap, start_lab, stop_lab

from jupyter_workbench.environments.spec import get_spec
from jupyter_workbench.testing import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, OSSEmulator

IRIS = "sepal_length,species\n5.1,setosa\n7.0,versicolor\n"


@pytest.fixture(scope="module")
def oss():
    with OSSEmulator() as emulator:
        emulator.seed_demo()
        yield emulator


@pytest.fixture(scope="module")
def lab(tmp_path_factory, oss):
    cached = os.environ.get("JUPYTER_WORKBENCH_TEST_ENVS")
    if not cached:
        pytest.skip("set JUPYTER_WORKBENCH_TEST_ENVS to a cache directory for a real py3 kernel")
    from jupyter_workbench.environments import create_environment

    envs = Path(cached).expanduser().absolute()
    info = create_environment("py3", envs)
    assert info["ready"], info["message"]
    server = start_lab(
        tmp_path_factory.mktemp("lab-workdir"),
        "--ServerApp.contents_manager_class=jupyter_workbench.contents.WorkbenchContentsManager",
        "--Workbench.fuse_mounts=False",
        f"--Workbench.environments_dir={envs}",
    )
    body = {
        "name": "data",
        "url": "oss://demo",
        "options": {"endpoint": oss.endpoint, "key": DEMO_ACCESS_KEY_ID,
                    "secret": DEMO_ACCESS_KEY_SECRET},
    }  # fmt: skip
    request = urllib.request.Request(
        f"{server.url}workbench/api/mounts",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"token {server.token}"},
    )
    for attempt in range(60):  # the server may still be starting its listener
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                assert reply.status == 201
            break
        except urllib.error.URLError:
            if attempt == 59:
                raise
            time.sleep(0.5)
    yield server
    stop_lab(server)


def choose_py3_if_asked(page, timeout: float = 60.0) -> None:
    """JupyterLab asks for a kernel when the notebook opens before it has the kernel list
    (a busy machine): answer with the notebook's own py3. Returns once py3 is idle."""
    dialog = page.locator(".jp-Dialog")
    panel = page.locator(".jp-NotebookPanel")
    ready = panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    named = panel.locator(".jp-KernelName", has_text="Python 3 (py3)")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dialog.count() and dialog.locator("select").count():
            dialog.locator("select").select_option(label="Python 3 (py3)")
            dialog.get_by_role("button", name="Select").click()
            dialog.wait_for(state="detached")
        elif ready.count() and named.count():
            return
        page.wait_for_timeout(250)
    raise AssertionError("the py3 kernel did not become idle")


def test_a_notebook_in_a_mount_folder_reads_and_writes_beside_itself(lab, page, oss):
    # Given iris.csv and a py3 notebook beside it in a mount folder (no FUSE here)
    oss.put_object("demo", "work/iris.csv", IRIS.encode())
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("print(open('iris.csv').read())"),
        nbformat.v4.new_code_cell("open('result.txt', 'w').write('from the browser')\n%mounts"),
    ]
    kernel = get_spec("py3").kernel_name
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "py3", "language": "python"}
    oss.put_object("demo", "work/analysis.ipynb", nbformat.writes(nb).encode())

    # When the user opens it from the file browser's folder and runs its cells
    open_notebook(page, lab, "mnt/data/work/analysis.ipynb")
    choose_py3_if_asked(page)
    first = run_cell(page, 0)
    second = run_cell(page, 1)
    snap(page, "light-mount-workdir")

    # Then the relative path reached the mount's file, the written one is on the mount,
    # and %mounts shows this kernel's folder (one that exists)
    assert first.strip() == IRIS.strip()
    assert oss.get_object("demo", "work/result.txt") == b"from the browser"
    assert "data: oss://demo -> /" in second and "synced view" in second
    shown = second.split("-> ", 1)[1].split(" (", 1)[0]
    assert os.path.isdir(shown), second
