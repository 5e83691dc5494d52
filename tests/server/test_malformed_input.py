"""Malformed input to every workbench handler is a 400 with a message, never a 500.

Real server (``jp_fetch``), real OSS emulator behind a mount; the bodies are what a buggy or
hostile client sends: JSON nested 10,000 deep, paths of 5,000 characters, a file asked for as a
folder, notebooks that are not notebooks.
"""

from __future__ import annotations

import json

import pytest
from _mount_fixtures import (
    api,
    contents,
    jp_server_config,
    mount_oss,
    nas_root,
    oss,
    state_dir,
    text_model,
)

__all__ = ["jp_server_config", "nas_root", "oss", "state_dir"]

DEEP = "[" * 10_000 + "]" * 10_000
LONG = "a" * 5_000
LONG_PATH = "/".join(["d" * 200] * 25)  # 5,024 characters in 25 segments


async def call(jp_fetch, *parts, method="GET", raw=None, params=None):
    """(status, JSON reply) of ``workbench/api/...``; never raises for 4xx/5xx."""
    kwargs = {"method": method, "raise_error": False}
    if raw is not None:
        kwargs["body"] = raw
    elif method in ("POST", "PUT", "PATCH"):
        kwargs["body"] = "{}"
    r = await jp_fetch("workbench", "api", *parts, params=params, **kwargs)
    try:
        return r.code, json.loads(r.body) if r.body else None
    except ValueError:
        return r.code, {"message": r.body.decode(errors="replace")}


def assert_400(code, reply, *words):
    assert code == 400, (code, reply)
    message = reply["message"]
    assert message and "Traceback" not in message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize(
    ("resource", "raw", "words"),
    [
        ("mounts", DEEP, ["JSON"]),
        ("jobs", DEEP, ["JSON"]),
        ("exports", DEEP, ["JSON"]),
        ("serving", DEEP, ["JSON"]),
        ("mounts", b"\xff\xfe{", ["JSON"]),
        ("jobs", "[1, 2]", ["JSON object"]),
        ("mounts", json.dumps({"name": LONG, "url": "oss://demo"}), []),
        ("mounts", json.dumps({"name": "x", "url": "oss://" + LONG}), []),
        ("mounts", json.dumps({"name": "x", "url": 5}), ["url"]),
        ("jobs", json.dumps({"path": LONG}), []),
        ("jobs", json.dumps({"path": LONG_PATH}), []),
        ("jobs", json.dumps({"path": "x.py", "environment": LONG}), []),
        ("exports", json.dumps({"source": "a\x00b", "destination": "m"}), ["source"]),
        ("exports", json.dumps({"source": "m.keras", "destination": "m", "version": 1e400}), []),
    ],
)
async def test_bad_bodies_are_400(jp_fetch, jp_root_dir, resource, raw, words):
    (jp_root_dir / "x.py").write_text("print(1)\n")
    (jp_root_dir / "m.keras").write_text("not really a model")
    code, reply = await call(jp_fetch, resource, method="POST", raw=raw)
    assert_400(code, reply, *words)


@pytest.mark.parametrize(
    ("parts", "params"),
    [
        (["jobs", "x", "log"], {"bytes": "many"}),
        (["mounts", "data", "listing"], {"limit": "ten"}),
        (["mounts", "data", "listing"], {"path": "../etc"}),
        (["mounts", "data", "listing"], {"path": "README.txt"}),
        (["mounts", "data", "listing"], {"path": LONG_PATH}),
        (["mounts", LONG], None),
        (["environments", LONG], None),
    ],
)
async def test_bad_queries_and_names_are_4xx_never_500(jp_fetch, oss, parts, params):
    oss.put_object("demo", "README.txt", b"hello")
    await mount_oss(jp_fetch, oss)
    code, reply = await call(jp_fetch, *parts, params=params)
    assert code in (400, 404), (code, reply)
    assert reply["message"]


@pytest.mark.parametrize("source", [LONG, LONG_PATH])
async def test_export_sources_too_long_to_exist_are_not_found(jp_fetch, source):
    code, reply = await call(
        jp_fetch, "exports", method="POST", raw=json.dumps({"source": source, "destination": "m"})
    )
    assert code == 404 and "does not exist" in reply["message"]


async def test_long_job_ids_are_not_found(jp_fetch):
    for parts in (["jobs", LONG], ["jobs", LONG, "log"]):
        code, reply = await call(jp_fetch, *parts)
        assert code == 404 and "No job" in reply["message"]


async def test_a_file_on_a_mount_asked_for_as_a_folder_is_400(jp_fetch, oss):
    oss.put_object("demo", "notes/README.txt", b"hello")
    await mount_oss(jp_fetch, oss)
    code, reply = await contents(
        jp_fetch, "mnt/data/notes/README.txt", params={"type": "directory"}
    )
    assert_400(code, reply)
    code, reply = await contents(
        jp_fetch, "mnt/data/notes/README.txt", params={"type": "directory", "content": "0"}
    )
    assert_400(code, reply, "not a directory")


@pytest.mark.parametrize(
    "model",
    [
        {"type": "notebook", "content": "not a notebook"},
        {"type": "notebook", "content": [1, 2, 3]},
        {"type": "notebook", "content": {"cells": 5}},
        {"type": "notebook", "content": {"nbformat": "four", "cells": [{"cell_type": 1}]}},
        {"type": "notebook", "content": json.loads("[" * 500 + "]" * 500)},
        {"type": "notebook"},
        {"type": "file", "format": "text", "content": 5},
        {"type": "file", "format": "base64", "content": "***"},
        {"type": "file", "format": "hex", "content": "00"},
        {"type": "file", "format": "text", "content": "x", "chunk": "one"},
        {"type": "file", "format": "text", "content": "x", "chunk": 3},
        {"type": 7, "content": "x"},
        {"format": "text", "content": "x"},
    ],
)
async def test_malformed_saves_into_a_mount_are_400_and_change_nothing(jp_fetch, oss, model):
    oss.put_object("demo", "nb/train.ipynb", b'{"old": true}')
    await mount_oss(jp_fetch, oss)
    code, reply = await contents(jp_fetch, "mnt/data/nb/train.ipynb", method="PUT", body=model)
    assert_400(code, reply)
    assert oss.get_object("demo", "nb/train.ipynb") == b'{"old": true}'


async def test_a_notebook_nested_too_deep_is_refused_before_it_is_parsed(jp_fetch, oss):
    oss.put_object("demo", "nb/deep.ipynb", b'{"old": true}')
    await mount_oss(jp_fetch, oss)
    deep = {"cells": [], "metadata": {"x": json.loads("[" * 150 + "]" * 150)}}
    body = {"type": "notebook", "content": {**deep, "nbformat": 4, "nbformat_minor": 5}}
    code, reply = await contents(jp_fetch, "mnt/data/nb/deep.ipynb", method="PUT", body=body)
    assert_400(code, reply, "nested more than 100 levels deep")
    assert oss.get_object("demo", "nb/deep.ipynb") == b'{"old": true}'


async def test_paths_too_long_for_a_nas_mount_are_400(jp_fetch, nas_root):
    code, _ = await api(
        jp_fetch, method="POST", body={"name": "nas", "url": f"file://{nas_root}/share"}
    )
    assert code == 201
    path = f"mnt/nas/{LONG_PATH}/f.txt"
    for method, body in (("GET", None), ("PUT", text_model("x")), ("DELETE", None)):
        code, reply = await contents(jp_fetch, path, method=method, body=body)
        assert_400(code, reply)
