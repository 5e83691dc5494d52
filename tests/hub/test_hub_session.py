"""Login expiry under a real JupyterHub: no false expiry, hub logins that expire, re-login
through the hub that keeps unsaved work. alice links the extensions in the usual order, bob
in reverse (conftest): both must behave the same."""

from __future__ import annotations

import re
import time

import pytest

from .conftest import hub_login_form, open_lab_through_hub, page_session

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_hub_login_shows_no_false_expiry_whatever_the_link_order(hub, contexts, user):
    # Given a user who logged in through the hub's login page
    page = open_lab_through_hub(contexts(), hub, user)

    # Then the page knows the session (its countdown runs) and never claims it expired
    page.locator(".jp-WorkbenchCountdown").filter(
        has_text=re.compile(r"^(Session|Idle logout) \d")
    ).wait_for()
    page.wait_for_timeout(6000)  # a few of the page's own background polls
    assert page.locator(".jp-WorkbenchLoginDialog").count() == 0
    state = page_session(page)
    assert state["logged_in"] is True
    assert state["user"] == user
    # the hub's OAuth login is a browser session the workbench enforces, re-login via the hub
    assert state["kind"] == "browser"
    assert state["enforced"] is True
    assert state["login"] == "hub"
    assert state["login_url"] == f"/user/{user}/workbench/session/login"
    assert state["report_activity"] is True
    if user == "alice":
        assert state["absolute_timeout"] == 40
        assert 39 <= state["expires_at"] - state["login_at"] <= 41
    else:
        assert state["idle_timeout"] == 20
    # and the hub's OAuth token never reaches the page (it would be a login that never expires)
    assert (
        page.evaluate(
            "JSON.parse(document.querySelector('#jupyter-config-data').textContent).token"
        )
        == ""
    )
    # nor does the server's own hub API token, which stock pages (a 404) template in
    response = page.goto(hub.server_url(user, "no-such-page"))
    assert response.status == 404
    assert not page.evaluate("document.body.dataset.jupyterApiToken")


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_hub_api_tokens_never_expire_through_the_workbench(hub, user):
    # Given a hub API token of the user (scripts, services)
    # When it asks for the session, long after any browser timeout would have passed
    r = hub.user_api(user, "workbench/api/session")
    # Then it is an API client: no browser session, no expiry
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "token"
    assert body["expires_at"] is None and body["idle_expires_at"] is None
    assert hub.user_api(user, "api/contents").status_code == 200


def test_hub_login_expires_after_40s_and_relogin_through_the_hub_keeps_the_edit(hub, contexts):
    # Given alice (session_absolute_timeout=40) editing a file after logging in via the hub
    home = hub.homes / "alice"
    hub.write_home("alice", "notes.txt", "first line\n")
    context = contexts()
    page = open_lab_through_hub(context, hub, "alice", "lab/tree/notes.txt")
    login_at = page_session(page)["login_at"]
    editor = page.locator(".jp-FileEditor .cm-content")
    editor.wait_for()
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("typed while logged in\n")
    # (not saved yet)
    assert (home / "notes.txt").read_text() == "first line\n"

    # When 40 s have passed since the hub login
    dialog = page.locator(".jp-WorkbenchLoginDialog")
    dialog.wait_for(timeout=60_000)
    expired_after = time.time() - login_at
    # Then the page says the login expired, and offers the hub's login, never a token prompt
    assert 40 <= expired_after < 52, expired_after
    assert "Session expired: log in again" in dialog.inner_text()
    assert dialog.locator("input[type=password]").count() == 0
    state = page_session(page)
    assert state["logged_in"] is False and state["expired"] is True
    assert state["reason"] == "absolute"
    # and the server refuses the old login, as it would any request (the page's own fetch is
    # held while logged out, so ask with the browser's cookies from outside the page)
    xsrf = next(c["value"] for c in context.cookies() if c["name"] == "_xsrf")
    refused = context.request.get(
        hub.server_url("alice", "api/contents"), headers={"X-XSRFToken": xsrf}
    )
    assert refused.status == 403

    # When she saves anyway (the save is held, not lost)
    dialog.locator("button", has_text="Later").click()
    editor.click()
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1500)
    assert (home / "notes.txt").read_text() == "first line\n"
    # and logs in again through the hub (whose own login has ended too: a real re-login)
    context.clear_cookies(name="jupyterhub-hub-login")
    context.clear_cookies(name="jupyterhub-session-id")
    page.locator(".jp-WorkbenchCountdown").click()
    dialog.wait_for()
    with page.expect_popup() as popup_info:
        dialog.locator("button", has_text="Log in with JupyterHub").click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert "/hub/login" in popup.url, popup.url
    hub_login_form(popup, "alice")
    popup.wait_for_event("close", timeout=30_000)

    # Then the held save went through: the edit typed before expiry is on disk
    deadline = time.monotonic() + 20
    while "typed while logged in" not in (home / "notes.txt").read_text():
        assert time.monotonic() < deadline, (home / "notes.txt").read_text()
        page.wait_for_timeout(200)
    # with a new session clock, and no error dialog
    state = page_session(page)
    assert state["logged_in"] is True and state["login_at"] > login_at + 40
    assert page.locator(".jp-Dialog", has_text="Save Error").count() == 0


@pytest.mark.parametrize(
    "path", ["workbench/api/mounts", "workbench/api/jobs", "api/contents", "api/kernels"]
)
def test_bob_cannot_reach_alices_mounts_jobs_or_files_through_the_hub(hub, path):
    # Given bob's own hub token (what his scripts and his server would hold)
    bob = hub.user_token("bob")
    # When he asks alice's server for her mounts, jobs, session or files
    r = hub.user_api("alice", path, token=bob)
    # Then the hub refuses him before the workbench answers anything
    assert r.status_code == 403, (r.status_code, r.text[:200])
    # while alice's own token is served
    assert hub.user_api("alice", path).status_code == 200


def test_bob_learns_nothing_about_alices_session(hub):
    # (the session endpoint answers everybody, so that a page can tell expiry from a 403)
    r = hub.user_api("alice", "workbench/api/session", token=hub.user_token("bob"))
    assert r.status_code == 200
    body = r.json()
    assert body["logged_in"] is False and body["expired"] is False
    assert "user" not in body and "login_at" not in body
