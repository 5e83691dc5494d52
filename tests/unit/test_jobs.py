"""Background jobs as a library (``JobManager``), and its CLI and magic front doors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import nbformat
import pytest

from jupyter_workbench.session.jobs import (
    JobConflict,
    JobError,
    JobManager,
    JobNotFound,
    process_start_time,
)


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


@pytest.fixture
def manager(state_dir, root):
    return JobManager(state_dir=state_dir, root_dir=root)


def wait_for(predicate, timeout=20.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting")


def test_a_script_runs_detached_and_records_its_result(manager, root):
    # Given a Python script under the root
    (root / "hello.py").write_text("import os\nprint('hello from', os.getcwd())\n")

    # When it is submitted
    job = manager.submit("hello.py")

    # Then it runs in its own session (so the server's death does not reach it)
    assert job.state == "running" and job.kind == "python"
    assert os.getsid(job.pid) == job.pid
    # and succeeds, with its output in the log
    done = manager.wait(job.id, timeout=20)
    assert done.state == "succeeded" and done.exit_code == 0, done
    assert done.started_at <= done.ended_at
    assert manager.log(job.id)["log"] == f"hello from {root}\n"


def test_a_failing_shell_script_reports_its_exit_code(manager, root):
    (root / "fail.sh").write_text("echo about to fail\nexit 3\n")
    done = manager.wait(manager.submit("fail.sh").id, timeout=20)
    assert done.state == "failed" and done.exit_code == 3
    assert done.reason == "The process exited with code 3."
    assert manager.log(done.id)["log"] == "about to fail\n"


@pytest.mark.parametrize(
    "path, message",
    [
        ("../outside.py", "outside the server root"),
        ("/etc/hostname", "relative to the server root"),
        ("link/escape.py", "outside the server root"),
        ("missing.py", "No file"),
        ("data.csv", "Cannot run"),
        ("", "empty"),
    ],
)
def test_bad_paths_are_refused_with_a_clear_message(manager, root, tmp_path, path, message):
    (tmp_path / "outside.py").write_text("print('no')\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "escape.py").write_text("print('no')\n")
    (root / "link").symlink_to(tmp_path / "elsewhere")
    (root / "data.csv").write_text("a,b\n")
    with pytest.raises(JobError, match=message):
        manager.submit(path)
    assert manager.list() == []


def test_only_known_environments_or_admin_allowed_interpreters(state_dir, root):
    # Given a server-side manager (a root) and a script
    (root / "a.py").write_text("print('ran')\n")
    strict = JobManager(state_dir=state_dir, root_dir=root)
    # When a job names an arbitrary executable / Then it is refused, naming the setting
    for environment in ("/bin/sh", "/usr/bin/env", sys.executable):
        with pytest.raises(JobError, match="job_interpreters"):
            strict.submit("a.py", environment)
    # and one the administrator allowed runs
    allowed = JobManager(state_dir=state_dir, root_dir=root, allowed_interpreters=[sys.executable])
    job = allowed.wait(allowed.submit("a.py", sys.executable).id, timeout=60)
    assert job.state == "succeeded" and allowed.log(job.id)["log"] == "ran\n"


def test_unknown_environment_and_unknown_ids(manager, root):
    (root / "a.py").write_text("print(1)\n")
    with pytest.raises(JobError, match="Unknown environment 'nope'"):
        manager.submit("a.py", "nope")
    with pytest.raises(JobNotFound):
        manager.get("0123456789ab")
    with pytest.raises(JobNotFound):
        manager.get("../../etc")


def test_cancel_kills_the_whole_process_group(manager, root, tmp_path):
    # Given a shell job that started a grandchild
    pidfile = tmp_path / "child.pid"
    (root / "spawn.sh").write_text(f"sleep 60 &\necho $! > {pidfile}\nwait\n")
    job = manager.submit("spawn.sh")
    grandchild = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip()))

    # When it is cancelled
    cancelled = manager.cancel(job.id)

    # Then the job is cancelled and nothing of it is left running
    assert cancelled.state == "cancelled" and cancelled.reason == "Cancelled by the user."
    wait_for(lambda: process_start_time(grandchild) is None, timeout=5)
    # and cancelling again is a conflict, not a crash
    with pytest.raises(JobConflict):
        manager.cancel(job.id)


def test_a_job_killed_from_outside_fails_with_the_reason(manager, root):
    # Given a running job
    (root / "sleepy.py").write_text("import time\ntime.sleep(60)\n")
    job = manager.submit("sleepy.py")
    state = manager.state_dir / "jobs" / job.id / "state.json"
    child = wait_for(lambda: state.exists() and json.loads(state.read_text()).get("child_pid"))

    # When someone kills its process from outside the workbench
    os.kill(child, signal.SIGKILL)

    # Then it is failed, saying so
    done = manager.wait(job.id, timeout=20)
    assert done.state == "failed" and done.exit_code == -signal.SIGKILL
    assert "killed by SIGKILL" in done.reason and "outside" in done.reason


def test_a_job_whose_runner_was_killed_fails_with_the_reason(manager, root):
    # Given a running job
    (root / "sleepy.py").write_text("import time\ntime.sleep(60)\n")
    job = manager.submit("sleepy.py")

    # When its whole process group is killed (runner included: no result can be recorded)
    os.killpg(job.pid, signal.SIGKILL)

    # Then the manager notices the vanished runner and marks the job failed with why
    done = manager.wait(job.id, timeout=20)
    assert done.state == "failed"
    assert "ended without recording a result" in done.reason
    assert "killed from outside" in done.reason
    # and the conclusion is stable for every later reader
    assert JobManager(state_dir=manager.state_dir).get(job.id).reason == done.reason


_SERVER = textwrap.dedent(
    """
    import sys, time
    from jupyter_workbench.session.jobs import JobManager
    job = JobManager(state_dir=sys.argv[1], root_dir=sys.argv[2]).submit("train.py")
    print(job.id, flush=True)
    time.sleep(60)
    """
)


def test_a_job_survives_the_death_of_the_server_that_started_it(state_dir, root, tmp_path):
    # Given a "server" process (in its own process group) that started a job
    flag = tmp_path / "go"
    (root / "train.py").write_text(
        "import os, time\n"
        f"while not os.path.exists({str(flag)!r}):\n"
        "    time.sleep(0.05)\n"
        "print('trained')\n"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(state_dir), str(root)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    job_id = server.stdout.readline().strip()

    # When the server is killed with everything in its process group
    os.killpg(server.pid, signal.SIGKILL)
    server.wait()

    # Then a new server (a new manager over the same state dir) finds the job still running
    restarted = JobManager(state_dir=state_dir, root_dir=root)
    job = restarted.get(job_id)
    assert job.state == "running" and job.path == "train.py"
    assert [j.id for j in restarted.list()] == [job_id]
    # and later its result
    flag.write_text("go")
    done = restarted.wait(job_id, timeout=20)
    assert done.state == "succeeded", done
    assert restarted.log(job_id)["log"] == "trained\n"


def test_a_notebook_job_writes_the_executed_copy_beside_it(manager, root):
    # Given a notebook
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 6 * 7"), nbformat.v4.new_code_cell("print(x)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    (root / "sub").mkdir()
    nbformat.write(nb, str(root / "sub" / "train.ipynb"))

    # When it runs as a job
    job = manager.submit("sub/train.ipynb")
    assert job.environment == "python3" and job.output == "sub/train.output.ipynb"
    done = manager.wait(job.id, timeout=60)

    # Then the executed copy holds the outputs, and the source is untouched
    assert done.state == "succeeded", (done, manager.log(job.id))
    executed = nbformat.read(str(root / "sub" / "train.output.ipynb"), as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "42\n"
    assert nbformat.read(str(root / "sub" / "train.ipynb"), as_version=4).cells[1].outputs == []


def test_a_notebook_with_a_failing_cell_names_it(manager, root):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = 1"), nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(nb, str(root / "bad.ipynb"))
    done = manager.wait(manager.submit("bad.ipynb").id, timeout=60)
    assert done.state == "failed" and done.exit_code == 1
    assert done.reason == "Cell 2 raised ZeroDivisionError: division by zero"
    executed = nbformat.read(str(root / "bad.output.ipynb"), as_version=4)
    assert executed.cells[1].outputs[0]["ename"] == "ZeroDivisionError"


def test_a_notebook_with_an_unknown_kernel_is_refused(manager, root):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "no-such-kernel", "display_name": "?"}
    nbformat.write(nb, str(root / "odd.ipynb"))
    with pytest.raises(JobError, match="No kernel named 'no-such-kernel'"):
        manager.submit("odd.ipynb")


# -- the CLI and the magic call the same manager --------------------------------------------


def _cli(argv):
    from jupyter_workbench.cli import main

    return main(argv)


def test_cli_runs_lists_and_shows_jobs(state_dir, tmp_path, monkeypatch, capsys):
    # Given a script in the current directory
    monkeypatch.chdir(tmp_path)
    (tmp_path / "job.py").write_text("print('from the cli')\n")

    # When it is run with --wait
    assert _cli(["job", "run", "job.py", "--wait", "--json"]) == 0
    job = json.loads(capsys.readouterr().out)

    # Then it succeeded and every other action sees it
    assert job["state"] == "succeeded" and job["path"] == str(tmp_path / "job.py")
    assert _cli(["job", "list"]) == 0
    assert job["id"] in capsys.readouterr().out
    assert _cli(["job", "log", job["id"]]) == 0
    assert capsys.readouterr().out == "from the cli\n"
    assert _cli(["job", "status", job["id"]]) == 0
    assert "succeeded" in capsys.readouterr().out
    # and a mistake is one line and status 1
    assert _cli(["job", "cancel", job["id"]]) == 1
    assert capsys.readouterr().err.startswith("error: Job")
    assert _cli(["job", "status", "nope"]) == 1
    assert capsys.readouterr().err == "error: No job with id 'nope'.\n"


def test_background_magic_runs_the_cell_as_a_job(state_dir, tmp_path, monkeypatch, capsys):
    from jupyter_workbench.session.magics import background

    # Given a cell with code, in a kernel whose working directory is tmp_path
    monkeypatch.chdir(tmp_path)

    # When it runs with %%background
    background("--name training", "import os\nprint('cell ran in', os.getcwd())\n")

    # Then it became a job, listed like the others, that ran the code in a new process
    out = capsys.readouterr().out
    [job] = JobManager().list()
    assert f"Background job {job.id} started" in out
    assert job.name == "training" and job.kind == "python"
    assert JobManager().wait(job.id, timeout=20).state == "succeeded"
    assert JobManager().log(job.id)["log"] == f"cell ran in {tmp_path}\n"


def test_background_magic_usage_errors_are_one_line(state_dir):
    from jupyter_workbench.magics import WorkbenchMagicError
    from jupyter_workbench.session.magics import background

    with pytest.raises(WorkbenchMagicError, match="no code to run"):
        background("", "   \n")
    with pytest.raises(WorkbenchMagicError, match="unrecognized arguments"):
        background("--bogus", "print(1)")


# -- removing finished jobs: one by the user (remove, job rm), old ones by the retention sweep

DAY = 86400


def age(manager: JobManager, job_id: str, days: float) -> None:
    """Make a job look as if it was created and ended ``days`` ago (its records say when;
    no test can wait a week). Written atomically, as the manager does: a sweep may be reading."""
    from jupyter_workbench.atomic import write_json_atomic

    job_dir = manager.jobs_dir / job_id
    then = time.time() - days * DAY
    meta = json.loads((job_dir / "job.json").read_text())
    write_json_atomic(job_dir / "job.json", {**meta, "created_at": then})
    if (job_dir / "state.json").exists():  # a runner that has just started has none yet
        state = json.loads((job_dir / "state.json").read_text())
        if state.get("ended_at"):
            state.update(started_at=then, ended_at=then + 1)
            write_json_atomic(job_dir / "state.json", state)


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
