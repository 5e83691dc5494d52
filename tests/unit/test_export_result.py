"""ExportResult, size warnings and progress reporting (no TensorFlow needed)."""

import json

import pytest

from jupyter_workbench.export import ExportError, ExportResult
from jupyter_workbench.export.progress import Progress
from jupyter_workbench.export.sizes import size_warnings


def make_result(**overrides):
    data = dict(
        path="/models/mnist/3",
        version=3,
        signatures={
            "predict_images": {
                "inputs": {"image": {"dtype": "float32", "shape": [None, 784]}},
                "outputs": {"scores": {"dtype": "float32", "shape": [None, 10]}},
            }
        },
        size_bytes=1_234_567,
        max_abs_diff=2.5e-7,
        warnings=[],
        source_kind="keras",
    )
    data.update(overrides)
    return ExportResult(**data)


def test_to_dict_is_json():
    # Given a result
    result = make_result(max_abs_diff=float("inf"))
    # When serialised
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    # Then every field is there and non-finite numbers became null
    assert data["version"] == 3
    assert data["signatures"]["predict_images"]["inputs"]["image"]["shape"] == [None, 784]
    assert data["max_abs_diff"] is None
    assert set(data) >= {"path", "version", "signatures", "size_bytes", "max_abs_diff", "warnings"}


def test_summary_and_html_name_everything():
    # Given a result with a warning
    result = make_result(warnings=["the SavedModel is 612.3 MB, above the 500 MB limit"])
    # When rendered
    text, html = str(result), result._repr_html_()
    # Then version, path, signature, input/output names, dtypes, shapes, size and diff appear
    for part in ("version 3", "/models/mnist/3", "predict_images", "image", "scores",
                 "float32", "(None, 784)", "1.2 MB", "2.5e-07", "500 MB"):  # fmt: skip
        assert part in text
    assert "<table>" in html and "predict_images" in html and "(None, 10)" in html


def test_size_warnings_cite_the_deployment_limits():
    # Given sizes around the 500 MB and 10 GB limits
    # When checked / Then small is fine, above 500 MB warns, above 10 GB warns harder
    assert size_warnings(499_000_000) == []
    assert "500 MB" in size_warnings(600_000_000)[0]
    assert "10 GB" in size_warnings(600_000_000)[0]
    assert "above the 10 GB" in size_warnings(11 * 10**9)[0]


def test_progress_callable_gets_monotonic_fractions():
    # Given a callable
    seen = []
    progress = Progress(lambda fraction, message: seen.append((fraction, message)))
    # When stages report out of order
    progress.update(0.5, "writing")
    progress.update(0.2, "late")
    progress.span(0.8, 1.0).update(50, 100, "uploading")
    # Then fractions never go back
    assert [f for f, _ in seen] == [0.5, 0.5, 0.9]
    assert seen[-1][1] == "uploading"


def test_progress_true_draws_a_tqdm_bar(capsys):
    # Given progress=True
    progress = Progress(True)
    # When updated and closed
    progress.update(0.25, "writing SavedModel")
    progress.close()
    # Then a bar appears on stderr
    assert "writing SavedModel" in capsys.readouterr().err


def test_progress_false_is_silent(capsys):
    # Given progress=False / When updated / Then nothing is printed
    progress = Progress(False)
    progress.update(0.5, "writing")
    progress.close()
    assert capsys.readouterr() == ("", "")


def test_bad_progress_value():
    # Given a progress value that is neither bool nor callable / When used / Then refused
    with pytest.raises(ExportError, match="progress="):
        Progress("yes")
