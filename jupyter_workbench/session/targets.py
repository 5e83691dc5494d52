"""What a job runs: the file it names, the interpreter of a script, the kernel of a notebook.

The server's job paths are relative to its contents root and may not leave it; an interpreter
given by path must be one the administrator allowed (``c.Workbench.job_interpreters``); an
environment name is a workbench environment (py3/tf2, the user's overlay of a shared one), a
Python kernel, or (the CLI only) a Python on ``PATH``. :class:`~.jobs.JobManager` asks here
before it starts anything; every refusal is a :class:`~.jobtypes.JobError` naming the input.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from .jobtypes import KINDS, JobError


def kernel_spec_manager(environments_dir: str | None = None):
    """The kernelspecs the server would list: the workbench environments' ones included."""
    try:
        from ..environments.kernelspecs import WorkbenchKernelSpecManager

        return WorkbenchKernelSpecManager(environments_dir=environments_dir)
    except Exception:  # environments package unavailable
        from jupyter_client.kernelspec import KernelSpecManager

        return KernelSpecManager()


def _workbench_environment_python(name: str, environments_dir: str | None) -> str | None:
    """The interpreter of a workbench environment named ``name`` (py3/tf2), if it is one."""
    try:
        from ..environments import SPECS, environment_info
    except Exception:
        return None
    if name not in SPECS:
        return None
    info = environment_info(name, environments_dir)
    if not info.get("ready"):
        raise JobError(f"Environment {name!r} is not ready: {info.get('message', '')}".strip())
    from ..environments.overlay import user_python

    # a shared, read-only environment: the user's overlay (their own %pip installs included)
    return user_python(name, info["path"])


def _workbench_environment_kernel(name: str) -> str | None:
    try:
        from ..environments import SPECS
    except Exception:
        return None
    spec = SPECS.get(name)
    return spec.kernel_name if spec is not None else None


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def resolve_path(path: str, root_dir: Path | None) -> tuple[Path, str]:
    """``path`` as an absolute file and as it is shown; JobError when unusable."""
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        raise JobError("The job path is empty or invalid.")
    if root_dir is not None:
        if os.path.isabs(path):
            raise JobError(f"The job path must be relative to the server root: {path!r}.")
        full = Path(os.path.realpath(root_dir / path))
        if os.path.commonpath([full, root_dir]) != str(root_dir):
            raise JobError(f"The job path {path!r} is outside the server root.")
        shown = path.strip("/")
    else:
        full = Path(os.path.realpath(os.path.expanduser(path)))
        shown = str(full)
    try:
        is_file = full.is_file()
    except OSError as e:  # a name too long, a loop: what was asked for cannot exist
        raise JobError(f"The job path {path!r} cannot be used: {e.strerror}.") from None
    if not is_file:
        raise JobError(f"No file {path!r} to run.")
    if full.suffix.lower() not in KINDS:
        raise JobError(
            f"Cannot run {path!r} as a job: use a notebook (.ipynb), a Python script (.py) "
            "or a shell script (.sh)."
        )
    return full, shown


def script_python(
    environment: str | None,
    *,
    root_dir: Path | None,
    allowed_interpreters: list[str],
    environments_dir: str | None,
) -> str:
    """The interpreter for a script job: a path, a workbench environment or a kernel."""
    if not environment:
        return sys.executable
    if os.sep in environment or environment.startswith("~"):
        python = os.path.expanduser(environment)
        if root_dir is not None and os.path.realpath(python) not in allowed_interpreters:
            raise JobError(
                f"Environment {environment!r} is not one of the known environments: use "
                "py3/tf2 or a Python kernel name (an administrator may allow more "
                "interpreters with c.Workbench.job_interpreters)."
            )
        if not _is_executable(python):
            raise JobError(f"Environment {environment!r} is not an executable interpreter.")
        return python
    python = _workbench_environment_python(environment, environments_dir)
    if python:
        return python
    try:
        spec = kernel_spec_manager(environments_dir).get_kernel_spec(environment)
    except Exception:
        spec = None
    if spec is not None and spec.argv and "python" in os.path.basename(spec.argv[0]):
        python = spec.argv[0]
        if not os.path.isabs(python):
            python = shutil.which(python) or python
        return python
    found = shutil.which(environment) if root_dir is None else None
    if found and "python" in os.path.basename(found):
        return found
    raise JobError(
        f"Unknown environment {environment!r}: use a Python kernel name "
        "(jupyter kernelspec list), py3/tf2, or the path of a Python interpreter."
    )


def notebook_kernel(notebook: Path, environment: str | None, environments_dir: str | None) -> str:
    """The kernel that runs a notebook: the chosen one, else the notebook's own."""
    kernel = environment
    if kernel:
        kernel = _workbench_environment_kernel(kernel) or kernel
    else:
        try:
            import nbformat

            nb = nbformat.read(str(notebook), as_version=4)
        except Exception as e:
            raise JobError(f"Cannot read the notebook {notebook.name!r}: {e}") from None
        kernel = nb.metadata.get("kernelspec", {}).get("name") or "python3"
    specs = kernel_spec_manager(environments_dir).find_kernel_specs()
    if kernel not in specs:
        known = ", ".join(sorted(specs)) or "none"
        raise JobError(f"No kernel named {kernel!r} to run the notebook (kernels: {known}).")
    return kernel
