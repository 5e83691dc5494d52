"""Activity that means use: what the server reports as its ``last_activity``.

jupyter_server's ``last_activity`` moves with every authenticated API request, so an open tab
that only polls looks busy forever, while a background job with no browser looks idle.
JupyterHub's single-user extension reports that value to ``JUPYTERHUB_ACTIVITY_URL`` and the
idle culler acts on it. ``UsageTracker.last_activity`` replaces it with:

- real user activity: state-changing requests (saving, running, renaming, the page's activity
  ping sent on typing and clicking), never background GET polling or the layout autosave
  (``activity.is_user_activity``), from browser sessions and API tokens alike;
- now, while a kernel is busy or a background job runs; a kernel's last message otherwise;
- terminal input (jupyter_server_terminals' own record), and the server's start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from .activity import is_user_activity

log = logging.getLogger(__name__)

SETTINGS_KEY = "workbench_usage"


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class UsageTracker:
    """Computes the server's ``last_activity`` from use (see the module docstring)."""

    def __init__(
        self,
        settings: dict,
        kernel_manager: Any = None,
        jobs_running: Callable[[], bool] | None = None,
    ):
        self.settings = settings
        self.kernel_manager = kernel_manager
        self.jobs_running = jobs_running
        self.user_activity: datetime | None = None

    def note_request(self, method: str, path: str) -> None:
        """An authenticated request: remember it when it is something a user did."""
        if is_user_activity(method or "GET", path or ""):
            self.user_activity = datetime.now(timezone.utc)

    def _kernels(self) -> tuple[bool, datetime | None]:
        """(whether a kernel is busy, the latest kernel message time)."""
        km = self.kernel_manager
        latest = None
        if km is None:
            return False, None
        for kernel_id in list(km.list_kernel_ids()):
            try:
                kernel = km.get_kernel(kernel_id)
            except KeyError:
                continue
            if getattr(kernel, "execution_state", None) == "busy":
                return True, None
            when = _utc(getattr(kernel, "last_activity", None))
            if when is not None and (latest is None or when > latest):
                latest = when
        return False, latest

    def _jobs(self) -> bool:
        if self.jobs_running is None:
            return False
        try:
            return self.jobs_running()
        except Exception:  # a corrupt job dir must not break activity reporting
            log.debug("Could not list background jobs", exc_info=True)
            return False

    def last_activity(self) -> datetime | None:
        now = datetime.now(timezone.utc)
        busy, kernels = self._kernels()
        if busy or self._jobs():
            return now
        times = [
            self.user_activity,
            kernels,
            _utc(self.settings.get("terminal_last_activity")),
            _utc(self.settings.get("started")),
        ]
        known = [t for t in times if t is not None]
        return max(known) if known else None


def install(serverapp, jobs_running: Callable[[], bool] | None = None) -> UsageTracker:
    """Make ``serverapp.web_app.last_activity`` (what the hub is told) the tracker's."""
    web_app = serverapp.web_app
    tracker = UsageTracker(web_app.settings, serverapp.kernel_manager, jobs_running)
    web_app.settings[SETTINGS_KEY] = tracker
    web_app.last_activity = tracker.last_activity
    return tracker


def note(handler) -> None:
    """Called by the identity providers for every authenticated request."""
    tracker = handler.settings.get(SETTINGS_KEY)
    if tracker is not None:
        tracker.note_request(handler.request.method, handler.request.path)
