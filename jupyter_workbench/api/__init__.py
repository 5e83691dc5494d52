"""REST handlers under ``<base_url>workbench/api/``: one module per resource, each thin.

Each resource module exposes ``handlers`` (a list of ``(relative pattern, class)``) and may
expose ``FEATURE`` (a name for the status handshake). The handlers only parse, call the core
objects the extension built (``settings["workbench_<capability>"]``) and reply.
"""

from __future__ import annotations

import importlib

# Resource modules, in registration order.
RESOURCES = ["status", "exports", "environments", "session", "jobs", "mounts", "serving"]


def _modules():
    for name in RESOURCES:
        yield importlib.import_module(f"{__name__}.{name}")


def collect_handlers() -> list[tuple]:
    handlers: list[tuple] = []
    for module in _modules():
        handlers.extend(module.handlers)
    return handlers


def available_features() -> dict[str, bool]:
    return {m.FEATURE: True for m in _modules() if getattr(m, "FEATURE", None)}
