"""Removing finished jobs: one by the user (``JobManager.remove``, ``job rm``), old ones by the
retention sweep (``prune``, ``start_retention``). Real runners and processes throughout."""

from __future__ import annotations

import json
import sys
import time

import nbformat
import pytest

from jupyter_workbench.session.jobs import JobConflict, JobManager, JobNotFound

DAY = 86400


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    return root


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    state = tmp_path / "state"
    monkeypatch.setenv("JUPYTER_WORKBENCH_STATE_DIR", str(state))
    return state


def age(manager: JobManager, job_id: str, days: float) -> None:
    """Make a job look as if it was created and ended ``days`` ago (its records say when;
    no test can wait a week)."""
    job_dir = manager.jobs_dir / job_id
    then = time.time() - days * DAY
    meta = json.loads((job_dir / "job.json").read_text())
    (job_dir / "job.json").write_text(json.dumps({**meta, "created_at": then}))
    if (job_dir / "state.json").exists():  # a runner that has just started has none yet
        state = json.loads((job_dir / "state.json").read_text())
        if state.get("ended_at"):
            state.update(started_at=then, ended_at=then + 1)
            (job_dir / "state.json").write_text(json.dumps(state))


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def test_remove_deletes_a_finished_job_but_not_what_it_wrote(state_dir, root):
    # Given a notebook job that has written its executed copy beside the notebook
    manager = JobManager(state_dir=state_dir, root_dir=root)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(6 * 7)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, str(root / "train.ipynb"))
    done = manager.wait(manager.submit("train.ipynb").id, timeout=60)
    assert done.state == "succeeded", manager.log(done.id)

    # When the user removes it
    removed = manager.remove(done.id)

    # Then its record and log are gone, everywhere a manager looks
    assert removed.id == done.id and removed.state == "succeeded"
    assert not (manager.jobs_dir / done.id).exists()
    assert list(manager.jobs_dir.iterdir()) == []
    assert manager.list() == []
    with pytest.raises(JobNotFound):
        JobManager(state_dir=state_dir).get(done.id)
    with pytest.raises(JobNotFound):
        manager.remove(done.id)
    # and the notebook and its executed copy stay
    executed = nbformat.read(str(root / "train.output.ipynb"), as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "42\n"
    assert (root / "train.ipynb").is_file()


def test_a_running_job_is_never_removed(state_dir, root):
    manager = JobManager(state_dir=state_dir, root_dir=root, retention_days=1)
    (root / "long.sh").write_text("sleep 60\n")
    job = manager.submit("long.sh")
    try:
        with pytest.raises(JobConflict, match="still running: cancel it first"):
            manager.remove(job.id)
        age(manager, job.id, 30)  # started a month ago and still running
        assert manager.prune() == []
        assert manager.get(job.id).state == "running"
    finally:
        manager.cancel(job.id)


def test_the_sweep_removes_old_finished_jobs_of_every_kind_at_start_and_later(state_dir, root):
    # Given finished jobs: an old script, an old export task, a recent script; and a running one
    manager = JobManager(state_dir=state_dir, root_dir=root, retention_days=7)
    (root / "ok.py").write_text("print('ok')\n")
    (root / "long.sh").write_text("sleep 60\n")
    event = json.dumps({"event": "done", "result": {"version": 1}})
    task = manager.submit_task(
        "export", [sys.executable, "-c", f"print({event!r})"], name="Export m to models/m"
    )
    old_script, recent = manager.submit("ok.py"), manager.submit("ok.py")
    for job in (task, old_script, recent):
        assert manager.wait(job.id, timeout=30).state == "succeeded"
    running = manager.submit("long.sh")
    age(manager, task.id, 10)
    age(manager, old_script.id, 8)
    age(manager, recent.id, 6)
    age(manager, running.id, 10)
    try:
        # When the sweep starts (as the server does), with a short period for the test
        manager.start_retention(interval=0.1)

        # Then the old finished jobs go, the recent and the running one stay
        wait_for(lambda: {j.id for j in manager.list()} == {recent.id, running.id})
        assert not (manager.jobs_dir / task.id).exists()
        # and the next sweep removes the recent one once it is old too
        age(manager, recent.id, 7.01)
        wait_for(lambda: [j.id for j in manager.list()] == [running.id])
    finally:
        manager.stop_retention()
        manager.cancel(running.id)
    assert manager._sweeper is None


def test_zero_days_keeps_every_job(state_dir, root):
    manager = JobManager(state_dir=state_dir, root_dir=root, retention_days=0)
    (root / "ok.py").write_text("print('ok')\n")
    job = manager.wait(manager.submit("ok.py").id, timeout=30)
    age(manager, job.id, 3650)
    manager.start_retention(interval=0.05)
    assert manager._sweeper is None  # no sweep at all
    assert manager.prune() == []
    assert [j.id for j in manager.list()] == [job.id]


def test_cli_rm_removes_a_finished_job(state_dir, tmp_path, monkeypatch, capsys):
    from jupyter_workbench.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "job.py").write_text("print('done')\n")
    (tmp_path / "long.sh").write_text("sleep 60\n")
    assert main(["job", "run", "job.py", "--wait", "--json"]) == 0
    job = json.loads(capsys.readouterr().out)

    assert main(["job", "rm", job["id"]]) == 0
    assert capsys.readouterr().out == f"Removed job {job['id']} (succeeded) and its log.\n"
    assert main(["job", "list"]) == 0
    assert capsys.readouterr().out == "No background jobs.\n"
    assert main(["job", "rm", job["id"]]) == 1
    assert capsys.readouterr().err == f"error: No job with id {job['id']!r}.\n"

    assert main(["job", "run", "long.sh", "--json"]) == 0
    running = json.loads(capsys.readouterr().out)
    try:
        assert main(["job", "rm", running["id"]]) == 1
        assert "is still running: cancel it first" in capsys.readouterr().err
    finally:
        JobManager().cancel(running["id"])
