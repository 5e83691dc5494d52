"""The sidebar's "Serve / Try it" section in a real JupyterLab (Debian's chromium): export with
the Export panel's warmup box, start a model server for the base, see its version AVAILABLE,
send the prefilled request and read the answer, stop it; the Jupyter server's shutdown leaves
no model server behind."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import open_lab, show_section, start_lab, stop_lab

pytest.importorskip("tensorflow_serving.apis")


def test_export_with_warmup_then_serve_and_try_it(tmp_path, page, tiny_keras_file):
    server = start_lab(tmp_path, f"--Workbench.serving_python={sys.executable}")
    pid = None
    try:
        shutil.copy(tiny_keras_file, server.root / "tiny.keras")
        open_lab(page, server)
        # Given a model exported from the Export panel with TF Serving warmup requests
        show_section(page, "export")
        export = page.locator(".jp-WorkbenchExport")
        export.get_by_role("textbox", name="Model file").fill("tiny.keras")
        export.get_by_label("Destination").fill("models/net")
        export.get_by_label("TF Serving warmup requests").check()
        export.get_by_role("button", name="Export").click()
        export.locator(".jp-WorkbenchExport-summary").wait_for(timeout=180_000)
        warmup = server.root / "models" / "net" / "1" / "assets.extra"
        assert (warmup / "tf_serving_warmup_requests").is_file()

        # When the user serves models/net
        show_section(page, "serving")
        panel = page.locator(".jp-WorkbenchServing")
        panel.get_by_role("textbox", name="Model base").fill("models/net")
        panel.get_by_role("button", name="Serve").click()
        # Then its version 1 becomes AVAILABLE and the request is prefilled from the signature
        card = panel.locator('.jp-WorkbenchServing-server[data-name="net"]')
        card.locator('li[data-version="1"][data-state="AVAILABLE"]').wait_for(timeout=120_000)
        request = card.get_by_role("textbox", name="Request")
        prefilled = json.loads(request.input_value())
        assert prefilled == {"signature_name": "serving_default", "instances": [[0.0] * 4]}
        # When the user edits the rows and sends them
        request.fill('{"instances": [[1, 2, 3, 4], [0, 0, 0, 0]]}')
        card.get_by_role("button", name="Send").click()
        response = card.locator(".jp-WorkbenchServing-response[data-ok='true']")
        response.wait_for(timeout=30_000)
        # Then TF Serving's answer is shown: one row of 3 scores per instance
        answer = json.loads(response.inner_text())
        assert len(answer["predictions"]) == 2 and len(answer["predictions"][0]) == 3
        # and a bad request shows TF Serving's error
        request.fill('{"instances": [[1, 2]]}')
        card.get_by_role("button", name="Send").click()
        card.locator(".jp-WorkbenchServing-response[data-ok='false']").wait_for()
        assert "shape" in card.locator(".jp-WorkbenchServing-response").inner_text()
        listed = subprocess.run(
            ["pgrep", "-f", "jupyter_workbench.serving"], capture_output=True, text=True
        )
        root = str(server.root).encode()
        pids = [int(p) for p in listed.stdout.split()]
        pid = next(p for p in pids if root in Path(f"/proc/{p}/cmdline").read_bytes())
        # When the user stops it, the card goes away
        card.get_by_role("button", name="Stop").click()
        card.wait_for(state="detached")
    finally:
        stop_lab(server)
    # And its process is gone (a server whose parent dies exits too: test_serving_store.py)
    if pid is not None:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
