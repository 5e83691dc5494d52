"""Screenshots of each Workbench section, light and dark, for reviewers (and a check that the
dark theme really applies to the sidebar). Written to $WORKBENCH_SCREENSHOTS
(tests/ui/screenshots/ by default, git-ignored); zh-CN ones come from test_i18n.py."""

from __future__ import annotations

import base64

import pytest
from conftest import cut_off_labels, lab_settings, open_lab, show_section, snap, start_lab, stop_lab

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


# Every form control's background as the user sees it (its own, or the first opaque one
# behind it) and its text colour, with the control's accessible name.
_CONTROL_COLOURS = """section => [...section.querySelectorAll('input, select, textarea')]
  .filter(e => e.offsetParent !== null && !['checkbox', 'radio'].includes(e.type))
  .map(e => {
    let node = e, bg = 'rgba(0, 0, 0, 0)';
    while (node && /rgba\\(.*, 0\\)$|transparent/.test(bg)) {
      bg = getComputedStyle(node).backgroundColor;
      node = node.parentElement;
    }
    return {
      name: e.getAttribute('aria-label') || e.name || e.id,
      value: e.value,
      background: bg,
      color: getComputedStyle(e).color
    };
  })"""


def _brightness(colour: str) -> int:
    return sum(int(float(x)) for x in colour[colour.index("(") + 1 : -1].split(",")[:3])


_MEAN_LUMA = """async png => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + png;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, img.width, img.height).data;
  let sum = 0;
  for (let i = 0; i < d.length; i += 4) {
    sum += 0.2126 * d[i] + 0.7152 * d[i + 1] + 0.0722 * d[i + 2];
  }
  return sum / (d.length / 4);
}"""


def _painted_luma(page, control) -> float:
    """Mean luminance (0-255) of the box as painted on the page (not as CSS computes it)."""
    box = control.bounding_box()
    clip = {
        "x": box["x"] + 2,
        "y": box["y"] + 2,
        "width": box["width"] - 4,
        "height": box["height"] - 4,
    }
    png = base64.b64encode(page.screenshot(clip=clip)).decode()
    return page.evaluate(_MEAN_LUMA, png)


def test_every_input_is_dark_in_the_dark_theme_with_or_without_a_value(themed_lab, page):
    # Chromium painted the Export panel's prefilled "Signature" box white with dark text in
    # the dark theme while its computed colours were dark: check computed AND painted colours
    theme, server = themed_lab
    if theme != "dark":
        pytest.skip("the dark theme's check")
    open_lab(page, server)
    page.locator('body[data-jp-theme-light="false"]').wait_for(state="attached")
    seen = []
    for section in SECTIONS:
        if page.locator(f'[data-section-title="{section}"]').count() == 0:
            continue
        body = show_section(page, section)
        for control in body.evaluate(_CONTROL_COLOURS):
            seen.append((section, control))
            assert _brightness(control["background"]) < 200, (section, control)
            assert _brightness(control["color"]) > 400, (section, control)
        boxes = body.locator("input[type='text']:visible, input:not([type]):visible")
        for i in range(boxes.count()):
            box = boxes.nth(i)
            luma = _painted_luma(page, box)
            label = box.get_attribute("aria-label")
            assert luma < 100, (section, label, box.input_value(), luma)
    # Both kinds were checked: the Export panel's prefilled "Signature" and empty boxes
    assert any(c["name"] == "Signature" and c["value"] for _, c in seen), seen
    assert any(not c["value"] for _, c in seen), seen


def test_no_label_is_cut_off_in_english(themed_lab, page):
    theme, server = themed_lab
    if theme != "light":
        pytest.skip("one theme is enough: the layout is the same")
    open_lab(page, server)
    assert cut_off_labels(page) == []
