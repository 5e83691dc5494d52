"""Progress reporting: a tqdm bar, silence, or a ``progress(fraction, message)`` callable."""

from __future__ import annotations

import sys
import time

from .errors import ExportError


class Progress:
    """Reports monotonic fractions in [0, 1] with a short message.

    ``progress`` is ``True`` (a tqdm bar on stderr), ``False``/``None`` (silent) or a callable
    ``progress(fraction: float, message: str)`` (what the REST worker uses).
    """

    def __init__(self, progress=True):
        self._callback = None
        self._bar = None
        self._fraction = 0.0
        self._message = ""
        if callable(progress):
            self._callback = progress
        elif progress is True or progress is False or progress is None:
            pass
        else:
            raise ExportError(
                f"progress={progress!r} is not supported: pass True (a progress bar), False "
                "(silent) or a callable progress(fraction, message)."
            )
        self._bar_wanted = progress is True

    def update(self, fraction: float, message: str | None = None) -> None:
        fraction = min(1.0, max(self._fraction, float(fraction)))
        message = self._message if message is None else message
        self._fraction, self._message = fraction, message
        if self._callback is not None:
            self._callback(fraction, message)
        elif self._bar_wanted:
            if self._bar is None:
                from tqdm import tqdm  # the plain bar: tqdm.auto would import IPython

                self._bar = tqdm(
                    total=100,
                    desc=message,
                    file=sys.stderr,
                    bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}]",
                    leave=True,
                )
            self._bar.n = round(fraction * 100)
            self._bar.set_description_str(message, refresh=False)
            self._bar.refresh()

    def span(self, start: float, end: float) -> Span:
        """A sub-range of the bar, e.g. the upload's bytes within 0.85..0.99."""
        return Span(self, start, end)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class Span:
    """Maps ``done / total`` of one stage into its range of the overall fraction."""

    def __init__(self, progress: Progress, start: float, end: float):
        self.progress, self.start, self.end = progress, start, end
        self._last = 0.0

    def update(self, done: float, total: float, message: str) -> None:
        now = time.monotonic()
        # Throttle byte-level updates; always report the end of the stage.
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        frac = 1.0 if total <= 0 else min(1.0, done / total)
        self.progress.update(self.start + (self.end - self.start) * frac, message)
