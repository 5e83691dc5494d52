"""tf.Module sources: traced ``tf.function`` s (with ``input_signature`` or traced once),
concrete functions, and several signatures from one module or model.

Multiple signatures (TF Serving's ``predict`` / ``classify`` pattern) are given with
``signatures={"predict": module.predict, "classify": module.classify}``; an entry may also be a
Keras model, a plain callable (which then takes the source model's inputs) or a dict
``{"fn": f, "inputs": ..., "outputs": ...}`` to rename that signature's inputs and outputs.
"""

from __future__ import annotations

from ..errors import ExportError
from .base import Endpoint, TF2Exporter
from .naming import check_name, sanitize

_PREFERRED = ("serve", "serving_default", "__call__", "call")


def is_tf_function(obj) -> bool:
    import tensorflow as tf

    return isinstance(obj, tf.types.experimental.PolymorphicFunction)


def is_concrete_function(obj) -> bool:
    import tensorflow as tf

    return isinstance(obj, tf.types.experimental.ConcreteFunction)


def is_module(obj) -> bool:
    import tensorflow as tf

    return isinstance(obj, (tf.Module, tf.__internal__.tracking.AutoTrackable))


def module_functions(module) -> dict:
    """``{attribute: tf.function}`` of a module (methods decorated with tf.function and
    tf.function attributes)."""
    found = {}
    for name in dir(type(module)):
        if is_tf_function(getattr(type(module), name, None)):
            found[name] = getattr(module, name)
    for name, value in vars(module).items():
        if not name.startswith("_") and is_tf_function(value):
            found[name] = value
    return found


def default_function(module):
    functions = module_functions(module)
    for name in _PREFERRED:
        if name in functions:
            return functions[name]
    if len(functions) == 1:
        return next(iter(functions.values()))
    if not functions:
        raise ExportError(
            f"the {type(module).__name__} module has no tf.function to export: decorate its "
            "serving method with @tf.function(input_signature=[tf.TensorSpec(...)])."
        )
    raise ExportError(
        f"the {type(module).__name__} module has several tf.functions ({', '.join(functions)}): "
        "pick one with signatures={'serving_default': module.<name>} (several are allowed)."
    )


def concrete_function(fn, what: str):
    """The one concrete function of a tf.function (from its input_signature or its only trace)."""
    if is_concrete_function(fn):
        return fn
    if getattr(fn, "input_signature", None) is not None:
        return fn.get_concrete_function()
    traces = list(fn._list_all_concrete_functions_for_serialization())
    if len(traces) == 1:
        return traces[0]
    if not traces:
        raise ExportError(
            f"{what} has never been called and has no input_signature: decorate it with "
            "@tf.function(input_signature=[tf.TensorSpec(shape, dtype)]) or call it once."
        )
    raise ExportError(
        f"{what} was traced for {len(traces)} different input shapes: give it an "
        "input_signature so that one serving signature can be exported."
    )


def function_endpoint(fn, name: str, inputs=None, outputs=None, what=None) -> Endpoint:
    import tensorflow as tf

    what = what or f"tf.function {getattr(fn, '__name__', '') or name!r}"
    concrete = concrete_function(fn, what)
    args, kwargs = concrete.structured_input_signature
    if kwargs:
        raise ExportError(f"{what} takes keyword-only tensors: use positional arguments.")
    flat = tf.nest.flatten(args)
    placeholder_names = [t.name.split(":")[0] for t in concrete.inputs[: len(flat)]]
    available = []
    for i, spec in enumerate(flat):
        default = placeholder_names[i] if i < len(placeholder_names) else f"input_{i}"
        input_name = sanitize(getattr(spec, "name", None) or default, f"input_{i}")
        available.append((input_name, tf.TensorSpec(spec.shape, spec.dtype, name=input_name)))

    def call(*packed):
        return concrete(*packed)

    return Endpoint(
        name,
        call,
        available,
        arg_structure=list(args),
        inputs=inputs,
        outputs=outputs,
        output_structure=concrete.structured_outputs,
        source=what,
    )


def callable_endpoint(fn, name, inputs, outputs, template: Endpoint | None) -> Endpoint:
    """A plain Python callable; it takes the source model's inputs unless shapes are given."""
    available = template._available if template is not None else []
    structure = template._arg_structure if template is not None else None
    if template is None and not (isinstance(inputs, dict) and inputs):
        raise ExportError(
            f"signature {name!r}: {fn!r} is a plain Python function with unknown inputs: "
            "decorate it with @tf.function(input_signature=[...]) or give its inputs as shapes, "
            "e.g. {'fn': f, 'inputs': {'x': (None, 784)}}."
        )
    return Endpoint(
        name,
        fn,
        available,
        arg_structure=structure,
        inputs=inputs if inputs is not None else (template._inputs if template else None),
        outputs=outputs,
        source=f"signature {name!r}",
    )


def entry_endpoint(name, entry, default_fn, inputs, outputs, template) -> Endpoint:
    """One ``signatures=`` entry (or the default signature when ``entry`` is the source)."""
    from .keras import is_keras3_model, is_tf_keras_model, model_endpoint

    check_name(name, "signature name")
    if isinstance(entry, dict):
        unknown = set(entry) - {"fn", "inputs", "outputs"}
        if unknown:
            raise ExportError(
                f"signatures[{name!r}] has unknown keys {sorted(unknown)}: use 'fn', 'inputs' "
                "and 'outputs'."
            )
        fn = entry.get("fn", default_fn)
        inputs = entry.get("inputs", inputs)
        outputs = entry.get("outputs", outputs)
    else:
        fn = entry
    if is_keras3_model(fn) or is_tf_keras_model(fn):
        return model_endpoint(fn, name, inputs, outputs)
    if is_tf_function(fn) or is_concrete_function(fn):
        return function_endpoint(fn, name, inputs, outputs)
    if is_module(fn):
        return function_endpoint(default_function(fn), name, inputs, outputs)
    if callable(fn):
        return callable_endpoint(fn, name, inputs, outputs, template)
    raise ExportError(
        f"signatures[{name!r}]={fn!r} is not exportable: pass a tf.function, a Keras model, a "
        "callable or a dict {'fn': ..., 'inputs': ..., 'outputs': ...}."
    )


def exporter_for_object(obj, *, signature_name, inputs, outputs, signatures) -> TF2Exporter:
    """Keras models, tf.Modules and functions, with one or several signatures."""
    from .keras import is_keras3_model, is_tf_keras_model, model_endpoint, tables_to_track

    is_model = is_keras3_model(obj) or is_tf_keras_model(obj)
    track = tables_to_track(obj) if is_model else ([obj] if is_module(obj) else [])
    if is_model:
        kind = "keras" if is_keras3_model(obj) else "tf_keras"
    else:
        kind = "module" if is_module(obj) else "function"
    if not signatures:
        ep = entry_endpoint(signature_name, obj, None, inputs, outputs, None)
        return TF2Exporter(kind, [ep], track=track)
    if not isinstance(signatures, dict):
        raise ExportError("signatures= must be a dict {signature_name: function_or_model_or_dict}.")
    template = model_endpoint(obj, "template", inputs) if is_model else None
    default_fn = obj  # for entries that only rename: {'outputs': ...}
    endpoints = [
        entry_endpoint(name, entry, default_fn, inputs, outputs, template)
        for name, entry in signatures.items()
    ]
    return TF2Exporter(kind, endpoints, track=track)
