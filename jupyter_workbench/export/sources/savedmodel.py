"""An existing SavedModel directory (or model base, or URL) as the source.

Without renames it is copied byte for byte into the new version (re-versioning). With
``signature_name`` / ``inputs`` / ``outputs`` / ``signatures`` / ``weights_dtype`` it is loaded
and re-exported: ``signatures={"new": "old_signature", ...}`` picks and renames several; by
default the source's ``serving_default`` (or its only signature) becomes ``signature_name``.
"""

from __future__ import annotations

import os
import shutil

from ..errors import ExportError
from .base import DEFAULT_SIGNATURE, Endpoint, Exporter, TF2Exporter


def find_saved_model(path: str) -> str | None:
    """``path`` itself if it holds a saved_model.pb, else its highest integer version that does
    (for a model base); ``None`` if neither."""
    import fsspec

    is_url = "://" in path and not path.startswith("file://")
    fs, root = fsspec.core.url_to_fs(path) if is_url else (fsspec.filesystem("file"), path)
    root = root.rstrip("/") or "/"

    def holds(d):
        return fs.isfile(f"{d}/saved_model.pb") or fs.isfile(f"{d}/saved_model.pbtxt")

    if holds(root):
        return path.rstrip("/")
    try:
        names = [e.rstrip("/").rsplit("/", 1)[-1] for e in fs.ls(root, detail=False)]
    except (FileNotFoundError, NotADirectoryError):
        return None
    for version in sorted((int(n) for n in names if n.isdigit()), reverse=True):
        if holds(f"{root}/{version}"):
            return f"{path.rstrip('/')}/{version}"
    return None


def _local_copy(path: str, dest: str) -> None:
    if "://" in path and not path.startswith("file://"):
        import fsspec

        fs, root = fsspec.core.url_to_fs(path)
        fs.get(root.rstrip("/") + "/", dest, recursive=True)
    else:
        shutil.copytree(path.removeprefix("file://"), dest)


class SavedModelCopy(Exporter):
    """Re-version: copy the files, keep every signature."""

    kind = "savedmodel"

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self._loaded = None
        self._local = None

    def prepare(self) -> None:
        from ..inspect import inspect_savedmodel

        self.signature_names = list(inspect_savedmodel(self.path)["signatures"])

    @property
    def aliases(self) -> dict[str, str]:
        return {}

    def write(self, path: str, weights_dtype: str | None) -> None:
        _local_copy(self.path, path)
        self._local = path

    def reference(self, signature: str, feed: dict):
        import tensorflow as tf

        if self._loaded is None:
            source = self.path.removeprefix("file://")
            if "://" in source:
                return None  # a remote source: the copy is byte-identical anyway
            self._loaded = tf.saved_model.load(source, tags=["serve"])
        fn = self._loaded.signatures[signature]
        specs = fn.structured_input_signature[1]
        out = fn(**{k: tf.constant(feed[k], dtype=specs[k].dtype) for k in specs})
        return {k: v.numpy() for k, v in out.items()}


def _signature_endpoint(loaded, old: str, new: str, inputs, outputs, source: str) -> Endpoint:
    import tensorflow as tf

    if old not in loaded.signatures:
        raise ExportError(
            f"{source} has no signature {old!r}: it has {', '.join(sorted(loaded.signatures))}."
        )
    fn = loaded.signatures[old]
    specs = fn.structured_input_signature[1]
    names = sorted(specs)
    available = [(n, tf.TensorSpec(specs[n].shape, specs[n].dtype, name=n)) for n in names]

    def call(*args):
        return fn(**dict(zip(names, args, strict=True)))

    return Endpoint(
        new,
        call,
        available,
        inputs=inputs,
        outputs=outputs,
        output_structure=fn.structured_outputs,
        source=f"signature {old!r} of {source}",
    )


def exporter_for_savedmodel(
    path: str, *, signature_name, inputs, outputs, signatures, weights_dtype
) -> Exporter:
    transform = bool(
        inputs or outputs or signatures or weights_dtype or signature_name != DEFAULT_SIGNATURE
    )
    if not transform:
        return SavedModelCopy(path)
    import tensorflow as tf

    local = path.removeprefix("file://")
    if "://" in local:
        raise ExportError(
            f"{path}: renaming or converting a SavedModel needs a local copy: download it or "
            "use its mounted path."
        )
    loaded = tf.saved_model.load(local, tags=["serve"])
    source = f"the SavedModel {path}"
    if signatures:
        if not isinstance(signatures, dict):
            raise ExportError("signatures= must be a dict {new_name: source_signature_name}.")
        endpoints = []
        for new, entry in signatures.items():
            old = entry if isinstance(entry, str) else (entry or {}).get("fn", new)
            ins = None if isinstance(entry, str) else entry.get("inputs")
            outs = None if isinstance(entry, str) else entry.get("outputs")
            endpoints.append(_signature_endpoint(loaded, old, new, ins, outs, source))
    else:
        names = sorted(loaded.signatures)
        old = (
            DEFAULT_SIGNATURE
            if DEFAULT_SIGNATURE in names
            else (names[0] if len(names) == 1 else None)
        )
        if old is None:
            raise ExportError(
                f"{source} has several signatures ({', '.join(names)}) and no serving_default: "
                "pick them with signatures={'new_name': 'old_name', ...}."
            )
        endpoints = [_signature_endpoint(loaded, old, signature_name, inputs, outputs, source)]
    return TF2Exporter("savedmodel", endpoints, track=[loaded])


def is_saved_model_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "saved_model.pb")) or os.path.isfile(
        os.path.join(path, "saved_model.pbtxt")
    )
