"""fsspec's own abstract test suites (copy, get, put, pipe, open) on the fixed OSS filesystem.

They run against the OSS emulator once for each path style the filesystem accepts: ``bucket/key``,
``/bucket/key`` and ``oss://bucket/key`` (s3fs wires the same suites with a fixture class like
this one). ``fs_sanitize_path`` is the filesystem's ``_strip_protocol``: fsspec's convention is
that listings name entries in that canonical form (``bucket/key``) whatever style was asked.
"""

from __future__ import annotations

import uuid

import pytest
from fsspec.tests.abstract import (
    AbstractCopyTests,
    AbstractFixtures,
    AbstractGetTests,
    AbstractOpenTests,
    AbstractPipeTests,
    AbstractPutTests,
)

from jupyter_workbench.storage.ossfix import WorkbenchOSSFileSystem
from jupyter_workbench.testing import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, OSSEmulator

BUCKET = "fsspec-suite"
STYLES = {"bare": "", "slash": "/", "url": "oss://"}
SUITES = {
    "Copy": AbstractCopyTests,
    "Get": AbstractGetTests,
    "Put": AbstractPutTests,
    "Pipe": AbstractPipeTests,
    "Open": AbstractOpenTests,
}


@pytest.fixture(scope="module")
def emulator():
    with OSSEmulator(buckets=(BUCKET,)) as oss:
        yield oss


class OSSFixtures(AbstractFixtures):
    style = ""

    @pytest.fixture
    def fs(self, emulator):
        fs = WorkbenchOSSFileSystem(
            endpoint=emulator.endpoint, key=DEMO_ACCESS_KEY_ID, secret=DEMO_ACCESS_KEY_SECRET
        )
        fs.invalidate_cache()
        return fs

    @pytest.fixture
    def fs_path(self):
        return f"{self.style}{BUCKET}/{uuid.uuid4().hex[:8]}"

    @pytest.fixture
    def fs_sanitize_path(self, fs):
        return fs._strip_protocol

    @pytest.fixture
    def supports_empty_directories(self):
        return True  # mkdir writes a marker object, as the OSS console does


for _style, _prefix in STYLES.items():
    for _name, _suite in SUITES.items():
        _cls = type(f"TestOSS{_name}_{_style}", (_suite, OSSFixtures), {"style": _prefix})
        globals()[_cls.__name__] = _cls
del _cls
