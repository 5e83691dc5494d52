"""The job record and its errors, shared by the manager (:mod:`.jobs`) and what it runs
(:mod:`.targets`): states, kinds, :class:`Job` as the API shows it, and the user-facing errors
(400, 404, 409)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..errors import WorkbenchError
from ..redact import scrub

STATES = ("running", "succeeded", "failed", "cancelled")
FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})
KINDS = {".ipynb": "notebook", ".py": "python", ".sh": "shell"}
TASK_KINDS = ("export", "environment")  # started by the server's capabilities (submit_task)


class JobError(WorkbenchError):
    """A user-facing problem with a job request (bad path, unknown environment): a 400.

    Its message quotes what the request said, scrubbed (``redact.scrub``)."""

    def __init__(self, message: str = "", *args):
        super().__init__(scrub(message), *args)


class JobNotFound(JobError):
    """No job with that id: a 404."""

    category = "not_found"
    http_status = 404


class JobConflict(JobError):
    """The job cannot do that in its state (cancel a finished job): a 409."""

    category = "conflict"
    http_status = 409


@dataclass
class Job:
    """One job as the API shows it (times are epoch seconds)."""

    id: str
    name: str
    kind: str  # notebook | python | shell | export | environment
    path: str | None  # as submitted (relative to the server root for the REST API)
    environment: str  # kernel name for notebooks, interpreter for scripts and tasks
    state: str
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    reason: str | None = None  # why it failed or was cancelled
    output: str | None = None  # the executed notebook (notebooks only)
    pid: int | None = None  # the runner's pid (its process group)
    host: str | None = None
    # Tasks (export, environment) only: what it works on, how far it is, what it produced.
    details: dict | None = None  # e.g. an export's source and destination (scrubbed)
    progress: float | None = None  # 0..1
    message: str | None = None  # the last progress message
    step: str | None = None  # the current step (environment creations)
    result: Any = None  # the task's result (scrubbed), once succeeded

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES
