"""The Workbench in the user's language: JupyterLab switched to zh-CN shows it in Chinese."""

from __future__ import annotations

import pytest
from conftest import cut_off_labels, lab_settings, open_lab, show_section, snap, start_lab, stop_lab

LANGUAGE = "@jupyterlab/translation-extension:plugin"


@pytest.fixture(scope="module")
def zh_lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lab-zh")
    server = start_lab(tmp, env_extra=lab_settings(tmp, {LANGUAGE: {"locale": "zh_CN"}}))
    yield server
    stop_lab(server)


def test_the_workbench_speaks_chinese_when_jupyterlab_does(zh_lab, page):
    # Given JupyterLab with its language set to Chinese (language pack + the Workbench's own)
    open_lab(page, zh_lab)
    page.locator(".lm-MenuBar-itemLabel", has_text="文件").wait_for()

    # When the user opens the Workbench sidebar
    mounts = show_section(page, "mounts", alone=False)

    # Then every section title, label and button is Chinese
    titles = page.locator(".jp-WorkbenchSidebar .jp-AccordionPanel-title").all_inner_texts()
    for expected in ("挂载", "环境", "导出为 SAVEDMODEL", "后台任务", "会话"):
        assert any(expected in t.upper() for t in titles), (expected, titles)
    assert "添加挂载" in mounts.inner_text()
    assert mounts.get_by_label("存储桶").is_visible()
    assert page.locator(".jp-WorkbenchSidebar-title").inner_text() == "工作台"
    export = show_section(page, "export")
    assert export.get_by_role("radio", name="笔记本变量").is_visible()
    assert export.get_by_role("button", name="导出").is_visible()
    # (no English left in the section but the format names)
    jobs = show_section(page, "jobs")
    assert "还没有任务" in jobs.inner_text()
    snap(page, "zh-CN-jobs")
    show_section(page, "mounts")
    snap(page, "zh-CN-mounts")
    show_section(page, "export")
    snap(page, "zh-CN-export")


def test_no_label_is_cut_off_in_chinese(zh_lab, page):
    # "AccessKey ID" and "AccessKey Secret" were cut to "AccessKey…" in the mount form
    page.goto(zh_lab.lab_url("lab/workspaces/labels"))  # not the previous test's layout
    page.wait_for_selector("#jp-main-dock-panel", state="visible", timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="文件").wait_for()
    assert cut_off_labels(page) == []
    show_section(page, "mounts").locator("select[name='kind']").select_option("oss")
    snap(page, "zh-CN-mounts-labels")
