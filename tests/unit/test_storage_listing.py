"""Paged listings for the file browser: one store call per page, no per-object HEAD."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from jupyter_workbench.storage import InvalidMountError, PathNotAllowedError, list_page

try:
    from ._storage_fixtures import oss, oss_options, registry, state_dir
except ImportError:
    from _storage_fixtures import oss, oss_options, registry, state_dir

__all__ = ["oss", "registry", "state_dir"]


@pytest.fixture
def demo(registry, oss):
    registry.add("demo", "oss://demo", oss_options(oss))
    return registry.filesystem("demo")


def all_pages(fs, path, page_size):
    entries, marker, calls = [], None, 0
    while True:
        page, marker = list_page(fs, path, page_size, marker)
        entries.extend(page)
        calls += 1
        if marker is None:
            return entries, calls
        assert calls < 1000


def test_first_page_of_a_10000_key_prefix_is_one_fast_call(demo, oss):
    # Given
    for i in range(10_000):
        oss.store.put_bytes("demo", f"big/{i:05d}.csv", b"x,y\n")
    oss.clear_requests()
    # When
    t0 = time.perf_counter()
    entries, marker = list_page(demo, "big", 100)
    elapsed = time.perf_counter() - t0
    # Then
    assert len(entries) == 100 and marker == "big/00099.csv"
    assert entries[0] == {
        "name": "00000.csv",
        "path": "big/00000.csv",
        "type": "file",
        "size": 4,
        "last_modified": entries[0]["last_modified"],
    }
    assert isinstance(entries[0]["last_modified"], datetime)
    assert entries[0]["last_modified"].tzinfo == timezone.utc
    (request,) = oss.requests  # exactly one ListObjects call, no HEAD per object
    assert request.method == "GET" and request.key == ""
    assert request.query["max-keys"] == "100" and request.query["delimiter"] == "/"
    assert elapsed < 1.0


def test_paging_covers_everything_once(demo, oss):
    # Given: files, sub-directories and a directory marker, interleaved
    for i in range(230):
        oss.put_object("demo", f"mix/f{i:03d}.txt", b"1")
    for i in range(0, 230, 10):
        oss.put_object("demo", f"mix/f{i:03d}.d/inner", b"2")
    oss.put_object("demo", "mix/", b"")  # the marker of mix itself
    oss.put_object("demo", "mix/empty/", b"")
    # When
    entries, calls = all_pages(demo, "mix", 50)
    # Then
    names = [e["name"] for e in entries]
    assert len(names) == len(set(names)) == 230 + 23 + 1
    assert "" not in names and "empty" in names
    dirs = {e["name"] for e in entries if e["type"] == "directory"}
    assert dirs == {f"f{i:03d}.d" for i in range(0, 230, 10)} | {"empty"}
    assert sorted(names) == sorted(e["name"][4:] for e in demo.ls("mix", detail=True))
    assert calls == 6


def test_empty_missing_and_file_paths(demo):
    # Given
    demo.mkdir("empty")
    # When / Then
    assert list_page(demo, "empty", 10) == ([], None)
    with pytest.raises(FileNotFoundError):
        list_page(demo, "nothing-here", 10)
    with pytest.raises(NotADirectoryError):
        list_page(demo, "README.txt", 10)
    with pytest.raises(PathNotAllowedError):
        list_page(demo, "../x", 10)


def test_root_of_a_prefix_mount(registry, oss):
    # Given
    registry.add("data", "oss://demo/data", oss_options(oss))
    fs = registry.filesystem("data")
    # When
    entries, marker = list_page(fs, "", 10)
    # Then
    assert [(e["name"], e["path"]) for e in entries] == [("iris.csv", "iris.csv")]
    assert marker is None


@pytest.mark.parametrize("size", [0, 1001, "10", True, None])
def test_page_size_is_validated(demo, size):
    with pytest.raises(InvalidMountError, match="page_size"):
        list_page(demo, "", size)


def test_local_mount_pages_through_ls(registry, tmp_path):
    # Given
    root = tmp_path / "share"
    (root / "sub").mkdir(parents=True)
    for i in range(25):
        (root / f"f{i:02d}.txt").write_text("x" * i)
    registry.configure(allowed_local_roots=[tmp_path])
    registry.add("local", f"file://{root}")
    fs = registry.filesystem("local")
    # When
    first, marker = list_page(fs, "", 10)
    entries, calls = all_pages(fs, "", 10)
    # Then
    assert [e["name"] for e in first] == [f"f{i:02d}.txt" for i in range(10)]
    assert marker == "f09.txt"
    assert len(entries) == 26 and calls == 3
    sub = next(e for e in entries if e["name"] == "sub")
    assert sub["type"] == "directory" and sub["path"] == "sub"
    f3 = next(e for e in entries if e["name"] == "f03.txt")
    assert f3["size"] == 3 and f3["last_modified"].tzinfo == timezone.utc
    with pytest.raises(NotADirectoryError):
        list_page(fs, "f01.txt", 10)
    with pytest.raises(FileNotFoundError):
        list_page(fs, "missing", 10)
