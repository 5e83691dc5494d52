"""s3:// mounts against a real S3 server (moto's, on 127.0.0.1): reads, writes, paged listings,
and the conditional create (``If-None-Match: *``) that export version reservations rely on."""

from __future__ import annotations

import threading

import pytest

from jupyter_workbench.export.markers import FsspecMarkers
from jupyter_workbench.export.publish import open_destination
from jupyter_workbench.export.reservation import MARKER_DIR
from jupyter_workbench.storage import MountRegistry
from jupyter_workbench.storage.listing import list_page

try:
    from ._s3_fixtures import new_bucket, s3, s3_options
except ImportError:  # pragma: no cover - run from another rootdir
    from _s3_fixtures import new_bucket, s3, s3_options

__all__ = ["s3"]


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_WORKBENCH_STATE_DIR", str(tmp_path / "state"))
    reg = MountRegistry()
    reg.configure(mount_dir=tmp_path / "root" / "mnt", allowed_local_roots=[tmp_path])
    return reg


def test_an_s3_mount_writes_reads_and_lists_page_by_page(s3, registry):
    # Given an s3:// mount of a prefix of a bucket
    bucket = new_bucket(s3)
    registry.add("lake", f"s3://{bucket}/team", s3_options(s3))
    fs = registry.filesystem("lake")
    # When files are written through it
    for i in range(5):
        fs.pipe_file(f"data/part-{i}.csv", f"row {i}\n".encode())
    fs.pipe_file("readme.md", b"hello")
    # Then they read back, and a listing comes page by page with continuation tokens
    assert fs.cat_file("data/part-3.csv") == b"row 3\n"
    seen, marker, pages = [], None, 0
    while True:
        page, marker = list_page(fs, "data", 2, marker)
        seen += [e["name"] for e in page]
        pages += 1
        if marker is None:
            break
    assert seen == [f"part-{i}.csv" for i in range(5)] and pages == 3
    top, more = list_page(fs, "", 100)
    assert [(e["name"], e["type"]) for e in top] == [("data", "directory"), ("readme.md", "file")]
    assert more is None and top[1]["size"] == 5 and top[1]["last_modified"] is not None
    # and the keys are where the mount says (under the prefix)
    raw = registry.filesystem("lake").fs
    assert raw.cat_file(f"{bucket}/team/readme.md") == b"hello"


def test_a_second_conditional_create_on_s3_is_refused(s3, registry):
    # Given the marker folder of a model base on an S3 mount
    bucket = new_bucket(s3)
    registry.add("lake", f"s3://{bucket}", s3_options(s3))
    markers = FsspecMarkers(registry.filesystem("lake"), f"models/{MARKER_DIR}")
    # When the same marker is created twice / Then only the first create succeeds
    assert markers.create("1.0.json", b'{"state": "reserved"}') is True
    assert markers.create("1.0.json", b'{"state": "other"}') is False
    assert markers.read("1.0.json") == b'{"state": "reserved"}'


def test_concurrent_reservations_on_an_s3_base_get_distinct_versions(s3, registry, tmp_path):
    # Given a model base on an S3 mount
    bucket = new_bucket(s3)
    registry.add("lake", f"s3://{bucket}", s3_options(s3))
    base = str(tmp_path / "root" / "mnt" / "lake" / "models" / "distinct")
    n = 8  # the server takes one request at a time: every loser of a round asks again
    barrier = threading.Barrier(n)
    versions: list[int] = []
    errors: list[BaseException] = []

    def reserve():
        try:
            dest = open_destination(base)
            dest.prepare()
            barrier.wait()  # all at once
            reservation = dest.reserve(1, overwrite=False, auto=True)
            versions.append(reservation.version)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    # When 8 exports reserve the next free version at the same moment
    threads = [threading.Thread(target=reserve) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    # Then each got its own number, and the store holds one marker per number
    assert not errors, errors
    assert sorted(versions) == list(range(1, n + 1)), sorted(versions)
    names = registry.filesystem("lake").ls(f"models/distinct/{MARKER_DIR}", detail=False)
    assert sorted(p.rsplit("/", 1)[-1] for p in names) == sorted(f"{v}.0.json" for v in versions)
