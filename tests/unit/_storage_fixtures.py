"""Shared fixtures and helpers for the storage and OSS emulator tests (imported; no conftest).

Test modules import the fixtures they use::

    try:
        from ._storage_fixtures import oss, registry, state_dir
    except ImportError:
        from _storage_fixtures import oss, registry, state_dir
"""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from jupyter_workbench.storage import MountRegistry
from jupyter_workbench.testing import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    OSSEmulator,
)

AK = DEMO_ACCESS_KEY_ID
SK = DEMO_ACCESS_KEY_SECRET

_ENV_VARS = (
    "OSS_ACCESS_KEY_ID",
    "OSS_ACCESS_KEY_SECRET",
    "OSS_SESSION_TOKEN",
    "OSS_SECURITY_TOKEN",
    "OSS_ENDPOINT",
    "JUPYTER_WORKBENCH_MOUNT_DIR",
)


@pytest.fixture
def oss():
    """A running OSS emulator (in memory) with the demo bucket and demo credentials."""
    with OSSEmulator() as emulator:
        emulator.seed_demo()
        yield emulator


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    """A fresh workbench state directory, also exported as JUPYTER_WORKBENCH_STATE_DIR."""
    path = tmp_path / "state"
    monkeypatch.setenv("JUPYTER_WORKBENCH_STATE_DIR", str(path))
    for var in _ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    return path


@pytest.fixture
def registry(state_dir):
    return MountRegistry(state_dir)


def oss_options(emulator: OSSEmulator, **extra) -> dict:
    """Mount options for the emulator with the demo credentials (short timeouts for tests)."""
    options = {
        "endpoint": emulator.endpoint,
        "key": AK,
        "secret": SK,
        "connect_timeout": 2,
        "read_timeout": 5,
    }
    options.update(extra)
    return options


def oss_filesystem(emulator: OSSEmulator, **extra):
    """A WorkbenchOSSFileSystem on the emulator (no mount, whole-store paths)."""
    from jupyter_workbench.storage.ossfix import WorkbenchOSSFileSystem

    kwargs = {
        "endpoint": emulator.endpoint,
        "key": AK,
        "secret": SK,
        "connect_timeout": 2,
        "read_timeout": 5,
        "skip_instance_cache": True,
    }
    kwargs.update(extra)
    return WorkbenchOSSFileSystem(**kwargs)


def free_port() -> int:
    """A port with nothing listening on it (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def silent_server():
    """A TCP server that accepts connections and never answers (for read timeouts)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in accepted:
            conn.close()
        srv.close()
