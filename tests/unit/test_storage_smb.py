"""smb:// mounts against a real Samba server (Debian's smbd, started by ``smb_server``)."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from jupyter_workbench.storage import (
    InvalidMountError,
    MountRegistry,
    ReadOnlyMountError,
    StorageCredentialsError,
    list_page,
)

try:
    from ._smb_fixtures import smb_server
    from ._storage_fixtures import registry, state_dir
except ImportError:
    from _smb_fixtures import smb_server
    from _storage_fixtures import registry, state_dir

__all__ = ["registry", "smb_server", "state_dir"]


@pytest.fixture
def team(registry, smb_server):
    """Mount ``team``: the folder ``projects`` of the share (it exists on disk)."""
    (smb_server.dir / "projects").mkdir()
    registry.add("team", smb_server.url("projects"), smb_server.options(), check=True)
    return smb_server.dir / "projects"


def test_smb_mount_writes_reads_lists_renames_and_deletes(registry, team):
    # Given
    fs = registry.filesystem("team")
    (team / "from-server.txt").write_bytes(b"on disk")
    # When: written through the mount
    fs.pipe("a.txt", b"hello")
    fs.makedirs("exp/1", exist_ok=True)
    big = os.urandom(3 * 1024 * 1024 + 17)
    with fs.open("exp/1/model.bin", "wb") as f:
        f.write(big)
    fs.mkdir("my folder")  # like a local disk, parents are not created implicitly
    fs.pipe("my folder/été.csv", b"x,y\n")
    # Then: on the share's disk, and read back and listed through the mount
    assert (team / "a.txt").read_bytes() == b"hello"
    assert (team / "exp" / "1" / "model.bin").read_bytes() == big
    assert (team / "my folder" / "été.csv").read_bytes() == b"x,y\n"
    assert fs.cat("from-server.txt") == b"on disk"
    with fs.open("exp/1/model.bin", "rb") as f:
        f.seek(1024 * 1024)
        assert f.read(10) == big[1024 * 1024 : 1024 * 1024 + 10]
    assert sorted(fs.ls("", detail=False)) == ["a.txt", "exp", "from-server.txt", "my folder"]
    assert fs.info("exp/1/model.bin")["size"] == len(big)
    assert fs.isdir("exp") and not fs.exists("nope.txt")
    entries, marker = list_page(fs, "", 2)
    assert [e["name"] for e in entries] == ["a.txt", "exp"] and marker == "exp"
    assert entries[0]["size"] == 5 and entries[1]["type"] == "directory"
    entries, _ = list_page(fs, "my folder", 10)
    assert [(e["name"], e["path"]) for e in entries] == [("été.csv", "my folder/été.csv")]

    # When: renamed and deleted through the mount
    fs.mv("a.txt", "exp/b.txt")
    fs.rm("from-server.txt")
    fs.rm("my folder", recursive=True)
    # Then
    assert not (team / "a.txt").exists() and (team / "exp" / "b.txt").read_bytes() == b"hello"
    assert sorted(os.listdir(team)) == ["exp"]
    with pytest.raises(FileNotFoundError):
        fs.cat("a.txt")


def test_smb_password_is_only_in_the_private_credential_store(registry, state_dir, team):
    # Given
    password = registry.credentials.get("team")["password"]
    fs = registry.filesystem("team")
    mount = registry.get("team")
    # Then
    assert password == "Wb-smb-test-1"
    creds = state_dir / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert password in creds.read_text()
    for path in state_dir.rglob("*"):
        if path.is_file() and path != creds:
            assert password.encode() not in path.read_bytes(), path
    assert mount.secret_options == ("password",)
    assert mount.options["port"] > 0 and mount.options["username"]
    for text in (repr(fs), repr(mount), json.dumps(registry.describe(mount)), repr(registry)):
        assert password not in text
    assert repr(fs) == (f"MountFileSystem(mount='team', url='{mount.url}', read_only=False)")


def test_smb_wrong_password_is_a_credentials_error(registry, smb_server):
    # When
    t0 = time.monotonic()
    with pytest.raises(StorageCredentialsError, match="rejected the username or password"):
        registry.add("bad", smb_server.url(), smb_server.options(password="wrong"), check=True)
    # Then: quickly, and nothing is saved
    assert time.monotonic() - t0 < 10
    assert "bad" not in registry
    assert registry.credentials.get("bad") in (None, {})


def test_smb_wrong_password_fails_even_when_the_user_is_logged_in(registry, team, smb_server):
    # Given: a working mount of the same server and user in this process
    registry.filesystem("team").pipe("x.txt", b"x")
    # When: another mount with the wrong password (smbclient reuses sessions by user name)
    with pytest.raises(StorageCredentialsError, match="rejected the username or password"):
        registry.add("bad", smb_server.url(), smb_server.options(password="wrong"), check=True)
    registry.add("later", smb_server.url(), smb_server.options(password="wrong"))
    with pytest.raises(StorageCredentialsError):
        registry.filesystem("later")
    # Then: the good mount still works
    assert registry.filesystem("team").cat("x.txt") == b"x"


def test_smb_missing_folder_is_refused_when_added(registry, smb_server):
    with pytest.raises(InvalidMountError, match="does not exist"):
        registry.add("gone", smb_server.url("no/such/folder"), smb_server.options(), check=True)
    assert "gone" not in registry


def test_smb_read_only_mount_refuses_writes(registry, smb_server):
    # Given
    (smb_server.dir / "report.txt").write_text("v1")
    registry.add("ro", smb_server.url(), smb_server.options(), read_only=True, check=True)
    fs = registry.filesystem("ro")
    # When / Then
    assert fs.cat("report.txt") == b"v1"
    with pytest.raises(ReadOnlyMountError):
        fs.pipe("report.txt", b"v2")
    with pytest.raises(ReadOnlyMountError):
        fs.rm("report.txt")
    assert (smb_server.dir / "report.txt").read_text() == "v1"


def test_smb_remove_forgets_the_mount_and_keeps_the_files(registry, state_dir, team):
    # Given
    fs = registry.filesystem("team")
    fs.makedirs("keep")
    fs.pipe("keep/me.txt", b"data")
    # When
    registry.remove("team")
    # Then
    assert (team / "keep" / "me.txt").read_bytes() == b"data"
    assert "team" not in MountRegistry(state_dir)
    assert not registry.credentials.get("team")


def test_smb_deferred_write_replaces_the_file_only_on_commit(registry, team):
    # Given (how the contents bridge saves: autocommit=False, then commit or discard)
    fs = registry.filesystem("team")
    fs.pipe("notes.txt", b"v1")
    # When: a write is discarded
    f = fs.open("notes.txt", "wb", autocommit=False)
    f.write(b"half")
    f.discard()
    # Then: the old content stays and no temporary file is left
    assert fs.cat("notes.txt") == b"v1" and os.listdir(team) == ["notes.txt"]
    # When: a write is committed
    f = fs.open("notes.txt", "wb", autocommit=False)
    f.write(b"v2")
    assert (team / "notes.txt").read_bytes() == b"v1"  # not yet
    f.commit()
    # Then
    assert (team / "notes.txt").read_bytes() == b"v2" and os.listdir(team) == ["notes.txt"]
    assert fs.info("notes.txt", refresh=True)["size"] == 2
