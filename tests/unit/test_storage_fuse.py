"""FUSE mounts (storage/fuse.py): plain file APIs on a mount, against the OSS emulator through
the fixed ossfs and against a local directory.

Where FUSE cannot work (no /dev/fuse, no fusermount3, no mfusepy) the tests that mount skip
with the reason ``fuse_available()`` gives. The OSS emulator runs in a separate process here:
a kernel call into the mount that holds the GIL (numpy closes a dup'd descriptor that way)
would otherwise wait for an emulator that needs the same GIL.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem

from jupyter_workbench.storage import MountRegistry
from jupyter_workbench.storage import fuse as wfuse
from jupyter_workbench.storage.fuse import (
    FuseMountError,
    FuseUnavailableError,
    cleanup_stale_mounts,
    fuse_available,
    is_stale,
    mount_fuse,
)
from jupyter_workbench.testing import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET

AVAILABLE, REASON = fuse_available()
needs_fuse = pytest.mark.skipif(not AVAILABLE, reason=f"FUSE unavailable: {REASON}")

MB = 2**20

_EMULATOR = textwrap.dedent(
    """
    import base64, json, sys
    from jupyter_workbench.testing import OSSEmulator
    with OSSEmulator() as oss:
        oss.seed_demo()
        print(json.dumps({"endpoint": oss.endpoint}), flush=True)
        for line in sys.stdin:
            cmd = json.loads(line)
            op = cmd.pop("op")
            try:
                out = None
                if op == "fail":
                    oss.faults.fail(**cmd)
                elif op == "delay":
                    oss.faults.delay(**cmd)
                elif op == "clear":
                    oss.faults.clear()
                    oss.clear_requests()
                elif op == "get":
                    out = base64.b64encode(oss.get_object("demo", cmd["key"])).decode()
                elif op == "exists":
                    out = oss.exists("demo", cmd["key"])
                elif op == "keys":
                    out = oss.list_keys("demo", cmd.get("prefix", ""))
                elif op == "put":
                    oss.put_object("demo", cmd["key"], base64.b64decode(cmd["data"]))
                elif op == "requests":
                    out = [[r.method, r.key, sorted(r.query)] for r in oss.requests]
                elif op == "uploads":
                    out = len(oss.uploads("demo"))
                elif op == "issue_sts":
                    out = oss.issue_sts(cmd.get("lifetime", 3600))
                elif op == "expire":
                    oss.expire(cmd["ak"])
                print(json.dumps({"ok": True, "out": out}), flush=True)
            except Exception as e:
                print(json.dumps({"ok": False, "error": repr(e)}), flush=True)
    """
)


class RemoteEmulator:
    """The OSS emulator in a child process, driven through a pipe."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _EMULATOR],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.endpoint = json.loads(self.proc.stdout.readline())["endpoint"]
        self._lock = threading.Lock()

    def _call(self, op, **kw):
        with self._lock:
            self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
            self.proc.stdin.flush()
            reply = json.loads(self.proc.stdout.readline())
        if not reply["ok"]:
            raise AssertionError(reply["error"])
        return reply["out"]

    def get(self, key: str) -> bytes:
        return base64.b64decode(self._call("get", key=key))

    def exists(self, key: str) -> bool:
        return self._call("exists", key=key)

    def keys(self, prefix: str = "") -> list:
        return self._call("keys", prefix=prefix)

    def put(self, key: str, data: bytes) -> None:
        self._call("put", key=key, data=base64.b64encode(data).decode())

    def fail(self, **kw):
        self._call("fail", **kw)

    def delay(self, **kw):
        self._call("delay", **kw)

    def clear(self):
        self._call("clear")

    def requests(self) -> list:
        return self._call("requests")

    def uploads(self) -> int:
        return self._call("uploads")

    def issue_sts(self, lifetime: float = 3600) -> dict:
        return self._call("issue_sts", lifetime=lifetime)

    def expire(self, ak: str) -> None:
        self._call("expire", ak=ak)

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _force_unmount(path) -> None:
    if wfuse._is_mounted(path) or is_stale(path):
        wfuse._run_unmount(str(path), lazy=True)


@pytest.fixture(scope="module")
def emulator():
    emu = RemoteEmulator()
    yield emu
    emu.close()


@pytest.fixture(scope="module")
def oss_registry(emulator, tmp_path_factory):
    reg = MountRegistry(tmp_path_factory.mktemp("fuse-state"))
    options = {
        "endpoint": emulator.endpoint,
        "key": DEMO_ACCESS_KEY_ID,
        "secret": DEMO_ACCESS_KEY_SECRET,
        "connect_timeout": 2,
        "read_timeout": 20,
        "retries": 1,
    }
    reg.add("demo", "oss://demo", options)
    reg.add("demo-ro", "oss://demo", options, read_only=True)
    return reg


class Backend:
    def __init__(self, kind, mountpoint, store_fs, mount, emulator=None):
        self.kind = kind
        self.mp = str(mountpoint)
        self.store = store_fs  # the same storage, reached directly (not through FUSE)
        self.mount = mount
        self.emulator = emulator

    def path(self, *parts) -> str:
        return os.path.join(self.mp, *parts)

    def stored(self, rel: str) -> bytes:
        self.store.invalidate_cache()
        return self.store.cat_file(rel)

    def exists(self, rel: str) -> bool:
        self.store.invalidate_cache()
        return self.store.exists(rel)


@pytest.fixture(scope="module", params=["oss", "local"])
def backend(request, tmp_path_factory):
    if not AVAILABLE:
        pytest.skip(f"FUSE unavailable: {REASON}")
    base = tmp_path_factory.mktemp(f"fuse-{request.param}")
    mp = base / "mnt" / request.param
    if request.param == "oss":
        reg = request.getfixturevalue("oss_registry")
        emu = request.getfixturevalue("emulator")
        m = mount_fuse("demo", mp, registry=reg, cache_dir=base / "cache")
        store = reg.filesystem("demo")
    else:
        root = base / "store"
        root.mkdir()
        emu = None
        m = mount_fuse(LocalFileSystem(), mp, root=str(root), cache_dir=base / "cache")
        store = DirFileSystem(str(root), LocalFileSystem())
    try:
        yield Backend(request.param, mp, store, m, emu)
    finally:
        m.unmount(timeout=30)
        _force_unmount(mp)


@pytest.fixture
def work(backend, request):
    """A fresh directory on the mount for one test: (backend, its path, its relative path)."""
    rel = f"t-{request.node.name}".replace("[", "-").replace("]", "")
    os.mkdir(backend.path(rel))
    return backend, backend.path(rel), rel


# ----------------------------------------------------------------------------- availability


def test_fuse_available_gives_a_reason():
    ok, reason = fuse_available()
    assert isinstance(ok, bool)
    assert reason
    print(f"fuse_available: {ok} ({reason})")


def test_fuse_can_be_disabled_and_mount_then_says_why(monkeypatch, tmp_path):
    monkeypatch.setenv(wfuse.ENV_FUSE, "0")
    ok, reason = fuse_available()
    assert not ok and wfuse.ENV_FUSE in reason
    with pytest.raises(FuseUnavailableError, match="disabled"):
        mount_fuse(LocalFileSystem(), tmp_path / "mnt", root=str(tmp_path))


def test_missing_mfusepy_is_reported(monkeypatch):
    if not AVAILABLE:
        pytest.skip(f"FUSE unavailable: {REASON}")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mfusepy" else real(name, *a)
    )
    ok, reason = fuse_available()
    assert not ok and "pip install mfusepy" in reason


def test_cleanup_without_mounts_is_a_no_op(tmp_path):
    (tmp_path / "plain").mkdir()
    assert cleanup_stale_mounts(tmp_path) == []
    assert cleanup_stale_mounts(tmp_path / "missing") == []


# ----------------------------------------------------------------------------- file semantics


def test_write_read_listdir_and_store(work):
    b, d, rel = work
    with open(os.path.join(d, "hello.txt"), "w") as f:
        f.write("hello\n")
    assert b.stored(f"{rel}/hello.txt") == b"hello\n"  # in the store once closed
    with open(os.path.join(d, "hello.txt")) as f:
        assert f.read() == "hello\n"
    os.mkdir(os.path.join(d, "sub"))
    assert sorted(os.listdir(d)) == ["hello.txt", "sub"]
    st = os.stat(os.path.join(d, "hello.txt"))
    assert st.st_size == 6 and not os.path.isdir(os.path.join(d, "hello.txt"))
    assert os.path.isdir(os.path.join(d, "sub"))
    with pytest.raises(FileNotFoundError):
        os.stat(os.path.join(d, "missing.txt"))
    with pytest.raises(FileNotFoundError), open(os.path.join(d, "missing.txt")):
        pass


def test_empty_file_is_created(work):
    b, d, rel = work
    open(os.path.join(d, "empty"), "w").close()
    assert b.exists(f"{rel}/empty") and b.stored(f"{rel}/empty") == b""
    assert os.path.getsize(os.path.join(d, "empty")) == 0


def test_append(work):
    b, d, rel = work
    p = os.path.join(d, "log.txt")
    with open(p, "a") as f:
        f.write("one\n")
    with open(p, "a") as f:
        f.write("two\n")
    with open(p, "ab") as f:
        f.write(b"three\n")
    assert b.stored(f"{rel}/log.txt") == b"one\ntwo\nthree\n"  # no NULs, nothing lost
    with open(p) as f:
        assert f.read() == "one\ntwo\nthree\n"


def test_overwrite_shorter(work):
    b, d, rel = work
    p = os.path.join(d, "f.txt")
    with open(p, "w") as f:
        f.write("a long first version\n")
    with open(p, "w") as f:
        f.write("short\n")
    assert b.stored(f"{rel}/f.txt") == b"short\n"
    assert os.path.getsize(p) == 6


def test_r_plus_seek_and_write(work):
    b, d, rel = work
    p = os.path.join(d, "data.bin")
    with open(p, "wb") as f:
        f.write(b"0123456789")
    with open(p, "r+b") as f:
        f.seek(3)
        f.write(b"abc")
        f.seek(0)
        assert f.read() == b"012abc6789"  # reads see the handle's own writes
        f.seek(12)
        f.write(b"Z")  # past the end: a hole of zeros, as on a local disk
    assert b.stored(f"{rel}/data.bin") == b"012abc6789\x00\x00Z"
    fd = os.open(p, os.O_RDWR)
    try:
        os.pwrite(fd, b"XY", 1)
        assert os.pread(fd, 4, 0) == b"0XYa"
    finally:
        os.close(fd)
    assert b.stored(f"{rel}/data.bin")[:4] == b"0XYa"


def test_truncate(work):
    b, d, rel = work
    p = os.path.join(d, "t.bin")
    with open(p, "wb") as f:
        f.write(b"abcdefgh")
    os.truncate(p, 3)
    assert b.stored(f"{rel}/t.bin") == b"abc"
    with open(p, "r+b") as f:
        f.truncate(5)
    assert b.stored(f"{rel}/t.bin") == b"abc\x00\x00"
    os.truncate(p, 0)
    assert b.stored(f"{rel}/t.bin") == b""


def test_rename_and_replace_files(work):
    b, d, rel = work
    src, dst = os.path.join(d, "a.txt"), os.path.join(d, "b.txt")
    with open(src, "w") as f:
        f.write("A")
    os.rename(src, dst)
    with open(dst) as f:
        assert not os.path.exists(src) and f.read() == "A"
    assert not b.exists(f"{rel}/a.txt") and b.stored(f"{rel}/b.txt") == b"A"
    # The atomic-save pattern: write a temporary file, then os.replace it over the target.
    tmp = os.path.join(d, ".b.txt.tmp")
    with open(tmp, "w") as f:
        f.write("B2")
    os.replace(tmp, dst)
    assert sorted(os.listdir(d)) == ["b.txt"]
    assert b.stored(f"{rel}/b.txt") == b"B2"
    os.mkdir(os.path.join(d, "dir"))
    with pytest.raises(IsADirectoryError):
        os.rename(dst, os.path.join(d, "dir"))


def test_rename_directory(work):
    b, d, rel = work
    os.makedirs(os.path.join(d, "ckpt_tmp", "inner"))
    with open(os.path.join(d, "ckpt_tmp", "w.bin"), "wb") as f:
        f.write(b"weights")
    with open(os.path.join(d, "ckpt_tmp", "inner", "meta.json"), "w") as f:
        f.write("{}")
    os.rename(os.path.join(d, "ckpt_tmp"), os.path.join(d, "ckpt"))
    assert os.listdir(d) == ["ckpt"]
    assert sorted(os.listdir(os.path.join(d, "ckpt"))) == ["inner", "w.bin"]
    assert b.stored(f"{rel}/ckpt/inner/meta.json") == b"{}"
    assert not b.exists(f"{rel}/ckpt_tmp/w.bin")


def test_unlink_mkdir_rmdir(work):
    b, d, rel = work
    sub = os.path.join(d, "sub")
    os.mkdir(sub)
    assert b.exists(f"{rel}/sub")
    with pytest.raises(FileExistsError):
        os.mkdir(sub)
    with open(os.path.join(sub, "x"), "w") as f:
        f.write("x")
    with pytest.raises(OSError) as e:
        os.rmdir(sub)
    assert e.value.errno == errno.ENOTEMPTY
    os.unlink(os.path.join(sub, "x"))
    assert not b.exists(f"{rel}/sub/x")
    assert os.listdir(sub) == []
    os.rmdir(sub)
    assert not os.path.exists(sub)
    assert os.listdir(d) == []


def test_written_file_is_visible_while_open(work):
    b, d, rel = work
    p = os.path.join(d, "open.txt")
    with open(p, "w") as f:
        f.write("partial")
        f.flush()
        assert os.path.getsize(p) == 7
        assert "open.txt" in os.listdir(d)
        with open(p) as g:  # a second reader sees what was written so far
            assert g.read() == "partial"


def test_numpy_save_and_load(work):
    np = pytest.importorskip("numpy")
    b, d, rel = work
    arr = np.arange(100_000, dtype="float64").reshape(1000, 100)
    np.save(os.path.join(d, "arr.npy"), arr)
    assert (np.load(os.path.join(d, "arr.npy")) == arr).all()
    assert b.stored(f"{rel}/arr.npy")[:6] == b"\x93NUMPY"
    np.savez(os.path.join(d, "many.npz"), a=arr, b=arr[:3])
    with np.load(os.path.join(d, "many.npz")) as z:
        assert (z["b"] == arr[:3]).all()


def test_pandas_read_csv(work):
    pd = pytest.importorskip("pandas")
    b, d, rel = work
    with open(os.path.join(d, "iris.csv"), "w") as f:
        f.write("a,b\n1,2\n3,4\n")
    df = pd.read_csv(os.path.join(d, "iris.csv"))
    assert df["b"].sum() == 6
    df.to_csv(os.path.join(d, "out.csv"), index=False)
    assert b.stored(f"{rel}/out.csv") == b"a,b\n1,2\n3,4\n"


def test_files_written_to_the_store_are_seen(work):
    b, d, rel = work
    os.listdir(d)
    b.store.pipe_file(f"{rel}/from-elsewhere.txt", b"hi")
    deadline = time.monotonic() + 5
    while "from-elsewhere.txt" not in os.listdir(d) and time.monotonic() < deadline:
        time.sleep(0.2)
    with open(os.path.join(d, "from-elsewhere.txt"), "rb") as f:
        assert f.read() == b"hi"


def test_large_file_round_trip_and_ranged_read(work):
    b, d, rel = work
    data = os.urandom(20 * MB + 123)
    p = os.path.join(d, "big.bin")
    with open(p, "wb") as f:
        for i in range(0, len(data), MB):
            f.write(data[i : i + MB])
    assert b.stored(f"{rel}/big.bin") == data
    with open(p, "rb") as f:
        f.seek(15 * MB)
        assert f.read(10) == data[15 * MB : 15 * MB + 10]
        f.seek(0)
        assert f.read() == data
    if b.emulator is not None:
        assert b.emulator.uploads() == 0  # no multipart upload left behind


# ----------------------------------------------------------------------------- OSS specifics


def test_listing_makes_no_head_per_entry(backend, emulator):
    if backend.kind != "oss":
        pytest.skip("OSS only")
    for i in range(30):
        emulator.put(f"t-listing/f{i:02d}.txt", b"x" * i)
    emulator.clear()
    d = backend.path("t-listing")
    names = sorted(os.listdir(d))
    sizes = [os.stat(os.path.join(d, n)).st_size for n in names]
    assert len(names) == 30 and sizes == list(range(30))
    methods = [m for m, _key, _q in emulator.requests()]
    assert methods.count("HEAD") <= 1, methods  # the directory itself at most
    assert methods.count("GET") <= 3, methods


def test_directory_rename_refused_when_large(tmp_path, oss_registry, emulator):
    if not AVAILABLE:
        pytest.skip(f"FUSE unavailable: {REASON}")
    mp = tmp_path / "mnt"
    for name in ("a", "b", "c"):
        emulator.put(f"t-exdev/src/{name}", name.encode())
    with mount_fuse("demo", mp, registry=oss_registry, max_dir_rename=2) as m:
        with pytest.raises(OSError) as e:
            os.rename(mp / "t-exdev" / "src", mp / "t-exdev" / "dst")
        assert e.value.errno == errno.EXDEV
        shutil.move(str(mp / "t-exdev" / "src"), str(mp / "t-exdev" / "dst"))  # copies
        assert sorted(os.listdir(mp / "t-exdev" / "dst")) == ["a", "b", "c"]
        assert not os.path.exists(mp / "t-exdev" / "src")
    assert not m.alive
    assert emulator.get("t-exdev/dst/c") == b"c"


def test_upload_error_fails_close_and_keeps_the_data(tmp_path, oss_registry, emulator):
    if not AVAILABLE:
        pytest.skip(f"FUSE unavailable: {REASON}")
    mp, cache = tmp_path / "mnt", tmp_path / "cache"
    with mount_fuse("demo", mp, registry=oss_registry, cache_dir=cache):
        emulator.fail(count=100, method="PUT", path="t-upload-error")
        try:
            f = open(mp / "t-upload-error.txt", "wb")  # noqa: SIM115 - close() is the test
            f.write(b"precious")
            with pytest.raises(OSError) as e:
                f.close()
            assert e.value.errno == errno.EIO
            assert not emulator.exists("t-upload-error.txt")
            deadline = time.monotonic() + 10  # release keeps a copy
            kept = []
            while not kept and time.monotonic() < deadline:
                time.sleep(0.1)
                kept = list((cache / "unsaved").glob("*t-upload-error.txt"))
            assert kept and kept[0].read_bytes() == b"precious"
        finally:
            emulator.clear()
        with open(mp / "t-upload-error.txt", "wb") as f:
            f.write(b"second try")
    assert emulator.get("t-upload-error.txt") == b"second try"


def test_unmount_waits_for_an_upload_in_progress(tmp_path, oss_registry, emulator):
    if not AVAILABLE:
        pytest.skip(f"FUSE unavailable: {REASON}")
    mp = tmp_path / "mnt"
    m = mount_fuse("demo", mp, registry=oss_registry)
    errors = []
    try:
        emulator.delay(seconds=2.0, count=1, method="PUT", path="t-slow")

        def writer():
            try:
                with open(mp / "t-slow.bin", "wb") as f:
                    f.write(b"just written")
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        t = threading.Thread(target=writer)
        t.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status = m.status() or {}
            if status.get("uploading"):
                break
            time.sleep(0.05)
        assert status.get("uploading") == ["t-slow.bin"]
        assert m.unmount(timeout=30, remove_dir=True)
        t.join(10)
        assert not mp.exists()
    finally:
        emulator.clear()
        _force_unmount(mp)
    assert not errors
    assert not m.alive and not m.mounted
    assert emulator.get("t-slow.bin") == b"just written"


# ----------------------------------------------------------------------------- lifecycle


def test_lazy_unmount_keeps_serving_files_still_open(tmp_path, oss_registry, emulator):
    if not AVAILABLE:
        pytest.skip(f"FUSE unavailable: {REASON}")
    mp = tmp_path / "mnt"
    m = mount_fuse("demo", mp, registry=oss_registry)
    try:
        f = open(mp / "t-lazy.txt", "wb")  # noqa: SIM115 - held open across the unmount
        try:
            f.write(b"first ")
            f.flush()
            assert m.unmount(timeout=1) is False  # busy: detached, still serving
            assert not m.mounted and m.alive
            f.write(b"second")
        finally:
            f.close()
        assert emulator.get("t-lazy.txt") == b"first second"
        assert m.wait(10) and not m.alive  # exits once the last file is closed
    finally:
        _force_unmount(mp)


@needs_fuse
def test_read_only_mount_refuses_writes(tmp_path, oss_registry):
    mp = tmp_path / "mnt"
    with mount_fuse("demo-ro", mp, registry=oss_registry) as m:
        assert m.read_only
        assert (mp / "README.txt").read_bytes().startswith(b"This bucket")
        for action in (
            lambda: (mp / "new.txt").write_text("x"),
            lambda: os.open(mp / "README.txt", os.O_WRONLY | os.O_APPEND),
            lambda: os.mkdir(mp / "d"),
            lambda: os.unlink(mp / "README.txt"),
            lambda: os.rename(mp / "README.txt", mp / "R.txt"),
        ):
            with pytest.raises(OSError) as e:
                action()
            assert e.value.errno == errno.EROFS
    local = tmp_path / "store"
    local.mkdir()
    with mount_fuse(LocalFileSystem(), tmp_path / "mnt2", root=str(local), read_only=True):
        with pytest.raises(OSError) as e:
            (tmp_path / "mnt2" / "x").write_text("x")
        assert e.value.errno == errno.EROFS
    assert list(local.iterdir()) == []


@needs_fuse
def test_stale_mount_after_sigkill_is_cleaned_up(tmp_path):
    store, mount_dir, cache = tmp_path / "store", tmp_path / "mounts", tmp_path / "cache"
    store.mkdir()
    (store / "f.txt").write_text("f")
    mp = mount_dir / "data"
    m = mount_fuse(LocalFileSystem(), mp, root=str(store), cache_dir=cache)
    f = None
    try:
        assert os.listdir(mp) == ["f.txt"]
        f = open(mp / "open.txt", "wb")  # noqa: SIM115 - open while the process dies
        f.write(b"not yet stored")
        f.flush()
        m.kill()
        assert is_stale(mp)
        with pytest.raises(OSError) as e:
            os.listdir(mp)
        assert e.value.errno in (errno.ENOTCONN, errno.ECONNABORTED)
        assert cleanup_stale_mounts(mount_dir) == [str(mp)]
        assert not is_stale(mp) and os.listdir(mp) == []
        assert cleanup_stale_mounts(mount_dir) == []
        # The dead process's local copy is kept, not deleted with its work directory.
        assert len(wfuse.cleanup_cache(cache)) == 1
        kept = list((cache / "unsaved").glob("*open.txt*"))
        assert len(kept) == 1 and kept[0].read_bytes() == b"not yet stored"
        # and it can be mounted again
        with mount_fuse(LocalFileSystem(), mp, root=str(store), cache_dir=cache):
            assert sorted(os.listdir(mp)) == ["f.txt"]
    finally:
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()
        _force_unmount(mp)


@needs_fuse
def test_mounting_twice_is_refused(tmp_path):
    (tmp_path / "store").mkdir()
    mp = tmp_path / "mnt"
    with (
        mount_fuse(LocalFileSystem(), mp, root=str(tmp_path / "store")),
        pytest.raises(FuseMountError, match="already a mount point"),
    ):
        mount_fuse(LocalFileSystem(), mp, root=str(tmp_path / "store"))


@needs_fuse
def test_mount_unmounts_itself_when_its_parent_dies(tmp_path):
    (tmp_path / "store").mkdir()
    mp = tmp_path / "mnt"
    script = textwrap.dedent(
        f"""
        import os
        from fsspec.implementations.local import LocalFileSystem
        from jupyter_workbench.storage.fuse import mount_fuse
        m = mount_fuse(LocalFileSystem(), {str(mp)!r}, root={str(tmp_path / "store")!r})
        print(m.pid, flush=True)
        os.kill(os.getpid(), 9)  # no atexit, no unmount: only the pipe closes
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    pid = int(proc.stdout.split()[0])
    try:
        deadline = time.monotonic() + 15
        while wfuse._is_mounted(mp) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not wfuse._is_mounted(mp) and not is_stale(mp)
        deadline = time.monotonic() + 5
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not os.path.exists(f"/proc/{pid}")
    finally:
        _force_unmount(mp)
        if os.path.exists(f"/proc/{pid}"):
            os.kill(pid, signal.SIGKILL)


# ----------------------------------------------------------------------------- reads


def test_stream_reader_fetches_ranges_not_whole_files():
    try:  # mfusepy raises OSError (not ImportError) when libfuse is missing
        from jupyter_workbench.storage._fuse_ops import MIN_WINDOW, _StreamReader
    except (ImportError, OSError, AttributeError) as e:
        pytest.skip(f"mfusepy/libfuse unavailable: {e}")
    import concurrent.futures

    data = os.urandom(64 * MB)
    calls = []

    class Spy:
        def cat_file(self, path, start=None, end=None):
            calls.append((start, end))
            return data[start:end]

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        reader = _StreamReader(Spy(), "big", len(data), pool)
        assert reader.read(10, 40 * MB) == data[40 * MB : 40 * MB + 10]
        assert calls == [(40 * MB, 40 * MB + MIN_WINDOW)]  # a few bytes: one small request
        reader.close()
        calls.clear()
        reader = _StreamReader(Spy(), "big", len(data), pool)
        got = bytearray()
        for off in range(0, len(data), 128 * 1024):  # as the kernel reads sequentially
            got += reader.read(128 * 1024, off)
        reader.close()
    assert bytes(got) == data
    fetched = sum(e - s for s, e in calls)
    assert fetched <= len(data) + 16 * MB  # at most one window fetched ahead
    assert len(calls) < 16  # windows grew


# ----------------------------------------------------------------------------- throughput


def test_throughput_through_fuse_vs_direct(oss_registry):
    if not AVAILABLE:
        pytest.skip(f"FUSE unavailable: {REASON}")
    size = int(float(os.environ.get("JW_FUSE_BENCH_MB", "32")) * MB)
    result = wfuse.fuse_throughput(oss_registry.filesystem("demo"), size=size)
    print(
        "\nFUSE vs direct ossfs, {size_mb:.0f} MB: write {fuse_write_mb_s:.0f} vs "
        "{direct_write_mb_s:.0f} MB/s (ratio {write_ratio:.2f}), read {fuse_read_mb_s:.0f} vs "
        "{direct_read_mb_s:.0f} MB/s (ratio {read_ratio:.2f})".format(**result)
    )
    assert result["write_ratio"] > 0 and result["read_ratio"] > 0


def test_reads_across_three_forced_sts_rotations(tmp_path, emulator):
    if not AVAILABLE:
        pytest.skip(f"FUSE unavailable: {REASON}")
    # Given: a FUSE mount whose STS token file a helper rewrites, and a file being read
    data = os.urandom(3 * MB)
    emulator.put("sts/big.bin", data)
    token_file = tmp_path / "sts.json"

    def rotate(old=None) -> dict:
        new = emulator.issue_sts()
        token_file.with_suffix(".tmp").write_text(json.dumps(new))
        os.replace(token_file.with_suffix(".tmp"), token_file)
        if old is not None:
            emulator.expire(old["AccessKeyId"])  # the old token stops working at once
        return new

    creds = rotate()
    reg = MountRegistry(tmp_path / "state")
    reg.add(
        "sts", "oss://demo", {"endpoint": emulator.endpoint, "credentials_file": str(token_file)}
    )
    mp = tmp_path / "mnt"
    with mount_fuse("sts", mp, registry=reg, cache_dir=tmp_path / "cache") as m:
        chunks = []
        with open(mp / "sts" / "big.bin", "rb", buffering=0) as f:
            # When: three rotations happen while the file is open and being read
            for i in range(3):
                chunks.append(f.read(MB))
                creds = rotate(creds)
                emulator.put(f"sts/new-{i}.txt", str(i).encode())
                # Then: new reads through the mount keep working after each rotation
                assert (mp / "sts" / f"new-{i}.txt").read_bytes() == str(i).encode()
            chunks.append(f.read())
        assert b"".join(chunks) == data
        assert (mp / "sts" / "big.bin").read_bytes() == data
    assert not m.alive
