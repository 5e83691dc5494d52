"""The one argument parser shared by the ``%savedmodel`` magic and ``jupyter workbench export``.

    parser = argparse.ArgumentParser(prog="jupyter workbench export")
    add_export_arguments(parser)
    ns = parser.parse_args(argv)
    export_savedmodel(load(ns.source), ns.destination, **export_kwargs(ns))

``SOURCE`` and ``DEST`` stay strings on the namespace (the magic looks ``SOURCE`` up in the user
namespace first); :func:`export_kwargs` turns the options into keyword arguments, raising
:class:`ExportError` with a clear message for malformed ``NAME=TENSOR`` pairs or sizes.
"""

from __future__ import annotations

from .errors import ExportError
from .sizes import parse_size

SIGNATURE_DEFAULT = "serving_default"
#: The largest version TF Serving loads (its version numbers are int64).
MAX_VERSION = 2**63 - 1
_WEIGHT_DTYPES = {None: None, "float32": None, "float16": "float16", "half": "float16"}


def check_version(version) -> int | None:
    if version is None:
        return None
    if isinstance(version, str) and version.strip().isdigit():
        version = int(version)
    if (
        isinstance(version, bool)
        or not isinstance(version, int)
        or version < 0
        or version > MAX_VERSION
    ):
        raise ExportError(
            f"version={version!r} is not a version number: pass an integer from 0 to 2**63-1 "
            "(the directory name TF Serving loads), or None for the next free one."
        )
    return version


def check_weights_dtype(weights_dtype) -> str | None:
    key = getattr(weights_dtype, "name", weights_dtype)
    key = getattr(key, "__name__", key)
    if key not in _WEIGHT_DTYPES:
        raise ExportError(
            f"weights_dtype={weights_dtype!r} is not supported: pass 'float16' (half-size "
            "weights, float32 compute) or None."
        )
    return _WEIGHT_DTYPES[key]


def add_export_arguments(parser):
    """Add ``SOURCE DEST`` and the export options to an ``argparse`` parser; returns it."""
    parser.add_argument(
        "source",
        metavar="SOURCE",
        help="model to export: a variable (magic only), a .keras/.h5 file, a SavedModel "
        "directory or a TF1 checkpoint prefix",
    )
    parser.add_argument(
        "destination",
        metavar="DEST",
        help="model base (path, mount or URL such as oss://bucket/models/mnist); the export "
        "goes to DEST/<version>/",
    )
    parser.add_argument(
        "--version",
        type=int,
        metavar="N",
        default=None,
        help="version directory to create (default: highest existing + 1)",
    )
    parser.add_argument(
        "--signature",
        dest="signature_name",
        metavar="NAME",
        default=SIGNATURE_DEFAULT,
        help="signature name (default: serving_default)",
    )
    parser.add_argument(
        "--input",
        dest="inputs",
        action="append",
        metavar="NAME=TENSOR",
        default=None,
        help="signature input NAME from TENSOR (TF1: a tensor name such as x:0; Keras: the "
        "model's input name or a shape such as float32[None,28,28]); repeatable",
    )
    parser.add_argument(
        "--output",
        dest="outputs",
        action="append",
        metavar="NAME=TENSOR",
        default=None,
        help="signature output NAME from TENSOR (TF1: y:0; Keras: the model's output name); "
        "repeatable",
    )
    parser.add_argument(
        "--checkpoint",
        metavar="PREFIX",
        default=None,
        help="restore this checkpoint first (TF2 prefix, .weights.h5 or TF1 Saver prefix)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing version")
    parser.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="skip reloading and comparing with the source",
    )
    parser.add_argument(
        "--weights-dtype",
        choices=["float16", "float32"],
        default=None,
        help="store weights as float16 (computation stays float32)",
    )
    parser.add_argument(
        "--max-size",
        metavar="SIZE",
        default=None,
        help="refuse to publish a larger SavedModel, e.g. 500MB or 10GB",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        metavar="N",
        default=None,
        help="write N TF Serving warmup requests per signature "
        "(assets.extra/tf_serving_warmup_requests)",
    )
    return parser


def parse_pairs(values, option: str):
    """``["image=x:0", "label=y:0"]`` -> ``{"image": "x:0", "label": "y:0"}``.

    Bare names (``["image"]``) give a list of names (positional renames). ``None``/empty ->
    ``None``.
    """
    if not values:
        return None
    with_tensor = [v for v in values if "=" in v]
    if with_tensor and len(with_tensor) != len(values):
        raise ExportError(
            f"{option}: mix of NAME=TENSOR and bare NAME values {values!r}: give every "
            f"{option} as NAME=TENSOR, or every one as a bare NAME."
        )
    if not with_tensor:
        return [v.strip() for v in values]
    pairs = {}
    for value in values:
        name, _, tensor = value.partition("=")
        name, tensor = name.strip(), tensor.strip()
        if not name or not tensor:
            raise ExportError(f"{option} {value!r} is not NAME=TENSOR: e.g. {option} image=x:0.")
        if name in pairs:
            raise ExportError(f"{option} {name!r} is given twice.")
        pairs[name] = tensor
    return pairs


def export_kwargs(namespace) -> dict:
    """Keyword arguments for ``export_savedmodel`` from a namespace parsed with
    :func:`add_export_arguments` (``source``/``destination`` are left out)."""
    max_size = getattr(namespace, "max_size", None)
    parse_size(max_size, "--max-size")  # fail here, before any TensorFlow work
    weights_dtype = getattr(namespace, "weights_dtype", None)
    return {
        "version": getattr(namespace, "version", None),
        "signature_name": getattr(namespace, "signature_name", None) or SIGNATURE_DEFAULT,
        "inputs": parse_pairs(getattr(namespace, "inputs", None), "--input"),
        "outputs": parse_pairs(getattr(namespace, "outputs", None), "--output"),
        "checkpoint": getattr(namespace, "checkpoint", None),
        "overwrite": bool(getattr(namespace, "overwrite", False)),
        "verify": bool(getattr(namespace, "verify", True)),
        "weights_dtype": None if weights_dtype in (None, "float32") else weights_dtype,
        "max_size": max_size,
        **({"warmup": namespace.warmup} if getattr(namespace, "warmup", None) else {}),
    }
