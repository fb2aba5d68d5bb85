"""Headless Chromium for report tests: the DOM of a page after its images have loaded."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def dump_dom(page: Path, profile: Path) -> str:
    """The page's DOM after load (report.html marks `data-images-ok` on <body> once every image decoded)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "install Chromium for this test: apt-get install chromium (scripts/test.sh does it as root)"
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False).stdout
