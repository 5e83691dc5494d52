"""Kernelspec templates (``kernels/<name>/kernel.json``) and their rendering. No Jupyter imports.

The templates are found in the source tree (``<repo>/kernels`` next to the package) and, for an
installed wheel, in ``<prefix>/share/jupyter/workbench/kernels`` (the wheel's shared-data) or any
other Jupyter data directory (``--user`` installs).

Placeholders (replaced in every string of the template): ``{python}`` (the environment's
interpreter), ``{env_dir}``, ``{env_bin}``, ``{env_name}``, ``{kernel_name}``. Everything else is
left alone, in particular jupyter_client's ``{connection_file}`` and ``${PATH}``-style references
to the server's environment in ``env``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from ..atomic import write_atomic
from . import _paths
from .errors import WorkbenchEnvError

TEMPLATES_ENV = "JUPYTER_WORKBENCH_KERNEL_TEMPLATES"


def template_roots() -> list[Path]:
    """Candidate directories holding ``<name>/kernel.json``, best first (existing ones only)."""
    cands: list[Path] = []
    override = os.environ.get(TEMPLATES_ENV)
    if override:
        cands.append(Path(override))
    # Source tree / editable install: <repo>/jupyter_workbench/environments/templates.py
    cands.append(Path(__file__).resolve().parents[2] / "kernels")
    cands.append(Path(sys.prefix) / "share" / "jupyter" / "workbench" / "kernels")
    try:
        from jupyter_core.paths import jupyter_path

        cands.extend(Path(p) for p in jupyter_path("workbench", "kernels"))
    except Exception:  # pragma: no cover - jupyter_core is a dependency
        pass
    out: list[Path] = []
    for c in cands:
        if c.is_dir() and c not in out:
            out.append(c)
    return out


def find_template(name: str) -> Path:
    for root in template_roots():
        if (root / name / "kernel.json").is_file():
            return root / name
    raise WorkbenchEnvError(
        f"The kernelspec template for {name!r} was not found (looked for {name}/kernel.json in "
        "<repo>/kernels and <prefix>/share/jupyter/workbench/kernels): the installation is "
        "incomplete; reinstall jupyter-workbench.",
        environment=name,
        kind="templates-missing",
    )


_TEMPLATE_CACHE: dict[Path, tuple[float, dict]] = {}


def load_template(name: str) -> dict:
    path = find_template(name) / "kernel.json"
    mtime = path.stat().st_mtime
    hit = _TEMPLATE_CACHE.get(path)
    if hit and hit[0] == mtime:
        return json.loads(json.dumps(hit[1]))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WorkbenchEnvError(
            f"The kernelspec template {path} is unreadable: {exc}",
            environment=name,
            kind="templates-missing",
        ) from exc
    _TEMPLATE_CACHE[path] = (mtime, data)
    return json.loads(json.dumps(data))


def template_metadata(name: str) -> dict:
    """The template's ``metadata`` (``cull_idle_timeout`` ...); ``{}`` when it cannot be read."""
    try:
        return dict(load_template(name).get("metadata") or {})
    except WorkbenchEnvError:
        return {}


def _substitute(value, mapping: dict[str, str]):
    if isinstance(value, str):
        for key, rep in mapping.items():
            value = value.replace("{" + key + "}", rep)
        return value
    if isinstance(value, list):
        return [_substitute(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, mapping) for k, v in value.items()}
    return value


def render_kernelspec(name: str, env_dir: Path, kernel_name: str | None = None) -> dict:
    """The kernel.json dict for environment ``name`` living in ``env_dir``."""
    env_dir = Path(env_dir)
    mapping = {
        "python": str(_paths.python_path(env_dir)),
        "env_dir": str(env_dir),
        "env_bin": str(_paths.bin_dir(env_dir)),
        "env_name": name,
        "kernel_name": kernel_name or name,
    }
    spec = _substitute(load_template(name), mapping)
    meta = spec.setdefault("metadata", {})
    wb = meta.setdefault("workbench", {})
    wb.setdefault("environment", name)
    wb["env_dir"] = str(env_dir)
    return spec


def write_kernelspec(
    name: str, env_dir: Path, dest: Path | None = None, kernel_name: str | None = None
) -> Path:
    """Render into ``dest`` (default: inside the environment); copies logos etc. Returns ``dest``.

    Rewrites kernel.json only when its content changes (atomic replace).
    """
    env_dir = Path(env_dir)
    kernel_name = kernel_name or name
    dest = Path(dest) if dest is not None else _paths.kernelspec_dir(env_dir, kernel_name)
    dest.mkdir(parents=True, exist_ok=True)
    src = find_template(name)
    for item in src.iterdir():
        if item.name == "kernel.json" or item.name.startswith("."):
            continue
        target = dest / item.name
        if item.is_file() and (not target.exists() or target.stat().st_size != item.stat().st_size):
            shutil.copyfile(item, target)
    text = json.dumps(render_kernelspec(name, env_dir, kernel_name), indent=1) + "\n"
    kj = dest / "kernel.json"
    try:
        if kj.read_text(encoding="utf-8") == text:
            return dest
    except OSError:
        pass
    write_atomic(kj, text)
    return dest
