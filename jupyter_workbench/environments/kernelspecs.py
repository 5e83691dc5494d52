"""Kernelspecs of the workbench environments, for the server and for plain Jupyter installs.

The server lists the environments' kernels through :class:`WorkbenchKernelSpecManager` (set
``ServerApp.kernel_spec_manager_class`` to it). It adds the kernelspec of every READY environment
(rendered inside the environment, ``<env>/share/jupyter/kernels/<name>``) on top of the usual
kernel directories, without writing anything into the user's Jupyter directories, and it re-checks
on every request: an environment deleted or broken under a running server disappears from
``/api/kernelspecs`` and starting its kernel fails with a message that says how to fix it.

:func:`install_kernelspecs` copies the kernelspecs into a standard kernels directory (``--user``
or ``--prefix``) for Jupyter front ends that do not run the workbench server.
"""

from __future__ import annotations

from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from traitlets import Unicode

from . import _paths
from .discovery import environment_info
from .errors import WorkbenchEnvError
from .overlay import apply_overlay
from .registration import is_registered_copy
from .spec import SPECS, resolve_environments_dir
from .templates import write_kernelspec


def _workbench_kernel_names() -> list[str]:
    return [s.kernel_name for s in SPECS.values()]


class EnvironmentKernelUnavailable(NoSuchKernel):
    """NoSuchKernel with the reason (not created / half-created / deleted) and the fix."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(name)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _ready_resource_dir(name: str, environments_dir) -> tuple[Path | None, dict]:
    info = environment_info(name, environments_dir)
    if not info["ready"]:
        return None, info
    env_dir = Path(info["path"])
    rdir = _paths.kernelspec_dir(env_dir, info["kernel_name"])
    if not (rdir / "kernel.json").is_file():
        try:  # a ready environment always gets its kernelspec back (e.g. deleted by hand)
            write_kernelspec(name, env_dir, kernel_name=info["kernel_name"])
        except (OSError, WorkbenchEnvError):
            return None, info
    return rdir, info


class WorkbenchKernelSpecManager(KernelSpecManager):
    """The usual kernelspecs plus those of the ready py3/tf2 environments.

    ``c.ServerApp.kernel_spec_manager_class =
    "jupyter_workbench.environments.kernelspecs.WorkbenchKernelSpecManager"``. To combine it with
    another KernelSpecManager subclass: ``class Mine(WorkbenchKernelSpecManager, OtherKSM)``.
    """

    environments_dir = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Directory of the workbench environments (default: $JUPYTER_WORKBENCH_ENVS_DIR, "
        "else <jupyter data dir>/workbench/envs). The workbench server extension sets it from "
        "Workbench.environments_dir.",
    )

    server_kernel_display_name = Unicode(
        "Python 3 (server, no workbench environment)",
        config=True,
        help="Display name of the server's own ipykernel ('python3'), so that it is not "
        "mistaken for the py3 environment; empty keeps 'Python 3 (ipykernel)'. To hide it, "
        "list the kernels to offer in KernelSpecManager.allowed_kernelspecs.",
    )

    def _get_kernel_spec_by_name(self, kernel_name, resource_dir):
        spec = super()._get_kernel_spec_by_name(kernel_name, resource_dir)
        if kernel_name == "python3" and self.server_kernel_display_name:
            spec.display_name = self.server_kernel_display_name
        return spec

    def workbench_kernel_specs(self) -> dict[str, str]:
        """{kernel_name: resource_dir} of the ready environments."""
        out: dict[str, str] = {}
        for name in SPECS:
            rdir, info = _ready_resource_dir(name, self.environments_dir)
            if rdir is not None:
                out[info["kernel_name"]] = str(rdir)
        return out

    def find_kernel_specs(self) -> dict[str, str]:
        specs = super().find_kernel_specs()
        ours = self.workbench_kernel_specs()
        # A copy registered for other Jupyter clients (registration.py) of an environment that is
        # not ready here is not offered: its kernel would not start.
        for kernel_name in _workbench_kernel_names():
            if (
                kernel_name not in ours
                and kernel_name in specs
                and is_registered_copy(specs[kernel_name])
            ):
                del specs[kernel_name]
        allowed = self.allowed_kernelspecs
        if allowed:
            ours = {k: v for k, v in ours.items() if k in allowed}
        specs.update(ours)  # an environment's kernelspec wins over a same-named one elsewhere
        return specs

    def get_kernel_spec(self, kernel_name: str):
        env_name = next((n for n, s in SPECS.items() if s.kernel_name == kernel_name), None)
        if env_name is None:
            return super().get_kernel_spec(kernel_name)
        allowed = self.allowed_kernelspecs
        rdir, info = _ready_resource_dir(env_name, self.environments_dir)
        if rdir is not None and (not allowed or kernel_name in allowed):
            spec = self._get_kernel_spec_by_name(kernel_name, str(rdir))
            try:  # a shared, read-only environment: run from this user's overlay
                return apply_overlay(spec, env_name, info["path"])
            except OSError as exc:
                self.log.warning(
                    "jupyter_workbench: no personal overlay for %s (%s); %%pip install in its "
                    "kernels will fail on the shared environment",
                    env_name,
                    exc,
                )
                return spec
        unavailable = EnvironmentKernelUnavailable(
            kernel_name, f"The {kernel_name} kernel is not available: {info['message']}"
        )
        try:
            found = super().get_kernel_spec(kernel_name)
        except NoSuchKernel:
            raise unavailable from None
        if is_registered_copy(found.resource_dir):
            raise unavailable
        return found


def set_default_kernel(serverapp, environment: str) -> str | None:
    """Make ``environment``'s kernel (py3, tf2, or any kernel name) the one new notebooks
    start with, when it is available now; returns the kernel name set, else None."""
    if not environment:
        return None
    name = SPECS[environment].kernel_name if environment in SPECS else environment
    ksm = getattr(serverapp, "kernel_spec_manager", None)
    km = getattr(serverapp, "kernel_manager", None)
    if ksm is None or km is None or name not in ksm.find_kernel_specs():
        log = getattr(serverapp, "log", None)
        if log is not None:
            log.info(
                "jupyter_workbench: %s is not available yet; new notebooks keep the %s kernel "
                "(create it: jupyter workbench env create %s)",
                name,
                getattr(km, "default_kernel_name", "python3"),
                environment,
            )
        return None
    km.default_kernel_name = name
    return name


def attach_to_server(serverapp, environments_dir=None) -> bool:
    """Point the server's kernelspec manager at ``environments_dir``.

    Returns False (and logs a warning saying what to configure) when the server does not use a
    workbench kernelspec manager; the environments' kernels are then not listed.
    """
    ksm = getattr(serverapp, "kernel_spec_manager", None)
    if isinstance(ksm, WorkbenchKernelSpecManager):
        if environments_dir:
            ksm.environments_dir = str(environments_dir)
        return True
    log = getattr(serverapp, "log", None)
    if log is not None:
        log.warning(
            "jupyter_workbench: the py3/tf2 kernels are not listed because "
            "ServerApp.kernel_spec_manager_class is %s; set it to "
            "jupyter_workbench.environments.kernelspecs.WorkbenchKernelSpecManager (or a "
            "subclass of it), or run `jupyter workbench env install-kernels --user`.",
            type(ksm).__name__,
        )
    return False


def install_kernelspecs(
    environments_dir=None,
    user: bool = False,
    prefix: str | None = None,
    names: list[str] | None = None,
) -> list[dict]:
    """Copy the ready environments' kernelspecs into a standard Jupyter kernels directory.

    ``user=True``: the user's data dir; ``prefix``: ``<prefix>/share/jupyter/kernels``; neither:
    the system-wide directory (like ``jupyter kernelspec install``). Returns one dict per
    environment: ``{name, kernel_name, installed (bool), path or message}``.
    """
    root = resolve_environments_dir(environments_dir)
    ksm = KernelSpecManager()
    out = []
    for name in names or list(SPECS):
        spec = SPECS.get(name)
        if spec is None:
            from .spec import get_spec

            get_spec(name)  # raises the clear "unknown environment" error
        info = environment_info(name, root)
        if not info["ready"]:
            out.append(
                {
                    "name": name,
                    "kernel_name": info["kernel_name"],
                    "installed": False,
                    "message": info["message"],
                }
            )
            continue
        src = write_kernelspec(name, Path(info["path"]), kernel_name=info["kernel_name"])
        dest = ksm.install_kernel_spec(
            str(src), kernel_name=info["kernel_name"], user=user, prefix=prefix
        )
        out.append(
            {"name": name, "kernel_name": info["kernel_name"], "installed": True, "path": dest}
        )
    return out
