"""The README's screenshots of `headstart explore`: the map coloured by label, a clicked image with
its nearest neighbours, and a duplicates group, taken in the system Chromium through Playwright.

    python bench/explore_screens.py --run runs/fm [--data fashion-mnist:test] [--out docs/img]

The explorer is built exactly as `headstart explore --run R --data D` builds it (its caches land in
the run folder), served on a free local port, and driven as a person would: the page loads, a
point is clicked, the duplicates finder runs at `--threshold` and its first group is opened.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from explore_scale import WHERE, serve
from PIL import Image
from playwright.sync_api import sync_playwright

from headstart.commands.explore import explorer_for
from headstart.curate.explore.config import ExploreConfig
from headstart.curate.explore.server import make_app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="a pretraining run folder")
    ap.add_argument("--data", default="fashion-mnist:test")
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    ap.add_argument("--threshold", type=float, default=0.99, help="cosine for the duplicates view")
    ap.add_argument("--row", type=int, default=1234, help="the row to click")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    explorer = explorer_for(ExploreConfig(run=args.run, data=args.data, progress=True))
    url, server, thread = serve(make_app(explorer))
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url, timeout=300_000)
            page.wait_for_function("document.body.dataset.readyMs !== undefined", timeout=300_000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(args.out / "explore-map.png"))

            x, y = page.evaluate(WHERE, args.row)
            page.mouse.click(x, y)
            page.wait_for_function("document.querySelectorAll('#detail .nb').length === 9", timeout=120_000)
            page.wait_for_function("[...document.querySelectorAll('#detail img')].every(i => i.complete)",
                                   timeout=60_000)
            page.mouse.move(5, 5)
            page.screenshot(path=str(args.out / "explore-neighbours.png"))

            page.evaluate(f"(() => {{ const t = document.getElementById('thr'); t.value = '{args.threshold}'; "
                          "t.dispatchEvent(new Event('input')); })()")
            page.click("#dups")
            page.wait_for_function("document.querySelectorAll('#groups .group').length > 0", timeout=300_000)
            page.click("#groups .group")
            page.wait_for_timeout(1500)  # the group's thumbnails
            page.screenshot(path=str(args.out / "explore-duplicates.png"))
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    for name in ("explore-map", "explore-neighbours", "explore-duplicates"):
        shot = args.out / f"{name}.png"  # 256 colours: a third of the size, the same to the eye
        Image.open(shot).convert("RGB").quantize(256).save(shot, optimize=True)
        print(shot, f"{shot.stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
