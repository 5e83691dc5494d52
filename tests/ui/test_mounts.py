"""Mounts in a real JupyterLab: add an OSS bucket from the sidebar, edit a file on it."""

from __future__ import annotations

import time

import pytest
from conftest import open_file_browser, open_lab, show_section, snap, start_lab, stop_lab

from jupyter_workbench.testing import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, OSSEmulator

CONTENTS_MANAGER = "jupyter_workbench.contents.WorkbenchContentsManager"
PAGE_SIZE = 20


@pytest.fixture(scope="module")
def oss():
    with OSSEmulator() as emulator:
        emulator.seed_demo()
        yield emulator


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = start_lab(
        tmp_path_factory.mktemp("lab-mounts"),
        f"--ServerApp.contents_manager_class={CONTENTS_MANAGER}",
        f"--Workbench.listing_page_size={PAGE_SIZE}",
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
    # Given JupyterLab and an OSS bucket with a README
    open_lab(page, lab)
    show_section(page, "mounts")

    # When the user adds the bucket from the Mounts form
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


def test_a_folder_larger_than_a_page_offers_list_more(lab, page, oss):
    # Given a folder with more objects than the file browser is given at once
    for i in range(PAGE_SIZE + 5):
        oss.put_object("demo", f"many/f{i:03d}.txt", b"x")
    open_lab(page, lab)
    show_section(page, "mounts")
    panel, item = fill_oss_form(page, oss, "big")
    item.wait_for()

    # When the user browses into it
    item.get_by_role("button", name="Open").click()
    page.locator('.jp-DirListing-item[title^="Name: many"]').dblclick()
    page.locator('.jp-DirListing-item[title^="Name: f000.txt"]').wait_for()
    assert page.locator(".jp-DirListing-item").count() == PAGE_SIZE

    # Then the Mounts panel says so and lists the rest on demand
    show_section(page, "mounts")
    more = panel.locator(".jp-WorkbenchMounts-more")
    more.wait_for(state="visible")
    assert f"first {PAGE_SIZE} entries" in more.inner_text()
    more.get_by_role("button", name="List more").click()
    entries = more.locator(".jp-WorkbenchMounts-entry")
    entries.first.wait_for()
    assert entries.all_inner_texts() == [f"f{i:03d}.txt" for i in range(PAGE_SIZE, PAGE_SIZE + 5)]
    assert "All entries listed" in more.inner_text()

    # And an entry opens in the editor
    entries.last.click()
    page.locator(".jp-FileEditor").wait_for()
