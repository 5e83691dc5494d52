"""TF Serving warmup records: ``assets.extra/tf_serving_warmup_requests`` in a version.

TF Serving replays this TFRecord file of ``PredictionLog`` protos against a freshly loaded
version before it serves it, so the first real request does not pay for graph optimisation and
memory allocation. ``export_savedmodel(..., warmup=N)`` writes N single-row ``PredictRequest``
records per predict signature from generated inputs of the signature's dtypes and shapes
(:func:`..verify.generate_feed`); ``warmup={"image": array}`` uses real samples instead, one
record per row, for each signature whose inputs are exactly those names. Classification and
regression signatures get no generated records (their serialized ``tf.Example`` features are
not described by the signature).

``assets.extra`` is ignored by ``tf.saved_model.load`` and by the verify step, so what loads is
unchanged. Written into the staging directory before the version is published.
"""

from __future__ import annotations

import os

from .errors import ExportError

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MAX_RECORDS = 1000  # TF Serving replays at most this many
PREDICT_METHOD = "tensorflow/serving/predict"


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


def write_warmup(model_dir: str, info: dict, warmup) -> int:
    """Write the warmup file into ``model_dir``; returns the number of records."""
    if warmup is None:
        return 0
    try:
        from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
    except ImportError:
        raise ExportError(
            "warmup needs the TF Serving API in this environment: pip install --no-deps "
            "tensorflow-serving-api==2.21.0 (jupyter workbench env create tf2 installs it)."
        ) from None
    import tensorflow as tf

    requests = _requests(info, warmup)
    path = os.path.join(model_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature, feed in requests:
            request = predict_pb2.PredictRequest()
            request.model_spec.signature_name = signature
            for key, value in feed.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return len(requests)
