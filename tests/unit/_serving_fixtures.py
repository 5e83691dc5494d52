"""Helpers for the serving tests: raw HTTP against a model server, and waiting for states."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request


def http(method: str, url: str, body=None, raw: bytes | None = None, timeout: float = 30):
    """``(status, decoded JSON)`` of one request (errors included)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def root_url(server) -> str:
    return f"http://{server.host}:{server.rest_port}"


def wait_for(predicate, timeout: float, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy; return it (fail after timeout)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last: {last!r})")


def states(server) -> dict[int, tuple[str, str]]:
    """``{version: (state, error_code)}`` from the REST status route."""
    _code, doc = http("GET", server.url)
    return {
        int(v["version"]): (v["state"], v["status"]["error_code"])
        for v in doc.get("model_version_status", [])
    }
