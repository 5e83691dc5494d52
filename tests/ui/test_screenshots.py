"""Screenshots of each Workbench section, light and dark, for reviewers, at 2 device pixels
per CSS pixel, and a check, in each written file, that every text box is painted in the
theme's colours. Written to $WORKBENCH_SCREENSHOTS (tests/ui/screenshots/ by default,
git-ignored); zh-CN ones come from test_i18n.py."""

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


@pytest.fixture
def device_scale_factor():
    # The screenshots are for people to read: at 1x, shrunk to fit a viewer, the dark
    # theme's prefilled "Signature" box (dark like the panel, with a bright 13 px value) read
    # as a white box with dark text although its pixels were dark. 2x reads as it is.
    return 2


# The visible text boxes of a section: accessible name, value and box (CSS px, page).
_TEXT_BOXES = """section => [...section.querySelectorAll('input')]
  .filter(e => e.offsetParent !== null && !['checkbox', 'radio'].includes(e.type))
  .map(e => {
    const r = e.getBoundingClientRect();
    return {name: e.getAttribute('aria-label') || e.name, value: e.value,
            x: r.x, y: r.y, width: r.width, height: r.height};
  })"""

# Decode a PNG and give, for each box (device px), its most common colour: the box's own
# background as a reader sees it (the glyphs of a value are the minority).
_BOX_COLOURS = """async ([png, boxes]) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + png;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const colours = boxes.map(([x, y, w, h]) => {
    const d = ctx.getImageData(x, y, w, h).data;
    const counts = new Map();
    for (let i = 0; i < d.length; i += 4) {
      const key = `${d[i]},${d[i + 1]},${d[i + 2]}`;
      counts.set(key, (counts.get(key) || 0) + 1);
    }
    return [...counts].sort((a, b) => b[1] - a[1])[0][0].split(',').map(Number);
  });
  return {width: img.width, colours};
}"""


def painted_text_boxes(page, png_path, origin, section) -> tuple[int, list[dict]]:
    """The text boxes of ``section`` as painted in the screenshot file ``png_path`` (of the
    element whose page box is ``origin``): the file's width and each box with its ``luma``
    (0-255, of its most common colour)."""
    scale = page.evaluate("devicePixelRatio")
    boxes = section.evaluate(_TEXT_BOXES)
    inset = 3  # inside the border and the focus ring
    rects = [
        [
            round((b["x"] - origin["x"] + inset) * scale),
            round((b["y"] - origin["y"] + inset) * scale),
            max(1, round((b["width"] - 2 * inset) * scale)),
            max(1, round((b["height"] - 2 * inset) * scale)),
        ]
        for b in boxes
    ]
    png = base64.b64encode(png_path.read_bytes()).decode()
    painted = page.evaluate(_BOX_COLOURS, [png, rects])
    for box, (r, g, b) in zip(boxes, painted["colours"], strict=True):
        box["luma"] = round(0.2126 * r + 0.7152 * g + 0.0722 * b)
    return painted["width"], boxes


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
    seen = []
    for section in SECTIONS:
        if page.locator(f'[data-section-title="{section}"]').count() == 0:
            continue  # (a feature the server does not offer)
        body = show_section(page, section)
        path = snap(page, f"{theme}-{section}", sidebar)
        # Every text box, with a value or without, is painted in the theme's colours in the
        # very file a reviewer opens, at a scale that reads as it is
        origin = sidebar.bounding_box()
        width, boxes = painted_text_boxes(page, path, origin, body)
        assert width == round(origin["width"] * 2), (path, width)
        for box in boxes:
            seen.append((section, box))
            if theme == "dark":
                assert box["luma"] < 80, (path.name, box)
            else:
                assert box["luma"] > 200, (path.name, box)
    # Both kinds were checked: the Export panel's prefilled "Signature" and empty boxes
    assert any(b["name"] == "Signature" and b["value"] for _, b in seen), seen
    assert any(not b["value"] for _, b in seen), seen


# Every form control's background as CSS computes it (its own, or the first opaque one
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


def test_every_control_computes_the_dark_themes_colours(themed_lab, page):
    # (selects and text areas too; the painted boxes are checked in the screenshots above)
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
    assert any(c["name"] == "Signature" and c["value"] for _, c in seen), seen


def test_no_label_is_cut_off_in_english(themed_lab, page):
    theme, server = themed_lab
    if theme != "light":
        pytest.skip("one theme is enough: the layout is the same")
    open_lab(page, server)
    assert cut_off_labels(page) == []
