"""Background jobs in a real JupyterLab: watch, cancel (with confirmation), open the output."""

from __future__ import annotations

import pytest
from conftest import make_notebook, open_lab, show_section, snap, start_lab, stop_lab


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

    # When the user runs it as a job
    jobs, item = run_job(page, "quick.ipynb")

    # Then the list sits above the form (visible without scrolling), the job succeeds and a
    # notification says so, with "Open output" opening the executed notebook
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
