"""The CLI and the %savedmodel magic: thin front doors over export_savedmodel.

Both run for real: the CLI as a subprocess, the magic in a real IPython kernel started with
jupyter_client, exporting real models and reading back what a user would read.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

JUPYTER = str(Path(sys.executable).parent / "jupyter")


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [JUPYTER, "workbench", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.fixture(scope="module")
def cli_exports(tiny_keras_file, tmp_path_factory):
    """A model base written by two `jupyter workbench export` runs (each run imports
    TensorFlow: seconds of CPU, so the tests below share them and copy the base to change it)."""
    base = tmp_path_factory.mktemp("cli") / "m"
    runs = [run_cli("export", tiny_keras_file, str(base), "--json", "--quiet") for _ in range(2)]
    return base, runs


def test_cli_exports_and_inspects_a_keras_file(cli_exports):
    # When a user exports a .keras file twice and inspects the base
    base, (first, second) = cli_exports
    shown = run_cli("inspect", str(base / "2"))

    # Then versions 1 and 2 exist, the JSON result says so, and inspect shows the signature
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["version"] == 1
    assert json.loads(second.stdout)["version"] == 2
    assert (base / "2" / "saved_model.pb").is_file()
    assert shown.returncode == 0, shown.stderr
    assert "serving_default" in shown.stdout and "features" in shown.stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (["export", "missing.keras", "out"], "missing.keras"),
        (["export", "{model}", "out", "--max-size", "lots"], "--max-size"),
        (["inspect", "nowhere"], "nowhere"),
    ],
)
def test_cli_user_errors_are_one_line_without_traceback(tiny_keras_file, tmp_path, args, expected):
    # When the user makes a mistake
    args = [a.replace("{model}", tiny_keras_file) for a in args]
    proc = run_cli(*args, cwd=tmp_path)

    # Then the exit status is 1 and stderr names the wrong input, with no traceback
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert expected in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")


def test_cli_refuses_existing_version_unless_overwrite(cli_exports, tiny_keras_file, tmp_path):
    # Given version 1 exists (exported by the CLI)
    base = tmp_path / "m"
    shutil.copytree(cli_exports[0], base)
    old_pb = (base / "1" / "saved_model.pb").stat()

    # When the user asks for version 1 again, then with --overwrite
    again = run_cli("export", tiny_keras_file, str(base), "--version", "1", "--quiet")
    forced = run_cli(
        "export", tiny_keras_file, str(base), "--version", "1", "--overwrite", "--quiet"
    )

    # Then the first is refused with a hint, the second replaces it
    assert again.returncode == 1 and "overwrite" in again.stderr.lower()
    assert forced.returncode == 0, forced.stderr
    new_pb = (base / "1" / "saved_model.pb").stat()
    assert (new_pb.st_ino, new_pb.st_mtime_ns) != (old_pb.st_ino, old_pb.st_mtime_ns)


class Kernel:
    """A real IPython kernel of this venv, executing cells and collecting what they show."""

    def __init__(self, cwd: Path, env: dict | None = None):
        from jupyter_client.manager import start_new_kernel

        kwargs = {"env": env} if env is not None else {}
        self.km, self.kc = start_new_kernel(kernel_name="python3", cwd=str(cwd), **kwargs)

    def run(self, code: str, timeout: float = 300) -> dict:
        msg_id = self.kc.execute(code)
        out = {"stdout": "", "stderr": "", "error": None, "result": None, "display": ""}
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"kernel timed out running {code!r}") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out[content["name"]] += content["text"]
            elif kind == "error":
                out["error"] = content
            elif kind == "execute_result":
                out["result"] = content["data"].get("text/plain")
            elif kind in ("display_data", "update_display_data"):
                out["display"] += content["data"].get("text/plain", "") + "\n"
                out.setdefault("html", []).append(content["data"].get("text/html", ""))
            elif kind == "status" and content["execution_state"] == "idle":
                return out

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory):
    """The workbench state dir (mount registry) shared by this test process and the kernel."""
    path = tmp_path_factory.mktemp("state")
    old = os.environ.get("JUPYTER_WORKBENCH_STATE_DIR")
    os.environ["JUPYTER_WORKBENCH_STATE_DIR"] = str(path)
    yield path
    if old is None:
        del os.environ["JUPYTER_WORKBENCH_STATE_DIR"]
    else:
        os.environ["JUPYTER_WORKBENCH_STATE_DIR"] = old


@pytest.fixture(scope="module")
def kernel(tmp_path_factory, state_dir):
    """One workbench kernel for the file, started like a user's: no TensorFlow log settings in
    its environment. Its first cell imports TensorFlow (every test here needs it; a second
    kernel for the startup-notice check would cost a second TensorFlow import)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    k = Kernel(tmp_path_factory.mktemp("kernel"), env=env)
    k.run("%load_ext jupyter_workbench")
    k.first_tensorflow_import = k.run(
        "import sys\n"
        "print('tensorflow' in sys.modules)\n"
        "import tensorflow as tf\n"
        "print(tf.constant(2) * 3)"
    )
    yield k
    k.close()


def test_magic_exports_a_notebook_variable_and_returns_the_result(kernel, tmp_path):
    # Given a Keras model in the notebook
    kernel.run(
        "import keras\n"
        "inp = keras.Input((3,), name='x')\n"
        "model = keras.Model(inp, keras.layers.Dense(2, name='y')(inp))"
    )

    # When the user runs %savedmodel on the variable and keeps the result
    out = kernel.run(f"r = %savedmodel model {tmp_path / 'mnist'} --signature predict")
    check = kernel.run("print(r.version, 'predict' in r.signatures, r.max_abs_diff < 1e-5)")

    # Then a progress bar and the summary are shown as rich output (HTML with a plain-text
    # fallback), nothing on stderr (no pink "error" look), and the result is version 1 with
    # the named, verified signature
    assert out["error"] is None, out
    assert out["stderr"] == "", out["stderr"]
    assert "Export: 100%" in out["display"] and "predict" in out["display"], out["display"]
    assert any("jp-WorkbenchProgress" in h for h in out["html"])
    assert any("predict" in h and "<table" in h for h in out["html"]), out["html"]
    assert check["stdout"].split() == ["1", "True", "True"]
    assert (tmp_path / "mnist" / "1" / "saved_model.pb").is_file()


def test_a_bare_magic_line_shows_its_summary_once(kernel, tiny_keras_file, tmp_path):
    # When the user runs %savedmodel without keeping the result
    out = kernel.run(f"%savedmodel {tiny_keras_file} {tmp_path / 'once'}")

    # Then the summary shows once (no second copy as Out[n])
    assert out["error"] is None, out
    assert out["result"] is None
    assert out["display"].count("SavedModel version 1") == 1, out["display"]


def test_a_typo_in_a_variable_name_is_an_unknown_variable_not_a_missing_file(kernel, tmp_path):
    # Given a model in the variable "model"
    kernel.run("model = object()")

    # When the user mistypes it
    out = kernel.run(f"%savedmodel modle {tmp_path / 'x'}")

    # Then the message says the variable is unknown and suggests the right one
    shown = "\n".join(out["error"]["traceback"])
    assert shown.startswith("NameError: 'modle' is not a variable of this notebook"), shown
    assert "Did you mean 'model'?" in shown
    assert "No such file" not in shown


def test_tensorflow_startup_notices_stay_out_of_workbench_kernels(kernel):
    # Given a kernel with the workbench loaded and no TensorFlow log settings at all
    # When the notebook imports TensorFlow (the kernel's first import of it)
    out = kernel.first_tensorflow_import
    # Then the cell shows its own output only: no oneDNN / absl / CPU-feature notices
    assert out["error"] is None, out
    assert out["stdout"].startswith("False\n"), out["stdout"]  # TensorFlow was not loaded yet
    assert "tf.Tensor(6" in out["stdout"]
    assert "oneDNN" not in out["stderr"] and "absl" not in out["stderr"], out["stderr"]


def test_magic_show_prints_the_signatures(kernel, tiny_keras_file, tmp_path):
    # Given an exported model
    kernel.run(f"_ = %savedmodel {tiny_keras_file} {tmp_path / 'tiny'}")

    # When the user asks to see it
    out = kernel.run(f"%savedmodel show {tmp_path / 'tiny' / '1'}")

    # Then the tags and the signature's input are printed
    assert out["error"] is None, out
    assert "serve" in out["stdout"] and "features" in out["stdout"]


def test_magic_errors_are_one_clear_message(kernel, tmp_path):
    # When the user names a variable/file that does not exist
    out = kernel.run(f"%savedmodel no_such_model {tmp_path / 'x'}")

    # Then the cell fails with one message naming it, not a TensorFlow traceback
    assert out["error"] is not None
    shown = "\n".join(out["error"]["traceback"])
    assert "no_such_model" in shown
    assert "tensorflow/python" not in shown and len(out["error"]["traceback"]) == 1


def test_mounts_magic_lists_mounts_and_kernel_reads_through_them(kernel, state_dir, tmp_path):
    # Given a NAS-like directory mounted as "nas" by the server (registry in the state dir)
    from jupyter_workbench.storage import MountRegistry

    share = tmp_path / "share"
    share.mkdir()
    (share / "hello.txt").write_text("hi from nas")
    registry = MountRegistry(state_dir)
    registry.configure(mount_dir=tmp_path / "root" / "mnt", allowed_local_roots=[tmp_path])
    registry.add("nas", share.as_uri())

    # When the user lists mounts and reads through the kernel-side API
    listed = kernel.run("%mounts")
    read = kernel.run(
        "from jupyter_workbench import mounts\n"
        "print(mounts.filesystem('nas').cat_file('hello.txt').decode())"
    )

    oss_class = kernel.run("import fsspec; print(fsspec.get_filesystem_class('oss').__name__)")

    # Then the mount is listed with its URL and a local folder that exists (the share itself:
    # <root>/mnt/nas is not there without FUSE), and the file is readable
    assert listed["error"] is None, listed
    # and plain oss:// URLs (pandas, fsspec.open) use the fixed ossfs in the kernel
    assert oss_class["stdout"].strip() == "WorkbenchOSSFileSystem", oss_class
    assert "nas: file://" in listed["stdout"] and f"-> {share}" in listed["stdout"], listed
    assert "mnt/nas" not in listed["stdout"]
    assert read["stdout"].strip() == "hi from nas", read


def test_magic_serve_returns_a_handle_that_predicts_and_stops(kernel, tmp_path):
    # Given an exported model (warmup records included)
    kernel.run(
        "import keras\n"
        "inp = keras.Input((3,), name='x')\n"
        "net = keras.Model(inp, keras.layers.Dense(2, name='y', kernel_initializer='ones')(inp))"
    )
    base = tmp_path / "served"
    assert kernel.run(f"_ = %savedmodel net {base} --warmup 2")["error"] is None

    # When the user serves it and calls it through the handle
    out = kernel.run(f"server = %savedmodel serve {base} --poll 0.5")
    check = kernel.run(
        "u = server.url\n"
        "print(u.startswith('http://127.0.0.1:'), u.endswith('/v1/models/served'))\n"
        "print(server.predict([[1.0, 2.0, 3.0]]))\n"
        "print(server.stop() is not None, server.running)"
    )

    # Then the handle answers like TF Serving and stops the process
    assert out["error"] is None, out
    assert "REST http://127.0.0.1:" in out["stdout"]
    assert check["error"] is None, check
    assert check["stdout"].splitlines() == ["True True", "[[6.0, 6.0]]", "True False"]
    # and a wrong base is one clear message
    bad = kernel.run(f"%savedmodel serve {tmp_path / 'nothing'}")
    assert bad["error"] is not None and len(bad["error"]["traceback"]) == 1
    assert "does not exist" in bad["error"]["traceback"][0]
