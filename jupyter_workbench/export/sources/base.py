"""What every source kind produces: an :class:`Exporter` that writes a SavedModel into a local
directory and computes the source's own outputs for verification.

TF2 sources (Keras 3, tf_keras, tf.Module functions, re-exported SavedModels) become
:class:`Endpoint` s written by :class:`TF2Exporter` through ``keras.export.ExportArchive`` without
``track(model)``: variables are collected from the traced functions, so each weight is stored
once (``model.export`` and ``track(model)`` store every weight twice, keras#23553).
"""

from __future__ import annotations

from ..errors import ExportError
from .naming import select_inputs, select_outputs

DEFAULT_SIGNATURE = "serving_default"
_RESERVED = {"variables", "trainable_variables", "non_trainable_variables", "signatures"}


class Exporter:
    """One source, ready to write. Subclasses set ``kind`` and ``signature_names``."""

    kind = ""

    def __init__(self):
        self.signature_names: list[str] = []

    @property
    def aliases(self) -> dict[str, str]:
        """``serving_default`` points at the first signature unless one is named so (TF
        Serving's default; keras.export does the same)."""
        if self.signature_names and DEFAULT_SIGNATURE not in self.signature_names:
            return {DEFAULT_SIGNATURE: self.signature_names[0]}
        return {}

    def prepare(self) -> None:
        """Trace functions / resolve tensors (the part that can take a while)."""

    def write(self, path: str, weights_dtype: str | None) -> None:
        raise NotImplementedError

    def reference(self, signature: str, feed: dict):
        """The source's outputs ``{name: ndarray}`` for ``feed``, or ``None`` if unknown."""
        raise NotImplementedError

    def close(self) -> None:
        pass


def flatten_with_names(structure, prefix: str = "") -> list[tuple[str, object]]:
    """``tf.nest.flatten`` order, with a name per leaf from dict keys (``a_b`` for nesting)."""
    from tensorflow.python.util import nest

    paths = nest.flatten_with_joined_string_paths(structure, separator="_")
    return [(prefix + p if p else prefix, leaf) for p, leaf in paths]


class Endpoint:
    """One signature of a TF2 source.

    ``call(*args)`` takes the packed positional arguments of the source (``arg_structure``)
    and returns its output structure; ``available`` lists ``(default_name, tf.TensorSpec)``
    for the flattened inputs; ``output_structure`` (any nest with the outputs' shape, e.g. a
    Functional model's outputs) spares a trace to discover the outputs. After ``prepare()``,
    ``serve(*tensors)`` returns ``{output_name: tensor}``: ExportArchive traces it once while
    writing, exactly like a hand-written endpoint.
    """

    def __init__(
        self,
        name,
        call,
        available,
        *,
        arg_structure=None,
        inputs=None,
        outputs=None,
        output_names=None,
        output_structure=None,
        source="the model",
    ):
        self.name = name
        self._call = call
        self._available = available
        self._arg_structure = arg_structure
        self._inputs = inputs
        self._outputs = outputs
        self._output_names = output_names
        self._output_structure = output_structure
        self.source = source
        self.specs = None
        self.serve = None
        self._traced = None

    def input_specs(self):
        import tensorflow as tf

        chosen = select_inputs([(n, s) for n, s in self._available], self._inputs, self.source)
        specs = []
        for i, (name, override) in enumerate(chosen):
            base = self._available[i][1] if i < len(self._available) else None
            dtype = base.dtype if base is not None else tf.float32
            shape = base.shape if base is not None else None
            if override is not None:
                odtype, oshape = override
                if odtype:
                    try:
                        dtype = tf.as_dtype(odtype)
                    except TypeError:
                        raise ExportError(
                            f"input {name!r}: {odtype!r} is not a TensorFlow dtype."
                        ) from None
                shape = oshape
            specs.append(tf.TensorSpec(shape, dtype, name=name))
        return specs

    def prepare(self) -> None:
        import tensorflow as tf

        specs = self.input_specs()
        structure = self._arg_structure

        def pack(flat):
            if structure is None:
                return list(flat)
            return tf.nest.pack_sequence_as(structure, list(flat))

        def call(*flat):
            return self._call(*pack(flat))

        outputs = self._output_structure
        if outputs is None:  # unknown outputs (subclassed models): trace once to see them
            traced = tf.function(call, input_signature=specs, autograph=False)
            try:
                outputs = traced.get_concrete_function().structured_outputs
            except ExportError:
                raise
            except Exception as err:
                raise ExportError(
                    f"tracing {self.source} for signature {self.name!r} failed: "
                    f"{type(err).__name__}: {_first_line(err)}"
                ) from err
            call = traced  # reuse the trace instead of tracing the model again
        leaves = flatten_with_names(outputs)
        if not leaves:
            raise ExportError(f"{self.source} returns no tensors for signature {self.name!r}.")
        defaults = [name or f"output_{i}" for i, (name, _leaf) in enumerate(leaves)]
        if self._output_names and len(self._output_names) == len(leaves):
            if not isinstance(outputs, dict):
                defaults = list(self._output_names)
        elif len(leaves) == 1 and not leaves[0][0]:
            defaults = ["output_0"]
        selection = select_outputs(defaults, self._outputs, self.source)

        def serve(*flat):
            out = tf.nest.flatten(call(*flat))
            return {new: tf.identity(out[i], name=new) for new, i in selection}

        self.specs = specs
        self.serve = serve

    def traced(self):
        """``serve`` as a traced tf.function (for verification and float16 rewriting)."""
        import tensorflow as tf

        if self._traced is None:
            self._traced = tf.function(self.serve, input_signature=self.specs, autograph=False)
            self._traced.get_concrete_function()
        return self._traced


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


class TF2Exporter(Exporter):
    """Writes TF2 endpoints with ``keras.export.ExportArchive`` (weights stored once)."""

    def __init__(self, kind: str, endpoints: list[Endpoint], track=()):
        super().__init__()
        self.kind = kind
        self.endpoints = endpoints
        self.track = list(track)
        self.signature_names = [ep.name for ep in endpoints]
        for name in self.signature_names:
            if name in _RESERVED:  # attributes of the archive's root object
                raise ExportError(f"signature name {name!r} is reserved: choose another name.")

    def prepare(self) -> None:
        for ep in self.endpoints:
            ep.prepare()

    def _endpoint(self, signature: str) -> Endpoint:
        signature = self.aliases.get(signature, signature)
        return next(ep for ep in self.endpoints if ep.name == signature)

    def write(self, path: str, weights_dtype: str | None) -> None:
        import keras

        archive = keras.export.ExportArchive()
        for resource in self.track:
            archive.track(resource)
        if weights_dtype == "float16":
            from ..freeze import halve_tf2

            # traced tf.functions whose input_signature names the inputs: the archive's fast
            # path takes them as they are.
            for name, fn in halve_tf2(self.endpoints).items():
                archive.add_endpoint(name, fn)
        else:
            for ep in self.endpoints:
                archive.add_endpoint(ep.name, ep.serve, input_signature=ep.specs)
        archive.write_out(path, verbose=False)

    def reference(self, signature: str, feed: dict):
        import tensorflow as tf

        ep = self._endpoint(signature)
        args = [tf.constant(feed[spec.name], dtype=spec.dtype) for spec in ep.specs]
        return {k: v.numpy() for k, v in ep.traced()(*args).items()}
