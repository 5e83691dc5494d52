"""A server-side export request, checked completely before the server answers 202.

``rest_request(body, root=...)`` is what ``POST workbench/api/exports`` calls: every field is
checked (types, version range 0..2**63-1, ``weights_dtype``, ``max_size`` grammar, unknown
fields), ``source``/``checkpoint`` are confined to the server root and ``destination`` to the
root, a mount or an allowed object-store URL (:func:`jupyter_workbench.confine.confine`).
Credentials written into the destination URL (``oss://AK:SECRET@bucket/m``) are taken out
into the worker's ``storage_options`` (sent on its stdin, never on a command line), so the URL
that is stored, shown and logged has none.

Errors are :class:`ExportError` (400) or storage errors carrying ``http_status`` (400/404),
their messages scrubbed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..confine import DEFAULT_URL_PROTOCOLS, confine
from ..redact import scrub, split_url_credentials, url_secrets
from ..storage.backends import backend_for, url_credential_protocols
from .errors import ExportError
from .options import check_version, check_weights_dtype
from .sizes import parse_size
from .warmup import check_warmup

#: Fields of ``POST workbench/api/exports`` and their JSON types.
FIELDS: dict[str, type | tuple] = {
    "source": str,
    "destination": str,
    "version": int,
    "signature_name": str,
    "inputs": (dict, list, str),
    "outputs": (dict, list, str),
    "checkpoint": str,
    "overwrite": bool,
    "verify": bool,
    "weights_dtype": str,
    "max_size": (int, str),
    "warmup": int,  # TF Serving warmup records per signature
}
_REQUIRED = ("source", "destination")


@dataclass
class ExportRequest:
    """``worker``: the JSON the export worker gets (may hold secrets: stdin only).
    ``source``/``destination``: what may be stored and shown. ``secrets``: values to scrub
    from anything the export reports."""

    worker: dict
    source: str
    destination: str
    secrets: list[str]

    def scrub(self, value):
        return scrub(value, self.secrets)


def _type_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {"str": "string", "int": "integer", "bool": "boolean", "dict": "object"}
    return " or ".join(names.get(k.__name__, k.__name__) for k in kinds)


def _field(body: dict, name: str):
    value = body.get(name)
    kind = FIELDS[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise ExportError(f"Field '{name}' must be a {_type_name(kind)}, not a boolean.")
    if not isinstance(value, kinds):
        raise ExportError(f"Field '{name}' must be a {_type_name(kind)}.")
    return value


def _names(value, name: str):
    """``inputs``/``outputs``: a name, a list of names, or {name: tensor name or shape}."""
    if isinstance(value, str):
        return value
    items = value.values() if isinstance(value, dict) else value
    for item in items:
        if isinstance(item, str):
            continue
        if isinstance(item, list) and all(
            d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in item
        ):
            continue
        raise ExportError(
            f"Field '{name}' holds {item!r}: give tensor names (strings) or shapes (lists of "
            "non-negative integers or null)."
        )
    if isinstance(value, dict) and not all(isinstance(k, str) and k for k in value):
        raise ExportError(f"Field '{name}' has an empty name.")
    return value


def rest_request(
    body,
    *,
    root: str,
    protocols=DEFAULT_URL_PROTOCOLS,
    registry=None,
) -> ExportRequest:
    """Check ``body`` (the parsed JSON of the POST) and build the export worker's request."""
    if not isinstance(body, dict):
        raise ExportError("The request body must be a JSON object.")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ExportError(
            f"Unknown field(s): {', '.join(map(str, unknown))}. Known: {', '.join(FIELDS)}."
        )
    for name in _REQUIRED:
        if body.get(name) is None:
            raise ExportError(f"Missing required field '{name}'.")
    given = {k: _field(body, k) for k in FIELDS if body.get(k) is not None}

    destination = given["destination"]
    secrets = url_secrets(destination)
    storage_options = {}
    if "://" in destination:
        stripped, credentials = split_url_credentials(destination)
        if credentials:
            if not backend_for(destination).url_credentials:
                raise ExportError(
                    f"The destination {scrub(destination, secrets)!r} carries credentials, "
                    f"which only {', '.join(url_credential_protocols())} URLs take: add a "
                    "mount with them instead."
                )
            destination, storage_options = stripped, credentials
    shown_destination = scrub(destination, secrets)

    worker: dict = {
        "source": confine(given["source"], root=root, what="source", must_exist=True),
        "destination": confine(
            destination, root=root, what="destination", protocols=protocols, registry=registry
        ),
    }
    if "checkpoint" in given:
        worker["checkpoint"] = confine(given["checkpoint"], root=root, what="checkpoint")
    if "version" in given:
        worker["version"] = check_version(given["version"])
    if "weights_dtype" in given:
        check_weights_dtype(given["weights_dtype"])
        worker["weights_dtype"] = given["weights_dtype"]
    if "max_size" in given:
        value = given["max_size"]
        if isinstance(value, int) and value < 0:
            raise ExportError(f"max_size={value} is negative: give a size such as 500MB.")
        parse_size(value)
        worker["max_size"] = value
    if "signature_name" in given:
        if not given["signature_name"].strip():
            raise ExportError("Field 'signature_name' is empty: give a name or leave it out.")
        worker["signature_name"] = given["signature_name"]
    if "warmup" in given:
        worker["warmup"] = check_warmup(given["warmup"])
    for name in ("inputs", "outputs"):
        if name in given:
            worker[name] = _names(given[name], name)
    for name in ("overwrite", "verify"):
        if name in given:
            worker[name] = given[name]
    if storage_options:
        worker["storage_options"] = storage_options
    return ExportRequest(
        worker=worker,
        source=given["source"],
        destination=shown_destination,
        secrets=secrets + list(storage_options.values()),
    )
