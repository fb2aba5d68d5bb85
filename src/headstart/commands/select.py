"""`headstart select`: embed the unlabeled images with a run's backbone, pick `n` by a strategy,
write `rank,path,score,strategy` as CSV and a contact sheet of the picks as `<out>.png`.

    headstart select --run runs/fm --data ./unlabeled --n 500 --strategy diverse --out to_label.csv
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import torch
from PIL import Image

from headstart.adapt.head import load_classifier
from headstart.adapt.infer import predict_probs
from headstart.commands._embeddings import embeddings_for
from headstart.config import api_function
from headstart.curate.base import Selection
from headstart.curate.config import SelectConfig
from headstart.curate.registry import choose, needs_probs, parse_strategy
from headstart.errors import HeadstartError
from headstart.io import atomic_write, write_json, write_text
from headstart.run import Run

SHEET_MAX = 100  # images on the contact sheet


def read_paths(path: Path) -> list[str]:
    """Paths in a CSV with a `path` column, or one per line of a text file."""
    if not Path(path).is_file():
        raise HeadstartError(f"--exclude file {path} does not exist", fix="pass a CSV with a path column")
    text = Path(path).read_text()
    first = text.splitlines()[0] if text.strip() else ""
    if "path" in [c.strip() for c in next(csv.reader([first]), [])]:
        return [row["path"] for row in csv.DictReader(io.StringIO(text)) if row.get("path")]
    return [line.strip() for line in text.splitlines() if line.strip()]


def exclude_rows(paths: list[str], excluded: list[str]) -> torch.Tensor:
    """Rows of `paths` named in `excluded` (compared as given and as resolved absolute paths)."""

    def key(p: str) -> str:
        return p if "#" in p else str(Path(p).resolve())

    wanted = {key(p) for p in excluded} | set(excluded)
    return torch.tensor([i for i, p in enumerate(paths) if p in wanted or key(p) in wanted], dtype=torch.long)


def class_probs(run: Run, data, batch_size: int, progress: bool) -> torch.Tensor:
    """Softmax `(N, K)` of a fine-tuned run's classifier; HeadstartError for a pretraining run."""
    if not run.model_file.is_file():
        raise HeadstartError(
            f"--strategy uncertain needs class probabilities, but {run.path} is not a fine-tuned run",
            fix="pass the --out of `headstart finetune` as --run (or use diverse / typical / balanced)",
        )
    model, size = load_classifier(run)
    return predict_probs(model, data, image_size=size, batch_size=batch_size, progress=progress)


def selection_csv(paths: list[str], sel: Selection, strategy: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["rank", "path", "score", "strategy"])
    for rank, (i, s) in enumerate(zip(sel.indices.tolist(), sel.scores.tolist(), strict=True), 1):
        w.writerow([rank, paths[i], f"{s:.6g}", strategy])
    return buf.getvalue()


def contact_sheet(data, indices: list[int], path: Path, cell: int = 64) -> Path:
    """A grid PNG of the first `SHEET_MAX` picked images, in pick order, `cell` px each."""
    indices = indices[:SHEET_MAX]
    cols = max(1, min(10, len(indices)))
    rows = max(1, -(-len(indices) // cols))
    sheet = Image.new("RGB", (cols * cell, rows * cell), "white")
    for start in range(0, len(indices), 64):
        images, _ = data.__getitems__(indices[start : start + 64])  # uint8 (B, C, S, S)
        for j, img in enumerate(images):
            arr = img.permute(1, 2, 0).numpy()
            tile = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr).convert("RGB")
            k = start + j
            sheet.paste(tile.resize((cell, cell)), ((k % cols) * cell, (k // cols) * cell))
    atomic_write(path, lambda f: sheet.save(f, format="PNG"))
    return path


def run(cfg: SelectConfig) -> Path:
    """Embed, pick, write the CSV, the sheet and (with --round) rounds.json; returns the CSV path."""
    name, options = parse_strategy(cfg.strategy, cfg.blend_weights)  # fail fast, before embedding
    folder = Run.read(cfg.run)
    emb, data = embeddings_for(folder, cfg.data, on_bad_image=cfg.on_bad_image, batch_size=cfg.batch_size,
                               progress=cfg.progress)
    probs = class_probs(folder, data, cfg.batch_size, cfg.progress) if needs_probs(name, options) else None
    excluded = exclude_rows(data.paths, read_paths(cfg.exclude)) if cfg.exclude else None
    sel = choose(
        emb,
        cfg.n,
        cfg.strategy,
        cfg.blend_weights,
        seed=cfg.seed,
        exclude=excluded,
        probs=probs,
        uncertainty=cfg.uncertainty,
    )
    write_text(cfg.out, selection_csv(data.paths, sel, cfg.strategy))
    contact_sheet(data, sel.indices.tolist(), Path(f"{cfg.out}.png"))
    if cfg.round is not None:
        record_round(
            Path(cfg.out).parent / "rounds.json",
            cfg.round,
            cfg.strategy,
            sel,
            data.paths,
            accuracy=run_accuracy(folder),
        )
    return cfg.out


def run_accuracy(run: Run) -> float | None:
    """Test accuracy in a run's results.json, when it has one."""
    results = run.results()
    acc = results.get("test_accuracy", results.get("accuracy"))
    return float(acc) if isinstance(acc, (int, float)) else None


def record_round(
    path: Path,
    round_: int,
    strategy: str,
    sel: Selection,
    paths: list[str],
    accuracy: float | None = None,
    **extra,
) -> list[dict]:
    """Add (or replace) round `round_` in `rounds.json`; returns all rounds, in order."""
    rounds = json.loads(path.read_text()) if path.is_file() else []
    rounds = [r for r in rounds if r.get("round") != round_]
    idx = sel.indices.tolist()
    rounds.append(
        {
            "round": round_,
            "n": len(idx),
            "strategy": strategy,
            "indices": idx,
            "paths": [paths[i] for i in idx],
            "accuracy": accuracy,
            **extra,
        }
    )
    rounds.sort(key=lambda r: r["round"])
    write_json(path, rounds)
    return rounds


select = api_function(SelectConfig, run, "select",
                      "Pick `n` images to label from a run's embeddings; writes the CSV (rank, path, score, "
                      "strategy) and `<out>.png`, returns the CSV path.")
