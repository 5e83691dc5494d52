"""TF1 sources: Saver checkpoints with .meta graphs and Sessions (graph mode).

Everything that uses a Session or disable_eager_execution runs in a fresh interpreter so the
test process stays eager (it prints one JSON object that the tests check); exports from the
checkpoint run in this eager process, as from a notebook.
"""

import json
import os

import numpy as np
import pytest

try:
    from ._export_models import run_python, serve
except ImportError:
    from _export_models import run_python, serve

tf = pytest.importorskip("tensorflow")

from jupyter_workbench.export import ExportError, export_savedmodel  # noqa: E402


def _served(path, signature, **inputs) -> dict:
    return {k: v.tolist() for k, v in serve(path, signature, **inputs).items()}


def _checkpoint_exports(made: dict, base: str) -> dict:
    """In this (eager) test process, as in a notebook: the checkpoint prefix as the source."""
    prefix, x = made["prefix"], np.array(made["x"], "float32")
    out = {}

    def error(**kwargs):
        try:
            export_savedmodel(prefix, base + "/err", progress=False, **kwargs)
        except ExportError as e:
            clean = e.__cause__ is None and (e.__context__ is None or e.__suppress_context__)
            return {"message": str(e), "clean": clean}
        return None

    r = export_savedmodel(
        prefix,
        base + "/mnist",
        signature_name="predict_images",
        inputs={"image": "x:0"},
        outputs={"scores": "y:0"},
        progress=False,
    )
    out["basic"] = {
        "result": r.to_dict(),
        "served": _served(r.path, "predict_images", image=x),
        "variables": sorted(n for n, _ in tf.train.list_variables(r.path + "/variables/variables")),
    }
    again = export_savedmodel(
        r.path, base + "/again", signature_name="predict", outputs="probs", progress=False
    )
    out["basic"]["again"] = _served(again.path, "predict", image=x)
    r = export_savedmodel(
        prefix + ".meta",
        base + "/mnist",
        inputs={"image": "x:0"},
        signatures={
            "predict": {"outputs": {"scores": "y:0"}},
            "classify": {"outputs": {"classes": "classes:0"}},
        },
        progress=False,
    )
    out["multi"] = {"result": r.to_dict(), "classes": _served(r.path, "classify", image=x)}
    r = export_savedmodel(
        prefix,
        base + "/half",
        inputs={"image": "x"},
        outputs={"scores": "y"},
        weights_dtype="float16",
        progress=False,
    )
    reader = tf.train.load_checkpoint(r.path + "/variables/variables")
    out["half"] = {
        "result": r.to_dict(),
        "served": _served(r.path, "serving_default", image=x),
        "dtypes": sorted(v.name for v in reader.get_variable_to_dtype_map().values()),
    }
    out["unknown_tensor"] = error(inputs={"image": "xx:0"}, outputs={"scores": "y:0"})
    out["no_names"] = error()
    return out  # fmt: skip


# In a process that called disable_eager_execution(): the TF1 Saver checkpoint (Adam slots,
# global_step; in a graph of its own) that the eager exports read, then Sessions, tf_keras, and
# Keras 3's error. One child for both: each TensorFlow start costs seconds of CPU.
GRAPH_MODE_EXPORTS = """
import json, sys
import numpy as np, tensorflow as tf
tf.compat.v1.disable_eager_execution()
from jupyter_workbench.export import ExportError, export_savedmodel
base = sys.argv[1]
out = {}
with tf.Graph().as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
    w = tf.compat.v1.get_variable("w", [4, 3])
    b = tf.compat.v1.get_variable("b", [3], initializer=tf.compat.v1.zeros_initializer())
    logits = tf.add(tf.matmul(x, w), b, name="logits")
    y = tf.nn.softmax(logits, name="y")
    classes = tf.argmax(logits, axis=-1, name="classes")
    labels = tf.compat.v1.placeholder(tf.float32, [None, 3], name="labels")
    loss = tf.reduce_mean(tf.square(y - labels))
    step = tf.compat.v1.train.get_or_create_global_step()
    train = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss, global_step=step)
    feed = np.random.default_rng(0).standard_normal((2, 4)).astype("float32")
    with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        sess.run(train, {x: feed, labels: np.eye(3)[[0, 1]]})
        path = tf.compat.v1.train.Saver().save(sess, base + "/tf1/model.ckpt", global_step=1)
        out["checkpoint"] = {"prefix": path, "x": feed.tolist(),
                             "y": sess.run(y, {x: feed}).tolist()}
x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
w = tf.compat.v1.get_variable("w", [4, 3])
y = tf.nn.softmax(tf.matmul(x, w), name="y")
sess = tf.compat.v1.Session()
sess.run(tf.compat.v1.global_variables_initializer())
feed = np.ones((2, 4), "float32")
r = export_savedmodel(sess, base + "/session", inputs={"image": x}, outputs={"scores": "y:0"},
                      signature_name="predict_images", progress=False)
with tf.Graph().as_default() as g, tf.compat.v1.Session(graph=g) as s2:
    meta = tf.compat.v1.saved_model.loader.load(s2, ["serve"], r.path)
    sig = meta.signature_def["predict_images"]
    got = s2.run(sig.outputs["scores"].name, {sig.inputs["image"].name: feed})
out["session"] = {"result": r.to_dict(), "served": got.tolist(),
                  "expected": sess.run(y, {x: feed}).tolist()}
try:
    export_savedmodel(sess, base + "/bad", inputs={"image": "x:0"}, outputs={"scores": "nope"},
                      progress=False)
except ExportError as e:
    out["unknown_tensor"] = str(e)
import keras
try:
    export_savedmodel(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]),
                      base + "/k3", progress=False)
except ExportError as e:
    out["keras3"] = {"message": str(e), "clean": e.__cause__ is None}
import tf_keras
model = tf_keras.Sequential(
    [tf_keras.Input((4,), name="feat"), tf_keras.layers.Dense(2, name="out")]
)
r = export_savedmodel(model, base + "/tf_keras", inputs="image", outputs="scores", progress=False)
out["tf_keras"] = r.to_dict()
model.save(base + "/model.h5")
r = export_savedmodel(base + "/model.h5", base + "/h5", progress=False)
out["h5"] = r.to_dict()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def graph_exports(tmp_path_factory):
    base = tmp_path_factory.mktemp("graph")
    proc = run_python(GRAPH_MODE_EXPORTS, str(base))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def checkpoint(graph_exports):
    # A TF1 Saver checkpoint (Adam slots, global_step) made in graph mode
    return graph_exports["checkpoint"]


@pytest.fixture(scope="module")
def eager_exports(checkpoint, tmp_path_factory):
    return _checkpoint_exports(checkpoint, str(tmp_path_factory.mktemp("eager")))


def test_saver_checkpoint_to_savedmodel(checkpoint, eager_exports):
    # Given a Saver checkpoint prefix with its .meta graph
    # When exported with tensor names (see CHECKPOINT_EXPORTS)
    basic = eager_exports["basic"]
    # Then predict_images(image) -> scores serves the checkpoint's numbers
    assert basic["result"]["version"] == 1
    assert basic["result"]["signatures"]["predict_images"] == {
        "inputs": {"image": {"dtype": "float32", "shape": [None, 4]}},
        "outputs": {"scores": {"dtype": "float32", "shape": [None, 3]}},
    }
    np.testing.assert_allclose(basic["served"]["scores"], checkpoint["y"], atol=1e-6)
    assert basic["result"]["max_abs_diff"] == 0
    assert basic["result"]["source_kind"] == "tf1_checkpoint"


def test_only_inference_variables_are_saved(checkpoint, eager_exports):
    # Given the checkpoint holds Adam slots, beta powers and global_step
    # When exported / Then only w and b are in the SavedModel
    assert eager_exports["basic"]["variables"] == ["b", "w"]
    # and the graph is clean enough for TF2 to re-export it (renamed)
    np.testing.assert_allclose(eager_exports["basic"]["again"]["probs"], checkpoint["y"], atol=1e-6)


def test_several_tf1_signatures(eager_exports):
    # Given predict and classify signatures over the same input
    multi = eager_exports["multi"]
    # When exported as version 2 / Then both are there and classify serves classes
    assert multi["result"]["version"] == 2
    assert set(multi["result"]["signatures"]) == {"predict", "classify", "serving_default"}
    assert multi["result"]["signatures"]["classify"]["outputs"]["classes"]["dtype"] == "int64"
    assert len(multi["classes"]["classes"]) == 2


def test_tf1_float16_weights(checkpoint, eager_exports):
    # Given the checkpoint exported with weights_dtype="float16"
    half = eager_exports["half"]
    # Then its variables are float16 and it serves the float32 numbers closely
    assert half["dtypes"] == ["float16", "float16"]
    np.testing.assert_allclose(half["served"]["scores"], checkpoint["y"], rtol=1e-2, atol=1e-3)
    assert 0 < half["result"]["max_abs_diff"] < 1e-2


def test_unknown_tensor_name_is_a_clear_error(eager_exports, graph_exports):
    # Given a tensor name that is not in the graph
    unknown = eager_exports["unknown_tensor"]
    # When exported / Then the message names it and suggests the right one, no traceback
    assert "no tensor 'xx:0'" in unknown["message"] and "x:0" in unknown["message"]
    assert unknown["clean"]
    assert "no tensor 'nope'" in graph_exports["unknown_tensor"]


def test_missing_tensor_names_list_the_placeholders(eager_exports):
    # Given a TF1 checkpoint exported without inputs/outputs
    # Then the message asks for tensor names and lists the placeholders
    message = eager_exports["no_names"]["message"]
    assert "needs input tensor names" in message and "x:0" in message
    assert "--input" in message


def test_session_in_graph_mode(graph_exports):
    # Given a Session after disable_eager_execution()
    session = graph_exports["session"]
    # When exported (Builder path) / Then the TF1 loader serves its numbers
    assert session["result"]["signatures"]["predict_images"]["inputs"]["image"]["shape"] == [
        None, 4,
    ]  # fmt: skip
    np.testing.assert_allclose(session["served"], session["expected"], atol=1e-6)
    assert session["result"]["source_kind"] == "tf1_session"


def test_keras3_in_graph_mode_is_a_clear_error(graph_exports):
    # Given a Keras 3 model in a process that disabled eager execution
    # Then the export says what happened and what to do, without a traceback
    keras3 = graph_exports["keras3"]
    assert "eager execution is disabled" in keras3["message"]
    assert "disable_eager_execution()" in keras3["message"] and keras3["clean"]


def test_tf_keras_in_graph_mode_uses_the_builder(graph_exports):
    # Given tf_keras models (object and .h5) in a graph-mode process
    # When exported / Then they are written through get_session() + Builder and verified
    assert graph_exports["tf_keras"]["signatures"]["serving_default"]["outputs"] == {
        "scores": {"dtype": "float32", "shape": [None, 2]}
    }
    assert graph_exports["tf_keras"]["max_abs_diff"] == 0
    assert graph_exports["h5"]["source_kind"] == "tf_keras"
    assert os.path.isdir(graph_exports["h5"]["path"])
