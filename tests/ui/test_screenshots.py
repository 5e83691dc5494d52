"""Screenshots of each Workbench section, light and dark, for reviewers (and a check that the
dark theme really applies to the sidebar). Written to $WORKBENCH_SCREENSHOTS
(tests/ui/screenshots/ by default, git-ignored); zh-CN ones come from test_i18n.py."""

from __future__ import annotations

import pytest
from conftest import lab_settings, open_lab, show_section, snap, start_lab, stop_lab

THEMES = "@jupyterlab/apputils-extension:themes"
SECTIONS = ("mounts", "environments", "export", "serving", "jobs", "session")


@pytest.fixture(scope="module", params=["light", "dark"])
def themed_lab(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"lab-{request.param}")
    theme = "JupyterLab Dark" if request.param == "dark" else "JupyterLab Light"
    server = start_lab(tmp, env_extra=lab_settings(tmp, {THEMES: {"theme": theme}}))
    yield request.param, server
    stop_lab(server)


def test_each_section_in_light_and_dark(themed_lab, page):
    theme, server = themed_lab
    open_lab(page, server)
    page.locator(f'body[data-jp-theme-light="{str(theme == "light").lower()}"]').wait_for(
        state="attached"
    )
    show_section(page, "mounts", alone=False)
    snap(page, f"{theme}-sidebar")
    sidebar = page.locator("#jupyter-workbench-sidebar")
    # The sidebar follows the theme: its background is the theme's, not a fixed white
    background = sidebar.evaluate("n => getComputedStyle(n).backgroundColor")
    dark_bg = sum(int(x) for x in background[background.index("(") + 1 : -1].split(",")[:3])
    assert (dark_bg < 200) == (theme == "dark"), background
    for section in SECTIONS:
        if page.locator(f'[data-section-title="{section}"]').count() == 0:
            continue  # (a feature the server does not offer)
        show_section(page, section)
        snap(page, f"{theme}-{section}", sidebar)
