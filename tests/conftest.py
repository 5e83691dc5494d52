"""Fixtures shared by every test layer: tiny real models made in a subprocess.

Models are built by a child interpreter so that the test process itself never has to import
TensorFlow (server and browser tests stay light, and the 'no TensorFlow on import' rule can be
checked in-process).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
from pathlib import Path

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


def shared_across_workers(tmp_path_factory, name: str, make) -> Path:
    """``make(path)`` once per test run, however many pytest-xdist workers ask: the workers
    share the run's base temp dir, and the first to take the lock builds the file (each
    TensorFlow child costs seconds of CPU on a 2-core machine)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's dir, above the per-worker ones
    path = base / "shared" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            partial = path.with_name(f".partial-{name}")
            make(partial)
            partial.rename(path)
    return path


@pytest.fixture(scope="session")
def tiny_keras_file(tmp_path_factory) -> str:
    """A small compiled functional Keras 3 model saved as a ``.keras`` file (4 -> 3)."""
    path = shared_across_workers(
        tmp_path_factory, "tiny.keras", lambda p: run_python(_MAKE_KERAS, str(p))
    )
    return str(path)


# `WORKBENCH_TEST_CPU_LOG=FILE pytest ...` appends "<cpu seconds> <test id>" for every test: the
# CPU its process and its finished child processes used (servers, kernels, exports, pip), to find
# what makes a CPU-bound phase long (wall times hide it on 2 shared cores).
if os.environ.get("WORKBENCH_TEST_CPU_LOG"):
    import resource

    def _cpu_now() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item, nextitem):
        start = _cpu_now()
        yield
        with open(os.environ["WORKBENCH_TEST_CPU_LOG"], "a") as log:
            log.write(f"{_cpu_now() - start:8.2f} {item.nodeid}\n")
