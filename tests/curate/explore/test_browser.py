"""The explorer as a person uses it: the real server, Debian's Chromium driven by Playwright (no
browser download): hover a point, click it, lasso a region, export it, pick from it, open a
duplicate group, and a screenshot of the result."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import sync_playwright

from tests.curate.explore.conftest import PLANTED

# screen position of row i: plotly's axis mapping plus the plot area's offset in the page
WHERE = """(i) => { const gd = document.getElementById('map'), L = gd._fullLayout, r = gd.getBoundingClientRect();
  return [r.left + L._size.l + L.xaxis.l2p(D.x[i]), r.top + L._size.t + L.yaxis.l2p(D.y[i])]; }"""
# rows whose screen position lies in the box [x0, x1] x [y0, y1]
INSIDE = """([x0, y0, x1, y1]) => { const gd = document.getElementById('map'), L = gd._fullLayout,
  r = gd.getBoundingClientRect(), out = [];
  for (let i = 0; i < D.n; i++) { const x = r.left + L._size.l + L.xaxis.l2p(D.x[i]),
    y = r.top + L._size.t + L.yaxis.l2p(D.y[i]); if (x > x0 && x < x1 && y > y0 && y < y1) out.push(i); }
  return out; }"""


@pytest.fixture(scope="module")
def page(served):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "install Chromium for this test: apt-get install chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        tab.goto(served)
        tab.wait_for_function("document.body.dataset.readyMs !== undefined", timeout=120_000)
        yield tab
        browser.close()


def test_browser__hover_shows_the_thumbnail(page, explorer):
    x, y = page.evaluate(WHERE, 17)
    page.mouse.move(x, y)
    page.wait_for_function("document.getElementById('hover').style.display === 'block'", timeout=20_000)
    page.wait_for_function("""() => { const c = document.querySelector('#hover canvas');
        return c && c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, k) => k % 4 < 3 && v > 40); }""",
                           timeout=20_000)  # the sprite sheet arrived and the thumbnail is drawn
    caption = page.inner_text("#hover")
    row = int(caption.split()[0].lstrip("#"))
    assert explorer.labels[row] in caption and np.hypot(*(np.subtract(page.evaluate(WHERE, row), (x, y)))) < 8


def test_browser__click_shows_the_image_its_neighbours_and_metadata(page, explorer):
    page.mouse.move(5, 5)
    x, y = page.evaluate(WHERE, 40)
    page.mouse.click(x, y)
    page.wait_for_function("document.querySelectorAll('#detail .nb').length === 9", timeout=30_000)
    src = page.get_attribute("#detail img", "src")
    row = int(src.rsplit("/", 1)[1])
    assert np.hypot(*(np.subtract(page.evaluate(WHERE, row), (x, y)))) < 8
    assert page.evaluate("document.querySelector('#detail img').naturalWidth") == 32
    assert explorer.names[row] in page.inner_text("#detail")
    first = page.inner_text("#detail .nb")
    assert first.startswith(f"#{row} 0.000")  # itself, at distance 0


def test_browser__lasso_export_and_pick_among_the_selection(page, explorer, tmp_path):
    box = page.evaluate("(() => { const gd = document.getElementById('map'), L = gd._fullLayout, "
                        "r = gd.getBoundingClientRect(); return [r.left + L._size.l, r.top + L._size.t, "
                        "L._size.w, L._size.h]; })()")
    x0, y0 = box[0] + 0.2 * box[2], box[1] + 0.2 * box[3]
    x1, y1 = box[0] + 0.6 * box[2], box[1] + 0.6 * box[3]
    expected = set(page.evaluate(INSIDE, [x0, y0, x1, y1]))
    assert len(expected) > 10
    page.mouse.move(x0, y0)
    page.mouse.down()
    for px, py in [(x1, y0), (x1, y1), (x0, y1), (x0, y0)]:
        page.mouse.move(px, py, steps=8)
    page.mouse.up()
    page.wait_for_function("/^[0-9]+ selected$/.test(document.getElementById('selcount').textContent)",
                           timeout=30_000)  # not "nothing selected": the lasso's event has arrived
    chosen = set(page.evaluate("[...selection]"))
    assert len(chosen ^ expected) <= max(2, len(expected) // 50)  # the lasso path's corners, nothing more

    with page.expect_download() as download:
        page.click("#export")
    path = tmp_path / "selection.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(path.open()))
    assert {int(r["row"]) for r in rows} == chosen
    assert all(r["path"] == explorer.names[int(r["row"])] and r["label"] == explorer.labels[int(r["row"])]
               for r in rows)

    page.fill("#pickn", "7")
    page.select_option("#strategy", "diverse")
    page.click("#pick")
    page.wait_for_function("document.getElementById('pickinfo').textContent.startsWith('7 picked')", timeout=30_000)
    picks = set(page.evaluate("[...picks]"))
    assert len(picks) == 7 and picks <= chosen
    assert page.input_value("#colour") == "selection"


def test_browser__duplicate_groups_side_by_side(page, explorer, tmp_path):
    page.evaluate("document.getElementById('thr').value = '0.99'")
    page.click("#dups")
    page.wait_for_function(f"document.querySelectorAll('#groups .group').length >= {PLANTED}", timeout=60_000)
    page.click("#groups .group")
    chosen = set(page.evaluate("[...selection]"))
    assert chosen == set(explorer.duplicates(0.99)["groups"][0]["members"]) and len(chosen) >= 2
    shown = page.inner_text("#groups")
    assert "images at cosine ≥ 0.99" in shown
    shot = tmp_path / "explorer.png"
    page.screenshot(path=str(shot))
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape == (900, 1400, 3) and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
