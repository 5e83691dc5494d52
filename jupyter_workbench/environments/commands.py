"""Running the commands that build an environment, and saying why one failed.

:func:`run` streams a command's output (``python -m venv``, ``pip``) to the progress
:class:`Emitter` in a clean environment (:func:`clean_env`: no PYTHONPATH or PIP_* of the
server leaking in); :func:`pip_failure` turns pip's output into a :class:`WorkbenchEnvError`
with its kind (``disk-full``, ``registry-unreachable``, ``no-distribution``, ``pip-failed``)
and what to do; :func:`probe` runs ``_probe.py`` inside an environment (installed packages,
their RECORDs, key imports). :mod:`.provision` decides what to run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from . import _paths
from .errors import WorkbenchEnvError
from .spec import EnvironmentSpec

ProgressCallback = Callable[[dict], None]

_PROBE = Path(__file__).with_name("_probe.py")


class Emitter:
    def __init__(self, name: str, progress: ProgressCallback | None, steps: int) -> None:
        self.name = name
        self.progress = progress
        self.steps = steps
        self.step = 0
        self.stage = "check"
        self.t0 = time.monotonic()

    def begin(self, stage: str, message: str) -> None:
        self.step += 1
        self.stage = stage
        self._send("step", message)

    def info(self, message: str) -> None:
        self._send("step", message)

    def output(self, line: str) -> None:
        self._send("output", line)

    def _send(self, kind: str, message: str) -> None:
        if self.progress is None:
            return
        self.progress(
            {
                "environment": self.name,
                "stage": self.stage,
                "kind": kind,
                "message": message,
                "step": self.step,
                "steps": self.steps,
                "elapsed_s": round(time.monotonic() - self.t0, 2),
            }
        )


def format_progress(event: dict) -> str:
    """A one-line rendering of a progress event, for a terminal."""
    if event.get("kind") == "output":
        return f"    {event.get('message', '')}"
    return (
        f"[{event.get('environment')} {event.get('step')}/{event.get('steps')} "
        f"{event.get('stage')}] {event.get('message', '')}"
    )


def clean_env(env_dir: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    for key in (
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONEXECUTABLE",
        "PYTHONSTARTUP",
        "__PYVENV_LAUNCHER__",
        "PIP_USER",
        "PIP_TARGET",
        "PIP_PREFIX",
        "PIP_ROOT",
        "PIP_PYTHON",
        "PIP_REQUIRE_VIRTUALENV",
    ):
        env.pop(key, None)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    if env_dir is not None:
        env["VIRTUAL_ENV"] = str(env_dir)
        env["PATH"] = str(_paths.bin_dir(env_dir)) + os.pathsep + env.get("PATH", "")
    return env


def run(cmd: list[str], emit: Emitter, env: dict[str, str]) -> tuple[int, list[str]]:
    """Run ``cmd``, streaming its combined output line by line; returns (rc, last lines)."""
    tail: deque[str] = deque(maxlen=400)
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
        )
    except OSError as exc:
        return 127, [f"{cmd[0]}: {exc}"]
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\r\n")
            tail.append(line)
            emit.output(line)
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return rc, list(tail)


_NETWORK_PATTERNS = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Connection refused|"
    r"ConnectTimeoutError|Connection to .* timed out|Read timed out|"
    r"Temporary failure in name resolution|Name or service not known|nodename nor servname|"
    r"Network is unreachable|No route to host|ProxyError|Cannot connect to proxy|"
    r"SSLError|CERTIFICATE_VERIFY_FAILED|RemoteDisconnected|ConnectionResetError",
)


def _indexes_from_output(lines: list[str]) -> str:
    for line in lines:
        if line.startswith("Looking in indexes:"):
            return line.split(":", 1)[1].strip()
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"]
    return "the configured package index"


def pip_failure(name: str, what: str, rc: int, lines: list[str]) -> WorkbenchEnvError:
    text = "\n".join(lines)
    details = "\n".join(lines[-40:])
    resume = f"then run `jupyter workbench env create {name}` again (it resumes where it stopped)."
    not_found = re.findall(r"No matching distribution found for (\S+)", text)
    net = [ln.strip() for ln in lines if _NETWORK_PATTERNS.search(ln)]
    if "No space left on device" in text:
        return WorkbenchEnvError(
            f"Installing {what} into {name} failed: no space left on the device holding the "
            f"environments directory; free some space, {resume}",
            environment=name,
            kind="disk-full",
            details=details,
        )
    if net:
        reason = net[-1]
        m = re.search(
            r"(\[Errno [^\]]+\][^')\"]*|Connection refused|timed out|"
            r"Temporary failure in name resolution|Name or service not known|"
            r"Network is unreachable|CERTIFICATE_VERIFY_FAILED)",
            reason,
        )
        reason = m.group(1).strip() if m else reason[-160:]
        return WorkbenchEnvError(
            f"Could not reach the package index ({_indexes_from_output(lines)}) while installing "
            f"{what} into {name}: {reason}. Check the network, the proxy (HTTPS_PROXY) or "
            f"PIP_INDEX_URL / pip.conf; {resume}",
            environment=name,
            kind="registry-unreachable",
            details=details,
        )
    if not_found:
        no_index = "Ignoring indexes" in text or os.environ.get("PIP_NO_INDEX", "").lower() in (
            "1",
            "true",
            "yes",
            "on",
        )
        where = (
            "the package index is disabled (PIP_NO_INDEX / --no-index) and no local wheel "
            "(--find-links) provides it"
            if no_index
            else f"the package index ({_indexes_from_output(lines)}) has no release of it for "
            f"Python {sys.version_info[0]}.{sys.version_info[1]} on this platform"
        )
        return WorkbenchEnvError(
            f"pip could not find {not_found[0]} for {name}: {where}. Check the package index "
            f"settings (PIP_INDEX_URL, PIP_NO_INDEX, pip.conf); {resume}",
            environment=name,
            kind="registry-unreachable" if no_index else "no-distribution",
            details=details,
        )
    last = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
    return WorkbenchEnvError(
        f"pip failed (exit {rc}) while installing {what} into {name}: {last[:300]}; {resume}",
        environment=name,
        kind="pip-failed",
        details=details,
    )


def probe(
    env_dir: Path,
    spec: EnvironmentSpec,
    *,
    deep: bool = False,
    imports: tuple[str, ...] = (),
    timeout: float = 600,
) -> dict | None:
    """Run the probe inside the environment; None when its interpreter cannot run at all."""
    args = {
        "packages": list(spec.key_packages),
        "modules": list(spec.import_checks),
        "imports": list(imports),
        "deep": deep,
    }
    env = clean_env(env_dir)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        out = subprocess.run(
            [str(_paths.python_path(env_dir)), "-I", str(_PROBE), json.dumps(args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("@@PROBE@@"):
            try:
                return json.loads(line[len("@@PROBE@@") :])
            except ValueError:
                return None
    return None


def interpreter_ok(env_dir: Path) -> bool:
    py = _paths.python_path(env_dir)
    if not (env_dir / "pyvenv.cfg").is_file() or not py.exists():
        return False
    try:
        out = subprocess.run(
            [str(py), "-I", "-c", "import pip, sys; print(sys.prefix)"],
            capture_output=True,
            text=True,
            timeout=120,
            env=clean_env(env_dir),
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0
