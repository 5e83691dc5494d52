"""Background jobs in a real JupyterLab: watch, cancel (with confirmation), open the output."""

from __future__ import annotations

import json
import shutil
import urllib.request

import pytest
from conftest import (
    Clicks,
    make_notebook,
    open_file_browser,
    open_lab,
    record_clicks,
    show_section,
    snap,
    start_lab,
    stop_lab,
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = start_lab(tmp_path_factory.mktemp("lab-jobs"))
    yield server
    stop_lab(server)


def run_job(page, path):
    jobs = show_section(page, "jobs")
    jobs.get_by_label("Job file").fill(path)
    jobs.get_by_role("button", name="Run", exact=True).click()
    item = jobs.locator(".jp-WorkbenchJobs-item", has_text=path).first
    item.wait_for()
    return jobs, item


def test_a_finished_notebook_job_notifies_with_a_link_to_its_output(lab, page):
    # Given a short notebook
    make_notebook(lab.root / "quick.ipynb", "print('hello from the job')")
    open_lab(page, lab)
    open_file_browser(page)
    clicks = Clicks(page)

    # When the user runs it as a job from its context menu in the file browser
    page.locator('.jp-DirListing-item[title^="Name: quick.ipynb"]').click(button="right")
    page.locator(".lm-Menu-item", has_text="Run as Background Job").click()

    # Then the Jobs section opens with the job in its list, the list above the form (visible
    # without scrolling); the job succeeds and a notification says so, with "Open output"
    # opening the executed notebook
    jobs = page.locator('.jp-WorkbenchSidebar [data-section="jobs"]')
    item = jobs.locator(".jp-WorkbenchJobs-item", has_text="quick.ipynb").first
    item.wait_for()
    assert (
        jobs.locator(".jp-WorkbenchJobs-list").bounding_box()["y"]
        < jobs.locator(".jp-WorkbenchJobs-form").bounding_box()["y"]
    )
    item.locator(".jp-WorkbenchJobs-state[data-state='succeeded']").wait_for(timeout=60_000)
    toast = page.locator(".Toastify__toast", has_text="Job quick.ipynb finished")
    toast.wait_for(timeout=30_000)
    snap(page, "light-jobs-notification")
    toast.get_by_role("button", name="Open output").click()
    page.locator(".jp-NotebookPanel .jp-OutputArea", has_text="hello from the job").wait_for()
    snap(page, "light-jobs-output-opened")
    # in three clicks: right-click, "Run as Background Job", "Open output"
    seen = record_clicks("run a job and open its output", clicks, "light-jobs-output-opened")
    assert len(seen) <= 3, seen


def test_cancel_asks_first_and_a_cancelled_jobs_output_says_why_it_cannot_open(lab, page):
    # Given a long-running notebook job
    make_notebook(lab.root / "slow.ipynb", "import time\ntime.sleep(120)")
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_lab(page, lab)
    jobs, item = run_job(page, "slow.ipynb")
    item.locator(".jp-WorkbenchJobs-state[data-state='running']").wait_for(timeout=30_000)

    # When the user clicks Cancel, a confirmation comes first; "Keep running" keeps it
    item.get_by_role("button", name="Cancel").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    assert "Cancel slow.ipynb?" in dialog.inner_text()
    dialog.get_by_role("button", name="Keep running").click()
    dialog.wait_for(state="detached")
    assert item.locator(".jp-WorkbenchJobs-state").get_attribute("data-state") == "running"

    # When the user confirms, the job is cancelled
    item.get_by_role("button", name="Cancel").click()
    page.locator(".jp-Dialog").get_by_role("button", name="Cancel job").click()
    item.locator(".jp-WorkbenchJobs-state[data-state='cancelled']").wait_for(timeout=30_000)

    # Then "Open output" says why there is nothing to open, without an uncaught error
    item.get_by_role("button", name="Open output").click()
    message = jobs.locator(".jp-WorkbenchJobs-message.jp-mod-error")
    message.wait_for()
    assert "was cancelled before it wrote its executed notebook" in message.inner_text()
    assert not [e for e in errors if "404" in e or "Not Found" in e], errors


def test_a_watched_log_shows_each_cells_output_as_it_runs_reading_only_what_is_new(lab, page):
    # Given a notebook whose second cell waits for a flag file before the third prints
    flag = lab.root / "go-on"
    make_notebook(
        lab.root / "steps.ipynb",
        "print('first cell done', flush=True)",
        f"import os, time\nwhile not os.path.exists({str(flag)!r}):\n    time.sleep(0.05)",
        "print('third cell done')",
    )
    log_requests = []
    page.on(
        "request",
        lambda r: (
            log_requests.append(r.url)
            if "/workbench/api/jobs/" in r.url and r.url.split("?")[0].endswith("/log")
            else None
        ),
    )
    open_lab(page, lab)
    jobs, item = run_job(page, "steps.ipynb")

    # When the user opens its log while it runs
    item.get_by_role("button", name="Log", exact=True).click()
    log = item.locator(".jp-WorkbenchJobs-log")

    # Then the first cell's output shows before the job has finished
    log.filter(has_text="first cell done").wait_for(timeout=60_000)
    assert item.locator(".jp-WorkbenchJobs-state").get_attribute("data-state") == "running"
    page.wait_for_timeout(2500)  # a few log ticks with nothing new
    snap(page, "light-jobs-log-streaming", jobs)
    # and the third's once it ran, each line once
    flag.write_text("go")
    log.filter(has_text="third cell done").wait_for(timeout=60_000)
    text = log.inner_text()
    assert text.count("first cell done") == 1 and text.count("third cell done") == 1, text
    # The page asked for the tail once, then only for what came after it
    assert len(log_requests) >= 3, log_requests
    assert "offset=" not in log_requests[0], log_requests
    assert all("offset=" in url for url in log_requests[1:]), log_requests


def test_an_export_started_in_a_closed_tab_goes_on_and_shows_as_an_export_job(
    lab, page, tiny_keras_file
):
    # Given a model file, and a tab where the user starts its export from the Export panel
    shutil.copy(tiny_keras_file, lab.root / "tiny.keras")
    first = page.context.new_page()
    open_lab(first, lab)
    show_section(first, "export")
    panel = first.locator(".jp-WorkbenchExport")
    panel.get_by_role("textbox", name="Model file").fill("tiny.keras")
    panel.get_by_label("Destination").fill("closed/tiny")
    with first.expect_response(
        lambda r: (
            r.url.split("?")[0].endswith("workbench/api/exports") and r.request.method == "POST"
        )
    ) as posted:
        panel.get_by_role("button", name="Export").click()
    assert posted.value.status == 202

    # When the user closes that tab at once and opens JupyterLab again
    first.close()
    open_lab(page, lab)

    # Then the Jobs panel lists the export, marked as one, and it finishes there
    jobs = show_section(page, "jobs")
    item = jobs.locator(".jp-WorkbenchJobs-item", has_text="Export tiny.keras to closed/tiny")
    item.locator(".jp-WorkbenchJobs-meta[data-kind='export']").wait_for()
    item.locator(".jp-WorkbenchJobs-state[data-state='succeeded']").wait_for(timeout=240_000)
    # and the SavedModel is where TF Serving expects it
    assert (lab.root / "closed" / "tiny" / "1" / "saved_model.pb").is_file()


def test_a_finished_job_is_removed_after_a_confirmation(lab, page):
    # Given a shell job that runs until a flag file appears
    flag = lab.root / "remove-go"
    (lab.root / "removable.sh").write_text(f"while [ ! -e {flag} ]; do sleep 0.05; done\n")
    open_lab(page, lab)
    jobs, item = run_job(page, "removable.sh")
    item.locator(".jp-WorkbenchJobs-state[data-state='running']").wait_for(timeout=30_000)

    # Then while it runs it offers Cancel, not Remove
    assert item.get_by_role("button", name="Remove").count() == 0
    assert item.get_by_role("button", name="Cancel").count() == 1

    # When it has finished, the user clicks Remove: a confirmation comes first, "Keep" keeps it
    flag.write_text("")
    item.locator(".jp-WorkbenchJobs-state[data-state='succeeded']").wait_for(timeout=30_000)
    job_id = item.get_attribute("data-job")
    snap(page, "light-jobs-finished", jobs)
    item.get_by_role("button", name="Remove").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    assert "Remove removable.sh?" in dialog.inner_text()
    dialog.get_by_role("button", name="Keep").click()
    dialog.wait_for(state="detached")
    assert item.is_visible()

    # When the user confirms, the job leaves the list, and the server no longer has it
    item.get_by_role("button", name="Remove").click()
    with page.expect_response(
        lambda r: f"workbench/api/jobs/{job_id}" in r.url and r.request.method == "DELETE"
    ) as deleted:
        page.locator(".jp-Dialog").get_by_role("button", name="Remove job").click()
    assert deleted.value.status == 200 and deleted.value.json()["removed"] is True
    jobs.locator(f'.jp-WorkbenchJobs-item[data-job="{job_id}"]').wait_for(state="detached")
    jobs.locator(".jp-WorkbenchJobs-message", has_text="Removed removable.sh.").wait_for()
    with urllib.request.urlopen(f"{lab.url}workbench/api/jobs?token={lab.token}") as r:
        assert job_id not in [j["id"] for j in json.load(r)]
