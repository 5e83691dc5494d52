"""``python -m jupyter_workbench.export.worker``: one export in a subprocess, JSON in and out.

The server's REST API runs this with the interpreter that has TensorFlow (the ``tf2``
environment), so the server process itself never imports TensorFlow.

stdin: one JSON object ::

    {"source": "/path/model.keras", "destination": "oss://bucket/models/mnist",
     "version": null, "signature_name": "serving_default", "inputs": null, "outputs": null,
     "checkpoint": null, "overwrite": false, "verify": true, "weights_dtype": null,
     "max_size": null}

(optional: ``"signatures"``, and ``"storage_options"`` for the destination's fsspec filesystem;
``"action": "inspect"`` with ``"path"`` describes a SavedModel instead.)

stdout: JSON lines ::

    {"event": "progress", "fraction": 0.2, "message": "writing SavedModel"}
    ...
    {"event": "done", "result": {...ExportResult.to_dict()...}}      exit code 0
    {"event": "error", "message": "..."}                              exit code 1

Anything else the libraries print goes to stderr, so stdout carries only the protocol.
"""

from __future__ import annotations

import json
import os
import sys
import time

REQUEST_KEYS = {
    "source",
    "destination",
    "version",
    "signature_name",
    "inputs",
    "outputs",
    "checkpoint",
    "overwrite",
    "verify",
    "weights_dtype",
    "max_size",
    "signatures",
    "storage_options",
    "warmup",
}


class _Protocol:
    """Writes JSON lines to the real stdout; fd 1 is pointed at stderr meanwhile so that
    prints from TensorFlow or Keras cannot corrupt the stream."""

    def __init__(self):
        sys.stdout.flush()
        self._out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        self._last = (-1.0, None, 0.0)

    def send(self, event: dict) -> None:
        self._out.write(json.dumps(event) + "\n")
        self._out.flush()

    def progress(self, fraction: float, message: str) -> None:
        last_fraction, last_message, last_time = self._last
        now = time.monotonic()
        if message == last_message and fraction - last_fraction < 0.01 and now - last_time < 1:
            return  # throttle byte-level upload updates
        self._last = (fraction, message, now)
        self.send({"event": "progress", "fraction": round(fraction, 4), "message": message})


def handle(request: dict, protocol: _Protocol) -> dict:
    from . import ExportError, export_savedmodel, inspect_savedmodel

    if not isinstance(request, dict):
        raise ExportError("the request must be a JSON object.")
    action = request.pop("action", "export")
    if action == "inspect":
        if "path" not in request:
            raise ExportError("an inspect request needs 'path'.")
        info = inspect_savedmodel(request["path"], storage_options=request.get("storage_options"))
        return dict(info, text=str(info))
    if action != "export":
        raise ExportError(f"unknown action {action!r}: use 'export' or 'inspect'.")
    unknown = set(request) - REQUEST_KEYS
    if unknown:
        raise ExportError(f"unknown request keys {sorted(unknown)}: use {sorted(REQUEST_KEYS)}.")
    for key in ("source", "destination"):
        if not isinstance(request.get(key), str) or not request[key]:
            raise ExportError(f"the request needs '{key}' (a path or URL string).")
    kwargs = {k: v for k, v in request.items() if k not in ("source", "destination")}
    if kwargs.get("signature_name") is None:
        kwargs.pop("signature_name", None)
    for key in ("overwrite", "verify"):
        if key in kwargs and kwargs[key] is None:
            kwargs.pop(key)
    result = export_savedmodel(
        request["source"], request["destination"], progress=protocol.progress, **kwargs
    )
    return result.to_dict()


def _secrets(request) -> list[str]:
    """What the request carries that no message may show (storage options, URL userinfo)."""
    from ..redact import url_secrets

    if not isinstance(request, dict):
        return []
    options = request.get("storage_options") or {}
    found = [v for v in options.values() if isinstance(v, str)] if isinstance(options, dict) else []
    return found + url_secrets(request.get("destination") or "")


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    protocol = _Protocol()
    try:
        request = json.loads(sys.stdin.read() or "null")
    except json.JSONDecodeError as err:
        protocol.send({"event": "error", "message": f"the request is not JSON: {err}"})
        return 1
    from ..redact import scrub
    from .errors import ExportError

    secrets = _secrets(request)
    try:
        result = handle(request, protocol)
    except ExportError as err:
        protocol.send({"event": "error", "message": scrub(str(err), secrets)})
        return 1
    except Exception as err:  # an unexpected failure: the message, and the traceback on stderr
        import traceback

        sys.stderr.write(scrub(traceback.format_exc(), secrets))
        message = f"internal error: {type(err).__name__}: {err}"
        protocol.send({"event": "error", "message": scrub(message, secrets)})
        return 1
    protocol.send({"event": "done", "result": scrub(result, secrets)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
