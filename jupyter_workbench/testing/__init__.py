"""Fixtures that tests and demos start: an OSS-protocol emulator (``oss_emulator``).

Nothing here imports jupyter_server, tornado, IPython or TensorFlow.
"""

from .oss import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    DEMO_BUCKET,
    Faults,
    OSSEmulator,
    run_emulator,
)

__all__ = [
    "DEMO_ACCESS_KEY_ID",
    "DEMO_ACCESS_KEY_SECRET",
    "DEMO_BUCKET",
    "Faults",
    "OSSEmulator",
    "run_emulator",
]
