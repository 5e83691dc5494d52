"""Mounts as real directories: the server mounts each OSS mount through FUSE where it can.

Skipped, with the reason, where /dev/fuse is unusable (no fuse3, no privileges).
"""

from __future__ import annotations

import os
import time

import pytest
from _mount_fixtures import api, mount_oss, oss, state_dir  # noqa: F401

from jupyter_workbench.storage.fuse import fuse_available

OK, WHY = fuse_available()
pytestmark = pytest.mark.skipif(not OK, reason=f"FUSE unavailable: {WHY}")


@pytest.fixture
def jp_server_config(state_dir):  # noqa: F811
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_workbench": True},
            "contents_manager_class": "jupyter_workbench.contents.WorkbenchContentsManager",
        },
        "Workbench": {"fuse_mounts": True},
    }


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


async def test_oss_mount_is_a_real_directory_until_unmounted(jp_fetch, jp_root_dir, oss):  # noqa: F811
    # Given an OSS bucket with a file, mounted from the REST API
    oss.put_object("demo", "notes/hello.txt", b"hello from oss\n")
    await mount_oss(jp_fetch, oss, name="data")
    path = jp_root_dir / "mnt" / "data"

    # When a kernel-like client uses plain open() on the mount directory
    assert wait_for(lambda: os.path.isfile(path / "notes" / "hello.txt"))
    with open(path / "notes" / "hello.txt") as f:
        text = f.read()
    with open(path / "notes" / "new.txt", "w") as f:
        f.write("written through FUSE\n")

    # Then reads come from the bucket and a closed file has reached it
    assert text == "hello from oss\n"
    assert oss.get_object("demo", "notes/new.txt") == b"written through FUSE\n"

    # When the mount is removed
    code, _ = await api(jp_fetch, "data", method="DELETE")

    # Then the directory is no longer a mount and nothing in the bucket was deleted
    assert code == 200
    assert wait_for(lambda: not os.path.ismount(path))
    assert oss.get_object("demo", "notes/hello.txt") == b"hello from oss\n"
    assert oss.get_object("demo", "notes/new.txt") == b"written through FUSE\n"
