"""Fixtures shared by every test layer: tiny real models made in a subprocess.

Models are built by a child interpreter so that the test process itself never has to import
TensorFlow (server and browser tests stay light, and the 'no TensorFlow on import' rule can be
checked in-process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests never write into the real user's Jupyter data dir (creating an environment registers its
# kernelspec there; the default state dir lives there too): one private data dir per session.
if "JUPYTER_DATA_DIR" not in os.environ:
    import tempfile

    os.environ["JUPYTER_DATA_DIR"] = tempfile.mkdtemp(prefix="wb-test-jupyter-data-")

_MAKE_KERAS = textwrap.dedent(
    """
    import sys
    import keras
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,), name="features")
    hidden = keras.layers.Dense(8, activation="relu")(inp)
    out = keras.layers.Dense(3, name="scores")(hidden)
    model = keras.Model(inp, out)
    model.compile(optimizer="adam", loss="mse")
    model.save(sys.argv[1])
    """
)


def run_python(code: str, *args: str, timeout: float = 300) -> str:
    """Run ``code`` in a fresh interpreter of this venv; return stdout, fail with stderr."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(f"child python failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout


@pytest.fixture(scope="session")
def tiny_keras_file(tmp_path_factory) -> str:
    """A small compiled functional Keras 3 model saved as a ``.keras`` file (4 -> 3)."""
    path = tmp_path_factory.mktemp("models") / "tiny.keras"
    run_python(_MAKE_KERAS, str(path))
    return str(path)
