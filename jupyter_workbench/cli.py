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


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export_savedmodel
    from .export.options import export_kwargs

    kwargs = export_kwargs(args)
    source, destination = kwargs.pop("source"), kwargs.pop("destination")
    result = export_savedmodel(source, destination, progress=not args.quiet, **kwargs)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.summary())
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
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("inspect", help="show a SavedModel's tags and signatures")
    p.add_argument("path", help="a SavedModel directory, or a model base (latest version)")
    p.add_argument("--json", action="store_true", help="print the information as JSON")
    p.set_defaults(func=_cmd_inspect)


# Each entry adds its subcommands; optional areas register themselves only when importable,
# so a missing optional dependency never breaks the other subcommands.
_REGISTRARS: list[Callable] = [_add_export]


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


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that are the user's mistake: shown as one line, no traceback."""
    errors: list[type[BaseException]] = [CommandError]
    from .export import ExportError

    errors.append(ExportError)
    for module, name in (
        ("jupyter_workbench.storage", "StorageError"),
        ("jupyter_workbench.environments", "WorkbenchEnvError"),
    ):
        try:
            errors.append(getattr(__import__(module, fromlist=[name]), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except _user_errors() as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
