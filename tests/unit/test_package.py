"""Packaging and import rules: versions agree, extensions are installed, no TensorFlow on import."""

import json
import re
import subprocess
import sys
from pathlib import Path

import jupyter_workbench

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_frontend_and_server_versions_agree():
    # Given the Python version and the frontend's package.json and handshake constant
    package = json.loads((REPO / "labextension" / "package.json").read_text())
    tokens = (REPO / "labextension" / "src" / "tokens.ts").read_text()
    constant = re.search(r"FRONTEND_VERSION = '([^']+)'", tokens).group(1)

    # Then all three are the same, so the sidebar's handshake can compare them
    assert package["version"] == jupyter_workbench.__version__ == constant


def test_server_and_lab_extensions_are_enabled_and_ok():
    # When a user asks Jupyter which extensions it has
    server = subprocess.run(
        [BIN / "jupyter", "server", "extension", "list"], capture_output=True, text=True
    )
    lab = subprocess.run([BIN / "jupyter", "labextension", "list"], capture_output=True, text=True)

    # Then both parts of the workbench are enabled and validate
    out = re.sub(r"\x1b\[[0-9;]*m", "", server.stdout + server.stderr)
    assert re.search(r"jupyter_workbench\s+enabled", out), out
    assert re.search(r"jupyter_workbench \S+ OK", out), out
    out = re.sub(r"\x1b\[[0-9;]*m", "", lab.stdout + lab.stderr)
    assert re.search(r"jupyter-workbench v\S+ enabled\s+OK", out), out


def test_importing_package_and_loading_server_extension_never_imports_tensorflow(tmp_path):
    # Given a fresh interpreter that imports the package and initialises a server with it
    code = f"""
import sys
import jupyter_workbench, jupyter_workbench.export, jupyter_workbench.cli, jupyter_workbench.magics
import jupyter_workbench.serving, jupyter_workbench.serving.discovery
from jupyter_server.serverapp import ServerApp
app = ServerApp()
app.initialize(argv=["--ServerApp.root_dir={tmp_path}", "--ServerApp.open_browser=False"])
assert "jupyter_workbench.app" in sys.modules, "extension was not loaded"
print(sorted(m for m in sys.modules
             if m.split(".")[0] in ("tensorflow", "keras", "tf_keras", "tensorflow_serving")))
"""
    # When it has loaded everything
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)

    # Then no TensorFlow or Keras module was imported
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"
