"""`combine` on Fashion-MNIST pixels: pure weights reduce to the strategy, a blend does both jobs."""

from __future__ import annotations

import torch

from headstart.curate.base import normalize
from headstart.curate.combine import combine
from headstart.curate.diverse import diverse, sphere_distance
from headstart.curate.random_ import random
from headstart.curate.typical import knn_density
from headstart.curate.uncertain import measure, uncertain


def model_probs(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Softmax of a nearest-class-mean classifier on the first 100 rows: a weak but real model."""
    xn = normalize(x)
    means = torch.stack([xn[:100][y[:100] == c].mean(dim=0) for c in range(10)])  # (10, D)
    return (xn @ normalize(means).T * 20).softmax(dim=1)


def closest_pair(x: torch.Tensor, picks: torch.Tensor) -> float:
    """Smallest distance between two picks: small means redundant picks."""
    xp = normalize(x)[picks]
    return float(sphere_distance(xp @ xp.T).fill_diagonal_(float("inf")).min())


def test_combine__pure_uncertain_is_uncertain(fmnist):
    x, y = fmnist[0][:2000], fmnist[1][:2000]
    p = model_probs(x, y)
    got = combine(x, 30, probs=p, weights={"uncertain": 1.0}).indices
    assert torch.equal(got, uncertain(x, 30, probs=p).indices)


def test_combine__pure_diverse_is_k_center_from_labeled(fmnist):
    x = fmnist[0][:2000]
    labeled = torch.arange(0, 2000, 40)
    got = combine(x, 25, exclude=labeled, weights={"diverse": 1.0}).indices
    assert torch.equal(got, diverse(x, 25, exclude=labeled).indices)


def test_combine__blend_trades_uncertainty_for_spread(fmnist):
    x, y = fmnist[0][:3000], fmnist[1][:3000]
    p, labeled = model_probs(x, y), torch.arange(100)
    margin = lambda sel: float(measure(p[sel.indices]).mean())
    pick = lambda w: combine(x, 40, probs=p, exclude=labeled, weights={"diverse": w, "uncertain": 1 - w})
    blends = [pick(w) for w in (0.3, 0.5, 0.7)]
    unsure = uncertain(x, 40, probs=p, exclude=labeled)
    sample = random(x, 40, exclude=labeled)
    assert margin(blends[1]) < margin(sample) / 2  # still mostly uncertain rows
    assert closest_pair(x, blends[1].indices) > closest_pair(x, unsure.indices) + 0.2  # less redundant
    margins = [margin(b) for b in blends]
    spreads = [closest_pair(x, b.indices) for b in blends]
    assert margins == sorted(margins) and spreads == sorted(spreads)  # the weight moves both ways


def test_combine__typical_term_prefers_dense_rows(fmnist):
    x = fmnist[0][:3000]
    xn = normalize(x)
    density = knn_density(xn, torch.arange(3000), torch.arange(3000), 20)
    picked = combine(x, 50, weights={"typical": 1.0}, reference=3000).indices
    assert torch.equal(picked.sort().values, density.topk(50).indices.sort().values)
    assert density[picked].mean() > density[random(x, 50).indices].mean() + 0.02
