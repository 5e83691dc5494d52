"""Deployment descriptors in a model base (``jupyter workbench export ... --emit-config``).

``<base>/models.config``
    TF Serving's ``--model_config_file`` (text ``ModelServerConfig``): one ``model_config_list``
    entry with the model's name, ``base_path`` (the absolute local path, or the object-store URL)
    and the version policy (``latest { num_versions: 1 }``, TF Serving's default).
``<base>/eas_service.json``
    A PAI-EAS service description for its TensorFlow processor: ``model_path`` (the ``oss://``
    URL of the base), ``processor``, ``metadata`` (instances, CPU) and, when the version has
    warmup records, ``warm_up_data_path`` pointing at its
    ``assets.extra/tf_serving_warmup_requests``.
    Edit ``metadata`` (and ``processor`` for a GPU or another TensorFlow build) before
    ``eascmd create eas_service.json``.

Both files sit beside the version directories; TF Serving and version numbering ignore names
that are not integers. No TensorFlow is needed here.
"""

from __future__ import annotations

import json
import os

from .errors import ExportError

MODELS_CONFIG = "models.config"
EAS_SERVICE = "eas_service.json"
EAS_PROCESSOR = "tensorflow_cpu_2.3"  # EAS's built-in TensorFlow 2 processor code (CPU)
WARMUP_REL = "assets.extra/tf_serving_warmup_requests"


def _store_url(destination: str) -> str:
    """The base as a deployment system names it: ``oss://`` URL, or an absolute path."""
    if destination.startswith("mount://"):
        from ..storage import MountRegistry

        name, _, sub = destination[len("mount://") :].partition("/")
        url = MountRegistry().get(name).url.rstrip("/")
        return f"{url}/{sub.strip('/')}" if sub.strip("/") else url
    if "://" in destination and not destination.startswith("file://"):
        return destination.rstrip("/")
    path = destination[len("file://") :] if destination.startswith("file://") else destination
    try:
        from ..storage.locate import locate

        located = locate(path)
    except Exception:
        located = None
    if located is not None:  # a path under the mount directory
        return _store_url(located[2])
    return os.path.abspath(os.path.expanduser(path))


def models_config(name: str, base_path: str) -> str:
    return (
        "model_config_list {\n"
        "  config {\n"
        f"    name: {json.dumps(name)}\n"
        f"    base_path: {json.dumps(base_path)}\n"
        '    model_platform: "tensorflow"\n'
        "    model_version_policy { latest { num_versions: 1 } }\n"
        "  }\n"
        "}\n"
    )


def eas_service(name: str, base_path: str, version: int, warmup: bool) -> dict:
    service = {
        "name": name.replace("-", "_"),
        "processor": EAS_PROCESSOR,
        "model_path": base_path.rstrip("/") + "/",
        "metadata": {"instance": 1, "cpu": 1},
    }
    if warmup:
        service["warm_up_data_path"] = f"{base_path.rstrip('/')}/{version}/{WARMUP_REL}"
    return service


def write_deploy_configs(result, destination: str, model_name: str | None = None) -> list[str]:
    """Write both descriptors for ``result`` (an ExportResult) into ``destination``; returns
    the paths written."""
    from .publish import LocalDestination, open_destination

    destination = os.fspath(destination)
    base_path = _store_url(destination)
    name = model_name or base_path.rstrip("/").rsplit("/", 1)[-1] or "model"
    dest = open_destination(destination)
    has_warmup = bool(getattr(result, "warmup_records", 0))
    files = {
        MODELS_CONFIG: models_config(name, base_path).encode(),
        EAS_SERVICE: (
            json.dumps(eas_service(name, base_path, result.version, has_warmup), indent=2) + "\n"
        ).encode(),
    }
    written = []
    try:
        for fname, data in files.items():
            if isinstance(dest, LocalDestination):
                from ..atomic import write_atomic

                path = os.path.join(dest.base, fname)
                write_atomic(path, data)
            else:
                path = dest._join(fname)
                dest.fs.pipe_file(path, data)
                path = f"{destination.rstrip('/')}/{fname}"
            written.append(path)
    except OSError as err:
        raise ExportError(f"writing the deployment descriptors failed: {err}") from None
    return written
