"""A real S3 server on 127.0.0.1 for the tests: moto's S3 (``moto[server]``, the test extra).

Moto implements S3's REST API (PutObject with ``If-None-Match: *`` answers 412, ListObjectsV2
with continuation tokens, multipart uploads) but ignores signatures. Its conditional PutObject
checks and then writes without a lock, which real S3 does atomically: the server here accepts
connections on threads but handles one request at a time, as S3's own conditional write
behaves, so a test of concurrent reservations tests the workbench's use of the condition, not
moto's thread safety.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from contextlib import contextmanager

import pytest

KEY = "AKIDS3TESTKEY"
SECRET = "s3-test-secret-value"


SERVER = """
import logging, os, sys, threading
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

logging.getLogger("werkzeug").setLevel(logging.ERROR)
moto = DomainDispatcherApplication(create_backend_app)
one_at_a_time = threading.Lock()


def app(environ, start_response):
    with one_at_a_time:
        return list(moto(environ, start_response))


server = make_server("127.0.0.1", 0, app, threaded=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(server.server_port, flush=True)
sys.stdin.read()  # until the test closes it
"""


@contextmanager
def s3_server():
    """The endpoint of moto's S3 on a free port of 127.0.0.1 (a process of its own, so that it
    shares no GIL with the test's clients), stopped on exit."""
    pytest.importorskip("moto.server", reason="moto[server] is in the test extras")
    env = dict(os.environ, AWS_DEFAULT_REGION="us-east-1")
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    old_region = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    try:
        port = proc.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError("moto's S3 server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if old_region is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = old_region


@pytest.fixture(scope="module")
def s3():
    with s3_server() as endpoint:
        yield endpoint


def s3_options(endpoint: str) -> dict:
    return {"endpoint_url": endpoint, "key": KEY, "secret": SECRET}


def new_bucket(endpoint: str) -> str:
    """A fresh bucket (moto keeps its buckets for the whole process)."""
    import s3fs

    name = f"wb-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(key=KEY, secret=SECRET, endpoint_url=endpoint).mkdir(name)
    return name
