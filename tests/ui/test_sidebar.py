"""The Workbench sidebar in a real JupyterLab, driven in Debian's chromium."""

import shutil

from conftest import (
    make_notebook,
    open_lab,
    open_notebook,
    open_workbench_sidebar,
    run_cell,
    start_lab,
    stop_lab,
)

from jupyter_workbench import __version__


def test_sidebar_handshake_succeeds(lab, page):
    # Given JupyterLab with the workbench installed
    open_lab(page, lab)

    # When the user opens the Workbench sidebar
    open_workbench_sidebar(page)

    # Then it says it is connected to the server extension of the same version
    banner = page.locator(".jp-WorkbenchSidebar-banner")
    banner.locator("xpath=self::*[@data-state='ok']").wait_for()
    assert banner.inner_text() == f"Connected to jupyter-workbench server {__version__}"
    assert page.locator('[data-section="export"]').is_visible()


def test_sidebar_says_plainly_when_server_extension_is_missing(tmp_path, page):
    # Given JupyterLab whose workbench server extension is disabled
    server = start_lab(tmp_path, "--ServerApp.jpserver_extensions=jupyter_workbench=False")
    try:
        # When the user opens the Workbench sidebar
        open_lab(page, server)
        open_workbench_sidebar(page)

        # Then the banner explains the server part is missing instead of failing silently
        banner = page.locator(".jp-WorkbenchSidebar-banner[data-state='error']")
        banner.wait_for()
        assert "server extension is not responding" in banner.inner_text()
    finally:
        stop_lab(server)


def test_export_panel_exports_a_keras_file_and_shows_summary(lab, page, tiny_keras_file):
    # Given a .keras model file in the notebook root
    shutil.copy(tiny_keras_file, lab.root / "tiny.keras")
    open_lab(page, lab)

    # When the user right-clicks it in the file browser and picks "Export to SavedModel…"
    page.locator('.jp-DirListing-item[title^="Name: tiny.keras"]').click(button="right")
    page.locator(".lm-Menu-item", has_text="Export to SavedModel").click()

    # Then the Workbench sidebar opens with the file as the source and a suggested destination
    panel = page.locator(".jp-WorkbenchExport")
    panel.wait_for(state="visible")
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
    # and the SavedModel is on disk where TF Serving expects it
    assert (lab.root / "exported" / "tiny" / "1" / "saved_model.pb").is_file()


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
    open_workbench_sidebar(page)
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
