"""Personal package overlays on top of a shared, read-only environment.

A team admin creates py3/tf2 once in a shared directory (``c.Workbench.environments_dir =
"/opt/workbench/envs"``, owned by the admin, not writable by users). Every user's kernels run
from it, and ``%pip install`` / ``!pip install`` in a kernel must neither fail nor touch the shared
environment. ``pip install --user`` (PYTHONUSERBASE) cannot do that: pip refuses ``--user`` inside
a virtual environment without system site-packages, and such a venv never puts the user site on
``sys.path``. So each user gets, per environment, a tiny virtual environment of their own (the
*overlay*, ``<jupyter data dir>/workbench/overlays/<env>``, in their home):

* ``pyvenv.cfg`` with the shared environment's base interpreter, ``bin/python`` pointing at it
  (no copy: a few files, created in milliseconds on the first kernel start);
* ``lib/pythonX.Y/site-packages/workbench-shared-env.pth`` adds the shared environment's
  site-packages AFTER the overlay's own (``site.addsitedir``, so the shared ``.pth`` files, the
  workbench link among them, still apply): the user's packages shadow the shared ones;
* ``bin/pip`` runs the shared pip as the overlay's interpreter.

pip run by the overlay's interpreter installs into the overlay (its ``sys.prefix``), sees the
shared packages as installed ("Requirement already satisfied") and never uninstalls them (pip
leaves distributions outside the running environment alone, "Not uninstalling ..., outside
environment"), so upgrading a shared package in a kernel installs the new version in the overlay
only. py3 and tf2 have separate overlays; deleting an overlay directory resets the user's
additions.

An environment is *shared* for the current user when its site-packages is not writable by them;
an environment the user owns (the single-user default) gets no overlay and ``%pip`` installs into
it as before. ``WORKBENCH_SHARED_ENV=1|0`` forces the answer (tests running as root, where every
directory is writable).
"""

from __future__ import annotations

import os
from pathlib import Path

from . import _paths

#: ``1``/``0`` forces "shared" on/off for every environment (default: site-packages writable?).
SHARED_ENV = "WORKBENCH_SHARED_ENV"
PTH_NAME = "workbench-shared-env.pth"


def is_shared(env_dir: str | os.PathLike) -> bool:
    """Whether the current user cannot install into ``env_dir`` (so kernels use an overlay)."""
    forced = os.environ.get(SHARED_ENV, "").strip().lower()
    if forced in ("1", "true", "yes", "on"):
        return True
    if forced in ("0", "false", "no", "off"):
        return False
    env_dir = Path(env_dir)
    # site-packages decides; before the environment exists, its directory or the root does
    for place in (_paths.site_packages(env_dir), env_dir, env_dir.parent):
        if place is not None and place.is_dir():
            return not os.access(place, os.W_OK)
    return False


def overlays_root() -> Path:
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "workbench" / "overlays"


def overlay_dir(name: str) -> Path:
    """The current user's overlay of environment ``name`` (it may not exist yet)."""
    return overlays_root() / name


def _site_packages_rel(env_dir: Path) -> Path:
    site = _paths.site_packages(env_dir)
    if site is None:
        raise FileNotFoundError(f"{env_dir} has no site-packages directory")
    return site.relative_to(env_dir)


def _write_if_changed(path: Path, text: str, mode: int | None = None) -> None:
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    if mode is not None:
        tmp.chmod(mode)
    os.replace(tmp, path)


def ensure_overlay(name: str, env_dir: str | os.PathLike) -> Path:
    """Create or refresh the current user's overlay of ``env_dir``; returns its directory.

    Idempotent and cheap (a few stat calls when nothing changed); safe to call on every kernel
    start. Re-points the overlay when the shared environment moved or was rebuilt.
    """
    env_dir = Path(env_dir)
    shared_site = _paths.site_packages(env_dir)
    if shared_site is None:
        raise FileNotFoundError(f"{env_dir} has no site-packages directory")
    cfg = _paths.pyvenv_cfg(env_dir)
    base = Path(os.path.realpath(_paths.python_path(env_dir)))
    home = cfg.get("home") or str(base.parent)
    ov = overlay_dir(name)
    site = ov / _site_packages_rel(env_dir)
    site.mkdir(parents=True, exist_ok=True)
    bin_dir = _paths.bin_dir(ov)
    bin_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"home = {home}", "include-system-site-packages = false"]
    if cfg.get("version_info") or cfg.get("version"):
        lines.append(f"version = {cfg.get('version_info') or cfg.get('version')}")
    lines.append(f"executable = {base}")
    lines.append(f"workbench-shared-env = {env_dir}")
    _write_if_changed(ov / "pyvenv.cfg", "\n".join(lines) + "\n")
    py = _paths.python_path(ov)
    if not py.is_symlink() or os.readlink(py) != str(base):
        tmp = py.with_name(f".python.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(base)
        os.replace(tmp, py)
    for alias in ("python3", site.parent.name):  # python3, python3.11
        link = bin_dir / alias
        if not link.is_symlink():
            link.symlink_to("python")
    _write_if_changed(site / PTH_NAME, f"import site; site.addsitedir({str(shared_site)!r})\n")
    script = (
        f"#!{py}\n"
        "# pip of the shared environment, run by this overlay: installs go here.\n"
        "import sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n"
    )
    for tool in ("pip", "pip3"):
        _write_if_changed(bin_dir / tool, script, mode=0o755)
    return ov


def personal_packages(name: str) -> dict[str, str]:
    """``{distribution: version}`` the current user installed into their overlay of ``name``
    (reads ``*.dist-info`` directory names only: no import, no subprocess)."""
    ov = overlay_dir(name)
    out: dict[str, str] = {}
    for dist_info in sorted(ov.glob("lib/python3*/site-packages/*.dist-info")):
        stem = dist_info.name[: -len(".dist-info")]
        dist, sep, version = stem.rpartition("-")
        if sep and dist:
            out[dist.replace("_", "-").lower()] = version
    return out


def overlay_kernel_env(name: str, env_dir: Path, ov: Path) -> dict[str, str]:
    """What a kernel's ``env`` changes to run from the overlay (PATH: overlay's bin first)."""
    return {
        "VIRTUAL_ENV": str(ov),
        "PATH": f"{_paths.bin_dir(ov)}{os.pathsep}{_paths.bin_dir(env_dir)}{os.pathsep}${{PATH}}",
        "JUPYTER_WORKBENCH_SHARED_ENV": str(env_dir),
    }


def apply_overlay(spec, name: str, env_dir: str | os.PathLike):
    """Point a kernelspec of shared environment ``name`` at the current user's overlay (in
    place; returns it). A spec of an environment the user can write to is returned unchanged."""
    env_dir = Path(env_dir)
    if not is_shared(env_dir):
        return spec
    ov = ensure_overlay(name, env_dir)
    shared_py = str(_paths.python_path(env_dir))
    spec.argv = [str(_paths.python_path(ov)) if a == shared_py else a for a in spec.argv]
    env = dict(spec.env or {})
    env.update(overlay_kernel_env(name, env_dir, ov))
    spec.env = env
    return spec


def user_python(name: str, env_dir: str | os.PathLike) -> str:
    """The interpreter the current user's work in ``name`` runs with: the overlay's for a shared
    environment, the environment's own otherwise."""
    env_dir = Path(env_dir)
    if is_shared(env_dir):
        return str(_paths.python_path(ensure_overlay(name, env_dir)))
    return str(_paths.python_path(env_dir))


__all__ = [
    "SHARED_ENV",
    "apply_overlay",
    "ensure_overlay",
    "is_shared",
    "overlay_dir",
    "personal_packages",
    "user_python",
]
