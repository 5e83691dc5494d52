"""The OSS emulator's former module path, kept for the imports and commands that name it.

The emulator lives in :mod:`jupyter_workbench.testing.oss` (one module per concern).
"""

from __future__ import annotations

import sys

from .oss import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    DEMO_BUCKET,
    Faults,
    OSSEmulator,
    OSSServiceError,
    add_arguments,
    main,
    run_emulator,
    run_from_args,
)

__all__ = [
    "DEMO_ACCESS_KEY_ID",
    "DEMO_ACCESS_KEY_SECRET",
    "DEMO_BUCKET",
    "Faults",
    "OSSEmulator",
    "OSSServiceError",
    "add_arguments",
    "main",
    "run_emulator",
    "run_from_args",
]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
