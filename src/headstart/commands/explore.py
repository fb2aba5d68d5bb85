"""`headstart explore`: a run's embeddings of `--data` as a map in the browser, served locally.

    headstart explore --run runs/fm --data ./images [--labels labels.csv] [--predictions runs/ft]
    headstart explore --run runs/fm --data ./images --static explorer.html

Everything slow is made once and cached in the run folder, under `explore/<data>/`:
embeddings.npy + index.csv (the format of `headstart embed`), the 2-D map, the thumbnail
sheets and a fine-tuned run's class probabilities. `--data` may also be the output folder of
`headstart embed`: its rows are used as they are (an index with a `text` column is a text run).
"""

from __future__ import annotations

import hashlib
import threading
import warnings
import webbrowser
from pathlib import Path

import numpy as np
import torch

from headstart.adapt.head import load_classifier
from headstart.adapt.infer import predict_probs
from headstart.commands._embeddings import cache_folder, cached_embeddings, paths_key
from headstart.commands._path_table import columns_by_path, read_csv
from headstart.config import api_function
from headstart.curate.base import normalize
from headstart.curate.explore.config import LOCALHOST, ExploreConfig
from headstart.curate.explore.page import plotly_js, write_static
from headstart.curate.explore.points import Explorer, build_explorer, layout
from headstart.curate.explore.thumbs import image_png, make_sprites
from headstart.data.imageset import ImageSet
from headstart.data.sources import open_data
from headstart.errors import HeadstartError
from headstart.io import atomic_write
from headstart.run import Run


class ExposedWarning(UserWarning):
    """The page is served on an address other machines can reach."""


def run(cfg: ExploreConfig) -> Path | None:
    """Build the explorer; write `--static` (returns its path) or serve until Ctrl-C (None)."""
    plotly_js()  # a missing optional dependency fails now, not after minutes of embedding
    serve = None if cfg.static is not None else _server()
    explorer = explorer_for(cfg)
    if serve is None:
        return write_static(explorer, cfg.static)
    if cfg.host != LOCALHOST:
        warnings.warn(f"serving on {cfg.host}: anyone who can reach this machine can browse {cfg.data}",
                      ExposedWarning, stacklevel=2)
    url = f"http://{'localhost' if cfg.host in (LOCALHOST, '0.0.0.0') else cfg.host}:{cfg.port}/"
    print(f"headstart explore: {len(explorer)} points at {url} (Ctrl-C to stop)", flush=True)
    if cfg.browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    serve(explorer, host=cfg.host, port=cfg.port)
    return None


def _server():
    """`server.serve`, or what to install for it (starlette and uvicorn are the `explore` extra)."""
    try:
        from headstart.curate.explore.server import serve
    except ModuleNotFoundError as err:
        raise HeadstartError(f"headstart explore serves the page with starlette and uvicorn ({err.name} is missing)",
                             fix="pip install 'headstart[explore]', or write one file with --static") from None
    return serve


def explorer_for(cfg: ExploreConfig) -> Explorer:
    """The `Explorer` of `cfg`, from the caches in the run folder where they are fresh."""
    folder = Run.read(cfg.run)
    given = Path(cfg.data)
    if (given / "embeddings.npy").is_file() and (given / "index.csv").is_file():
        return _from_embed_folder(cfg, given)
    data = open_data(cfg.data, on_bad_image=cfg.on_bad_image, load_size=folder.image_size)
    cache = cache_folder(folder, cfg.data, data)
    emb = cached_embeddings(folder, data, cache, cfg.batch_size, cfg.progress)
    probs, classes = cached_probs(cfg, data, cache) if cfg.predictions else (None, None)
    explorer = build_explorer(embeddings=emb, names=list(data.paths), labels=_labels(cfg, data), probs=probs,
                              classes=classes, columns=cached_layout(emb, cache, cfg))
    explorer.sprites = make_sprites(data, cache / "thumbs", key=paths_key(data))
    explorer.image = lambda i: image_png(data, i)
    return explorer


def cached_layout(emb: torch.Tensor, cache: Path, cfg: ExploreConfig) -> dict[str, np.ndarray]:
    """The map, clusters and typicality of `emb`, cached per projection and cluster count."""
    path = cache / f"layout-{cfg.projection}-k{cfg.clusters}.npz"
    if path.is_file() and path.stat().st_mtime >= (cache / "embeddings.npy").stat().st_mtime:
        with np.load(path) as f:
            columns = {k: f[k] for k in f.files}
        if columns.get("xy", np.empty(0)).shape == (len(emb), 2):
            return columns
    columns = layout(normalize(emb), clusters=cfg.clusters, projection=cfg.projection)
    atomic_write(path, lambda f: np.savez(f, **columns))
    return columns


def cached_probs(cfg: ExploreConfig, data: ImageSet, cache: Path) -> tuple[torch.Tensor, list[str]]:
    """A fine-tuned run's `(N, K)` class probabilities on `data`, cached next to the embeddings."""
    ft = Run.read(cfg.predictions)
    model, size = load_classifier(ft)
    tag = hashlib.sha1(str(ft.path.resolve()).encode()).hexdigest()[:12]
    path = cache / f"probs-{tag}.npy"
    if path.is_file() and path.stat().st_mtime >= ft.model_file.stat().st_mtime:
        probs = torch.from_numpy(np.load(path))
        if len(probs) == len(data):
            return probs, list(model.classes)
    probs = predict_probs(model, data, image_size=size, batch_size=cfg.batch_size, progress=cfg.progress)
    cache.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: np.save(f, probs.numpy()))
    return probs, list(model.classes)


def _labels(cfg: ExploreConfig, data: ImageSet) -> list[str]:
    """A label per row: from `--labels` (path,label) where given, else the data's own."""
    if cfg.labels is None:
        return [data.classes[y] if y >= 0 and data.classes else "" for y in data.labels.tolist()]
    table = columns_by_path(cfg.labels, list(data.paths))
    if "label" not in table:
        raise HeadstartError(f"{cfg.labels} has no label column", fix="columns: path,label")
    return table["label"]


def _from_embed_folder(cfg: ExploreConfig, folder: Path) -> Explorer:
    """Rows of a `headstart embed` output folder: texts (a `text` column) shown as they are."""
    rows = read_csv(folder / "index.csv", ("row",))
    if not rows or "text" not in rows[0]:
        raise HeadstartError(f"{folder} holds image embeddings; explore needs the images for thumbnails",
                             fix="pass the images as --data (explore embeds and caches them itself)")
    emb = torch.from_numpy(np.load(folder / "embeddings.npy"))
    return build_explorer(embeddings=emb, names=[r.get("path") or f"row {r['row']}" for r in rows],
                          labels=[r.get("label", "") for r in rows], texts=[r["text"] for r in rows],
                          clusters=cfg.clusters, projection=cfg.projection)


explore = api_function(ExploreConfig, run, "explore",
                       "Explore a run's embeddings in the browser (map, neighbours, duplicates, selection); "
                       "with static, write one self-contained HTML file and return its path.")
