"""`python -m jupyter_workbench.export.worker`: the REST API's export subprocess."""

import json
import subprocess
import sys

import pytest

try:
    from ._export_models import REPO, json_lines, keras_mlp, subprocess_env
except ImportError:
    from _export_models import REPO, json_lines, keras_mlp, subprocess_env

pytest.importorskip("tensorflow")


def run_worker(request, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "jupyter_workbench.export.worker"],
        input=request if isinstance(request, str) else json.dumps(request),
        capture_output=True, text=True, timeout=timeout, env=subprocess_env(), cwd=REPO,
    )  # fmt: skip


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("worker") / "model.keras"
    keras_mlp().save(path)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory, keras_file):
    # A request for a .keras file, run through the worker
    dest = tmp_path_factory.mktemp("worker-dest") / "models" / "m"
    request = {
        "source": str(keras_file), "destination": str(dest), "version": None,
        "signature_name": "predict_images", "inputs": ["image"], "outputs": {"scores": "out"},
        "checkpoint": None, "overwrite": False, "verify": True, "weights_dtype": None,
        "max_size": "100MB",
    }  # fmt: skip
    return dest, run_worker(request)


def test_worker_exports_with_progress_events(exported):
    # Given a request for a .keras file
    # When the worker runs
    dest, proc = exported
    # Then stdout is only JSON lines: progress events, then done with the result
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) == len(lines)
    progress = [e for e in events if e["event"] == "progress"]
    assert progress and all(0 <= e["fraction"] <= 1 and e["message"] for e in progress)
    assert [e["fraction"] for e in progress] == sorted(e["fraction"] for e in progress)
    done = events[-1]
    assert done["event"] == "done"
    assert done["result"]["version"] == 1
    assert done["result"]["path"] == str(dest / "1")
    assert list(done["result"]["signatures"]["predict_images"]["inputs"]) == ["image"]
    assert done["result"]["max_abs_diff"] == 0


def test_worker_reports_errors_as_one_message(tmp_path):
    # Given a request for a missing file
    request = {"source": str(tmp_path / "missing.keras"), "destination": str(tmp_path / "m")}
    # When the worker runs
    proc = run_worker(request)
    # Then it exits 1 with a single error event naming the file
    assert proc.returncode == 1
    events = json_lines(proc.stdout)
    assert events[-1]["event"] == "error" and "missing.keras" in events[-1]["message"]
    assert "Traceback" not in proc.stdout


@pytest.mark.parametrize(
    "request_text, message",
    [
        ("not json", "not JSON"),
        (json.dumps({"source": "a", "destination": "b", "colour": "red"}), "unknown request"),
        (json.dumps({"destination": "b"}), "needs 'source'"),
    ],
)
def test_worker_rejects_bad_requests(request_text, message):
    # Given a malformed request / When the worker runs / Then it exits 1 with a message
    proc = run_worker(request_text)
    assert proc.returncode == 1
    assert message in json_lines(proc.stdout)[-1]["message"]


def test_worker_inspects(exported):
    # Given an exported model
    dest, proc = exported
    assert proc.returncode == 0, proc.stderr
    # When the worker is asked to inspect its base
    inspected = run_worker({"action": "inspect", "path": str(dest)})
    # Then the result is the inspect dict plus the saved_model_cli-like text
    result = json_lines(inspected.stdout)[-1]["result"]
    assert result["version"] == 1 and "predict_images" in result["signatures"]
    assert "MetaGraphDef with tag-set: 'serve'" in result["text"]
