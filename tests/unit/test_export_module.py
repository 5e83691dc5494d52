"""tf.Module / tf.function sources, several signatures, and unknown sources."""

import numpy as np
import pytest

from jupyter_workbench.export import ExportError, export_savedmodel

try:
    from ._export_models import assert_clean, batch, linear_module, serve
except ImportError:
    from _export_models import assert_clean, batch, linear_module, serve

tf = pytest.importorskip("tensorflow")


def test_module_with_predict_and_classify(tmp_path):
    # Given a tf.Module with two traced functions (TF Serving's predict/classify example)
    module = linear_module()
    # When both are exported as signatures with the image input name
    result = export_savedmodel(
        module, tmp_path / "m", inputs="image",
        signatures={"predict": module.predict,
                    "classify": {"fn": module.classify, "outputs": "classes"}},
        progress=False,
    )  # fmt: skip
    # Then each signature serves like the module
    x = batch()
    scores = serve(result.path, "predict", image=x)["scores"]
    np.testing.assert_allclose(scores, module.predict(x)["scores"].numpy(), rtol=1e-6)
    classes = serve(result.path, "classify", image=x)["classes"]
    assert classes.tolist() == module.classify(x).numpy().tolist()
    assert result.signatures["classify"]["outputs"]["classes"]["dtype"] == "int64"
    assert set(result.signatures) == {"predict", "classify", "serving_default"}
    assert result.source_kind == "module" and result.max_abs_diff == 0


def test_module_with_one_function_needs_no_signatures(tmp_path):
    # Given a module whose only tf.function is __call__
    class Double(tf.Module):
        def __init__(self):
            super().__init__()
            self.k = tf.Variable(2.0)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def __call__(self, x):
            return x * self.k

    # When exported / Then the signature uses the argument name and output_0
    result = export_savedmodel(Double(), tmp_path / "m", progress=False)
    assert serve(result.path, x=np.array([1.0, 3.0], "float32"))["output_0"].tolist() == [2, 6]


def test_module_with_several_functions_asks_which(tmp_path):
    # Given a module with predict and classify and no signatures=
    # When exported
    with pytest.raises(ExportError, match="several tf.functions") as info:
        export_savedmodel(linear_module(), tmp_path / "m", progress=False)
    # Then the message says how to pick
    assert "signatures=" in str(info.value)
    assert_clean(info.value)


def test_traced_function_without_signature(tmp_path):
    # Given a tf.function traced once (no input_signature)
    v = tf.Variable([[1.0], [2.0]])

    @tf.function
    def project(features):
        return tf.matmul(features, v)

    project(tf.ones([3, 2]))
    # When exported
    result = export_savedmodel(project, tmp_path / "m", outputs="y", progress=False)
    # Then its traced shape is the signature
    assert result.signatures["serving_default"]["inputs"]["features"]["shape"] == [3, 2]
    assert serve(result.path, features=np.ones([3, 2], "float32"))["y"].tolist() == [[3]] * 3


def test_untraced_function_is_a_clear_error(tmp_path):
    # Given a tf.function that was never traced and has no input_signature
    @tf.function
    def f(x):
        return x

    # When exported / Then the message says to add an input_signature or call it
    with pytest.raises(ExportError, match="never been called") as info:
        export_savedmodel(f, tmp_path / "m", progress=False)
    assert_clean(info.value)


def test_tf2_checkpoint_into_a_module(tmp_path):
    # Given a checkpoint of one module and a fresh module with other values
    trained = linear_module()
    trained.w.assign(trained.w * 3)
    prefix = tf.train.Checkpoint(model=trained).save(str(tmp_path / "ckpt" / "c"))
    fresh = linear_module()
    # When the fresh one is exported with checkpoint=
    result = export_savedmodel(
        fresh, tmp_path / "m", signatures={"predict": fresh.predict}, checkpoint=prefix,
        progress=False,
    )  # fmt: skip
    # Then the export holds the checkpoint's values
    x = batch()
    got = serve(result.path, "predict", x=x)["scores"]
    np.testing.assert_allclose(got, trained.predict(x)["scores"].numpy(), rtol=1e-6)


def test_unknown_source_type(tmp_path):
    # Given something that is not a model
    # When exported
    with pytest.raises(ExportError, match="cannot export a builtins.dict") as info:
        export_savedmodel({"not": "a model"}, tmp_path / "m", progress=False)
    # Then the message lists what is supported
    assert "Keras" in str(info.value) and "Session" in str(info.value)
    assert_clean(info.value)
    assert not (tmp_path / "m" / "1").exists()


def test_plain_python_function_needs_shapes(tmp_path):
    # Given a plain lambda as a signature of a module (no model inputs to borrow)
    # When exported without shapes / Then the message says how to give them
    with pytest.raises(ExportError, match="plain Python function") as info:
        export_savedmodel(
            linear_module(), tmp_path / "m", signatures={"f": lambda x: x}, progress=False
        )
    assert_clean(info.value)
    # and with shapes it works
    result = export_savedmodel(
        linear_module(), tmp_path / "m",
        signatures={"double": {"fn": lambda x: 2 * x, "inputs": {"x": (None, 2)}}},
        progress=False,
    )  # fmt: skip
    assert serve(result.path, "double", x=np.ones([1, 2], "float32"))["output_0"].tolist() == [
        [2, 2]
    ]


def test_bad_arguments_are_clear(tmp_path):
    # Given malformed arguments
    # When exported / Then each error names the argument
    module = linear_module()
    for kwargs, message in [
        ({"version": -1}, "version=-1"),
        ({"weights_dtype": "int4"}, "weights_dtype='int4'"),
        ({"max_size": "lots"}, "max_size='lots'"),
        ({"signatures": {"a": module.predict}, "signature_name": "b"}, "either signature_name"),
    ]:
        with pytest.raises(ExportError, match=message):
            export_savedmodel(module, tmp_path / "m", progress=False, **kwargs)
