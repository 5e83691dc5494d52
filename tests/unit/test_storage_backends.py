"""Backends other than OSS: local (file://), NAS (NFS), SMB, S3, other fsspec protocols."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from jupyter_workbench.storage import (
    MountRegistry,
    PathNotAllowedError,
    ReadOnlyMountError,
    StorageUnavailableError,
    UnsupportedMountError,
    list_page,
)
from jupyter_workbench.storage.backends import nas as backends

try:
    from ._storage_fixtures import free_port, registry, state_dir
except ImportError:
    from _storage_fixtures import free_port, registry, state_dir

__all__ = ["registry", "state_dir"]


@pytest.fixture
def local_root(registry, tmp_path):
    root = tmp_path / "srv"
    (root / "nas").mkdir(parents=True)
    registry.configure(allowed_local_roots=[root], mount_dir=tmp_path / "mnt")
    return root


# ----------------------------------------------------------------------------- file://


def test_local_mount_roundtrip(registry, local_root):
    # Given
    registry.add("nas", f"file://{local_root}/nas")
    fs = registry.filesystem("nas")
    # When
    fs.makedirs("exp/1", exist_ok=True)
    fs.pipe("exp/1/metrics.json", b"{}")
    # Then
    assert (local_root / "nas" / "exp" / "1" / "metrics.json").read_bytes() == b"{}"
    assert fs.ls("exp", detail=False) == ["exp/1"]
    assert (
        repr(fs) == f"MountFileSystem(mount='nas', url='file://{local_root}/nas', read_only=False)"
    )


def test_local_mount_cannot_be_escaped(registry, local_root):
    # Given
    (local_root / "outside.txt").write_text("secret")
    registry.add("nas", f"file://{local_root}/nas")
    fs = registry.filesystem("nas")
    # When / Then
    with pytest.raises(PathNotAllowedError):
        fs.cat("../outside.txt")
    with pytest.raises(PathNotAllowedError):
        fs.open("sub/../../outside.txt")


def test_symlink_swapped_after_adding_is_refused(registry, local_root, tmp_path):
    # Given: the mount was added through a link that later points elsewhere
    (local_root / "real").mkdir()
    (local_root / "link").symlink_to(local_root / "real")
    registry.add("linked", f"file://{local_root}/link")
    (local_root / "link").unlink()
    (tmp_path / "elsewhere").mkdir()
    # the stored path is the resolved one, so a swapped link does not matter...
    assert registry.get("linked").root == os.path.realpath(local_root / "real")
    # ...but the directory itself replaced by a link out of the roots is refused
    shutil.rmtree(local_root / "real")
    (local_root / "real").symlink_to(tmp_path / "elsewhere")
    # When / Then
    with pytest.raises(PathNotAllowedError):
        registry.filesystem("linked")


def test_local_mount_refused_once_its_root_is_no_longer_allowed(registry, local_root, tmp_path):
    # Given
    registry.add("nas", f"file://{local_root}/nas")
    other = tmp_path / "other"
    other.mkdir()
    # When
    registry.configure(allowed_local_roots=[other])
    # Then
    with pytest.raises(PathNotAllowedError, match="outside"):
        registry.filesystem("nas")


def test_read_only_local_mount(registry, local_root):
    # Given
    (local_root / "nas" / "a.txt").write_text("a")
    registry.add("ro", f"file://{local_root}/nas", read_only=True)
    fs = registry.filesystem("ro")
    # When / Then
    assert fs.cat("a.txt") == b"a"
    with pytest.raises(ReadOnlyMountError):
        fs.pipe("b.txt", b"b")
    with pytest.raises(ReadOnlyMountError):
        fs.open("a.txt", "ab")
    assert not (local_root / "nas" / "b.txt").exists()


# ----------------------------------------------------------------------------- nas://


def test_nas_without_nfs_client_explains_the_host_mount(registry, monkeypatch):
    # Given: this machine has no NFS client (true here; forced for determinism)
    monkeypatch.setattr(backends, "_nfs_helper", lambda: None)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    registry.add("share", "nas://nas.example.com:/export/data")
    # When
    with pytest.raises(UnsupportedMountError) as exc:
        registry.filesystem("share")
    # Then
    msg = str(exc.value)
    assert "no NFS client" in msg
    assert "mount -t nfs" in msg and "nas.example.com:/export/data" in msg
    assert "file:///mnt/share" in msg and "allowed_local_roots" in msg
    assert exc.value.http_status == 400


def test_nas_needs_root(registry, monkeypatch):
    # Given
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    registry.add("share", "nas://nas.example.com:/export")
    # When / Then
    with pytest.raises(UnsupportedMountError, match="needs root"):
        registry.filesystem("share")


def test_nas_add_with_check_saves_nothing(registry, monkeypatch):
    monkeypatch.setattr(backends, "_nfs_helper", lambda: None)
    with pytest.raises(UnsupportedMountError):
        registry.add("share", "nas://nas.example.com:/export", check=True)
    assert registry.list() == []


def test_nas_mount_command_and_failure(registry, monkeypatch, state_dir):
    # Given: a system that would allow mounting, but the mount fails
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 32, "", "mount.nfs: Connection timed out")

    monkeypatch.setattr(backends, "_nfs_helper", lambda: "/sbin/mount.nfs")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(backends.subprocess, "run", fake_run)
    registry.add("share", "nas://10.0.0.5:/export", {"mount_options": "vers=3,nolock"})
    # When
    with pytest.raises(StorageUnavailableError, match="Connection timed out"):
        registry.filesystem("share")
    # Then
    target = str(state_dir / "nfs" / "share")
    assert calls == [["mount", "-t", "nfs", "-o", "vers=3,nolock", "10.0.0.5:/export", target]]


# ----------------------------------------------------------------------------- smb://, s3://


def test_smb_unreachable_fails_fast_with_a_clear_error(registry):
    pytest.importorskip("smbprotocol")
    # Given
    registry.add("team", f"smb://127.0.0.1:{free_port()}/share", {"username": "u", "password": "p"})
    # When
    t0 = time.monotonic()
    with pytest.raises(StorageUnavailableError, match="SMB server"):
        registry.filesystem("team")
    # Then
    assert time.monotonic() - t0 < 10
    assert registry.credentials.get("team") == {"password": "p"}


def test_smb_without_smbprotocol_says_what_to_install(registry, monkeypatch):
    # Given
    import sys

    monkeypatch.setitem(sys.modules, "smbprotocol.exceptions", None)
    registry.add("team", "smb://fileserver/share")
    # When / Then
    with pytest.raises(UnsupportedMountError, match="pip install smbprotocol"):
        registry.filesystem("team")


def test_s3_unreachable_fails_within_bounded_time(registry):
    # Given
    registry.add(
        "s",
        "s3://bucket/x",
        {"endpoint": f"http://127.0.0.1:{free_port()}", "key": "a", "secret": "b", "retries": 0},
    )
    fs = registry.filesystem("s")
    # When
    t0 = time.monotonic()
    with pytest.raises(StorageUnavailableError):
        list_page(fs, "", 10)
    # Then
    assert time.monotonic() - t0 < 10
    assert type(fs.fs).__name__ == "S3FileSystem"


# ----------------------------------------------------------------------------- other protocols


def test_other_fsspec_protocol_is_wrapped(registry):
    # When
    registry.add("web", "https://example.com/datasets", {"block_size": 0})
    fs = registry.filesystem("web")
    # Then (no network needed to build it)
    assert type(fs.fs).__name__ == "HTTPFileSystem"
    assert fs.path == "https://example.com/datasets"


def test_fresh_registry_sees_mounts_added_by_another(registry, state_dir, local_root):
    # Given: the CLI adds a mount while the server holds its own registry object
    MountRegistry(state_dir).add("late", f"file://{local_root}/nas")
    # Then
    assert [m.name for m in registry.list()] == ["late"]
    assert registry.filesystem("late").ls("") == []
