"""inspect_savedmodel: tags and signatures of a SavedModel, printed like ``saved_model_cli``.

A binary ``saved_model.pb`` is read without TensorFlow (:mod:`.savedmodel_proto`): inspecting
costs milliseconds, not a TensorFlow start.
"""

from __future__ import annotations

import os

from . import savedmodel_proto
from .errors import ExportError, require_tensorflow

_INIT_OP = "__saved_model_init_op"


class SavedModelInfo(dict):
    """A dict ``{"path", "version", "tags", "tag_sets", "signatures"}`` whose ``str()`` reads
    like ``saved_model_cli show --dir PATH --all`` (without the "Concrete Functions" part,
    which needs to load the model).

    ``signatures[name]`` is ``{"method", "inputs", "outputs"}`` with
    ``inputs[name] = {"dtype": "float32", "shape": [None, 784], "tensor": "x:0"}``. Signatures
    of the ``serve`` meta graph (else the first one) are listed; ``__saved_model_init_op`` is
    left out of the dict but shown in the text, as the CLI does.
    """

    def __init__(self, data: dict, text: str):
        super().__init__(data)
        self._text = text

    def __str__(self) -> str:
        return self._text

    def _repr_pretty_(self, printer, cycle):  # IPython display without importing IPython
        printer.text(self._text)


def _read(path: str, storage_options: dict | None = None) -> tuple[bytes, bool, str]:
    """(contents of saved_model.pb[txt], is_text, directory shown to the user); a model base is
    followed to its highest integer version that holds a saved_model.pb."""
    import fsspec

    from ..storage.locate import locate

    on_mount = locate(path)
    if on_mount is not None:
        fs, root, shown = on_mount
    elif "://" in path and not path.startswith("file://"):
        fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
        shown = path.rstrip("/")
    else:
        root = os.path.abspath(os.path.expanduser(path.removeprefix("file://")))
        fs, shown = fsspec.filesystem("file"), root
    root = root.rstrip("/") or ("" if on_mount is not None else "/")

    def find(directory: str):
        for name, is_text in (("saved_model.pb", False), ("saved_model.pbtxt", True)):
            file = f"{directory}/{name}" if directory else name
            if fs.isfile(file):
                return fs.cat_file(file), is_text
        return None

    found = find(root)
    if found is not None:
        return found[0], found[1], shown
    if not fs.exists(root):
        raise ExportError(f"{path} does not exist: pass a SavedModel directory or a model base.")
    names = [e.rstrip("/").rsplit("/", 1)[-1] for e in fs.ls(root, detail=False)]
    for version in sorted((int(n) for n in names if n.isdigit()), reverse=True):
        found = find(f"{root}/{version}" if root else str(version))
        if found is not None:
            return found[0], found[1], f"{shown}/{version}"
    raise ExportError(
        f"{path} is not a SavedModel: it has no saved_model.pb (nor integer version "
        "directories holding one)."
    )


def _shape(tensor_shape) -> list | None:
    if tensor_shape.unknown_rank:
        return None
    return [None if d.size < 0 else int(d.size) for d in tensor_shape.dim]


def _tensor_infos(infos) -> dict:
    return {
        key: {
            "dtype": savedmodel_proto.dtype_name(info.dtype),
            "shape": _shape(info.tensor_shape),
            "tensor": info.name,
        }
        for key, info in sorted(infos.items())
    }


def _cli_text(saved_model) -> str:
    """The text of ``saved_model_cli show --all`` (tensorflow/python/tools/saved_model_cli.py)."""
    out = []

    def tensor_info(info, indent):
        pad = "  " * indent
        out.append(pad + "    dtype: " + savedmodel_proto.dtype_enum_name(info.dtype))
        if info.tensor_shape.unknown_rank:
            shape = "unknown_rank"
        else:
            shape = "(" + ", ".join(str(d.size) for d in info.tensor_shape.dim) + ")"
        out.append(pad + "    shape: " + shape)
        out.append(pad + "    name: " + info.name)

    for mgd in sorted(saved_model.meta_graphs, key=lambda m: list(m.meta_info_def.tags)):
        tags = mgd.meta_info_def.tags
        out.append("")
        out.append(
            f"MetaGraphDef with tag-set: '{', '.join(tags)}' contains the following SignatureDefs:"
        )
        for key in sorted(mgd.signature_def.keys()):
            sig = mgd.signature_def[key]
            out.append("")
            out.append("signature_def['" + key + "']:")
            out.append("  The given SavedModel SignatureDef contains the following input(s):")
            for name, info in sorted(sig.inputs.items()):
                out.append(f"    inputs['{name}'] tensor_info:")
                tensor_info(info, 2)
            out.append("  The given SavedModel SignatureDef contains the following output(s):")
            for name, info in sorted(sig.outputs.items()):
                out.append(f"    outputs['{name}'] tensor_info:")
                tensor_info(info, 2)
            out.append(f"  Method name is: {sig.method_name}")
        ops = sorted(savedmodel_proto.ops_used_by_graph_def(mgd.graph_def))
        out.append(
            f"The MetaGraph with tag set {list(tags)} contains the following ops: "
            "{" + ", ".join(repr(op) for op in ops) + "}"
        )
    return "\n".join(out)


def parse_saved_model(data: bytes, is_text: bool = False):
    """TensorFlow's own ``SavedModel`` message (imports TensorFlow)."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    if is_text:
        from google.protobuf import text_format

        text_format.Merge(data.decode("utf-8"), saved_model)
    else:
        saved_model.ParseFromString(data)
    return saved_model


def describe(saved_model, path: str) -> SavedModelInfo:
    metas = list(saved_model.meta_graphs)
    serve = next((m for m in metas if "serve" in m.meta_info_def.tags), metas[0] if metas else None)
    signatures = {}
    if serve is not None:
        for key in sorted(serve.signature_def.keys()):
            if key == _INIT_OP:
                continue
            sig = serve.signature_def[key]
            signatures[key] = {
                "method": sig.method_name,
                "inputs": _tensor_infos(sig.inputs),
                "outputs": _tensor_infos(sig.outputs),
            }
    base = path.rstrip("/").rsplit("/", 1)[-1]
    data = {
        "path": path,
        "version": int(base) if base.isdigit() else None,
        "tags": list(serve.meta_info_def.tags) if serve is not None else [],
        "tag_sets": [list(m.meta_info_def.tags) for m in metas],
        "signatures": signatures,
    }
    header = f"SavedModel at {path}" + (
        f" (version {data['version']})" if data["version"] is not None else ""
    )
    return SavedModelInfo(data, header + "\n" + _cli_text(saved_model))


def inspect_savedmodel(path, *, storage_options: dict | None = None) -> SavedModelInfo:
    """Describe the SavedModel at ``path``: a local directory, a ``file://`` or fsspec URL.

    ``path`` may also be a model base (``models/mnist``): its highest integer version that holds
    a ``saved_model.pb`` is described. Returns a :class:`SavedModelInfo` (a dict, printed like
    ``saved_model_cli show --all``). ``storage_options`` are passed to the fsspec filesystem
    of a URL.
    """

    path = os.fspath(path)
    data, is_text, resolved = _read(path, storage_options)
    if is_text:  # a text SavedModel: TensorFlow's classes parse the text format
        require_tensorflow()
        try:
            data = parse_saved_model(data, is_text=True).SerializeToString()
        except Exception as err:
            raise ExportError(
                f"{resolved} holds an unreadable saved_model.pbtxt ({err})."
            ) from None
    try:
        saved_model = savedmodel_proto.parse(data)
    except (savedmodel_proto.DecodeError, UnicodeDecodeError) as err:
        raise ExportError(f"{resolved} holds an unreadable saved_model.pb ({err}).") from None
    return describe(saved_model, resolved)
