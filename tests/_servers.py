"""Starting a real Jupyter process for a test: ``jupyter lab`` (browser tests) or
``jupyter server`` (tests that stop and restart it), on 127.0.0.1 with a free port, a token and
config, data, runtime and state dirs of its own under the test's directory.

Imported as ``_servers`` (``tests/`` is on ``sys.path`` through ``tests/conftest.py``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

_URL = re.compile(r"http://127\.0\.0\.1:(\d+)/")


def jupyter_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The process environment: this one's, with Jupyter's and the workbench's dirs under
    ``tmp`` (created) and TensorFlow's start-up noise off; ``extra`` on top."""
    for name in ("config", "data", "runtime", "state"):
        (tmp / name).mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTER_WORKBENCH_STATE_DIR=str(tmp / "state"),
        TF_ENABLE_ONEDNN_OPTS="0",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    env.update(extra)
    return env


def start_jupyter(
    command: list[str],
    extra_args: tuple[str, ...] | list[str] = (),
    *,
    root: Path,
    token: str,
    env: dict[str, str],
    log: Path,
    ready: str | None = None,
    timeout: float = 60.0,
    what: str = "jupyter",
) -> tuple[subprocess.Popen, str]:
    """Run ``command`` (e.g. ``[".../jupyter", "lab"]``) with the common flags, then
    ``extra_args``, in its own process group with its output in ``log``; wait until the log
    shows its URL (and ``ready``, a text the log must also hold). Returns the process and
    ``http://127.0.0.1:<port>/``; on failure the group is killed and the log's end raised."""
    args = [
        *command,
        "--no-browser",
        "--ip=127.0.0.1",
        "--port=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        *extra_args,
    ]
    if os.geteuid() == 0:
        args.append("--allow-root")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        m = _URL.search(text)
        if m and (ready is None or ready in text):
            return proc, f"http://127.0.0.1:{m.group(1)}/"
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    raise RuntimeError(f"{what} did not start:\n{log.read_text(errors='replace')[-3000:]}")


def stop_jupyter(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM to the whole process group (kernels, terminals included), SIGKILL after
    ``timeout`` seconds."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
