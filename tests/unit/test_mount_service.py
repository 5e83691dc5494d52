"""``MountService``: one per server, nothing shared between two, bounded pools per mount."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from jupyter_workbench.storage import MountRegistry, MountUnreachableError
from jupyter_workbench.storage.service import MountService

try:
    from ._storage_fixtures import AK, SK, silent_server
except ImportError:
    from _storage_fixtures import AK, SK, silent_server


def make_service(tmp_path, name: str, **kwargs) -> MountService:
    share = tmp_path / f"{name}-share"
    share.mkdir()
    (share / "f.txt").write_text(name)
    service = MountService(
        MountRegistry(tmp_path / f"{name}-state"),
        root_dir=str(tmp_path / f"{name}-root"),
        allowed_local_roots=[str(tmp_path)],
        **kwargs,
    )
    service.record_settings()
    return service


def test_two_services_in_one_process_share_nothing(tmp_path):
    asyncio.run(_test_two_services_in_one_process_share_nothing(tmp_path))


async def _test_two_services_in_one_process_share_nothing(tmp_path):
    # Given two servers' mount services in one process
    a, b = make_service(tmp_path, "a"), make_service(tmp_path, "b")

    # When each adds a mount of the same name
    await a.add("data", f"file://{tmp_path}/a-share")
    await b.add("data", f"file://{tmp_path}/b-share")
    b.health.error("data", "broken")

    # Then each sees only its own: mounts, filesystems, health and thread pools
    assert a.filesystem(a.get("data")).cat_file("f.txt") == b"a"
    assert b.filesystem(b.get("data")).cat_file("f.txt") == b"b"
    assert a.health.get("data")["state"] == "ok" and b.health.get("data")["state"] == "error"
    assert a.executor("data") is not b.executor("data")

    # And stopping one leaves the other working
    await a.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        await a.run("data", time.time)
    assert await b.run("data", lambda: "still running") == "still running"
    await b.stop()


def test_a_stalled_mount_has_its_own_bounded_threads(tmp_path):
    asyncio.run(_test_a_stalled_mount_has_its_own_bounded_threads(tmp_path))


async def _test_a_stalled_mount_has_its_own_bounded_threads(tmp_path):
    # Given a service with 2 threads per mount, and mount "slow" whose every thread is stuck
    service = make_service(tmp_path, "s", threads_per_mount=2)
    release = threading.Event()
    stuck = [asyncio.ensure_future(service.run("slow", release.wait, 10)) for _ in range(5)]
    await asyncio.sleep(0.1)

    # When another mount runs a call
    started = time.monotonic()
    answer = await service.run("fast", lambda: 42)

    # Then it is served at once, and the stuck mount ran no more than its own threads
    assert answer == 42 and time.monotonic() - started < 0.5
    running = {t.name for t in threading.enumerate() if t.name.startswith("workbench-mount-slow")}
    assert len(running) == 2
    release.set()
    assert all(await asyncio.gather(*stuck))
    await service.stop()


def test_an_add_that_times_out_is_undone_and_keeps_secrets_out(tmp_path):
    asyncio.run(_test_an_add_that_times_out_is_undone_and_keeps_secrets_out(tmp_path))


async def _test_an_add_that_times_out_is_undone_and_keeps_secrets_out(tmp_path):
    # Given a store that accepts connections and never answers
    service = make_service(tmp_path, "t", check_timeout=1.0)
    # When a mount with credentials in its URL and options is added
    with silent_server() as endpoint, pytest.raises(MountUnreachableError) as info:
        await service.add(
            "slow",
            f"oss://{AK}:{SK}@demo",
            {"endpoint": endpoint, "secret": SK, "read_timeout": 30, "retries": 0},
        )
    # Then adding fails within the bound, saying why, naming no secret, saving nothing
    assert "did not answer within 1 s" in info.value.message
    assert info.value.http_status == 400
    assert SK not in str(info.value)
    assert service.registry.names() == []
    await service.stop()
