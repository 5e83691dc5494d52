"""Listing environments: cheap (stat calls and the ready marker; never imports TensorFlow).

An environment is *ready* when its marker (``.workbench-ready.json``, written only after a
successful install and verification) is present, its interpreter exists and the workbench
package link resolves. Anything else is reported with a ``state`` and a ``message`` saying how to
fix it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import _paths
from ._lock import is_locked
from .errors import WorkbenchEnvError
from .overlay import is_shared, overlay_dir, personal_packages
from .spec import MARKER_NAME, SPECS, get_spec, gpu_visible, resolve_environments_dir
from .templates import template_metadata


def read_marker(env_dir: Path) -> dict | None:
    """The parsed ready marker, or None when it is absent or unreadable."""
    try:
        data = json.loads((Path(env_dir) / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _python_version_from_cfg(env_dir: Path) -> str | None:
    cfg = _paths.pyvenv_cfg(env_dir)
    return cfg.get("version_info") or cfg.get("version")


def _unreachable(path: Path) -> bool:
    """True when ``path`` (or what it links to) cannot be reached for lack of permission."""
    try:
        os.stat(path)
    except PermissionError:
        return True
    except OSError:
        return False
    return False


def _create_hint(name: str, what: str = "create", shared: bool = False) -> str:
    if shared:
        return (
            f"the environments directory is shared and read-only for you: ask the "
            f"administrator to {what} it (`jupyter workbench env create {name}`)"
        )
    return f"run `jupyter workbench env create {name}` to {what} it"


def environment_info(name: str, environments_dir=None) -> dict:
    """One environment's entry (see :func:`list_environments`)."""
    spec = get_spec(name)
    root = resolve_environments_dir(environments_dir)
    env_dir = root / name
    py = _paths.python_path(env_dir)
    meta = template_metadata(name)
    visible = gpu_visible()
    shared = is_shared(env_dir)
    info: dict = {
        "name": name,
        "display_name": spec.display_name,
        "description": spec.description,
        "kernel_name": spec.kernel_name,
        "path": str(env_dir),
        "python": None,
        "python_executable": None,
        "packages": {},
        "gpu": None,
        "gpu_build": None,
        "gpu_visible": visible,
        "ready": False,
        "state": "missing",
        "message": "",
        "outdated": False,
        "created_at": None,
        "cull_idle_timeout": meta.get("cull_idle_timeout"),
        "shared": shared,
        "overlay": None,
        "personal_packages": {},
    }
    creating = is_locked(_paths.lock_path(root, name))
    if not env_dir.is_dir():
        info["state"] = "creating" if creating else "missing"
        info["message"] = (
            f"{name} is being created"
            if creating
            else f"{name} is not created yet: {_create_hint(name, shared=shared)}."
        )
        return info
    marker = read_marker(env_dir)
    python_ok = py.exists()  # follows the symlink: False when the base interpreter is gone
    link_ok = (_paths.link_dir(env_dir) / "jupyter_workbench" / "__init__.py").exists()
    info["python"] = (marker or {}).get("python") or _python_version_from_cfg(env_dir)
    info["python_executable"] = str(py) if python_ok else None
    if marker is None:
        info["state"] = "creating" if creating else "incomplete"
        info["message"] = (
            f"{name} is being created or repaired"
            if creating
            else f"{name} is not ready (its creation did not finish): "
            f"{_create_hint(name, 'repair', shared)}."
        )
        return info
    info["packages"] = dict(marker.get("packages") or {})
    info["created_at"] = marker.get("created_at")
    if spec.gpu_aware:
        gpu_build = bool(marker.get("gpu_build"))
        info["gpu_build"] = gpu_build
        info["gpu"] = gpu_build and visible
    if not python_ok and _unreachable(py):
        info["state"] = "broken"
        info["message"] = (
            f"{name}'s interpreter {py} exists but this user may not run it (a directory on "
            "its path is not accessible): a shared environment must be created from a Python "
            "every user can run (e.g. /usr/bin/python3 or /opt/..., not one under /root)."
        )
        return info
    if not python_ok:
        info["state"] = "broken"
        info["message"] = (
            f"{name}'s interpreter {py} is missing (was the Python it was created from "
            f"removed?): {_create_hint(name, 'rebuild', shared)}."
        )
        return info
    if not link_ok:
        info["state"] = "broken"
        info["message"] = (
            f"{name} cannot import jupyter_workbench (the link to the workbench package is "
            f"broken, was the workbench moved?): {_create_hint(name, 'repair', shared)}."
        )
        return info
    info["ready"] = True
    info["state"] = "ready"
    if shared:  # read-only for this user: their %pip installs go to an overlay
        info["overlay"] = str(overlay_dir(name))
        info["personal_packages"] = personal_packages(name)
    expected = spec.fingerprint(visible)
    if marker.get("fingerprint") != expected:
        info["outdated"] = True
        info["message"] = (
            f"{name} is ready but was built from an older definition (or for a different "
            f"GPU visibility): {_create_hint(name, 'update', shared)}."
        )
    else:
        info["message"] = f"{name} is ready."
    return info


def list_environments(environments_dir=None) -> list[dict]:
    """Every workbench environment (py3, tf2), created or not, in a stable order.

    Each entry: ``name, display_name, description, kernel_name, path, python (version),
    python_executable, packages {dist: version}, gpu (tf2: GPU build and a GPU visible; None for
    py3), gpu_build, gpu_visible, ready, state (ready|missing|incomplete|broken|creating),
    message, outdated, created_at, cull_idle_timeout, shared (read-only for this user: kernels
    run from a personal overlay, see ``overlay``), overlay (its directory or None),
    personal_packages {dist: version} (what this user installed into the overlay)``.
    """
    return [environment_info(name, environments_dir) for name in SPECS]


def environment_python(name: str, environments_dir=None) -> str | None:
    """The ready environment's interpreter path, None when it is not ready.

    Unknown names raise :class:`WorkbenchEnvError`.
    """
    info = environment_info(name, environments_dir)
    return info["python_executable"] if info["ready"] else None


def require_ready(name: str, environments_dir=None) -> dict:
    """The info of a ready environment, else a :class:`WorkbenchEnvError` saying how to fix it."""
    info = environment_info(name, environments_dir)
    if not info["ready"]:
        raise WorkbenchEnvError(info["message"], environment=name, kind="not-ready")
    return info


def tensorflow_python(environments_dir=None) -> str | None:
    """An interpreter that has TensorFlow, for work the server runs in a child process (exports,
    model servers): the ready tf2 environment's, else this Python's when it has TensorFlow, else
    None. Never imports TensorFlow."""
    import importlib.util
    import sys

    try:
        tf2 = environment_python("tf2", environments_dir)
    except Exception:  # noqa: BLE001 - environments not provisioned
        tf2 = None
    if tf2:
        return str(tf2)
    if importlib.util.find_spec("tensorflow") is not None:
        return sys.executable
    return None


def environment_for_kernel(kernel_name: str) -> str | None:
    """The environment a kernelspec name belongs to (None for other kernels)."""
    for spec in SPECS.values():
        if spec.kernel_name == kernel_name:
            return spec.name
    return None
