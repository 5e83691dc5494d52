"""``workbench/api/environments``: listing, creation as a job, errors (real creation: tests/unit,
and tests/server/test_tasks_outlive_the_server.py)."""

import asyncio
import json

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_workbench.environments import _paths
from jupyter_workbench.environments._lock import env_lock


@pytest.fixture
def jp_server_config(jp_server_config, tmp_path):
    config = dict(jp_server_config)
    config["Workbench"] = {
        **config.get("Workbench", {}),
        "environments_dir": str(tmp_path / "envs"),
    }
    return config


async def test_lists_py3_and_tf2_with_state(jp_fetch):
    # Given a server whose environments were never created
    # When the frontend lists the environments
    response = await jp_fetch("workbench", "api", "environments")

    # Then both are there, not ready, each saying how to create it
    envs = {e["name"]: e for e in json.loads(response.body)}
    assert set(envs) == {"py3", "tf2"}
    for name, env in envs.items():
        assert env["ready"] is False
        assert env["kernel_name"]
        assert f"jupyter workbench env create {name}" in env["message"]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_unknown_environment_is_404_with_message(jp_fetch, method):
    # When a client asks for an environment that does not exist
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(
            "workbench",
            "api",
            "environments",
            "tf9",
            method=method,
            **({"body": "{}"} if method == "POST" else {}),
        )

    # Then it gets a 404 naming it
    assert e.value.code == 404
    assert "tf9" in json.loads(e.value.response.body)["message"]


async def _json(jp_fetch, *parts, method="GET"):
    kwargs = {"method": method, "raise_error": False}
    if method == "POST":
        kwargs["body"] = "{}"
    r = await jp_fetch("workbench", "api", *parts, **kwargs)
    return r.code, json.loads(r.body)


async def test_a_creation_is_a_job_once_at_a_time_and_cancellable(jp_fetch, tmp_path):
    # Given another process holds py3's creation lock (so this creation waits, really running)
    envs_dir = tmp_path / "envs"
    envs_dir.mkdir(exist_ok=True)
    with env_lock(_paths.lock_path(envs_dir, "py3"), "py3", 1):
        # When the frontend creates py3
        code, started = await _json(jp_fetch, "environments", "py3", method="POST")
        # Then it is accepted and runs as a job the Jobs panel lists with its kind
        assert code == 202 and started["creation"]["state"] == "running", started
        _, jobs = await _json(jp_fetch, "jobs")
        assert [(j["kind"], j["name"], j["state"]) for j in jobs] == [
            ("environment", "Create environment py3", "running")
        ]
        # and a second creation is refused while it runs
        code, busy = await _json(jp_fetch, "environments", "py3", method="POST")
        assert code == 409 and "already being created" in busy["message"]
        # and its progress lines come through the creation view
        for _ in range(200):
            _, info = await _json(jp_fetch, "environments", "py3")
            if any("waiting for another process" in ln for ln in info["creation"]["log"]):
                break
            await asyncio.sleep(0.1)
        assert info["state"] == "creating" and info["creation"]["state"] == "running", info

        # When it is cancelled in the Jobs panel
        code, cancelled = await _json(jp_fetch, "jobs", jobs[0]["id"], method="DELETE")
        assert code == 200 and cancelled["state"] == "cancelled"
        # Then, while the other process still creates py3, the ended creation is not shown
        # as if it were the one in progress
        _, info = await _json(jp_fetch, "environments", "py3")
        assert info["state"] == "creating" and "creation" not in info, info
    # and once that process is done, the creation says it was cancelled
    _, info = await _json(jp_fetch, "environments", "py3")
    assert info["creation"]["state"] == "failed", info
    assert info["creation"]["error"] == "Cancelled by the user."
