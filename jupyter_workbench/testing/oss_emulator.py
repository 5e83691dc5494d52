"""The OSS emulator's former module path, kept for the imports and commands that name it.

The emulator lives in :mod:`jupyter_workbench.testing.oss` (one module per concern); this module
re-exports that package's public names, so the two lists cannot drift apart.
"""

from __future__ import annotations

import sys

from . import oss as _oss
from .oss import *  # noqa: F403 - the package's public names, listed once in its __all__
from .oss import main

__all__ = list(_oss.__all__)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
