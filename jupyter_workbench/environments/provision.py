"""Creating and repairing the py3/tf2 virtual environments.

``create_environment`` is idempotent and resumable:

* a ready environment (marker present, same definition, interpreter and key packages there) is
  left alone (well under a second);
* otherwise the marker is removed FIRST, so a run killed at any point leaves an environment that
  lists as not ready; then a broken interpreter is rebuilt (``python -m venv``), the workbench
  package is linked, ``pip install`` brings in what is missing, every installed distribution is
  checked against its RECORD (a pip killed half-way leaves packages with missing files; those are
  reinstalled with ``--force-reinstall --no-deps``), the key modules are imported, the kernelspec
  is rendered and the marker is written last.

How the workbench package gets into an environment WITHOUT installing (and so re-building) the
repository: the environment gets the kernel-side dependencies by name from the index, and a
``jupyter_workbench_kernel_side.pth`` file in its site-packages adds
``<env>/share/jupyter-workbench/site`` to ``sys.path``; that directory holds only
``jupyter_workbench``, a symlink to the package directory of the installation running this code
(copied where symlinks are not possible). The kernel therefore runs the same workbench code as the
server, and none of the server's other packages leak in. ``create`` re-points the link when the
workbench moves.

Progress: ``progress(event)`` receives dicts ``{"environment", "stage", "kind": "step"|"output",
"message", "step", "steps", "elapsed_s"}``; pip's and venv's output lines come as ``kind:
"output"``. An exception raised by the callback stops pip (the environment is then reported as not
ready and the next create resumes).

Running the commands (venv, pip, the probe) and explaining pip's failures is
:mod:`.commands`; this module decides what to run.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..atomic import write_atomic
from . import _paths, commands
from ._lock import env_lock
from .commands import ProgressCallback, format_progress  # noqa: F401 - re-exported
from .discovery import environment_info, read_marker
from .errors import WorkbenchEnvError
from .registration import register_kernelspec, unregister_kernelspecs
from .spec import (
    MARKER_FORMAT,
    MARKER_NAME,
    EnvironmentSpec,
    get_spec,
    gpu_visible,
    resolve_environments_dir,
)
from .templates import find_template, write_kernelspec

PTH_NAME = "jupyter_workbench_kernel_side.pth"

# Rough disk needs of a fresh environment (checked before starting, with a margin).
_NEEDED_MB = {"py3": 400, "tf2": 2500, "tf2-gpu": 8000}


def workbench_package_dir() -> Path:
    """The ``jupyter_workbench`` package directory of the running installation."""
    return Path(__file__).resolve().parents[1]


def _ensure_link(env_dir: Path) -> Path:
    """Make ``jupyter_workbench`` importable in the environment (see the module docstring)."""
    pkg = workbench_package_dir()
    site = _paths.site_packages(env_dir)
    if site is None:
        raise WorkbenchEnvError(
            f"{env_dir} has no site-packages directory: the virtual environment is damaged.",
            environment=env_dir.name,
            kind="venv-failed",
        )
    ldir = _paths.link_dir(env_dir)
    ldir.mkdir(parents=True, exist_ok=True)
    link = ldir / "jupyter_workbench"
    current = None
    if link.is_symlink():
        current = os.readlink(link)
    if current != str(pkg):
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.is_dir():
            shutil.rmtree(link)
        try:
            link.symlink_to(pkg, target_is_directory=True)
        except OSError:  # no symlinks (some Windows setups): copy the pure-Python package
            shutil.copytree(pkg, link, ignore=shutil.ignore_patterns("__pycache__", "labextension"))
    pth = site / PTH_NAME
    want = str(ldir) + "\n"
    try:
        same = pth.read_text(encoding="utf-8") == want
    except OSError:
        same = False
    if not same:
        pth.write_text(want, encoding="utf-8")
    return pkg


def _write_marker(env_dir: Path, data: dict) -> None:
    write_atomic(env_dir / MARKER_NAME, json.dumps(data, indent=1, sort_keys=True) + "\n")


def _display_packages(found: dict[str, str]) -> dict[str, str]:
    out = dict(found)
    # One "tensorflow" entry whichever wheel (tensorflow-cpu / tensorflow) provides it.
    if "tensorflow-cpu" in out:
        out.setdefault("tensorflow", out["tensorflow-cpu"])
        del out["tensorflow-cpu"]
    return out


def _check_disk(root: Path, key: str, name: str) -> None:
    need = _NEEDED_MB.get(key)
    if not need:
        return
    try:
        free = shutil.disk_usage(root).free // (1024 * 1024)
    except OSError:
        return
    if free < need:
        raise WorkbenchEnvError(
            f"{name} needs about {need} MB of free disk space; {root} has {free} MB free. "
            "Free some space or set environments_dir (JUPYTER_WORKBENCH_ENVS_DIR) to a larger "
            "disk.",
            environment=name,
            kind="disk-full",
        )


def create_environment(
    name: str,
    environments_dir=None,
    progress: ProgressCallback | None = None,
    repair: bool = True,
    *,
    gpu: bool | None = None,
    force: bool = False,
    lock_wait_s: float = 3600.0,
    register: str | None = "user",
    register_prefix: str | None = None,
) -> dict:
    """Create (or repair, or update) environment ``name``; returns its info plus ``action``
    (``none|created|repaired|updated|rebuilt``) and ``duration_s``.

    ``gpu`` None: the GPU TensorFlow build (``tensorflow[and-cuda]``) where ``nvidia-smi -L``
    lists a GPU, ``tensorflow-cpu`` elsewhere. ``repair=False`` refuses to touch an existing
    environment that is not ready (and leaves an outdated one as it is). ``force`` deletes the
    environment and builds it from scratch (action ``rebuilt``).
    ``register`` (``"user"``, ``"sys-prefix"`` or None) and ``register_prefix``: where the ready
    environment's kernelspec is copied for every Jupyter client (see ``registration``); the
    result's ``registered`` lists those directories, ``register_message`` says why not.
    Raises :class:`WorkbenchEnvError` with a clear message on any failure.
    """
    spec = get_spec(name)
    root = resolve_environments_dir(environments_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkbenchEnvError(
            f"Cannot create the environments directory {root}: {exc.strerror or exc}.",
            environment=name,
            kind="venv-failed",
        ) from exc
    find_template(name)  # fail before any work when the installation lacks the templates
    use_gpu = bool(spec.gpu_aware and (gpu_visible() if gpu is None else gpu))
    plan = spec.plan(use_gpu)
    fingerprint = spec.fingerprint(use_gpu)
    env_dir = root / name
    steps = 7
    emit = commands.Emitter(name, progress, steps)
    t0 = time.monotonic()

    def waiting() -> None:
        emit.info(f"waiting for another process that is creating {name} ...")

    with env_lock(_paths.lock_path(root, name), name, lock_wait_s, waiting):
        emit.begin("check", f"checking {env_dir}")
        marker = read_marker(env_dir)
        if marker is not None and not force and marker.get("fingerprint") == fingerprint:
            probe = commands.probe(env_dir, spec)
            if (
                probe is not None
                and not probe["missing_modules"]
                and all(p in probe["packages"] for p in _required_dists(spec, use_gpu))
            ):
                _ensure_link(env_dir)
                write_kernelspec(name, env_dir, kernel_name=spec.kernel_name)
                registered = _register(name, env_dir, spec, register, register_prefix, emit)
                emit.info(f"{name} is ready; nothing to do")
                info = environment_info(name, root)
                info.update(registered)
                info.update(action="none", duration_s=round(time.monotonic() - t0, 2))
                return info
            emit.info(f"{name} has a ready marker but is damaged; repairing")
        existed = env_dir.exists()
        outdated = marker is not None and marker.get("fingerprint") != fingerprint
        if existed and not repair and not force and outdated:
            # Ready but built from an older definition: leave it alone (info says "outdated").
            info = environment_info(name, root)
            if info["ready"]:
                info.update(action="none", duration_s=round(time.monotonic() - t0, 2))
                return info
        if existed and not repair and not force:
            raise WorkbenchEnvError(
                f"{name} exists at {env_dir} but is not ready; run `jupyter workbench env "
                f"create {name}` (repair) to fix it.",
                environment=name,
                kind="not-ready",
            )
        if force and existed:
            action = "rebuilt"
        elif outdated:
            action = "updated"
        else:
            action = "repaired" if existed else "created"
        # From here on a kill leaves an environment that lists as not ready, and no Jupyter
        # client is offered its kernel until it is ready again.
        unregister_kernelspecs(env_dir)
        try:
            (env_dir / MARKER_NAME).unlink()
        except FileNotFoundError:
            pass
        if not existed:
            _check_disk(root, "tf2-gpu" if use_gpu else name, name)

        emit.begin("venv", f"virtual environment at {env_dir}")
        if force and existed:
            emit.info(f"removing {env_dir} to rebuild it from scratch")
            shutil.rmtree(env_dir)
        if not commands.interpreter_ok(env_dir):
            if env_dir.exists():
                emit.info("the interpreter is broken or half-created; rebuilding it")
                shutil.rmtree(env_dir)
            rc, lines = commands.run(
                [sys.executable, "-m", "venv", str(env_dir)], emit, commands.clean_env(None)
            )
            if rc != 0 or not commands.interpreter_ok(env_dir):
                raise WorkbenchEnvError(
                    f"Creating the virtual environment {env_dir} with {sys.executable} failed "
                    f"(exit {rc}): {(lines or [''])[-1][:300]}. On Debian/Ubuntu the python3-venv "
                    "package provides ensurepip.",
                    environment=name,
                    kind="venv-failed",
                    details="\n".join(lines[-40:]),
                )
        else:
            emit.info("interpreter ok")

        emit.begin("link", "making jupyter_workbench importable in the environment")
        pkg = _ensure_link(env_dir)
        emit.info(f"jupyter_workbench -> {pkg}")

        py = str(_paths.python_path(env_dir))
        penv = commands.clean_env(env_dir)
        pip = [py, "-m", "pip"]
        emit.begin("pip", "installing " + " ".join(plan["requirements"]))
        if plan["uninstall_first"]:
            present = _probe_dists(env_dir, plan["uninstall_first"])
            if present:
                emit.info("removing the other TensorFlow build: " + " ".join(present))
                rc, lines = commands.run([*pip, "uninstall", "-y", *present], emit, penv)
                if rc != 0:
                    raise commands.pip_failure(name, "(uninstall) " + " ".join(present), rc, lines)
        cmd = [*pip, "install", "--progress-bar", "off", *plan["requirements"]]
        rc, lines = commands.run(cmd, emit, penv)
        if rc != 0:
            raise commands.pip_failure(name, ", ".join(plan["requirements"]), rc, lines)
        if plan["nodeps_requirements"]:
            emit.info("installing (--no-deps) " + " ".join(plan["nodeps_requirements"]))
            cmd = [*pip, "install", "--progress-bar", "off", "--no-deps"]
            rc, lines = commands.run([*cmd, *plan["nodeps_requirements"]], emit, penv)
            if rc != 0:
                raise commands.pip_failure(name, ", ".join(plan["nodeps_requirements"]), rc, lines)

        emit.begin("verify", "checking every installed package's files")
        probe = commands.probe(env_dir, spec, deep=True)
        if probe is None:
            raise WorkbenchEnvError(
                f"{name}'s interpreter does not run after installation; run `jupyter "
                f"workbench env create {name} --force`.",
                environment=name,
                kind="verify-failed",
            )
        if probe["broken"]:
            named = [b for b in probe["broken"] if b.get("name") and b.get("version")]
            for b in probe["broken"]:
                if not (b.get("name") and b.get("version")) and b.get("path"):
                    shutil.rmtree(b["path"], ignore_errors=True)
            emit.info(
                "reinstalling damaged packages: "
                + ", ".join(f"{b.get('name')} ({b.get('why')})" for b in probe["broken"])
            )
            reqs = [f"{b['name']}=={b['version']}" for b in named]
            if reqs:
                cmd = [*pip, "install", "--progress-bar", "off", "--force-reinstall", "--no-deps"]
                rc, lines = commands.run([*cmd, *reqs], emit, penv)
                if rc != 0:
                    raise commands.pip_failure(name, ", ".join(reqs), rc, lines)
            if len(named) != len(probe["broken"]):
                cmd = [*pip, "install", "--progress-bar", "off", *plan["requirements"]]
                rc, lines = commands.run(cmd, emit, penv)
                if rc != 0:
                    raise commands.pip_failure(name, ", ".join(plan["requirements"]), rc, lines)
        emit.info("importing " + ", ".join(spec.import_checks))
        probe = commands.probe(
            env_dir, spec, deep=bool(probe["broken"]), imports=spec.import_checks
        )
        problems = []
        if probe is None:
            problems.append("the interpreter does not run")
        else:
            problems += [f"{b.get('name')}: {b.get('why')}" for b in probe["broken"]]
            problems += [f"{m} not found" for m in probe["missing_modules"]]
            problems += [f"import {m}: {e}" for m, e in probe["import_errors"].items()]
            missing = [p for p in _required_dists(spec, use_gpu) if p not in probe["packages"]]
            problems += [f"{p} not installed" for p in missing]
        if problems:
            raise WorkbenchEnvError(
                f"{name} failed verification after installation: {'; '.join(problems)[:600]}. "
                f"Run `jupyter workbench env create {name} --force` to rebuild it.",
                environment=name,
                kind="verify-failed",
            )

        emit.begin("kernelspec", f"writing the {spec.kernel_name} kernelspec")
        ks = write_kernelspec(name, env_dir, kernel_name=spec.kernel_name)

        emit.begin("marker", "marking the environment ready")
        from .._version import __version__

        _write_marker(
            env_dir,
            {
                "format": MARKER_FORMAT,
                "name": name,
                "fingerprint": fingerprint,
                "python": probe["python"],
                "packages": _display_packages(probe["packages"]),
                "gpu_build": plan["gpu_build"],
                "requirements": plan["requirements"] + plan["nodeps_requirements"],
                "workbench_version": __version__,
                "workbench_package": str(pkg),
                "kernelspec": str(ks),
                "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "duration_s": round(time.monotonic() - t0, 1),
            },
        )
        registered = _register(name, env_dir, spec, register, register_prefix, emit)
        emit.info(f"{name} is ready ({action} in {time.monotonic() - t0:.1f} s)")
    info = environment_info(name, root)
    info.update(registered)
    info.update(action=action, duration_s=round(time.monotonic() - t0, 2))
    return info


def _required_dists(spec: EnvironmentSpec, use_gpu: bool) -> list[str]:
    """Key distributions that must be present (the TensorFlow one depends on the build)."""
    req = [p for p in spec.key_packages if p not in ("tensorflow", "tensorflow-cpu")]
    if spec.gpu_aware:
        req.append("tensorflow" if use_gpu else "tensorflow-cpu")
    return req


def _probe_dists(env_dir: Path, dists: list[str]) -> list[str]:
    code = (
        "import importlib.metadata as m, sys\n"
        "for d in sys.argv[1:]:\n"
        "    try:\n        m.version(d); print(d)\n"
        "    except m.PackageNotFoundError:\n        pass\n"
    )
    try:
        out = subprocess.run(
            [str(_paths.python_path(env_dir)), "-I", "-c", code, *dists],
            capture_output=True,
            text=True,
            timeout=120,
            env=commands.clean_env(env_dir),
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [ln.strip() for ln in out.stdout.splitlines() if ln.strip()]


def _register(name, env_dir, spec, where, prefix, emit) -> dict:
    """Register the kernelspec for every Jupyter client; a failure is reported, not raised (the
    environment itself is fine and the workbench server lists it anyway)."""
    try:
        dest = register_kernelspec(name, env_dir, spec.kernel_name, where=where, prefix=prefix)
    except (OSError, ValueError) as exc:
        msg = f"kernelspec not registered: {exc}"
        emit.info(msg)
        return {"registered": [], "register_message": msg}
    if dest is None:
        return {"registered": []}
    emit.info(f"kernelspec {spec.kernel_name} registered in {dest}")
    return {"registered": [str(dest)]}


def remove_environment(name: str, environments_dir=None, lock_wait_s: float = 60.0) -> bool:
    """Delete environment ``name``, its kernelspec and the copies registered for Jupyter clients;
    True when something was removed."""
    get_spec(name)
    root = resolve_environments_dir(environments_dir)
    env_dir = root / name
    if not env_dir.exists():
        return False
    with env_lock(_paths.lock_path(root, name), name, lock_wait_s):
        try:
            (env_dir / MARKER_NAME).unlink()
        except FileNotFoundError:
            pass
        unregister_kernelspecs(env_dir)
        shutil.rmtree(env_dir)
    return True
