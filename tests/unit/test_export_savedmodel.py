"""Existing SavedModels as sources (re-version, rename) and inspect_savedmodel."""

import contextlib
import io
import json
import os
from ast import literal_eval

import numpy as np
import pytest

from jupyter_workbench.export import ExportError, export_savedmodel, inspect_savedmodel

try:
    from ._export_models import assert_clean, batch, json_lines, keras_mlp, run_python, serve
except ImportError:
    from _export_models import assert_clean, batch, json_lines, keras_mlp, run_python, serve

tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base = tmp_path_factory.mktemp("exported") / "mnist"
    model = keras_mlp()
    result = export_savedmodel(
        model, base, signature_name="predict_images", inputs="image", outputs="scores",
        progress=False,
    )  # fmt: skip
    return model, result


def test_reversion_copies_the_savedmodel(tmp_path, exported):
    # Given an exported version
    model, first = exported
    # When the directory is exported into another base
    result = export_savedmodel(first.path, tmp_path / "served", version=7, progress=False)
    # Then version 7 is a byte-identical copy with every signature
    assert result.version == 7 and result.source_kind == "savedmodel"
    assert result.signatures == first.signatures
    with (
        open(os.path.join(first.path, "saved_model.pb"), "rb") as a,
        open(os.path.join(result.path, "saved_model.pb"), "rb") as b,
    ):
        assert a.read() == b.read()
    assert result.max_abs_diff == 0


def test_model_base_means_latest_version(tmp_path, exported):
    # Given a base with version 1 and a re-exported version 2
    _model, first = exported
    base = tmp_path / "base"
    export_savedmodel(first.path, base, version=1, progress=False)
    export_savedmodel(first.path, base, version=2, progress=False)
    # When the base is inspected or used as a source
    info = inspect_savedmodel(base)
    result = export_savedmodel(str(base), tmp_path / "copy", progress=False)
    # Then the latest version is used
    assert info["version"] == 2 and info["path"].endswith("/2")
    assert result.signatures == first.signatures


def test_rename_signature_and_outputs(tmp_path, exported):
    # Given an exported version
    model, first = exported
    # When re-exported under another signature and output name
    result = export_savedmodel(
        first.path, tmp_path / "renamed", signature_name="predict", outputs="probabilities",
        progress=False,
    )  # fmt: skip
    # Then the new names serve the same numbers
    x = batch()
    got = serve(result.path, "predict", image=x)["probabilities"]
    np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_inspect_dict(exported):
    # Given an exported version
    _model, first = exported
    # When inspected
    info = inspect_savedmodel(first.path)
    # Then tags and signature details are in the dict
    assert info["tags"] == ["serve"] and info["version"] == 1
    sig = info["signatures"]["predict_images"]
    assert sig["method"] == "tensorflow/serving/predict"
    assert sig["inputs"]["image"]["dtype"] == "float32"
    assert sig["inputs"]["image"]["shape"] == [None, 4]
    assert sig["inputs"]["image"]["tensor"].endswith(":0")
    assert sig["outputs"]["scores"]["shape"] == [None, 3]


def test_inspect_text_matches_saved_model_cli(exported):
    # Given an exported version
    _model, first = exported
    # When both describe it (saved_model_cli's own code for `show --dir DIR --all`, run in
    # this process: its console script would start a second TensorFlow, seconds of CPU)
    from tensorflow.python.tools import saved_model_cli

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        saved_model_cli._show_all(first.path)
    ours = str(inspect_savedmodel(first.path))
    # Then our text is the CLI's, up to the Concrete Functions it loads the model for
    theirs = printed.getvalue().split("Concrete Functions:")[0].strip()
    ours = ours.split("\n", 1)[1].strip()
    # (the CLI prints the op set in hash order; ours is sorted)
    ops_line = "contains the following ops: "
    assert ours.split(ops_line)[0] == theirs.split(ops_line)[0]
    assert literal_eval(ours.split(ops_line)[1]) == literal_eval(theirs.split(ops_line)[1])


def test_inspect_reads_the_saved_model_without_tensorflow(exported):
    # Given an exported version
    _model, first = exported
    # When a fresh interpreter inspects it
    proc = run_python(
        """
        import json, sys
        from jupyter_workbench.export import inspect_savedmodel
        info = inspect_savedmodel(sys.argv[1])
        print(json.dumps({"info": info, "text": str(info),
                          "tensorflow": "tensorflow" in sys.modules}))
        """,
        first.path,
    )
    assert proc.returncode == 0, proc.stderr
    [shown] = json_lines(proc.stdout)
    # Then it shows what this process (with TensorFlow) shows, without importing TensorFlow
    ours = inspect_savedmodel(first.path)
    assert shown["info"] == json.loads(json.dumps(ours)) and shown["text"] == str(ours)
    assert shown["tensorflow"] is False


def test_dtype_names_are_tensorflows():
    # Given every DataType number (and some that are not)
    from tensorflow.core.framework import types_pb2

    from jupyter_workbench.export import savedmodel_proto

    for enum in range(0, 140):
        # Then saved_model_cli's enum name and tf.dtypes' name are TensorFlow's own
        assert savedmodel_proto.dtype_enum_name(enum) == (
            types_pb2.DataType.Name(enum) if enum in types_pb2.DataType.values() else str(enum)
        )
        try:
            expected = tf.dtypes.as_dtype(enum).name
        except TypeError:
            expected = f"dtype({enum})"
        assert savedmodel_proto.dtype_name(enum) == expected, enum


def test_inspect_missing_path(tmp_path):
    # Given a missing path, then an empty directory
    # When inspected / Then each error says what is wrong
    with pytest.raises(ExportError, match="does not exist") as info:
        inspect_savedmodel(tmp_path / "nothing")
    assert_clean(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="is not a SavedModel"):
        inspect_savedmodel(tmp_path / "empty")


def test_directory_without_a_model(tmp_path):
    # Given an empty directory as the source
    # When exported / Then the error says it holds no model
    (tmp_path / "src").mkdir()
    with pytest.raises(ExportError, match="without a SavedModel") as info:
        export_savedmodel(str(tmp_path / "src"), tmp_path / "m", progress=False)
    assert_clean(info.value)
