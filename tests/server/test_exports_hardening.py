"""``POST workbench/api/exports`` from an adversary's side: paths confined to the server root,
mounts and object-store URLs; overwrite never deletes what the workbench did not publish;
every option checked before 202; secrets in a destination URL never come back."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil

import pytest

from jupyter_workbench.testing import DEMO_ACCESS_KEY_ID as AK
from jupyter_workbench.testing import DEMO_ACCESS_KEY_SECRET as SK
from jupyter_workbench.testing import OSSEmulator


async def post(jp_fetch, body):
    r = await jp_fetch(
        "workbench", "api", "exports", method="POST", body=json.dumps(body), raise_error=False
    )
    return r.code, json.loads(r.body)


async def get(jp_fetch, *parts):
    r = await jp_fetch("workbench", "api", "exports", *parts, raise_error=False)
    return r.code, r.body.decode()


async def wait_done(jp_fetch, export_id, timeout=240):
    for _ in range(int(timeout / 0.25)):
        code, text = await get(jp_fetch, export_id)
        state = json.loads(text)
        assert code == 200, state
        if state["state"] in ("done", "failed"):
            return state
        await asyncio.sleep(0.25)
    raise AssertionError(f"export {export_id} did not finish: {state}")


@pytest.fixture
def model(jp_root_dir, tiny_keras_file):
    shutil.copy(tiny_keras_file, jp_root_dir / "tiny.keras")
    return "tiny.keras"


@pytest.mark.parametrize(
    "field, value, status, words",
    [
        ("destination", "file:///{outside}/x", 404, "outside the server root"),
        ("destination", "file://../x", 400, "not an absolute file URL"),
        ("destination", "../x", 404, "outside the server root"),
        ("destination", "{outside}/x", 404, "outside the server root"),
        ("destination", "link/x", 404, "outside the server root"),
        ("destination", "memory://models/x", 400, "does not accept"),
        ("destination", "simplecache::file:///tmp/x", 400, "chains URLs"),
        ("destination", "mount://nosuchmount/x", 404, "nosuchmount"),
        ("destination", "mount://data/../../x", 400, "'..'"),
        ("checkpoint", "{outside}/ckpt/model-1", 404, "checkpoint"),
        ("checkpoint", "../ckpt", 404, "checkpoint"),
        ("source", "file:///{outside}/model.keras", 404, "source"),
    ],
)
async def test_paths_outside_the_root_are_refused(
    jp_fetch, jp_root_dir, model, tmp_path, field, value, status, words
):
    # Given a directory outside the server root, and a symlink leading there from inside
    outside = tmp_path / "outside"
    (outside / "victim" / "1").mkdir(parents=True)
    (jp_root_dir / "link").symlink_to(outside)
    body = {"source": model, "destination": "models/m"}
    body[field] = value.format(outside=str(outside).lstrip("/") if "///" in value else outside)
    # When an export names it
    code, reply = await post(jp_fetch, body)
    # Then it is refused before anything starts, saying which field and why
    assert code == status, reply
    assert words in reply["message"], reply
    assert os.listdir(outside) == ["victim"]
    _, listing = await get(jp_fetch)
    assert json.loads(listing) == []


async def test_overwrite_never_deletes_what_the_workbench_did_not_publish(
    jp_fetch, jp_root_dir, model
):
    # Given someone's folder named like a version under the root
    victim = jp_root_dir / "victim" / "1"
    victim.mkdir(parents=True)
    (victim / "important.txt").write_text("keep me")
    # When an export asks to overwrite version 1 there
    code, started = await post(
        jp_fetch, {"source": model, "destination": "victim", "version": 1, "overwrite": True}
    )
    assert code == 202, started
    state = await wait_done(jp_fetch, started["id"])
    # Then it fails, saying why, and the folder is untouched
    assert state["state"] == "failed" and "not published by the workbench" in state["error"]
    assert (victim / "important.txt").read_text() == "keep me"
    assert sorted(os.listdir(victim)) == ["important.txt"]


@pytest.mark.parametrize(
    "extra, words",
    [
        ({"version": -1}, "version"),
        ({"version": 2**63}, "2**63-1"),
        ({"version": 10**30}, "2**63-1"),
        ({"version": True}, "version"),
        ({"version": 1.5}, "version"),
        ({"weights_dtype": "int3"}, "weights_dtype"),
        ({"max_size": "lots"}, "max_size"),
        ({"max_size": -5}, "max_size"),
        ({"max_size": "5 parsecs"}, "max_size"),
        ({"inputs": {"x": 3}}, "inputs"),
        ({"overwrite": "yes"}, "overwrite"),
        ({"signature_name": " "}, "signature_name"),
        ({"warmup": -2}, "warmup"),
        ({"warmup": 10**6}, "warmup"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_every_option_is_checked_before_202(jp_fetch, jp_root_dir, model, extra, words):
    # Given a model and a bad option
    body = {"source": model, "destination": "models/m", **extra}
    # When posted / Then it is a 400 at once naming the option, and no export was started
    code, reply = await post(jp_fetch, body)
    assert code == 400, reply
    assert words in reply["message"], reply
    _, listing = await get(jp_fetch)
    assert json.loads(listing) == []


async def test_the_largest_tf_serving_version_is_accepted(jp_fetch, jp_root_dir, model):
    code, started = await post(
        jp_fetch, {"source": model, "destination": "big", "version": 2**63 - 1, "verify": False}
    )
    assert code == 202, started
    state = await wait_done(jp_fetch, started["id"])
    assert state["state"] == "done", state
    assert (jp_root_dir / "big" / str(2**63 - 1) / "saved_model.pb").is_file()


@pytest.fixture
def emulator(monkeypatch):
    with OSSEmulator() as emu:
        emu.seed_demo()
        monkeypatch.setenv("OSS_ENDPOINT", emu.endpoint)  # the export worker inherits it
        for var in ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET"):
            monkeypatch.delenv(var, raising=False)
        yield emu


async def test_secrets_in_a_destination_url_never_come_back(
    jp_fetch, jp_root_dir, jp_serverapp, model, emulator, caplog
):
    # Given a destination URL carrying the bucket's credentials, and one with a wrong secret
    caplog.set_level(logging.DEBUG)
    wrong = "WRONG-SECRET-0123456789"
    code, good = await post(
        jp_fetch, {"source": model, "destination": f"oss://{AK}:{SK}@demo/models/m"}
    )
    assert code == 202, good
    code, bad = await post(
        jp_fetch, {"source": model, "destination": f"oss://{AK}:{wrong}@demo/models/n"}
    )
    assert code == 202, bad
    done = await wait_done(jp_fetch, good["id"])
    failed = await wait_done(jp_fetch, bad["id"])
    # Then the export with good credentials landed in the bucket, the other failed
    assert done["state"] == "done", done["error"]
    assert emulator.store.head("demo", "models/m/1/saved_model.pb").size > 0
    assert failed["state"] == "failed" and failed["error"]
    # and no response, log line, file under the root or job record shows a secret
    texts = [
        (await get(jp_fetch))[1],
        (await get(jp_fetch, good["id"]))[1],
        (await get(jp_fetch, bad["id"]))[1],
        caplog.text,
    ]
    # (the exports' job records and logs in the state dir included: they outlive the server;
    # only the 0600 credentials store may hold a secret, and this test adds none to it)
    state_dir = os.environ["JUPYTER_WORKBENCH_STATE_DIR"]
    assert os.listdir(os.path.join(state_dir, "jobs"))
    for dirpath, _dirs, names in [*os.walk(jp_root_dir), *os.walk(state_dir)]:
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as f:
                texts.append(f.read().decode("latin-1"))
    for text in texts:
        assert SK not in text and wrong not in text
    assert done["destination"] == "oss://demo/models/m"
    assert done["result"]["path"] == "oss://demo/models/m/1"
