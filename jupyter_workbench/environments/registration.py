"""Registering the environments' kernelspecs where every Jupyter client finds them.

The workbench server lists py3/tf2 through its own kernelspec manager, but ``jupyter kernelspec
list``, ``jupyter console --kernel tf2``, nbconvert, papermill and any other ``jupyter_client``
program only look in the standard kernels directories. So creating an environment also copies its
kernelspec there, like ``ipykernel install`` does:

* ``where="user"`` (the default): ``<jupyter data dir>/kernels/<kernel>`` (honours
  ``$JUPYTER_DATA_DIR``);
* ``where="sys-prefix"``: ``<sys.prefix>/share/jupyter/kernels`` of the interpreter running this;
* ``prefix=P``: ``P/share/jupyter/kernels``;
* ``where=None``: nothing is registered.

A registered copy is recognised by ``metadata.workbench.env_dir`` in its ``kernel.json`` (see
``templates.render_kernelspec``). Copies of an environment are removed when the environment is
removed and when a repair starts (so a half-built environment is never offered), and written again
once it is ready. A kernelspec of the same name that the workbench did not write (the user's own
``py3`` kernel, say) is never overwritten or removed.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from .templates import write_kernelspec

WHERE = ("user", "sys-prefix")


def kernels_dir(where: str | None = "user", prefix: str | None = None) -> Path:
    """The kernels directory for ``where``/``prefix`` (see the module docstring)."""
    if prefix:
        return Path(prefix).expanduser() / "share" / "jupyter" / "kernels"
    if where == "sys-prefix":
        return Path(sys.prefix) / "share" / "jupyter" / "kernels"
    if where == "user":
        from jupyter_core.paths import jupyter_data_dir

        return Path(jupyter_data_dir()) / "kernels"
    raise ValueError(f"unknown kernelspec location {where!r}: use one of {', '.join(WHERE)}")


def _workbench_env_dir(kernel_json: Path) -> str | None:
    """The environment a registered copy belongs to, or None for a foreign kernelspec."""
    try:
        spec = json.loads(kernel_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    wb = (spec.get("metadata") or {}).get("workbench") if isinstance(spec, dict) else None
    return wb.get("env_dir") if isinstance(wb, dict) else None


def is_registered_copy(resource_dir: str | Path) -> bool:
    """True for a kernelspec directory that the workbench registered (not one inside an env)."""
    return _workbench_env_dir(Path(resource_dir) / "kernel.json") is not None


def _search_dirs() -> list[Path]:
    from jupyter_core.paths import jupyter_path

    dirs = [Path(p) for p in jupyter_path("kernels")]
    sp = kernels_dir("sys-prefix")
    if sp not in dirs:
        dirs.append(sp)
    return dirs


def registered_copies(env_dir: str | Path) -> list[Path]:
    """Every registered kernelspec directory (on the Jupyter path) that points at ``env_dir``."""
    want = str(Path(env_dir))
    found = []
    for d in _search_dirs():
        for kj in sorted(d.glob("*/kernel.json")):
            if _workbench_env_dir(kj) == want:
                found.append(kj.parent)
    return found


def register_kernelspec(
    name: str,
    env_dir: str | Path,
    kernel_name: str,
    where: str | None = "user",
    prefix: str | None = None,
) -> Path | None:
    """Copy environment ``name``'s kernelspec into the standard directory; returns it (None when
    ``where`` is None and no prefix is given). Raises ``FileExistsError`` when a kernelspec of that
    name exists there and was not written by the workbench."""
    if where is None and not prefix:
        return None
    dest = kernels_dir(where, prefix) / kernel_name
    kj = dest / "kernel.json"
    if kj.exists() and _workbench_env_dir(kj) is None:
        raise FileExistsError(
            f"{dest} holds a kernelspec named {kernel_name!r} that the workbench did not write; "
            f"it is left as it is (remove it with `jupyter kernelspec remove {kernel_name}` to let "
            "the workbench register its own)"
        )
    return write_kernelspec(name, Path(env_dir), dest=dest, kernel_name=kernel_name)


def unregister_kernelspecs(env_dir: str | Path) -> list[Path]:
    """Remove the registered copies of ``env_dir``'s kernelspec that can be removed."""
    removed = []
    for d in registered_copies(env_dir):
        try:
            shutil.rmtree(d)
        except OSError:
            continue  # a read-only system directory: the admin's to clean
        removed.append(d)
    return removed
