"""Activity that means use, as JupyterHub and jupyterhub-idle-culler see it.

alice runs a background job and closes her browser; bob leaves a JupyterLab tab open and
idle (his server has ``session_idle_timeout=20``). The hub must see alice's server active and
bob's idle once his login expired, and the idle culler must stop bob's server only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime

import pytest

from .conftest import ACTIVITY_INTERVAL, open_lab_through_hub, page_session

pytestmark = pytest.mark.timeout(300)
CULL_TIMEOUT = 15  # jupyterhub-idle-culler --timeout


def last_activity(hub, user: str) -> float | None:
    server = hub.server(user)
    if not server or not server.get("last_activity"):
        return None
    return datetime.fromisoformat(server["last_activity"].replace("Z", "+00:00")).timestamp()


def wait(seconds: float) -> None:
    time.sleep(seconds)


def test_jobs_keep_a_server_active_an_expired_idle_tab_does_not_and_the_culler_agrees(
    hub, contexts
):
    # Given alice's background job, started with her hub token, and no browser of hers
    hub.write_home("alice", "busy.py", "import time\ntime.sleep(150)\n")
    r = hub.user_api("alice", "workbench/api/jobs", "POST", json={"path": "busy.py"})
    assert r.status_code == 201, r.text
    job = r.json()["id"]
    # and bob's JupyterLab tab, open and untouched
    page = open_lab_through_hub(contexts(), hub, "bob")
    assert page_session(page)["idle_timeout"] == 20
    culler = None
    try:
        # When nobody talks to alice's server for a while
        first = last_activity(hub, "alice")
        wait(4 * ACTIVITY_INTERVAL)
        # Then the hub still hears from it: the running job is use
        assert last_activity(hub, "alice") > first + ACTIVITY_INTERVAL

        # When bob's idle login expires (20 s without input), the tab goes quiet
        page.locator(".jp-WorkbenchLoginDialog").wait_for(timeout=60_000)
        wait(3 * ACTIVITY_INTERVAL)  # what was in flight has been reported
        settled = last_activity(hub, "bob")
        wait(4 * ACTIVITY_INTERVAL)
        # Then bob's last_activity stands still although the tab is open
        assert last_activity(hub, "bob") == settled
        assert time.time() - settled >= 4 * ACTIVITY_INTERVAL

        # When jupyterhub-idle-culler runs with a 15 s timeout
        env = dict(os.environ, JUPYTERHUB_API_TOKEN=hub.culler_token)
        culler = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterhub_idle_culler",
                f"--url={hub.url}hub/api",
                f"--timeout={CULL_TIMEOUT}",
                "--cull-every=3",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Then it stops bob's idle server
        deadline = time.monotonic() + CULL_TIMEOUT + 30
        while hub.server("bob") is not None:
            assert time.monotonic() < deadline, "bob's idle server was not culled"
            wait(1)
        # and spares alice's busy one, whose job is still running
        wait(6)
        assert hub.server("alice") is not None
        state = hub.user_api("alice", f"workbench/api/jobs/{job}").json()["state"]
        assert state == "running"
        assert time.time() - last_activity(hub, "alice") < CULL_TIMEOUT
    finally:
        if culler is not None:
            culler.terminate()
            culler.wait(10)
        hub.user_api("alice", f"workbench/api/jobs/{job}", "DELETE")
        if hub.server("bob") is None:
            hub.spawn("bob")  # later tests find both servers running
