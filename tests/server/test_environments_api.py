"""``workbench/api/environments``: listing and creation errors (real creation: tests/unit)."""

import json

import pytest
from tornado.httpclient import HTTPClientError


@pytest.fixture
def jp_server_config(jp_server_config, tmp_path):
    config = dict(jp_server_config)
    config["Workbench"] = {
        **config.get("Workbench", {}),
        "environments_dir": str(tmp_path / "envs"),
    }
    return config


async def test_lists_py3_and_tf2_with_state(jp_fetch):
    # Given a server whose environments were never created
    # When the frontend lists the environments
    response = await jp_fetch("workbench", "api", "environments")

    # Then both are there, not ready, each saying how to create it
    envs = {e["name"]: e for e in json.loads(response.body)}
    assert set(envs) == {"py3", "tf2"}
    for name, env in envs.items():
        assert env["ready"] is False
        assert env["kernel_name"]
        assert f"jupyter workbench env create {name}" in env["message"]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_unknown_environment_is_404_with_message(jp_fetch, method):
    # When a client asks for an environment that does not exist
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(
            "workbench",
            "api",
            "environments",
            "tf9",
            method=method,
            **({"body": "{}"} if method == "POST" else {}),
        )

    # Then it gets a 404 naming it
    assert e.value.code == 404
    assert "tf9" in json.loads(e.value.response.body)["message"]
