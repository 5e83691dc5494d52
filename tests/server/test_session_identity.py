"""Session expiry under an identity provider the workbench cannot extend: said, not faked."""

from __future__ import annotations

import json

import pytest
from jupyter_server.auth.identity import IdentityProvider


class CustomIdentityProvider(IdentityProvider):
    """Somebody's own login (an SSO proxy, say): the workbench cannot add expiry to it."""


@pytest.fixture
def jp_server_config(jp_server_config):
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_workbench": True},
            "identity_provider_class": CustomIdentityProvider,
        },
        "Workbench": {"session_absolute_timeout": 30},
    }


async def test_unknown_identity_provider_is_kept_and_the_endpoint_says_so(jp_fetch, jp_serverapp):
    # Given a server whose admin configured their own identity provider
    # Then it is kept (not replaced behind the admin's back)
    assert type(jp_serverapp.identity_provider) is CustomIdentityProvider
    # When a client asks about its session
    body = json.loads((await jp_fetch("workbench", "api", "session")).body)
    # Then it is told plainly that expiry is not enforced, and why, with no deadline
    assert body["logged_in"] is True
    assert body["enforced"] is False
    assert "CustomIdentityProvider" in body["not_enforced_because"]
    assert body["absolute_timeout"] == 0 and body["expires_at"] is None
