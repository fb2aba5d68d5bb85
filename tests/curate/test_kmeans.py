"""Spherical k-means on Fashion-MNIST pixels: assignment, objective, agreement with labels."""

from __future__ import annotations

import torch

from headstart.curate import kmeans as km
from headstart.curate.base import normalize


def purity(labels: torch.Tensor, y: torch.Tensor, k: int) -> float:
    return sum(int(torch.bincount(y[labels == c], minlength=10).max()) for c in range(k)) / len(y)


def test_assign__matches_brute_force(fmnist):
    x = normalize(fmnist[0][:3000])
    centres = x[torch.randperm(3000, generator=torch.Generator().manual_seed(0))[:37]]
    labels, sim = km.assign(x, centres)
    full = x @ centres.T
    assert torch.equal(labels, full.argmax(dim=1))
    assert torch.allclose(sim, full.max(dim=1).values)


def test_kmeans__beats_random_centres_and_finds_classes(fmnist):
    x, y = normalize(fmnist[0]), fmnist[1]
    for seed in range(3):
        fit = km.kmeans(x, 10, seed=seed)
        rows = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:10]
        _, random_sim = km.assign(x, x[rows])
        assert fit.sim.mean() > random_sim.mean() + 0.03
        assert purity(fit.labels, y, 10) > 0.45  # chance: 0.1
        assert fit.sizes().sum() == len(x) and torch.allclose(fit.centres.norm(dim=1), torch.ones(10))


def test_kmeans__more_lloyd_steps_never_worse(fmnist):
    x = normalize(fmnist[0][:3000])
    one = km.kmeans(x, 8, seed=0, iters=1).sim.mean()
    many = km.kmeans(x, 8, seed=0, iters=20).sim.mean()
    assert many >= one


def test_kmeans__fit_on_a_sample_then_assign_all(fmnist, monkeypatch):
    monkeypatch.setattr(km, "FIT_ROWS", 500)
    monkeypatch.setattr(km, "SEED_ROWS", 200)
    x, y = normalize(fmnist[0]), fmnist[1]
    fit = km.kmeans(x, 10, seed=0, per_cluster=50)  # fits on 500 of 5000 rows
    assert len(fit.labels) == 5000 and purity(fit.labels, y, 10) > 0.45
    labels, _ = km.assign(x, fit.centres)
    assert torch.equal(labels, fit.labels)


def test_kmeans__identical_rows_do_not_break_seeding():
    x = normalize(torch.ones(50, 4))
    fit = km.kmeans(x, 3, seed=0)
    assert fit.labels.shape == (50,) and torch.isfinite(fit.centres).all()
