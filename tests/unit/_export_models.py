"""Tiny models and helpers shared by the export tests (tests/unit/test_export_*.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}


def subprocess_env() -> dict:
    env = dict(os.environ, **QUIET_ENV)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_python(code: str, *args: str, timeout: float = 120, stdin: str | None = None):
    """Run ``code`` in a fresh interpreter (the repo importable); returns CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(),
        input=stdin,
        cwd=REPO,
    )


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def assert_clean(error: BaseException) -> None:
    """A user-facing ExportError shows no TensorFlow traceback: nothing chained is shown."""
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def versions(base) -> list[str]:
    return sorted(n for n in os.listdir(base) if not n.startswith("."))


def hidden(base) -> list[str]:
    """Hidden names in ``base`` other than the version reservations (``.workbench-versions``)."""
    return sorted(n for n in os.listdir(base) if n.startswith(".") and n != ".workbench-versions")


# --------------------------------------------------------------------------- models


def keras_mlp(input_name="feat", output_name="out", features=4, classes=3):
    import keras

    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((features,), name=input_name),
            keras.layers.Dense(5, activation="relu"),
            keras.layers.Dense(classes, name=output_name),
        ]
    )


def keras_two_heads():
    import keras

    a = keras.Input((3,), name="a")
    b = keras.Input((2,), name="b")
    h = keras.layers.Concatenate()([a, b])
    logits = keras.layers.Dense(2, name="logits")(h)
    value = keras.layers.Dense(1, name="value")(h)
    return keras.Model([a, b], [logits, value])


def tf_keras_mlp():
    import tf_keras

    return tf_keras.Sequential(
        [
            tf_keras.Input((4,), name="feat"),
            tf_keras.layers.Dense(5, activation="relu"),
            tf_keras.layers.Dense(3, name="out"),
        ]
    )


def tf_keras_lstm():
    import tf_keras

    return tf_keras.Sequential(
        [tf_keras.Input((5, 3), name="seq"), tf_keras.layers.LSTM(4), tf_keras.layers.Dense(2)]
    )


def linear_module():
    import tensorflow as tf

    class Linear(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(tf.random.stateless_normal([4, 3], seed=[1, 2]), name="w")
            self.b = tf.Variable(tf.zeros([3]), name="b")

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def predict(self, x):
            return {"scores": tf.nn.softmax(tf.matmul(x, self.w) + self.b)}

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def classify(self, x):
            return tf.argmax(tf.matmul(x, self.w) + self.b, axis=-1)

    return Linear()


def batch(shape=(2, 4), seed=0):
    import numpy as np

    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def serve(path, signature="serving_default", **inputs):
    """Reload ``path`` like TF Serving would and run ``signature``: {name: ndarray}."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path), tags=["serve"])
    out = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
    return {k: v.numpy() for k, v in out.items()}
