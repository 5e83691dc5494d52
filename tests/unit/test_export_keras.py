"""Keras sources: Keras 3 and tf_keras models, .keras and legacy .h5 files, checkpoints."""

import os

import numpy as np
import pytest

import jupyter_workbench.export as export
from jupyter_workbench.export import ExportError, export_savedmodel, inspect_savedmodel

try:
    from ._export_models import (
        assert_clean,
        batch,
        json_lines,
        keras_mlp,
        keras_two_heads,
        run_python,
        serve,
        tf_keras_lstm,
        tf_keras_mlp,
    )
except ImportError:
    from _export_models import (
        assert_clean,
        batch,
        json_lines,
        keras_mlp,
        keras_two_heads,
        run_python,
        serve,
        tf_keras_lstm,
        tf_keras_mlp,
    )

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")


def variable_shapes(path):
    return sorted(
        tuple(shape)
        for name, shape in tf.train.list_variables(os.path.join(path, "variables", "variables"))
        if name != "_CHECKPOINTABLE_OBJECT_GRAPH"
    )


def variable_bytes(path):
    folder = os.path.join(path, "variables")
    return sum(
        os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if ".data-" in f
    )


def test_keras3_model_with_user_names(tmp_path):
    # Given a Keras 3 model
    model = keras_mlp()
    # When exported with the classic mnist names
    result = export_savedmodel(
        model, tmp_path / "mnist", signature_name="predict_images", inputs="image",
        outputs="scores", progress=False,
    )  # fmt: skip
    # Then version 1 serves predict_images(image) -> scores like the model
    assert result.version == 1 and result.path == str(tmp_path / "mnist" / "1")
    assert result.signatures["predict_images"] == {
        "inputs": {"image": {"dtype": "float32", "shape": [None, 4]}},
        "outputs": {"scores": {"dtype": "float32", "shape": [None, 3]}},
    }
    assert result.max_abs_diff == pytest.approx(0, abs=1e-6)
    x = batch()
    got = serve(result.path, "predict_images", image=x)["scores"]
    np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-5, atol=1e-6)
    # and TF Serving's default signature points at it
    assert "serving_default" in inspect_savedmodel(result.path)["signatures"]


def test_each_weight_is_stored_once_without_optimizer_slots(tmp_path):
    # Given a compiled, trained model (Adam has slots)
    model = keras_mlp()
    model.compile(optimizer="adam", loss="mse")
    model.fit(batch((8, 4)), batch((8, 3)), epochs=1, verbose=0)
    weight_bytes = sum(w.numpy().nbytes for w in model.weights)
    # When exported
    result = export_savedmodel(model, tmp_path / "m", verify=False, progress=False)
    # Then the checkpoint holds exactly the model's weights, once
    assert variable_shapes(result.path) == sorted(tuple(w.shape) for w in model.weights)
    assert weight_bytes <= variable_bytes(result.path) < weight_bytes + 2048


def test_functional_multi_input_multi_output_renamed_and_selected(tmp_path):
    # Given a model with inputs a, b and outputs logits, value
    model = keras_two_heads()
    # When exported with new input names and only the value head
    result = export_savedmodel(
        model, tmp_path / "m", inputs={"x1": "a", "x2": "b"}, outputs={"v": "value"},
        progress=False,
    )  # fmt: skip
    # Then the signature has those names and serves the value head
    sig = result.signatures["serving_default"]
    assert sorted(sig["inputs"]) == ["x1", "x2"] and list(sig["outputs"]) == ["v"]
    a, b = batch((2, 3)), batch((2, 2), seed=1)
    got = serve(result.path, x1=a, x2=b)["v"]
    np.testing.assert_allclose(got, model([a, b])[1].numpy(), rtol=1e-5, atol=1e-6)


def test_default_names_come_from_the_model(tmp_path):
    # Given a functional model / When exported without names
    result = export_savedmodel(keras_two_heads(), tmp_path / "m", progress=False)
    # Then inputs and outputs keep the model's layer names
    sig = result.signatures["serving_default"]
    assert sorted(sig["inputs"]) == ["a", "b"] and sorted(sig["outputs"]) == ["logits", "value"]


def test_several_signatures_from_one_keras_model(tmp_path):
    # Given a model and a classify function on top of it
    model = keras_mlp()

    def classify(x):
        return tf.argmax(model(x), axis=-1)

    # When exported with predict and classify signatures
    result = export_savedmodel(
        model, tmp_path / "m", inputs="image",
        signatures={"predict": {"outputs": "scores"},
                    "classify": {"fn": classify, "outputs": "classes"}},
        progress=False,
    )  # fmt: skip
    # Then both serve (predict is also serving_default)
    x = batch()
    assert serve(result.path, "classify", image=x)["classes"].tolist() == (
        np.argmax(model(x).numpy(), -1).tolist()
    )
    assert set(result.signatures) == {"predict", "classify", "serving_default"}


def test_string_lookup_tables_are_exported(tmp_path):
    # Given a model whose first layer is a variable-free StringLookup
    model = keras.Sequential(
        [
            keras.Input((1,), dtype="string", name="word"),
            keras.layers.StringLookup(vocabulary=["a", "b", "c"]),
            keras.layers.Embedding(5, 2),
            keras.layers.Flatten(),
        ]
    )
    # When exported
    result = export_savedmodel(model, tmp_path / "m", outputs="vector", progress=False)
    # Then the table travels with the SavedModel and the embedding is stored once
    words = np.array([["b"], ["unknown"]], dtype=object)
    got = serve(result.path, word=tf.constant(words))["vector"]
    np.testing.assert_allclose(got, model(tf.constant(words)).numpy(), rtol=1e-6)
    assert variable_shapes(result.path) == [(5, 2)]
    # float16 storage rewrites graphs whose only state is variables: tables are refused clearly
    with pytest.raises(ExportError, match="lookup table"):
        export_savedmodel(model, tmp_path / "m", weights_dtype="float16", progress=False)


def test_float16_weights_compute_in_float32(tmp_path):
    # Given a model with bigger weights
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(256), keras.layers.Dense(8)])
    # When exported with float16 weights
    result = export_savedmodel(model, tmp_path / "m", weights_dtype="float16", progress=False)
    full = export_savedmodel(model, tmp_path / "m", progress=False)
    # Then variables are half precision, outputs float32 within ~1e-3 relative
    reader = tf.train.load_checkpoint(os.path.join(result.path, "variables", "variables"))
    dtypes = {reader.get_variable_to_dtype_map()[k] for k in reader.get_variable_to_shape_map()}
    assert tf.float16 in dtypes and tf.float32 not in dtypes
    x = batch((4, 64))
    (input_name,) = result.signatures["serving_default"]["inputs"]
    (out,) = serve(result.path, **{input_name: x}).values()
    want = model(x).numpy()
    assert out.dtype == np.float32
    assert np.max(np.abs(out - want)) / np.max(np.abs(want)) < 5e-3
    assert variable_bytes(result.path) < 0.55 * variable_bytes(full.path)
    assert 0 < result.max_abs_diff < 1e-2 and result.weights_dtype == "float16"


def test_unbuilt_subclassed_model_is_a_clear_error(tmp_path):
    # Given a subclassed model that was never called
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    # When exported without an input signature
    with pytest.raises(ExportError, match="has not been built") as info:
        export_savedmodel(Net(), tmp_path / "m", progress=False)
    # Then the message says what to do, and nothing was published
    assert "call it once" in str(info.value) and "inputs=" in str(info.value)
    assert_clean(info.value)
    assert not (tmp_path / "m" / "1").exists()
    # and giving the shape works
    result = export_savedmodel(Net(), tmp_path / "m", inputs={"x": (None, 5)}, progress=False)
    assert result.signatures["serving_default"]["inputs"]["x"]["shape"] == [None, 5]


def test_subclassed_model_after_a_call(tmp_path):
    # Given a subclassed model called once
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = Net()
    x = batch((3, 7))
    model(x)
    # When exported
    result = export_savedmodel(model, tmp_path / "m", inputs="x", outputs="y", progress=False)
    # Then it serves like the model
    np.testing.assert_allclose(serve(result.path, x=x)["y"], model(x).numpy(), rtol=1e-5)


def test_dot_keras_file(tmp_path):
    # Given a .keras file
    model = keras_two_heads()
    model.save(tmp_path / "model.keras")
    # When the path is exported
    result = export_savedmodel(str(tmp_path / "model.keras"), tmp_path / "m", progress=False)
    # Then it is reloaded and served
    a, b = batch((2, 3)), batch((2, 2), seed=1)
    got = serve(result.path, a=a, b=b)
    np.testing.assert_allclose(got["logits"], model([a, b])[0].numpy(), rtol=1e-5)
    assert result.source_kind == "keras"


def test_legacy_h5_read_by_keras3(tmp_path):
    # Given a legacy h5 from Keras 3
    model = keras_mlp()
    model.save(tmp_path / "model.h5")
    # When exported
    result = export_savedmodel(str(tmp_path / "model.h5"), tmp_path / "m", progress=False)
    # Then Keras 3 read it
    assert result.source_kind == "keras"
    x = batch()
    np.testing.assert_allclose(serve(result.path, feat=x)["out"], model(x).numpy(), rtol=1e-5)


@pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5")
def test_legacy_lstm_h5_falls_back_to_tf_keras(tmp_path):
    # Given an LSTM h5 saved by tf_keras (Keras 3 cannot read it)
    pytest.importorskip("tf_keras")
    model = tf_keras_lstm()
    model.save(tmp_path / "lstm.h5")
    # When exported
    result = export_savedmodel(
        str(tmp_path / "lstm.h5"), tmp_path / "m", outputs="scores", progress=False
    )
    # Then tf_keras loaded it and the SavedModel computes the same
    assert result.source_kind == "tf_keras"
    x = batch((2, 5, 3))
    got = serve(result.path, seq=x)["scores"]
    np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_tf_keras_model_object(tmp_path):
    # Given a tf_keras (Keras 2) model
    pytest.importorskip("tf_keras")
    model = tf_keras_mlp()
    # When exported
    result = export_savedmodel(model, tmp_path / "m", inputs="image", progress=False)
    # Then it serves like the model, weights once
    x = batch()
    np.testing.assert_allclose(serve(result.path, image=x)["out"], model(x).numpy(), rtol=1e-5)
    assert variable_shapes(result.path) == sorted(tuple(w.shape) for w in model.weights)


def test_tf2_checkpoint_restored_into_the_model(tmp_path):
    # Given a checkpoint of a trained model and a fresh model of the same architecture
    trained = keras_mlp()
    trained.compile(optimizer="adam", loss="mse")
    trained.fit(batch((8, 4)), batch((8, 3)), epochs=1, verbose=0)
    prefix = tf.train.Checkpoint(model=trained, optimizer=trained.optimizer).save(
        str(tmp_path / "ckpt" / "model")
    )
    fresh = keras_mlp()
    for w in fresh.weights:
        w.assign(np.zeros(w.shape, dtype="float32"))
    # When the fresh model is exported with checkpoint=
    result = export_savedmodel(fresh, tmp_path / "m", checkpoint=prefix, progress=False)
    # Then the SavedModel computes like the trained model, without optimizer slots
    x = batch()
    np.testing.assert_allclose(serve(result.path, feat=x)["out"], trained(x).numpy(), rtol=1e-5)
    assert variable_shapes(result.path) == sorted(tuple(w.shape) for w in trained.weights)


def test_keras_weights_file_as_checkpoint(tmp_path):
    # Given weights saved with model.save_weights and a fresh model
    trained = keras_mlp()
    trained.save_weights(tmp_path / "model.weights.h5")
    fresh = keras_mlp()
    for w in fresh.weights:
        w.assign(np.ones(w.shape, dtype="float32"))
    # When exported with checkpoint= the weights file
    result = export_savedmodel(
        fresh, tmp_path / "m", checkpoint=tmp_path / "model.weights.h5", progress=False
    )
    # Then the SavedModel holds the saved weights
    x = batch()
    np.testing.assert_allclose(serve(result.path, feat=x)["out"], trained(x).numpy(), rtol=1e-5)


def test_checkpoint_that_does_not_exist(tmp_path):
    # Given a checkpoint prefix that does not exist
    # When exported with it / Then the error names it, without a traceback
    with pytest.raises(ExportError, match="does not exist") as info:
        export_savedmodel(keras_mlp(), tmp_path / "m", checkpoint=tmp_path / "nope", progress=False)
    assert_clean(info.value)


def test_missing_model_file(tmp_path):
    # Given a path that does not exist
    # When exported
    with pytest.raises(ExportError, match="does not exist") as info:
        export_savedmodel(str(tmp_path / "missing.h5"), tmp_path / "m", progress=False)
    # Then the error names the file, without a TensorFlow traceback
    assert "missing.h5" in str(info.value)
    assert_clean(info.value)


def test_unknown_input_name(tmp_path):
    # Given a model whose input is called 'feat'
    # When an input 'pixels' is asked for / Then the error lists the real names
    with pytest.raises(ExportError, match="has no input of that name") as info:
        export_savedmodel(keras_mlp(), tmp_path / "m", inputs={"image": "pixels"}, progress=False)
    assert "'feat'" in str(info.value)
    assert_clean(info.value)


def test_public_api_names():
    # Given the package / When its API is listed / Then the contract's names are there
    assert set(export.__all__) >= {
        "export_savedmodel", "inspect_savedmodel", "ExportResult", "ExportError",
    }  # fmt: skip
    assert issubclass(ExportError, ValueError)


def test_a_file_that_is_not_its_kind_fails_at_once_without_tensorflow(tmp_path):
    # Given a text file named .keras, a truncated .keras and a text file named .h5
    (tmp_path / "notes.keras").write_text("not a model")
    (tmp_path / "cut.keras").write_bytes(b"PK\x03\x04" + b"\0" * 20)
    (tmp_path / "notes.h5").write_text("not a model")
    # When each is exported (in a fresh interpreter, to see what gets imported)
    proc = run_python(
        """
        import json, sys
        from jupyter_workbench.export import ExportError, export_savedmodel
        for name in sys.argv[2:]:
            try:
                export_savedmodel(f"{sys.argv[1]}/{name}", f"{sys.argv[1]}/out")
            except ExportError as err:
                print(json.dumps({"name": name, "error": str(err)}))
        print(json.dumps({"tensorflow": "tensorflow" in sys.modules}))
        """,
        str(tmp_path),
        "notes.keras",
        "cut.keras",
        "notes.h5",
    )
    assert proc.returncode == 0, proc.stderr
    *errors, imported = json_lines(proc.stdout)
    # Then each fails with a message saying what the file is not, before TensorFlow is loaded,
    # and nothing is published
    assert [e["name"] for e in errors] == ["notes.keras", "cut.keras", "notes.h5"]
    assert "is not a Keras 3 model file" in errors[0]["error"]
    assert "is not a Keras 3 model file" in errors[1]["error"]
    assert "is not an HDF5 model file" in errors[2]["error"]
    assert imported == {"tensorflow": False}
    assert not (tmp_path / "out" / "1").exists()
