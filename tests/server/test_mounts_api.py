"""``workbench/api/mounts``: add, list, get, unmount; secrets kept; clear 4xx for bad input."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import time
from pathlib import Path

import pytest
from _mount_fixtures import (
    AK,
    SK,
    api,
    contents,
    free_port,
    jp_server_config,
    mount_oss,
    nas_root,
    oss,
    oss_options,
    silent_server,
    state_dir,
)

from jupyter_workbench.testing import OSSEmulator

__all__ = ["jp_server_config", "nas_root", "oss", "state_dir"]


async def test_add_list_get_and_unmount_an_oss_bucket(jp_fetch, oss):
    # When the user adds the demo bucket
    code, added = await api(
        jp_fetch,
        method="POST",
        body={"name": "data", "url": "oss://demo", "options": oss_options(oss)},
    )

    # Then it is registered, healthy, and shown at mnt/data
    assert code == 201
    assert added["name"] == "data" and added["url"] == "oss://demo"
    assert added["path"] == "mnt/data"
    assert added["state"]["state"] == "ok"
    assert added["read_only"] is False
    assert sorted(added["secret_options"]) == ["key", "secret"]
    code, listed = await api(jp_fetch)
    assert code == 200 and [m["name"] for m in listed] == ["data"]
    code, one = await api(jp_fetch, "data")
    assert code == 200 and one["url"] == "oss://demo"

    # When the user unmounts it
    code, reply = await api(jp_fetch, "data", method="DELETE")

    # Then it is gone from the API and the file browser, and the bucket is untouched
    assert code == 200 and "nothing on the storage was deleted" in reply["message"]
    assert (await api(jp_fetch, "data"))[0] == 404
    assert (await api(jp_fetch))[1] == []
    assert (await contents(jp_fetch, "mnt/data"))[0] == 404
    assert sorted(oss.list_keys("demo")) == ["README.txt", "data/iris.csv"]


async def test_secrets_are_never_returned_logged_or_written_outside_the_store(
    jp_fetch, jp_root_dir, state_dir, caplog
):
    caplog.set_level(logging.DEBUG)
    secret, token = "sts-secret-4f9a1c", "sts-token-77e2b0"
    emulator = OSSEmulator(credentials={"STSKEYID": (secret, token)})
    with emulator:
        emulator.seed_demo()
        options = {
            "endpoint": emulator.endpoint,
            "key": "STSKEYID",
            "secret": secret,
            "token": token,
            "connect_timeout": 2,
        }
        replies = []
        # When the user adds a mount with STS credentials, lists, opens a file, and also
        # makes a mistake that includes the secret in a bad option and a wrong token
        replies.append(
            await api(
                jp_fetch,
                method="POST",
                body={"name": "sts", "url": "oss://demo", "options": options},
            )
        )
        assert replies[-1][0] == 201
        replies.append(await api(jp_fetch))
        replies.append(await api(jp_fetch, "sts", params={"check": "1"}))
        replies.append(await contents(jp_fetch, "mnt/sts/README.txt"))
        replies.append(
            await api(
                jp_fetch,
                method="POST",
                body={"name": "bad", "url": "oss://demo", "options": {**options, "token": "x"}},
            )
        )
        assert replies[-1][0] == 400
        replies.append(
            await api(
                jp_fetch,
                method="POST",
                body={
                    "name": "bad2",
                    "url": f"oss://STSKEYID:{secret}@nonexistent-bucket",
                    "options": {"endpoint": emulator.endpoint, "token": token},
                },
            )
        )
        assert replies[-1][0] == 400

    # Then no reply, log record or file outside the 0600 credential store holds them
    text = json.dumps(replies)
    assert secret not in text and token not in text
    assert secret not in caplog.text and token not in caplog.text
    store = state_dir / "credentials.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert secret in store.read_text()
    for folder in (state_dir, jp_root_dir):
        for dirpath, _, files in os.walk(folder):
            for f in files:
                path = os.path.join(dirpath, f)
                if path == str(store):
                    continue
                data = Path(path).read_bytes()
                assert secret.encode() not in data and token.encode() not in data, path


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"name": "../up", "url": "oss://demo"}, 400, "must not contain"),
        ({"name": "a/b", "url": "oss://demo"}, 400, "slashes"),
        ({"name": "", "url": "oss://demo"}, 400, "empty"),
        ({"name": "  ", "url": "oss://demo"}, 400, "empty"),
        ({"url": "oss://demo"}, 400, "name"),
        ({"name": "x"}, 400, "url"),
        ({"name": "x", "url": "oss://demo/../other"}, 400, ".."),
        ({"name": "x", "url": "foo://bucket"}, 400, "Unknown protocol"),
        ({"name": "x", "url": "memory://bucket"}, 400, "cannot be mounted"),
        ({"name": "x", "url": "file:///etc", "options": {}}, 400, "outside the allowed"),
        ({"name": "x", "url": "oss://demo", "options": "key=1"}, 400, "options"),
        ({"name": "x", "url": "oss://demo", "options": {"endpoint": ["a"]}}, 400, "endpoint"),
        ({"name": "x", "url": "oss://demo", "options": {"colour": "red"}}, 400, "Unknown option"),
        ({"name": "x", "url": "oss://demo", "read_only": "yes"}, 400, "read_only"),
        ({"name": "x", "url": "oss://demo", "extra": 1}, 400, "Unknown field"),
        ({"name": 5, "url": "oss://demo"}, 400, "name"),
    ],
)
async def test_bad_input_answers_a_4xx_naming_the_problem(jp_fetch, oss, body, status, words):
    if "options" not in body:
        body = {**body, "options": oss_options(oss)}
    # When the page posts a bad mount
    code, reply = await api(jp_fetch, method="POST", body=body)
    # Then it gets a clear 4xx and nothing is registered
    assert code == status, reply
    assert words.lower() in reply["message"].lower()
    assert (await api(jp_fetch))[1] == []


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"', "\xff"])
async def test_malformed_json_is_a_400(jp_fetch, raw):
    code, reply = await api(jp_fetch, method="POST", raw=raw)
    assert code == 400
    assert "JSON" in reply["message"]


async def test_duplicate_name_is_a_409_and_keeps_the_first(jp_fetch, oss, nas_root):
    await mount_oss(jp_fetch, oss)
    code, reply = await api(
        jp_fetch,
        method="POST",
        body={"name": "data", "url": f"file://{nas_root}/share"},
    )
    assert code == 409 and "already exists" in reply["message"]
    assert (await api(jp_fetch, "data"))[1]["url"] == "oss://demo"


async def test_unknown_and_invalid_names_in_the_url(jp_fetch):
    assert (await api(jp_fetch, "nope"))[0] == 404
    assert (await api(jp_fetch, "nope", method="DELETE"))[0] == 404
    code, reply = await api(jp_fetch, "..")
    assert code == 400 and ".." in reply["message"]
    code, _ = await api(jp_fetch, "..", method="DELETE")
    assert code == 400


async def test_wrong_credentials_are_a_clear_400_and_nothing_is_saved(jp_fetch, oss):
    code, reply = await api(
        jp_fetch,
        method="POST",
        body={
            "name": "data",
            "url": "oss://demo",
            "options": oss_options(oss, secret="not-the-secret"),
        },
    )
    assert code == 400
    assert "secret does not match" in reply["message"]
    assert "not-the-secret" not in reply["message"]
    code, reply = await api(
        jp_fetch,
        method="POST",
        body={"name": "data", "url": "oss://demo", "options": oss_options(oss, key="NOBODY")},
    )
    assert code == 400 and "AccessKey ID" in reply["message"]
    assert (await api(jp_fetch))[1] == []


async def test_missing_bucket_is_a_400(jp_fetch, oss):
    code, reply = await api(
        jp_fetch,
        method="POST",
        body={"name": "data", "url": "oss://no-such-bucket", "options": oss_options(oss)},
    )
    assert code == 400 and "does not exist" in reply["message"]


async def test_refused_endpoint_fails_fast(jp_fetch):
    endpoint = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    code, reply = await api(
        jp_fetch,
        method="POST",
        body={
            "name": "data",
            "url": "oss://demo",
            "options": {"endpoint": endpoint, "key": AK, "secret": SK, "retries": 0},
        },
    )
    assert code == 400 and "refused" in reply["message"]
    assert time.monotonic() - started < 5


async def test_silent_endpoint_is_bounded_and_the_server_keeps_answering(
    jp_fetch, jp_serverapp, monkeypatch
):
    monkeypatch.setattr(jp_serverapp.web_app.settings["workbench_mounts"], "check_timeout", 3.0)
    with silent_server() as endpoint:
        body = {
            "name": "slow",
            "url": "oss://demo",
            "options": {
                "endpoint": endpoint,
                "key": AK,
                "secret": SK,
                "read_timeout": 30,
                "retries": 0,
            },
        }
        started = time.monotonic()
        adding = asyncio.ensure_future(api(jp_fetch, method="POST", body=body))
        await asyncio.sleep(0.3)
        # While the store does not answer, other requests are served at once
        t0 = time.monotonic()
        status = await jp_fetch("workbench", "api", "status")
        assert status.code == 200 and time.monotonic() - t0 < 1.0
        code, listed = await api(jp_fetch)
        assert code == 200 and listed == []
        # And the add gives up within the bound, saving nothing
        code, reply = await adding
        assert code == 400 and "did not answer" in reply["message"]
        assert time.monotonic() - started < 6
    assert (await api(jp_fetch))[1] == []


async def test_local_nas_path_and_read_only_flag(jp_fetch, nas_root):
    (nas_root / "share" / "a.txt").write_text("hello")
    code, added = await api(
        jp_fetch,
        method="POST",
        body={"name": "nas", "url": f"file://{nas_root}/share", "read_only": True},
    )
    assert code == 201, added
    assert added["read_only"] is True and added["protocol"] == "file"
    code, listing = await contents(jp_fetch, "mnt/nas")
    assert code == 200 and [e["name"] for e in listing["content"]] == ["a.txt"]
    assert listing["writable"] is False


async def test_state_reports_a_store_that_went_away(jp_fetch):
    emulator = OSSEmulator()
    emulator.start()
    try:
        options = oss_options(emulator, retries=0)
        code, _ = await api(
            jp_fetch,
            method="POST",
            body={"name": "data", "url": "oss://demo", "options": options},
        )
        assert code == 201
    finally:
        emulator.stop()
    code, mount = await api(jp_fetch, "data", params={"check": "1"})
    assert code == 200
    assert mount["state"]["state"] == "error"
    assert "Could not reach" in mount["state"]["message"]


async def test_listing_endpoint_pages_through_a_folder(jp_fetch, oss):
    for i in range(7):
        oss.put_object("demo", f"many/f{i:02d}.txt", b"x")
    await mount_oss(jp_fetch, oss)
    code, page = await api(jp_fetch, "data", "listing", params={"path": "many", "limit": "3"})
    assert code == 200
    assert [e["name"] for e in page["entries"]] == ["f00.txt", "f01.txt", "f02.txt"]
    assert page["entries"][0]["path"] == "mnt/data/many/f00.txt"
    names = [e["name"] for e in page["entries"]]
    while page["next_marker"]:
        code, page = await api(
            jp_fetch,
            "data",
            "listing",
            params={"path": "many", "limit": "3", "marker": page["next_marker"]},
        )
        names += [e["name"] for e in page["entries"]]
    assert names == [f"f{i:02d}.txt" for i in range(7)]
    assert (await api(jp_fetch, "data", "listing", params={"path": "../x"}))[0] == 400
    assert (await api(jp_fetch, "data", "listing", params={"path": "nothing"}))[0] == 404


async def test_status_handshake_offers_mounts(jp_fetch):
    reply = await jp_fetch("workbench", "api", "status")
    assert json.loads(reply.body)["features"]["mounts"] is True
