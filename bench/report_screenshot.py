"""Open a headstart HTML report in the system Chromium (headless, through Playwright) and save a
screenshot of the whole page: what a reader of the report sees, and a check that it renders.

    python bench/report_screenshot.py runs/demo-text/report.html docs/img/text-report.png [--width 1200]

Prints the page's title, its size and every console error (none expected: the report is one
self-contained file).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report", type=Path)
    ap.add_argument("png", type=Path)
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--full-page", action="store_true", help="the whole page, not only the first screen")
    args = ap.parse_args()
    args.png.parent.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium") or shutil.which("chromium-browser"),
                                     args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": args.width, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(args.report.resolve().as_uri())
        page.wait_for_load_state("load")
        height = page.evaluate("document.body.scrollHeight")
        page.screenshot(path=str(args.png), full_page=args.full_page)
        print(f"{page.title()!r}: {args.width} x {height} px, {len(page.query_selector_all('img'))} images, "
              f"console errors: {errors or 'none'} -> {args.png}")
        browser.close()


if __name__ == "__main__":
    main()
