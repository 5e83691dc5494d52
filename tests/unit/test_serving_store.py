"""Serving from object storage (a mount on the OSS emulator) and process hygiene: versions are
polled on the store and loaded through a local cache; a killed server leaves no cache behind
once stopped, and a server whose parent dies exits by itself (no orphans)."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np
import pytest

from jupyter_workbench.storage import MountRegistry

try:
    from ._serving_fixtures import http, states, wait_for
    from ._storage_fixtures import AK, SK, oss  # noqa: F401
except ImportError:
    from _serving_fixtures import http, states, wait_for
    from _storage_fixtures import AK, SK, oss  # noqa: F401

pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_serving.apis")
POLL = 0.3


def _model(bias):
    import keras

    inp = keras.Input((3,), name="x")
    out = keras.layers.Dense(
        2, name="y", kernel_initializer="ones", bias_initializer=keras.initializers.Constant(bias)
    )(inp)
    return keras.Model(inp, out)


@pytest.fixture
def mount(tmp_path, monkeypatch, oss):  # noqa: F811
    monkeypatch.setenv("JUPYTER_WORKBENCH_STATE_DIR", str(tmp_path / "state"))
    reg = MountRegistry()
    reg.configure(mount_dir=tmp_path / "root" / "mnt", allowed_local_roots=[tmp_path])
    reg.add("data", "oss://demo/team", {"endpoint": oss.endpoint, "key": AK, "secret": SK})
    return reg


def test_serve_a_mount_url_with_hot_reload_and_kill(mount, oss):  # noqa: F811
    from jupyter_workbench.export import export_savedmodel
    from jupyter_workbench.serving import start_server

    # Given version 1 on the store (through the mount)
    export_savedmodel(_model(0.0), "mount://data/models/net", progress=False, verify=False)
    server = start_server("mount://data/models/net", python=sys.executable, poll=POLL)
    try:
        x = [[1.0, 2.0, 3.0]]
        _c, first = http("POST", server.url + ":predict", {"instances": x})
        # the version was loaded through a local cache of this server
        caches = glob.glob(os.path.join(tempfile.gettempdir(), f"workbench-serving-{server.pid}-*"))
        assert len(caches) == 1 and os.listdir(caches[0]) == ["1"]
        # When version 2 is exported to the store, it serves within two polls (+ load)
        export_savedmodel(_model(10.0), "mount://data/models/net", progress=False, verify=False)
        wait_for(lambda: states(server).get(2, ("",))[0] == "AVAILABLE", timeout=2 * POLL + 15)
        _c, second = http("POST", server.url + ":predict", {"instances": x})
        np.testing.assert_allclose(
            np.array(second["predictions"]) - first["predictions"], 10.0, rtol=1e-5
        )
        wait_for(lambda: os.listdir(caches[0]) == ["2"], timeout=5)
        # When the server is killed outright
        os.kill(server.pid, signal.SIGKILL)
        server.proc.wait(10)
    finally:
        server.stop()
    # Then nothing is left: no cache, the port is free
    assert not glob.glob(os.path.join(tempfile.gettempdir(), f"workbench-serving-{server.pid}-*"))
    import socket

    with socket.socket() as s:  # as a new server would bind it (TIME_WAIT allowed)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((server.host, server.rest_port))


PARENT = """
import sys, time
from jupyter_workbench.serving import start_server
server = start_server(sys.argv[1], python=sys.executable, poll=1)
print(server.pid, flush=True)
time.sleep(600)
"""


def test_a_server_whose_parent_dies_exits(tmp_path):
    from jupyter_workbench.export import export_savedmodel

    export_savedmodel(_model(0.0), str(tmp_path / "m"), progress=False, verify=False)
    # Given a process (a kernel, a Jupyter server) that started a model server
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(PARENT), str(tmp_path / "m")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        child = int(parent.stdout.readline())
        # When the parent is killed with SIGKILL (no cleanup code runs)
        parent.kill()
        parent.wait(10)

        # Then the server exits on its own
        def gone():
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                return True
            with open(f"/proc/{child}/stat") as fh:  # a zombie waiting for init counts as gone
                return fh.read().split(") ", 1)[1].startswith("Z")

        wait_for(gone, timeout=15, interval=0.2)
    finally:
        if parent.poll() is None:
            parent.kill()
    time.sleep(0)
