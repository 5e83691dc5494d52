"""Freeze and rebuild serving graphs: float16 weight storage, and clean TF1 graphs.

The serving function (or TF1 graph) is frozen (variables become constants, control flow kept
functional), each variable's constant is replaced by a tiny placeholder constant, and the
frozen graph is re-imported with an ``input_map`` that feeds those constants from new
variables: ``tf.cast(float16_variable, float32)`` for ``weights_dtype="float16"`` (every weight
stored once in half the bytes, computing as before apart from the rounding of the weights,
relative error ~1e-4), or plain variables for TF1 graphs (only what the outputs need).
"""

from __future__ import annotations

import numpy as np

from .errors import ExportError

_FLOATS = ("float32", "float64")


def _dummy(node, np_dtype) -> None:
    import tensorflow as tf

    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.zeros((), dtype=np_dtype)))


def halve_tf2(endpoints) -> dict:
    """``{signature: tf.function}`` computing like ``ep.fn`` from float16 copies of its
    float variables (shared between signatures)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2_as_graph,
    )

    halves: dict[int, tf.Variable] = {}
    result = {}
    for ep in endpoints:
        concrete = ep.traced().get_concrete_function()
        variables = {id(v.handle): v for v in concrete.variables}
        by_placeholder = {}
        for external, internal in concrete.graph.captures:
            if external.dtype != tf.resource:
                continue
            var = variables.get(id(external))
            if var is None:
                raise ExportError(
                    f"weights_dtype='float16' supports models whose state is variables only; "
                    f"signature {ep.name!r} also uses a resource such as a lookup table. Export "
                    "it with float32 weights."
                )
            by_placeholder[internal.op.name] = var
        _frozen, graph_def = convert_variables_to_constants_v2_as_graph(
            concrete, lower_control_flow=False
        )
        feeds = {}
        for node in graph_def.node:
            var = by_placeholder.get(node.name)
            if var is None or node.op != "Const":
                continue
            if var.dtype.name in _FLOATS:
                if id(var) not in halves:
                    halves[id(var)] = tf.Variable(
                        tf.cast(var, tf.float16), trainable=False, name=var.name.split(":")[0]
                    )
                feeds[node.name + ":0"] = (halves[id(var)], var.dtype)
            else:
                feeds[node.name + ":0"] = (var, None)
            _dummy(node, var.dtype.as_numpy_dtype)
        input_names = [t.name for t in concrete.inputs[: len(ep.specs)]]
        output_keys = tf.nest.flatten({k: k for k in concrete.structured_outputs})
        output_names = [t.name for t in concrete.outputs]
        result[ep.name] = _reimport(
            graph_def, ep.specs, input_names, feeds, output_keys, output_names
        )
    return result


def _reimport(graph_def, specs, input_names, feeds, output_keys, output_names):
    import tensorflow as tf

    def serve(*args):
        input_map = dict(zip(input_names, args, strict=True))
        for name, (var, dtype) in feeds.items():
            input_map[name] = tf.cast(var, dtype) if dtype is not None else var.read_value()
        outs = tf.graph_util.import_graph_def(
            graph_def, input_map=input_map, return_elements=output_names, name="frozen"
        )
        return {key: tf.identity(t, name=key) for key, t in zip(output_keys, outs, strict=True)}

    fn = tf.function(serve, input_signature=specs, autograph=False)
    fn.get_concrete_function()
    return fn


def rebuild_tf1(sess, variable_ops, tensor_names, weights_dtype=None):
    """A clean serving graph computing ``tensor_names`` like ``sess`` does.

    Returns ``(graph, session, saver, tensors)``: the graph holds only the inference ops and
    one variable per weight the outputs need (``float16`` when asked, cast back to the original
    dtype), ``saver`` saves them under their original names and ``tensors`` maps each requested
    name to its tensor in the new graph. No training ops, optimizer slots or ``global_step``
    remain, so the SavedModel also reloads (and re-exports) cleanly in TF2. Raises
    ``ValueError`` when the graph cannot be frozen (over 2 GB, or inputs the outputs do not
    depend on).
    """
    import tensorflow as tf

    outputs = sorted({n.split(":")[0] for n in tensor_names})
    frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
        sess, sess.graph.as_graph_def(), outputs
    )
    values = {}
    for node in frozen.node:
        if node.name in variable_ops and node.op == "Const":
            values[node.name] = tf.make_ndarray(node.attr["value"].tensor)
            _dummy(node, values[node.name].dtype)
    graph = tf.Graph()
    with graph.as_default():
        input_map, saved, inits = {}, {}, {}
        with tf.compat.v1.name_scope("weights"):
            for name, value in values.items():
                half = weights_dtype == "float16" and value.dtype.name in _FLOATS
                stored = value.astype(np.float16) if half else value
                placeholder = tf.compat.v1.placeholder(stored.dtype, stored.shape)
                var = tf.compat.v1.Variable(placeholder, trainable=False, use_resource=True)
                inits[placeholder] = stored
                saved[name] = var
                read = var.read_value()
                input_map[name + ":0"] = tf.cast(read, value.dtype) if half else read
        imported = tf.graph_util.import_graph_def(
            frozen, input_map=input_map, return_elements=list(tensor_names), name=""
        )
        session = tf.compat.v1.Session(graph=graph)
        session.run([v.initializer for v in saved.values()], feed_dict=inits)
        saver = tf.compat.v1.train.Saver(var_list=saved, allow_empty=True)
    return graph, session, saver, dict(zip(tensor_names, imported, strict=True))
