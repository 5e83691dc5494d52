"""A store that hangs (accepts, never answers) under a mount with default options: the file
browser's calls fail within 30 s with a clear message, and other requests keep being served."""

from __future__ import annotations

import asyncio
import time

from _mount_fixtures import AK, SK, api, contents, jp_server_config, nas_root, oss, state_dir

__all__ = ["jp_server_config", "nas_root", "oss", "state_dir"]


async def test_hung_store_fails_listing_and_save_within_30_s(jp_fetch, oss):
    # Given: a default mount (no timeout options) on a store that then stops answering
    options = {"endpoint": oss.endpoint, "key": AK, "secret": SK}
    code, reply = await api(
        jp_fetch, method="POST", body={"name": "data", "url": "oss://demo", "options": options}
    )
    assert code == 201, reply
    oss.faults.delay(120, path=r"^/demo")
    started = time.monotonic()
    # When: the file browser lists the mount and saves a file into it, at the same time
    listing = asyncio.ensure_future(contents(jp_fetch, "mnt/data"))
    save = asyncio.ensure_future(
        contents(
            jp_fetch,
            "mnt/data/new.txt",
            method="PUT",
            body={"type": "file", "format": "text", "content": "x"},
        )
    )
    await asyncio.sleep(0.5)
    # Then: the server keeps answering meanwhile
    t0 = time.monotonic()
    status = await jp_fetch("workbench", "api", "status")
    assert status.code == 200 and time.monotonic() - t0 < 2
    # And both calls fail within 30 s with a message that says what happened
    for call in (listing, save):
        code, reply = await call
        assert code in (502, 503, 504), (code, reply)
        assert "timed out" in reply["message"] or "did not answer" in reply["message"], reply
    assert time.monotonic() - started < 30
    oss.faults.clear()
