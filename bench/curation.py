"""Which 1% of Fashion-MNIST to label: each selection strategy vs random, same probe after.

    python bench/curation.py --run runs/fm            # a headstart pretraining run
    python bench/curation.py --pretrain-steps 300     # no run: pretrain a short SimCLR one first

Protocol: embed the 60k training images and the 10k test images once with the run's backbone
(frozen). Every strategy picks `--budget` images (labels of picks only are revealed); 10% of
the picks (stratified) validate the L2 strength of a logistic-regression probe
(`headstart.eval.linear.linear_probe`, i.e. what `finetune --strategy linear` trains) fit on
the rest; report test accuracy, mean +- std over `--seeds`. `uncertain` and blends need a
classifier, so they run as two active-learning rounds: half the budget by `diverse`, a probe
on it, then the other half by the strategy (scores from that probe's softmax). The selection
time on the pool is reported; for 100k / 1M rows see bench/selection_scale.py.

Measured (2026-11-23, 2 shared CPU cores, --pool 10000 --budget 100 (1%) --seeds 3; backbone:
resnet-mini, SimCLR 600 steps x 128 on Fashion-MNIST, kNN 78.5%), test accuracy mean +- std:
    random 61.8 +- 2.8 | diverse 55.7 +- 4.5 | typical 69.3 +- 2.2 | balanced 58.3 +- 5.1
    uncertain (2 rounds) 66.3 +- 3.9 | diverse+uncertain (2 rounds) 60.5 +- 2.9
Same backbone, --budget 600 (6% of the 10k pool): random 76.9 +- 1.0 | diverse 74.2 +- 1.9 |
    typical 77.1 +- 0.9 | balanced 72.9 +- 1.6 | uncertain (2 rounds) 78.0 +- 0.9 |
    diverse+uncertain (2 rounds) 77.4 +- 0.6
Measured (2026-11-29, full 60k pool, --seeds 3; backbone: resnet-mini, SimCLR light views 2200 steps x 256,
kNN 86.3%; L2 chosen by validation loss): --budget 100: random 72.9 +- 1.7 | typical 74.7 +- 0.9 |
    uncertain 71.6 +- 1.9 | diverse+uncertain 70.1 +- 2.1 | diverse 65.1 +- 1.4 | balanced 63.6 +- 5.2
    --budget 600: random 82.0 +- 0.3 | typical 82.7 +- 0.6 | uncertain 82.3 +- 0.2 |
    diverse+uncertain 80.6 +- 0.5 | diverse 78.4 +- 0.9 | balanced 76.8 +- 1.9
With a 20-step backbone no strategy beat random (56.8 +- 4.3; typical 56.2 +- 3.1): picking by
embedding geometry needs embeddings whose clusters follow the classes. k-center (`diverse`)
picks outliers at small budgets (min picks per class 0-3), as Hacohen et al. (ICML 2022) report.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from headstart.curate.registry import choose, needs_probs, parse_strategy
from headstart.data.subsets import split_train_val
from headstart.eval.linear import linear_probe

STRATEGIES = ["random", "diverse", "typical", "balanced", "uncertain", "diverse+uncertain"]


def features(run: Path, pool: int | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train feats (P, D), labels, test feats (10000, D), labels) from the run's backbone; the pool
    is the whole training split, or a fixed random `pool` of it (seed 0)."""
    from headstart.data.idx import open_idx
    from headstart.eval.features import extract_features
    from headstart.models.factory import load_run_backbone
    from headstart.run import Run

    size = Run.read(run).image_size
    backbone = load_run_backbone(run, image_size=size).eval()
    out = []
    for split in ("train", "test"):
        data = open_idx("fashion-mnist", split)
        if split == "train" and pool:
            data = data.subset(torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:pool].numpy())
        feats, labels = extract_features(backbone, data.with_format(size=size, channels=1), progress=False)
        out += [feats.float(), labels.long()]
    return tuple(out)


def probe(tr_f, tr_y, picks: torch.Tensor, te_f, te_y, seed: int):
    """Probe fit on the picks (10% of them for validation); returns the result."""
    train, val = split_train_val(picks.numpy(), tr_y.numpy(), val_fraction=0.1, seed=seed)
    train, val = torch.as_tensor(train), torch.as_tensor(val)
    return linear_probe(tr_f[train], tr_y[train], tr_f[val], tr_y[val], te_f, te_y, num_classes=10)


def pick(strategy: str, tr_f, tr_y, budget: int, seed: int) -> tuple[torch.Tensor, float]:
    """`budget` row indices chosen by `strategy` (two rounds when it needs a classifier), seconds."""
    start = time.perf_counter()
    name, options = parse_strategy(strategy, None)
    if not needs_probs(name, options):
        return choose(tr_f, budget, strategy, None, seed=seed).indices, time.perf_counter() - start
    first = choose(tr_f, budget // 2, "diverse", None, seed=seed).indices
    seconds = time.perf_counter() - start
    model = probe(tr_f, tr_y, first, tr_f[:10], tr_y[:10], seed).linear
    with torch.no_grad():
        probs = model(tr_f).softmax(dim=1)  # (N, 10)
    start = time.perf_counter()
    second = choose(tr_f, budget - len(first), strategy, None, seed=seed, exclude=first, probs=probs).indices
    return torch.cat([first, second]), seconds + time.perf_counter() - start


def pretrain(steps: int, out: Path) -> Path:
    import headstart

    headstart.pretrain(data="fashion-mnist", model="headstart/resnet-mini", method="simclr", steps=steps,
                       batch_size=128, out=out, progress=False, monitor=False)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="headstart pretraining run (default: pretrain one)")
    ap.add_argument("--pretrain-steps", type=int, default=300)
    ap.add_argument("--budget", type=int, default=600)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--strategies", nargs="+", default=STRATEGIES)
    ap.add_argument("--pool", type=int, help="unlabeled pool: this many training images (default all)")
    ap.add_argument("--cache", type=Path, help="features file: written once, then reused")
    ap.add_argument("--out", type=Path, default=Path("bench/out/curation.json"))
    args = ap.parse_args()
    run = args.run or pretrain(args.pretrain_steps, Path("bench/out/curation-run"))
    if args.cache and args.cache.is_file():
        tr_f, tr_y, te_f, te_y = torch.load(args.cache)
    else:
        tr_f, tr_y, te_f, te_y = features(run, args.pool)
        if args.cache:
            torch.save((tr_f, tr_y, te_f, te_y), args.cache)
    print(f"pool {len(tr_f)}, test {len(te_f)}, dim {tr_f.shape[1]}", flush=True)
    rows = {}
    for strategy in args.strategies:
        accs, secs, covered = [], [], []
        for seed in range(args.seeds):
            picks, seconds = pick(strategy, tr_f, tr_y, args.budget, seed)
            accs.append(probe(tr_f, tr_y, picks, te_f, te_y, seed).test_accuracy)
            secs.append(seconds)
            covered.append(int(torch.bincount(tr_y[picks], minlength=10).min()))
        a = torch.tensor(accs)
        rows[strategy] = {"accuracy": accs, "mean": a.mean().item(), "std": a.std().item() if len(a) > 1 else 0.0,
                          "select_seconds": sum(secs) / len(secs), "min_per_class": covered}
        print(f"{strategy:>18}: {100 * a.mean():.2f} +- {100 * rows[strategy]['std']:.2f} %  "
              f"select {rows[strategy]['select_seconds']:.2f}s  min/class {covered}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"run": str(run), "budget": args.budget, "pool": len(tr_f), "seeds": args.seeds,
                                    "results": rows}, indent=2))


if __name__ == "__main__":
    main()
