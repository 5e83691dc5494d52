"""The OSS emulator's newer protocol pieces against the real SDKs: signatures V2 and V4 (oss2 and
alibabacloud-oss-v2), symlinks, UploadPartCopy, tagging and ACL headers, request dates."""

from __future__ import annotations

import time

import oss2
import pytest
import requests

from jupyter_workbench.testing import OSSEmulator

try:
    from ._storage_fixtures import AK, SK, oss
except ImportError:
    from _storage_fixtures import AK, SK, oss

__all__ = ["oss"]

REGION = "cn-hangzhou"


def bucket(emulator, name="demo", auth=None) -> oss2.Bucket:
    return oss2.Bucket(
        auth or oss2.Auth(AK, SK), emulator.endpoint, name, connect_timeout=5, region=REGION
    )


def error(call, *args, **kwargs) -> tuple[int, str]:
    with pytest.raises(oss2.exceptions.OssError) as exc:
        call(*args, **kwargs)
    return exc.value.status, exc.value.code


# ----------------------------------------------------------------------------- signatures


@pytest.mark.parametrize("auth_class", [oss2.AuthV4, oss2.AuthV2])
def test_signature_v4_and_v2_headers_sign_every_operation(oss, auth_class):
    # Given: a key with spaces, '+' and non-ASCII, UTF-8 metadata and a query with a subresource
    b = bucket(oss, auth=auth_class(AK, SK))
    key = "v4 dir/ü+a b.txt"
    # When
    b.put_object(key, b"hello", headers={"x-oss-meta-who": "张三".encode()})
    listed = [o.key for o in oss2.ObjectIterator(b, prefix="v4 dir/", delimiter="/")]
    b.put_object_acl(key, oss2.OBJECT_ACL_PUBLIC_READ)
    # Then
    assert b.get_object(key).read() == b"hello"
    assert listed == [key]
    assert b.get_object_acl(key).acl == "public-read"
    head = b.head_object(key).headers["x-oss-meta-who"]
    assert head.encode("latin-1").decode() == "张三"


@pytest.mark.parametrize("auth_class", [oss2.AuthV4, oss2.AuthV2, oss2.Auth])
def test_wrong_secret_is_refused_in_every_signature_version(oss, auth_class):
    b = bucket(oss, auth=auth_class(AK, SK + "x"))
    assert error(b.get_object, "README.txt") == (403, "SignatureDoesNotMatch")
    assert error(bucket(oss, auth=auth_class("NOSUCHKEY", SK)).get_object, "README.txt") == (
        403,
        "InvalidAccessKeyId",
    )


@pytest.mark.parametrize("auth_class", [oss2.AuthV4, oss2.AuthV2])
def test_presigned_urls_v4_and_v2_work_expire_and_cannot_be_altered(oss, auth_class):
    # Given
    b = bucket(oss, auth=auth_class(AK, SK))
    b.put_object("signed/ü.txt", b"content")
    url = b.sign_url("GET", "signed/ü.txt", 60)
    put_url = b.sign_url("PUT", "signed/new.txt", 60, headers={"x-oss-meta-by": "url"})
    short = b.sign_url("GET", "signed/ü.txt", 1)
    # When / Then: the URL works with a plain HTTP client, headers it signed included
    assert requests.get(url, timeout=5).content == b"content"
    assert requests.put(put_url, data=b"x", headers={"x-oss-meta-by": "url"}, timeout=5).ok
    assert oss.get_object("demo", "signed/new.txt") == b"x"
    # a header the URL did not sign, another key and an expired URL are refused
    assert (
        requests.put(put_url, data=b"y", headers={"x-oss-meta-by": "me"}, timeout=5).status_code
        == 403
    )
    assert "%C3%BC.txt" in url
    assert requests.get(url.replace("%C3%BC.txt", "x.txt"), timeout=5).status_code == 403
    time.sleep(2.1)
    assert requests.get(short, timeout=5).status_code == 403
    assert oss.get_object("demo", "signed/new.txt") == b"x"


def test_v4_with_sts_token_and_its_expiry(oss):
    # Given
    creds = oss.issue_sts(lifetime=3600)
    sts = oss2.StsAuth(
        creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"], auth_version="v4"
    )
    wrong = oss2.StsAuth(
        creds["AccessKeyId"], creds["AccessKeySecret"], "forged", auth_version="v4"
    )
    # Then
    assert bucket(oss, auth=sts).get_object("README.txt").read().startswith(b"This bucket")
    assert error(bucket(oss, auth=wrong).get_object, "README.txt") == (403, "InvalidSecurityToken")
    oss.expire(creds["AccessKeyId"])
    assert error(bucket(oss, auth=sts).get_object, "README.txt") == (403, "SecurityTokenExpired")


@pytest.mark.parametrize("auth_class", [oss2.Auth, oss2.AuthV2])
def test_a_request_dated_a_day_off_is_refused(oss, auth_class):
    b = bucket(oss, auth=auth_class(AK, SK))
    tomorrow = {"x-oss-date": oss2.utils.http_date(int(time.time()) + 24 * 3600)}
    assert error(b.get_object, "README.txt", headers=tomorrow) == (403, "RequestTimeTooSkewed")
    soon = {"x-oss-date": oss2.utils.http_date(int(time.time()) + 60)}
    assert b.get_object("README.txt", headers=soon).status == 200


def test_v4_credential_scope_must_match_the_request_date(oss):
    # Given: a V4 request whose Authorization scope names another day than its x-oss-date
    b = bucket(oss, auth=oss2.AuthV4(AK, SK))
    req = oss2.http.Request("GET", f"{oss.endpoint}/demo/README.txt", region=REGION, product="oss")
    b.auth._sign_request(req, "demo", "README.txt")
    auth = req.headers["authorization"]
    day = req.headers["x-oss-date"][:8]
    req.headers["authorization"] = auth.replace(f"/{day}/", "/20000101/")
    # When
    r = requests.get(req.url, headers=dict(req.headers), timeout=5)
    # Then
    assert r.status_code == 400
    assert b"Invalid credential" in r.content


def test_alibabacloud_oss_v2_client_signs_v4_against_the_emulator(oss):
    sdk = pytest.importorskip("alibabacloud_oss_v2")
    # Given: the current SDK with its defaults (signature V4), path style for the loopback address
    cfg = sdk.config.load_default()
    cfg.credentials_provider = sdk.credentials.StaticCredentialsProvider(AK, SK)
    cfg.region, cfg.endpoint, cfg.use_path_style = REGION, oss.endpoint, True
    client = sdk.Client(cfg)
    key = "sdk v2/ü+.txt"
    # When
    client.put_object(
        sdk.PutObjectRequest(
            bucket="demo", key=key, body=b"hi", metadata={"who": "me"}, tagging="a=1"
        )
    )
    got = client.get_object(sdk.GetObjectRequest(bucket="demo", key=key))
    listed = client.list_objects_v2(sdk.ListObjectsV2Request(bucket="demo", prefix="sdk v2/"))
    url = client.presign(sdk.GetObjectRequest(bucket="demo", key=key)).url
    tags = client.get_object_tagging(sdk.GetObjectTaggingRequest(bucket="demo", key=key))
    # Then
    assert got.body.read() == b"hi"
    assert got.metadata == {"who": "me"}
    assert [o.key for o in listed.contents] == [key]
    assert requests.get(url, timeout=5).content == b"hi"
    assert [(t.key, t.value) for t in tags.tag_set.tags] == [("a", "1")]
    with pytest.raises(sdk.exceptions.OperationError) as exc:
        client.put_object(
            sdk.PutObjectRequest(bucket="demo", key=key, body=b"2", forbid_overwrite=True)
        )
    assert "FileAlreadyExists" in str(exc.value)
    assert oss.get_object("demo", key) == b"hi"


# ----------------------------------------------------------------------------- symlinks


def test_symlink_put_get_and_follow(oss):
    # Given
    b = bucket(oss)
    b.put_object("data/target.csv", b"a,b\n1,2\n", headers={"Content-Type": "text/csv"})
    # When: a symlink with its own metadata and tags (a non-ASCII name, as oss2's suite uses)
    link = "链接/latest.csv"
    b.put_symlink(
        "data/target.csv", link, headers={"x-oss-meta-role": "alias", "x-oss-tagging": "k=v"}
    )
    # Then: GetSymlink names the target, GET and HEAD follow it with the link's own metadata
    assert b.get_symlink(link).target_key == "data/target.csv"
    got = b.get_object(link)
    assert got.read() == b"a,b\n1,2\n"
    head = b.head_object(link)
    target = b.head_object("data/target.csv")
    assert head.object_type == "Symlink"
    assert (head.content_length, head.etag) == (target.content_length, target.etag)
    assert head.content_type == "text/csv"
    assert head.headers["x-oss-meta-role"] == "alias"
    assert "x-oss-meta-role" not in target.headers
    assert b.get_object_tagging(link).tag_set.tagging_rule == {"k": "v"}
    assert b.get_object(link, byte_range=(2, 2)).read() == b"b"
    listed = {o.key: o.type for o in oss2.ObjectIterator(b)}
    assert listed[link] == "Symlink"
    # the target's new bytes show through; deleting the link leaves the target
    b.put_object("data/target.csv", b"new")
    assert b.get_object(link).read() == b"new"
    b.delete_object(link)
    assert oss.get_object("demo", "data/target.csv") == b"new"


def test_symlink_errors(oss):
    b = bucket(oss)
    assert error(b.get_symlink, "nothing") == (404, "NoSuchKey")
    assert error(b.get_symlink, "README.txt") == (400, "NotSymlink")
    b.put_symlink("missing-target", "dangling")  # allowed, as on OSS
    assert error(b.get_object, "dangling") == (404, "SymlinkTargetNotExist")
    assert error(b.head_object, "dangling")[0] == 404
    forbid = {"x-oss-forbid-overwrite": "true"}
    assert error(b.put_symlink, "README.txt", "dangling", headers=forbid) == (
        409,
        "FileAlreadyExists",
    )
    assert b.get_symlink("dangling").target_key == "missing-target"
    assert oss.get_object("demo", "README.txt").startswith(b"This bucket")


def test_symlink_survives_a_restart_on_disk(tmp_path):
    with OSSEmulator(root=str(tmp_path)) as first:
        first.put_object("demo", "t.txt", b"payload")
        bucket(first).put_symlink("t.txt", "l.txt")
    with OSSEmulator(root=str(tmp_path)) as second:
        assert bucket(second).get_symlink("l.txt").target_key == "t.txt"
        assert bucket(second).get_object("l.txt").read() == b"payload"


# ----------------------------------------------------------------------------- UploadPartCopy


def test_upload_part_copy_ranges_and_whole_source(oss):
    # Given: a 300 KB source in another bucket
    oss.create_bucket("other")
    src = bytes(range(256)) * 1200
    oss.put_object("other", "src.bin", src)
    b = bucket(oss)
    upload_id = b.init_multipart_upload("copied.bin").upload_id
    # When: part 1 is a range of the source, part 2 the whole of it
    p1 = b.upload_part_copy("other", "src.bin", (0, 102_399), "copied.bin", upload_id, 1)
    p2 = b.upload_part_copy("other", "src.bin", None, "copied.bin", upload_id, 2)
    parts = b.list_parts("copied.bin", upload_id).parts
    b.complete_multipart_upload(
        "copied.bin",
        upload_id,
        [oss2.models.PartInfo(1, p1.etag), oss2.models.PartInfo(2, p2.etag)],
    )
    # Then
    assert [(p.part_number, p.size) for p in parts] == [(1, 102_400), (2, len(src))]
    assert b.get_object("copied.bin").read() == src[:102_400] + src
    assert oss.get_object("other", "src.bin") == src


def test_upload_part_copy_conditions_and_missing_source(oss):
    b = bucket(oss)
    oss.put_object("demo", "src.txt", b"abc")
    upload_id = b.init_multipart_upload("dst.txt").upload_id
    wrong_etag = {"x-oss-copy-source-if-match": '"0000"'}
    assert error(
        b.upload_part_copy, "demo", "src.txt", None, "dst.txt", upload_id, 1, headers=wrong_etag
    ) == (412, "PreconditionFailed")
    assert error(b.upload_part_copy, "demo", "nope.txt", None, "dst.txt", upload_id, 1) == (
        404,
        "NoSuchKey",
    )
    assert error(b.upload_part_copy, "demo", "src.txt", None, "dst.txt", "NOUPLOAD", 1) == (
        404,
        "NoSuchUpload",
    )
    assert b.list_parts("dst.txt", upload_id).parts == []


def test_anonymous_copy_cannot_read_a_private_source(oss):
    # Given: a public-read-write bucket and a private one
    oss.create_bucket("open-rw")
    oss.store.set_bucket_acl("open-rw", "public-read-write")
    anon = bucket(oss, "open-rw", auth=oss2.AnonymousAuth())
    # When / Then: anonymous writes go in, but not bytes copied out of the private bucket
    anon.put_object("mine.txt", b"ok")
    assert error(anon.copy_object, "demo", "README.txt", "stolen.txt")[0] == 403
    upload_id = anon.init_multipart_upload("stolen.bin").upload_id
    assert (
        error(anon.upload_part_copy, "demo", "README.txt", None, "stolen.bin", upload_id, 1)[0]
        == 403
    )
    assert not oss.exists("open-rw", "stolen.txt")


# ------------------------------------------------------------------------- tagging and ACL headers


def test_tagging_and_acl_headers_on_put_copy_append_and_multipart(oss):
    b = bucket(oss)
    # PutObject with x-oss-tagging and x-oss-object-acl
    b.put_object(
        "t.txt", b"x", headers={"x-oss-tagging": "a=1&b=%E4%B8%AD", "x-oss-object-acl": "private"}
    )
    assert b.get_object_tagging("t.txt").tag_set.tagging_rule == {"a": "1", "b": "中"}
    assert b.get_object_acl("t.txt").acl == "private"
    # CopyObject copies the tags, or replaces them with the tagging directive
    b.copy_object("demo", "t.txt", "copy.txt")
    assert b.get_object_tagging("copy.txt").tag_set.tagging_rule == {"a": "1", "b": "中"}
    b.copy_object(
        "demo",
        "t.txt",
        "copy2.txt",
        headers={"x-oss-tagging-directive": "REPLACE", "x-oss-tagging": "c=3"},
    )
    assert b.get_object_tagging("copy2.txt").tag_set.tagging_rule == {"c": "3"}
    # AppendObject and multipart keep the tags the first request named
    b.append_object("ap.txt", 0, b"1", headers={"x-oss-tagging": "d=4"})
    assert b.get_object_tagging("ap.txt").tag_set.tagging_rule == {"d": "4"}
    upload_id = b.init_multipart_upload("mp.bin", headers={"x-oss-tagging": "e=5"}).upload_id
    part = b.upload_part("mp.bin", upload_id, 1, b"z")
    b.complete_multipart_upload("mp.bin", upload_id, [oss2.models.PartInfo(1, part.etag)])
    assert b.get_object_tagging("mp.bin").tag_set.tagging_rule == {"e": "5"}
    # invalid tags and ACLs are refused without writing
    too_many = "&".join(f"k{i}=v" for i in range(11))
    assert error(b.put_object, "bad.txt", b"x", headers={"x-oss-tagging": too_many}) == (
        400,
        "InvalidTag",
    )
    assert error(b.put_object, "bad.txt", b"x", headers={"x-oss-object-acl": "all"})[0] == 400
    assert not oss.exists("demo", "bad.txt")


def test_live_channel_listing_is_empty_and_creation_not_implemented(oss):
    b = bucket(oss)
    assert list(oss2.LiveChannelIterator(b)) == []
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        b.create_live_channel(
            "ch", oss2.models.LiveChannelInfo(target=oss2.models.LiveChannelInfoTarget())
        )
    assert (exc.value.status, exc.value.code) == (501, "NotImplemented")


# ------------------------------------------------------------------------ listings and bucket calls


def test_multipart_upload_listing_pages_and_rolls_up_at_the_delimiter(oss):
    # Given: 5 uploads of one key and uploads under 3 "directories"
    b = bucket(oss)
    ids = sorted(b.init_multipart_upload("up/key").upload_id for _ in range(5))
    dirs = [f"up/d{i}/" for i in range(3)]
    for d in dirs:
        b.init_multipart_upload(d + "x")
        b.init_multipart_upload(d + "y")
    b.init_multipart_upload("elsewhere")
    # When: two entries per page
    got = list(oss2.MultipartUploadIterator(b, prefix="up/", delimiter="/", max_uploads=2))
    flat = list(oss2.MultipartUploadIterator(b, prefix="up/d1/", max_uploads=1))
    # Then
    assert [u.key for u in got if u.is_prefix()] == dirs
    assert [u.upload_id for u in got if not u.is_prefix()] == ids
    assert [u.key for u in flat] == ["up/d1/x", "up/d1/y"]


def test_listing_v2_names_owners_only_when_asked(oss):
    b = bucket(oss)
    plain = b.list_objects_v2(prefix="README")
    owned = b.list_objects_v2(prefix="README", fetch_owner=True)
    assert [o.key for o in plain.object_list] == ["README.txt"]
    assert plain.object_list[0].owner is None
    assert owned.object_list[0].owner.id


def test_multipart_keeps_the_acl_and_refuses_repeated_tag_keys(oss):
    b = bucket(oss)
    upload_id = b.init_multipart_upload(
        "acl.bin", headers={"x-oss-object-acl": oss2.OBJECT_ACL_PRIVATE}
    ).upload_id
    part = b.upload_part("acl.bin", upload_id, 1, b"z")
    b.complete_multipart_upload("acl.bin", upload_id, [oss2.models.PartInfo(1, part.etag)])
    assert b.get_object_acl("acl.bin").acl == "private"
    twice = {"x-oss-tagging": "a=b&a=c"}
    assert error(b.init_multipart_upload, "t.bin", headers=twice) == (400, "InvalidTag")


def test_batch_delete_of_keys_with_control_characters(oss):
    b = bucket(oss)
    key = "中文!@#$%^&*()-=文件\x0c-2.txt"
    b.put_object(key, b"x")
    assert b.batch_delete_objects([key]).deleted_keys == [key]
    assert not oss.exists("demo", key)


def test_bucket_stat_and_info_fields(oss):
    b = bucket(oss)
    b.put_object("seven.txt", b"content")
    stat = b.get_bucket_stat()
    readme = len(oss.get_object("demo", "README.txt"))
    iris = len(oss.get_object("demo", "data/iris.csv"))
    assert (stat.object_count, stat.storage_size_in_bytes) == (3, 7 + readme + iris)
    assert (stat.standard_object_count, stat.archive_object_count) == (3, 0)
    assert stat.last_modified_time >= int(time.time()) - 60
    info = b.get_bucket_info()
    assert info.bucket_encryption_rule.sse_algorithm is None
    assert info.comment == ""


# ---------------------------------------------------------------------- storage classes and restore


def test_archived_objects_are_read_only_after_a_restore():
    with OSSEmulator(restore_seconds=0.3) as emu:
        # Given: an Archive bucket (its objects default to Archive) and an IA object in it
        b = bucket(emu, "cold")
        b.create_bucket(
            oss2.BUCKET_ACL_PRIVATE,
            oss2.models.BucketCreateConfig(oss2.BUCKET_STORAGE_CLASS_ARCHIVE),
        )
        b.put_object("a.txt", b"frozen")
        b.put_object("ia.txt", b"warm", headers={"x-oss-storage-class": "IA"})
        assert b.get_bucket_info().storage_class == "Archive"
        assert {o.key: o.storage_class for o in b.list_objects().object_list} == {
            "a.txt": "Archive",
            "ia.txt": "IA",
        }
        # Then: the archived bytes cannot be read or copied before a restore
        assert error(b.get_object, "a.txt") == (403, "InvalidObjectState")
        assert error(b.copy_object, "cold", "a.txt", "copy.txt") == (403, "InvalidObjectState")
        assert b.get_object("ia.txt").read() == b"warm"
        assert error(b.restore_object, "ia.txt") == (400, "OperationNotSupported")
        # When: restored
        assert b.restore_object("a.txt").status == 202
        assert b.list_objects_v2().object_list[0].restore_info == 'ongoing-request="true"'
        assert error(b.restore_object, "a.txt") == (409, "RestoreAlreadyInProgress")
        assert error(b.get_object, "a.txt") == (403, "InvalidObjectState")
        time.sleep(0.4)
        # Then
        assert b.get_object("a.txt").read() == b"frozen"
        assert b.head_object("a.txt").headers["x-oss-restore"].startswith('ongoing-request="false"')
        assert b.restore_object("a.txt").status == 200  # a restored copy: its expiry moves
        stat = b.get_bucket_stat()
        assert (stat.archive_object_count, stat.infrequent_access_object_count) == (1, 1)


def test_restore_request_checks_tier_and_days(oss):
    b = bucket(oss)
    b.put_object("c.txt", b"x", headers={"x-oss-storage-class": "ColdArchive"})
    b.put_object("a.txt", b"x", headers={"x-oss-storage-class": "Archive"})
    wrong = oss2.models.RestoreConfiguration(
        days=5, job_parameters=oss2.models.RestoreJobParameters("wrong-tier")
    )
    bulk = oss2.models.RestoreConfiguration(
        days=5, job_parameters=oss2.models.RestoreJobParameters(oss2.models.RESTORE_TIER_BULK)
    )
    assert error(b.restore_object, "c.txt", input=wrong) == (400, "InvalidArgument")
    assert error(b.restore_object, "a.txt", input=bulk) == (400, "MalformedXML")
    assert b.restore_object("c.txt", input=bulk).status == 202
    assert error(b.put_object, "d.txt", b"x", headers={"x-oss-storage-class": "Glacier"})[0] == 400


def test_creating_an_existing_bucket_again_succeeds_and_keeps_it(oss):
    # OSS answers 200 to the owner re-creating its bucket (every emulator credential is one owner)
    b = bucket(oss)
    b.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ)
    assert b.get_bucket_acl().acl == "private"
    assert oss.get_object("demo", "README.txt").startswith(b"This bucket")
