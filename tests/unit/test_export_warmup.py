"""export_savedmodel(warmup=...): TF Serving's assets.extra/tf_serving_warmup_requests, read back
with the official prediction_log_pb2; what loads is unchanged."""

from __future__ import annotations

import argparse
import os

import numpy as np
import pytest

from jupyter_workbench.export import ExportError, export_savedmodel
from jupyter_workbench.export.options import add_export_arguments, export_kwargs

tf = pytest.importorskip("tensorflow")
prediction_log_pb2 = pytest.importorskip("tensorflow_serving.apis.prediction_log_pb2")


def _model():
    import keras

    keras.utils.set_random_seed(0)
    a = keras.Input((4,), name="image")
    return keras.Model(a, keras.layers.Dense(3, name="scores")(a))


def _records(path):
    out = []
    for raw in tf.data.TFRecordDataset(
        os.path.join(path, "assets.extra", "tf_serving_warmup_requests")
    ):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(raw.numpy())
        out.append(log)
    return out


def test_generated_warmup_records(tmp_path):
    model = _model()
    plain = export_savedmodel(
        model, tmp_path / "m", inputs="image", outputs="scores", progress=False
    )
    warm = export_savedmodel(
        model, tmp_path / "m", inputs="image", outputs="scores", progress=False, warmup=3
    )
    logs = _records(warm.path)
    # N single-row PredictRequests for the signature, of its dtype and shape
    assert len(logs) == 3
    for log in logs:
        assert log.WhichOneof("log_type") == "predict_log"
        request = log.predict_log.request
        assert request.model_spec.signature_name == "serving_default"
        value = tf.make_ndarray(request.inputs["image"])
        assert value.shape == (1, 4) and value.dtype == np.float32
    first, second = (tf.make_ndarray(log.predict_log.request.inputs["image"]) for log in logs[:2])
    assert not np.array_equal(first, second)
    # and what tf.saved_model.load gives is the same as without warmup
    x = tf.constant(np.ones((2, 4), "float32"))
    run = [
        tf.saved_model.load(p).signatures["serving_default"](image=x)["scores"].numpy()
        for p in (plain.path, warm.path)
    ]
    np.testing.assert_array_equal(run[0], run[1])
    assert not os.path.exists(os.path.join(plain.path, "assets.extra"))
    assert warm.max_abs_diff is not None  # verified as usual


def test_warmup_from_samples_and_bad_values(tmp_path):
    samples = np.arange(8, dtype="float64").reshape(2, 4)
    r = export_savedmodel(
        _model(),
        tmp_path / "m",
        inputs="image",
        outputs="scores",
        progress=False,
        warmup={"image": samples},
    )
    logs = _records(r.path)
    got = [tf.make_ndarray(log.predict_log.request.inputs["image"]) for log in logs]
    assert [g.tolist() for g in got] == [[samples[0].tolist()], [samples[1].tolist()]]
    assert got[0].dtype == np.float32  # the signature's dtype
    with pytest.raises(ExportError, match="match no signature"):
        export_savedmodel(
            _model(),
            tmp_path / "m",
            inputs="image",
            outputs="scores",
            progress=False,
            warmup={"pixels": samples},
        )
    for bad in (-1, 5000, "many", [1]):
        with pytest.raises(ExportError, match="warmup"):
            export_savedmodel(_model(), tmp_path / "bad", progress=False, warmup=bad)
    assert not os.path.exists(tmp_path / "bad")  # refused before anything was written


def test_warmup_option_of_the_magic_and_cli():
    parser = add_export_arguments(argparse.ArgumentParser())
    assert export_kwargs(parser.parse_args(["m", "d", "--warmup", "5"]))["warmup"] == 5
    assert "warmup" not in export_kwargs(parser.parse_args(["m", "d"]))
