"""Mount names and URLs: every kind, traversal, allowed roots, secrets kept apart."""

from __future__ import annotations

import os

import pytest

from jupyter_workbench.storage import (
    InvalidMountError,
    PathNotAllowedError,
    UnsupportedMountError,
    is_secret_option,
    normalize_relative_path,
    parse_mount_url,
    validate_mount_name,
)
from jupyter_workbench.storage.errors import http_status_for

OSS_OPTS = {"endpoint": "https://oss-cn-hangzhou.aliyuncs.com"}


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize("name", ["data", "Data-1", "a", "x.y_z", "9lives", "a" * 64])
def test_valid_mount_names(name):
    assert validate_mount_name(name) == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        ("a/b", "slashes"),
        ("a\\b", "slashes"),
        ("..", "'..'"),
        ("a..b", "'..'"),
        (".hidden", "letters, digits"),
        ("-x", "letters, digits"),
        ("sp ace", "letters, digits"),
        ("名字", "letters, digits"),
        ("a" * 65, "limit is 64"),
    ],
)
def test_invalid_mount_names_say_why(name, fragment):
    # When
    with pytest.raises(InvalidMountError) as exc:
        validate_mount_name(name)
    # Then
    assert fragment in str(exc.value)
    assert exc.value.http_status == 400 and http_status_for(exc.value) == 400


@pytest.mark.parametrize(
    ("path", "expected"),
    [("", ""), ("/a//b/", "a/b"), ("./a/./b", "a/b"), ("a\\b", "a/b"), (None, "")],
)
def test_relative_paths_are_normalised(path, expected):
    assert normalize_relative_path(path) == expected


@pytest.mark.parametrize("path", ["..", "a/../b", "../etc/passwd", "a/..", "x\x00y"])
def test_traversal_in_paths_is_refused(path):
    with pytest.raises(PathNotAllowedError):
        normalize_relative_path(path)


# ----------------------------------------------------------------------------- oss


def test_oss_url_with_prefix_and_secrets_split():
    # When
    t = parse_mount_url(
        "oss://my-bucket/data/train/",
        {**OSS_OPTS, "key": "AKID", "secret": "s3cr3t", "token": "tok", "read_timeout": "30"},
    )
    # Then
    assert (t.protocol, t.url, t.root) == (
        "oss",
        "oss://my-bucket/data/train",
        "my-bucket/data/train",
    )
    assert t.location == {"bucket": "my-bucket", "prefix": "data/train"}
    assert t.options == {"endpoint": "https://oss-cn-hangzhou.aliyuncs.com", "read_timeout": 30.0}
    assert t.secrets == {"key": "AKID", "secret": "s3cr3t", "token": "tok"}
    assert "s3cr3t" not in repr(t) and "AKID" not in repr(t)


def test_oss_credentials_in_the_url_are_moved_out_of_it():
    # When
    t = parse_mount_url("oss://AKID:top%2Fsecret@bucket1/p", OSS_OPTS)
    # Then
    assert t.url == "oss://bucket1/p"
    assert t.secrets == {"key": "AKID", "secret": "top/secret"}


def test_oss_endpoint_is_normalised_and_validated():
    assert parse_mount_url("oss://abc", {"endpoint": "127.0.0.1:9000"}).options["endpoint"] == (
        "https://127.0.0.1:9000"
    )
    assert parse_mount_url("oss://abc", {"endpoint": "http://localhost:9/"}).options[
        "endpoint"
    ] == ("http://localhost:9")
    with pytest.raises(InvalidMountError, match="endpoint"):
        parse_mount_url("oss://abc", {"endpoint": "http://user:pw@host/path"})


def test_oss_endpoint_is_required_unless_in_the_environment(monkeypatch):
    # Given
    monkeypatch.delenv("OSS_ENDPOINT", raising=False)
    # When / Then
    with pytest.raises(InvalidMountError, match="endpoint"):
        parse_mount_url("oss://abc")
    monkeypatch.setenv("OSS_ENDPOINT", "https://oss-cn-beijing.aliyuncs.com")
    assert parse_mount_url("oss://abc").options == {}


@pytest.mark.parametrize(
    ("url", "options", "fragment"),
    [
        ("oss://AB", OSS_OPTS, "bucket name"),
        ("oss://a", OSS_OPTS, "bucket name"),
        ("oss://-bad-", OSS_OPTS, "bucket name"),
        ("oss://bucket/../x", OSS_OPTS, "'..'"),
        ("oss://bucket/a?x=1", OSS_OPTS, "query"),
        ("oss://bucket", {**OSS_OPTS, "key": "only-key"}, "both 'key'"),
        ("oss://bucket", {**OSS_OPTS, "token": "t"}, "token"),
        ("oss://bucket", {**OSS_OPTS, "colour": "red"}, "Unknown option 'colour'"),
        ("oss://bucket", {**OSS_OPTS, "retries": "many"}, "number"),
        ("oss://bucket", {**OSS_OPTS, "anonymous": "maybe"}, "true or false"),
    ],
)
def test_invalid_oss_urls_say_why(url, options, fragment):
    with pytest.raises(InvalidMountError) as exc:
        parse_mount_url(url, options)
    assert fragment in str(exc.value)


def test_oss_error_messages_never_contain_the_secret():
    # When
    with pytest.raises(InvalidMountError) as exc:
        parse_mount_url("oss://AKID:hunter2@BAD_BUCKET/x", OSS_OPTS)
    # Then
    assert "hunter2" not in str(exc.value)


# ----------------------------------------------------------------------------- s3


def test_s3_url():
    # When
    t = parse_mount_url(
        "s3://my.bucket/prefix",
        {"endpoint": "http://127.0.0.1:5000", "key": "k", "secret": "s", "region": "us-east-1"},
    )
    # Then
    assert (t.protocol, t.url, t.root) == ("s3", "s3://my.bucket/prefix", "my.bucket/prefix")
    assert t.options == {"endpoint_url": "http://127.0.0.1:5000", "region": "us-east-1"}
    assert t.secrets == {"key": "k", "secret": "s"}


def test_s3_rejects_bad_bucket():
    with pytest.raises(InvalidMountError, match="bucket"):
        parse_mount_url("s3://x")


# ----------------------------------------------------------------------------- file


def test_file_url_under_an_allowed_root(tmp_path):
    # Given
    (tmp_path / "data").mkdir()
    # When
    t = parse_mount_url(f"file://{tmp_path}/data", allowed_local_roots=[tmp_path])
    # Then
    real = os.path.realpath(tmp_path / "data")
    assert (t.protocol, t.root, t.url) == ("file", real, f"file://{real}")


def test_file_url_outside_allowed_roots_is_refused(tmp_path):
    # Given
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (tmp_path / "secret").mkdir()
    # When / Then
    with pytest.raises(PathNotAllowedError, match="outside the allowed local roots"):
        parse_mount_url(f"file://{tmp_path}/secret", allowed_local_roots=[allowed])
    with pytest.raises(PathNotAllowedError, match="outside"):
        parse_mount_url("file:///etc", allowed_local_roots=[allowed])


def test_file_url_symlink_escaping_the_root_is_refused(tmp_path):
    # Given: a link inside the allowed root pointing outside it
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (allowed / "link").symlink_to(outside)
    # When / Then
    with pytest.raises(PathNotAllowedError, match="resolved to"):
        parse_mount_url(f"file://{allowed}/link", allowed_local_roots=[allowed])


def test_file_url_with_dotdot_is_refused(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(PathNotAllowedError, match=r"'\.\.'"):
        parse_mount_url(f"file://{tmp_path}/a/../a", allowed_local_roots=[tmp_path])


def test_file_url_needs_configured_roots_and_an_existing_directory(tmp_path):
    with pytest.raises(PathNotAllowedError, match="allowed_local_roots"):
        parse_mount_url(f"file://{tmp_path}", allowed_local_roots=[])
    with pytest.raises(InvalidMountError, match="does not exist"):
        parse_mount_url(f"file://{tmp_path}/missing", allowed_local_roots=[tmp_path])
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(InvalidMountError, match="not a directory"):
        parse_mount_url(f"file://{tmp_path}/f.txt", allowed_local_roots=[tmp_path])
    with pytest.raises(InvalidMountError, match="must be local"):
        parse_mount_url(f"file://otherhost{tmp_path}", allowed_local_roots=[tmp_path])
    with pytest.raises(InvalidMountError, match="Unknown option"):
        parse_mount_url(f"file://{tmp_path}", {"x": 1}, allowed_local_roots=[tmp_path])


# ----------------------------------------------------------------------------- nas / smb


@pytest.mark.parametrize(
    ("url", "server", "export"),
    [
        ("nas://nas.example.com:/share", "nas.example.com", "/share"),
        ("nas://10.0.0.5:/exports/data/sub/", "10.0.0.5", "/exports/data/sub"),
        ("nas://0a1b.cn-hangzhou.nas.aliyuncs.com/", "0a1b.cn-hangzhou.nas.aliyuncs.com", "/"),
    ],
)
def test_nas_urls(url, server, export):
    t = parse_mount_url(url, {"mount_options": "vers=4.1,ro"})
    assert t.protocol == "nas" and t.location == {"server": server, "export": export}
    assert t.url == f"nas://{server}:{export}" and t.options == {"mount_options": "vers=4.1,ro"}


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("nas://server", {}),
        ("nas://server:/a/../b", {}),
        ("nas://bad host:/x", {}),
        ("nas://server:/x", {"mount_options": "ro;rm -rf /"}),
    ],
)
def test_invalid_nas_urls(url, options):
    with pytest.raises(InvalidMountError):
        parse_mount_url(url, options)


def test_smb_url_with_user_password_and_port():
    # When
    t = parse_mount_url("smb://alice:pa55@fileserver:1445/team/projects/x")
    # Then
    assert t.url == "smb://fileserver:1445/team/projects/x"
    assert t.root == "/team/projects/x"
    assert t.location == {"host": "fileserver", "share": "team", "path": "projects/x"}
    assert t.options == {"username": "alice", "port": 1445}
    assert t.secrets == {"password": "pa55"}
    assert "pa55" not in repr(t)


def test_smb_url_needs_a_share():
    with pytest.raises(InvalidMountError, match="share"):
        parse_mount_url("smb://fileserver/")
    with pytest.raises(InvalidMountError, match="port"):
        parse_mount_url("smb://fileserver:99999/share")


# ----------------------------------------------------------------------------- others


def test_other_installed_fsspec_protocols_pass_options_through():
    # When
    t = parse_mount_url("https://example.com/data", {"block_size": 0, "api_token": "t"})
    # Then
    assert t.protocol == "https" and t.root == "https://example.com/data"
    assert t.options == {"block_size": 0} and t.secrets == {"api_token": "t"}


@pytest.mark.parametrize(
    ("url", "error", "fragment"),
    [
        ("foo://x/y", InvalidMountError, "Unknown protocol 'foo'"),
        ("memory://x", InvalidMountError, "one process"),
        ("zip://inner", InvalidMountError, "archives"),
        ("simplecache::s3://b/x", InvalidMountError, "Chained"),
        ("no-protocol/path", InvalidMountError, "no protocol"),
        ("", InvalidMountError, "empty"),
    ],
)
def test_unknown_and_unmountable_protocols(url, error, fragment):
    with pytest.raises(error) as exc:
        parse_mount_url(url)
    assert fragment in str(exc.value)


def test_known_protocol_without_its_package_is_unsupported(monkeypatch):
    # Given: a protocol fsspec knows whose package is missing
    from fsspec.registry import known_implementations

    monkeypatch.setitem(
        known_implementations,
        "wbtest",
        {"class": "no_such_module_wb.FS", "err": "Install no_such_module_wb"},
    )
    # When / Then
    with pytest.raises(UnsupportedMountError, match="no_such_module_wb") as exc:
        parse_mount_url("wbtest://x")
    assert exc.value.http_status == 400


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("key", True),
        ("secret", True),
        ("token", True),
        ("password", True),
        ("account_key", True),
        ("client_secret", True),
        ("endpoint", False),
        ("username", False),
        ("region", False),
        ("block_size", False),
    ],
)
def test_secret_option_names(name, secret):
    assert is_secret_option(name) is secret


def test_http_status_mapping():
    from jupyter_workbench.storage import (
        MountExistsError,
        MountNotFoundError,
        ReadOnlyMountError,
        StorageCredentialsError,
        StorageUnavailableError,
    )

    cases = {
        InvalidMountError("x"): 400,
        PathNotAllowedError("x"): 400,
        UnsupportedMountError("x"): 400,
        StorageCredentialsError("x"): 400,
        MountNotFoundError("x"): 404,
        MountExistsError("x"): 409,
        ReadOnlyMountError("x"): 403,
        StorageUnavailableError("x"): 502,
        FileNotFoundError("x"): 404,
        FileExistsError("x"): 409,
        NotADirectoryError("x"): 400,
        PermissionError("x"): 403,
        RuntimeError("bug"): 500,
    }
    for exc, status in cases.items():
        assert http_status_for(exc) == status, exc
    assert StorageCredentialsError("bad key").to_dict() == {
        "message": "bad key",
        "category": "credentials",
    }
