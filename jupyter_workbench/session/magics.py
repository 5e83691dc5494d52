"""``%%background``: run a cell's code as a background job.

The cell runs in a new process (by default with this kernel's Python, in the kernel's working
directory), not in the kernel: it does not see the notebook's variables, and it keeps running
when the browser closes, the login expires or the server restarts. It is an ordinary script
job of :class:`~jupyter_workbench.session.jobs.JobManager`, listed with the others in the
Workbench sidebar and by ``jupyter workbench job list``.

    %%background [--environment ENV] [--name NAME]
"""

from __future__ import annotations

import argparse
import os
import shlex

from ..errors import WorkbenchError
from ..magic_base import MagicParser, WorkbenchMagicError


def _parser() -> argparse.ArgumentParser:
    p = MagicParser(prog="%%background", description="Run this cell as a background job.")
    p.add_argument(
        "--environment",
        "-e",
        help="py3/tf2, a Python kernel name or an interpreter path (default: this kernel's)",
    )
    p.add_argument("--name", help="a name for the job list (default: the first line)")
    return p


def background(line: str, cell: str):
    """Run the cell's code as a background job; prints its id and how to follow it."""
    from .jobs import JobManager

    try:
        args = _parser().parse_args(shlex.split(line))
    except ValueError as e:
        raise WorkbenchMagicError("UsageError", f"cannot parse arguments: {e}") from None
    try:
        job = JobManager().submit_code(
            cell, args.environment, cwd=os.getcwd(), name=args.name or None
        )
    except WorkbenchError as e:
        raise WorkbenchMagicError.from_error(e) from None
    print(
        f"Background job {job.id} started ({job.environment}). Follow it in the Workbench "
        f"sidebar (Session & jobs) or with: jupyter workbench job log {job.id}"
    )
    return None


def register(ipython) -> None:
    """Register ``%%background`` on an IPython shell."""
    ipython.register_magic_function(background, magic_kind="cell", magic_name="background")
