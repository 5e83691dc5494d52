"""``jupyter workbench ...``: the command-line front door.

Every subcommand is a thin wrapper over the same library functions that the magics and the
REST API call. User mistakes exit with status 2 (usage) or 1 (failed operation) and one line
on stderr; there is no traceback for them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from ._version import __version__
from .errors import WorkbenchError


class CommandError(WorkbenchError):
    """A user-facing failure of the command line itself: printed as one line, exit status 1."""


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export_savedmodel
    from .export.options import export_kwargs

    result = export_savedmodel(
        args.source, args.destination, progress=not args.quiet, **export_kwargs(args)
    )
    written = []
    if args.emit_config:
        from .export.deploy import write_deploy_configs

        written = write_deploy_configs(result, args.destination)
    if args.json:
        print(json.dumps(dict(result.to_dict(), deploy_configs=written), indent=2))
    else:
        print(result.summary())
        for path in written:
            print(f"  deployment descriptor: {path}")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .export import inspect_savedmodel

    info = inspect_savedmodel(args.path)
    print(json.dumps(info, indent=2, default=str) if args.json else str(info))
    return 0


def _add_export(sub) -> None:
    from .export.options import add_export_arguments

    p = sub.add_parser(
        "export",
        help="export a model file, SavedModel or checkpoint to a versioned SavedModel",
        description="Export SOURCE to DEST/<version>/ as a TF-Serving-ready SavedModel.",
    )
    add_export_arguments(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--emit-config",
        action="store_true",
        help="also write DEST/models.config (TF Serving) and DEST/eas_service.json (PAI-EAS)",
    )
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("inspect", help="show a SavedModel's tags and signatures")
    p.add_argument("path", help="a SavedModel directory, or a model base (latest version)")
    p.add_argument("--json", action="store_true", help="print the information as JSON")
    p.set_defaults(func=_cmd_inspect)


def _parse_options(pairs: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--option expects KEY=VALUE, got {pair!r}.")
        options[key] = value
    return options


def _cmd_mount_add(args: argparse.Namespace) -> int:
    from .storage import MountRegistry

    registry = MountRegistry()
    mount = registry.add(
        args.name,
        args.url,
        _parse_options(args.option),
        read_only=args.read_only,
        check=not args.no_check,
    )
    print(
        f"mounted {mount.name}: {mount.url} (in the file browser at <mount dir>/{mount.name}; "
        f"in Python: jupyter_workbench.mounts.filesystem({mount.name!r}))"
    )
    return 0


def _cmd_mount_list(args: argparse.Namespace) -> int:
    from .mounts import list_mounts, local_folder

    rows = list_mounts()
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    elif not rows:
        print("no mounts")
    for m in [] if args.json else rows:
        flags = " (read-only)" if m.get("read_only") else ""
        folder = local_folder(m["name"])  # a folder that exists (FUSE, file://), else "-"
        print(f"{m['name']}\t{m['url']}\t{folder or '-'}{flags}")
    return 0


def _cmd_mount_remove(args: argparse.Namespace) -> int:
    from .storage import MountRegistry

    MountRegistry().remove(args.name)
    print(f"unmounted {args.name} (nothing on the storage was deleted)")
    return 0


def _add_mount(sub) -> None:
    p = sub.add_parser("mount", help="add, list and remove storage mounts (OSS, NAS, SMB, fsspec)")
    msub = p.add_subparsers(dest="mount_command", metavar="ACTION")
    msub.required = True
    a = msub.add_parser("add", help="add a mount: NAME URL (oss://bucket/prefix, file:///nas, ...)")
    a.add_argument("name")
    a.add_argument("url")
    a.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backend option, e.g. endpoint=http://127.0.0.1:9000 key=AK secret=SK (repeatable)",
    )
    a.add_argument("--read-only", action="store_true")
    a.add_argument("--no-check", action="store_true", help="do not connect before saving")
    a.set_defaults(func=_cmd_mount_add)
    ls = msub.add_parser("list", help="list mounts")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_mount_list)
    rm = msub.add_parser("remove", help="remove a mount (nothing on the storage is deleted)")
    rm.add_argument("name")
    rm.set_defaults(func=_cmd_mount_remove)


def _cmd_oss_emulator(args: argparse.Namespace) -> int:
    from .testing.oss import run_from_args

    run_from_args(args)
    return 0


def _add_oss_emulator(sub) -> None:
    from .testing.oss import add_arguments

    p = sub.add_parser(
        "oss-emulator", help="serve an OSS-protocol emulator on 127.0.0.1 (demo bucket)"
    )
    add_arguments(p)
    p.set_defaults(func=_cmd_oss_emulator)


def _cmd_env_list(args: argparse.Namespace) -> int:
    from .environments import list_environments

    envs = list_environments()
    if args.json:
        print(json.dumps(envs, indent=2, default=str))
        return 0
    for e in envs:
        packages = ", ".join(f"{k} {v}" for k, v in (e.get("packages") or {}).items())
        print(f"{e['name']:5} {e['state']:10} python {e.get('python') or '-':8} {packages}")
        if e.get("message") and not e.get("ready"):
            print(f"      {e['message']}")
    return 0


def _cmd_env_create(args: argparse.Namespace) -> int:
    from .environments import create_environment, format_progress

    def progress(event: dict) -> None:
        if event.get("kind") == "step" or args.verbose:
            print(format_progress(event), flush=True)

    info = create_environment(
        args.name,
        progress=progress,
        force=args.force,
        register=None if args.no_kernelspec else args.kernelspec_where,
        register_prefix=args.prefix,
    )
    print(f"{info['name']}: {info['action']} in {info['duration_s']:.1f} s ({info['path']})")
    return 0


def _cmd_env_install_kernels(args: argparse.Namespace) -> int:
    from .environments import install_kernelspecs

    failed = 0
    for row in install_kernelspecs(user=args.user, prefix=args.prefix):
        if row.get("installed"):
            print(f"{row['kernel_name']}: installed in {row['path']}")
        else:
            failed += 1
            print(f"{row['kernel_name']}: not installed: {row.get('message')}", file=sys.stderr)
    return 1 if failed else 0


def _add_env(sub) -> None:
    p = sub.add_parser("env", help="the py3 and tf2 environments and their kernels")
    esub = p.add_subparsers(dest="env_command", metavar="ACTION")
    esub.required = True
    ls = esub.add_parser("list", help="show each environment, its Python and key packages")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_env_list)
    c = esub.add_parser("create", help="create or repair an environment (py3 or tf2)")
    c.add_argument("name")
    c.add_argument("--force", action="store_true", help="delete and rebuild from scratch")
    c.add_argument("--verbose", "-v", action="store_true", help="show pip's output")
    # Like `ipykernel install`: where other Jupyter clients (jupyter console, nbconvert,
    # papermill) find the kernel. The user's data dir unless told otherwise.
    where = c.add_mutually_exclusive_group()
    where.add_argument(
        "--user",
        dest="kernelspec_where",
        action="store_const",
        const="user",
        default="user",
        help="register the kernelspec in the user's Jupyter data dir (default)",
    )
    where.add_argument(
        "--sys-prefix",
        dest="kernelspec_where",
        action="store_const",
        const="sys-prefix",
        help="register the kernelspec in this Python's sys.prefix",
    )
    where.add_argument("--prefix", help="register the kernelspec in PREFIX/share/jupyter/kernels")
    where.add_argument(
        "--no-kernelspec",
        action="store_true",
        help="do not register the kernelspec (the workbench server lists it anyway)",
    )
    c.set_defaults(func=_cmd_env_create)
    k = esub.add_parser(
        "install-kernels", help="register the ready environments' kernelspecs with Jupyter"
    )
    k.add_argument("--user", action="store_true", help="into the user's Jupyter data dir")
    k.add_argument("--prefix", help="into PREFIX/share/jupyter/kernels")
    k.set_defaults(func=_cmd_env_install_kernels)


def _cmd_serve(args: argparse.Namespace) -> int:
    import signal

    from .serving import start_server
    from .serving.options import serve_kwargs

    server = start_server(args.base, log_stream=sys.stderr, **serve_kwargs(args))
    print(f"serving {server.model_name}: REST {server.url}  gRPC {server.grpc_address}", flush=True)

    def _terminate(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = server.proc.wait()
    except KeyboardInterrupt:
        server.stop()
        return 0
    print(f"error: the model server exited with status {code}", file=sys.stderr)
    return 1


def _add_serve(sub) -> None:
    from .serving.options import add_serve_arguments

    p = sub.add_parser(
        "serve",
        help="serve a model base over TF Serving's REST and gRPC APIs (hot reload of versions)",
        description="Serve BASE/<version>/ SavedModels with TF Serving's REST and gRPC APIs.",
    )
    add_serve_arguments(p)
    p.set_defaults(func=_cmd_serve)


def _add_jobs(sub) -> None:
    from .session.cli import add_job_commands

    add_job_commands(sub)


# Each entry adds its subcommands; optional areas register themselves only when importable,
# so a missing optional dependency never breaks the other subcommands.
_REGISTRARS: list[Callable] = [
    _add_export,
    _add_serve,
    _add_mount,
    _add_env,
    _add_jobs,
    _add_oss_emulator,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jupyter workbench",
        description="jupyter-workbench: SavedModel export, mounts, environments.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for register in _REGISTRARS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except WorkbenchError as e:  # every library's user-facing errors (jupyter_workbench.errors)
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
