"""Where the workbench keeps its per-user state (mount registry, 0600 credentials, jobs,
checkpoints of mount files): one answer for the server, the CLI and every kernel."""

from __future__ import annotations

import os
from pathlib import Path

ENV_STATE_DIR = "JUPYTER_WORKBENCH_STATE_DIR"


def default_state_dir() -> Path:
    """``$JUPYTER_WORKBENCH_STATE_DIR`` or ``<jupyter_data_dir>/workbench``."""
    env = os.environ.get(ENV_STATE_DIR)
    if env:
        return Path(env).expanduser()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "workbench"
