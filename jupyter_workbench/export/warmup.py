"""TF Serving warmup records: ``assets.extra/tf_serving_warmup_requests`` in a version.

TF Serving replays this TFRecord file of ``PredictionLog`` protos against a freshly loaded
version before it serves it, so the first real request does not pay for graph optimisation and
memory allocation. ``export_savedmodel(..., warmup=N)`` writes N single-row records per
exported signature:

* predict signatures: ``PredictLog`` records from generated inputs of the signature's dtypes
  and shapes (:func:`..verify.generate_feed`); ``warmup={"image": array}`` uses real samples
  instead, one record per row, for each predict signature whose inputs are exactly those names;
* classify / regress signatures (one serialized ``tf.Example`` input): ``ClassifyLog`` /
  ``RegressLog`` records of one generated ``tf.Example`` each, with the features the graph
  parses (its ``ParseExample``/``ParseExampleV2`` ops: keys, types and dense shapes). Where the
  graph parses no Example the signature gets no records and the export says so in a warning.

``assets.extra`` is ignored by ``tf.saved_model.load`` and by the verify step, so what loads is
unchanged. Written into the staging directory before the version is published.
"""

from __future__ import annotations

import os

from .errors import ExportError

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MAX_RECORDS = 1000  # TF Serving replays at most this many
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"


def check_warmup(warmup):
    """Validate ``warmup=`` up front (no TensorFlow): ``None``, a count or ``{input: array}``."""
    if warmup is None or warmup is False or warmup == 0:
        return None
    if isinstance(warmup, str) and warmup.strip().isdigit():
        warmup = int(warmup)
    if isinstance(warmup, bool) or (isinstance(warmup, int) and not 0 < warmup <= MAX_RECORDS):
        raise ExportError(
            f"warmup={warmup!r}: pass a number of records from 1 to {MAX_RECORDS} per signature "
            "(TF Serving replays at most 1000), a dict {input name: sample array}, or None."
        )
    if isinstance(warmup, int):
        return warmup
    if isinstance(warmup, dict) and warmup and all(isinstance(k, str) for k in warmup):
        return warmup
    raise ExportError(
        f"warmup={type(warmup).__name__}: pass a number of records, a dict "
        "{input name: sample array} (e.g. {'image': x_test[:10]}) or None."
    )


def _requests(info: dict, warmup):
    """``[(signature, {input: ndarray})]`` in file order."""
    import numpy as np

    from .verify import generate_feed

    predict = {
        name: sig
        for name, sig in info["signatures"].items()
        if sig.get("method", PREDICT_METHOD) in (PREDICT_METHOD, "")
    }
    out = []
    if isinstance(warmup, int):
        for name, sig in sorted(predict.items()):
            for i in range(warmup):
                feed = generate_feed(sig["inputs"], seed=i)
                rows = {}
                for key, value in feed.items():
                    shape = sig["inputs"][key]["shape"]
                    single = shape is not None and len(shape) > 0 and shape[0] is None
                    rows[key] = value[:1] if single else value
                out.append((name, rows))
        return out
    samples = {k: np.asarray(v) for k, v in warmup.items()}
    matched = [n for n, sig in sorted(predict.items()) if set(sig["inputs"]) == set(samples)]
    if not matched:
        shown = ", ".join(f"{n}({', '.join(sorted(s['inputs']))})" for n, s in predict.items())
        raise ExportError(
            f"warmup samples for {sorted(samples)} match no signature's inputs: the predict "
            f"signatures are {shown or 'none'}."
        )
    rows = {len(v) if v.ndim else 1 for v in samples.values()}
    if len(rows) != 1:
        raise ExportError("warmup samples must have the same number of rows for every input.")
    n = min(rows.pop(), MAX_RECORDS)
    for name in matched:
        spec = predict[name]["inputs"]
        for i in range(n):
            feed = {}
            for key, value in samples.items():
                dtype = spec[key]["dtype"]
                row = value[i : i + 1] if value.ndim else value
                feed[key] = row if dtype == "string" else row.astype(dtype)
            out.append((name, feed))
    return out


def example_features(model_dir: str) -> dict[str, tuple[str, int]]:
    """``{feature: (kind, values)}`` the SavedModel's graph parses from ``tf.Example``s.

    ``kind`` is ``"float"``, ``"int64"`` or ``"bytes"``; ``values`` how many a generated Example
    carries (the dense shape's size; 1 for sparse, ragged and variable-length features). Read
    from the ``ParseExample``/``ParseExampleV2`` nodes of the graph and of its functions; empty
    when there are none.
    """
    import tensorflow as tf
    from tensorflow.core.framework import types_pb2

    from .inspect import parse_saved_model

    with open(os.path.join(model_dir, "saved_model.pb"), "rb") as fh:
        saved_model = parse_saved_model(fh.read())
    kinds = {types_pb2.DT_FLOAT: "float", types_pb2.DT_INT64: "int64", types_pb2.DT_STRING: "bytes"}
    features: dict[str, tuple[str, int]] = {}
    for meta in saved_model.meta_graphs:
        graphs = [list(meta.graph_def.node)]
        graphs += [list(f.node_def) for f in meta.graph_def.library.function]
        for nodes in graphs:
            by_name = {n.name: n for n in nodes}

            def keys(ref, by_name=by_name):
                node = by_name.get(ref.lstrip("^").split(":", 1)[0])
                if node is None or node.op != "Const":
                    return None
                return [k.decode() for k in tf.make_ndarray(node.attr["value"].tensor).ravel()]

            for node in nodes:
                if node.op not in ("ParseExample", "ParseExampleV2"):
                    continue
                attr = node.attr
                if node.op == "ParseExample":
                    n_sparse = attr["Nsparse"].i
                    n_dense = attr["Ndense"].i
                    refs = list(node.input)[2 : 2 + n_sparse + n_dense]
                    found = [keys(r) for r in refs]
                    if any(k is None or len(k) != 1 for k in found):
                        continue
                    sparse = [k[0] for k in found[:n_sparse]]
                    dense = [k[0] for k in found[n_sparse:]]
                    ragged, ragged_types = [], []
                else:
                    sparse, dense, ragged = (keys(r) for r in list(node.input)[2:5])
                    if sparse is None or dense is None or ragged is None:
                        continue
                    ragged_types = list(attr["ragged_value_types"].list.type)
                for key, dtype, shape in zip(
                    dense, attr["Tdense"].list.type, attr["dense_shapes"].list.shape, strict=False
                ):
                    size = 1
                    for dim in shape.dim:
                        size *= dim.size if dim.size > 0 else 1
                    features.setdefault(key, (kinds.get(dtype, "float"), size))
                for key, dtype in zip(sparse, attr["sparse_types"].list.type, strict=False):
                    features.setdefault(key, (kinds.get(dtype, "float"), 1))
                for key, dtype in zip(ragged, ragged_types, strict=False):
                    features.setdefault(key, (kinds.get(dtype, "float"), 1))
    return features


def _example(features: dict[str, tuple[str, int]], seed: int):
    """One ``tf.Example`` with generated values for ``features`` (floats ~ N(0, 1), ints in
    {0, 1}, short strings)."""
    import numpy as np
    from tensorflow.core.example import example_pb2

    rng = np.random.default_rng(seed)
    example = example_pb2.Example()
    for key, (kind, size) in sorted(features.items()):
        feature = example.features.feature[key]
        if kind == "float":
            feature.float_list.value.extend(rng.standard_normal(size).astype("float32").tolist())
        elif kind == "int64":
            feature.int64_list.value.extend(rng.integers(0, 2, size).tolist())
        else:
            feature.bytes_list.value.extend([b"a"] * size)
    return example


def _example_logs(model_dir: str, info: dict, count: int, warnings: list):
    """ClassifyLog / RegressLog records for the classify and regress signatures."""
    from tensorflow_serving.apis import (
        classification_pb2,
        prediction_log_pb2,
        regression_pb2,
    )

    wanted = {
        name: sig["method"]
        for name, sig in sorted(info["signatures"].items())
        if sig.get("method") in (CLASSIFY_METHOD, REGRESS_METHOD)
    }
    if not wanted:
        return []
    features = example_features(model_dir)
    logs = []
    for name, method in wanted.items():
        if not features:
            warnings.append(
                f"no warmup records for the {method.rsplit('/', 1)[-1]} signature '{name}': "
                "the graph parses no tf.Example features to generate them from."
            )
            continue
        for i in range(count):
            if method == CLASSIFY_METHOD:
                request = classification_pb2.ClassificationRequest()
            else:
                request = regression_pb2.RegressionRequest()
            request.model_spec.signature_name = name
            request.input.example_list.examples.append(_example(features, seed=i))
            if method == CLASSIFY_METHOD:
                log = prediction_log_pb2.PredictionLog(
                    classify_log=prediction_log_pb2.ClassifyLog(request=request)
                )
            else:
                log = prediction_log_pb2.PredictionLog(
                    regress_log=prediction_log_pb2.RegressLog(request=request)
                )
            logs.append(log)
    return logs


def write_warmup(model_dir: str, info: dict, warmup, warnings: list | None = None) -> int:
    """Write the warmup file into ``model_dir``; returns the number of records. Signatures
    that get none are named in ``warnings``."""
    if warmup is None:
        return 0
    warnings = [] if warnings is None else warnings
    try:
        from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
    except ImportError:
        raise ExportError(
            "warmup needs the TF Serving API in this environment: pip install --no-deps "
            "tensorflow-serving-api==2.21.0 (jupyter workbench env create tf2 installs it)."
        ) from None
    import tensorflow as tf

    logs = []
    for signature, feed in _requests(info, warmup):
        request = predict_pb2.PredictRequest()
        request.model_spec.signature_name = signature
        for key, value in feed.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        logs.append(
            prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
        )
    if isinstance(warmup, int):
        logs += _example_logs(model_dir, info, warmup, warnings)
    if not logs:
        return 0
    path = os.path.join(model_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return len(logs)
