"""Session expiry in a real JupyterLab: the login expires, nothing typed is lost."""

from __future__ import annotations

import json
import re
import time

import pytest
from conftest import (
    cell_editor,
    make_notebook,
    open_lab,
    open_notebook,
    run_cell,
    show_section,
    start_lab,
    stop_lab,
)

IDLE = 12  # seconds: long enough for JupyterLab to load on a busy machine


def cell_sources(path) -> list[str]:
    # jupyter_server writes the file in place (with a backup copy): retry a half-written read.
    for _attempt in range(50):
        try:
            return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]
        except ValueError:
            time.sleep(0.05)
    raise AssertionError(f"{path} is not a readable notebook")


def count_403(server) -> int:
    text = server.log.read_text(errors="replace")
    return len(re.findall(r" 403 (?:GET|POST|PUT|PATCH|DELETE) ", text))


def log_in_through_dialog(page, token: str) -> None:
    dialog = page.locator(".jp-WorkbenchLoginDialog")
    dialog.get_by_label("Password or token").fill(token)
    dialog.get_by_role("button", name="Log in", exact=True).click()
    dialog.wait_for(state="detached", timeout=15_000)


@pytest.fixture(scope="module")
def idle_lab(tmp_path_factory):
    server = start_lab(
        tmp_path_factory.mktemp("idle-lab"),
        f"--Workbench.session_idle_timeout={IDLE}",
        "--Workbench.session_absolute_timeout=0",
        "--Workbench.session_warning=5",
    )
    yield server
    stop_lab(server)


@pytest.fixture(scope="module")
def long_lab(tmp_path_factory):
    server = start_lab(
        tmp_path_factory.mktemp("long-lab"),
        "--Workbench.session_absolute_timeout=3600",
        "--Workbench.session_idle_timeout=0",
    )
    yield server
    stop_lab(server)


def test_expired_session_logs_in_again_without_losing_edits_or_the_kernel(idle_lab, page):
    # Given a notebook whose kernel holds some state, and an unsaved edit
    path = idle_lab.root / "work.ipynb"
    make_notebook(path, "x = 41", "# check")
    open_notebook(page, idle_lab, "work.ipynb")
    run_cell(page, 0)
    countdown = page.locator(".jp-WorkbenchCountdown")
    assert countdown.inner_text().startswith("Idle logout")
    cell_editor(page, 0).click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nedited = 'before expiry'")

    # When the user walks away for longer than the idle timeout
    # Then they are warned first (session_warning = 5 s before)
    warning = page.locator(".jp-WorkbenchCountdown.jp-mod-warning")
    warning.wait_for(timeout=(IDLE + 20) * 1000)
    page.get_by_text("You will be logged out in").last.wait_for(timeout=5_000)
    # and then the session ends
    dialog = page.locator(".jp-WorkbenchLoginDialog")
    dialog.wait_for(timeout=20_000)

    # Then the page says so plainly and stops polling a server that would answer 403
    assert "Session expired: log in again" in dialog.inner_text()
    assert countdown.inner_text() == "Logged out: log in"
    refused = count_403(idle_lab)
    page.wait_for_timeout(3000)
    assert count_403(idle_lab) == refused, "the page kept polling while logged out"
    assert refused <= 2
    assert cell_sources(path)[0] == "x = 41", "nothing was saved while logged out"

    # When they log in through the dialog and save
    log_in_through_dialog(page, idle_lab.token)
    countdown.filter(has_text=re.compile("^Idle logout")).wait_for()
    cell_editor(page, 0).click()
    page.keyboard.press("Control+s")

    # Then the edit made before expiry is on disk
    deadline = time.monotonic() + 15
    while "edited = 'before expiry'" not in cell_sources(path)[0]:
        assert time.monotonic() < deadline, cell_sources(path)
        page.wait_for_timeout(200)
    # and the kernel kept its state and still runs code
    assert run_cell(page, 1, "print(x + 1)").strip() == "42"
    assert page.locator(".jp-Notebook-ExecutionIndicator[data-status='dead']").count() == 0


def test_a_save_refused_by_an_expired_login_is_retried_after_logging_in(long_lab, page):
    # Given a notebook with an unsaved edit and a session with an hour left
    path = long_lab.root / "draft.ipynb"
    make_notebook(path, "y = 1")
    open_notebook(page, long_lab, "draft.ipynb")
    countdown = page.locator(".jp-WorkbenchCountdown")
    countdown.filter(has_text=re.compile(r"^Session 59:\d\d$")).wait_for()
    cell_editor(page, 0).click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nunsaved = 'typed before the login ended'")
    # (the page's own background requests are parked for a moment, so that the save is
    # what meets the 403)
    parked, released = [], []
    page.route(
        lambda url: (
            "/api/" in url
            and "workbench/api/session" not in url
            and "/api/contents/draft.ipynb" not in url
        ),
        lambda route: route.continue_() if released else parked.append(route),
    )

    # When the login ends behind the page's back (logged out in another tab) and the user saves
    assert page.context.request.get(f"{long_lab.url}logout").ok
    page.keyboard.press("Control+s")

    # Then the refused save is explained as expiry and the dialog asks to log in
    dialog = page.locator(".jp-WorkbenchLoginDialog")
    dialog.wait_for(timeout=15_000)
    assert "Session expired: log in again" in dialog.inner_text()
    # (JupyterLab's save first asks whether the file changed on disk: that GET met the 403)
    assert re.search(r" 403 (GET|PUT) /api/contents/draft.ipynb", long_lab.log.read_text())
    assert cell_sources(path) == ["y = 1"]
    released.append(True)
    for route in parked:
        route.continue_()

    # When the user logs in, the save completes by itself: the edit is on disk
    log_in_through_dialog(page, long_lab.token)
    deadline = time.monotonic() + 15
    while "unsaved = 'typed before the login ended'" not in cell_sources(path)[0]:
        assert time.monotonic() < deadline, cell_sources(path)
        page.wait_for_timeout(200)
    assert page.locator(".jp-Dialog", has_text="File Save Error").count() == 0


def test_jobs_panel_runs_a_script_that_outlives_the_page(long_lab, page):
    # Given a script under the root
    (long_lab.root / "count.py").write_text("for i in range(3):\n    print('step', i)\n")
    open_lab(page, long_lab)
    show_section(page, "jobs")
    panel = page.locator("[data-section='jobs'] .jp-WorkbenchJobs")

    # When the user runs it from the Jobs panel
    panel.get_by_label("Job file").fill("count.py")
    panel.get_by_role("button", name="Run").click()

    # Then it is listed and succeeds, with its log one click away
    item = panel.locator(".jp-WorkbenchJobs-item").first
    item.locator(".jp-WorkbenchJobs-state[data-state='succeeded']").wait_for(timeout=30_000)
    item.get_by_role("button", name="Log").click()
    item.locator(".jp-WorkbenchJobs-log", has_text="step 2").wait_for()
    # and a reloaded page finds it again (jobs live on the server, not in the page)
    page.reload()
    page.locator("#jp-main-dock-panel").wait_for()
    # (attached is enough: whether the restored sidebar is open depends on timing)
    panel.locator(".jp-WorkbenchJobs-name", has_text="count.py").wait_for(state="attached")
