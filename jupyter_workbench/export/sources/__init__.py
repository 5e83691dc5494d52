"""Source kinds: turn whatever the user passed into an :class:`~.base.Exporter`.

One module per kind: :mod:`.keras` (Keras 3 / tf_keras models, ``.keras`` and ``.h5`` files),
:mod:`.module` (tf.Module / tf.function, several signatures), :mod:`.tf1` (Session, Saver
checkpoint with ``.meta``, graph-mode tf_keras), :mod:`.savedmodel` (existing SavedModel),
:mod:`.checkpoint` (``checkpoint=`` restore of TF2 checkpoints).
"""

from __future__ import annotations

import os

from ..errors import ExportError, require_tensorflow
from .base import Exporter

SUPPORTED = (
    "a Keras 3 or tf_keras model, a tf.Module with tf.functions, a tf.function, a "
    "tf.compat.v1.Session, or a path to a .keras file, a .h5 file, a SavedModel directory or a "
    "TF1 checkpoint prefix (with its .meta)"
)


def _eager_error(what: str) -> ExportError:
    return ExportError(
        f"eager execution is disabled in this process (tf.compat.v1.disable_eager_execution() "
        f"was called), and {what} can only be exported eagerly. Restart the kernel without "
        "disable_eager_execution(), or save the model (model.save('model.keras')) and export "
        "the file from a fresh process (jupyter workbench export model.keras DEST). TF1 "
        "Sessions, Saver checkpoints, tf_keras models and .h5 files work in graph mode."
    )


def _executing_eagerly() -> bool:
    import tensorflow as tf

    return tf.executing_eagerly()


def resolve(
    source, *, signature_name, inputs, outputs, signatures, checkpoint, weights_dtype
) -> Exporter:
    require_tensorflow()
    common = dict(
        signature_name=signature_name, inputs=inputs, outputs=outputs, signatures=signatures
    )
    if hasattr(source, "to_dict") and hasattr(source, "version") and hasattr(source, "path"):
        source = source.path  # an ExportResult: re-version it
    if isinstance(source, (str, os.PathLike)):
        return _resolve_path(
            os.fspath(source), checkpoint=checkpoint, weights_dtype=weights_dtype, **common
        )
    return _resolve_object(source, checkpoint=checkpoint, **common)


def _resolve_object(obj, *, checkpoint, **common) -> Exporter:
    from . import keras as keras_source
    from . import module as module_source
    from . import tf1

    if obj is None:
        raise ExportError(f"source is None: pass {SUPPORTED}.")
    is_model = keras_source.is_keras3_model(obj) or keras_source.is_tf_keras_model(obj)
    if tf1.is_session(obj):
        return tf1.exporter_for_session(obj, checkpoint=checkpoint, **common)
    eager = _executing_eagerly()
    if is_model and not eager:
        if keras_source.is_tf_keras_model(obj):
            if checkpoint:
                obj.load_weights(os.fspath(checkpoint))
            return tf1.exporter_for_graph_mode_keras(obj, **common)
        raise _eager_error("Keras 3 models")
    tf_object = (
        is_model
        or module_source.is_module(obj)
        or module_source.is_tf_function(obj)
        or module_source.is_concrete_function(obj)
    )
    if not tf_object:
        raise ExportError(
            f"cannot export a {type(obj).__module__}.{type(obj).__qualname__}: pass {SUPPORTED}."
        )
    if not eager:
        raise _eager_error("tf.Modules and tf.functions")
    # Built first (an unbuilt model gets its variables from the given shapes), then restored:
    # the traced functions read the variables, so restored values are what gets written.
    exporter = module_source.exporter_for_object(obj, **common)
    if checkpoint:
        from .checkpoint import restore

        restore(obj, checkpoint)
    return exporter


def _resolve_path(path: str, *, checkpoint, weights_dtype, **common) -> Exporter:
    from . import keras as keras_source
    from . import savedmodel, tf1

    if "://" in path and not path.startswith("file://"):
        found = savedmodel.find_saved_model(path)
        if found is None:
            raise ExportError(
                f"{path} is not a SavedModel (no saved_model.pb): from URLs only SavedModels "
                "can be re-exported; load other models in the notebook and pass the object."
            )
        return savedmodel.exporter_for_savedmodel(found, weights_dtype=weights_dtype, **common)
    path = os.path.abspath(os.path.expanduser(path.removeprefix("file://")))
    lower = path.lower()
    if os.path.isdir(path):
        found = savedmodel.find_saved_model(path)
        if found is not None:
            if checkpoint:
                raise ExportError(
                    "checkpoint= cannot be combined with a SavedModel source: the SavedModel "
                    "already holds its variables."
                )
            if not _executing_eagerly() and (
                common["inputs"] or common["outputs"] or common["signatures"] or weights_dtype
            ):
                raise _eager_error("converting a SavedModel")
            return savedmodel.exporter_for_savedmodel(found, weights_dtype=weights_dtype, **common)
        if os.path.exists(os.path.join(path, "checkpoint")):
            prefix = tf1.resolve_prefix(path)
            return tf1.exporter_for_checkpoint(prefix, checkpoint=checkpoint, **common)
        raise ExportError(
            f"{path} is a directory without a SavedModel (saved_model.pb) or a checkpoint: "
            f"pass {SUPPORTED}."
        )
    if lower.endswith(".keras"):
        keras_source.check_file(path)
        if not _executing_eagerly():
            raise _eager_error(".keras files (Keras 3)")
        model = keras_source.load_keras_file(path)
        return _resolve_object(model, checkpoint=checkpoint, **common)
    if lower.endswith((".h5", ".hdf5")):
        keras_source.check_file(path)
        model, _kind = keras_source.load_h5_file(path, graph_mode=not _executing_eagerly())
        return _resolve_object(model, checkpoint=checkpoint, **common)
    prefix = tf1.resolve_prefix(path)
    if os.path.exists(prefix + ".meta"):
        return tf1.exporter_for_checkpoint(prefix, checkpoint=checkpoint, **common)
    if os.path.exists(prefix + ".index"):
        raise ExportError(
            f"{prefix} is a checkpoint without a .meta graph (a TF2 checkpoint): build the model "
            f"in the notebook and pass it as the source with checkpoint='{prefix}'."
        )
    if not os.path.exists(path):
        raise ExportError(
            f"{path} does not exist: pass an existing .keras/.h5 file, SavedModel directory or "
            "checkpoint prefix."
        )
    raise ExportError(f"{path} is not a model file this library can read: pass {SUPPORTED}.")
