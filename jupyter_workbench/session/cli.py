"""``jupyter workbench job ...``: background jobs from the command line.

Register with ``add_job_commands(subparsers)``. Every action calls
:class:`~jupyter_workbench.session.jobs.JobManager`, as the REST API and ``%%background`` do,
over the same state dir (``$JUPYTER_WORKBENCH_STATE_DIR`` or ``<jupyter data dir>/workbench``),
so jobs started from the browser show here and the other way round.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from .jobs import TASK_KINDS, Job, JobManager


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


def _print_job(job: Job) -> None:
    print(f"{job.id}  {job.state}")
    rows = [
        ("name", job.name),
        ("kind", job.kind),
        ("path", job.path),
        ("environment", job.environment),
        ("started", _when(job.started_at)),
        ("ended", _when(job.ended_at)),
        ("exit code", job.exit_code),
        ("progress", job.message if job.kind in TASK_KINDS and not job.finished else None),
        ("reason", job.reason),
        ("output", job.output),
    ]
    for label, value in rows:
        if value not in (None, ""):
            print(f"  {label:<12}{value}")


def _cmd_run(args: argparse.Namespace) -> int:
    manager = JobManager()
    job = manager.submit(args.path, args.environment)
    if args.wait:
        job = manager.wait(job.id)
    if args.json:
        print(json.dumps(job.to_dict(), indent=2))
    else:
        _print_job(job)
        if not job.finished:
            print(f"Follow it with: jupyter workbench job log {job.id}")
    return 0 if job.state in ("running", "succeeded") else 1


def _cmd_list(args: argparse.Namespace) -> int:
    jobs = JobManager().list()
    if args.json:
        print(json.dumps([j.to_dict() for j in jobs], indent=2))
        return 0
    if not jobs:
        print("No background jobs.")
        return 0
    for j in jobs:
        # An export or environment creation by its name ("Export m.keras to models/m").
        shown = j.name if j.kind in TASK_KINDS else j.path or j.name
        print(f"{j.id}  {j.state:<10} {_when(j.started_at)}  {shown}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    job = JobManager().get(args.id)
    if args.json:
        print(json.dumps(job.to_dict(), indent=2))
    else:
        _print_job(job)
    return 0


def _cmd_log(args: argparse.Namespace) -> int:
    tail = JobManager().log(args.id, max_bytes=args.bytes)
    if tail["truncated"]:
        print(f"[... showing the last {args.bytes} bytes of {tail['size']}]", file=sys.stderr)
    sys.stdout.write(tail["log"])
    return 0


def _cmd_cancel(args: argparse.Namespace) -> int:
    _print_job(JobManager().cancel(args.id))
    return 0


def _cmd_rm(args: argparse.Namespace) -> int:
    job = JobManager().remove(args.id)
    print(f"Removed job {job.id} ({job.state}) and its log.")
    return 0


def add_job_commands(subparsers) -> None:
    """Add ``job run|list|status|log|cancel|rm`` to the ``jupyter workbench`` parser."""
    p = subparsers.add_parser(
        "job",
        help="background jobs: run notebooks and scripts detached from the browser",
        description="Run a notebook (.ipynb), Python (.py) or shell (.sh) script in the "
        "background. Jobs survive a closed browser, an expired login and a server restart.",
    )
    sub = p.add_subparsers(dest="job_command", metavar="ACTION")
    sub.required = True

    run = sub.add_parser("run", help="start a job")
    run.add_argument("path", help="the notebook or script to run")
    run.add_argument(
        "--environment",
        "-e",
        help="kernel name (notebooks), or py3/tf2, a Python kernel or an interpreter path "
        "(scripts). Default: the notebook's kernel, or this Python.",
    )
    run.add_argument("--wait", action="store_true", help="wait until the job has finished")
    run.add_argument("--json", action="store_true", help="print the job as JSON")
    run.set_defaults(func=_cmd_run)

    ls = sub.add_parser("list", help="list jobs")
    ls.add_argument("--json", action="store_true", help="print the jobs as JSON")
    ls.set_defaults(func=_cmd_list)

    status = sub.add_parser("status", help="show a job's state")
    status.add_argument("id")
    status.add_argument("--json", action="store_true", help="print the job as JSON")
    status.set_defaults(func=_cmd_status)

    log = sub.add_parser("log", help="print the end of a job's output")
    log.add_argument("id")
    log.add_argument("--bytes", type=int, default=64 * 1024, help="how much (default 64 KiB)")
    log.set_defaults(func=_cmd_log)

    cancel = sub.add_parser("cancel", help="stop a running job (its whole process group)")
    cancel.add_argument("id")
    cancel.set_defaults(func=_cmd_cancel)

    rm = sub.add_parser(
        "rm",
        help="remove a finished job and its log (the files it wrote elsewhere stay)",
    )
    rm.add_argument("id")
    rm.set_defaults(func=_cmd_rm)
