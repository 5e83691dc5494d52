"""Login expiry that never costs work, and background jobs that outlive the browser.

- :mod:`.activity`: the session clock (login time, last user activity, timeouts); pure Python.
- :mod:`.identity`: ``WorkbenchIdentityProvider``, jupyter_server's password/token login with
  browser sessions that expire after ``c.Workbench.session_absolute_timeout`` /
  ``session_idle_timeout``. Kernels, terminals and jobs are never stopped by expiry.
- :mod:`.jobs`: ``JobManager``, notebooks and scripts run by a detached runner process
  (:mod:`.runner`) with their state in JSON files, so they survive a closed browser, an
  expired login and a server restart. The REST API, ``%%background`` (:mod:`.magics`) and
  ``jupyter workbench job`` (:mod:`.cli`) all call it.

Importing this package imports neither jupyter_server nor tornado.
"""

from __future__ import annotations

from .activity import SessionPolicy, SessionTimes
from .jobs import Job, JobError, JobManager, JobNotFound

__all__ = ["Job", "JobError", "JobManager", "JobNotFound", "SessionPolicy", "SessionTimes"]
