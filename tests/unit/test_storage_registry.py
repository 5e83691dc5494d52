"""The mount registry and the credential store: persistence, validation, secrets kept private."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from pathlib import Path

import pytest

from jupyter_workbench import mounts
from jupyter_workbench.storage import (
    CredentialStore,
    InvalidMountError,
    MountExistsError,
    MountNotFoundError,
    MountRegistry,
    PathNotAllowedError,
    UnsupportedMountError,
    _files,
    default_state_dir,
)

try:
    from ._storage_fixtures import oss, oss_options, registry, state_dir
except ImportError:
    from _storage_fixtures import oss, oss_options, registry, state_dir

__all__ = ["oss", "registry", "state_dir"]

SECRET = "very-secret-value-123"
OPTS = {
    "endpoint": "http://127.0.0.1:9",
    "key": "AKIDVISIBLE",
    "secret": SECRET,
    "token": "tok-xyz",
}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ----------------------------------------------------------------------------- credentials


def test_credential_file_is_0600_and_registry_holds_no_secret(registry, state_dir):
    # When
    m = registry.add("data", "oss://bucket/x", OPTS)
    # Then
    creds = state_dir / "credentials.json"
    assert mode(creds) == 0o600
    assert mode(state_dir) == 0o700
    assert json.loads(creds.read_text())["mounts"]["data"]["secret"] == SECRET
    text = (state_dir / "mounts.json").read_text()
    for secret in (SECRET, "tok-xyz", "AKIDVISIBLE"):
        assert secret not in text
        assert secret not in repr(m) and secret not in str(m.to_dict())
        assert secret not in repr(registry.filesystem("data"))
    assert m.secret_options == ("key", "secret", "token")
    assert m.options == {"endpoint": "http://127.0.0.1:9"}


def test_private_file_is_never_readable_by_others_even_briefly(tmp_path, monkeypatch):
    # Given: observe the temporary file at the moment it is renamed into place
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(stat.S_IMODE(os.stat(src).st_mode))
        return real_replace(src, dst)

    monkeypatch.setattr(_files.os, "replace", spy)
    old = os.umask(0)  # even with a permissive umask
    try:
        # When
        CredentialStore(tmp_path / "c" / "credentials.json").set("m", {"secret": "x"})
    finally:
        os.umask(old)
    # Then
    assert seen == [0o600]
    assert mode(tmp_path / "c" / "credentials.json") == 0o600


def test_loosened_credential_file_is_tightened(tmp_path):
    # Given
    store = CredentialStore(tmp_path / "credentials.json")
    store.set("m", {"password": "pw"})
    os.chmod(store.path, 0o644)
    # When
    assert store.get("m") == {"password": "pw"}
    # Then
    assert mode(store.path) == 0o600


def test_credential_store_set_get_delete(tmp_path):
    # Given
    store = CredentialStore(tmp_path / "credentials.json")
    # When
    store.set("a", {"secret": "1"})
    store.set("b", {"password": "pw-b"})
    store.delete("a")
    # Then
    assert store.names() == ["b"] and store.get("a") == {}
    assert store.get("b") == {"password": "pw-b"} and "pw-b" not in repr(store)


def test_secrets_never_in_logs(registry, caplog):
    # When
    with caplog.at_level(logging.DEBUG):
        registry.add("data", "oss://bucket/x", OPTS)
        registry.filesystem("data")
        registry.remove("data")
    # Then
    assert SECRET not in caplog.text and "tok-xyz" not in caplog.text


# ----------------------------------------------------------------------------- registry


def test_mounts_persist_across_registry_instances(registry, state_dir):
    # Given
    registry.add("b", "oss://bucket/x", OPTS, read_only=True)
    registry.add("a", "nas://server:/export")
    # When
    fresh = MountRegistry(state_dir)
    # Then
    assert [m.name for m in fresh.list()] == ["a", "b"]
    b = fresh.get("b")
    assert (b.url, b.read_only, b.protocol) == ("oss://bucket/x", True, "oss")
    assert fresh.credentials.get("b")["secret"] == SECRET


def test_duplicate_empty_and_unknown_names(registry):
    # Given
    registry.add("data", "oss://bucket", OPTS)
    # When / Then
    with pytest.raises(MountExistsError) as exc:
        registry.add("data", "oss://other", OPTS)
    assert exc.value.http_status == 409 and "already exists" in str(exc.value)
    with pytest.raises(InvalidMountError, match="empty"):
        registry.add("", "oss://bucket", OPTS)
    with pytest.raises(PathNotAllowedError):
        registry.add("../etc", "oss://bucket", OPTS)
    with pytest.raises(MountNotFoundError) as exc:
        registry.get("missing")
    assert exc.value.http_status == 404 and "data" in str(exc.value)
    with pytest.raises(MountNotFoundError):
        registry.remove("missing")
    # And replacing is explicit
    registry.add("data", "oss://other", OPTS, replace=True)
    assert registry.get("data").url == "oss://other"


def test_invalid_url_saves_nothing(registry, state_dir):
    # When
    with pytest.raises(InvalidMountError):
        registry.add("data", "oss://BAD", OPTS)
    # Then
    assert registry.list() == []
    assert not (state_dir / "credentials.json").exists()


def test_remove_forgets_mount_and_secrets_but_keeps_the_data(registry, oss):
    # Given
    registry.add("demo", "oss://demo", oss_options(oss))
    registry.filesystem("demo").pipe("keep.txt", b"still here")
    # When
    removed = registry.remove("demo")
    # Then
    assert removed.name == "demo" and registry.list() == []
    assert registry.credentials.get("demo") == {}
    assert oss.get_object("demo", "keep.txt") == b"still here"
    assert oss.exists("demo", "README.txt")


def test_file_mounts_use_recorded_allowed_roots(registry, tmp_path):
    # Given
    allowed = tmp_path / "srv"
    (allowed / "nas").mkdir(parents=True)
    (tmp_path / "private").mkdir()
    # When / Then: without configured roots, local mounts are refused
    with pytest.raises(PathNotAllowedError, match="allowed_local_roots"):
        registry.add("nas", f"file://{allowed}/nas")
    registry.configure(allowed_local_roots=[allowed], mount_dir=allowed / "mnt")
    registry.add("nas", f"file://{allowed}/nas")
    with pytest.raises(PathNotAllowedError):
        registry.add("private", f"file://{tmp_path}/private")
    assert registry.settings["allowed_local_roots"] == [os.path.realpath(allowed)]


def test_local_path_and_mount_dir(registry, tmp_path, monkeypatch):
    # Given
    registry.add("data", "oss://bucket", OPTS)
    # When / Then: unknown until the server records it
    with pytest.raises(UnsupportedMountError, match="mount directory"):
        registry.local_path("data")
    assert registry.describe(registry.get("data"))["local_path"] is None
    registry.configure(mount_dir=tmp_path / "root" / "mnt")
    assert registry.local_path("data") == tmp_path / "root" / "mnt" / "data"
    monkeypatch.setenv("JUPYTER_WORKBENCH_MOUNT_DIR", str(tmp_path / "elsewhere"))
    assert registry.local_path("data") == tmp_path / "elsewhere" / "data"
    with pytest.raises(MountNotFoundError):
        registry.local_path("nope")


def test_state_dir_from_environment_and_default(monkeypatch, tmp_path):
    # Given
    monkeypatch.setenv("JUPYTER_WORKBENCH_STATE_DIR", str(tmp_path / "s"))
    assert default_state_dir() == tmp_path / "s"
    monkeypatch.delenv("JUPYTER_WORKBENCH_STATE_DIR")
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jd"))
    # When / Then
    assert default_state_dir() == tmp_path / "jd" / "workbench"


def test_concurrent_adds_from_threads_all_land(registry):
    # Given
    errors = []

    def add(i):
        try:
            registry.add(f"m{i}", f"oss://bucket-{i:03d}", {**OPTS, "secret": f"s{i}"})
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(12)]
    # When
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then
    assert errors == []
    assert len(registry.list()) == 12
    assert registry.credentials.get("m7")["secret"] == "s7"


def test_add_with_check_refuses_wrong_credentials_and_saves_nothing(registry, oss):
    # When
    with pytest.raises(Exception) as exc:
        registry.add("demo", "oss://demo", oss_options(oss, secret="wrong"), check=True)
    # Then
    assert exc.value.category == "credentials" and exc.value.http_status == 400
    assert "SignatureDoesNotMatch" in str(exc.value) and "wrong" not in str(exc.value)
    assert registry.list() == [] and registry.credentials.names() == []


def test_add_with_check_refuses_a_missing_bucket(registry, oss):
    with pytest.raises(Exception) as exc:
        registry.add("x", "oss://no-such-bucket", oss_options(oss), check=True)
    assert exc.value.category == "invalid" and "does not exist" in str(exc.value)


# ----------------------------------------------------------------------------- kernel API


def test_kernel_side_api_reads_the_shared_state_dir(registry, oss, tmp_path):
    # Given: the server added a mount and recorded its mount dir
    registry.configure(mount_dir=tmp_path / "mnt")
    registry.add("demo", "oss://demo/data", oss_options(oss))
    # When: a kernel (same JUPYTER_WORKBENCH_STATE_DIR) uses the module-level API
    fs = mounts.filesystem("demo")
    listed = mounts.list_mounts()
    # Then
    assert fs.cat("iris.csv").startswith(b"sepal_length")
    assert listed[0]["name"] == "demo" and listed[0]["local_path"] == str(tmp_path / "mnt/demo")
    assert "secret" not in listed[0]["options"] and listed[0]["has_credentials"]
    assert mounts.local_path("demo") == tmp_path / "mnt" / "demo"
    with pytest.raises(MountNotFoundError):
        mounts.filesystem("other")


def test_add_with_check_accepts_an_empty_prefix_of_an_existing_bucket(registry, oss):
    # When: the prefix has no objects yet (the first write creates it)
    m = registry.add("fresh", "oss://demo/not-yet/created", oss_options(oss), check=True)
    # Then
    assert m.root == "demo/not-yet/created"
    registry.filesystem("fresh").pipe("a.txt", b"a")
    assert oss.get_object("demo", "not-yet/created/a.txt") == b"a"


def test_storage_and_testing_never_import_server_or_tensorflow():
    # Given
    import subprocess
    import sys

    code = (
        "import sys, jupyter_workbench.storage as s, jupyter_workbench.testing, "
        "jupyter_workbench.mounts; s.list_page; s.filesystem_for; "
        "import jupyter_workbench.storage.ossfix, jupyter_workbench.storage.listing; "
        "bad = [m for m in ('jupyter_server', 'tornado', 'IPython', 'tensorflow') "
        "if m in sys.modules]; print(bad)"
    )
    # When
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # Then
    assert out.stdout.strip() == "[]"
