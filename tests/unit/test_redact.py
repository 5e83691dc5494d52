"""The one scrubbing function: URL userinfo, secret query parameters and options, known values."""

from jupyter_workbench.redact import scrub, split_url_credentials, url_secrets


def test_userinfo_is_removed_from_urls_anywhere_in_a_message():
    message = "destination oss://LTAIkey:S3cr3t%2Fx@bucket/models/m is not writable"
    assert scrub(message) == "destination oss://***@bucket/models/m is not writable"
    assert scrub("s3://AK@bucket/x and http://u:p@host:9/y") == (
        "s3://***@bucket/x and http://***@host:9/y"
    )


def test_plain_urls_and_paths_are_kept():
    for text in ("oss://bucket/models/m", "mount://data/a@b", "models/x@2/1", "a@b.com"):
        assert scrub(text) == text


def test_secret_query_parameters_are_masked_and_others_kept():
    url = (
        "https://b.oss.example.com/k?OSSAccessKeyId=AK&Expires=1&Signature=abc%3D"
        "&security-token=TOK&versionId=7&X-Amz-Credential=AK2&max-keys=100"
    )
    assert scrub(url) == (
        "https://b.oss.example.com/k?OSSAccessKeyId=***&Expires=1&Signature=***"
        "&security-token=***&versionId=7&X-Amz-Credential=***&max-keys=100"
    )


def test_known_secret_values_and_secret_options_in_structures():
    data = {
        "url": "oss://bucket/x",
        "options": {"endpoint": "http://127.0.0.1:9", "key": "AKID", "secret": "SK-123"},
        "secret_options": ["secret"],
        "has_credentials": True,
        "log": ["failed with SK-123 for AKID"],
    }
    clean = scrub(data, ["SK-123", "AKID"])
    assert clean["options"] == {"endpoint": "http://127.0.0.1:9", "key": "***", "secret": "***"}
    assert clean["log"] == ["failed with *** for ***"]
    assert clean["secret_options"] == ["secret"] and clean["has_credentials"] is True
    assert "SK-123" not in repr(clean) and data["options"]["secret"] == "SK-123"  # a copy


def test_credentials_split_out_of_a_url():
    assert split_url_credentials("oss://AK:S%40K@bucket/m?x=1") == (
        "oss://bucket/m?x=1",
        {"key": "AK", "secret": "S@K"},
    )
    assert split_url_credentials("oss://bucket/m") == ("oss://bucket/m", {})
    assert {"S%40K", "S@K", "AK"} <= set(url_secrets("oss://AK:S%40K@bucket/m"))
