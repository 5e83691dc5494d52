"""Browser-test harness: a real ``jupyter lab`` on 127.0.0.1 and Debian's chromium via playwright.

Run separately from the server tests (``pytest tests/ui``): pytest-jupyter's event loop and
playwright's sync API do not share a process well.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from _servers import jupyter_env, start_jupyter, stop_jupyter
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@dataclass
class LabServer:
    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path

    def lab_url(self, path: str = "lab") -> str:
        return f"{self.url}{path}?token={self.token}"


def start_lab(tmp: Path, *extra_args: str, env_extra: dict | None = None) -> LabServer:
    """Start ``jupyter lab`` on a free port with isolated config, data and root dirs."""
    root = tmp / "root"
    config = tmp / "config"
    for d in (root, config / "labconfig"):
        d.mkdir(parents=True, exist_ok=True)
    # The news/announcements popup would cover the sidebar and calls the network.
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    # Serve the frontend built in THIS checkout (a git worktree or a clone under test), not
    # whatever copy an earlier install left in the environment: the first labextensions
    # directory on the Jupyter path wins, and the data dir comes first once
    # JUPYTER_PREFER_ENV_PATH=0 (in a virtualenv jupyter_core puts the env's share/ first).
    built = Path(__file__).resolve().parents[2] / "jupyter_workbench" / "labextension"
    if (built / "package.json").exists():
        (tmp / "data" / "labextensions").mkdir(parents=True, exist_ok=True)
        link = tmp / "data" / "labextensions" / "jupyter-workbench"
        if not link.exists():
            link.symlink_to(built, target_is_directory=True)
    token = secrets.token_hex(16)
    env = jupyter_env(tmp, JUPYTER_PREFER_ENV_PATH="0")
    env.update(env_extra or {})
    log = tmp / "lab.log"
    command = [str(Path(sys.executable).parent / "jupyter"), "lab"]
    extra = ["--LabApp.news_url=", *extra_args]
    proc, url = start_jupyter(
        command, extra, root=root, token=token, env=env, log=log, what="jupyter lab"
    )
    return LabServer(url, token, root, proc, log)


def stop_lab(server: LabServer) -> None:
    stop_jupyter(server.process)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = start_lab(tmp_path_factory.mktemp("lab"))
    yield server
    stop_lab(server)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def device_scale_factor() -> float:
    """Device pixels per CSS pixel of the test page; a module that writes the screenshots
    reviewers read overrides it with 2 (see test_screenshots.py)."""
    return 1


@pytest.fixture
def page(browser, request, device_scale_factor):
    context = browser.new_context(
        viewport={"width": 1400, "height": 900}, device_scale_factor=device_scale_factor
    )
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        out = Path(os.environ.get("WORKBENCH_UI_ARTIFACTS", "/tmp/workbench-ui"))
        out.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(out / f"{request.node.name}.png"))
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


SCREENSHOTS = Path(
    os.environ.get("WORKBENCH_SCREENSHOTS") or Path(__file__).resolve().parent / "screenshots"
)


def snap(page, name: str, locator=None) -> Path:
    """Write a screenshot for reviewers to ``$WORKBENCH_SCREENSHOTS`` (tests/ui/screenshots/)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    (locator or page).screenshot(path=str(path))
    return path


def lab_settings(tmp: Path, settings: dict) -> dict:
    """Environment for ``start_lab`` with these user settings ({plugin id: {key: value}})."""
    root = tmp / "user-settings"
    for plugin, values in settings.items():
        package, _, name = plugin.partition(":")
        path = root / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return {"JUPYTERLAB_SETTINGS_DIR": str(root)}


def open_lab(page, server: LabServer) -> None:
    page.goto(server.lab_url())
    page.wait_for_selector("#jp-main-dock-panel", state="visible", timeout=60_000)


def open_workbench_sidebar(page) -> None:
    tab = page.locator('.lm-TabBar-tab[data-id="jupyter-workbench-sidebar"]')
    tab.wait_for(state="visible")
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    # Its saved expanded/collapsed state applies once fetched: a click before would be undone
    page.locator("#jupyter-workbench-sidebar[data-restored]").wait_for(state="visible")


def open_file_browser(page) -> None:
    tab = page.locator('.lm-TabBar-tab[data-id="filebrowser"]')
    tab.wait_for(state="visible")
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    page.locator("#filebrowser").wait_for(state="visible")


def show_section(page, section_id: str, alone: bool = True):
    """Expand one Workbench section (and, with ``alone``, collapse the others so that it gets
    the sidebar's height); returns the section."""
    open_workbench_sidebar(page)
    title = page.locator(f'[data-section-title="{section_id}"]')
    title.wait_for()
    if title.get_attribute("aria-expanded") != "true":
        title.click()
        page.locator(f'[data-section-title="{section_id}"][aria-expanded="true"]').wait_for()
    if alone:
        others = page.locator(
            f'.jp-WorkbenchSidebar .jp-AccordionPanel-title[aria-expanded="true"]'
            f':not([data-section-title="{section_id}"])'
        )
        while others.count():
            others.first.click()
    section = page.locator(f'.jp-WorkbenchSidebar [data-section="{section_id}"]')
    section.wait_for(state="visible")
    return section


# Notebook helpers shared by the browser tests.


def make_notebook(path, *sources: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(nb, str(path))


def open_notebook(page, server, name: str) -> None:
    page.goto(f"{server.url}lab/tree/{name}?token={server.token}")
    page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first.wait_for(timeout=60_000)
    # The kernel must be ready, or a run request is dropped.
    idle = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']")
    idle.first.wait_for(timeout=60_000)


def cell_editor(page, index: int):
    return page.locator(".jp-NotebookPanel .jp-Cell").nth(index).locator(".cm-content")


def run_cell(page, index: int, code: str | None = None) -> str:
    """Replace the cell's code (when given), run it, and return its output text."""
    editor = cell_editor(page, index)
    editor.click()
    if code is not None:
        page.keyboard.press("Control+a")
        page.keyboard.type(code)
    cell = page.locator(".jp-NotebookPanel .jp-Cell").nth(index)
    done = cell.locator(".jp-InputPrompt", has_text=re.compile(r"\[\d+\]"))
    for _attempt in range(3):
        # JupyterLab may still be switching the fresh session's kernel connection and drop
        # the first request; running the same cell again is harmless.
        editor.click()
        page.keyboard.press("Control+Enter")
        try:
            done.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            continue
    done.wait_for(timeout=10_000)
    return cell.locator(".jp-OutputArea").inner_text()


# Labels whose text does not fit their box (cut off or ellipsed), as "section: text".
_CUT_LABELS = """section => [...section.querySelectorAll('.jp-WorkbenchForm-label, label, dt')]
  .filter(e => e.offsetParent !== null && e.textContent.trim())
  .filter(e => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)
  .map(e => e.textContent.trim())"""


def cut_off_labels(page, sections=("mounts", "environments", "export", "serving", "jobs")):
    """Every form label of the Workbench sections that is truncated, with the mount form
    shown for each kind of storage; [] when every label fits."""
    cut = []
    for section_id in sections:
        if page.locator(f'[data-section-title="{section_id}"]').count() == 0:
            continue
        section = show_section(page, section_id)
        if section_id == "mounts":
            kind = section.locator("select[name='kind']")
            for value in kind.locator("option").evaluate_all("os => os.map(o => o.value)"):
                kind.select_option(value)
                cut += [f"mounts/{value}: {t}" for t in section.evaluate(_CUT_LABELS)]
        else:
            cut += [f"{section_id}: {t}" for t in section.evaluate(_CUT_LABELS)]
    return cut


# Click counts of the main flows, measured as the tests walk them: every trusted pointerdown
# on the page (a right-click counts, typing does not), with what was clicked. (Not
# mousedown: Lumino's tab bars and menus cancel pointerdown, which suppresses it.)
_CLICK_COUNTER = """() => {
  if (!window.__wbClicks) {
    window.__wbClicks = [];
    document.addEventListener('pointerdown', e => {
      if (!e.isTrusted) return;
      const t = e.target.closest('button, [role="menuitem"], li, [title], [aria-label]')
        || e.target;
      const name = t.getAttribute('aria-label') || t.getAttribute('title')
        || t.textContent || t.tagName;
      window.__wbClicks.push(
        (e.button === 2 ? 'right-click ' : '') + name.trim().split('\\n')[0].slice(0, 50));
    }, true);
  }
  window.__wbClicks.length = 0;
}"""


class Clicks:
    """Counts the user's clicks on ``page`` from now on (until it navigates)."""

    def __init__(self, page):
        self.page = page
        page.evaluate(_CLICK_COUNTER)

    @property
    def seen(self) -> list[str]:
        return self.page.evaluate("() => [...window.__wbClicks]")


def record_clicks(flow: str, clicks: Clicks, screenshot: str) -> list[str]:
    """Write a flow's click count beside the screenshots (``click-counts.json``) with the
    screenshot of where it ends; returns what was clicked."""
    seen = clicks.seen
    path = SCREENSHOTS / "click-counts.json"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    counts = json.loads(path.read_text()) if path.exists() else {}
    counts[flow] = {"clicks": len(seen), "clicked": seen, "screenshot": f"{screenshot}.png"}
    path.write_text(json.dumps(counts, indent=2, ensure_ascii=False) + "\n")
    return seen
