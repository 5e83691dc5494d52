"""Serving the TF Serving chapter's TF1 model: a Saver checkpoint exported with predict,
classify and regress signatures (serialized tf.Example input, as in mnist_saved_model.py), called
through REST (:classify, :regress, b64 strings) and the official gRPC client.
"""

from __future__ import annotations

import base64
import json
import os
import sys

import numpy as np
import pytest

try:
    from ._export_models import run_python
    from ._serving_fixtures import http
except ImportError:
    from _export_models import run_python
    from _serving_fixtures import http

tf = pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_serving.apis")

# Graph mode in a fresh interpreter: train one step, save with Saver, export the prefix.
SCRIPT = """
import json, sys
import numpy as np, tensorflow as tf
base = sys.argv[1]
with tf.Graph().as_default():
    serialized = tf.compat.v1.placeholder(tf.string, [None], name="tf_example")
    parsed = tf.io.parse_example(serialized, {
        "x": tf.io.FixedLenFeature([4], tf.float32, default_value=[0.0] * 4)})
    x = tf.identity(parsed["x"], name="x")
    w = tf.compat.v1.get_variable("w", [4, 3],
                                  initializer=tf.compat.v1.random_normal_initializer(seed=1))
    b = tf.compat.v1.get_variable("b", [3], initializer=tf.compat.v1.zeros_initializer())
    y = tf.nn.softmax(tf.matmul(x, w) + b, name="y")
    values, indices = tf.nn.top_k(y, 3)
    classes = tf.gather(tf.constant(["zero", "one", "two"]), indices, name="classes")
    scores = tf.identity(values, name="class_scores")
    expected = tf.reduce_sum(y * tf.constant([0.0, 1.0, 2.0]), axis=-1, name="expected")
    echo = tf.identity(serialized, name="echo")
    step = tf.compat.v1.train.get_or_create_global_step()
    train = tf.compat.v1.train.AdamOptimizer(0.1).minimize(tf.reduce_sum(y), global_step=step)
    with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        sess.run(train, {x: np.ones((1, 4), "float32")})
        prefix = tf.compat.v1.train.Saver().save(sess, base + "/ckpt/model", global_step=1)
        feed = np.random.default_rng(0).standard_normal((2, 4)).astype("float32")
        ref = sess.run({"y": y, "classes": classes, "scores": scores, "expected": expected},
                       {x: feed})
from jupyter_workbench.export import export_savedmodel
r = export_savedmodel(prefix, base + "/mnist", progress=False, warmup=1, signatures={
    "predict_images": {"inputs": {"images": "x:0"}, "outputs": {"scores": "y:0"}},
    "serving_default": {"inputs": {"images": "x:0"}, "outputs": {"scores": "y:0"}},
    "classify": {"inputs": {"inputs": "tf_example:0"}, "method": "classify",
                 "outputs": {"classes": "classes:0", "scores": "class_scores:0"}},
    "regress": {"inputs": {"inputs": "tf_example:0"}, "method": "regress",
                "outputs": {"outputs": "expected:0"}},
    "echo": {"inputs": {"examples": "tf_example:0"}, "outputs": {"echo_bytes": "echo:0"}},
})
# A classify signature whose graph parses no tf.Example (it scores the serialized bytes' length)
with tf.Graph().as_default():
    serialized = tf.compat.v1.placeholder(tf.string, [None], name="tf_example")
    x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
    v = tf.compat.v1.get_variable("v", [], initializer=tf.compat.v1.zeros_initializer())
    n = tf.cast(tf.strings.length(serialized), tf.float32) + v
    tf.stack([n, -n], axis=1, name="scores")
    tf.identity(x * 2.0 + v, name="y")
    with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        prefix = tf.compat.v1.train.Saver().save(sess, base + "/ckpt2/model")
plain = export_savedmodel(prefix, base + "/noparse", progress=False, warmup=2, signatures={
    "serving_default": {"inputs": {"x": "x:0"}, "outputs": {"y": "y:0"}},
    "by_length": {"inputs": {"inputs": "tf_example:0"}, "method": "classify",
                  "outputs": {"scores": "scores:0"}},
})
ref["classes"] = [[c.decode() for c in row] for row in ref["classes"]]
print(json.dumps({"path": r.path, "x": feed.tolist(), "warnings": r.warnings,
                  "noparse": {"path": plain.path, "warnings": plain.warnings,
                              "summary": str(plain)},
                  **{k: v if isinstance(v, list) else v.tolist() for k, v in ref.items()}}))
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from jupyter_workbench.serving import start_server

    base = tmp_path_factory.mktemp("tf1")
    proc = run_python(SCRIPT, str(base), timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    made = json.loads(proc.stdout.strip().splitlines()[-1])
    server = start_server(str(base / "mnist"), python=sys.executable, poll=0.5)
    yield server, made
    server.stop()


def _examples(x):
    return [{"x": row} for row in x]


def _example_protos(x):
    from tensorflow.core.example import example_pb2

    out = []
    for row in x:
        ex = example_pb2.Example()
        ex.features.feature["x"].float_list.value.extend(row)
        out.append(ex)
    return out


def test_metadata_has_the_three_methods(served):
    server, _ = served
    _c, doc = http("GET", server.url + "/metadata")
    sigs = doc["metadata"]["signature_def"]["signature_def"]
    assert sigs["classify"]["method_name"] == "tensorflow/serving/classify"
    assert sigs["regress"]["method_name"] == "tensorflow/serving/regress"
    assert sigs["predict_images"]["method_name"] == "tensorflow/serving/predict"
    assert sigs["classify"]["inputs"]["inputs"]["dtype"] == "DT_STRING"


def test_rest_classify_and_regress(served):
    server, made = served
    code, doc = http(
        "POST",
        server.url + ":classify",
        {"signature_name": "classify", "examples": _examples(made["x"])},
    )
    assert code == 200, doc
    # [[label, score], ...] per example, in the model's order
    for row, classes, scores in zip(doc["result"], made["classes"], made["scores"], strict=True):
        assert [label for label, _ in row] == classes
        np.testing.assert_allclose([s for _, s in row], scores, rtol=1e-5)
    code, doc = http(
        "POST",
        server.url + "/versions/1:regress",
        {"signature_name": "regress", "examples": _examples(made["x"])},
    )
    assert code == 200, doc
    np.testing.assert_allclose(doc["result"], made["expected"], rtol=1e-5)
    # context features are shared by all examples
    code, doc = http(
        "POST",
        server.url + ":regress",
        {"signature_name": "regress", "context": {"x": made["x"][0]}, "examples": [{}, {}]},
    )
    assert code == 200
    np.testing.assert_allclose(doc["result"], [made["expected"][0]] * 2, rtol=1e-5)
    # classify against a predict signature is refused like TF Serving does
    code, doc = http("POST", server.url + ":classify", {"examples": _examples(made["x"])})
    assert code == 400 and "tensorflow/serving/classify" in doc["error"]


def test_rest_predict_with_b64_strings_in_and_out(served):
    server, made = served
    serialized = [ex.SerializeToString() for ex in _example_protos(made["x"])]
    body = {
        "signature_name": "echo",
        "instances": [{"b64": base64.b64encode(s).decode()} for s in serialized],
    }
    code, doc = http("POST", server.url + ":predict", body)
    assert code == 200, doc
    # an output named *_bytes comes back as {"b64": ...}
    assert [base64.b64decode(p["b64"]) for p in doc["predictions"]] == serialized
    code, doc = http(
        "POST",
        server.url + ":predict",
        {"signature_name": "predict_images", "instances": made["x"]},
    )
    np.testing.assert_allclose(doc["predictions"], made["y"], rtol=1e-5)
    code, doc = http(
        "POST", server.url + ":predict", {"signature_name": "echo", "instances": [{"b64": "%%%"}]}
    )
    assert code == 400 and "base64" in doc["error"]


def test_grpc_classify_regress_predict(served):
    import grpc
    from tensorflow_serving.apis import (
        classification_pb2,
        predict_pb2,
        prediction_service_pb2_grpc,
        regression_pb2,
    )

    server, made = served
    stub = prediction_service_pb2_grpc.PredictionServiceStub(
        grpc.insecure_channel(server.grpc_address)
    )
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = server.model_name
    request.model_spec.signature_name = "classify"
    request.input.example_list.examples.extend(_example_protos(made["x"]))
    result = stub.Classify(request, 10.0)
    got = [[c.label for c in cl.classes] for cl in result.result.classifications]
    assert got == made["classes"]
    request = regression_pb2.RegressionRequest()
    request.model_spec.name = server.model_name
    request.model_spec.signature_name = "regress"
    request.input.example_list.examples.extend(_example_protos(made["x"]))
    values = [r.value for r in stub.Regress(request, 10.0).result.regressions]
    np.testing.assert_allclose(values, made["expected"], rtol=1e-5)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = server.model_name
    request.model_spec.signature_name = "predict_images"
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(np.array(made["x"], "float32")))
    scores = tf.make_ndarray(stub.Predict(request, 10.0).outputs["scores"])
    np.testing.assert_allclose(scores, made["y"], rtol=1e-5)


def test_warmup_covers_every_signature_with_its_log_type(served):
    # Given the TF1 export with warmup=1: one record per signature, read with TF Serving's protos
    from tensorflow_serving.apis import prediction_log_pb2

    server, made = served
    path = os.path.join(made["path"], "assets.extra", "tf_serving_warmup_requests")
    logs = []
    for raw in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(raw.numpy())
        logs.append(log)
    kinds = {}
    for log in logs:
        kind = log.WhichOneof("log_type")
        request = getattr(log, kind).request
        kinds[request.model_spec.signature_name] = kind
    assert kinds == {
        "predict_images": "predict_log",
        "serving_default": "predict_log",
        "echo": "predict_log",
        "classify": "classify_log",
        "regress": "regress_log",
    }
    # the classify and regress requests carry a tf.Example with the feature the graph parses
    # (x: FixedLenFeature([4], tf.float32)), not an empty one
    for log in logs:
        if log.WhichOneof("log_type") in ("classify_log", "regress_log"):
            request = getattr(log, log.WhichOneof("log_type")).request
            (example,) = request.input.example_list.examples
            assert list(example.features.feature) == ["x"]
            assert len(example.features.feature["x"].float_list.value) == 4
    # and the server replayed all five before it served the version
    assert "5 warmup records" in server.log()
    assert not [w for w in made["warnings"] if "warmup" in w]


def test_generated_warmup_warns_for_a_classify_signature_without_parse_example(served):
    # Given a classify signature whose graph parses no tf.Example, exported with warmup=2
    from tensorflow_serving.apis import prediction_log_pb2

    _server, made = served
    noparse = made["noparse"]
    warning = (
        "no warmup records for the classify signature 'by_length': the graph parses no "
        "tf.Example features to generate them from."
    )
    # the export says so (the result, and the summary the CLI and the magic print) ...
    assert warning in noparse["warnings"]
    assert f"  warning: {warning}" in noparse["summary"].splitlines()
    # ... and writes the predict signature's records only, none for the classify one
    path = os.path.join(noparse["path"], "assets.extra", "tf_serving_warmup_requests")
    logs = []
    for raw in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(raw.numpy())
        logs.append(log)
    kinds = [
        (log.WhichOneof("log_type"), getattr(log, log.WhichOneof("log_type")).request)
        for log in logs
    ]
    assert [(k, r.model_spec.signature_name) for k, r in kinds] == [
        ("predict_log", "serving_default")
    ] * 2
    assert [tf.make_ndarray(r.inputs["x"]).shape for _k, r in kinds] == [(1, 2)] * 2
