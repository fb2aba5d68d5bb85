"""The explorer's API and page on real Fashion-MNIST: 320 PNGs (4 classes) plus 3 planted copies,
embedded by a tiny pretrained resnet-mini, served by Starlette's TestClient (no real port)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from starlette.testclient import TestClient

from headstart.commands.explore import explorer_for
from headstart.curate.explore.config import ExploreConfig
from headstart.curate.explore.page import plotly_js, static_page
from headstart.curate.explore.points import build_explorer
from headstart.curate.explore.projection import pca_2d, project
from headstart.curate.explore.server import make_app
from headstart.errors import HeadstartError
from tests.curate.explore.conftest import PLANTED


@pytest.fixture(scope="module")
def client(explorer):
    return TestClient(make_app(explorer))


def test_points__every_point_with_its_label_and_map(client):
    d = client.get("/api/points").json()
    assert d["n"] == 320 + PLANTED and len(d["x"]) == len(d["y"]) == len(d["names"]) == d["n"]
    assert 0 <= min(d["x"]) and max(max(d["x"]), max(d["y"])) <= 1
    label = d["columns"]["label"]
    assert sorted(np.bincount(label["codes"]).tolist()) == [80, 81, 81, 81]  # a copy in 3 of the 4 classes
    assert len(label["names"]) == 4 and set(d["columns"]) == {"label", "cluster", "typicality"}
    assert len(set(d["columns"]["cluster"]["codes"])) == 4
    assert Path(d["prefix"] + d["names"][0]).is_file()
    assert d["mode"] == "image" and d["sprites"]["sheets"] == 1


def test_thumbs__sheet_decodes_at_the_right_size_and_holds_the_images(client, explorer):
    r = client.get("/api/thumbs/0.webp")
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
    sheet = Image.open(io.BytesIO(r.content))
    per, size = explorer.sprites.per_side, explorer.sprites.size
    assert sheet.size == (per * size, -(-len(explorer) // per) * size)
    row = 70  # its thumbnail is the image itself, shrunk (lossy WebP: close, not equal)
    thumb = np.asarray(sheet.convert("L"))[(row // per) * size:(row // per + 1) * size, (row % per) * size:(row % per + 1) * size]
    original = np.asarray(Image.open(explorer.names[row]).convert("L").resize((size, size), Image.BILINEAR))
    other = np.asarray(Image.open(explorer.names[row + 100]).convert("L").resize((size, size), Image.BILINEAR))
    err = np.abs(thumb.astype(float) - original).mean()
    assert err < 12 and err < np.abs(thumb.astype(float) - other).mean() / 2


def test_neighbors__itself_first_at_distance_zero_then_mostly_its_class(client, explorer):
    same = []
    for i in range(0, len(explorer), 16):
        d = client.get(f"/api/neighbors/{i}?k=6").json()
        assert d["ids"][0] == i and d["distances"][0] == 0
        assert d["distances"] == sorted(d["distances"]) and len(set(d["ids"])) == 6
        same += [explorer.labels[j] == explorer.labels[i] for j in d["ids"][1:]]
    assert np.mean(same) > 0.6  # 4 classes: 0.25 by chance


def test_select__n_distinct_rows_within_the_lasso(client):
    d = client.post("/api/select", json={"n": 12, "strategy": "typical"}).json()
    assert len(d["ids"]) == len(set(d["ids"])) == 12
    among = list(range(40, 140))
    for strategy in ("diverse", "balanced", "random", "diverse+typical"):
        ids = client.post("/api/select", json={"n": 10, "strategy": strategy, "among": among}).json()["ids"]
        assert len(set(ids)) == 10 and set(ids) <= set(among), strategy


def test_duplicates__planted_copies_group_at_the_threshold(client, explorer, setup):
    d = client.get("/api/duplicates?threshold=0.99").json()
    together = [{explorer.names.index(a), explorer.names.index(b)} for a, b in setup[2]]
    groups = [set(g["members"]) for g in d["groups"]]
    assert all(any(pair <= g for g in groups) for pair in together)
    assert d["groups_total"] >= PLANTED and d["threshold"] == 0.99
    loose = client.get("/api/duplicates?threshold=0.9").json()
    assert loose["rows_total"] >= d["rows_total"]
    for g in d["groups"]:
        assert g["similarity"][0] == 1.0 and len(g["members"]) == len(g["similarity"]) >= 2


def test_point__metadata_and_full_image(client, explorer):
    m = client.get("/api/point/5").json()
    assert m["row"] == 5 and m["name"] == explorer.names[5] and m["label"] == Path(m["name"]).parent.name
    img = Image.open(io.BytesIO(client.get("/api/image/5").content))
    assert img.size == (32, 32)  # the run's image size


@pytest.mark.parametrize(("method", "url", "body", "status"), [
    ("get", "/api/point/100000", None, 404),
    ("get", "/api/point/-1", None, 404),
    ("get", "/api/image/..%2F..%2F..%2Fetc%2Fpasswd", None, 404),
    ("get", "/api/thumbs/..%2Fsprites.json", None, 404),
    ("get", "/api/thumbs/7.webp", None, 404),
    ("get", "/api/neighbors/1?k=0", None, 400),
    ("get", "/api/neighbors/1?k=100000", None, 400),
    ("get", "/api/neighbors/1?k=x", None, 400),
    ("get", "/api/duplicates?threshold=2", None, 400),
    ("get", "/api/duplicates?threshold=nan", None, 400),
    ("post", "/api/select", {"n": 10**9}, 400),
    ("post", "/api/select", {"n": 5, "strategy": "nope"}, 400),
    ("post", "/api/select", {"n": 5, "strategy": "uncertain"}, 400),
    ("post", "/api/select", {"n": 5, "among": [0, 10**7]}, 400),
    ("post", "/api/select", {"n": 500, "among": [1, 2]}, 400),
    ("post", "/api/select", {"n": 5, "seed": "x"}, 400),
    ("post", "/api/select", [1, 2], 400),
])
def test_bad_requests__4xx_with_a_reason(client, method, url, body, status):
    r = client.post(url, json=body) if method == "post" else client.get(url)
    assert r.status_code == status and r.json()["error"]
    assert "root:" not in r.text


def test_page__served_page_loads_plotly_from_the_server(client):
    page = client.get("/").text
    assert '<script src="plotly.min.js">' in page and "scattergl" in page
    js = client.get("/plotly.min.js")
    assert js.status_code == 200 and len(js.content) == plotly_js().stat().st_size > 1_000_000


def test_static__inlines_plotly_points_thumbnails_and_neighbours(explorer):
    page = static_page(explorer)
    assert plotly_js().read_text()[:200] in page and "plotly.min.js" not in page.split("window.EXPLORE_DATA")[1]
    blob = page.split("window.EXPLORE_DATA = ")[1].split(";</script>")[0]
    data = json.loads(blob)
    assert data["n"] == len(explorer) and len(data["sheets"]) == 1
    assert data["sheets"][0].startswith("data:image/webp;base64,")
    assert [ids[0] for ids in data["neighbors"]["ids"]] == list(range(len(explorer)))


def test_cache__a_second_explorer_reuses_embeddings_map_and_thumbnails(setup, explorer):
    run, data, _ = setup
    cache = next((run / "cache").iterdir())
    before = {p.name: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()}
    again = explorer_for(ExploreConfig(run=run, data=str(data), clusters=4, progress=False))
    assert {p.name: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()} == before
    assert torch.equal(again.x, explorer.x) and np.array_equal(again.xy, explorer.xy)


def test_text_rows__carry_their_text_and_no_thumbnails(tmp_path):
    lines = [s.strip() for s in Path("/usr/share/games/fortunes/fortunes").read_text(errors="ignore").split("\n%\n")][:200]
    counts = torch.zeros(len(lines), 128)  # character counts: real text, real (crude) embeddings
    for i, text in enumerate(lines):
        for ch in text.encode("ascii", "ignore"):
            counts[i, ch] += 1
    ex = build_explorer(embeddings=counts, names=[f"fortunes:{i}" for i in range(len(lines))], texts=lines, clusters=3)
    c = TestClient(make_app(ex))
    d = c.get("/api/points").json()
    assert d["mode"] == "text" and d["texts"] == lines and d["sprites"] is None
    assert c.get("/api/point/3").json()["text"] == lines[3]
    assert c.get("/api/thumbs/0.webp").status_code == 404 and c.get("/api/image/0").status_code == 404
    assert c.get("/api/neighbors/3?k=3").json()["ids"][0] == 3


def test_embed_folder_with_text__explored_as_text(setup, tmp_path):
    run, _, _ = setup
    folder = tmp_path / "emb"
    folder.mkdir()
    texts = ["a cat sat", "a dog ran", "the cat sat down", "stocks fell", "markets rose"]
    np.save(folder / "embeddings.npy", np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32))
    (folder / "index.csv").write_text("row,text,label\n" + "".join(f"{i},{t},x\n" for i, t in enumerate(texts)))
    ex = explorer_for(ExploreConfig(run=run, data=str(folder), clusters=2, progress=False))
    assert ex.texts == texts and ex.sprites is None and ex.labels == ["x"] * 5


def test_projection__pca_matches_the_leading_singular_vectors(fmnist):
    x = torch.nn.functional.normalize(fmnist[0][:2000], dim=1)
    xy = pca_2d(x)
    centred = (x - x.mean(dim=0)).numpy()
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    for k in range(2):
        assert abs(np.corrcoef(xy[:, k], u[:, k] * s[k])[0, 1]) > 0.99
    box = project(x)
    assert box.min() == 0 and np.isclose(box.max(axis=0).max(), 1)


def test_projection__umap_without_umap_learn_says_how_to_install(monkeypatch, fmnist):
    monkeypatch.setitem(__import__("sys").modules, "umap", None)
    with pytest.raises(HeadstartError, match="pip install umap-learn"):
        project(torch.nn.functional.normalize(fmnist[0][:50], dim=1), "umap")


def chromium(args: list[str], profile: Path) -> str:
    """Headless Chromium's stdout (the DOM with --dump-dom) for a page."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "install Chromium for this test: apt-get install chromium"
    return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={profile}", "--virtual-time-budget=15000", *args],
                          capture_output=True, text=True, timeout=180, check=False).stdout


def test_static__draws_the_map_and_a_clicked_point_in_headless_chromium(explorer, tmp_path):
    page = tmp_path / "explorer.html"
    page.write_text(static_page(explorer))
    dom = chromium(["--dump-dom", page.as_uri() + "#colour=cluster&point=5"], tmp_path / "profile")
    assert f"headstart explore: {len(explorer)} points, ready in" in dom
    assert dom.count('class="nb"') == 9 and "<td>row</td><td>5</td>" in dom  # itself + 8 neighbours, metadata
    assert "cluster 3 (" in dom  # the legend of the cluster colouring
    shot = tmp_path / "shot.png"
    chromium([f"--screenshot={shot}", "--window-size=1200,800", page.as_uri() + "#point=5"], tmp_path / "p2")
    pixels = np.asarray(Image.open(shot).convert("RGB"))[40:760, 40:800]  # the map area
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # points in several colours, not a blank page


def test_served__page_fetches_points_neighbours_and_duplicates_in_headless_chromium(served, explorer, tmp_path):
    dom = chromium(["--dump-dom", served + "#point=5&duplicates=0.99"], tmp_path / "profile")
    assert f"headstart explore: {len(explorer)} points, ready in" in dom
    assert 'src="api/image/5"' in dom and "<td>name</td><td>" + explorer.names[5] in dom
    assert "groups, " in dom and dom.count('class="group"') >= PLANTED


@pytest.mark.slow  # numba compiles UMAP on first use: minutes on a small CPU
def test_projection__umap_keeps_neighbours_that_pca_mixes(fmnist):
    x = torch.nn.functional.normalize(fmnist[0][:2000], dim=1)
    y = fmnist[1][:2000].numpy()

    def agreement(xy: np.ndarray) -> float:  # how often a point's nearest 2-D neighbour shares its class
        d = ((xy[:, None] - xy[None]) ** 2).sum(-1)
        np.fill_diagonal(d, np.inf)
        return float((y[d.argmin(1)] == y).mean())

    umap_xy = project(x, "umap")
    assert umap_xy.shape == (2000, 2) and umap_xy.min() == 0 and np.isclose(umap_xy.max(axis=0).max(), 1)
    assert agreement(umap_xy) > agreement(project(x, "pca")) + 0.1
