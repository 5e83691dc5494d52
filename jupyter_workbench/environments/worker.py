"""``python -m jupyter_workbench.environments.worker NAME [--environments-dir DIR]``: create
(or repair) one environment as a background job, speaking the job manager's JSON lines.

The server starts it as a task job (kind ``environment``, see ``session.jobs``), so a creation
goes on when the tab closes or the server restarts. stdout ::

    {"event": "progress", "step": "...", "message": "...", "line": "[py3 2/5 venv] ..."}
    ...
    {"event": "done", "result": {"name", "ready", "action", "duration_s"}}      exit code 0
    {"event": "error", "message": "..."}                                         exit code 1

Anything else (warnings) goes to stderr, which the runner keeps in the job's log.
"""

from __future__ import annotations

import argparse
import json
import sys


def _send(out, event: dict) -> None:
    out.write(json.dumps(event) + "\n")
    out.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_workbench.environments.worker")
    parser.add_argument("name")
    parser.add_argument("--environments-dir", default=None)
    args = parser.parse_args(argv)
    out = sys.stdout
    sys.stdout = sys.stderr  # only the protocol on the real stdout

    from .errors import WorkbenchEnvError
    from .provision import create_environment, format_progress

    def progress(event: dict) -> None:
        message = str(event.get("message", ""))
        update = {"event": "progress", "line": format_progress(event)}
        if event.get("kind") == "step":
            update.update(step=message, message=message)
        _send(out, update)

    try:
        info = create_environment(args.name, args.environments_dir, progress=progress)
    except WorkbenchEnvError as e:
        _send(out, {"event": "error", "message": str(e)})
        return 1
    except Exception as e:  # an unexpected failure: the message, and the traceback on stderr
        import traceback

        traceback.print_exc()
        _send(out, {"event": "error", "message": f"{type(e).__name__}: {e}"})
        return 1
    keys = ("name", "ready", "action", "duration_s", "message")
    _send(out, {"event": "done", "result": {k: info.get(k) for k in keys if k in info}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
