"""``ServingService``: the model servers a Jupyter server started from the sidebar.

One per Jupyter server (``settings["workbench_serving"]``; ``api.serving`` is its REST face).
Each model server is a child process (:mod:`.launcher`) on 127.0.0.1 with ports of its own
choosing; ``fetch`` passes a request to its REST API, so the browser only talks to the Jupyter
server. ``stop_all`` runs at shutdown. Errors are ``ServingError`` and its kinds (status 400,
404, 409, 502 in the ``jupyter_workbench.errors`` protocol).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time

from tornado import httpclient

from ..confine import OutsideRootError, confine
from .errors import (
    ServingConflictError,
    ServingError,
    ServingNotFoundError,
    ServingUnavailableError,
)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _example_value(dtype: str, shape) -> object:
    """A JSON value of ``shape`` (without the batch dimension) for an input of ``dtype``."""
    if dtype == "DT_STRING":
        leaf = ""
    elif dtype == "DT_BOOL":
        leaf = False
    elif dtype in ("DT_FLOAT", "DT_DOUBLE", "DT_HALF", "DT_BFLOAT16"):
        leaf = 0.0
    else:
        leaf = 0
    value = leaf
    for size in reversed(shape):
        value = [value] * (size if size > 0 else 1)
    return value


def describe_signatures(metadata: dict) -> dict:
    """``{signature: {method, inputs, outputs, example}}`` from a TF Serving metadata answer;
    ``example`` is a request body for that signature (row format for predict, tf.Example
    features for classify/regress)."""
    sigs = (metadata.get("metadata") or {}).get("signature_def", {}).get("signature_def", {})
    out = {}
    for name, sig in sorted(sigs.items()):
        if name == "__saved_model_init_op":
            continue

        def tensors(kind, sig=sig):
            result = {}
            for key, info in (sig.get(kind) or {}).items():
                shape = info.get("tensor_shape") or {}
                dims = (
                    None
                    if shape.get("unknown_rank")
                    else [int(d.get("size", -1)) for d in shape.get("dim", [])]
                )
                result[key] = {"dtype": info.get("dtype", ""), "shape": dims}
            return result

        inputs, outputs = tensors("inputs"), tensors("outputs")
        method = sig.get("method_name", "")
        if method.endswith(("/classify", "/regress")):
            example = {"signature_name": name, "examples": [{"feature": 0.0}]}
        else:
            row = {
                key: _example_value(info["dtype"], (info["shape"] or [-1])[1:])
                for key, info in inputs.items()
            }
            instance = next(iter(row.values())) if len(row) == 1 else row
            example = {"signature_name": name, "instances": [instance]}
        out[name] = {"method": method, "inputs": inputs, "outputs": outputs, "example": example}
    return out


class ServingService:
    """The model servers of this Jupyter server (built once by the extension, stopped with it)."""

    def __init__(self, root_dir: str, *, python: str | None = None, environments_dir=None):
        self.root_dir = root_dir
        self.python = python or None
        self.environments_dir = environments_dir
        self.servers: dict[str, dict] = {}  # name -> {"server", "base", "started_at", ...}
        self._starting: set[str] = set()

    def _base(self, base: str) -> str:
        """The model base confined as every REST path is (``confine``): under the server root, a
        mount, or an allowed object-store URL; never ``file:///elsewhere`` or ``memory://``."""
        try:
            return confine(base, root=self.root_dir, what="model base")
        except OutsideRootError as e:  # the serving API answers a bad base with 400
            raise ServingError(str(e)) from None

    async def start(
        self,
        base: str,
        model_name: str | None = None,
        poll: float = 2.0,
        version_policy: str = "latest",
        labels=(),
    ) -> dict:
        """Start a model server for ``base`` and return once it serves (``ServingError`` 400
        if it cannot, ``ServingConflictError`` if one of that name runs)."""
        from .launcher import spawn_server
        from .options import default_model_name, parse_labels, parse_version_policy

        name = model_name or default_model_name(base)
        policy, labels = version_policy, list(labels)
        if not _NAME_RE.match(name):
            raise ServingError(
                f"model_name {name!r}: use letters, digits, '.', '_' or '-' (up to 64)."
            )
        if isinstance(poll, bool) or not 0 < poll <= 3600:
            raise ServingError("poll must be between 0 and 3600 seconds.")
        parse_version_policy(policy)
        parse_labels(labels)
        running = self.servers.get(name)
        if name in self._starting or (running and running["server"].running):
            raise ServingConflictError(f"a model server named {name!r} is already running.")
        path = self._base(base)
        self._starting.add(name)
        try:
            # spawned from the event-loop thread (it lives as long as the server), waited on
            # in a worker thread
            pending = spawn_server(
                path,
                model_name=name,
                poll=float(poll),
                version_policy=policy,
                labels=labels,
                python=self.python,
                environments_dir=self.environments_dir,
                env=dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="2"),
            )
            loop = asyncio.get_running_loop()
            server = await loop.run_in_executor(None, pending.wait)
        except ServingError as err:
            raise ServingError(str(err).replace(path, base)) from None
        finally:
            self._starting.discard(name)
        self.servers[name] = {"server": server, "base": base, "started_at": time.time()}
        return self.info(name)

    def get(self, name: str) -> dict:
        entry = self.servers.get(name)
        if entry is None:
            raise ServingNotFoundError(f"No model server named {name!r}.")
        return entry

    def info(self, name: str) -> dict:
        entry = self.get(name)
        server = entry["server"]
        running = server.running
        if not running:
            from .launcher import remove_cache_of

            remove_cache_of(server.pid)
        return {
            "name": name,
            "base": entry["base"],
            "state": "running" if running else "exited",
            "exit_code": None if running else server.proc.returncode,
            "pid": server.pid,
            "started_at": entry["started_at"],
            "api": f"workbench/api/serving/{name}/v1/models/{name}",
            "log": None if running else server.log()[-2000:],
        }

    async def fetch(self, name: str, path: str, method: str = "GET", body: bytes | None = None):
        server = self.get(name)["server"]
        if not server.running:
            raise ServingConflictError(f"the model server {name!r} has exited.")
        client = httpclient.AsyncHTTPClient()
        request = httpclient.HTTPRequest(
            f"http://{server.host}:{server.rest_port}/{path}",
            method=method,
            body=body if method == "POST" else None,
            headers={"Content-Type": "application/json"},
            request_timeout=300,
        )
        try:
            return await client.fetch(request, raise_error=False)
        except OSError as err:
            raise ServingUnavailableError(
                f"the model server {name!r} did not answer: {err}"
            ) from None

    async def details(self, name: str) -> dict:
        info = self.info(name)
        if info["state"] == "running":
            status = await self.fetch(name, f"v1/models/{name}")
            metadata = await self.fetch(name, f"v1/models/{name}/metadata")
            info["model_version_status"] = json.loads(status.body).get("model_version_status", [])
            meta = json.loads(metadata.body) if metadata.code == 200 else {}
            info["signatures"] = describe_signatures(meta)
        return info

    def stop(self, name: str) -> dict:
        entry = self.get(name)
        entry["server"].stop()
        info = self.info(name)
        del self.servers[name]
        return info

    def stop_all(self) -> None:
        for entry in list(self.servers.values()):
            entry["server"].stop(timeout=5)
        self.servers.clear()
