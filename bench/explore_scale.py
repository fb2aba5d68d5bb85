"""How fast `headstart explore` builds and how fast its page loads in headless Chromium.

    python bench/explore_scale.py                        # 10k and 100k points, pixel features
    python bench/explore_scale.py --points 100000 --repeats 3 --run runs/fm   # a run's backbone features

Points are real Fashion-MNIST images: train + test (70,000), then the first train images again
(with a little noise on their features: near-duplicates) up to `--points`. Features are the raw
pixels (784-d) unless `--run` names a run whose backbone embeds them (slow on a CPU: minutes).
The page is measured twice, served (uvicorn on a local port; the page fetches /api/points) and
static (one file with everything inlined), in the system Chromium driven by Playwright (a fresh
tab each time, the browser already started): "ready" is the page's own `performance.now()` once
plotly has drawn the interactive map; "first paint" is Chromium's first-contentful-paint. Then,
served: hover, click and zoom times on three points.

Measured 2026-12-02, quiet 2-core machine, pixel features, 3 loads each (ms from navigation):
    10,000 points:  first paint 124, interactive 2,138 served (1,999-2,196), 2,409 static (2,120-2,416)
    100,000 points: first paint 152, interactive 2,737 served (2,538-3,036), 2,989 static (2,909-3,101);
                    data in hand at 1,929; hover 121-835, click 605-723, zoom 130-713;
                    build 8.5 s, thumbnails 12.2 s (25 sheets, 20 MB), points JSON 6 MB
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import uvicorn
from playwright.sync_api import sync_playwright

from headstart.curate.explore.page import static_page
from headstart.curate.explore.points import build_explorer
from headstart.curate.explore.server import make_app
from headstart.curate.explore.thumbs import make_sprites
from headstart.data.idx import open_idx
from headstart.data.imageset import ImageSet

READY = re.compile(r"ready in (\d+) ms \(script (\d+), data (\d+)\)")


def fashion_points(n: int) -> ImageSet:
    """Fashion-MNIST train + test, then train again, cut to `n` images."""
    train, test = open_idx("fashion-mnist", "train"), open_idx("fashion-mnist", "test")
    images, labels, paths = [train.images, test.images], [train.labels, test.labels], train.paths + test.paths
    while sum(len(x) for x in images) < n:
        take = min(len(train), n - sum(len(x) for x in images))
        images.append(train.images[:take])
        labels.append(train.labels[:take])
        paths += [p + "-again" for p in train.paths[:take]]
    return replace(train, images=torch.cat(images)[:n], labels=np.concatenate(labels)[:n], paths=paths[:n])


def features(data: ImageSet, run: str | None) -> torch.Tensor:
    if run is not None:
        from headstart.commands.select import embed
        from headstart.run import Run

        return embed(Run.read(run), data, 512, True)
    x = data.images.flatten(1).float()
    again = torch.tensor(["-again" in p for p in data.paths])
    x[again] += torch.randn(int(again.sum()), x.shape[1], generator=torch.Generator().manual_seed(0)) * 4
    return x


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and every process below it: the browser's too."""
    tick, procs = os.sysconf("SC_CLK_TCK"), {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        procs[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)  # ppid, cpu
    mine, total = {os.getpid()}, 0.0
    for _ in range(12):  # python -> playwright driver -> chromium -> its zygotes -> renderers
        mine |= {pid for pid, (ppid, _) in procs.items() if ppid in mine}
    for pid in mine:
        total += procs.get(pid, (0, 0.0))[1]
    return total


def page_times(browser, url: str) -> tuple[int, int, int, int, float]:
    """(ready, first paint, script parsed, data in hand) in ms from navigation start, as the page
    reports them (`performance.now()`; real time: no virtual-time flag), and the CPU seconds the
    browser (and the server) spent until ready: what an idle machine would need at most. A fresh
    browser context each time: a first visit, nothing cached."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        cpu = cpu_seconds()
        page.goto(url, timeout=300_000)
        page.wait_for_function("document.body.dataset.readyMs !== undefined", timeout=300_000)
        cpu = cpu_seconds() - cpu
        m = READY.search(page.title())
        paint = page.evaluate("(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || -1")
    finally:
        context.close()
    return int(m[1]), int(paint), int(m[2]), int(m[3]), cpu


WHERE = """(i) => { const gd = document.getElementById('map'), L = gd._fullLayout, r = gd.getBoundingClientRect();
  return [r.left + L._size.l + L.xaxis.l2p(D.x[i]), r.top + L._size.t + L.yaxis.l2p(D.y[i])]; }"""
THUMB_DRAWN = """() => { const c = document.querySelector('#hover canvas');
  return document.getElementById('hover').style.display === 'block' && c
    && c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, k) => k % 4 < 3 && v > 40); }"""
ZOOM = """async (k) => { const t = performance.now();
  await Plotly.relayout('map', {'xaxis.range': [0.1 + 0.05 * k, 0.5], 'yaxis.range': [0.1, 0.4 - 0.05 * k]});
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))); return performance.now() - t; }"""


def interactions(browser, url: str, rows: list[int]) -> dict:
    """ms from pointer to result on the served page: hover -> thumbnail drawn (its sheet fetched
    the first time), click -> image + 8 neighbours shown, zoom -> map redrawn (2 frames later)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(url, timeout=300_000)
    page.wait_for_function("document.body.dataset.readyMs !== undefined", timeout=300_000)
    hover, click = [], []
    for i in rows:
        x, y = page.evaluate(WHERE, i)
        t = time.perf_counter()
        page.mouse.move(x, y)
        page.wait_for_function(THUMB_DRAWN, timeout=120_000)
        hover.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        page.mouse.click(x, y)
        page.wait_for_function("document.querySelectorAll('#detail .nb').length === 9", timeout=120_000)
        click.append(1000 * (time.perf_counter() - t))
        page.mouse.move(5, 5)
    zoom = [page.evaluate(ZOOM, k) for k in range(3)]
    context.close()
    return {"hover_ms": [round(v) for v in hover], "click_ms": [round(v) for v in click],
            "zoom_ms": [round(v) for v in zoom]}


def serve(app) -> tuple[str, uvicorn.Server, threading.Thread]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}/", server, thread


def measure(n: int, repeats: int, run: str | None, work: Path) -> dict:
    data = fashion_points(n)
    t = time.perf_counter()
    emb = features(data, run)
    t_embed = time.perf_counter() - t
    t = time.perf_counter()
    ex = build_explorer(embeddings=emb, names=list(data.paths),
                        labels=[data.classes[y] for y in data.labels.tolist()], clusters=10)
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    ex.sprites = make_sprites(data, work / f"thumbs-{n}", key=str(n))
    t_thumbs = time.perf_counter() - t
    t = time.perf_counter()
    page = work / f"static-{n}.html"
    page.write_text(static_page(ex))
    t_static = time.perf_counter() - t
    app = make_app(ex)
    points_bytes = len(json.dumps(ex.payload(), separators=(",", ":")))
    url, server, thread = serve(app)
    served, static = [], []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium") or shutil.which("chromium-browser"),
                                         args=["--no-sandbox"])
            for _ in range(repeats):
                served.append(page_times(browser, url))
                static.append(page_times(browser, page.as_uri()))
            acts = interactions(browser, url, [n // 7, n // 2, n - 3])
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    sheet_bytes = sum(ex.sprites.path(s).stat().st_size for s in range(ex.sprites.sheets))

    def median(rows: list[tuple], k: int) -> float:
        return round(statistics.median(r[k] for r in rows), 1)

    return {"points": n, "features": "run" if run else "pixels", "embed_s": round(t_embed, 1),
            "build_s": round(t_build, 1), "thumbs_s": round(t_thumbs, 1), "static_write_s": round(t_static, 1),
            "points_json_MB": round(points_bytes / 1e6, 1), "sheets": ex.sprites.sheets,
            "sheets_MB": round(sheet_bytes / 1e6, 1), "static_MB": round(page.stat().st_size / 1e6, 1),
            "served_ready_ms": median(served, 0), "served_first_paint_ms": median(served, 1),
            "served_data_ms": median(served, 3), "static_ready_ms": median(static, 0),
            "static_first_paint_ms": median(static, 1), "static_script_ms": median(static, 2),
            "served_cpu_s": median(served, 4), "static_cpu_s": median(static, 4),
            "served_all_ms": [r[0] for r in served], "static_all_ms": [r[0] for r in static],
            **acts, "load_average_1m": round(os.getloadavg()[0], 1), "cpus": os.cpu_count()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--run", default=None, help="embed with this run's backbone instead of raw pixels")
    args = p.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.points:
            print(json.dumps(measure(n, args.repeats, args.run, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
