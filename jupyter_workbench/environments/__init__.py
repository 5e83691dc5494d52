"""The workbench's py3 and tf2 environments: definitions, provisioning, discovery, kernelspecs.

Public API (no Jupyter import until a kernelspec function/class is used)::

    list_environments(environments_dir=None) -> list[dict]
    environment_info(name, environments_dir=None) -> dict
    create_environment(name, environments_dir=None, progress=None, repair=True, *, gpu=None,
                       force=False) -> dict
    remove_environment(name, environments_dir=None) -> bool
    environment_python(name, environments_dir=None) -> str | None
    require_ready(name, environments_dir=None) -> dict
    install_kernelspecs(environments_dir=None, user=False, prefix=None, names=None) -> list[dict]
    default_environments_dir() -> Path          # $JUPYTER_WORKBENCH_ENVS_DIR or
                                                # <jupyter data dir>/workbench/envs
    WorkbenchKernelSpecManager, attach_to_server(serverapp, environments_dir)
    WorkbenchEnvError                           # every user-facing failure, clear message
"""

from __future__ import annotations

from .discovery import environment_info, environment_python, list_environments, require_ready
from .errors import WorkbenchEnvError
from .provision import create_environment, format_progress, remove_environment
from .spec import (
    ENVS_DIR_ENV,
    SPECS,
    default_environments_dir,
    environment_names,
    get_spec,
    gpu_visible,
    resolve_environments_dir,
)

__all__ = [
    "ENVS_DIR_ENV",
    "SPECS",
    "WorkbenchEnvError",
    "WorkbenchKernelSpecManager",
    "attach_to_server",
    "create_environment",
    "default_environments_dir",
    "environment_info",
    "environment_names",
    "environment_python",
    "format_progress",
    "get_spec",
    "gpu_visible",
    "install_kernelspecs",
    "list_environments",
    "remove_environment",
    "require_ready",
    "resolve_environments_dir",
]

_LAZY = {
    "WorkbenchKernelSpecManager": "kernelspecs",
    "attach_to_server": "kernelspecs",
    "install_kernelspecs": "kernelspecs",
}


def __getattr__(name: str):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{mod}"), name)
