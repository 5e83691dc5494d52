"""Keras sources: Keras 3 and tf_keras (Keras 2) models, ``.keras`` files and legacy ``.h5``.

Each model becomes a :class:`~.base.Endpoint` calling ``model(inputs, training=False)``; only
variable-free layers (e.g. ``StringLookup``) are tracked, so their lookup tables are exported
while every weight is written once.
"""

from __future__ import annotations

import os
import sys
import zipfile

from ..errors import ExportError
from .base import Endpoint, TF2Exporter, _first_line
from .naming import sanitize


def is_keras3_model(obj) -> bool:
    keras = sys.modules.get("keras")
    model_cls = getattr(keras, "Model", None) if keras is not None else None
    return model_cls is not None and isinstance(obj, model_cls)


def is_tf_keras_model(obj) -> bool:
    for name in ("tf_keras", "tensorflow.python.keras"):
        module = sys.modules.get(name)
        model_cls = getattr(module, "Model", None) if module is not None else None
        if model_cls is not None and isinstance(obj, model_cls):
            return True
    return False


def describe_model(model) -> str:
    return f"Keras model {getattr(model, 'name', '?')!r} ({type(model).__name__})"


def unbuilt_error(model) -> ExportError:
    return ExportError(
        f"the {describe_model(model)} has not been built, so its input shape is unknown: call "
        "it once on a batch (model(x)) before exporting, or pass the input signature, e.g. "
        "inputs={'x': (None, 28, 28)} (--input x=float32[None,28,28])."
    )


# --------------------------------------------------------------------------- inputs


def _keras3_inputs(model):
    """(arg_structure, [(name, TensorSpec)]) or None when the model has not been built."""
    import tensorflow as tf

    try:
        from keras.src.export.export_utils import get_input_signature
    except ImportError:  # pragma: no cover - keras reorganised
        get_input_signature = None
    if get_input_signature is None or not model.built:
        return None
    try:
        signature = get_input_signature(model)
    except (ValueError, TypeError):
        return None
    arg_names = []
    shapes = getattr(model, "_build_shapes_dict", None) or {}
    if len(shapes) == len(signature):
        arg_names = [k[: -len("_shape")] if k.endswith("_shape") else k for k in shapes]
    flat = tf.nest.flatten(signature)
    available = []
    for i, spec in enumerate(flat):
        default = arg_names[i] if len(arg_names) == len(flat) else f"input_{i}"
        if len(flat) == 1 and not arg_names:
            default = "inputs"
        name = sanitize(getattr(spec, "name", None) or default, f"input_{i}")
        shape = tuple(spec.shape) if spec.shape is not None else None
        available.append((name, tf.TensorSpec(shape, spec.dtype or "float32", name=name)))
    return list(signature), available


def _tf_keras_inputs(model):
    import tensorflow as tf

    try:
        spec = model.save_spec(dynamic_batch=True)
    except Exception:
        spec = None
    if not spec:
        return None
    args, _kwargs = spec
    flat = tf.nest.flatten(args)
    input_names = list(getattr(model, "input_names", None) or [])
    available = []
    for i, s in enumerate(flat):
        default = input_names[i] if len(input_names) == len(flat) else f"input_{i}"
        name = sanitize(s.name or default, f"input_{i}")
        available.append((name, tf.TensorSpec(s.shape, s.dtype, name=name)))
    return list(args), available


def _output_names(model, flavor: str):
    names = getattr(model, "output_names", None)
    if names:
        return [str(n) for n in names]
    layers = getattr(model, "layers", None)
    if flavor == "keras3" and type(model).__name__ == "Sequential" and layers:
        return [layers[-1].name]
    return None


def _output_structure(model, flavor: str):
    """The nest of a Functional/Sequential model's outputs (no trace needed), else None."""
    defining = next((c for c in type(model).__mro__ if "call" in vars(c)), None)
    if defining is None or defining.__name__ not in ("Functional", "Sequential"):
        return None  # subclassed: the call may return anything
    if flavor == "keras3":
        if defining.__name__ == "Sequential":
            return 0  # one tensor
        return getattr(model, "_outputs_struct", None)
    return getattr(model, "_nested_outputs", None)


def _build_with(model, specs) -> None:
    """Create an unbuilt model's variables eagerly from user-given shapes."""
    import numpy as np
    import tensorflow as tf

    def sample(spec):
        shape = [1 if d is None else d for d in spec.shape]
        if spec.dtype == tf.string:
            return tf.constant(np.full(shape, b"", dtype=object), dtype=tf.string)
        return tf.zeros(shape, spec.dtype)

    args = [sample(s) for s in specs]
    try:
        model(*args, training=False)
    except Exception as err:
        raise ExportError(
            f"building the {describe_model(model)} from inputs "
            f"{[(s.name, tuple(s.shape)) for s in specs]} failed: {_first_line(err)}"
        ) from err


def model_endpoint(model, name: str, inputs=None, outputs=None) -> Endpoint:
    """An Endpoint for a built (or buildable from ``inputs`` shapes) Keras model."""
    from .naming import parse_spec

    flavor = "keras3" if is_keras3_model(model) else "tf_keras"
    found = _keras3_inputs(model) if flavor == "keras3" else _tf_keras_inputs(model)
    source = describe_model(model)
    if found is None:
        specs_given = (
            isinstance(inputs, dict)
            and inputs
            and all(parse_spec(v) is not None for v in inputs.values())
        )
        if not specs_given:
            raise unbuilt_error(model)
        probe = Endpoint(name, None, [], inputs=inputs, source=source)
        _build_with(model, probe.input_specs())
        found = _keras3_inputs(model) if flavor == "keras3" else _tf_keras_inputs(model)
        if found is None:
            # Subclassed models may not record shapes: call with one tensor per given input.
            specs = probe.input_specs()
            found = (None, [(s.name, s) for s in specs])
    structure, available = found

    def call(*args):
        return model(*args, training=False)

    return Endpoint(
        name,
        call,
        available,
        arg_structure=structure,
        inputs=inputs,
        outputs=outputs,
        output_names=_output_names(model, flavor),
        output_structure=_output_structure(model, flavor),
        source=source,
    )


def tables_to_track(model) -> list:
    """Variable-free sublayers (lookup layers hold tables, not variables): tracking them exports
    their tables without storing any weight a second time."""
    if is_tf_keras_model(model):
        return [model]  # tf_keras models are plain Trackables for the archive: resources only
    layers = []
    try:
        sublayers = model._flatten_layers(include_self=False, recursive=True)
    except Exception:
        sublayers = getattr(model, "layers", [])
    for layer in sublayers:
        if not layer.weights:
            layers.append(layer)
    return layers


def exporter_for_model(model, *, signature_name, inputs, outputs) -> TF2Exporter:
    kind = "keras" if is_keras3_model(model) else "tf_keras"
    ep = model_endpoint(model, signature_name, inputs, outputs)
    return TF2Exporter(kind, [ep], track=tables_to_track(model))


# --------------------------------------------------------------------------- files


def load_keras_file(path: str):
    """A ``.keras`` file with Keras 3 (``compile=False``: no optimizer state is loaded)."""
    import keras

    try:
        # safe_mode=False: the user's own file may contain Lambda layers.
        return keras.saving.load_model(path, compile=False, safe_mode=False)
    except Exception as err:
        raise ExportError(
            f"{path} could not be loaded with Keras 3 ({type(err).__name__}: {_first_line(err)}). "
            "If it uses custom layers, import or define them first, or export the model object "
            "from the notebook instead of the file."
        ) from err


def load_h5_file(path: str, graph_mode: bool = False):
    """A legacy ``.h5`` model: Keras 3 first, tf_keras where Keras 3 cannot read it (e.g. an
    LSTM saved by tf_keras). Returns ``(model, kind)``."""
    errors = []
    if not graph_mode:
        import keras

        try:
            return keras.saving.load_model(path, compile=False, safe_mode=False), "keras"
        except Exception as err:
            errors.append(f"Keras 3: {type(err).__name__}: {_first_line(err)}")
    try:
        import tf_keras
    except ImportError:
        raise ExportError(
            f"{path} could not be loaded ({'; '.join(errors)}) and tf_keras (Keras 2, which reads "
            "every legacy .h5) is not installed: pip install --no-deps tf_keras==2.21.0."
        ) from None
    try:
        return tf_keras.models.load_model(path, compile=False), "tf_keras"
    except Exception as err:
        errors.append(f"tf_keras: {type(err).__name__}: {_first_line(err)}")
    raise ExportError(f"{path} could not be loaded as a Keras model: {'; '.join(errors)}.")


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def check_file(path: str) -> str:
    """The model file exists and looks like its kind (a ``.keras`` file is a zip archive, a
    ``.h5`` an HDF5 file): checked before TensorFlow is imported, so a wrong file fails in
    milliseconds with a message that says what it is not."""
    if not os.path.exists(path):
        raise ExportError(f"{path} does not exist: check the model path.")
    if os.path.isfile(path):
        with open(path, "rb") as f:
            head = f.read(8)
        lower = path.lower()
        if lower.endswith(".keras") and not zipfile.is_zipfile(path):
            raise ExportError(
                f"{path} is not a Keras 3 model file: a .keras file is a zip archive written "
                "by model.save('name.keras'); this one is not (a renamed or truncated file?)."
            )
        if lower.endswith((".h5", ".hdf5")) and head != _HDF5_SIGNATURE:
            raise ExportError(
                f"{path} is not an HDF5 model file: a .h5 model starts with the HDF5 "
                "signature, written by model.save('name.h5'); this one does not."
            )
    return path
