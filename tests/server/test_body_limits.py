"""Request bodies above ``c.Workbench.max_body_size`` are refused as soon as their headers
arrive (413 with a message), without the server reading them."""

from __future__ import annotations

import asyncio
import json
import time

import pytest


@pytest.fixture
def jp_server_config(jp_server_config):
    config = dict(jp_server_config)
    config["Workbench"] = {**config.get("Workbench", {}), "max_body_size": 64 * 1024}
    return config


async def _raw_request(port, path, headers, body_parts=(), read_timeout=10):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}\r\n".encode())
    for part in body_parts:
        writer.write(part)
    await writer.drain()
    try:
        raw = await asyncio.wait_for(reader.read(65536), read_timeout)
    finally:
        writer.close()
    status = int(raw.split(b" ", 2)[1])
    body = raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""
    return status, body


async def test_a_50_mb_body_is_refused_at_once(jp_fetch, jp_http_port, jp_base_url, jp_auth_header):
    # Given a client announcing a 50 MB body to the exports endpoint (and sending none of it)
    headers = {**jp_auth_header, "Content-Type": "application/json", "Content-Length": "50000000"}
    started = time.monotonic()
    # When its headers arrive
    status, body = await _raw_request(jp_http_port, f"{jp_base_url}workbench/api/exports", headers)
    elapsed = time.monotonic() - started
    # Then the answer is a 413 naming the limit, within a second
    assert status == 413, body
    assert "64" in json.loads(body)["message"] or "65536" in json.loads(body)["message"]
    assert elapsed < 1.0


async def test_a_chunked_body_over_the_limit_is_cut_off(
    jp_fetch, jp_http_port, jp_base_url, jp_auth_header
):
    # Given a chunked body that grows past the limit
    headers = {**jp_auth_header, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    chunk = b"x" * 32768
    parts = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 4
    # When sent / Then the server stops reading it with an error instead of a 202 or a 500
    try:
        status, _ = await _raw_request(
            jp_http_port, f"{jp_base_url}workbench/api/mounts", headers, parts
        )
    except (ConnectionError, IndexError):
        status = None  # tornado may close the connection instead of answering
    assert status in (None, 400, 413)


async def test_small_bodies_still_work(jp_fetch):
    r = await jp_fetch(
        "workbench", "api", "exports", method="POST", body=json.dumps({"x": 1}), raise_error=False
    )
    assert r.code == 400 and "x" in json.loads(r.body)["message"]
