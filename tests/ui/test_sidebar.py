"""The Workbench sidebar in a real JupyterLab, driven in Debian's chromium."""

import json
import shutil
import urllib.request

from conftest import (
    Clicks,
    make_notebook,
    open_file_browser,
    open_lab,
    open_notebook,
    open_workbench_sidebar,
    record_clicks,
    run_cell,
    show_section,
    snap,
    start_lab,
    stop_lab,
)


def section(page, section_id):
    return page.locator(f'.jp-WorkbenchSidebar [data-section="{section_id}"]')


def section_title(page, title):
    return page.locator(".jp-WorkbenchSidebar .jp-AccordionPanel-title", has_text=title)


def test_sidebar_is_a_side_panel_with_one_accordion_section_per_feature(lab, page):
    # Given JupyterLab with the workbench installed
    open_lab(page, lab)

    # Then the Workbench tab has its own labelled icon
    tab = page.locator('.lm-TabBar-tab[data-id="jupyter-workbench-sidebar"]')
    tab.wait_for()
    assert "Workbench" in (tab.get_attribute("title") or "")

    # When the user opens the Workbench sidebar
    open_workbench_sidebar(page)

    # Then each feature is a section of JupyterLab's accordion with a title, and no
    # developer banner is shown
    for title in ("Mounts", "Environments", "Export to SavedModel", "Background jobs"):
        section_title(page, title).wait_for()
    sidebar = page.locator("#jupyter-workbench-sidebar")
    assert "Connected to" not in sidebar.inner_text()
    assert not page.locator(".jp-WorkbenchSidebar-warning").is_visible()
    # Section toolbars sit in the titles (refresh, add) and use JupyterLab's icons
    mounts_title = section_title(page, "Mounts")
    assert mounts_title.locator(".jp-WorkbenchSection-refresh").count() == 1
    assert mounts_title.locator(".jp-WorkbenchSection-add").count() == 1
    # No native grey buttons: every button is JupyterLab's
    # (light DOM only: toolbar buttons are ui-toolkit web components with their own inside)
    classes = sidebar.evaluate(
        "n => [...n.querySelectorAll('button')].filter(b => b.offsetParent).map(b => b.className)"
    )
    assert classes
    for cls in classes:
        assert "jp-Button" in cls or "jp-ToolbarButtonComponent" in cls, cls
    # and it fits the default width: no horizontal scrolling
    assert sidebar.evaluate("n => n.scrollWidth <= n.clientWidth + 1")


def wait_expanded(page, section_id, expanded):
    page.locator(
        f'[data-section-title="{section_id}"][aria-expanded="{str(expanded).lower()}"]'
    ).wait_for(state="attached")


def expanded_sections(page):
    return page.locator(
        '.jp-WorkbenchSidebar .jp-AccordionPanel-title[aria-expanded="true"]'
    ).evaluate_all("ts => ts.map(t => t.dataset.sectionTitle)")


def test_a_first_visit_opens_one_section_with_the_sidebars_height(tmp_path, page):
    # Given a JupyterLab nobody opened before (no saved sidebar state)
    server = start_lab(tmp_path)
    try:
        # When the user opens the Workbench sidebar (1400x900, the default width)
        open_lab(page, server)
        open_workbench_sidebar(page)

        # Then only Mounts is expanded, the other sections are collapsed titles
        assert expanded_sections(page) == ["mounts"]
        titles = page.locator(".jp-WorkbenchSidebar .jp-AccordionPanel-title")
        assert titles.count() >= 5
        # and Mounts gets most of the sidebar's height, its contents shown whole: nothing in
        # it needs a scrollbar (with every section open each got ~150 px and scrolled)
        mounts = section(page, "mounts")
        mounts.locator(".jp-WorkbenchMounts").wait_for(state="visible")
        sidebar_height = page.locator("#jupyter-workbench-sidebar").bounding_box()["height"]
        assert mounts.bounding_box()["height"] > sidebar_height / 2
        cut = mounts.evaluate(
            """n => [n, ...n.querySelectorAll('*')].filter(e => {
                const y = getComputedStyle(e).overflowY;
                return (y === 'auto' || y === 'scroll') && e.scrollHeight > e.clientHeight + 1;
            }).map(e => e.className)"""
        )
        assert cut == [], cut
        snap(page, "light-first-visit")
    finally:
        stop_lab(server)


def test_expanded_sections_stay_expanded_after_a_reload(lab, page):
    # Given the Workbench sidebar
    open_lab(page, lab)
    open_workbench_sidebar(page)
    saved = lambda r: "api/workspaces" in r.url and r.request.method == "PUT"  # noqa: E731
    was_expanded = page.locator('[data-section-title="export"]').get_attribute("aria-expanded")

    # When the user expands Export beside Mounts and reloads the page
    if was_expanded != "true":
        with page.expect_response(saved):  # the state DB reaches the server after a debounce
            page.locator('[data-section-title="export"]').click()
            wait_expanded(page, "export", True)
    if page.locator('[data-section-title="mounts"]').get_attribute("aria-expanded") != "true":
        with page.expect_response(saved):
            page.locator('[data-section-title="mounts"]').click()
    open_lab(page, lab)
    open_workbench_sidebar(page)

    # Then both are still expanded (the saved state wins over the one-section default)
    wait_expanded(page, "export", True)
    wait_expanded(page, "mounts", True)

    # When the user collapses Export and reloads
    with page.expect_response(saved):
        page.locator('[data-section-title="export"]').click()
        wait_expanded(page, "export", False)
    open_lab(page, lab)
    open_workbench_sidebar(page)

    # Then it is still collapsed and Mounts still expanded
    wait_expanded(page, "export", False)
    wait_expanded(page, "mounts", True)


def test_export_form_shows_only_the_active_modes_row(lab, page):
    # Given the Export section
    open_lab(page, lab)
    show_section(page, "export")
    panel = page.locator(".jp-WorkbenchExport")
    panel.wait_for(state="visible")
    file_row = panel.locator(".jp-WorkbenchExport-fileRow")
    var_row = panel.locator(".jp-WorkbenchExport-varRow")

    # Then in "Model file" mode only the model-file row shows, its box is wide enough to type
    # a path, and no label wraps onto a second line
    assert file_row.is_visible() and not var_row.is_visible()
    box = panel.get_by_role("textbox", name="Model file").bounding_box()
    assert box["width"] >= 100, box
    for label in panel.locator(".jp-WorkbenchForm-label:visible").all():
        height = label.bounding_box()["height"]
        assert height < 24, (label.inner_text(), height)

    # When the user switches to "Notebook variable", only the variable row shows
    panel.get_by_role("radio", name="Notebook variable").check()
    assert var_row.is_visible() and not file_row.is_visible()
    panel.get_by_role("radio", name="Model file").check()


def test_sidebar_says_plainly_when_server_extension_is_missing(tmp_path, page):
    # Given JupyterLab whose workbench server extension is disabled
    server = start_lab(tmp_path, "--ServerApp.jpserver_extensions=jupyter_workbench=False")
    try:
        # When the user opens the Workbench sidebar
        open_lab(page, server)
        open_workbench_sidebar(page)

        # Then a warning explains the server part is missing instead of failing silently
        warning = page.locator(".jp-WorkbenchSidebar-warning")
        warning.wait_for()
        assert "server extension is not responding" in warning.inner_text()
    finally:
        stop_lab(server)


def test_export_panel_exports_a_keras_file_and_shows_summary(lab, page, tiny_keras_file):
    # Given a .keras model file in the notebook root
    shutil.copy(tiny_keras_file, lab.root / "tiny.keras")
    open_lab(page, lab)
    open_file_browser(page)
    clicks = Clicks(page)

    # When the user right-clicks it in the file browser and picks "Export to SavedModel…"
    page.locator('.jp-DirListing-item[title^="Name: tiny.keras"]').click(button="right")
    page.locator(".lm-Menu-item", has_text="Export to SavedModel").click()

    # Then the Workbench sidebar opens with the file as the source and a suggested destination
    panel = page.locator(".jp-WorkbenchExport")
    panel.wait_for(state="visible")
    show_section(page, "export", alone=False)
    assert panel.get_by_role("textbox", name="Model file").input_value() == "tiny.keras"
    assert panel.get_by_label("Destination").input_value() == "models/tiny"

    # When the user picks another destination and exports
    panel.get_by_label("Destination").fill("exported/tiny")
    panel.get_by_role("button", name="Export").click()

    # Then the summary shows version 1, its path, and the signature's tensors
    summary = panel.locator(".jp-WorkbenchExport-summary")
    summary.wait_for(timeout=180_000)
    assert summary.locator('[data-field="version"]').inner_text() == "1"
    assert summary.locator('[data-field="path"]').inner_text().endswith("exported/tiny/1")
    signature = panel.locator('[data-signature="serving_default"]').inner_text()
    assert "features" in signature and "float32" in signature
    snap(page, "light-export-done")
    # in three clicks: right-click, "Export to SavedModel…", "Export" (typing the
    # destination is no click; the suggested one would do)
    seen = record_clicks("export a model file", clicks, "light-export-done")
    assert len(seen) <= 3, seen
    # and the SavedModel is on disk where TF Serving expects it
    assert (lab.root / "exported" / "tiny" / "1" / "saved_model.pb").is_file()


def test_export_panel_shows_a_running_export_again_after_a_reload(lab, page, tiny_keras_file):
    # Given an export the user started from the Export panel
    shutil.copy(tiny_keras_file, lab.root / "again.keras")
    open_lab(page, lab)
    panel = show_section(page, "export")
    panel.get_by_role("textbox", name="Model file").fill("again.keras")
    panel.get_by_label("Destination").fill("reloaded/again")
    with page.expect_response(
        lambda r: (
            r.url.split("?")[0].endswith("workbench/api/exports") and r.request.method == "POST"
        )
    ) as posted:
        panel.get_by_role("button", name="Export").click()
    assert posted.value.status == 202
    export_id = posted.value.json()["id"]

    # When the page is reloaded while it runs
    page.reload()
    page.wait_for_selector("#jp-main-dock-panel", state="visible", timeout=60_000)
    panel = show_section(page, "export")

    # Then the panel shows that export again: its progress while it runs (the Export
    # button waits for it), then its summary
    progress = panel.locator("progress:visible")
    summary = panel.locator(".jp-WorkbenchExport-summary")
    progress.or_(summary).first.wait_for(timeout=30_000)
    with urllib.request.urlopen(f"{lab.url}workbench/api/exports?token={lab.token}") as r:
        exports = json.load(r)
    running = [e for e in exports if e["id"] == export_id and e["state"] in ("queued", "running")]
    if running and progress.count():
        assert panel.get_by_role("button", name="Export").is_disabled()
    summary.wait_for(timeout=240_000)
    assert summary.locator('[data-field="path"]').inner_text().endswith("reloaded/again/1")
    assert panel.locator(".jp-WorkbenchExport-message").inner_text() == "Export finished."
    assert panel.get_by_role("button", name="Export").is_enabled()
    assert (lab.root / "reloaded" / "again" / "1" / "saved_model.pb").is_file()


def test_export_panel_exports_a_notebook_variable_through_a_savedmodel_cell(lab, page):
    # Given a notebook whose kernel holds a Keras model in the variable "net"
    make_notebook(lab.root / "train.ipynb", "")
    open_notebook(page, lab, "train.ipynb")
    run_cell(
        page,
        0,
        "import keras\n"
        "inp = keras.Input((5,), name='pixels')\n"
        "net = keras.Model(inp, keras.layers.Dense(2, name='logits')(inp))",
    )

    # When the user exports the variable from the Export panel
    show_section(page, "export")
    panel = page.locator(".jp-WorkbenchExport")
    panel.get_by_role("radio", name="Notebook variable").check()
    panel.get_by_role("textbox", name="Notebook variable").fill("net")
    panel.get_by_label("Destination").fill("served/net")
    panel.get_by_label("Signature").fill("predict")
    panel.get_by_role("button", name="Export").click()

    # Then a %savedmodel cell is inserted and run, showing the summary, and the model is on disk
    cell = page.locator(".jp-NotebookPanel .jp-Cell").nth(1)
    cell.locator(
        ".cm-content", has_text="%savedmodel net served/net --signature predict"
    ).wait_for()
    cell.locator(".jp-OutputArea", has_text="predict").wait_for(timeout=120_000)
    assert (lab.root / "served" / "net" / "1" / "saved_model.pb").is_file()
    # and the user's notebook got that one line only: no %reload_ext or helper cells
    sources = page.locator(".jp-NotebookPanel .jp-Cell .cm-content").all_inner_texts()
    assert len(sources) == 2, sources
    assert sources[1].strip() == "%savedmodel net served/net --signature predict"
    assert not any("reload_ext" in s or "load_ext" in s for s in sources)
    # and the summary is rich output, not a pink stderr stream
    output = cell.locator(".jp-OutputArea-output")
    assert output.locator("table").count() >= 1
    assert cell.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
