"""Where things live inside one environment directory (pure path arithmetic, no I/O beyond stat)."""

from __future__ import annotations

import os
from pathlib import Path

WINDOWS = os.name == "nt"


def bin_dir(env_dir: Path) -> Path:
    return env_dir / ("Scripts" if WINDOWS else "bin")


def python_path(env_dir: Path) -> Path:
    return bin_dir(env_dir) / ("python.exe" if WINDOWS else "python")


def link_dir(env_dir: Path) -> Path:
    """A directory on the environment's ``sys.path`` (through a ``.pth`` file) that holds only
    ``jupyter_workbench`` (a symlink to the running installation's package directory)."""
    return env_dir / "share" / "jupyter-workbench" / "site"


def kernelspec_dir(env_dir: Path, kernel_name: str) -> Path:
    """The rendered kernelspec lives inside the environment: deleting the environment deletes it."""
    return env_dir / "share" / "jupyter" / "kernels" / kernel_name


def site_packages(env_dir: Path) -> Path | None:
    if WINDOWS:
        p = env_dir / "Lib" / "site-packages"
        return p if p.is_dir() else None
    found = sorted(env_dir.glob("lib/python3*/site-packages"))
    return found[-1] if found else None


def pyvenv_cfg(env_dir: Path) -> dict[str, str]:
    cfg = {}
    try:
        text = (env_dir / "pyvenv.cfg").read_text(encoding="utf-8")
    except OSError:
        return cfg
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            cfg[key.strip().lower()] = value.strip()
    return cfg


def lock_path(root: Path, name: str) -> Path:
    return root / f".{name}.lock"
