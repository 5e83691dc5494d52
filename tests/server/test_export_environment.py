"""Server-side exports run in the tf2 environment when ``c.Workbench.export_python`` is unset.

Needs a REAL tf2 environment: it is taken from (or, the first time, created in)
$JUPYTER_WORKBENCH_TEST_ENVS, the cache directory the environment tests share; without that
variable the test is skipped rather than building a 1.8 GB environment in a temporary directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from _env_fixtures import cached_environment  # noqa: E402


@pytest.fixture(scope="module")
def tf2_envs_dir() -> Path:
    return cached_environment("tf2")


@pytest.fixture
def jp_server_config(jp_server_config, tf2_envs_dir):
    config = dict(jp_server_config)
    config["Workbench"] = {"environments_dir": str(tf2_envs_dir)}  # export_python left unset
    return config


async def test_export_runs_with_the_tf2_interpreter_by_default(
    jp_fetch, jp_root_dir, tf2_envs_dir, tiny_keras_file
):
    from jupyter_workbench.environments import environment_python

    tf2_python = environment_python("tf2", tf2_envs_dir)
    assert tf2_python and Path(tf2_python) != Path(sys.executable)
    # Given a model file under the server root and no c.Workbench.export_python
    shutil.copy(tiny_keras_file, jp_root_dir / "tiny.keras")

    # When the frontend asks the server to export it
    response = await jp_fetch(
        "workbench",
        "api",
        "exports",
        method="POST",
        body=json.dumps({"source": "tiny.keras", "destination": "models/tiny"}),
    )
    assert response.code == 202
    job_id = json.loads(response.body)["id"]
    for _ in range(1800):
        job = json.loads((await jp_fetch("workbench", "api", "exports", job_id)).body)
        if job["state"] in ("done", "failed"):
            break
        await asyncio.sleep(0.1)

    # Then the export's job ran the worker with tf2's interpreter, not the server's (the
    # command its runner started, as recorded in the job; the Jobs list says "tf2")
    record = Path(os.environ["JUPYTER_WORKBENCH_STATE_DIR"]) / "jobs" / job_id / "job.json"
    argv = json.loads(record.read_text())["argv"]
    assert argv[0] == tf2_python and argv[1:] == ["-m", "jupyter_workbench.export.worker"]
    listed = json.loads((await jp_fetch("workbench", "api", "jobs", job_id)).body)
    assert listed["kind"] == "export" and listed["environment"] == "tf2"
    # and it produced the SavedModel
    assert job["state"] == "done", job.get("error")
    assert job["result"]["version"] == 1
    assert (jp_root_dir / "models" / "tiny" / "1" / "saved_model.pb").is_file()
