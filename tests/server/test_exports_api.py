"""``workbench/api/exports``: server-side exports of model files under the root."""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest


async def call(jp_fetch, *parts, method="GET", body=None, raw=None):
    kwargs = {"method": method, "raise_error": False}
    if method == "POST":
        kwargs["body"] = raw if raw is not None else json.dumps(body or {})
    r = await jp_fetch("workbench", "api", "exports", *parts, **kwargs)
    return r.code, json.loads(r.body) if r.body else None


async def wait_done(jp_fetch, export_id, timeout=240):
    for _ in range(int(timeout / 0.25)):
        code, state = await call(jp_fetch, export_id)
        assert code == 200, state
        if state["state"] in ("done", "failed"):
            return state
        await asyncio.sleep(0.25)
    raise AssertionError(f"export {export_id} did not finish: {state}")


async def test_export_of_a_keras_file_publishes_versions_and_refuses_an_existing_one(
    jp_fetch, jp_root_dir, tiny_keras_file
):
    # Given a .keras file under the server root
    shutil.copy(tiny_keras_file, jp_root_dir / "tiny.keras")

    # When the frontend exports it twice
    code, started = await call(
        jp_fetch, method="POST", body={"source": "tiny.keras", "destination": "models/tiny"}
    )
    first = await wait_done(jp_fetch, started["id"])
    _, again = await call(
        jp_fetch,
        method="POST",
        body={"source": "tiny.keras", "destination": "models/tiny", "signature_name": "predict"},
    )
    second = await wait_done(jp_fetch, again["id"])

    # Then it was accepted (202), versions 1 and 2 are on disk, with the progress finished
    assert code == 202 and started["state"] == "queued"
    assert first["state"] == "done", first
    assert first["progress"] == 1.0
    assert first["result"]["version"] == 1
    assert first["result"]["max_abs_diff"] < 1e-5
    assert "features" in first["result"]["signatures"]["serving_default"]["inputs"]
    assert second["result"]["version"] == 2 and "predict" in second["result"]["signatures"]
    for v in (1, 2):
        assert (jp_root_dir / "models" / "tiny" / str(v) / "saved_model.pb").is_file()
    # and the list shows both
    code, listing = await call(jp_fetch)
    assert [e["state"] for e in listing] == ["done", "done"]

    # When version 1 is requested again without overwrite (in this test: each export that
    # loads the model is a TensorFlow worker, seconds of CPU)
    body = {"source": "tiny.keras", "destination": "models/tiny", "version": 1}
    v1_pb = (jp_root_dir / "models" / "tiny" / "1" / "saved_model.pb").read_bytes()
    _, started = await call(jp_fetch, method="POST", body=body)
    state = await wait_done(jp_fetch, started["id"])

    # Then the export fails, saying so and how to replace it, and version 1 is intact
    assert state["state"] == "failed"
    assert "overwrite" in state["error"].lower()
    assert "Traceback" not in state["error"]
    assert (jp_root_dir / "models" / "tiny" / "1" / "saved_model.pb").read_bytes() == v1_pb


async def test_a_file_that_is_not_a_model_fails_cleanly(jp_fetch, jp_root_dir):
    # Given a text file named like a model
    (jp_root_dir / "notes.keras").write_text("not a model")

    # When it is exported
    _, started = await call(
        jp_fetch, method="POST", body={"source": "notes.keras", "destination": "x"}
    )
    state = await wait_done(jp_fetch, started["id"])

    # Then the export fails with a message naming the file, and nothing is published
    assert state["state"] == "failed"
    assert "notes.keras" in state["error"] and "not a Keras 3 model file" in state["error"]
    assert not (jp_root_dir / "x" / "1").exists()


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"destination": "m"}, 400, "source"),
        ({"source": "missing.keras", "destination": "m"}, 404, "does not exist"),
        ({"source": "../etc/passwd", "destination": "m"}, 404, "outside the server root"),
        ({"source": "/etc/passwd", "destination": "m"}, 404, "outside the server root"),
        ({"source": "tiny.keras", "destination": "../../tmp/x"}, 404, "outside"),
        ({"source": "tiny.keras", "destination": "m", "version": "one"}, 400, "version"),
        ({"source": "tiny.keras", "destination": "m", "verison": 2}, 400, "verison"),
    ],
)
async def test_bad_requests_are_400_naming_the_problem(jp_fetch, jp_root_dir, body, status, words):
    # Given a model file
    (jp_root_dir / "tiny.keras").write_bytes(b"x")

    # When the request is wrong
    code, reply = await call(jp_fetch, method="POST", body=body)

    # Then it is refused with a message naming what was wrong
    assert code == status, reply
    assert words in reply["message"]


async def test_malformed_json_and_unknown_ids(jp_fetch):
    code, reply = await call(jp_fetch, method="POST", raw="{not json")
    assert code == 400 and "JSON" in reply["message"]
    code, reply = await call(jp_fetch, "nope")
    assert code == 404 and "nope" in reply["message"]
