"""The sidebar's "Serve / Try it" section in a real JupyterLab (Debian's chromium): start a
model server for a model base, see its version AVAILABLE, send the prefilled request and read
the answer, stop it; the Jupyter server's shutdown leaves no model server behind."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import open_lab, open_workbench_sidebar, start_lab, stop_lab

pytest.importorskip("tensorflow_serving.apis")

MAKE = textwrap.dedent(
    """
    import sys, keras
    from jupyter_workbench.export import export_savedmodel
    inp = keras.Input((4,), name="image")
    out = keras.layers.Dense(3, name="scores", kernel_initializer="ones")(inp)
    export_savedmodel(keras.Model(inp, out), sys.argv[1], inputs="image", outputs="scores",
                      progress=False)
    """
)


def test_serve_and_try_it(tmp_path, page):
    server = start_lab(tmp_path, f"--Workbench.serving_python={sys.executable}")
    pid = None
    try:
        subprocess.run(
            [sys.executable, "-c", MAKE, str(server.root / "models" / "net")],
            check=True,
            capture_output=True,
            timeout=300,
        )
        open_lab(page, server)
        open_workbench_sidebar(page)
        panel = page.locator(".jp-WorkbenchServing")
        section = page.locator('[data-section="serving"]')
        section.wait_for(state="attached")
        if not panel.is_visible():
            section.locator("text=Serve / Try it").first.click()
        # When the user serves models/net
        panel.get_by_role("textbox", name="Model base").fill("models/net")
        panel.get_by_role("button", name="Serve").click()
        # Then its version 1 becomes AVAILABLE and the request is prefilled from the signature
        card = panel.locator('.jp-WorkbenchServing-server[data-name="net"]')
        card.locator('li[data-version="1"][data-state="AVAILABLE"]').wait_for(timeout=120_000)
        request = card.get_by_role("textbox", name="Request")
        assert '"instances"' in request.input_value()
        assert '"serving_default"' in request.input_value()
        # When the user edits the row and sends it
        request.fill('{"instances": [[1, 2, 3, 4]]}')
        card.get_by_role("button", name="Send").click()
        response = card.locator(".jp-WorkbenchServing-response[data-ok='true']")
        response.wait_for(timeout=30_000)
        # Then TF Serving's answer is shown
        assert '"predictions"' in response.inner_text()
        assert "10" in response.inner_text()
        # and a bad request shows TF Serving's error
        request.fill('{"instances": [[1, 2]]}')
        card.get_by_role("button", name="Send").click()
        card.locator(".jp-WorkbenchServing-response[data-ok='false']").wait_for()
        assert "shape" in card.locator(".jp-WorkbenchServing-response").inner_text()
        listed = subprocess.run(
            ["pgrep", "-f", "jupyter_workbench.serving"], capture_output=True, text=True
        )
        pids = [int(p) for p in listed.stdout.split()]
        root = str(server.root).encode()
        pid = next(p for p in pids if root in Path(f"/proc/{p}/cmdline").read_bytes())
        # When the user stops it, the card goes away
        card.get_by_role("button", name="Stop").click()
        card.wait_for(state="detached")
    finally:
        stop_lab(server)
    # And no model server outlives the Jupyter server
    if pid is not None:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
