"""Process and record helpers shared by the job manager and the job runner: whether a recorded
pid is still the same living process, a one-line reason for an exit status, a tolerant JSON
read. Standard library only (the runner imports this first thing)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path


def read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def process_start_time(pid: int) -> str | None:
    """An identifier of when ``pid`` started, or None when no such (living) process.

    Linux: the start time in clock ticks from ``/proc/<pid>/stat``; zombies count as gone.
    Elsewhere psutil when available, else only whether the pid exists ("?").
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        stat = None
    if stat is not None:
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) < 20 or fields[0] in ("Z", "X", "x"):
            return None
        return fields[19]
    try:
        import psutil

        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return f"{proc.create_time():.2f}"
    except ImportError:
        pass
    except Exception:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return "?"


def describe_exit(code: int) -> str:
    """A one-line reason for a non-zero exit status (negative: killed by that signal)."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"The process was killed by {name} (from outside the workbench)."
    return f"The process exited with code {code}."
