"""Active learning on a labeled pool whose labels are revealed only for the picked images:
round 1 picks `n` by `first_strategy` (no classifier exists yet), then every round fine-tunes
from the pretraining run on all picks so far and picks `n` more by `strategy`, which may read
the latest classifier's probabilities (`uncertain`, `diverse+uncertain`).

    headstart.active_learning(run="runs/fm", data="fashion-mnist", rounds=3, n=200, out="runs/al")

Settles (Burr Settles, "Active Learning Literature Survey", 2009) describes the loop; the
embeddings are the pretraining run's, computed once (a `linear` fine-tune keeps them fixed).
Out folder: `picked-<k>.txt` (all indices labeled after round k), `round-<k>/` (the run),
`rounds.json` (round, n, strategy, indices, paths, accuracy, labeled).
"""

from __future__ import annotations

from pathlib import Path

import torch

from headstart.adapt.data import open_labeled
from headstart.commands._embeddings import embed
from headstart.commands.finetune import FinetuneResult, finetune
from headstart.commands.select import class_probs, record_round
from headstart.config import api_function
from headstart.curate.config import ActiveConfig
from headstart.curate.registry import choose, needs_probs, parse_strategy
from headstart.io import write_text
from headstart.run import Run


def finetune_round(cfg: ActiveConfig, indices_file: Path, out: Path) -> FinetuneResult:
    """Fine-tune from the pretraining run on exactly the rows listed in `indices_file`."""
    extra = {"epochs": cfg.epochs} if cfg.epochs is not None else {}
    return finetune(from_=str(cfg.run), data=cfg.data, indices=indices_file,
                              strategy=cfg.finetune_strategy, batch_size=cfg.batch_size, out=out,
                              seed=cfg.seed, progress=cfg.progress, **extra)


def run(cfg: ActiveConfig) -> list[dict]:
    """Run `cfg.rounds` rounds of select + fine-tune; returns the rounds as in rounds.json."""
    pretrained = Run.read(cfg.run)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    data = open_labeled(cfg.data, load_size=pretrained.image_size)  # labels stay hidden from selection
    emb = embed(pretrained, data, 512, cfg.progress)  # (N, D)
    picked: list[int] = []
    classifier: Run | None = None
    rounds: list[dict] = []
    for k in range(1, cfg.rounds + 1):
        strategy = cfg.first_strategy if k == 1 else cfg.strategy
        name, options = parse_strategy(strategy, cfg.blend_weights if k > 1 else None)
        probs = class_probs(classifier or pretrained, data, 512, cfg.progress) \
            if needs_probs(name, options) else None
        exclude = torch.tensor(picked, dtype=torch.long) if picked else None
        sel = choose(emb, cfg.n, strategy, cfg.blend_weights if k > 1 else None, seed=cfg.seed + k,
                     exclude=exclude, probs=probs)
        picked += sel.indices.tolist()
        indices_file = out / f"picked-{k}.txt"
        write_text(indices_file, "\n".join(map(str, picked)) + "\n")
        result = finetune_round(cfg, indices_file, out / f"round-{k}")
        classifier = Run(Path(result.run))
        rounds = record_round(out / "rounds.json", k, strategy, sel, data.paths, accuracy=result.accuracy,
                              labeled=len(picked), run=str(classifier.path))
    return rounds


active_learning = api_function(ActiveConfig, run, "active_learning",
                               "Rounds of select + fine-tune on a pool whose labels are revealed only for "
                               "the picks; returns the rounds (also in <out>/rounds.json).")
