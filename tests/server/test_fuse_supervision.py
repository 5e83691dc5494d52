"""A killed FUSE helper is restarted by the server: the mount directory works again within
seconds, without removing and adding the mount (real FUSE; skipped where it is unusable)."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
from _mount_fixtures import api, mount_oss, oss, state_dir  # noqa: F401

from jupyter_workbench.storage.fuse import fuse_available, is_stale

OK, WHY = fuse_available()
pytestmark = pytest.mark.skipif(not OK, reason=f"FUSE unavailable: {WHY}")


@pytest.fixture
def jp_server_config(state_dir):  # noqa: F811
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_workbench": True}},
        "Workbench": {"fuse_mounts": True},
    }


async def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return True
        await asyncio.sleep(0.1)
    return False


def readable(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


async def test_a_killed_fuse_helper_is_restarted(jp_fetch, jp_root_dir, oss):  # noqa: F811
    # Given an OSS mount shown as a real directory by its FUSE helper
    oss.put_object("demo", "notes/hello.txt", b"hello\n")
    await mount_oss(jp_fetch, oss, name="data")
    path = jp_root_dir / "mnt" / "data"
    assert await wait_for(lambda: readable(path / "notes" / "hello.txt") == "hello\n")
    _, before = await api(jp_fetch, "data")
    pid = before["fuse"]["pid"]
    assert before["fuse"]["state"] == "mounted" and pid

    # When the helper process is killed
    os.kill(pid, signal.SIGKILL)
    started = time.monotonic()

    # Then within seconds the directory reads from the bucket again, served by a new helper
    assert await wait_for(lambda: readable(path / "notes" / "hello.txt") == "hello\n", 15)
    recovered = time.monotonic() - started
    assert not is_stale(path)
    _, after = await api(jp_fetch, "data")
    assert after["fuse"]["state"] == "mounted" and after["fuse"]["pid"] not in (None, pid)
    assert recovered < 10, recovered
    # and writes through it reach the bucket
    await asyncio.to_thread((path / "notes" / "new.txt").write_text, "after restart\n")
    assert oss.get_object("demo", "notes/new.txt") == b"after restart\n"

    # When the mount is removed, the helper is not restarted behind the user's back
    code, _ = await api(jp_fetch, "data", method="DELETE")
    assert code == 200
    assert await wait_for(lambda: not os.path.ismount(path))
    await asyncio.sleep(2.5)
    assert not os.path.ismount(path)
