"""Selection on a real-shaped pool: Fashion-MNIST pixels resampled to a 50x long tail with 10% shifted copies."""

from __future__ import annotations

import torch

from headstart.curate.config import SelectConfig
from headstart.curate.registry import choose
from headstart.data.subsets import split_train_val
from headstart.eval.linear import linear_probe


def long_tail_pool(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Class sizes 350 down to 7 (50x, geometric), plus a 1-pixel-shifted, noised copy of 10% of the rows.

    Returns features, labels and a bool mask of the copies.
    """
    g = torch.Generator().manual_seed(0)
    sizes = [round(350 * 50 ** (-r / 9)) for r in range(10)]
    order = torch.randperm(10, generator=g).tolist()
    rows = torch.cat([(y == c).nonzero().flatten()[:n] for c, n in zip(order, sizes, strict=True)])
    dup = rows[torch.randperm(len(rows), generator=g)[: len(rows) // 10]]
    copies = torch.roll(x[dup].view(-1, 1, 28, 28), shifts=1, dims=3).flatten(1)
    copies = copies + 0.02 * torch.randn(copies.shape, generator=g)
    is_copy = torch.cat([torch.zeros(len(rows), dtype=torch.bool), torch.ones(len(dup), dtype=torch.bool)])
    return torch.cat([x[rows], copies]), torch.cat([y[rows], y[dup]]), is_copy


def test_typical__beats_random_on_a_long_tailed_duplicated_pool(fmnist):
    x, y = fmnist[0] / 255, fmnist[1]
    pool_x, pool_y, is_copy = long_tail_pool(x[:4000], y[:4000])  # 1,080 rows, 98 of them copies
    test_x, test_y = x[4000:], y[4000:]  # balanced held-out images
    accuracy, copies = {}, {}
    for strategy in ("random", SelectConfig.model_fields["strategy"].default):
        accs, picked_copies = [], 0
        for seed in range(3):
            picks = choose(pool_x, 100, strategy, None, seed=seed).indices
            train, val = split_train_val(picks.numpy(), pool_y.numpy(), val_fraction=0.1, seed=seed)
            accs.append(linear_probe(pool_x[train], pool_y[train], pool_x[val], pool_y[val], test_x, test_y,
                                     num_classes=10).test_accuracy)
            picked_copies += int(is_copy[picks].sum())
        accuracy[strategy], copies[strategy] = sum(accs) / 3, picked_copies
    assert accuracy["typical"] > accuracy["random"] + 0.03  # the default, on pixels
    assert copies["typical"] < copies["random"]
