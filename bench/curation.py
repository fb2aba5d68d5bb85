"""Which images of Fashion-MNIST to label: each selection strategy vs random, same probe after;
and how well `dedup` finds planted near-duplicates.

    python bench/curation.py --run runs/fm                      # long-tailed pool, 100 and 600 labels
    python bench/curation.py --run runs/fm --pool balanced      # the whole balanced training split
    python bench/curation.py --run runs/fm --dedup 0.95 0.99    # planted copies in a 60k pool
    python bench/curation.py                                    # no run: pretrain a short SimCLR one first

Protocol: embed the 60k training images, the 10k test images and one augmented copy of every
training image once with the run's frozen backbone (`curation_pools.embed_all`, cached in
`--cache`). The pool is the training split (`--pool balanced`) or a long tail (`--pool long-tail`:
class sizes falling geometrically 50x, 6,000 to 120, plus 10% near-duplicates: augmented copies of
pool rows, a shift of up to 2 px, contrast x0.85-1.15, noise of 4 grey levels). Every strategy picks
each of `--budgets` images (labels of picks only are revealed); 10% of the picks (stratified)
validate the L2 strength of a logistic-regression probe (`headstart.eval.linear.linear_probe`, i.e.
what `finetune --strategy linear` trains: a cheap classifier on frozen features, no fine-tuning)
fit on the rest; report accuracy on the balanced test split per seed, and each strategy's paired
difference to random over `--seeds` (same seed, same probe split rule; Student-t 95% interval,
`eval.stats.paired_difference`). `uncertain` and blends need a classifier, so they run as two
active-learning rounds: half the budget by `diverse`, a probe on it, then the other half by the
strategy (scores from that probe's softmax). `--dedup`: `dedup_bench` on `--dedup-pool` rows (1 in
60 an augmented copy of another). For 100k / 1M rows of selection see bench/selection_scale.py.

Measured (2026-12-02, quiet 2-core machine; backbone: resnet-mini, SimCLR views=light 600 steps x 128 on
Fashion-MNIST, bench/out/curation-run), long-tailed pool (18,480 rows, 1,680 of them copies), test accuracy
mean of 3 seeds, paired difference to random with its 95% interval:
    budget 100: random 49.0 | typical 60.6 (+11.6, -5.7 to +28.9) | diverse 63.8 (+14.8, -2.3 to +31.8) |
        uncertain 61.7 (+12.7, +2.1 to +23.2) | diverse+uncertain 64.2 (+15.2, -4.0 to +34.4) |
        balanced 43.9 (-5.1, -17.7 to +7.5) | diverse+typical 38.6 (-10.4, -17.8 to -3.1)
    budget 600: random 65.9 | typical 70.6 (+4.7, +3.1 to +6.3) | diverse 73.1 (+7.2, +5.8 to +8.6) |
        uncertain 72.4 (+6.5, +4.8 to +8.1) | diverse+uncertain 75.1 (+9.2, +7.2 to +11.2) |
        balanced 56.5 (-9.4, -12.9 to -6.0) | diverse+typical 41.6 (-24.3, -39.1 to -9.5)
Same backbone, --pool balanced (60,000 rows): budget 100: random 69.3 | typical 72.9 (+3.7, -2.5 to +9.9) |
    diverse 58.7 (-10.6, -30.4 to +9.2) | diverse+typical 66.9 (-2.4, -12.5 to +7.8); budget 600: random 80.7 |
    typical 81.7 (+0.9, -0.8 to +2.7) | diverse 71.3 (-9.5, -18.4 to -0.5) | diverse+typical 69.1 (-11.6)
Random's 600 picks hold 47-55 copies and 2-4 images of the rarest class; typical's 40-50 and 4-6,
diverse's 134-156 and 11-15: on the tail, covering the rare classes outweighs the copies. balanced
(sqrt(n) k-means clusters) follows the large classes and loses; so does a diverse+typical blend (its
typicality is global density: 0 images of the rarest class). typical, the `select` default, is the one
strategy ahead of random on both pools.
Dedup (same features, 60,000-row pool, 1 in 60 rows a planted copy; precision: dropped rows that are a
planted copy or its original; recall: planted pairs not both kept):
    0.95 (default): 4,480 groups (largest 2,311), 42,513 dropped, precision 2.7%, recall 82.1%, 170 s |
    0.98: 2,756 groups, 10,446 dropped, 2.7%, 25.0%, 54 s | 0.99: 927 groups, 2,233 dropped, 3.7%, 8.0%, 36 s
(10,000-row pool, earlier: 0.95: 5,538 dropped, 3.0%, 76.5%.) The copies sit at cosine 0.8-0.98 to their
originals while 0.1% of distinct pairs pass 0.97 in this 600-step embedding, so no threshold separates
them: near-duplicate search needs embeddings trained to be invariant to such changes (longer
pretraining), or `dedup --exact` for byte-identical files.
Earlier (balanced pool):
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
from curation_pools import Pool, embed_all, long_tail, planted

from headstart.curate.dedup import kept_rows, near_duplicates
from headstart.curate.registry import choose, needs_probs, parse_strategy
from headstart.data.subsets import split_train_val
from headstart.eval.linear import linear_probe
from headstart.eval.stats import mean_ci, paired_difference

STRATEGIES = ["random", "diverse", "typical", "balanced", "uncertain", "diverse+uncertain"]


def load_features(run: Path, cache: Path) -> dict[str, torch.Tensor]:
    """`curation_pools.embed_all` of the run, read from `cache` when it is there (else written)."""
    if cache.is_file():
        return torch.load(cache)
    feats = embed_all(run)
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(feats, cache)
    return feats


def make_pool(f: dict[str, torch.Tensor], kind: str, size: int | None) -> Pool:
    """The unlabeled pool: the balanced training split (or a seeded `size` of it), or the long tail."""
    if kind == "long-tail":
        return long_tail(f)
    rows = torch.arange(len(f["train"]))
    if size:
        rows = torch.randperm(len(rows), generator=torch.Generator().manual_seed(0))[:size]
    return Pool(f["train"][rows], f["train_y"][rows], torch.full((len(rows),), -1))


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

    if not (out / "exported").is_dir():
        headstart.pretrain(data="fashion-mnist", model="headstart/resnet-mini", method="simclr", steps=steps,
                           batch_size=128, method_args={"views": "light"}, out=out, progress=False, monitor=False)
    return out


def compare(pool: Pool, f: dict[str, torch.Tensor], strategies: list[str], budget: int, seeds: int) -> dict:
    """Test accuracy of every strategy's picks per seed, and its paired difference to random's."""
    rows = {}
    for strategy in strategies:
        accs, secs, covered, dups = [], [], [], []
        for seed in range(seeds):
            picks, seconds = pick(strategy, pool.feats, pool.labels, budget, seed)
            accs.append(probe(pool.feats, pool.labels, picks, f["test"], f["test_y"], seed).test_accuracy)
            secs.append(seconds)
            covered.append(int(torch.bincount(pool.labels[picks], minlength=10).min()))
            dups.append(int((pool.source[picks] >= 0).sum()))
        rows[strategy] = {"accuracy": accs, "mean": sum(accs) / len(accs), "select_seconds": sum(secs) / len(secs),
                          "min_per_class": covered, "copies_picked": dups}
        if "random" in rows and strategy != "random":
            rows[strategy]["vs_random"] = paired_difference(accs, rows["random"]["accuracy"]).as_dict()
        vs = rows[strategy].get("vs_random")
        gain = "" if vs is None else (f"  vs random {100 * vs['mean']:+.1f}" + ("" if vs["low"] is None else
                                      f" ({100 * vs['low']:+.1f} to {100 * vs['high']:+.1f})"))
        print(f"{budget:>5} {strategy:>18}: {100 * mean_ci(accs).mean:.1f}{gain}  min/class {covered}  "
              f"copies picked {dups}  select {rows[strategy]['select_seconds']:.1f}s", flush=True)
    return rows


def dedup_bench(pool: Pool, thresholds: list[float]) -> list[dict]:
    """Precision and recall of the planted copies at each threshold.

    Dropped rows are every group member but its representative. Recall: the share of planted
    (original, copy) pairs of which at most one is kept. Precision: the share of dropped rows that
    are a planted copy or its original (natural near-duplicates of Fashion-MNIST count against it).
    """
    copies = (pool.source >= 0).nonzero().flatten()
    planted = torch.zeros(len(pool.feats), dtype=torch.bool)
    planted[copies], planted[pool.source[copies]] = True, True
    out = []
    for t in thresholds:
        start = time.perf_counter()
        groups = near_duplicates(pool.feats, threshold=t)
        seconds = time.perf_counter() - start
        kept = torch.zeros(len(pool.feats), dtype=torch.bool)
        kept[kept_rows(groups, len(pool.feats))] = True
        dropped = ~kept
        caught = ~(kept[copies] & kept[pool.source[copies]])
        row = {"threshold": t, "groups": len(groups), "dropped": int(dropped.sum()),
               "largest": max((len(g.members) for g in groups), default=0),
               "precision": float(planted[dropped].float().mean()) if dropped.any() else None,
               "recall": float(caught.float().mean()), "seconds": round(seconds, 1)}
        out.append(row)
        print(f"dedup {t}: {row}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="headstart pretraining run (default: pretrain one)")
    ap.add_argument("--pretrain-steps", type=int, default=600)
    ap.add_argument("--budgets", type=int, nargs="+", default=[100, 600])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--strategies", nargs="+", default=STRATEGIES)
    ap.add_argument("--pool", choices=["balanced", "long-tail"], default="long-tail")
    ap.add_argument("--pool-size", type=int, help="balanced pool: this many training images (default all)")
    ap.add_argument("--dedup", type=float, nargs="*", help="instead: planted near-duplicates on a 60k pool at "
                                                            "these thresholds (none given: 0.95)")
    ap.add_argument("--dedup-pool", type=int, default=60_000, help="rows of the dedup pool (1 in 60 a copy)")
    ap.add_argument("--cache", type=Path, default=Path("bench/out/curation-features.pt"))
    ap.add_argument("--out", type=Path, default=Path("bench/out/curation.json"))
    args = ap.parse_args()
    run = args.run or pretrain(args.pretrain_steps, Path("bench/out/curation-run"))
    f = load_features(run, args.cache)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.dedup is not None:
        pool = planted(f, size=args.dedup_pool, copies=args.dedup_pool // 60)
        result = dedup_bench(pool, args.dedup or [0.95])
        args.out.write_text(json.dumps({"run": str(run), "dedup": result}, indent=2))
        return
    pool = make_pool(f, args.pool, args.pool_size)
    print(f"pool {args.pool}: {len(pool.feats)} rows ({int((pool.source >= 0).sum())} copies), class sizes "
          f"{torch.bincount(pool.labels, minlength=10).tolist()}, test {len(f['test'])}", flush=True)
    results = {str(b): compare(pool, f, args.strategies, b, args.seeds) for b in args.budgets}
    args.out.write_text(json.dumps({"run": str(run), "pool": args.pool, "rows": len(pool.feats),
                                    "seeds": args.seeds, "results": results}, indent=2))


if __name__ == "__main__":
    main()
