"""``workbench/api/jobs``: background jobs through the REST API."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest
from tornado.httpclient import HTTPClientError


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    state = tmp_path / "wb-state"
    monkeypatch.setenv("JUPYTER_WORKBENCH_STATE_DIR", str(state))
    return state


async def api(jp_fetch, *parts, method="GET", body=None):
    kwargs = {"method": method}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    response = await jp_fetch("workbench", "api", "jobs", *parts, **kwargs)
    return response.code, json.loads(response.body)


async def error(jp_fetch, *parts, method="GET", body=None):
    with pytest.raises(HTTPClientError) as e:
        await api(jp_fetch, *parts, method=method, body=body)
    return e.value.code, json.loads(e.value.response.body)["message"]


async def wait_done(jp_fetch, job_id, timeout=30):
    for _ in range(int(timeout / 0.1)):
        _, job = await api(jp_fetch, job_id)
        if job["state"] != "running":
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} still running")


async def test_run_a_script_and_follow_it(jp_fetch, jp_root_dir):
    # Given a script in a folder under the server root
    (jp_root_dir / "work").mkdir()
    (jp_root_dir / "work" / "train.py").write_text("print('epoch 1')\nprint('epoch 2')\n")

    # When the page starts it as a job
    code, job = await api(jp_fetch, method="POST", body={"path": "work/train.py"})

    # Then it is created and running, and listed
    assert code == 201
    assert job["state"] == "running" and job["path"] == "work/train.py"
    _, jobs = await api(jp_fetch)
    assert [j["id"] for j in jobs] == [job["id"]]
    # and it finishes with its output in the log
    done = await wait_done(jp_fetch, job["id"])
    assert done["state"] == "succeeded" and done["exit_code"] == 0
    assert done["started_at"] <= done["ended_at"]
    _, log = await api(jp_fetch, job["id"], "log")
    assert log["log"] == "epoch 1\nepoch 2\n" and log["truncated"] is False


async def test_bad_requests_are_clear_4xx(jp_fetch, jp_root_dir, tmp_path):
    (tmp_path / "outside.py").write_text("print('no')\n")
    (jp_root_dir / "ok.py").write_text("print('ok')\n")
    cases = [
        ({"path": "../outside.py"}, 400, "outside the server root"),
        ({"path": str(tmp_path / "outside.py")}, 400, "relative to the server root"),
        ({"path": "missing.py"}, 400, "No file 'missing.py'"),
        ({"path": "ok.py", "environment": "no-such-env"}, 400, "Unknown environment"),
        ({"path": "ok.py", "environment": "/bin/sh"}, 400, "not one of the known environments"),
        ({"path": "ok.py", "environment": "sh"}, 400, "Unknown environment"),
        ({"path": 3}, 400, "Field 'path' must be of type str"),
        ({}, 400, "Missing required field 'path'"),
        ({"path": "ok.py", "shell": True}, 400, "Unknown field(s): shell"),
    ]
    for body, status, message in cases:
        code, text = await error(jp_fetch, method="POST", body=body)
        assert (code, message in text) == (status, True), (body, text)
    assert (await error(jp_fetch, "0123456789ab"))[0] == 404
    assert (await error(jp_fetch, "0123456789ab", "log"))[0] == 404
    assert (await error(jp_fetch, "0123456789ab", method="DELETE"))[0] == 404
    _, jobs = await api(jp_fetch)
    assert jobs == []


async def test_cancel_a_running_job(jp_fetch, jp_root_dir):
    (jp_root_dir / "long.sh").write_text("echo started\nsleep 60\n")
    _, job = await api(jp_fetch, method="POST", body={"path": "long.sh"})

    code, cancelled = await api(jp_fetch, job["id"], method="DELETE")

    assert code == 200 and cancelled["state"] == "cancelled"
    assert (await error(jp_fetch, job["id"], method="DELETE"))[0] == 409


async def test_a_job_killed_from_outside_is_failed_with_the_reason(jp_fetch, jp_root_dir):
    (jp_root_dir / "long.py").write_text("import time\ntime.sleep(60)\n")
    _, job = await api(jp_fetch, method="POST", body={"path": "long.py"})

    os.killpg(job["pid"], signal.SIGKILL)  # runner and job, as `kill -9 -PGID` would

    done = await wait_done(jp_fetch, job["id"])
    assert done["state"] == "failed"
    assert "killed from outside the workbench" in done["reason"]


async def test_a_restarted_server_finds_the_running_job_and_its_result(
    jp_fetch, jp_root_dir, jp_serverapp
):
    # Given a running job
    flag = jp_root_dir / "go"
    (jp_root_dir / "wait.py").write_text(
        f"import os, time\nwhile not os.path.exists({str(flag)!r}):\n    time.sleep(0.05)\n"
        "print('finished')\n"
    )
    _, job = await api(jp_fetch, method="POST", body={"path": "wait.py"})
    app = jp_serverapp.extension_manager.extension_apps["jupyter_workbench"]
    [workbench] = list(app)

    # When the server forgets everything it held in memory (as a restart does)
    settings = jp_serverapp.web_app.settings
    first = settings["workbench_jobs"]
    settings["workbench_jobs"] = workbench.job_manager()

    # Then the new manager finds the job running
    _, found = await api(jp_fetch, job["id"])
    assert found["state"] == "running" and found["pid"] == job["pid"]
    assert settings["workbench_jobs"] is not first and not settings["workbench_jobs"]._children
    # and later its result
    flag.write_text("go")
    done = await wait_done(jp_fetch, job["id"])
    assert done["state"] == "succeeded"
    _, log = await api(jp_fetch, job["id"], "log")
    assert log["log"] == "finished\n"


async def test_the_handshake_lists_session_and_jobs(jp_fetch):
    response = await jp_fetch("workbench", "api", "status")
    features = json.loads(response.body)["features"]
    assert features["session"] is True and features["jobs"] is True


async def test_a_follower_reads_each_part_of_a_running_log_once(jp_fetch, jp_root_dir):
    # Given a job that prints in steps, each waiting for a flag file, the second step ending
    # in the middle of a UTF-8 character ("中" is e4 b8 ad)
    flags = [jp_root_dir / f"go{i}" for i in range(2)]
    (jp_root_dir / "steps.py").write_text(
        "import os, sys, time\n"
        "def wait(p):\n    while not os.path.exists(p):\n        time.sleep(0.02)\n"
        "print('step 1', flush=True)\n"
        f"wait({str(flags[0])!r})\n"
        "sys.stdout.buffer.write(b'step 2 \\xe4\\xb8'); sys.stdout.flush()\n"
        f"wait({str(flags[1])!r})\n"
        "sys.stdout.buffer.write(b'\\xad done\\n'); sys.stdout.flush()\n"
    )
    _, job = await api(jp_fetch, method="POST", body={"path": "steps.py"})

    async def read_until(offset, want):
        for _ in range(300):
            params = {} if offset is None else {"offset": offset}
            response = await jp_fetch("workbench", "api", "jobs", job["id"], "log", params=params)
            log = json.loads(response.body)
            if log["log"] == want:
                return log
            await asyncio.sleep(0.05)
        raise AssertionError(f"log never became {want!r}: {log}")

    # When a follower reads the tail, then from each reply's `next`
    first = await read_until(None, "step 1\n")
    assert (first["offset"], first["next"], first["truncated"]) == (0, 7, False)
    nothing = await read_until(first["next"], "")
    assert nothing["next"] == first["next"]
    flags[0].write_text("go")
    # Then the half-written character is held back until it is complete
    second = await read_until(first["next"], "step 2 ")
    assert second["next"] == first["next"] + 7 and second["size"] == second["next"] + 2
    flags[1].write_text("go")
    third = await read_until(second["next"], "中 done\n")
    assert third["offset"] == second["next"] and third["next"] == third["size"]
    # and the pieces are the whole log, each part once
    whole = await read_until(None, "step 1\nstep 2 中 done\n")
    assert whole["next"] == third["next"]
    # A follower that fell further behind than `bytes` gets the tail from a line start
    response = await jp_fetch(
        "workbench", "api", "jobs", job["id"], "log", params={"offset": 0, "bytes": 20}
    )
    behind = json.loads(response.body)
    assert behind["truncated"] is True and behind["log"] == "step 2 中 done\n"
    assert behind["offset"] == len(b"step 1\n") and behind["next"] == whole["next"]
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("workbench", "api", "jobs", job["id"], "log", params={"offset": -1})
    assert e.value.code == 400 and "offset" in json.loads(e.value.response.body)["message"]


async def test_a_notebook_job_log_has_the_cells_output_and_not_the_kernels_notices(
    jp_fetch, jp_root_dir
):
    # Given a notebook whose cell prints on stdout and stderr, one stderr line being the very
    # text of ipykernel's TCP notice (a user's line is never dropped, whatever it says)
    import nbformat

    notice = "[IPKernelApp] WARNING | Kernel is running over TCP without encryption."
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import sys\nprint('epoch 1 loss 0.5')\nprint('lr warning', file=sys.stderr)\n"
            f"print({notice + ' (the cell)'!r}, file=sys.stderr)"
        )
    ]
    nbformat.write(nb, str(jp_root_dir / "train.ipynb"))

    # When it runs as a background job
    _, job = await api(jp_fetch, method="POST", body={"path": "train.ipynb"})
    done = await wait_done(jp_fetch, job["id"], timeout=90)

    # Then the log has the cell's stdout and stderr, and the kernel's own notice is gone
    _, log = await api(jp_fetch, job["id"], "log")
    text = log["log"]
    assert done["state"] == "succeeded", (done, text)
    assert "epoch 1 loss 0.5\n" in text and "lr warning\n" in text, text
    assert text.count("Kernel is running over TCP") == 1, text
    assert notice + " (the cell)\n" in text, text


async def test_remove_a_finished_job(jp_fetch, jp_root_dir):
    # Given a finished job and a running one
    (jp_root_dir / "ok.py").write_text("print('ok')\n")
    (jp_root_dir / "long.sh").write_text("sleep 60\n")
    _, job = await api(jp_fetch, method="POST", body={"path": "ok.py"})
    await wait_done(jp_fetch, job["id"])
    _, running = await api(jp_fetch, method="POST", body={"path": "long.sh"})

    # When the user removes the finished one
    response = await jp_fetch(
        "workbench", "api", "jobs", job["id"], method="DELETE", params={"remove": "true"}
    )

    # Then it is gone with its log, and only the running one is listed
    removed = json.loads(response.body)
    assert response.code == 200 and removed["removed"] is True and removed["id"] == job["id"]
    assert (await error(jp_fetch, job["id"]))[0] == 404
    assert (await error(jp_fetch, job["id"], "log"))[0] == 404
    _, jobs = await api(jp_fetch)
    assert [j["id"] for j in jobs] == [running["id"]]
    assert (jp_root_dir / "ok.py").is_file()
    # and a running job is refused (cancel first), an unknown one is 404, a bad flag 400
    for job_id, remove, status, message in [
        (running["id"], "true", 409, "still running: cancel it first"),
        ("0123456789ab", "true", 404, "No job"),
        (running["id"], "maybe", 400, "'remove' must be true or false"),
    ]:
        with pytest.raises(HTTPClientError) as e:
            await jp_fetch(
                "workbench", "api", "jobs", job_id, method="DELETE", params={"remove": remove}
            )
        assert e.value.code == status
        assert message in json.loads(e.value.response.body)["message"]
    with pytest.raises(HTTPClientError) as e:  # in the lab's language where it is Chinese
        await jp_fetch(
            "workbench",
            "api",
            "jobs",
            running["id"],
            method="DELETE",
            params={"remove": "true"},
            headers={"Accept-Language": "zh-CN"},
        )
    assert json.loads(e.value.response.body)["message"] == (
        f"作业 {running['id']} 仍在运行：请先取消（jupyter workbench job cancel {running['id']}），"
        "再删除。"
    )
    assert (await api(jp_fetch, running["id"]))[1]["state"] == "running"
    _, cancelled = await api(jp_fetch, running["id"], method="DELETE")  # plain DELETE cancels
    assert cancelled["state"] == "cancelled"


@pytest.fixture
def old_and_new_jobs(state_dir, tmp_path):
    """Two finished jobs in the state dir before the server starts: one ended ten days ago
    (its records say so; no test waits a week), one just now."""
    from jupyter_workbench.session.jobs import JobManager

    manager = JobManager(state_dir=state_dir)
    (tmp_path / "ok.py").write_text("print('ok')\n")
    old, new = (manager.wait(manager.submit(str(tmp_path / "ok.py")).id, 30) for _ in "12")
    job_dir = manager.jobs_dir / old.id
    then = time.time() - 10 * 86400
    meta = json.loads((job_dir / "job.json").read_text())
    (job_dir / "job.json").write_text(json.dumps({**meta, "created_at": then}))
    state = json.loads((job_dir / "state.json").read_text())
    (job_dir / "state.json").write_text(json.dumps({**state, "ended_at": then + 1}))
    return old, new


async def test_old_finished_jobs_are_removed_at_server_start(old_and_new_jobs, jp_fetch):
    # Given the default retention (7 days) and a job that ended 10 days ago
    old, new = old_and_new_jobs

    # When the server has started, the old job and its directory go; the recent one stays
    for _ in range(100):
        _, jobs = await api(jp_fetch)
        if [j["id"] for j in jobs] == [new.id]:
            break
        await asyncio.sleep(0.1)
    assert [j["id"] for j in jobs] == [new.id]
    assert (await error(jp_fetch, old.id))[0] == 404
