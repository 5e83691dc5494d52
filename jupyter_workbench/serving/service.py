"""The requests TF Serving answers, shared by the REST and gRPC front ends (TensorFlow process).

REST bodies are decoded by :mod:`.codec` into numpy arrays; gRPC requests carry TensorProtos and
tf.Example protos. Both end in :meth:`Servable.run`, so the two front ends cannot disagree.
Warmup records (``PredictionLog``) are replayed through the gRPC request path, as TF Serving does.
"""

from __future__ import annotations

import numpy as np

from . import codec, tensors
from .model import (
    CLASSIFY_METHOD,
    INIT_OP,
    MAX_WARMUP_RECORDS,
    REGRESS_METHOD,
    WARMUP_FILE,
    ModelManager,
    Servable,
)
from .status import FailedPrecondition, InvalidArgument, NotFound


class ServingCore:
    def __init__(self, manager: ModelManager):
        self.manager = manager

    # ------------------------------------------------------------------ REST (JSON in, JSON out)

    def rest_status(self, name, version=None, label=None) -> dict:
        return {"model_version_status": self.manager.status(name, version, label)}

    def rest_metadata(self, name, version=None, label=None) -> dict:
        from google.protobuf import json_format

        servable = self.manager.servable(name, version, label)
        sigmap = self._signature_def_map(servable)
        return {
            "model_spec": {
                "name": name,
                "signature_name": "",
                "version": str(servable.version),
            },
            "metadata": {
                "signature_def": json_format.MessageToDict(
                    sigmap,
                    preserving_proto_field_name=True,
                    always_print_fields_with_no_presence=True,
                )
            },
        }

    def rest_predict(self, name, version, label, body: bytes) -> dict:
        return _run_one(self.rest_predict_prepare(name, version, label, body))

    def rest_predict_prepare(self, name, version, label, body: bytes) -> tuple:
        """Decode and check a ``:predict`` body (no TensorFlow call yet): what
        :meth:`predict_many` runs (its result: the response document). Bad input raises here."""
        doc = codec.loads(body)
        servable = self.manager.servable(name, version, label)
        signature = servable.signature(_signature_name(doc))
        specs = servable.inputs[signature]
        arrays, fmt = codec.parse_predict(doc, {k: (v[0], v[1]) for k, v in specs.items()})
        feed = servable.prepare(signature, arrays)
        return servable, signature, feed, lambda out: codec.predict_response(out, fmt)

    @staticmethod
    def predict_many(prepared: list[tuple]) -> list:
        """Run prepared predict requests of both front ends (:meth:`rest_predict_prepare`,
        :meth:`grpc_predict_prepare`), those of one signature as one batch: the response, or
        the exception, of each."""
        results: list = [None] * len(prepared)
        groups: dict[tuple, list[int]] = {}
        for i, (servable, signature, _feed, _respond) in enumerate(prepared):
            groups.setdefault((id(servable), signature), []).append(i)
        for indexes in groups.values():
            servable, signature = prepared[indexes[0]][:2]
            outs = servable.run_prepared(signature, [prepared[i][2] for i in indexes])
            for i, out in zip(indexes, outs, strict=True):
                if isinstance(out, Exception):
                    results[i] = out
                    continue
                try:
                    results[i] = prepared[i][3](out)
                except Exception as err:
                    results[i] = err
        return results

    def rest_classify_regress(self, name, version, label, method, body: bytes) -> dict:
        from tensorflow.core.example import example_pb2

        doc = codec.loads(body)
        servable = self.manager.servable(name, version, label)
        signature = servable.signature(_signature_name(doc))
        examples, context = codec.parse_examples(doc)
        serialized = []
        for ex in examples:
            proto = example_pb2.Example()
            for key, value in {**context, **ex}.items():
                kind, values = codec.feature_values(value, key)
                feature = proto.features.feature[key]
                getattr(feature, f"{kind}_list").value.extend(values)
            serialized.append(proto.SerializeToString())
        if method == "classify":
            classes, scores = self._classify(servable, signature, serialized)
            result = []
            for i in range(len(serialized)):
                row_scores = scores[i] if scores is not None else None
                row_classes = classes[i] if classes is not None else None
                k = len(row_scores) if row_scores is not None else len(row_classes)
                result.append(
                    [
                        [
                            row_classes[j].decode("utf-8", "replace")
                            if row_classes is not None
                            else "",
                            float(row_scores[j]) if row_scores is not None else 0.0,
                        ]
                        for j in range(k)
                    ]
                )
            return {"result": result}
        values = self._regress(servable, signature, serialized)
        return {"result": [float(v) for v in values]}

    # ------------------------------------------------------------------ shared pieces

    @staticmethod
    def _signature_def_map(servable: Servable):
        from tensorflow_serving.apis import get_model_metadata_pb2

        sigmap = get_model_metadata_pb2.SignatureDefMap()
        for key, sig in servable.signature_defs.items():
            sigmap.signature_def[key].CopyFrom(sig)
        return sigmap

    @staticmethod
    def _example_input(servable: Servable, signature: str, method: str, what: str) -> str:
        actual = servable.method(signature)
        if actual != method:
            raise FailedPrecondition(
                f"Expected {what} signature method_name to be {method}. Was: {actual or '(none)'}"
                f" (signature '{signature}')"
            )
        inputs = servable.inputs[signature]
        if len(inputs) != 1:
            raise FailedPrecondition(
                f"Expected one input Tensor in the {what} signature '{signature}'."
            )
        return next(iter(inputs))

    def _classify(self, servable, signature, serialized):
        key = self._example_input(servable, signature, CLASSIFY_METHOD, "classification")
        out = servable.run(signature, {key: np.array(serialized, dtype=object)})
        classes, scores = out.get("classes"), out.get("scores")
        if classes is None and scores is None:
            raise FailedPrecondition(
                f"Expected classification signature '{signature}' outputs to contain classes "
                "and/or scores"
            )
        n = len(serialized)
        if scores is not None:
            scores = np.asarray(scores, dtype=np.float32).reshape(n, -1)
        if classes is not None:
            classes = np.asarray(classes).reshape(n, -1)
        return classes, scores

    def _regress(self, servable, signature, serialized):
        key = self._example_input(servable, signature, REGRESS_METHOD, "regression")
        out = servable.run(signature, {key: np.array(serialized, dtype=object)})
        if "outputs" not in out:
            raise FailedPrecondition(
                f"No output Tensor named 'outputs' in the regression signature '{signature}'."
            )
        values = np.asarray(out["outputs"], dtype=np.float32)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1 or values.shape[0] != len(serialized):
            raise InvalidArgument(
                f"Expected output Tensor shape to be [batch_size] or [batch_size, 1], got "
                f"{list(values.shape)}"
            )
        return values

    # ------------------------------------------------------------------ gRPC (protos)

    def _spec(self, model_spec):
        version = model_spec.version.value if model_spec.HasField("version") else None
        label = model_spec.version_label or None
        return model_spec.name, version, label

    @staticmethod
    def _fill_spec(response_spec, name, servable, signature):
        response_spec.name = name
        response_spec.version.value = servable.version
        response_spec.signature_name = signature

    def grpc_predict(self, request, servable: Servable | None = None):
        return _run_one(self.grpc_predict_prepare(request, servable))

    def grpc_predict_prepare(self, request, servable: Servable | None = None) -> tuple:
        """Check a ``PredictRequest`` and read its tensors (no TensorFlow call yet): what
        :meth:`predict_many` runs (its result: the ``PredictResponse``). Bad input raises
        here."""
        from tensorflow_serving.apis import predict_pb2

        name, version, label = self._spec(request.model_spec)
        servable = servable or self.manager.servable(name, version, label)
        signature = servable.signature(request.model_spec.signature_name or None)
        try:
            arrays = {k: tensors.to_ndarray(v) for k, v in request.inputs.items()}
        except (TypeError, ValueError) as err:
            raise InvalidArgument(f"cannot read the input tensors: {err}") from None
        feed = servable.prepare(signature, arrays)
        output_filter = tuple(request.output_filter)

        def respond(out):
            response = predict_pb2.PredictResponse()
            self._fill_spec(response.model_spec, name, servable, signature)
            for key, value in servable.select_outputs(out, output_filter).items():
                tensors.fill(response.outputs[key], value)
            return response

        return servable, signature, feed, respond

    @staticmethod
    def _serialized_examples(input_proto) -> list[bytes]:
        kind = input_proto.WhichOneof("kind")
        if kind == "example_list":
            return [ex.SerializeToString() for ex in input_proto.example_list.examples]
        if kind == "example_list_with_context":
            with_context = input_proto.example_list_with_context
            out = []
            for ex in with_context.examples:
                merged = type(ex)()
                merged.CopyFrom(with_context.context)
                merged.MergeFrom(ex)
                out.append(merged.SerializeToString())
            return out
        raise InvalidArgument("Input is empty")

    def grpc_classify(self, request, servable: Servable | None = None):
        from tensorflow_serving.apis import classification_pb2

        name, version, label = self._spec(request.model_spec)
        servable = servable or self.manager.servable(name, version, label)
        signature = servable.signature(request.model_spec.signature_name or None)
        serialized = self._serialized_examples(request.input)
        if not serialized:
            raise InvalidArgument("Input is empty")
        classes, scores = self._classify(servable, signature, serialized)
        response = classification_pb2.ClassificationResponse()
        self._fill_spec(response.model_spec, name, servable, signature)
        for i in range(len(serialized)):
            row = response.result.classifications.add()
            k = scores.shape[1] if scores is not None else classes.shape[1]
            for j in range(k):
                cls = row.classes.add()
                if classes is not None:
                    cls.label = classes[i][j].decode("utf-8", "replace")
                if scores is not None:
                    cls.score = float(scores[i][j])
        return response

    def grpc_regress(self, request, servable: Servable | None = None):
        from tensorflow_serving.apis import regression_pb2

        name, version, label = self._spec(request.model_spec)
        servable = servable or self.manager.servable(name, version, label)
        signature = servable.signature(request.model_spec.signature_name or None)
        serialized = self._serialized_examples(request.input)
        if not serialized:
            raise InvalidArgument("Input is empty")
        values = self._regress(servable, signature, serialized)
        response = regression_pb2.RegressionResponse()
        self._fill_spec(response.model_spec, name, servable, signature)
        for v in values:
            response.result.regressions.add().value = float(v)
        return response

    def grpc_metadata(self, request):
        from tensorflow_serving.apis import get_model_metadata_pb2

        fields = list(request.metadata_field)
        if fields != ["signature_def"]:
            raise InvalidArgument(
                "Metadata field signature_def must be the only requested field "
                f"(got {fields or 'none'})"
            )
        name, version, label = self._spec(request.model_spec)
        servable = self.manager.servable(name, version, label)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = name
        response.model_spec.version.value = servable.version
        response.metadata["signature_def"].Pack(self._signature_def_map(servable))
        return response

    def grpc_status(self, request):
        from tensorflow_serving.apis import get_model_status_pb2

        name, version, label = self._spec(request.model_spec)
        response = get_model_status_pb2.GetModelStatusResponse()
        states = get_model_status_pb2.ModelVersionStatus.State
        for row in self.manager.status(name, version, label):
            item = response.model_version_status.add()
            item.version = int(row["version"])
            item.state = states.Value(row["state"])
            item.status.error_code = _error_code_value(row["status"]["error_code"])
            item.status.error_message = row["status"]["error_message"]
        return response

    # ------------------------------------------------------------------ warmup

    def replay_warmup(self, servable: Servable) -> int:
        """Replay ``assets.extra/tf_serving_warmup_requests`` against ``servable``."""
        import os

        path = os.path.join(servable.path, WARMUP_FILE)
        if not os.path.isfile(path):
            return 0
        import tensorflow as tf
        from tensorflow_serving.apis import prediction_log_pb2

        count = 0
        for record in tf.data.TFRecordDataset(path).take(MAX_WARMUP_RECORDS + 1):
            count += 1
            if count > MAX_WARMUP_RECORDS:
                raise ValueError(
                    f"the warmup file has more than {MAX_WARMUP_RECORDS} records (TF Serving's "
                    "limit)"
                )
            log = prediction_log_pb2.PredictionLog()
            log.ParseFromString(record.numpy())
            kind = log.WhichOneof("log_type")
            try:
                if kind == "predict_log":
                    self.grpc_predict(log.predict_log.request, servable)
                elif kind == "classify_log":
                    self.grpc_classify(log.classify_log.request, servable)
                elif kind == "regress_log":
                    self.grpc_regress(log.regress_log.request, servable)
                else:
                    raise ValueError(f"unsupported warmup log type {kind!r}")
            except NotFound:
                raise
            except Exception as err:
                raise ValueError(f"warmup record {count} ({kind}) failed: {err}") from None
        return count


def _run_one(prepared: tuple):
    result = ServingCore.predict_many([prepared])[0]
    if isinstance(result, Exception):
        raise result
    return result


def _signature_name(doc: dict) -> str:
    name = doc.get("signature_name", "") or ""
    if not isinstance(name, str):
        raise InvalidArgument("'signature_name' key must be a string value.")
    return name or "serving_default"


def _error_code_value(name: str) -> int:
    from tensorflow.core.protobuf import error_codes_pb2

    try:
        return error_codes_pb2.Code.Value(name)
    except ValueError:
        return error_codes_pb2.UNKNOWN


__all__ = ["ServingCore", "INIT_OP"]
