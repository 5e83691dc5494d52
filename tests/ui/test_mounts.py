"""Mounts in a real JupyterLab: add an OSS bucket from the sidebar, edit a file on it."""

from __future__ import annotations

import time

import pytest
from conftest import (
    Clicks,
    lab_settings,
    open_file_browser,
    open_lab,
    record_clicks,
    show_section,
    snap,
    start_lab,
    stop_lab,
)

from jupyter_workbench.testing import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, OSSEmulator

CONTENTS_MANAGER = "jupyter_workbench.contents.WorkbenchContentsManager"
LISTING_LIMIT = 3000  # c.Workbench.listing_limit (default 10,000), small to keep the test fast


@pytest.fixture(scope="module")
def oss():
    with OSSEmulator() as emulator:
        emulator.seed_demo()
        yield emulator


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lab-mounts")
    server = start_lab(
        tmp,
        f"--ServerApp.contents_manager_class={CONTENTS_MANAGER}",
        f"--Workbench.listing_limit={LISTING_LIMIT}",
        env_extra=lab_settings(
            tmp, {"@jupyterlab/filebrowser-extension:browser": {"showFileFilter": True}}
        ),
    )
    yield server
    stop_lab(server)


def fill_oss_form(page, oss, name, secret=DEMO_ACCESS_KEY_SECRET):
    """Fill the Mounts form for the emulator's demo bucket and press "Add mount"."""
    panel = page.locator('[data-section="mounts"] .jp-WorkbenchMounts')
    panel.wait_for(state="visible")
    form = panel.locator(".jp-WorkbenchMounts-form")
    if not form.is_visible():
        # With mounts listed, the form opens from the section's "+" button
        page.locator('[data-section-title="mounts"] .jp-WorkbenchSection-add').click()
    form.wait_for(state="visible")
    panel.get_by_label("Name", exact=True).fill(name)
    panel.get_by_label("Endpoint").fill(oss.endpoint)
    panel.get_by_label("Bucket").fill("demo")
    panel.get_by_label("AccessKey ID").fill(DEMO_ACCESS_KEY_ID)
    panel.get_by_label("AccessKey secret").fill(secret)
    panel.get_by_role("button", name="Add mount").click()
    return panel, panel.locator(f'.jp-WorkbenchMounts-item[data-mount="{name}"]')


def wait_until(check, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_new_mount_shows_at_once_and_unmount_names_the_open_documents(lab, page, oss):
    # Given the file browser at the root, with no mnt/ folder shown yet
    open_lab(page, lab)
    open_file_browser(page)
    page.locator(".jp-DirListing-content").wait_for()
    assert page.locator('.jp-DirListing-item[title^="Name: mnt"]').count() == 0

    # When the user adds a mount from the sidebar
    show_section(page, "mounts")
    panel, item = fill_oss_form(page, oss, "fresh")
    item.wait_for()

    # Then mnt/ is in the file browser without a manual refresh (its own poll is 10 s+)
    open_file_browser(page)
    page.locator('.jp-DirListing-item[title^="Name: mnt"]').wait_for(timeout=3_000)

    # When the user opens the mount from the sidebar, the listing keeps its Name column
    show_section(page, "mounts")
    item.get_by_role("button", name="Open").click()
    readme = page.locator('.jp-DirListing-item[title^="Name: README.txt"]')
    readme.wait_for()
    name = readme.locator(".jp-DirListing-itemName")
    assert name.bounding_box()["width"] > 100, name.bounding_box()
    assert name.inner_text().strip() == "README.txt"

    # When a file of the mount is open and the user unmounts it
    readme.dblclick()
    page.locator(".jp-FileEditor .cm-content").wait_for()
    show_section(page, "mounts")
    item.get_by_role("button", name="Unmount").click()

    # Then the confirmation names that document
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    assert "mnt/fresh/README.txt" in dialog.inner_text()
    assert "can no longer be saved" in dialog.inner_text()
    snap(page, "light-unmount-dialog")
    dialog.get_by_role("button", name="Unmount").click()
    item.wait_for(state="detached")


def test_add_oss_mount_then_open_edit_and_save_a_file(lab, page, oss):
    # Given JupyterLab (the file browser showing) and an OSS bucket with a README
    open_lab(page, lab)
    open_file_browser(page)
    # (the file browser's own Mount button fits its toolbar at the default width: its
    # label was cut to "Mou")
    toolbar = page.locator("#filebrowser .jp-FileBrowser-toolbar").first
    mount = toolbar.get_by_role("button", name="Mount an OSS bucket, NAS or SMB share into mnt/")
    mount.wait_for()
    assert mount.bounding_box()["x"] + mount.bounding_box()["width"] <= (
        toolbar.bounding_box()["x"] + toolbar.bounding_box()["width"] + 1
    ), (mount.bounding_box(), toolbar.bounding_box())
    clicks = Clicks(page)

    # When the user adds the bucket from the Mounts form (typing and Tab between the
    # fields are no clicks)
    show_section(page, "mounts", alone=False)
    panel, item = fill_oss_form(page, oss, "demo")

    # Then it is listed as healthy, and the secret field is cleared
    item.wait_for()
    assert item.locator(".jp-WorkbenchMounts-state").inner_text() == "ok"
    assert "mnt/demo" in item.inner_text()
    assert panel.get_by_label("AccessKey secret").input_value() == ""

    # When the user opens it, the stock file browser shows the bucket at mnt/demo
    item.get_by_role("button", name="Open").click()
    readme = page.locator('.jp-DirListing-item[title^="Name: README.txt"]')
    readme.wait_for()
    assert page.locator('.jp-DirListing-item[title^="Name: data"]').is_visible()
    assert "demo" in page.locator(".jp-BreadCrumbs").inner_text()
    snap(page, "light-mount-opened")
    # in three clicks: the Workbench tab, "Add mount", "Open"
    seen = record_clicks("mount a bucket and open it", clicks, "light-mount-opened")
    assert len(seen) <= 3, seen

    # When the user opens the README, appends a line and saves
    readme.dblclick()
    editor = page.locator(".jp-FileEditor .cm-content")
    editor.wait_for()
    page.wait_for_function(
        "() => document.querySelector('.jp-FileEditor .cm-content')"
        "?.textContent.includes('OSS emulator')"
    )
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("edited in the browser\n")
    page.keyboard.press("Control+s")

    # Then the object in the bucket changed
    wait_until(
        lambda: b"edited in the browser" in oss.get_object("demo", "README.txt"),
        what="README.txt to be saved to the bucket",
    )
    assert oss.get_object("demo", "README.txt").startswith(b"This bucket is served")

    # When the user unmounts it, the dialog says nothing on the storage is deleted
    show_section(page, "mounts")
    item.get_by_role("button", name="Unmount").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    assert "nothing on oss://demo is deleted" in dialog.inner_text()
    dialog.get_by_role("button", name="Unmount").click()
    item.wait_for(state="detached")
    assert oss.exists("demo", "README.txt")


def test_adding_with_a_wrong_secret_shows_a_plain_message(lab, page, oss):
    open_lab(page, lab)
    show_section(page, "mounts")
    panel, item = fill_oss_form(page, oss, "wrong", secret="not-the-secret")
    message = panel.locator(".jp-WorkbenchMounts-form .jp-WorkbenchMounts-message.jp-mod-error")
    message.wait_for()
    assert "secret does not match" in message.inner_text()
    assert item.count() == 0


def test_the_file_browser_lists_big_folders_whole_and_loads_more_past_the_bound(lab, page, oss):
    # Given a folder of exactly the bound's size and one 500 entries larger
    for i in range(LISTING_LIMIT):
        oss.put_object("demo", f"many/f{i:05d}.txt", b"x")
    for i in range(LISTING_LIMIT + 500):
        oss.put_object("demo", f"huge/g{i:05d}.txt", b"x")
    open_lab(page, lab)
    show_section(page, "mounts")
    panel, item = fill_oss_form(page, oss, "big")
    item.wait_for()
    items = page.locator("#filebrowser .jp-DirListing-item")
    banner = page.locator("#filebrowser .jp-WorkbenchListingBanner")

    # When the user browses into the first: the stock file browser shows every entry
    item.get_by_role("button", name="Open").click()
    page.locator('.jp-DirListing-item[title^="Name: many"]').dblclick()
    last = page.locator('.jp-DirListing-item[title^="Name: f02999.txt"]')
    last.wait_for(state="attached", timeout=90_000)  # 3,000 items on 2 busy cores
    assert items.count() == LISTING_LIMIT
    assert banner.is_hidden()

    # When the user opens the larger one: the first 3,000, and a banner saying more exist
    page.goto(f"{lab.url}lab/tree/mnt/big/huge?token={lab.token}")
    banner.wait_for(state="visible", timeout=90_000)
    assert items.count() == LISTING_LIMIT
    assert "first 3,000 entries" in banner.inner_text()
    snap(page, "light-listing-banner", page.locator("#filebrowser"))

    # When the user clicks "Load the next 3,000" there
    banner.get_by_role("button", name="Load the next 3,000").click()
    last = page.locator('.jp-DirListing-item[title^="Name: g03499.txt"]')
    last.wait_for(state="attached", timeout=90_000)
    # Then the folder is complete and the banner gone
    assert items.count() == LISTING_LIMIT + 500
    banner.wait_for(state="hidden")

    # And the file browser's filter finds an entry of the newly loaded ones
    page.locator("#filebrowser .jp-FileBrowser-filterBox input").fill("g03456")
    page.wait_for_function(
        "() => document.querySelectorAll('#filebrowser .jp-DirListing-item').length === 1"
    )
    assert "g03456.txt" in items.first.inner_text()
