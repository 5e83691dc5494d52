"""The backend registry (storage/backends): one class per protocol, found by URL, mount or
filesystem, and open to new protocols the way fsspec's registry is."""

from __future__ import annotations

import uuid

import fsspec
import pytest
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem

from jupyter_workbench.storage import (
    BACKENDS,
    InvalidMountError,
    MountTarget,
    backend_for,
    list_page,
    parse_mount_url,
)
from jupyter_workbench.storage.backends import Backend, register_backend
from jupyter_workbench.storage.writes import write_bytes

try:
    from ._storage_fixtures import registry, state_dir
except ImportError:
    from _storage_fixtures import registry, state_dir

__all__ = ["registry", "state_dir"]


@pytest.mark.parametrize(
    ("target", "name"),
    [
        ("oss://bucket/k", "oss"),
        ("s3://bucket", "s3"),
        ("S3A://bucket", "s3"),
        ("file:///data", "file"),
        ("local:///data", "file"),
        ("nas://server:/export", "nas"),
        ("smb://host/share", "smb"),
        ("memory://x", "memory"),
        ("https://example.com/data", "https"),
        ("gcs", "gcs"),
    ],
)
def test_urls_and_protocol_names_find_their_backend(target, name):
    assert backend_for(target).name == name


def test_what_each_store_guarantees():
    assert backend_for("file:///x").local and not backend_for("oss://b").local
    assert backend_for("oss://b").object_store and backend_for("s3://b").object_store
    assert not backend_for("smb://h/s").object_store
    # Exclusive create (export version reservations) where the store has it.
    stores = ("oss", "s3", "memory", "file", "nas", "smb")
    assert {p for p in stores if BACKENDS[p].conditional_create} == {"oss", "s3", "memory"}
    assert not backend_for("https://example.com").conditional_create
    # Only object-store URLs may carry a key and secret.
    assert backend_for("oss://b").url_credentials and not backend_for("file:///x").url_credentials


def test_filesystems_find_their_backend_through_a_mount_wrapper(tmp_path):
    local = LocalFileSystem()
    assert backend_for(local).local
    assert backend_for(DirFileSystem(path=str(tmp_path), fs=local)).local
    memory = fsspec.filesystem("memory")
    assert backend_for(memory).conditional_create
    with pytest.raises(TypeError, match="URL, a mount or a filesystem"):
        backend_for(42)


def test_a_mount_finds_its_backend(registry, tmp_path):
    (tmp_path / "data").mkdir()
    registry.configure(allowed_local_roots=[tmp_path])
    mount = registry.add("d", f"file://{tmp_path}/data")
    assert backend_for(mount) is BACKENDS["file"]
    assert backend_for(registry.filesystem("d")) is BACKENDS["file"]


class _MemoryBucketBackend(Backend):
    """A protocol the workbench does not ship: ``wbmem://name`` mounts an in-memory tree."""

    protocols = ("wbmem",)

    def parse(self, protocol, url, options, *, allowed_local_roots=None):
        name = url.split("://", 1)[1].strip("/")
        if not name.isalnum():
            raise InvalidMountError(f"wbmem:// needs a plain name, got {name!r}.")
        return MountTarget("wbmem", f"wbmem://{name}", f"/{name}", {"name": name}, {}, {})

    def filesystem(self, mount, secrets, *, allowed_local_roots=None, state_dir=None):
        fs = fsspec.filesystem("memory")
        fs.makedirs(mount.root, exist_ok=True)
        return fs, mount.root


def test_a_registered_backend_serves_mounts_end_to_end(registry, monkeypatch):
    # Given a new protocol registered like an fsspec implementation
    backend = _MemoryBucketBackend()
    monkeypatch.setitem(BACKENDS, "wbmem", backend)
    with pytest.raises(ValueError, match="registered already"):
        register_backend(_MemoryBucketBackend())
    name = f"t{uuid.uuid4().hex[:8]}"
    # When a mount of it is added (checked), written and listed
    assert parse_mount_url(f"wbmem://{name}").root == f"/{name}"
    with pytest.raises(InvalidMountError, match="plain name"):
        parse_mount_url("wbmem://a-b")
    registry.add("mem", f"wbmem://{name}", check=True)
    fs = registry.filesystem("mem")
    write_bytes(fs, "notes/a.txt", b"hello")
    entries, marker = list_page(fs, "notes", 10)
    # Then the registry used it for parsing, building and checking the mount
    assert backend_for(registry.get("mem")) is backend
    assert [(e["name"], e["size"]) for e in entries] == [("a.txt", 5)] and marker is None
    assert fsspec.filesystem("memory").cat(f"/{name}/notes/a.txt") == b"hello"
