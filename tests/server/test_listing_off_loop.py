"""A big mount listing's per-entry models and its JSON are built off the event loop: the server
keeps answering while they are being built (issue 14: ``/api/status`` under 50 listings)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from _mount_fixtures import api, contents, nas_root, state_dir

from jupyter_workbench.contents import handlers as listing_handlers
from jupyter_workbench.contents.mount import MountContents

__all__ = ["nas_root", "state_dir"]

ENTRIES = 300  # above OFF_LOOP_ENTRIES: encoded off the loop


@pytest.fixture
def jp_server_config(state_dir, nas_root):
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_workbench": True},
            "contents_manager_class": "jupyter_workbench.contents.WorkbenchContentsManager",
        },
        "Workbench": {"allowed_local_roots": [str(nas_root)], "fuse_mounts": False},
    }


class Stall:
    """Wraps a function so that its first call waits (up to 5 s) until ``release()``, noting
    the thread it ran on; ``waiting`` is True while it waits."""

    def __init__(self, fn):
        self.fn, self.threads = fn, set()
        self.reached, self.waiting = threading.Event(), False
        self._go = threading.Event()

    def __call__(self, *args, **kwargs):
        self.threads.add(threading.current_thread().name)
        if not self.reached.is_set():
            self.waiting = True
            self.reached.set()
            self._go.wait(5)
            self.waiting = False
        return self.fn(*args, **kwargs)

    def release(self):
        self._go.set()

    async def wait_reached(self):
        deadline = time.monotonic() + 10
        while not self.reached.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert self.reached.is_set(), "never called"


async def status_answers(jp_fetch) -> bool:
    reply = await jp_fetch("api", "status")
    return reply.code == 200


async def test_status_answers_while_a_big_listing_is_built(jp_fetch, nas_root, monkeypatch):
    # Given a mount whose folder has 300 files
    big = nas_root / "share" / "big"
    big.mkdir()
    for i in range(ENTRIES):
        (big / f"f{i:04d}.txt").write_text("x")
    code, _ = await api(
        jp_fetch, method="POST", body={"name": "nas", "url": f"file://{nas_root}/share"}
    )
    assert code == 201
    # and the building of its entry models and of its JSON made to take as long as the test
    # wants (the stand-in for CPU-heavy work on 2,000 or 10,000 entries)
    models = Stall(MountContents._entry_model)
    encode = Stall(listing_handlers.json_default)
    monkeypatch.setattr(MountContents, "_entry_model", lambda self, *a: models(self, *a))
    monkeypatch.setattr(listing_handlers, "json_default", encode)

    # When the file browser lists that folder
    listing = asyncio.ensure_future(contents(jp_fetch, "mnt/nas/big"))

    # Then the server answers other requests while the entries' models are being built
    await models.wait_reached()
    assert await status_answers(jp_fetch) and models.waiting
    models.release()
    # and while the listing's JSON is being encoded
    await encode.wait_reached()
    assert await status_answers(jp_fetch) and encode.waiting
    encode.release()

    # And the listing is complete, dates as JupyterLab reads them
    code, model = await listing
    assert code == 200 and len(model["content"]) == ENTRIES
    assert [e["name"] for e in model["content"]] == [f"f{i:04d}.txt" for i in range(ENTRIES)]
    assert all(e["last_modified"].endswith("Z") for e in model["content"])
    assert {e["mimetype"] for e in model["content"]} == {"text/plain"}
    # and none of that work ran on the event loop's thread
    assert models.threads and encode.threads
    assert "MainThread" not in models.threads | encode.threads


async def test_small_and_local_listings_are_the_stock_handlers(jp_fetch, jp_root_dir, nas_root):
    # Given a small mount folder and a local folder
    (nas_root / "share" / "a.ipynb").write_text(json.dumps({"cells": []}))
    code, _ = await api(
        jp_fetch, method="POST", body={"name": "nas", "url": f"file://{nas_root}/share"}
    )
    assert code == 201
    (jp_root_dir / "local").mkdir()
    # When both are listed, and a missing mount folder asked for
    code, small = await contents(jp_fetch, "mnt/nas")
    code_local, local = await contents(jp_fetch, "local")
    code_missing, _ = await contents(jp_fetch, "mnt/nas/nothing/here")
    # Then they answer as before
    assert code == 200 and [e["name"] for e in small["content"]] == ["a.ipynb"]
    assert small["content"][0]["type"] == "notebook"
    assert code_local == 200 and local["content"] == []
    assert code_missing == 404
