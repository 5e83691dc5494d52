"""Shared helpers for the environments tests (imported by the test modules; no conftest)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from jupyter_workbench.environments import _paths
from jupyter_workbench.environments.provision import workbench_package_dir
from jupyter_workbench.environments.spec import MARKER_NAME, get_spec, gpu_visible

#: CI points this at a cache directory (e.g. <repo>/.cache/envs) so real environments are reused.
TEST_ENVS_VAR = "JUPYTER_WORKBENCH_TEST_ENVS"


@contextlib.contextmanager
def real_envs_dir(tag: str):
    """The directory for REAL environments: $JUPYTER_WORKBENCH_TEST_ENVS (kept, reused between
    runs) or a temporary directory removed afterwards (a tf2 env is 1.6 GB)."""
    cached = os.environ.get(TEST_ENVS_VAR)
    if cached:
        path = Path(cached).expanduser().absolute()
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    tmp = Path(tempfile.mkdtemp(prefix=f"wb-envs-{tag}-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cached_environment(name: str) -> Path:
    """$JUPYTER_WORKBENCH_TEST_ENVS with a ready REAL environment ``name`` in it (created the
    first time: py3 ~2 min, tf2 ~1 min more); skips the calling test without that variable."""
    import pytest

    from jupyter_workbench.environments import create_environment

    cached = os.environ.get(TEST_ENVS_VAR)
    if not cached:
        pytest.skip(f"set {TEST_ENVS_VAR} to a cache directory to run against a real {name}")
    path = Path(cached).expanduser().absolute()
    info = create_environment(name, path)  # well under a second when ready
    assert info["ready"], info["message"]
    return path


def make_fake_env(root: Path, name: str, *, ready: bool = True, fingerprint: str | None = None):
    """An environment directory that LOOKS created (pyvenv.cfg, bin/python, link, marker) without
    installing anything: for discovery and kernelspec tests that need no network."""
    spec = get_spec(name)
    env = Path(root) / name
    _paths.bin_dir(env).mkdir(parents=True, exist_ok=True)
    (env / "pyvenv.cfg").write_text(
        f"home = {Path(sys.executable).parent}\ninclude-system-site-packages = false\n"
        "version_info = 3.11.7\n"
    )
    py = _paths.python_path(env)
    if not py.exists():
        py.symlink_to(sys.executable)
    (env / "lib" / "python3.11" / "site-packages").mkdir(parents=True, exist_ok=True)
    if ready:
        ldir = _paths.link_dir(env)
        ldir.mkdir(parents=True, exist_ok=True)
        link = ldir / "jupyter_workbench"
        if not link.exists():
            link.symlink_to(workbench_package_dir(), target_is_directory=True)
        marker = {
            "format": 1,
            "name": name,
            "fingerprint": fingerprint or spec.fingerprint(gpu_visible()),
            "python": "3.11.7",
            "packages": {"ipykernel": "7.4.0"},
            "gpu_build": False if spec.gpu_aware else None,
            "created_at": "2026-01-01T00:00:00+00:00",
        }
        (env / MARKER_NAME).write_text(json.dumps(marker))
    return env


@contextlib.contextmanager
def closed_port():
    """A loopback port that refuses connections (bound, never listening) while in the block."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def offline_pip(monkeypatch, port: int, no_index: bool = False) -> None:
    """Make pip see only an unreachable index (no pip.conf, no --find-links, no extra index)."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for var in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{port}/simple/")
    if no_index:
        monkeypatch.setenv("PIP_NO_INDEX", "1")


@contextlib.contextmanager
def started_kernel(ksm, kernel_name: str, timeout: float = 120):
    """A kernel started through ``ksm`` (as the server would); yields a blocking client."""
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name=kernel_name, kernel_spec_manager=ksm)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=timeout)
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def execute(kc, code: str, timeout: float = 180) -> tuple[str, str]:
    """Run ``code``; returns (status, stdout + error text)."""
    out: list[str] = []

    def hook(msg):
        t = msg["msg_type"]
        if t == "stream":
            out.append(msg["content"]["text"])
        elif t == "error":
            out.append(f"{msg['content']['ename']}: {msg['content']['evalue']}\n")
        elif t in ("execute_result", "display_data"):
            out.append(msg["content"]["data"].get("text/plain", "") + "\n")

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    return reply["content"]["status"], "".join(out)


def make_wheel(directory: Path, name: str, version: str = "0.1", value: str = "") -> Path:
    """A minimal pure-Python wheel of module ``name`` (``VALUE = value``), built by hand (no
    build backend, no network): what a user's ``%pip install ./x.whl`` would get."""
    import base64
    import hashlib
    import zipfile

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VALUE = {value or name!r}\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel
