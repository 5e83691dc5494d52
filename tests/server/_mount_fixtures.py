"""Fixtures for the mounts API and the contents bridge (imported by the test modules).

A jupyter server with the workbench contents manager, a fresh state directory, an OSS emulator
on 127.0.0.1 (V1 signatures checked) and helpers to call the REST APIs.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from _storage_fixtures import (  # noqa: E402
    AK,
    SK,
    free_port,
    oss,
    oss_options,
    silent_server,
    state_dir,
)

__all__ = [
    "AK",
    "SK",
    "api",
    "contents",
    "free_port",
    "jp_server_config",
    "mount_oss",
    "nas_root",
    "oss",
    "oss_options",
    "server_config",
    "silent_server",
    "state_dir",
]

PAGE_SIZE = 50


@pytest.fixture
def nas_root(tmp_path):
    """A directory standing in for an already-mounted NAS share (an allowed local root)."""
    path = tmp_path / "nas"
    (path / "share").mkdir(parents=True)
    return path


def server_config(nas_root, **workbench) -> dict:
    """A server with the workbench's contents manager, FUSE off, ``c.Workbench`` traits."""
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_workbench": True},
            "contents_manager_class": "jupyter_workbench.contents.WorkbenchContentsManager",
        },
        "Workbench": {"allowed_local_roots": [str(nas_root)], "fuse_mounts": False, **workbench},
    }


@pytest.fixture
def jp_server_config(state_dir, nas_root):
    return server_config(nas_root, listing_page_size=PAGE_SIZE)


async def api(jp_fetch, *parts, method="GET", body=None, raw=None, params=None):
    """(status, JSON reply) of ``workbench/api/mounts/...``; never raises for 4xx/5xx."""
    kwargs = {"method": method, "raise_error": False}
    if raw is not None:
        kwargs["body"] = raw
    elif body is not None:
        kwargs["body"] = json.dumps(body)
    elif method in ("POST", "PUT"):
        kwargs["body"] = "{}"
    r = await jp_fetch("workbench", "api", "mounts", *parts, params=params, **kwargs)
    return r.code, (json.loads(r.body) if r.body else None)


async def contents(jp_fetch, path, method="GET", body=None, params=None):
    """(status, JSON reply) of ``api/contents/<path>``; never raises for 4xx/5xx."""
    kwargs = {"method": method, "raise_error": False}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    elif method in ("POST", "PUT", "PATCH"):
        kwargs["body"] = "{}"
    parts = [p for p in path.split("/") if p]
    r = await jp_fetch("api", "contents", *parts, params=params, **kwargs)
    return r.code, _json_or_text(r.body)


def _json_or_text(body: bytes):
    # jupyter_server answers a GET of a missing path with a plain-text 404 body.
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return {"message": body.decode(errors="replace")}


async def mount_oss(jp_fetch, emulator, name="data", url="oss://demo", **extra):
    options = oss_options(emulator)
    options.update(extra.pop("options", {}))
    code, reply = await api(
        jp_fetch, method="POST", body={"name": name, "url": url, "options": options, **extra}
    )
    assert code == 201, reply
    return reply


def text_model(text: str) -> dict:
    return {"type": "file", "format": "text", "content": text}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
