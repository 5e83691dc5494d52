"""The handshake endpoint the frontend calls on start."""

import json

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_workbench import __version__


async def test_status_reports_version_and_features(jp_fetch):
    # When the frontend asks who the server is
    response = await jp_fetch("workbench", "api", "status")

    # Then it gets the package version and the features it can show
    assert response.code == 200
    data = json.loads(response.body)
    assert data["version"] == __version__
    assert data["features"]["export"] is True


async def test_status_requires_authentication(jp_fetch):
    # Given a request without the server's token
    # When it asks for the status
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("workbench", "api", "status", headers={"Authorization": ""})

    # Then it is refused as every Jupyter API refuses it
    assert e.value.code == 403
