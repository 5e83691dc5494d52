"""Mounts whose STS credentials refresh (file, command, RAM-role endpoint), against an emulator
that enforces token expiry."""

from __future__ import annotations

import json
import logging
import os
import pickle
import shlex
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jupyter_workbench.storage.errors import StorageCredentialsError
from jupyter_workbench.storage.sts import RefreshingCredentials
from jupyter_workbench.testing import OSSEmulator

try:
    from ._storage_fixtures import registry, state_dir
except ImportError:
    from _storage_fixtures import registry, state_dir

__all__ = ["registry", "state_dir"]


@pytest.fixture(scope="module")
def sts_oss():
    with OSSEmulator(credentials={}) as oss:  # STS credentials only
        oss.put_object("demo", "data/iris.csv", b"a,b\n1,2\n")
        yield oss


def write_credentials(path, creds: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(creds, f)
    os.replace(tmp, path)


def mount(registry, oss, **source):
    registry.add("sts", "oss://demo", {"endpoint": oss.endpoint, **source})
    return registry.filesystem("sts")


def test_emulator_enforces_expiry(sts_oss):
    import oss2

    creds = sts_oss.issue_sts(lifetime=60)
    auth = oss2.StsAuth(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"])
    b = oss2.Bucket(auth, sts_oss.endpoint, "demo")
    assert b.get_object("data/iris.csv").read() == b"a,b\n1,2\n"
    sts_oss.expire(creds["AccessKeyId"])
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        b.get_object("data/iris.csv")
    assert (exc.value.status, exc.value.code) == (403, "SecurityTokenExpired")


def test_file_source_reads_across_three_forced_rotations(registry, sts_oss, tmp_path):
    # Given: a long-lived mount whose token file a helper rewrites
    path = tmp_path / "sts.json"
    creds = sts_oss.issue_sts(lifetime=3600)
    write_credentials(path, creds)
    fs = mount(registry, sts_oss, credentials_file=str(path))
    assert fs.cat("data/iris.csv") == b"a,b\n1,2\n"
    # When: three times, the issuer rotates (new token written, old one revoked at once)
    for _ in range(3):
        new = sts_oss.issue_sts(lifetime=3600)
        write_credentials(path, new)
        sts_oss.expire(creds["AccessKeyId"])
        creds = new
        # Then: every read succeeds
        assert fs.cat("data/iris.csv") == b"a,b\n1,2\n"
        assert fs.ls("data", detail=False, refresh=True) == ["data/iris.csv"]


def test_file_is_re_read_before_expiry_without_a_rejected_request(sts_oss, tmp_path):
    from jupyter_workbench.storage.ossfix import WorkbenchOSSFileSystem

    # Given: 2-second tokens, renewed by a helper before they expire
    path = tmp_path / "sts.json"
    write_credentials(path, sts_oss.issue_sts(lifetime=2))
    provider = RefreshingCredentials(credentials_file=str(path))
    fs = WorkbenchOSSFileSystem(endpoint=sts_oss.endpoint, credentials_provider=provider)
    assert fs.cat("demo/data/iris.csv") == b"a,b\n1,2\n"
    sts_oss.clear_requests()
    # When: reads keep going for longer than three token lifetimes
    deadline = time.time() + 6.5
    while time.time() < deadline:
        if provider.expires_at - time.time() < 1.2:
            write_credentials(path, sts_oss.issue_sts(lifetime=2))
        assert fs.cat("demo/data/iris.csv") == b"a,b\n1,2\n"
        time.sleep(0.2)
    # Then: the provider renewed ahead of time; OSS never saw an expired token
    assert provider.refreshes >= 3
    assert [r for r in sts_oss.requests if r.status == 403] == []


def test_command_source(registry, sts_oss, tmp_path):
    path = tmp_path / "sts.json"
    write_credentials(path, sts_oss.issue_sts(lifetime=3600))
    script = "import sys; sys.stdout.write(open(sys.argv[1]).read())"
    command = shlex.join([sys.executable, "-c", script, str(path)])
    fs = mount(registry, sts_oss, credentials_command=command)
    assert fs.cat("data/iris.csv") == b"a,b\n1,2\n"


def test_ram_role_endpoint_source(registry, sts_oss):
    answers = []

    class Metadata(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"Code": "Success", **sts_oss.issue_sts(lifetime=3600)}).encode()
            answers.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Metadata)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/latest/meta-data/ram/security-credentials/r"
        fs = mount(registry, sts_oss, ram_role_endpoint=url)
        assert fs.cat("data/iris.csv") == b"a,b\n1,2\n"
        assert answers == ["/latest/meta-data/ram/security-credentials/r"]
    finally:
        server.shutdown()
        server.server_close()


def test_sources_keep_secrets_out_of_reprs_logs_and_errors(registry, sts_oss, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "sts.json"
    creds = sts_oss.issue_sts(lifetime=3600)
    write_credentials(path, creds)
    fs = mount(registry, sts_oss, credentials_file=str(path))
    fs.cat("data/iris.csv")
    sts_oss.expire(creds["AccessKeyId"])  # and no new token: the error must stay clean
    with pytest.raises(StorageCredentialsError) as exc:
        fs.cat("data/iris.csv")
    pickled = pickle.dumps(fs.fs)  # what a FUSE helper receives
    text = caplog.text + repr(fs) + str(exc.value) + repr(fs.fs._credentials_provider)
    assert creds["AccessKeySecret"].encode() not in pickled
    assert creds["AccessKeySecret"] not in text and creds["SecurityToken"] not in text
    assert "expired" in str(exc.value)
    stored = (registry.state_dir / "mounts.json").read_text()
    assert creds["AccessKeySecret"] not in stored


def test_bad_sources_are_clear_errors(tmp_path):
    with pytest.raises(StorageCredentialsError, match="exactly one"):
        RefreshingCredentials()
    with pytest.raises(StorageCredentialsError, match="Could not read"):
        RefreshingCredentials(credentials_file=str(tmp_path / "missing.json")).get_credentials()
    (tmp_path / "bad.json").write_text('{"AccessKeyId": "x"}')
    with pytest.raises(StorageCredentialsError, match="lack AccessKeySecret"):
        RefreshingCredentials(credentials_file=str(tmp_path / "bad.json")).get_credentials()
    with pytest.raises(StorageCredentialsError, match="failed"):
        RefreshingCredentials(credentials_command="false").get_credentials()
