"""The OSS emulator against the real clients: oss2 (the SDK) and stock ossfs."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
import time

import oss2
import pytest
import requests
from ossfs import OSSFileSystem

from jupyter_workbench.testing import OSSEmulator, run_emulator
from jupyter_workbench.testing.oss_emulator import main as emulator_main
from jupyter_workbench.testing.oss_store import SortedKeys, crc64, crc64_python

try:
    from ._storage_fixtures import AK, SK, oss
except ImportError:
    from _storage_fixtures import AK, SK, oss

__all__ = ["oss"]


def bucket(emulator, name="demo", auth=None) -> oss2.Bucket:
    return oss2.Bucket(auth or oss2.Auth(AK, SK), emulator.endpoint, name, connect_timeout=5)


def oss2_crc(data: bytes) -> int:
    c = oss2.utils.Crc64()
    c.update(data)
    return c.crc


# ----------------------------------------------------------------------------- objects


def test_put_get_roundtrip_with_crc64_and_md5_etag(oss):
    # Given
    b = bucket(oss)
    data = os.urandom(300_000)
    # When
    put = b.put_object("dir/obj.bin", data)
    got = b.get_object("dir/obj.bin")
    body = got.read()
    # Then: oss2 verified the CRC itself (enable_crc); the header is CRC-64/ECMA as oss2 computes
    assert body == data
    assert put.crc == oss2_crc(data) == got.server_crc == crc64(data)
    assert put.etag == hashlib.md5(data).hexdigest().upper()
    assert got.headers["x-oss-object-type"] == "Normal"


def test_keys_with_special_characters(oss):
    # Given
    b = bucket(oss)
    keys = ["a b/c+d.txt", "ünï/çødé.txt", "pct%20literal", "q?x=1&y#z"]
    # When
    for k in keys:
        b.put_object(k, k.encode())
    # Then
    for k in keys:
        assert b.get_object(k).read() == k.encode()
    listed = {o.key for o in oss2.ObjectIterator(b)}
    assert set(keys) <= listed


def test_head_meta_and_missing_key(oss):
    # Given
    b = bucket(oss)
    b.put_object("x.txt", b"hello", headers={"x-oss-meta-owner": "me", "Content-Type": "text/x"})
    # When
    head = b.head_object("x.txt")
    meta = b.get_object_meta("x.txt")
    # Then
    assert head.content_length == 5 and head.content_type == "text/x"
    assert head.headers["x-oss-meta-owner"] == "me"
    assert meta.content_length == 5 and meta.etag == head.etag
    assert b.object_exists("x.txt") and not b.object_exists("nope")
    with pytest.raises(oss2.exceptions.NoSuchKey) as exc:
        b.get_object("nope")
    assert exc.value.status == 404 and exc.value.request_id
    with pytest.raises(oss2.exceptions.NotFound) as exc:
        b.head_object("nope")
    assert exc.value.code == "NoSuchKey"  # decoded from x-oss-err, as on OSS


def test_ranges_standard_and_legacy(oss):
    # Given
    b = bucket(oss)
    b.put_object("r", b"0123456789")
    std = {"x-oss-range-behavior": "standard"}
    # When / Then
    assert b.get_object("r", byte_range=(2, 4)).read() == b"234"
    assert b.get_object("r", byte_range=(7, None)).read() == b"789"
    assert b.get_object("r", byte_range=(None, 3)).read() == b"789"
    assert b.get_object("r", byte_range=(5, 100), headers=std).read() == b"56789"
    assert b.get_object("r", byte_range=(5, 100)).read() == b"0123456789"  # legacy: whole
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        b.get_object("r", byte_range=(20, 30), headers=std)
    assert exc.value.status == 416 and exc.value.code == "InvalidRange"


def test_conditional_get(oss):
    # Given
    b = bucket(oss)
    etag = b.put_object("c", b"abc").etag
    # When / Then
    with pytest.raises(oss2.exceptions.NotModified):
        b.get_object("c", headers={"If-None-Match": f'"{etag}"'})
    with pytest.raises(oss2.exceptions.PreconditionFailed):
        b.get_object("c", headers={"If-Match": '"0000"'})


def test_delete_copy_and_batch_delete(oss):
    # Given
    b = bucket(oss)
    b.put_object("src", b"payload", headers={"x-oss-meta-k": "v"})
    # When
    b.copy_object("demo", "src", "dst")
    deleted = b.batch_delete_objects(["src", "dst", "never-existed"]).deleted_keys
    b.delete_object("already-gone")  # OSS answers 204 for missing keys too
    # Then
    assert sorted(deleted) == ["dst", "never-existed", "src"]
    assert not oss.exists("demo", "src") and not oss.exists("demo", "dst")


def test_copy_keeps_content_and_metadata(oss):
    # Given
    b = bucket(oss)
    b.put_object("src", b"payload", headers={"x-oss-meta-k": "v"})
    # When
    res = b.copy_object("demo", "src", "copy")
    # Then
    assert b.get_object("copy").read() == b"payload"
    assert b.head_object("copy").headers["x-oss-meta-k"] == "v"
    assert res.etag == b.head_object("src").etag


# ----------------------------------------------------------------------------- conditional create

FORBID = {"x-oss-forbid-overwrite": "true"}


def test_forbid_overwrite_on_put_copy_and_multipart_complete(oss):
    # Given
    b = bucket(oss)
    b.put_object("taken", b"original")
    b.put_object("src", b"other")
    # When / Then: each create-only write of an existing key answers 409 and changes nothing
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        b.put_object("taken", b"new", headers=FORBID)
    assert (exc.value.status, exc.value.code) == (409, "FileAlreadyExists")
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        b.copy_object("demo", "src", "taken", headers=FORBID)
    assert (exc.value.status, exc.value.code) == (409, "FileAlreadyExists")
    upload_id = b.init_multipart_upload("taken").upload_id
    part = b.upload_part("taken", upload_id, 1, b"mp")
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        b.complete_multipart_upload(
            "taken", upload_id, [oss2.models.PartInfo(1, part.etag)], headers=FORBID
        )
    assert (exc.value.status, exc.value.code) == (409, "FileAlreadyExists")
    assert b.get_object("taken").read() == b"original"
    assert [u.upload_id for u in oss.uploads("demo")] == [upload_id]  # still abortable
    b.abort_multipart_upload("taken", upload_id)


def test_forbid_overwrite_creates_missing_keys(oss):
    # Given
    b = bucket(oss)
    b.put_object("src", b"copied")
    # When
    b.put_object("fresh-put", b"p", headers=FORBID)
    b.copy_object("demo", "src", "fresh-copy", headers=FORBID)
    upload_id = b.init_multipart_upload("fresh-mp").upload_id
    part = b.upload_part("fresh-mp", upload_id, 1, b"m")
    b.complete_multipart_upload(
        "fresh-mp", upload_id, [oss2.models.PartInfo(1, part.etag)], headers=FORBID
    )
    # Then
    assert b.get_object("fresh-put").read() == b"p"
    assert b.get_object("fresh-copy").read() == b"copied"
    assert b.get_object("fresh-mp").read() == b"m"
    # And "false" (or no header) overwrites as usual
    b.put_object("fresh-put", b"q", headers={"x-oss-forbid-overwrite": "false"})
    assert b.get_object("fresh-put").read() == b"q"


def test_concurrent_create_only_puts_have_one_winner(oss):
    # Given: eight clients race to create the same key
    results = []

    def create(i):
        try:
            bucket(oss).put_object("race", str(i).encode(), headers=FORBID)
            results.append(("ok", i))
        except oss2.exceptions.ServerError as e:
            results.append((e.code, i))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    # When
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then
    winners = [i for what, i in results if what == "ok"]
    assert len(winners) == 1
    assert sorted(what for what, _ in results).count("FileAlreadyExists") == 7
    assert oss.get_object("demo", "race") == str(winners[0]).encode()


# ----------------------------------------------------------------------------- not implemented


def _signed(oss, method, resource, query="", data=b""):
    """(status, error code) of a raw request signed by oss2 (for operations oss2 lacks)."""
    bucket_name, _, key = resource.partition("/")
    params = dict((k, v) for k, _, v in (p.partition("=") for p in query.split("&") if p))
    try:
        resp = bucket(oss, bucket_name)._do(method, bucket_name, key, params=params, data=data)
    except oss2.exceptions.OssError as e:
        return e.status, e.code
    resp.read()
    return resp.status, ""


@pytest.mark.parametrize(
    ("method", "resource", "query"),
    [
        ("POST", "demo/README.txt", "tagging"),
        ("POST", "demo/README.txt", "symlink"),
        ("PUT", "demo/README.txt", "restore"),
        ("POST", "demo/README.txt", "x-oss-async-process"),
        ("GET", "demo/README.txt", "x-oss-process=image/resize,w_10"),
        ("PUT", "demo", "lifecycle"),  # used to run CreateBucket
        ("GET", "demo", "lifecycle"),  # used to run ListObjects
        ("GET", "demo", "cors"),
        ("DELETE", "demo", "website"),
        ("PUT", "demo", "versioning"),
        ("GET", "demo", "versions"),
        ("POST", "demo", ""),
        ("PATCH", "demo/README.txt", ""),
    ],
)
def test_unimplemented_requests_answer_not_implemented_and_change_nothing(
    oss, method, resource, query
):
    # Given
    before = oss.get_object("demo", "README.txt")
    keys = oss.list_keys("demo")
    body = b"<Tagging><TagSet/></Tagging>" if method in ("PUT", "POST") else b""
    # When
    status, code = _signed(oss, method, resource, query, data=body)
    # Then
    assert (status, code) == (501, "NotImplemented")
    assert oss.get_object("demo", "README.txt") == before
    assert oss.list_keys("demo") == keys
    assert [b.name for b in oss.store.buckets()] == ["demo"]


def test_not_implemented_still_requires_authentication(oss):
    # When: an anonymous request for an unimplemented subresource
    r = requests.put(f"{oss.endpoint}/demo/README.txt?tagging", data=b"x", timeout=5)
    # Then: the auth failure comes first, as on OSS
    assert r.status_code == 403


# ----------------------------------------------------------------------------- append


def test_append_positions_and_conflict(oss):
    # Given
    b = bucket(oss)
    # When
    r1 = b.append_object("log", 0, b"abc")
    r2 = b.append_object("log", r1.next_position, b"def", init_crc=r1.crc)
    # Then
    assert (r1.next_position, r2.next_position) == (3, 6)
    assert r2.crc == oss2_crc(b"abcdef")
    assert b.get_object("log").read() == b"abcdef"
    with pytest.raises(oss2.exceptions.PositionNotEqualToLength) as exc:
        b.append_object("log", 1, b"x")
    assert exc.value.status == 409
    assert exc.value.headers["x-oss-next-append-position"] == "6"
    b.put_object("normal", b"x")
    with pytest.raises(oss2.exceptions.ObjectNotAppendable):
        b.append_object("normal", 1, b"y")


# ----------------------------------------------------------------------------- multipart


def test_multipart_upload_complete_list_and_abort(oss):
    # Given
    b = bucket(oss)
    p1, p2 = os.urandom(200_000), b"tail"
    upload_id = b.init_multipart_upload("mp.bin").upload_id
    # When
    r1 = b.upload_part("mp.bin", upload_id, 1, p1)
    r2 = b.upload_part("mp.bin", upload_id, 2, p2)
    listed = b.list_parts("mp.bin", upload_id).parts
    parts = [
        oss2.models.PartInfo(1, r1.etag, size=len(p1), part_crc=r1.crc),
        oss2.models.PartInfo(2, r2.etag, size=len(p2), part_crc=r2.crc),
    ]
    done = b.complete_multipart_upload("mp.bin", upload_id, parts)  # oss2 checks combined CRC
    # Then
    assert [p.part_number for p in listed] == [1, 2] and listed[0].size == len(p1)
    assert b.get_object("mp.bin").read() == p1 + p2
    md5s = hashlib.md5(p1).digest() + hashlib.md5(p2).digest()
    assert done.etag == f"{hashlib.md5(md5s).hexdigest().upper()}-2"
    assert b.head_object("mp.bin").object_type == "Multipart"
    assert oss.uploads("demo") == []
    # And an aborted upload leaves nothing behind
    other = b.init_multipart_upload("gone").upload_id
    b.upload_part("gone", other, 1, b"x")
    assert [u.upload_id for u in b.list_multipart_uploads().upload_list] == [other]
    b.abort_multipart_upload("gone", other)
    assert oss.uploads("demo") == [] and not oss.exists("demo", "gone")
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        b.upload_part("gone", other, 2, b"y")


def test_multipart_rejects_small_parts_and_wrong_etags(oss):
    # Given
    b = bucket(oss)
    upload_id = b.init_multipart_upload("small").upload_id
    r1 = b.upload_part("small", upload_id, 1, b"a" * 10)
    r2 = b.upload_part("small", upload_id, 2, b"b")
    # When / Then
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        b.complete_multipart_upload(
            "small", upload_id, [oss2.models.PartInfo(1, r1.etag), oss2.models.PartInfo(2, r2.etag)]
        )
    assert exc.value.code == "EntityTooSmall"
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        b.complete_multipart_upload("small", upload_id, [oss2.models.PartInfo(1, "BAD")])
    assert exc.value.code == "InvalidPart"


def test_resumable_upload_and_download(oss, tmp_path):
    # Given
    b = bucket(oss)
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(1_500_000))
    # When
    oss2.resumable_upload(
        b,
        "resumable.bin",
        str(src),
        store=oss2.ResumableStore(root=str(tmp_path)),
        multipart_threshold=400_000,
        part_size=300_000,
    )
    dst = tmp_path / "dst.bin"
    oss2.resumable_download(
        b,
        "resumable.bin",
        str(dst),
        store=oss2.ResumableDownloadStore(root=str(tmp_path)),
        multiget_threshold=400_000,
        part_size=300_000,
    )
    # Then
    assert dst.read_bytes() == src.read_bytes()


# ----------------------------------------------------------------------------- listing


def test_list_objects_v1_pages_over_more_than_100_keys(oss):
    # Given
    for i in range(250):
        oss.put_object("demo", f"many/{i:04d}.txt", b"x")
    for sub in ("a", "b"):
        oss.put_object("demo", f"many/{sub}/inner.txt", b"y")
    b = bucket(oss)
    # When
    first = b.list_objects(prefix="many/", delimiter="/", max_keys=100)
    everything = list(oss2.ObjectIterator(b, prefix="many/", delimiter="/"))
    flat = list(oss2.ObjectIterator(b, prefix="many/"))
    # Then
    assert first.is_truncated and first.next_marker == "many/0099.txt"
    assert len(first.object_list) == 100
    names = [o.key for o in everything]
    assert len(names) == 252 and len(set(names)) == 252
    assert [o.key for o in everything if o.is_prefix()] == ["many/a/", "many/b/"]
    assert len(flat) == 252


def test_list_objects_v2_continuation(oss):
    # Given
    for i in range(130):
        oss.put_object("demo", f"v2/{i:03d}", b"x")
    b = bucket(oss)
    # When
    keys = [o.key for o in oss2.ObjectIteratorV2(b, prefix="v2/", max_keys=50)]
    page = b.list_objects_v2(prefix="v2/", max_keys=50)
    # Then
    assert keys == [f"v2/{i:03d}" for i in range(130)]
    assert page.is_truncated and page.next_continuation_token


def test_listing_a_large_bucket_is_paged_from_a_sorted_index(oss):
    # Given: 100,000 keys (seeded in-process; a listing never walks all of them)
    store = oss.store
    for i in range(100_000):
        store.put_bytes("demo", f"big/{i // 1000:03d}/{i:06d}", b"")
    b = bucket(oss)
    # When
    t0 = time.perf_counter()
    top = b.list_objects(prefix="big/", delimiter="/", max_keys=1000)
    deep = b.list_objects(prefix="big/050/", delimiter="/", max_keys=100, marker="big/050/050500")
    elapsed = time.perf_counter() - t0
    # Then
    assert len(top.prefix_list) == 100 and not top.is_truncated
    assert deep.object_list[0].key == "big/050/050501"
    assert elapsed < 1.0


def test_sorted_keys_index():
    # Given
    import random

    keys = [f"k{i:05d}" for i in range(5000)]
    shuffled = keys[:]
    random.Random(1).shuffle(shuffled)
    index = SortedKeys()
    # When
    for k in shuffled:
        index.add(k)
    for k in keys[::3]:
        index.remove(k)
    # Then
    remaining = [k for i, k in enumerate(keys) if i % 3]
    assert list(index) == remaining and len(index) == len(remaining)
    assert list(index.iter_from("k02500", inclusive=False))[0] == "k02501"


def test_crc64_matches_oss2_and_the_reference():
    # Given
    data = os.urandom(4096)
    # When / Then
    assert crc64(data) == crc64_python(data) == oss2_crc(data)
    assert crc64(data[2000:], crc64(data[:2000])) == crc64(data)


# ----------------------------------------------------------------------------- buckets


def test_buckets_create_info_location_and_missing(oss):
    # Given
    service = oss2.Service(oss2.Auth(AK, SK), oss.endpoint)
    # When
    bucket(oss, "fresh-bucket").create_bucket()
    names = [b.name for b in oss2.BucketIterator(service)]
    info = bucket(oss, "fresh-bucket").get_bucket_info()
    # Then
    assert names == ["demo", "fresh-bucket"]
    assert info.name == "fresh-bucket" and info.acl.grant == "private"
    assert bucket(oss).get_bucket_location().location == "oss-cn-hangzhou"
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        bucket(oss, "no-such-bucket").get_object("x")


# ----------------------------------------------------------------------------- auth


def test_wrong_secret_unknown_key_and_sts(oss):
    # Given
    oss.add_credentials("STSKEY", "sts-secret", "sts-token")
    wrong = bucket(oss, auth=oss2.Auth(AK, "not-the-secret"))
    unknown = bucket(oss, auth=oss2.Auth("NOBODY", SK))
    sts = bucket(oss, auth=oss2.StsAuth("STSKEY", "sts-secret", "sts-token"))
    bad_token = bucket(oss, auth=oss2.StsAuth("STSKEY", "sts-secret", "forged"))
    # When / Then
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as exc:
        wrong.get_object("README.txt")
    assert exc.value.status == 403
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        unknown.put_object("x", b"x")
    assert (exc.value.status, exc.value.code) == (403, "InvalidAccessKeyId")
    assert sts.get_object("README.txt").read().startswith(b"This bucket")
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bad_token.get_object("README.txt")
    assert (exc.value.status, exc.value.code) == (403, "InvalidSecurityToken")
    assert not oss.exists("demo", "x")


def test_anonymous_access_only_reads_public_buckets(oss):
    # Given
    oss.create_bucket("open-data", public=True)
    oss.put_object("open-data", "a.txt", b"public")
    anon_public = bucket(oss, "open-data", oss2.AnonymousAuth())
    anon_private = bucket(oss, "demo", oss2.AnonymousAuth())
    # When / Then
    assert anon_public.get_object("a.txt").read() == b"public"
    assert [o.key for o in oss2.ObjectIterator(anon_public)] == ["a.txt"]
    with pytest.raises(oss2.exceptions.AccessDenied):
        anon_public.put_object("b.txt", b"nope")
    with pytest.raises(oss2.exceptions.AccessDenied):
        anon_private.get_object("README.txt")


def test_presigned_url(oss):
    # Given
    b = bucket(oss)
    url = b.sign_url("GET", "README.txt", 60)
    # When
    ok = requests.get(url, timeout=5)
    tampered = requests.get(url.replace("README.txt", "data/iris.csv"), timeout=5)
    # Then
    assert ok.status_code == 200 and ok.content.startswith(b"This bucket")
    assert tampered.status_code == 403 and b"SignatureDoesNotMatch" in tampered.content


def test_error_body_is_oss_xml(oss):
    # When
    r = requests.get(f"{oss.endpoint}/demo/README.txt", timeout=5)
    # Then
    assert r.status_code == 403
    for tag in ("<Code>AccessDenied</Code>", "<Message>", "<RequestId>", "<HostId>"):
        assert tag.encode() in r.content
    assert r.headers["x-oss-request-id"]


# ----------------------------------------------------------------------------- faults


def test_fault_injection_errors_delays_and_drops(oss):
    # Given
    b = bucket(oss)
    oss.faults.fail(count=2, method="GET", path=r"^/demo/README")
    # When / Then: two 500s, then normal service
    for _ in range(2):
        with pytest.raises(oss2.exceptions.ServerError) as exc:
            b.get_object("README.txt")
        assert exc.value.status == 500 and exc.value.code == "InternalError"
    assert b.get_object("README.txt").read()

    # Given a delay on one path
    b.put_object("slow", b"x")
    oss.faults.delay(0.3, count=1, path=r"slow")
    t0 = time.perf_counter()
    b.get_object("slow").read()
    assert time.perf_counter() - t0 >= 0.3

    # Given a dropped connection
    oss.faults.drop(count=1, method="PUT")
    with pytest.raises(oss2.exceptions.RequestError):
        b.put_object("dropped", b"x")
    assert not oss.exists("demo", "dropped")

    # Given a download cut in the middle
    b.put_object("cut", os.urandom(200_000))
    oss.faults.drop(count=1, method="GET", path="cut", partial=True)
    with pytest.raises(Exception):  # noqa: B017 - requests/urllib3 raise various types
        b.get_object("cut").read()


def test_fault_skip_targets_a_later_request(oss):
    # Given: the 2nd part upload fails
    b = bucket(oss)
    oss.faults.fail(count=1, method="PUT", path=r"partNumber=", skip=1)
    upload_id = b.init_multipart_upload("k").upload_id
    # When / Then
    b.upload_part("k", upload_id, 1, b"x" * 100)
    with pytest.raises(oss2.exceptions.ServerError):
        b.upload_part("k", upload_id, 2, b"y")
    b.upload_part("k", upload_id, 2, b"y")


def test_request_log(oss):
    # Given
    oss.clear_requests()
    # When
    bucket(oss).get_object("README.txt").read()
    # Then
    (entry,) = oss.requests
    assert (entry.method, entry.bucket, entry.key, entry.status) == (
        "GET",
        "demo",
        "README.txt",
        200,
    )


# ----------------------------------------------------------------------------- persistence


def test_disk_root_survives_restart(tmp_path):
    # Given
    root = tmp_path / "oss"
    data = os.urandom(250_000)
    with OSSEmulator(root=root) as first:
        b = bucket(first)
        b.put_object("kept/obj.bin", data)
        b.append_object("kept/log", 0, b"abc")
        upload_id = b.init_multipart_upload("kept/mp").upload_id
        b.upload_part("kept/mp", upload_id, 1, b"z" * 150_000)
    # When
    with OSSEmulator(root=root) as second:
        b = bucket(second)
        r2 = b.upload_part("kept/mp", upload_id, 2, b"end")
        parts = b.list_parts("kept/mp", upload_id).parts
        b.complete_multipart_upload(
            "kept/mp",
            upload_id,
            [oss2.models.PartInfo(1, parts[0].etag), oss2.models.PartInfo(2, r2.etag)],
        )
        # Then
        assert b.get_object("kept/obj.bin").read() == data
        assert b.append_object("kept/log", 3, b"def").next_position == 6
        assert b.get_object("kept/mp").read() == b"z" * 150_000 + b"end"
        assert second.list_keys("demo", "kept/") == ["kept/log", "kept/mp", "kept/obj.bin"]


def test_stop_really_stops(oss):
    # Given
    b = bucket(oss)
    b.get_object("README.txt").read()  # a pooled keep-alive connection now exists
    # When
    oss.stop()
    # Then
    with pytest.raises(oss2.exceptions.RequestError):
        b.get_object("README.txt").read()


def test_large_object_roundtrip_on_disk(tmp_path):
    # Given: a 100 MiB object, streamed to disk by the emulator
    data = os.urandom(1 << 20) * 100
    with OSSEmulator(root=tmp_path / "oss") as emulator:
        b = bucket(emulator)
        # When
        t0 = time.perf_counter()
        put = b.put_object("big.bin", data)
        got = b.get_object("big.bin")
        body = got.read()
        elapsed = time.perf_counter() - t0
        # Then
        assert body == data and got.server_crc == got.client_crc == put.crc
        assert elapsed < 30


# ----------------------------------------------------------------------------- stock ossfs


def test_stock_ossfs_lists_reads_and_writes(oss):
    # Given
    fs = OSSFileSystem(endpoint=oss.endpoint, key=AK, secret=SK, skip_instance_cache=True)
    # When
    fs.pipe("demo/x/y.txt", b"zzz")
    names = fs.ls("demo", detail=False)
    # Then
    assert fs.cat("demo/x/y.txt") == b"zzz"
    assert fs.cat("demo/data/iris.csv").startswith(b"sepal_length")
    assert "demo/README.txt" in names and "demo/x/" in names  # stock ossfs: trailing '/'


def test_stock_ossfs_multiblock_write_hits_the_append_bug(oss):
    # Given: stock ossfs writes open('wb') through AppendObject
    fs = OSSFileSystem(endpoint=oss.endpoint, key=AK, secret=SK, skip_instance_cache=True)
    # When / Then: the second block is appended at the wrong position -> 409 from the store
    with pytest.raises(OSError), fs.open("demo/stock.bin", "wb", block_size=128 * 1024) as f:
        for _ in range(3):
            f.write(os.urandom(130 * 1024))


# ----------------------------------------------------------------------------- CLI entry


def test_run_emulator_serves_the_demo_bucket(tmp_path):
    # Given
    out = io.StringIO()
    stop = threading.Event()
    thread = threading.Thread(
        target=run_emulator, kwargs={"root": str(tmp_path), "out": out, "stop_event": stop}
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while "listening on" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        endpoint = out.getvalue().split("listening on ")[1].split()[0]
        # When
        body = oss2.Bucket(oss2.Auth(AK, SK), endpoint, "demo").get_object("README.txt").read()
    finally:
        stop.set()
        thread.join(timeout=10)
    # Then
    assert body.startswith(b"This bucket") and SK in out.getvalue()
    assert not thread.is_alive()


def test_main_rejects_bad_arguments(capsys):
    # When / Then
    with pytest.raises(SystemExit):
        emulator_main(["--port", "not-a-number"])
    assert "--port" in capsys.readouterr().err


def test_content_md5_is_checked(oss):
    # Given
    b = bucket(oss)
    good = base64.b64encode(hashlib.md5(b"abc").digest()).decode()
    # When / Then
    b.put_object("md5", b"abc", headers={"Content-MD5": good})
    with pytest.raises(oss2.exceptions.InvalidDigest):
        b.put_object("md5", b"abd", headers={"Content-MD5": good})
    assert oss.get_object("demo", "md5") == b"abc"


def test_concurrent_clients(oss):
    # Given
    errors = []

    def worker(n):
        try:
            b = bucket(oss)
            for i in range(20):
                data = os.urandom(64 * 1024)
                b.put_object(f"par/{n}/{i}", data)
                assert b.get_object(f"par/{n}/{i}").read() == data
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    # When
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # Then
    assert errors == []
    assert len(oss.list_keys("demo", "par/")) == 160


# ----------------------------------------------------------------------------- completeness


def test_object_tagging_round_trip_and_bytes_untouched(oss):
    # Given
    b = bucket(oss)
    b.put_object("t.txt", b"payload")
    rule = oss2.models.TaggingRule()
    rule.add("project", "iris")
    rule.add("stage", "raw")
    # When
    b.put_object_tagging("t.txt", oss2.models.Tagging(rule))
    got = b.get_object_tagging("t.txt").tag_set.tagging_rule
    # Then
    assert got == {"project": "iris", "stage": "raw"}
    assert b.get_object("t.txt").read() == b"payload"
    assert b.head_object("t.txt").headers["x-oss-tagging-count"] == "2"
    b.delete_object_tagging("t.txt")
    assert b.get_object_tagging("t.txt").tag_set.tagging_rule == {}
    with pytest.raises(oss2.exceptions.NoSuchKey):
        b.get_object_tagging("missing")


def test_object_acl_is_kept(oss):
    b = bucket(oss)
    b.put_object("acl.txt", b"x")
    assert b.get_object_acl("acl.txt").acl == "default"
    b.put_object_acl("acl.txt", oss2.OBJECT_ACL_PUBLIC_READ)
    assert b.get_object_acl("acl.txt").acl == "public-read"
    assert b.get_object("acl.txt").read() == b"x"
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        b.put_object_acl("acl.txt", "everyone")
    assert exc.value.status == 400


def test_utf8_metadata_values_pass_the_signature_and_round_trip(oss):
    b = bucket(oss)
    # oss2 sends a value given as UTF-8 bytes as is (http.client cannot encode a str to latin-1)
    b.put_object("m.txt", b"x", headers={"x-oss-meta-author": "张三 Müller".encode()})
    head = b.head_object("m.txt")
    raw = head.headers["x-oss-meta-author"]
    assert raw.encode("latin-1").decode("utf-8") == "张三 Müller"  # requests decodes latin-1


def test_upload_part_checks_content_md5(oss):
    b = bucket(oss)
    upload_id = b.init_multipart_upload("md5.bin").upload_id
    good = base64.b64encode(hashlib.md5(b"part").digest()).decode()
    b.upload_part("md5.bin", upload_id, 1, b"part", headers={"Content-MD5": good})
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        b.upload_part("md5.bin", upload_id, 2, b"part", headers={"Content-MD5": "AAAA" + good[4:]})
    assert exc.value.code == "InvalidDigest"
    assert [p.part_number for p in b.list_parts("md5.bin", upload_id).parts] == [1]
    b.abort_multipart_upload("md5.bin", upload_id)
