"""The one gate for CPU-bound work that store threads do in this process.

Store calls run on each mount's own threads (``MountService.run``), so that a stalled store
holds only its own mount's threads. Their network waits release the GIL; their computing does
not: parsing a ListObjects answer, building the contents models of a listing, encoding its JSON.
With 50 listings at once, eight threads computing kept the event loop waiting for the GIL for
seconds (``/api/status`` took 3 s). Python runs one thread at a time anyway, so letting only
``SLOTS`` threads compute at once costs the listings nothing and gives the event loop the GIL
within one switch interval.

``computing()`` is that gate, process-wide (the GIL is), re-entrant in a thread; hold it only
around computing, never around a network call (a stalled store would then hold the gate).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

#: Threads of this process that may compute store results at once.
SLOTS = 1

_gate = threading.BoundedSemaphore(SLOTS)
_held = threading.local()


@contextmanager
def computing():
    """Hold the process's gate for CPU-bound work on a store thread (re-entrant)."""
    depth = getattr(_held, "depth", 0)
    if depth == 0:
        _gate.acquire()
    _held.depth = depth + 1
    try:
        yield
    finally:
        _held.depth = depth
        if depth == 0:
            _gate.release()


def gated(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` while holding the gate."""
    with computing():
        return fn(*args, **kwargs)
