"""The one argument parser shared by ``jupyter workbench serve``, ``%savedmodel serve`` and the
serving process itself (``python -m jupyter_workbench.serving``).

    --version-policy latest        the highest complete version (TF Serving's default)
    --version-policy all           every complete version
    --version-policy 1,3           exactly these versions (those present)
"""

from __future__ import annotations

import argparse

from .errors import ServingError

DEFAULT_REST_PORT = 8501  # TF Serving's --rest_api_port
DEFAULT_GRPC_PORT = 8500  # TF Serving's --port
DEFAULT_POLL_S = 2.0


def parse_version_policy(value) -> tuple[str, tuple[int, ...]]:
    """``"latest"`` -> ``("latest", ())``; ``"all"``; ``"1,3"`` -> ``("specific", (1, 3))``."""
    text = str(value if value is not None else "latest").strip().lower()
    if text in ("", "latest"):
        return ("latest", ())
    if text == "all":
        return ("all", ())
    versions = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit():
            raise ServingError(
                f"--version-policy {value!r} is not latest, all or a list of versions such as 1,3."
            )
        versions.append(int(part))
    return ("specific", tuple(sorted(set(versions))))


def parse_labels(values) -> dict[str, int]:
    """``["stable=1", "canary=2"]`` -> ``{"stable": 1, "canary": 2}`` (version labels)."""
    labels: dict[str, int] = {}
    for value in values or []:
        name, sep, version = str(value).partition("=")
        name, version = name.strip(), version.strip()
        if not sep or not name or not version.isdigit():
            raise ServingError(f"--label {value!r} is not LABEL=VERSION, e.g. --label stable=1.")
        labels[name] = int(version)
    return labels


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number (0 picks a free port)"
        ) from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is out of range 0-65535 (0 = any free port)")
    return port


def _poll(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 seconds")
    return value


def _threads(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of threads (0 = automatic)")
    return int(text)


def add_serve_arguments(parser, *, ports_default_free: bool = False):
    """Add ``BASE`` and the serve options to an argparse parser; returns it."""
    parser.add_argument(
        "base",
        metavar="BASE",
        help="model base holding integer version directories (path, mount path, mount://NAME/... "
        "or an fsspec URL such as oss://bucket/models/mnist)",
    )
    parser.add_argument(
        "--model-name", default=None, help="the model's name in URLs (default: BASE's last part)"
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=0 if ports_default_free else DEFAULT_REST_PORT,
        help="REST port (TF Serving's --rest_api_port; 0 = any free port)",
    )
    parser.add_argument(
        "--grpc-port",
        type=_port,
        default=0 if ports_default_free else DEFAULT_GRPC_PORT,
        help="gRPC port (TF Serving's --port; 0 = any free port)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--poll",
        type=_poll,
        default=DEFAULT_POLL_S,
        metavar="SECONDS",
        help="how often BASE is checked for new and removed versions",
    )
    parser.add_argument(
        "--version-policy",
        default="latest",
        metavar="latest|all|N,M",
        help="which versions to serve (default: the latest complete one)",
    )
    parser.add_argument(
        "--label",
        dest="labels",
        action="append",
        default=[],
        metavar="LABEL=VERSION",
        help="version label for /labels/LABEL URLs (repeatable)",
    )
    for kind, what in (
        ("intra", "threads one operation may use"),
        ("inter", "operations run at once"),
    ):
        parser.add_argument(
            f"--tensorflow-{kind}-op-parallelism",
            dest=f"{kind}_op_threads",
            type=_threads,
            default=0,
            metavar="N",
            help=f"TensorFlow {kind}-op threads: {what} (TF Serving's "
            f"--tensorflow_{kind}_op_parallelism; 0 = TensorFlow's choice, one per core)",
        )
    parser.add_argument(
        "--python",
        default=None,
        help="interpreter with TensorFlow to run the server (default: the tf2 environment's)",
    )
    return parser


def default_model_name(base: str) -> str:
    name = str(base).rstrip("/").rsplit("/", 1)[-1]
    if "://" in name or not name:
        name = "model"
    return name


def serve_kwargs(namespace) -> dict:
    """Checked keyword arguments for :func:`jupyter_workbench.serving.start_server`."""
    parse_version_policy(namespace.version_policy)
    parse_labels(namespace.labels)
    return {
        "model_name": namespace.model_name,
        "port": namespace.port,
        "grpc_port": namespace.grpc_port,
        "host": namespace.host,
        "poll": namespace.poll,
        "version_policy": namespace.version_policy,
        "labels": list(namespace.labels or []),
        "intra_op_threads": namespace.intra_op_threads,
        "inter_op_threads": namespace.inter_op_threads,
        "python": namespace.python,
    }


def child_argv(base: str, kwargs: dict) -> list[str]:
    """The serving process's arguments for ``base`` and :func:`serve_kwargs`' keywords."""
    argv = [str(base)]
    if kwargs.get("model_name"):
        argv += ["--model-name", kwargs["model_name"]]
    argv += ["--port", str(kwargs.get("port", 0)), "--grpc-port", str(kwargs.get("grpc_port", 0))]
    argv += ["--host", kwargs.get("host") or "127.0.0.1"]
    argv += ["--poll", str(kwargs.get("poll") or DEFAULT_POLL_S)]
    argv += ["--version-policy", str(kwargs.get("version_policy") or "latest")]
    for label in kwargs.get("labels") or []:
        argv += ["--label", label]
    for kind in ("intra", "inter"):
        if kwargs.get(f"{kind}_op_threads"):
            argv += [f"--tensorflow-{kind}-op-parallelism", str(int(kwargs[f"{kind}_op_threads"]))]
    return argv
