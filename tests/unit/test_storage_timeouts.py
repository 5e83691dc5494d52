"""Default mounts have bounded timeouts: a hung store (accepts, never answers) fails fast."""

from __future__ import annotations

import threading
import time

import pytest

from jupyter_workbench.storage.errors import StorageUnavailableError

try:
    from ._storage_fixtures import AK, SK, registry, silent_server, state_dir
except ImportError:
    from _storage_fixtures import AK, SK, registry, silent_server, state_dir

__all__ = ["registry", "state_dir"]


@pytest.fixture
def hung_endpoint():
    with silent_server() as endpoint:
        yield endpoint


def test_a_hung_store_fails_a_listing_and_a_save_within_30_s(registry, hung_endpoint):
    # Given: a mount with only endpoint and keys (every timeout at its default)
    registry.add("hung", "oss://demo", {"endpoint": hung_endpoint, "key": AK, "secret": SK})
    fs = registry.filesystem("hung")
    outcomes = {}

    def attempt(what, call):
        t0 = time.monotonic()
        try:
            call()
            outcomes[what] = (None, time.monotonic() - t0)
        except Exception as e:  # noqa: BLE001 - the test inspects it
            outcomes[what] = (e, time.monotonic() - t0)

    # When: a listing and a save at the same time
    threads = [
        threading.Thread(target=attempt, args=("listing", lambda: fs.ls(""))),
        threading.Thread(target=attempt, args=("save", lambda: fs.pipe("n.txt", b"x" * 1000))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # Then: both fail within 30 s, saying what happened and where
    for what in ("listing", "save"):
        error, elapsed = outcomes[what]
        assert isinstance(error, StorageUnavailableError), (what, error)
        assert elapsed < 30, (what, elapsed)
        assert "timed out" in str(error) and hung_endpoint in str(error), str(error)
