"""`headstart dedup`: near-duplicate groups by embedding cosine, or exact ones by content hash.

    headstart dedup --run runs/fm --data ./images --threshold 0.95 --out duplicates.csv
    headstart dedup --data ./images --exact --out duplicates.csv

CSV: `group,path,similarity,keep`; the first row of each group is its representative, the image
to keep (similarity 1.0, keep 1); the others (keep 0) carry their cosine to it, at least the
threshold (1.0 for exact duplicates, whose representative is the first path).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from headstart.commands._embeddings import embeddings_for
from headstart.config import api_function
from headstart.curate.config import DedupConfig
from headstart.curate.dedup import exact_duplicates, near_duplicates
from headstart.data.sources import open_data
from headstart.errors import HeadstartError
from headstart.io import write_text
from headstart.run import Run


def duplicates_csv(groups: list[list[tuple[str, float]]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["group", "path", "similarity", "keep"])
    for g, members in enumerate(groups):
        w.writerows((g, path, f"{sim:.6f}", int(i == 0)) for i, (path, sim) in enumerate(members))
    return buf.getvalue()


def exact_groups(paths: list[str]) -> list[list[tuple[str, float]]]:
    files = [p for p in paths if "#" not in p]
    if len(files) != len(paths):
        raise HeadstartError("--exact hashes image files, but the data is an IDX set",
                             fix="run --exact on a folder of image files, or drop --exact")
    return [[(str(p), 1.0) for p in group] for group in exact_duplicates(files)]


def near_groups(cfg: DedupConfig, folder: Run | None) -> list[list[tuple[str, float]]]:
    if folder is None:
        raise HeadstartError("dedup by similarity needs --run (a run folder whose backbone embeds the images)",
                             fix="pass --run runs/<name>, or --exact for byte-identical files")
    emb, data = embeddings_for(folder, cfg.data, on_bad_image=cfg.on_bad_image, batch_size=cfg.batch_size,
                               progress=cfg.progress)
    return [[(data.paths[i], s) for i, s in zip(g.members, g.similarity, strict=True)]
            for g in near_duplicates(emb, threshold=cfg.threshold, progress=cfg.progress)]


def run(cfg: DedupConfig) -> Path:
    """Write the duplicate groups of `cfg.data` to `cfg.out`; returns its path."""
    folder = Run.read(cfg.run) if cfg.run is not None else None
    if cfg.exact:
        data = open_data(cfg.data, on_bad_image=cfg.on_bad_image, memory_budget=0)  # listed, not decoded
        groups = exact_groups(list(data.paths))
    else:
        groups = near_groups(cfg, folder)
    write_text(cfg.out, duplicates_csv(groups))
    return cfg.out


dedup = api_function(DedupConfig, run, "dedup",
                     "Group near-duplicate (or, with exact, byte-identical) images; writes the CSV "
                     "(group, path, similarity, keep), returns its path.")
