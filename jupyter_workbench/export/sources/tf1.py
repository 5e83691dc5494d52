"""TF1 sources: a ``tf.compat.v1.Session`` with tensors, or a Saver checkpoint prefix with its
``.meta`` graph; also tf_keras models when eager execution is disabled.

Written with the classic ``SavedModelBuilder`` path: ``predict_signature_def`` per signature and
``Saver(var_list=...)`` holding only the variables the outputs depend on, so optimizer slots
(Adam's m/v) and ``global_step`` are not saved. The graph itself is rebuilt from the frozen
outputs (:func:`..freeze.rebuild_tf1`) so that no training op or slot variable remains; graphs
with lookup tables or over 2 GB keep their full graph (still saving only the needed weights).

Several signatures: ``signatures={"predict": {"inputs": {...}, "outputs": {...}},
"classify": ({...}, {...})}`` (inputs/outputs map signature names to tensor names such as
``"x:0"`` or to tensors). Entries without ``inputs`` use the top-level ``inputs=``. An entry's
``"method": "classify"`` or ``"regress"`` writes TF Serving's classification/regression method
name (one string input of serialized ``tf.Example`` s; outputs ``classes``/``scores`` or
``outputs``), which its ``:classify``/``:regress`` APIs require.
"""

from __future__ import annotations

import difflib
import os

from ..errors import ExportError
from .base import Exporter
from .naming import check_name, sanitize

_VARIABLE_OPS = {"VariableV2", "Variable", "VarHandleOp", "AutoReloadVariable"}
_METHODS = {
    "predict": "tensorflow/serving/predict",
    "classify": "tensorflow/serving/classify",
    "regress": "tensorflow/serving/regress",
}


def is_session(obj) -> bool:
    import tensorflow as tf

    return isinstance(obj, tf.compat.v1.Session) or type(obj).__name__ == "InteractiveSession"


def _tensor(graph, ref, role: str, name: str):
    import tensorflow as tf

    if isinstance(ref, (tf.Tensor, tf.Variable)) and not isinstance(ref, str):
        tensor = ref.value() if isinstance(ref, tf.Variable) else ref
        if tensor.graph is not graph:
            raise ExportError(f"{role} {name!r}: the tensor belongs to another graph.")
        return tensor
    if not isinstance(ref, str):
        raise ExportError(f"{role} {name!r}={ref!r}: pass a tensor name such as 'x:0' or a tensor.")
    tensor_name = ref if ":" in ref else ref + ":0"
    try:
        return graph.get_tensor_by_name(tensor_name)
    except (KeyError, ValueError):
        pass
    op_names = [op.name for op in graph.get_operations()]
    close = difflib.get_close_matches(ref.split(":")[0], op_names, n=5)
    placeholders = [
        op.outputs[0].name for op in graph.get_operations() if op.type == "Placeholder"
    ][:10]
    hint = f" Did you mean {', '.join(t + ':0' for t in close)}?" if close else ""
    if role == "input" and placeholders:
        hint += f" The graph's placeholders are: {', '.join(placeholders)}."
    raise ExportError(f"{role} {name!r}: the graph has no tensor {ref!r}.{hint}")


def _tensor_map(graph, spec, role: str, what: str) -> dict:
    if spec is None or (hasattr(spec, "__len__") and len(spec) == 0):
        placeholders = [
            op.outputs[0].name for op in graph.get_operations() if op.type == "Placeholder"
        ][:10]
        example = "inputs={'image': 'x:0'}" if role == "input" else "outputs={'scores': 'y:0'}"
        extra = f" Placeholders in this graph: {', '.join(placeholders)}." if placeholders else ""
        raise ExportError(
            f"{what} needs {role} tensor names: pass e.g. {example} (--{role} NAME=TENSOR).{extra}"
        )
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, (list, tuple)):
        spec = {
            sanitize(getattr(r, "name", r).split(":")[0], f"{role}_{i}"): r
            for i, r in enumerate(spec)
        }
    if not isinstance(spec, dict):
        raise ExportError(f"{role}s={spec!r}: pass a dict {{name: tensor_name}}.")
    return {check_name(n, f"{role} name"): _tensor(graph, r, role, n) for n, r in spec.items()}


def _needed_variable_ops(outputs) -> set[str]:
    seen, stack, found = set(), [t.op for t in outputs], set()
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        if op.type in _VARIABLE_OPS:
            found.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return found


class TF1Exporter(Exporter):
    """A Session graph plus ``{signature: (inputs, outputs)}`` written with the Builder."""

    def __init__(
        self, sess, signature_map: dict, *, kind: str, owns_session: bool = False, methods=None
    ):
        super().__init__()
        self.methods = dict(methods or {})  # name -> TF Serving method name (default predict)
        self.kind = kind
        self.sess = sess
        self.signature_map = signature_map  # name -> (inputs dict, outputs dict) of tensors
        self.signature_names = list(signature_map)
        self._owns = owns_session

    @classmethod
    def build(
        cls, sess, *, signature_name, inputs, outputs, signatures, kind, what, owns_session=False
    ):
        graph = sess.graph
        if signatures:
            if not isinstance(signatures, dict):
                raise ExportError(
                    "signatures= must be a dict {name: {'inputs':..., 'outputs':...}}."
                )
            entries = {}
            methods = {}
            for name, entry in signatures.items():
                check_name(name, "signature name")
                if isinstance(entry, (tuple, list)) and len(entry) == 2:
                    sig_in, sig_out = entry
                elif isinstance(entry, dict):
                    sig_in, sig_out = entry.get("inputs", inputs), entry.get("outputs", outputs)
                    method = entry.get("method", "predict")
                    if method not in _METHODS:
                        raise ExportError(
                            f"signatures[{name!r}]['method']={method!r}: use predict, classify "
                            "or regress."
                        )
                    methods[name] = _METHODS[method]
                else:
                    raise ExportError(
                        f"signatures[{name!r}]: pass {{'inputs': {{...}}, 'outputs': {{...}}}} "
                        "or a pair (inputs, outputs) of tensor-name dicts."
                    )
                entries[name] = (sig_in, sig_out)
        else:
            methods = {}
            entries = {check_name(signature_name, "signature name"): (inputs, outputs)}
        signature_map = {
            name: (
                _tensor_map(graph, sig_in, "input", what),
                _tensor_map(graph, sig_out, "output", what),
            )
            for name, (sig_in, sig_out) in entries.items()
        }
        return cls(sess, signature_map, kind=kind, owns_session=owns_session, methods=methods)

    def _signature_defs(self, tensors=None):
        """SignatureDefs (plus aliases); ``tensors`` maps names to a rebuilt graph's tensors."""
        import tensorflow as tf

        def tensor(t):
            return t if tensors is None else tensors[t.name]

        defs = {}
        for name, (ins, outs) in self.signature_map.items():
            defs[name] = tf.compat.v1.saved_model.predict_signature_def(
                {k: tensor(t) for k, t in ins.items()}, {k: tensor(t) for k, t in outs.items()}
            )
            if name in self.methods:
                defs[name].method_name = self.methods[name]
        for alias, target in self.aliases.items():
            defs[alias] = defs[target]
        return defs

    def _all_tensors(self):
        return [
            t for ins, outs in self.signature_map.values() for t in [*ins.values(), *outs.values()]
        ]

    def write(self, path: str, weights_dtype: str | None) -> None:
        import tensorflow as tf

        from ..freeze import rebuild_tf1

        graph = self.sess.graph
        outputs = [t for _ins, outs in self.signature_map.values() for t in outs.values()]
        needed = _needed_variable_ops(outputs)
        with graph.as_default():
            has_tables = bool(
                tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.TABLE_INITIALIZERS)
            )
        if not has_tables:
            # A clean graph: inference ops and the needed variables only (float16 if asked).
            names = sorted({t.name for t in self._all_tensors()})
            try:
                new_graph, new_sess, saver, tensors = rebuild_tf1(
                    self.sess, needed, names, weights_dtype
                )
            except ValueError:
                if weights_dtype == "float16":
                    raise ExportError(
                        "weights_dtype='float16' could not rebuild this TF1 graph (over 2 GB, or "
                        "a signature input the outputs do not use): export float32 weights."
                    ) from None
            else:
                try:
                    with new_graph.as_default():
                        self._build(path, new_sess, saver, self._signature_defs(tensors))
                finally:
                    new_sess.close()
                return
        elif weights_dtype == "float16":
            raise ExportError("weights_dtype='float16' does not support TF1 graphs with tables.")
        # The whole graph, saving only the variables the outputs need (no optimizer slots).
        with graph.as_default():
            by_op = {}
            for var in (
                tf.compat.v1.global_variables()
                + tf.compat.v1.local_variables()
                + tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.MODEL_VARIABLES)
            ):
                by_op.setdefault(var.op.name, var)
            var_list = {}
            for op_name in sorted(needed):
                var_list[op_name] = by_op.get(
                    op_name, graph.get_operation_by_name(op_name).outputs[0]
                )
            saver = tf.compat.v1.train.Saver(var_list=var_list, allow_empty=True)
            self._build(path, self.sess, saver, self._signature_defs())

    @staticmethod
    def _build(path, sess, saver, signature_defs) -> None:
        import tensorflow as tf

        tables = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.TABLE_INITIALIZERS)
        main_op = tf.group(*tables) if tables else None
        builder = tf.compat.v1.saved_model.Builder(path)
        builder.add_meta_graph_and_variables(
            sess,
            [tf.saved_model.SERVING],
            signature_def_map=signature_defs,
            strip_default_attrs=True,
            saver=saver,
            main_op=main_op,
        )
        builder.save()

    def reference(self, signature: str, feed: dict):
        signature = self.aliases.get(signature, signature)
        ins, outs = self.signature_map[signature]
        feed_dict = {t: feed[name] for name, t in ins.items()}
        return self.sess.run(dict(outs), feed_dict=feed_dict)

    def close(self) -> None:
        if self._owns:
            self.sess.close()


def resolve_prefix(path: str) -> str:
    """A Saver checkpoint prefix from a prefix, its ``.meta``/``.index`` file or its directory."""
    import tensorflow as tf

    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise ExportError(f"{path} has no checkpoint: pass a checkpoint prefix.")
        return latest
    for suffix in (".meta", ".index"):
        if path.endswith(suffix):
            return path[: -len(suffix)]
    if ".data-" in os.path.basename(path):
        return path[: path.rindex(".data-")]
    return path


def exporter_for_checkpoint(
    prefix: str, *, checkpoint, signature_name, inputs, outputs, signatures
) -> TF1Exporter:
    """Import ``prefix.meta`` into a fresh graph, restore ``checkpoint or prefix``."""
    import tensorflow as tf

    meta = prefix + ".meta"
    if not os.path.exists(meta):
        raise ExportError(
            f"{meta} does not exist: a TF1 checkpoint needs its .meta graph. For a TF2 "
            "checkpoint, pass the model object as the source and the prefix as checkpoint=."
        )
    restore_from = resolve_prefix(os.fspath(checkpoint)) if checkpoint else prefix
    if not os.path.exists(restore_from + ".index"):
        raise ExportError(f"checkpoint {restore_from} does not exist (no {restore_from}.index).")
    graph = tf.Graph()
    sess = tf.compat.v1.Session(graph=graph)
    try:
        with graph.as_default():
            saver = tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
            if saver is None:
                raise ExportError(f"{meta} has no variables to restore.")
            saver.restore(sess, restore_from)
        return TF1Exporter.build(
            sess,
            signature_name=signature_name,
            inputs=inputs,
            outputs=outputs,
            signatures=signatures,
            kind="tf1_checkpoint",
            what=f"the TF1 checkpoint {prefix}",
            owns_session=True,
        )
    except BaseException:
        sess.close()
        raise


def restore_into_session(sess, checkpoint) -> None:
    import tensorflow as tf

    prefix = resolve_prefix(os.fspath(checkpoint))
    if not os.path.exists(prefix + ".index"):
        raise ExportError(f"checkpoint {prefix} does not exist (no {prefix}.index).")
    with sess.graph.as_default():
        tf.compat.v1.train.Saver().restore(sess, prefix)


def exporter_for_session(
    sess,
    *,
    checkpoint,
    signature_name,
    inputs,
    outputs,
    signatures,
    kind="tf1_session",
    what="the Session's graph",
) -> TF1Exporter:
    if checkpoint:
        restore_into_session(sess, checkpoint)
    return TF1Exporter.build(
        sess,
        signature_name=signature_name,
        inputs=inputs,
        outputs=outputs,
        signatures=signatures,
        kind=kind,
        what=what,
    )


def exporter_for_graph_mode_keras(model, *, signature_name, inputs, outputs, signatures):
    """A tf_keras model in a process where eager execution is disabled: the classic
    ``get_session()`` + Builder recipe."""
    from .naming import select_inputs, select_outputs

    try:
        from tf_keras.src.backend import get_session
    except ImportError:  # pragma: no cover - older layouts
        import tensorflow as tf

        get_session = tf.compat.v1.keras.backend.get_session
    sess = get_session()
    in_names = list(model.input_names)
    out_names = list(model.output_names)
    what = f"Keras model {model.name!r}"
    chosen_in = select_inputs([(n, None) for n in in_names], inputs, what)
    ins = {new: model.inputs[i] for i, (new, _spec) in enumerate(chosen_in)}
    outs = {new: model.outputs[i] for new, i in select_outputs(out_names, outputs, what)}
    if signatures:
        raise ExportError(
            "signatures= is not supported for Keras models in graph mode: export one signature."
        )
    return TF1Exporter(sess, {signature_name: (ins, outs)}, kind="tf_keras")
