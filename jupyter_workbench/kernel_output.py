"""What workbench kernels show: TensorFlow's C-level startup notices hidden, and the magics'
progress and summaries as rich output (HTML with a plain-text fallback, never stderr).

TensorFlow writes its oneDNN / CPU-feature / absl notices straight to file descriptor 2 while
``import tensorflow`` runs, before its own log level applies; ipykernel forwards that
descriptor into the cell, so every first import painted the cell pink. ``quiet_tensorflow_import``
points descriptor 2 at /dev/null for the duration of that one import only: Python-level
warnings and import errors still reach the user (they go through ``sys.stderr`` / exceptions),
and ``TF_CPP_MIN_LOG_LEVEL`` in the kernelspec keeps later INFO lines out.
Set ``JUPYTER_WORKBENCH_TF_NOTICES=1`` to see the notices again.
"""

from __future__ import annotations

import html
import importlib.abc
import importlib.util
import os
import sys
import time


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            self._loader.exec_module(module)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    def __init__(self):
        self._busy = False

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or self._busy:
            return None
        self._busy = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._busy = False
        if spec is None or spec.loader is None:
            return None
        spec.loader = _QuietLoader(spec.loader)
        sys.meta_path.remove(self)  # once is enough
        return spec


def quiet_tensorflow_import() -> bool:
    """Hide TensorFlow's fd-level startup notices in this process; True when installed."""
    if os.environ.get("JUPYTER_WORKBENCH_TF_NOTICES") == "1" or "tensorflow" in sys.modules:
        return False
    if any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        return True
    sys.meta_path.insert(0, _QuietTensorFlowFinder())
    return True


def _bar_html(fraction: float, message: str, done: bool = False) -> str:
    pct = round(fraction * 100)
    color = "var(--jp-success-color1, #4caf50)" if done else "var(--jp-brand-color1, #1976d2)"
    return (
        '<div class="jp-WorkbenchProgress" style="display:flex;gap:8px;align-items:center">'
        f'<div style="width:240px;height:8px;background:var(--jp-layout-color3,#ddd);'
        f'border-radius:4px;overflow:hidden"><div style="width:{pct}%;height:100%;'
        f'background:{color}"></div></div><span>{pct}% {html.escape(message)}</span></div>'
    )


class NotebookProgress:
    """A ``progress(fraction, message)`` callable drawing one updating bar in the cell."""

    def __init__(self, title: str, min_interval: float = 0.2):
        self._title = title
        self._handle = None
        self._last = 0.0
        self._min_interval = min_interval
        self._state = (0.0, "")

    def _data(self, fraction: float, message: str, done: bool = False) -> dict:
        text = f"{self._title}: {round(fraction * 100):3d}% {message}"
        return {"text/html": _bar_html(fraction, message, done), "text/plain": text}

    def __call__(self, fraction: float, message: str) -> None:
        from IPython.display import display

        self._state = (fraction, message)
        now = time.monotonic()
        if self._handle is None:
            self._handle = display(self._data(fraction, message), raw=True, display_id=True)
            self._last = now
        elif fraction >= 1.0 or now - self._last >= self._min_interval:
            self._handle.update(self._data(fraction, message), raw=True)
            self._last = now

    def done(self, message: str) -> None:
        if self._handle is not None:
            self._handle.update(self._data(1.0, message, done=True), raw=True)
