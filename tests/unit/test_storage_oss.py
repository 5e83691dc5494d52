"""OSS mounts through the fixed ossfs filesystem, against the emulator."""

from __future__ import annotations

import os
import time
import tracemalloc
from datetime import datetime, timezone

import pytest

from jupyter_workbench.storage import (
    PathNotAllowedError,
    ReadOnlyMountError,
    StorageCredentialsError,
    StorageUnavailableError,
)
from jupyter_workbench.storage.errors import http_status_for
from jupyter_workbench.storage.ossfix import WorkbenchOSSFileSystem

try:
    from ._storage_fixtures import (
        AK,
        SK,
        free_port,
        oss,
        oss_filesystem,
        oss_options,
        registry,
        silent_server,
        state_dir,
    )
except ImportError:
    from _storage_fixtures import (
        AK,
        SK,
        free_port,
        oss,
        oss_filesystem,
        oss_options,
        registry,
        silent_server,
        state_dir,
    )

__all__ = ["oss", "registry", "state_dir"]

KB = 1024


@pytest.fixture
def demo(registry, oss):
    """The mount 'demo' (oss://demo) and its filesystem."""
    registry.add("demo", "oss://demo", oss_options(oss))
    return registry.filesystem("demo")


# ----------------------------------------------------------------------------- round trips


def test_filesystem_read_write_roundtrip(demo, oss):
    # Given
    payload = os.urandom(50 * KB)
    # When
    demo.pipe("notebooks/run1/out.bin", payload)
    with demo.open("notebooks/run1/log.txt", "w") as f:
        f.write("epoch 1\n")
    # Then
    assert demo.cat("notebooks/run1/out.bin") == payload
    assert demo.read_text("notebooks/run1/log.txt") == "epoch 1\n"
    assert oss.get_object("demo", "notebooks/run1/out.bin") == payload
    assert demo.ls("notebooks/run1", detail=False) == [
        "notebooks/run1/log.txt",
        "notebooks/run1/out.bin",
    ]


def test_mount_with_prefix_is_rooted_there(registry, oss):
    # Given
    registry.add("iris", "oss://demo/data", oss_options(oss))
    fs = registry.filesystem("iris")
    # When
    fs.pipe("new.csv", b"a,b\n")
    # Then
    assert sorted(fs.ls("", detail=False)) == ["iris.csv", "new.csv"]
    assert oss.get_object("demo", "data/new.csv") == b"a,b\n"


def test_multiblock_open_wb_write_works(demo, oss):
    # Given: three blocks and a tail, with a small block size (parts must be >= 100 KB)
    chunks = [os.urandom(130 * KB) for _ in range(3)] + [b"tail"]
    # When
    with demo.open("model/weights.bin", "wb", block_size=128 * KB) as f:
        for c in chunks:
            f.write(c)
        assert not oss.exists("demo", "model/weights.bin")  # nothing visible before close
    # Then
    assert demo.cat("model/weights.bin") == b"".join(chunks)
    assert demo.info("model/weights.bin")["size"] == sum(map(len, chunks))
    assert oss.uploads("demo") == []


def test_append_mode_keeps_existing_bytes(demo):
    # Given
    demo.pipe("log.txt", b"one\n")
    # When
    with demo.open("log.txt", "ab") as f:
        f.write(b"two\n")
    # Then
    assert demo.cat("log.txt") == b"one\ntwo\n"


def test_exclusive_create(demo):
    # Given
    demo.pipe("exists.txt", b"x")
    # When / Then
    with pytest.raises(FileExistsError), demo.open("exists.txt", "xb") as f:
        f.write(b"y")
    with demo.open("new.txt", "xb") as f:
        f.write(b"y")
    assert demo.cat("new.txt") == b"y" and demo.cat("exists.txt") == b"x"


def test_reads_with_ranges_are_exact(demo):
    # Given
    data = bytes(range(256)) * 1000
    demo.pipe("r.bin", data)
    # When / Then
    assert demo.cat_file("r.bin", 10, 20) == data[10:20]
    assert demo.cat_file("r.bin", -5) == data[-5:]
    assert demo.cat_file("r.bin", 100, None) == data[100:]
    with demo.open("r.bin", "rb", block_size=1000) as f:
        f.seek(5000)
        assert f.read(3000) == data[5000:8000]
        f.seek(len(data) - 10)
        assert f.read(100) == data[-10:]


def test_large_write_through_put_and_get_file(demo, tmp_path):
    # Given
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * 2**20 + 7))
    # When
    demo.put_file(str(src), "up/src.bin", block_size=1 * 2**20)
    demo.get_file("up/src.bin", str(tmp_path / "back.bin"))
    # Then
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    assert demo.info("up/src.bin")["ETag"].endswith("-4")


# ----------------------------------------------------------------------------- failures


def test_store_failing_mid_write_raises_and_saves_nothing(demo, oss):
    # Given: the second part upload keeps failing (more 500s than the retries)
    demo.pipe("model.bin", b"previous version")
    oss.faults.fail(count=10, method="PUT", path=r"partNumber=2")
    # When
    with (
        pytest.raises(StorageUnavailableError) as exc,
        demo.open("model.bin", "wb", block_size=128 * KB) as f,
    ):
        for _ in range(4):
            f.write(os.urandom(130 * KB))
    # Then: a clear error, the old object untouched, the upload aborted
    assert "500" in str(exc.value) and http_status_for(exc.value) == 502
    assert oss.get_object("demo", "model.bin") == b"previous version"
    assert oss.uploads("demo") == []


def test_store_failing_on_complete_saves_nothing(demo, oss):
    # Given
    oss.faults.fail(count=1, method="POST", path=r"uploadId=")
    # When
    with (
        pytest.raises(StorageUnavailableError),
        demo.open("x.bin", "wb", block_size=128 * KB) as f,
    ):
        f.write(os.urandom(300 * KB))
    # Then
    assert not oss.exists("demo", "x.bin") and oss.uploads("demo") == []


def test_single_put_failing_saves_nothing(demo, oss):
    # Given
    oss.faults.fail(count=10, method="PUT", path=r"^/demo/small\.txt")
    # When
    with pytest.raises(StorageUnavailableError):
        demo.pipe("small.txt", b"data")
    # Then
    assert not oss.exists("demo", "small.txt")


def test_exception_inside_with_discards_the_write(demo, oss):
    # When
    with pytest.raises(RuntimeError), demo.open("half.bin", "wb", block_size=128 * KB) as f:
        f.write(os.urandom(300 * KB))
        raise RuntimeError("user code failed")
    # Then
    assert not oss.exists("demo", "half.bin") and oss.uploads("demo") == []


def test_transient_errors_are_retried(demo, oss):
    # Given: one 500 and one dropped connection
    oss.faults.fail(count=1, method="PUT")
    demo.pipe("retry.txt", b"ok")
    oss.faults.drop(count=1, method="GET")
    # When / Then
    assert demo.cat("retry.txt") == b"ok"
    oss.faults.drop(count=1, method="GET", partial=True)
    demo.pipe("big.bin", os.urandom(400 * KB))
    assert len(demo.cat("big.bin")) == 400 * KB


def test_wrong_credentials_raise_a_credentials_error(registry, oss):
    # Given
    registry.add("demo", "oss://demo", oss_options(oss, secret="wrong-secret"))
    fs = registry.filesystem("demo")
    # When / Then: every kind of call says so (ossfs alone returns [] or a bare EIO)
    for call in (lambda: fs.ls(""), lambda: fs.cat("README.txt"), lambda: fs.pipe("x", b"x")):
        with pytest.raises(StorageCredentialsError) as exc:
            call()
        assert exc.value.code == "SignatureDoesNotMatch"
        assert "secret does not match" in str(exc.value)
        assert "wrong-secret" not in str(exc.value)
    with pytest.raises(StorageCredentialsError):
        fs.exists("README.txt")  # not hidden as "missing"
    assert isinstance(exc.value, PermissionError) and exc.value.http_status == 400


def test_unknown_key_and_anonymous_private_bucket(registry, oss):
    # Given
    registry.add("a", "oss://demo", oss_options(oss, key="NOBODY"))
    registry.add("anon", "oss://demo", {"endpoint": oss.endpoint, "anonymous": True})
    # When / Then
    with pytest.raises(StorageCredentialsError, match="AccessKey ID is not known"):
        registry.filesystem("a").ls("")
    with pytest.raises(StorageCredentialsError, match="private and no credentials"):
        registry.filesystem("anon").ls("")


def test_anonymous_mount_of_a_public_bucket(registry, oss):
    # Given
    oss.create_bucket("open-data", public=True)
    oss.put_object("open-data", "x/readme.md", b"hi")
    registry.add("open", "oss://open-data", {"endpoint": oss.endpoint})
    fs = registry.filesystem("open")
    # When / Then
    assert fs.ls("", detail=False) == ["x"]
    assert fs.cat("x/readme.md") == b"hi"
    with pytest.raises(StorageCredentialsError):
        fs.pipe("x/new", b"no")


def test_credentials_from_environment_and_sts(registry, oss, monkeypatch):
    # Given
    oss.add_credentials("STSKEY", "sts-secret", "sts-token")
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", AK)
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", SK)
    registry.add("env", "oss://demo", {"endpoint": oss.endpoint})
    registry.add(
        "sts",
        "oss://demo",
        {"endpoint": oss.endpoint, "key": "STSKEY", "secret": "sts-secret", "token": "sts-token"},
    )
    # When / Then
    assert registry.filesystem("env").cat("README.txt").startswith(b"This bucket")
    assert registry.filesystem("sts").cat("README.txt").startswith(b"This bucket")


def test_unreachable_endpoint_fails_within_bounded_time(registry):
    # Given: nothing listens on the port
    registry.add("gone", "oss://demo", {"endpoint": f"http://127.0.0.1:{free_port()}"})
    # When
    t0 = time.monotonic()
    with pytest.raises(StorageUnavailableError) as exc:
        registry.filesystem("gone").ls("")
    # Then
    assert time.monotonic() - t0 < 5
    assert "Could not reach the OSS endpoint" in str(exc.value) and exc.value.http_status == 502


def test_silent_endpoint_times_out_within_bounded_time(registry):
    # Given: a server that accepts connections and never answers
    with silent_server() as endpoint:
        registry.add(
            "slow",
            "oss://demo",
            {"endpoint": endpoint, "read_timeout": 0.5, "retries": 1, "key": AK, "secret": SK},
        )
        # When
        t0 = time.monotonic()
        with pytest.raises(StorageUnavailableError, match="timed out"):
            registry.filesystem("slow").ls("")
        # Then
        assert time.monotonic() - t0 < 5


# ----------------------------------------------------------------------------- ossfs fixes


def test_ls_names_have_no_trailing_slash_and_consistent_times(demo):
    # When
    entries = demo.ls("", detail=True)
    # Then
    by_name = {e["name"]: e for e in entries}
    assert set(by_name) == {"README.txt", "data"}
    assert by_name["data"]["type"] == "directory"
    modified = by_name["README.txt"]["LastModified"]
    assert isinstance(modified, datetime) and modified.tzinfo == timezone.utc
    assert demo.modified("README.txt") == modified
    assert isinstance(demo.info("data/iris.csv")["LastModified"], datetime)


def test_listing_cache_honours_refresh_and_expires(oss):
    # Given
    fs = oss_filesystem(oss, listings_expiry_time=0.5)
    assert "demo/late.txt" not in fs.ls("demo", detail=False)
    oss.put_object("demo", "late.txt", b"written by someone else")
    # When / Then
    assert "demo/late.txt" not in fs.ls("demo", detail=False)  # cached
    assert "demo/late.txt" in fs.ls("demo", detail=False, refresh=True)
    oss.put_object("demo", "later.txt", b"x")
    time.sleep(0.6)
    assert "demo/later.txt" in fs.ls("demo", detail=False)  # expired


def test_info_uses_the_cached_listing_without_copying_it(oss):
    # Given: 2,000 entries listed once
    for i in range(2000):
        oss.put_object("demo", f"many/{i:05d}", b"x")
    fs = oss_filesystem(oss, listings_expiry_time=60)
    entries = fs.ls("demo/many", detail=True)
    oss.clear_requests()
    # When: each entry's info, with the memory each call allocates traced (a copy of the
    # 2,000-entry listing per call, as ossfs makes, allocates about 1 MB; wall time on a
    # shared machine says nothing, bench/storage.py measures the speed)
    tracemalloc.start()
    try:
        sizes = []
        peak = 0
        for e in entries:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            sizes.append(fs.info(e["name"])["size"])
            peak = max(peak, tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    # Then: answered from the cached listing, no call allocating more than a few entries' worth
    assert sizes == [1] * 2000
    assert oss.requests == []
    assert peak < 64 * KB, f"one info() call allocated {peak} bytes"


def test_mkdir_creates_buckets_and_directory_markers(oss):
    # Given
    fs = oss_filesystem(oss)
    # When
    fs.mkdir("new-bucket")
    fs.mkdir("new-bucket/empty/dir")
    # Then
    assert fs.ls("", detail=False) == ["demo", "new-bucket"]
    assert fs.ls("new-bucket", detail=False) == ["new-bucket/empty"]
    assert fs.isdir("new-bucket/empty/dir") and fs.ls("new-bucket/empty/dir") == []
    assert oss.list_keys("new-bucket") == ["empty/dir/"]
    with pytest.raises(FileExistsError):
        fs.mkdir("new-bucket/empty/dir")
    fs.makedirs("new-bucket/empty/dir", exist_ok=True)
    with pytest.raises(FileExistsError):
        fs.mkdir("demo")


def test_rmdir_and_recursive_rm(demo, oss):
    # Given
    demo.mkdir("tmp/empty")
    demo.pipe("tmp/full/a.txt", b"a")
    demo.pipe("tmp/full/deep/b.txt", b"b")
    # When / Then
    demo.rmdir("tmp/empty")
    assert not demo.exists("tmp/empty")
    with pytest.raises(OSError, match="not empty"):
        demo.rmdir("tmp/full")
    demo.rm("tmp", recursive=True)
    assert not demo.exists("tmp") and oss.list_keys("demo", "tmp") == []
    assert demo.exists("README.txt")


def test_find_walk_and_glob(demo):
    # Given
    demo.pipe("a/1.txt", b"1")
    demo.pipe("a/b/2.txt", b"2")
    demo.mkdir("a/c")
    # When / Then
    assert demo.find("a") == ["a/1.txt", "a/b/2.txt"]
    assert demo.find("a", withdirs=True) == ["a/1.txt", "a/b", "a/b/2.txt", "a/c"]
    assert sorted(demo.glob("a/**/*.txt")) == ["a/1.txt", "a/b/2.txt"]
    assert [d for d, _, _ in demo.walk("a")] == ["a", "a/b", "a/c"]
    demo.copy("a", "copy", recursive=True)
    assert demo.find("copy") == ["copy/1.txt", "copy/b/2.txt"]
    demo.mv("copy/1.txt", "moved.txt")
    assert demo.cat("moved.txt") == b"1" and not demo.exists("copy/1.txt")


def test_large_copy_goes_part_by_part(oss):
    # Given: a copy limit lowered to exercise the path CopyObject cannot take (> 1 GB)
    fs = oss_filesystem(oss)
    fs.copy_limit = 100 * KB
    data = os.urandom(300 * KB)
    fs.pipe("demo/src.bin", data)
    # When
    fs.cp_file("demo/src.bin", "demo/dst.bin")
    # Then
    assert fs.cat("demo/dst.bin") == data


def test_fixed_class_is_an_fsspec_oss_filesystem_that_keeps_ossfs_fields(oss):
    import fsspec

    fs = oss_filesystem(oss)
    fs.pipe("demo/f.bin", b"12345")
    assert isinstance(fs, fsspec.AbstractFileSystem) and "oss" in WorkbenchOSSFileSystem.protocol
    assert AK not in repr(fs) and SK not in repr(fs)
    # Code written for ossfs keeps working: its Size/Key fields beside fsspec's size/name
    info = fs.info("demo/f.bin")
    assert info["Size"] == info["size"] == 5 and info["Key"] == info["name"] == "demo/f.bin"
    assert {e["Size"] for e in fs.ls("demo") if e["name"] == "demo/f.bin"} == {5}


STYLES = ("demo", "/demo", "oss://demo")


@pytest.mark.parametrize("root", STYLES)
def test_every_path_style_names_the_same_objects(oss, root):
    # Given
    fs = oss_filesystem(oss)
    for key in ("s/a.txt", "s/b.txt", "s/c.csv", "s/sub/d.txt"):
        fs.pipe(f"demo/{key}", key.encode())
    # When / Then: listings name entries canonically (bucket/key) whatever style was asked
    assert fs.glob(f"{root}/s/*.txt") == ["demo/s/a.txt", "demo/s/b.txt"]
    assert fs.glob(f"{root}/s/**/*.txt") == ["demo/s/a.txt", "demo/s/b.txt", "demo/s/sub/d.txt"]
    assert fs.ls(f"{root}/s", detail=False) == [
        "demo/s/a.txt",
        "demo/s/b.txt",
        "demo/s/c.csv",
        "demo/s/sub",
    ]
    assert fs.find(f"{root}/s/sub") == ["demo/s/sub/d.txt"]
    assert fs.cat(f"{root}/s/a.txt") == b"s/a.txt"
    assert fs.isdir(f"{root}/s") and fs.isfile(f"{root}/s/c.csv")


@pytest.mark.parametrize("root", STYLES)
def test_recursive_copy_lands_at_the_right_keys(oss, root):
    # Given (the case: stock wrote dst/a.txt, the old fixed class dstb/probe/src/...)
    fs = oss_filesystem(oss)
    fs.pipe("demo/probe/src/sub/a.txt", b"a")
    fs.pipe("demo/probe/src/sub/deep/b.txt", b"b")
    # When
    fs.cp(f"{root}/probe/src/sub", f"{root}/probe/dst", recursive=True)
    # Then
    files = [k for k in oss.list_keys("demo", "probe/dst") if not k.endswith("/")]
    assert files == ["probe/dst/a.txt", "probe/dst/deep/b.txt"]
    assert oss.get_object("demo", "probe/dst/deep/b.txt") == b"b"


@pytest.mark.parametrize("root", STYLES)
def test_recursive_get_and_put_round_trip(oss, tmp_path, root):
    # Given
    fs = oss_filesystem(oss)
    fs.pipe("demo/tree/x.txt", b"x")
    fs.pipe("demo/tree/in/y.txt", b"y")
    # When
    fs.get(f"{root}/tree", str(tmp_path / "got"), recursive=True)
    fs.put(str(tmp_path / "got"), f"{root}/back", recursive=True)
    # Then
    got = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert got == ["got/in/y.txt", "got/x.txt"]
    assert fs.cat("demo/back/in/y.txt") == b"y" and fs.cat("demo/back/x.txt") == b"x"


def test_get_file_creates_the_local_folder_and_keeps_the_real_error(oss, tmp_path):
    # Given
    fs = oss_filesystem(oss)
    fs.pipe("demo/one.txt", b"1")
    # When
    fs.get_file("oss://demo/one.txt", str(tmp_path / "new" / "dir" / "one.txt"))
    # Then
    assert (tmp_path / "new" / "dir" / "one.txt").read_bytes() == b"1"
    # And a local failure surfaces as itself (here: the destination is a folder)
    (tmp_path / "taken").mkdir()
    with pytest.raises(IsADirectoryError):
        fs.get_file("demo/one.txt", str(tmp_path / "taken"))


def test_open_files_with_a_glob_url(oss, monkeypatch):
    import fsspec

    from jupyter_workbench.storage import register_fsspec_oss

    # Given: credentials the way a kernel has them
    monkeypatch.setenv("OSS_ENDPOINT", oss.endpoint)
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", AK)
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", SK)
    register_fsspec_oss()
    fs = oss_filesystem(oss)
    fs.pipe("demo/g/1.txt", b"one")
    fs.pipe("demo/g/2.txt", b"two")
    # When
    files = fsspec.open_files("oss://demo/g/*.txt")
    # Then
    assert [f.path for f in files] == ["demo/g/1.txt", "demo/g/2.txt"]
    assert [f.open().read() for f in files] == [b"one", b"two"]


def test_access_key_id_without_secret_is_a_clear_error(monkeypatch):
    from jupyter_workbench.storage.errors import StorageCredentialsError

    monkeypatch.setenv("OSS_ACCESS_KEY_ID", "SOMEKEY")
    monkeypatch.delenv("OSS_ACCESS_KEY_SECRET", raising=False)
    with pytest.raises(StorageCredentialsError, match="OSS_ACCESS_KEY_SECRET is not"):
        WorkbenchOSSFileSystem(endpoint="http://127.0.0.1:9")
    with pytest.raises(StorageCredentialsError, match="without its secret"):
        WorkbenchOSSFileSystem(endpoint="http://127.0.0.1:9", key="K")


# ----------------------------------------------------------------------------- mount wrapper


def test_read_only_mount_refuses_writes(registry, oss):
    # Given
    registry.add("ro", "oss://demo", oss_options(oss), read_only=True)
    fs = registry.filesystem("ro")
    # When / Then
    assert fs.cat("README.txt")
    for call in (
        lambda: fs.pipe("x", b"x"),
        lambda: fs.open("x", "wb"),
        lambda: fs.rm("README.txt"),
        lambda: fs.mkdir("d"),
        lambda: fs.mv("README.txt", "y"),
        lambda: fs.touch("z"),
    ):
        with pytest.raises(ReadOnlyMountError, match="read-only"):
            call()
    assert oss.list_keys("demo") == ["README.txt", "data/iris.csv"]


def test_paths_cannot_escape_the_mount(registry, oss):
    # Given
    registry.add("sub", "oss://demo/data", oss_options(oss))
    fs = registry.filesystem("sub")
    # When / Then
    for path in ("../README.txt", "a/../../README.txt", "/../x"):
        with pytest.raises(PathNotAllowedError):
            fs.cat(path)
    assert fs.cat("/iris.csv") == fs.cat("iris.csv")


def test_exception_inside_text_mode_with_discards_the_write(demo, oss):
    # Given
    demo.pipe("notes.txt", b"old")
    # When
    with pytest.raises(ValueError), demo.open("notes.txt", "w") as f:
        f.write("half of the new text")
        raise ValueError("interrupted")
    # Then
    assert oss.get_object("demo", "notes.txt") == b"old"
    with demo.open("notes.txt", "w", encoding="utf-8") as f:
        f.write("new ✓")
    assert demo.read_text("notes.txt", encoding="utf-8") == "new ✓"


def test_plain_oss_urls_can_use_the_fixed_filesystem(oss, monkeypatch):
    # Given
    import fsspec

    from jupyter_workbench.storage import register_fsspec_oss

    monkeypatch.setenv("OSS_ACCESS_KEY_ID", AK)
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", SK)
    monkeypatch.setenv("OSS_ENDPOINT", oss.endpoint)
    original = fsspec.get_filesystem_class("oss")
    try:
        # When
        register_fsspec_oss()
        with fsspec.open("oss://demo/exports/model.bin", "wb", block_size=128 * KB) as f:
            for _ in range(3):
                f.write(b"w" * 130 * KB)
        fs, path = fsspec.core.url_to_fs("oss://demo/exports")
        # Then
        assert isinstance(fs, WorkbenchOSSFileSystem) and path.strip("/") == "demo/exports"
        assert oss.get_object("demo", "exports/model.bin") == b"w" * 390 * KB
    finally:
        fsspec.register_implementation("oss", original, clobber=True)


def test_transactions_commit_together_or_not_at_all(oss):
    # Given
    fs = oss_filesystem(oss)
    # When: a transaction that completes
    with fs.transaction:
        fs.pipe_file("demo/tx/small.txt", b"s")  # pipe is immediate; files wait for commit
        with fs.open("demo/tx/a.bin", "wb") as f:
            f.write(b"a")
        with fs.open("demo/tx/b.bin", "wb", block_size=128 * KB) as f:
            f.write(os.urandom(300 * KB))
        assert not oss.exists("demo", "tx/a.bin") and not oss.exists("demo", "tx/b.bin")
    # Then
    assert oss.exists("demo", "tx/a.bin") and oss.exists("demo", "tx/b.bin")
    # When: a transaction that fails
    with pytest.raises(RuntimeError), fs.transaction:
        with fs.open("demo/tx/c.bin", "wb") as f:
            f.write(b"c")
        raise RuntimeError("abandon")
    # Then
    assert not oss.exists("demo", "tx/c.bin") and oss.uploads("demo") == []
