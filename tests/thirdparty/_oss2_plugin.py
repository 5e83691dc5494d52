"""pytest plugin for oss2's suite against the emulator (see :mod:`tests.thirdparty.oss2_suite`).

- Deselects the tests that need a cloud service the emulator cannot stand in for (or a file the
  sdist lacks), by what their source names (:data:`CLOUD_MARKERS`), and writes them with the
  reason to ``$OSS2_SUITE_CLOUD``.
- Lets ``import mock`` find ``unittest.mock`` (the backport oss2's tests import).
- Seeds ``random`` from each test's id: oss2's upload and download tests draw one of a plain, an
  RSA-encrypting and a KMS-encrypting bucket, and the same draw in every run makes runs comparable.
"""

import inspect
import json
import os
import random
import sys
import unittest.mock
import zlib

import pytest

# oss2's tests import the ``mock`` backport, which is ``unittest.mock`` since Python 3.3.
sys.modules.setdefault("mock", unittest.mock)

CLOUD_MARKERS = {
    "aliyuncs.com": "a real OSS region endpoint",
    "KMS": "Alibaba Cloud KMS",
    "OSS_STS_": "Alibaba Cloud STS (AssumeRole)",
    "OSS_PAYER": "a second Alibaba Cloud account (requester pays)",
    "image/resize": "OSS's image processing service",
    "callbackUrl": "an upload callback server on the internet",
    "OSS_CNAME": "a CNAME domain bound to the bucket",
    "OSS_INVENTORY": "a RAM role for bucket inventory",
    "example.jpg": "tests/example.jpg, which the sdist does not ship",
    "connect_timeout = 0.001": "a remote endpoint (loopback connects within 1 ms)",
    "connect_timeout=0.001": "a remote endpoint (loopback connects within 1 ms)",
}


def _cloud_reason(item):
    try:
        source = inspect.getsource(item.function)
    except (OSError, TypeError, AttributeError):
        return None
    for marker, reason in CLOUD_MARKERS.items():
        if marker in source:
            return reason
    return None


def pytest_collection_modifyitems(config, items):
    keep, cloud = [], {}
    for item in items:
        reason = _cloud_reason(item)
        if reason is None:
            keep.append(item)
        else:
            cloud[item.nodeid] = reason
    if cloud:
        config.hook.pytest_deselected(items=[i for i in items if i.nodeid in cloud])
        items[:] = keep
    target = os.environ.get("OSS2_SUITE_CLOUD")
    if target:
        with open(target, "w", encoding="utf-8") as f:
            json.dump(cloud, f, indent=1)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    random.seed(zlib.crc32(item.nodeid.encode()))
