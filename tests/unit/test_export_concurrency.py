"""Concurrent exports: every export gets its own version, holding its own model, on a local base
and on an OSS mount (the emulator, through the fixed ossfs); reservations survive crashes and
never let ``overwrite`` replace what the workbench did not publish."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from jupyter_workbench.export import ExportError, export_savedmodel
from jupyter_workbench.export.publish import open_destination
from jupyter_workbench.export.reservation import MARKER_DIR
from jupyter_workbench.storage import MountRegistry
from jupyter_workbench.testing import OSSEmulator

try:
    from ._s3_fixtures import new_bucket, s3, s3_options
    from ._storage_fixtures import AK, SK
except ImportError:  # pragma: no cover - run from another rootdir
    from _s3_fixtures import new_bucket, s3, s3_options
    from _storage_fixtures import AK, SK

__all__ = ["s3"]

tf = pytest.importorskip("tensorflow")

N = 20
X = [[1.0, 2.0]]


def _expected(i: int) -> list[float]:
    return [x * (i + 1) + i for x in X[0]]


def _save_model(i: int, path: str) -> None:
    module = tf.Module()
    module.w = tf.Variable(float(i + 1), name="w")

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def serving(x):
        return {"y": x * module.w + float(i)}

    tf.saved_model.save(module, path, signatures={"serving_default": serving})


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """20 tiny SavedModels: model i computes x * (i + 1) + i."""
    root = tmp_path_factory.mktemp("sources")
    paths = []
    for i in range(N):
        path = str(root / f"model{i}")
        _save_model(i, path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def emulator():
    with OSSEmulator() as emu:
        emu.seed_demo()
        yield emu


@pytest.fixture
def oss_mount(tmp_path, monkeypatch, emulator):
    monkeypatch.setenv("JUPYTER_WORKBENCH_STATE_DIR", str(tmp_path / "state"))
    reg = MountRegistry()
    reg.configure(mount_dir=tmp_path / "root" / "mnt", allowed_local_roots=[tmp_path])
    prefix = f"t{os.getpid()}-{tmp_path.name}"[-40:]
    reg.add(
        "data", f"oss://demo/{prefix}", {"endpoint": emulator.endpoint, "key": AK, "secret": SK}
    )
    return reg


def _outputs(path: str) -> list[list[float]]:
    loaded = tf.saved_model.load(path, tags=["serve"])
    return loaded.signatures["serving_default"](x=tf.constant(X))["y"].numpy()[0].tolist()


def _export_all(sources, destination, n=N):
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()  # all at once
        return export_savedmodel(sources[i], destination, progress=False)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def _check_distinct_and_own(results, local_path_of):
    versions = [r.version for r in results]
    assert sorted(versions) == list(range(1, len(results) + 1)), versions
    for i, result in enumerate(results):
        assert _outputs(local_path_of(result)) == pytest.approx(_expected(i)), (i, result.version)


def test_concurrent_exports_to_a_local_base_get_distinct_complete_versions(sources, tmp_path):
    # Given 20 different models and one local model base
    base = tmp_path / "models" / "distinct"
    # When all 20 are exported at the same moment
    results = _export_all(sources, str(base))
    # Then each got its own version, and each version returns its own model's outputs
    _check_distinct_and_own(results, lambda r: r.path)
    assert sorted(os.listdir(base)) == sorted([MARKER_DIR, *map(str, range(1, N + 1))])
    markers = [json.loads((base / MARKER_DIR / f"{v}.0.json").read_text()) for v in range(1, 21)]
    assert {m["state"] for m in markers} == {"published"}
    assert all("saved_model.pb" in m["files"] for m in markers)


def test_concurrent_exports_to_an_oss_mount_get_distinct_complete_versions(
    sources, oss_mount, tmp_path
):
    # Given 20 different models and a model base on an OSS mount (no FUSE: through ossfs)
    base = tmp_path / "root" / "mnt" / "data" / "models" / "distinct"
    # When all 20 are exported at the same moment
    results = _export_all(sources, str(base))
    # Then each got its own version, and each version, downloaded from the bucket, loads and
    # returns its own model's outputs
    fs = oss_mount.filesystem("data")
    downloads = tmp_path / "downloads"

    def fetch(result):
        local = downloads / str(result.version)
        fs.get(f"models/distinct/{result.version}/", str(local), recursive=True)
        return str(local)

    assert all(r.path.startswith("mount://data/models/distinct/") for r in results)
    _check_distinct_and_own(results, fetch)
    names = sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls("models/distinct", detail=False))
    assert names == sorted([MARKER_DIR, *map(str, range(1, N + 1))])


def test_concurrent_exports_to_an_s3_mount_get_distinct_complete_versions(
    sources, s3, tmp_path, monkeypatch
):
    # Given 10 different models and a model base on an S3 mount (moto's S3 server: the
    # reservation is PutObject with If-None-Match: *; it answers one request at a time, so
    # 10 rather than 20 keep this test short)
    monkeypatch.setenv("JUPYTER_WORKBENCH_STATE_DIR", str(tmp_path / "state"))
    reg = MountRegistry()
    reg.configure(mount_dir=tmp_path / "root" / "mnt", allowed_local_roots=[tmp_path])
    reg.add("lake", f"s3://{new_bucket(s3)}/team", s3_options(s3))
    base = tmp_path / "root" / "mnt" / "lake" / "models" / "distinct"
    # When all 10 are exported at the same moment
    results = _export_all(sources, str(base), n=10)
    # Then each got its own version, and each version, downloaded from the bucket, loads and
    # returns its own model's outputs
    fs = reg.filesystem("lake")
    downloads = tmp_path / "downloads"

    def fetch(result):
        local = downloads / str(result.version)
        fs.get(f"models/distinct/{result.version}/", str(local), recursive=True)
        return str(local)

    assert all(r.path.startswith("mount://lake/models/distinct/") for r in results)
    _check_distinct_and_own(results, fetch)
    names = sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls("models/distinct", detail=False))
    assert names == sorted([MARKER_DIR, *map(str, range(1, 11))])


def test_overwrite_never_replaces_a_version_the_workbench_did_not_publish(sources, tmp_path):
    # Given a base whose version 1 is someone's folder (not a workbench export)
    victim = tmp_path / "victim"
    (victim / "1").mkdir(parents=True)
    (victim / "1" / "important.txt").write_text("keep me")
    # When an export asks for version 1 with overwrite
    with pytest.raises(ExportError, match="not published by the workbench"):
        export_savedmodel(sources[0], str(victim), version=1, overwrite=True, progress=False)
    # Then the folder is untouched; a workbench-published version may be overwritten
    assert (victim / "1" / "important.txt").read_text() == "keep me"
    export_savedmodel(sources[0], str(victim), version=2, progress=False)
    again = export_savedmodel(sources[1], str(victim), version=2, overwrite=True, progress=False)
    assert _outputs(again.path) == pytest.approx(_expected(1))


CRASHED = """
import os, sys
from jupyter_workbench.export.publish import open_destination
dest = open_destination(sys.argv[1])
dest.prepare()
r = dest.reserve(int(sys.argv[2]), overwrite=False, auto=False)
os.makedirs(os.path.join(dest.base, sys.argv[2]), exist_ok=True)  # a half-published version
open(os.path.join(dest.base, sys.argv[2], "partial"), "w").write("x")
os._exit(9)  # killed before publishing
"""


def test_a_crashed_exports_reservation_does_not_block(sources, tmp_path):
    # Given an export process that reserved version 5, wrote part of it and died
    base = tmp_path / "m"
    proc = subprocess.run([sys.executable, "-c", CRASHED, str(base), "5"], env=dict(os.environ))
    assert proc.returncode == 9
    # When an export asks for version 5 explicitly, it takes the dead reservation over
    result = export_savedmodel(sources[3], str(base), version=5, progress=False)
    assert result.version == 5 and not (base / "5" / "partial").exists()
    assert _outputs(result.path) == pytest.approx(_expected(3))
    # and automatic numbering goes on after it
    assert export_savedmodel(sources[0], str(base), progress=False).version == 6


def test_a_live_reservation_refuses_the_same_explicit_version(sources, tmp_path):
    # Given version 3 reserved by an export that is still running (this process)
    dest = open_destination(str(tmp_path / "m"))
    dest.prepare()
    reservation = dest.reserve(3, overwrite=False, auto=False)
    try:
        # When another export asks for version 3 / Then it is refused, naming the other export
        with pytest.raises(ExportError, match=r"version 3 is being published by an export"):
            export_savedmodel(sources[0], str(tmp_path / "m"), version=3, progress=False)
        # and an automatic version skips it
        assert export_savedmodel(sources[0], str(tmp_path / "m"), progress=False).version == 4
    finally:
        reservation.release(touched=False)


def test_a_changed_published_version_is_not_reported_done(sources, tmp_path, monkeypatch):
    # Given a store where another writer changes a file right after it is published
    from jupyter_workbench.export import publish

    real = publish.LocalDestination.verify_published

    def tamper(self, version, expected):
        (tmp_path / "m" / str(version) / "saved_model.pb").write_bytes(b"not a model")
        return real(self, version, expected)

    monkeypatch.setattr(publish.LocalDestination, "verify_published", tamper)
    # When exported / Then the export fails naming the file that differs
    with pytest.raises(ExportError, match=r"does not hold what was written.*saved_model\.pb"):
        export_savedmodel(sources[0], str(tmp_path / "m"), progress=False)
