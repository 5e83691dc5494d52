"""Task jobs (``JobManager.submit_task``): the one background model under exports and
environment creations. Real runner and command processes; the command is a small script
speaking the JSON-lines protocol, so each case is cheap and exact."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time

import pytest

from jupyter_workbench.session.jobs import JobManager

SECRET = "S3cr3t-Value-0123456789"

WORKER = textwrap.dedent(
    """
    import json, sys, time
    request = json.loads(sys.stdin.read())
    def send(event):
        print(json.dumps(event), flush=True)
    mode = request["mode"]
    secret = request["secret"]
    if mode == "ok":
        send({"event": "progress", "fraction": 0.5, "message": f"halfway with {secret}"})
        print(f"a warning mentioning {secret}", file=sys.stderr, flush=True)
        print("a stray print", flush=True)
        send({"event": "progress", "fraction": 0.9, "step": "publish", "line": "  [2/2] publish"})
        send({"event": "done", "result": {"path": f"oss://{secret}@bucket/m/1", "version": 1}})
    elif mode == "error":
        send({"event": "error", "message": f"no access with {secret}"})
        sys.exit(1)
    elif mode == "crash":
        print(f"Traceback ... KeyError: {secret}", file=sys.stderr, flush=True)
        sys.exit(3)
    elif mode == "silent":
        pass
    elif mode == "sleep":
        send({"event": "progress", "fraction": 0.1, "message": "sleeping"})
        time.sleep(60)
    """
)


@pytest.fixture
def manager(tmp_path):
    return JobManager(state_dir=tmp_path / "state", root_dir=tmp_path)


@pytest.fixture
def worker(tmp_path):
    path = tmp_path / "worker.py"
    path.write_text(WORKER)
    return path


def start(manager, worker, mode, **kwargs):
    return manager.submit_task(
        "export",
        [sys.executable, str(worker)],
        name="Export m.keras to oss://bucket/m",
        environment="tf2",
        path="m.keras",
        details={"source": "m.keras", "destination": "oss://bucket/m"},
        stdin=json.dumps({"mode": mode, "secret": SECRET}),
        secrets=[SECRET],
        **kwargs,
    )


def everything_on_disk(state_dir) -> str:
    texts = []
    for dirpath, _dirs, names in os.walk(state_dir):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as f:
                texts.append(f.read().decode("latin-1"))
    return "\n".join(texts)


def test_a_task_gets_its_input_reports_progress_and_result_and_stores_no_secret(
    manager, worker, tmp_path
):
    # When a task is started with an input carrying a secret
    job = start(manager, worker, "ok")

    # Then it is listed by kind, and ends with its result, scrubbed
    assert [j.id for j in manager.list(kind="export")] == [job.id]
    assert manager.list(kind="environment") == []
    done = manager.wait(job.id, timeout=30)
    assert done.state == "succeeded", done.reason
    assert done.kind == "export" and done.environment == "tf2" and done.path == "m.keras"
    assert done.details == {"source": "m.keras", "destination": "oss://bucket/m"}
    assert done.progress == 1.0 and done.step == "publish"
    assert done.result == {"path": "oss://***@bucket/m/1", "version": 1}
    assert done.message == "halfway with ***"
    # and the log has its progress lines, stderr and stray prints, scrubbed
    log = manager.log(job.id)["log"]
    assert "halfway with ***" in log and "  [2/2] publish" in log
    assert "a warning mentioning ***" in log and "a stray print" in log
    # and no file under the state dir, nor the record's command line, holds the secret
    assert SECRET not in everything_on_disk(tmp_path / "state")
    # and another manager over the same state dir (a restarted server) sees the same
    again = JobManager(state_dir=tmp_path / "state", root_dir=tmp_path).get(job.id)
    assert again.to_dict() == done.to_dict()


@pytest.mark.parametrize(
    "mode, words",
    [
        ("error", "no access with ***"),
        ("crash", "exited with code 3. Traceback ... KeyError: ***"),
        ("silent", "ended without reporting a result"),
    ],
)
def test_a_failing_task_says_why_without_the_secret(manager, worker, tmp_path, mode, words):
    job = start(manager, worker, mode)
    done = manager.wait(job.id, timeout=30)
    assert done.state == "failed" and words in done.reason, done.reason
    assert done.result is None
    assert SECRET not in everything_on_disk(tmp_path / "state")


def test_a_task_past_its_timeout_is_stopped_with_the_reason(manager, worker):
    job = start(manager, worker, "sleep", timeout=1.5, timeout_reason="Took longer than 1.5 s.")
    done = manager.wait(job.id, timeout=30)
    assert done.state == "failed" and done.reason == "Took longer than 1.5 s."
    assert done.ended_at - done.started_at < 20


def test_cancelling_a_running_task(manager, worker):
    # Given a task that has reported its first progress
    job = start(manager, worker, "sleep")
    for _ in range(400):
        if manager.get(job.id).message == "sleeping":
            break
        time.sleep(0.05)
    assert manager.get(job.id).state == "running"
    # When it is cancelled / Then it stops, saying so
    cancelled = manager.cancel(job.id)
    assert cancelled.state == "cancelled" and cancelled.reason == "Cancelled by the user."


def test_only_known_task_kinds(manager, worker):
    with pytest.raises(ValueError, match="kind"):
        manager.submit_task("mine", [sys.executable, str(worker)], name="x")


def test_the_cli_lists_and_shows_a_task_by_its_name_and_kind(tmp_path, worker, monkeypatch, capsys):
    # Given an export task recorded in the state dir the CLI reads
    monkeypatch.setenv("JUPYTER_WORKBENCH_STATE_DIR", str(tmp_path / "state"))
    manager = JobManager(root_dir=tmp_path)
    done = manager.wait(start(manager, worker, "ok").id, timeout=30)
    from jupyter_workbench.cli import main

    # When the user lists the jobs and shows this one
    assert main(["job", "list"]) == 0
    listing = capsys.readouterr().out
    assert main(["job", "status", done.id]) == 0
    status = capsys.readouterr().out
    # Then it is named as the export it is, and its kind is shown
    assert f"{done.id}  succeeded" in listing and "Export m.keras to oss://bucket/m" in listing
    assert "kind        export" in status and SECRET not in listing + status
