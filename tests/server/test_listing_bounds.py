"""The file browser lists a mount folder completely up to ``c.Workbench.listing_limit``.

A real jupyter server with the workbench contents manager, and an OSS emulator on 127.0.0.1
(signatures checked); the defaults of the traits (1,000 keys per store call, 10,000 entries per
folder) except where a test says otherwise.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from _mount_fixtures import (  # noqa: F401 - fixtures
    api,
    contents,
    mount_oss,
    nas_root,
    oss,
    server_config,
    state_dir,
)


@pytest.fixture
def jp_server_config(state_dir, nas_root):  # noqa: F811 - the fixtures above
    return server_config(nas_root)  # the defaults: 1,000 keys per call, 10,000 per folder


def seed(emulator, prefix: str, count: int) -> list[str]:
    names = [f"obj-{i:06d}.csv" for i in range(count)]
    for name in names:
        emulator.put_object("demo", f"{prefix}/{name}", b"1,2\n")
    return names


def names(model) -> list[str]:
    return [e["name"] for e in model["content"]]


async def test_3000_keys_are_listed_whole_without_a_head(jp_fetch, oss):  # noqa: F811
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    expected = seed(oss, "three", 3000)
    oss.clear_requests()
    # When the file browser opens the folder
    code, model = await contents(jp_fetch, "mnt/data/three")
    # Then it gets all 3,000 entries, from three ListObjects calls and no HEAD
    assert code == 200
    assert names(model) == expected
    assert model["truncated"] is False
    assert [r.method for r in oss.requests] == ["GET"] * 3
    assert all(r.query.get("max-keys") == "1000" for r in oss.requests), oss.requests
    # and the file browser is told nothing more exists
    code, state = await api(jp_fetch, "data", "listing", "more", params={"path": "three"})
    assert code == 200
    assert state == {
        "path": "mnt/data/three",
        "limit": 10_000,
        "step": 10_000,
        "shown": 3000,
        "truncated": False,
    }


async def test_above_the_bound_the_listing_says_so_and_loads_the_next_step(
    jp_fetch,
    oss,  # noqa: F811
):
    await mount_oss(jp_fetch, oss)
    expected = seed(oss, "huge", 10_250)
    # When the file browser opens a folder larger than the default bound
    code, model = await contents(jp_fetch, "mnt/data/huge")
    # Then it gets the first 10,000 entries and is told more exist
    assert code == 200
    assert names(model) == expected[:10_000]
    assert model["truncated"] is True
    code, state = await api(jp_fetch, "data", "listing", "more", params={"path": "huge"})
    assert (state["shown"], state["truncated"], state["limit"]) == (10_000, True, 10_000)
    # When the user asks for the next 10,000 (the file browser then refreshes)
    code, state = await api(
        jp_fetch, "data", "listing", "more", method="POST", body={"path": "huge"}
    )
    assert code == 200 and state["limit"] == 20_000
    code, model = await contents(jp_fetch, "mnt/data/huge")
    # Then the folder is complete, and stays so on the next refresh
    assert names(model) == expected and model["truncated"] is False
    code, model = await contents(jp_fetch, "mnt/data/huge")
    assert len(model["content"]) == 10_250
    code, state = await api(jp_fetch, "data", "listing", "more", params={"path": "huge"})
    assert (state["shown"], state["truncated"]) == (10_250, False)
    # Other folders keep the default bound; unmounting forgets the raised one
    assert (await api(jp_fetch, "data", "listing", "more", params={"path": "x"}))[1][
        "limit"
    ] == 10_000
    assert (await api(jp_fetch, "data", method="DELETE"))[0] == 200
    await mount_oss(jp_fetch, oss)
    code, state = await api(jp_fetch, "data", "listing", "more", params={"path": "huge"})
    assert state["limit"] == 10_000 and state["shown"] is None


async def test_the_server_answers_while_a_big_folder_is_listed(jp_fetch, oss):  # noqa: F811
    await mount_oss(jp_fetch, oss)
    seed(oss, "slow", 3000)
    oss.faults.delay(0.5, path=r"prefix=slow")  # each of the 3 store pages takes 0.5 s
    listing = asyncio.ensure_future(contents(jp_fetch, "mnt/data/slow"))
    await asyncio.sleep(0.3)
    t0 = time.perf_counter()
    code, _ = await api(jp_fetch)  # the mounts list, while the listing is under way
    assert code == 200 and time.perf_counter() - t0 < 0.5
    assert not listing.done()
    code, model = await listing
    assert code == 200 and len(model["content"]) == 3000


async def test_bad_load_more_requests_are_400_or_404(jp_fetch, oss):  # noqa: F811
    await mount_oss(jp_fetch, oss)
    code, reply = await api(
        jp_fetch, "data", "listing", "more", method="POST", body={"path": "../x"}
    )
    assert code == 400 and reply["message"]
    code, reply = await api(jp_fetch, "data", "listing", "more", method="POST", body={"p": 1})
    assert code == 400 and "p" in reply["message"]
    code, reply = await api(jp_fetch, "data", "listing", "more", method="POST", body={"path": 3})
    assert code == 400 and "path" in reply["message"]
    code, reply = await api(jp_fetch, "nope", "listing", "more")
    assert code == 404 and reply["message"]
