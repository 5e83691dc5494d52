"""``checkpoint=``: restore a TF2 object checkpoint (or Keras ``.weights.h5``) into the source.

The checkpoint's root may be the object itself (``tf.train.Checkpoint(model)``) or hold it
under a name (``tf.train.Checkpoint(model=model, optimizer=...)``): each top-level name is tried
and the first that matches the object's variables wins. Optimizer state in the checkpoint is
ignored (``expect_partial``).
"""

from __future__ import annotations

import os

from ..errors import ExportError

_NOT_THE_MODEL = {
    "optimizer",
    "save_counter",
    "_CHECKPOINTABLE_OBJECT_GRAPH",
    "step",
    "global_step",
    "epoch",
}


def _root_children(prefix: str) -> list[str]:
    """Names under the checkpoint's root object (e.g. ``model``, ``optimizer``)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    reader = tf.train.load_checkpoint(prefix)
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    return [child.local_name for child in graph.nodes[0].children] if graph.nodes else []


def restore(obj, checkpoint) -> str:
    """Restore ``checkpoint`` into ``obj``; returns the prefix (or file) restored."""
    import tensorflow as tf

    path = os.path.abspath(os.path.expanduser(os.fspath(checkpoint)))
    if path.endswith(".h5") and hasattr(obj, "load_weights"):
        if not os.path.exists(path):
            raise ExportError(f"checkpoint {path} does not exist: check the weights file.")
        try:
            obj.load_weights(path)
        except Exception as err:
            raise ExportError(
                f"checkpoint {path} does not fit the model: {type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''}"
            ) from None
        return path
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise ExportError(f"checkpoint directory {path} holds no checkpoint.")
        path = latest
    for suffix in (".index", ".meta"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    if ".data-" in os.path.basename(path):
        path = path[: path.rindex(".data-")]
    if not os.path.exists(path + ".index"):
        raise ExportError(
            f"checkpoint {path} does not exist (no {path}.index): pass the prefix that "
            "tf.train.Checkpoint.save() returned, e.g. 'ckpt/model-3'."
        )
    children = sorted(set(_root_children(path)) - _NOT_THE_MODEL)
    candidates = [("the root", lambda: tf.train.Checkpoint(root=obj))]
    candidates += [(repr(c), (lambda c=c: tf.train.Checkpoint(**{c: obj}))) for c in children]
    for _label, make in candidates:
        status = make().read(path)
        status.expect_partial()  # optimizer slots and counters are not the model's
        try:
            status.assert_nontrivial_match()
        except AssertionError:
            continue
        return path
    raise ExportError(
        f"checkpoint {path} does not match the {type(obj).__name__}: none of its objects "
        f"({', '.join(children) or 'root'}) restore the model's variables. Pass the object the "
        "checkpoint was saved from (same layers), or export the checkpoint's own model."
    )
