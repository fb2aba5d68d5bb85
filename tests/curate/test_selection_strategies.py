"""Every selection strategy on real Fashion-MNIST pixels: interface, exclude, seeds, coverage."""

from __future__ import annotations

import pytest
import torch

from headstart.curate.balanced import balanced
from headstart.curate.base import Selection, normalize
from headstart.curate.diverse import diverse, max_similarity, sphere_distance
from headstart.curate.kmeans import kmeans
from headstart.curate.random_ import random
from headstart.curate.registry import STRATEGIES
from headstart.curate.typical import typical


def probs_for(x: torch.Tensor) -> torch.Tensor:
    """Softmax outputs of a fixed random linear 'model' over the rows."""
    g = torch.Generator().manual_seed(0)
    return (normalize(x) @ torch.randn(x.shape[1], 10, generator=g)).softmax(dim=1)


def covering_radius(x: torch.Tensor, picks: torch.Tensor) -> float:
    """Largest distance from any row to its nearest pick (what k-center minimises)."""
    return float(sphere_distance(max_similarity(normalize(x), picks)).max())


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_strategy__interface_and_exclude(fmnist, name):
    x, _ = fmnist[0][:1000], None
    exclude = torch.arange(0, 1000, 3)  # 334 labeled rows
    sel = STRATEGIES.get(name)(x, 40, seed=0, exclude=exclude, probs=probs_for(x))
    assert isinstance(sel, Selection) and len(sel) == 40
    assert sel.indices.dtype == torch.long and sel.scores.shape == (40,)
    assert len(set(sel.indices.tolist())) == 40
    assert not set(sel.indices.tolist()) & set(exclude.tolist())


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_strategy__same_seed_same_picks(fmnist, name):
    x = fmnist[0][:800]
    run = lambda seed: STRATEGIES.get(name)(x, 15, seed=seed, probs=probs_for(x)).indices
    assert torch.equal(run(3), run(3))
    if name in ("random", "diverse", "typical", "balanced"):
        assert not torch.equal(run(3), run(4))


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_strategy__takes_every_available_row(fmnist, name):
    x = fmnist[0][:60]
    sel = STRATEGIES.get(name)(x, 50, exclude=torch.arange(10), probs=probs_for(x))
    assert sorted(sel.indices.tolist()) == list(range(10, 60))


def test_diverse__smaller_covering_radius_than_random(fmnist):
    x, _ = fmnist
    for seed in range(5):
        k_center = covering_radius(x, diverse(x, 50, seed=seed).indices)
        sampled = covering_radius(x, random(x, 50, seed=seed).indices)
        assert k_center < sampled - 0.02, (seed, k_center, sampled)


def test_diverse__scores_are_the_shrinking_radius(fmnist):
    x = fmnist[0][:2000]
    sel = diverse(x, 30, seed=1)
    assert torch.isinf(sel.scores[0]) and (sel.scores[1:-1] >= sel.scores[2:]).all()
    # the (i+1)-th score is the covering radius of the first i picks
    assert sel.scores[10].item() == pytest.approx(covering_radius(x, sel.indices[:10]), abs=1e-5)


def test_diverse__starts_from_the_labeled_set(fmnist):
    x = fmnist[0][:2000]
    labeled = torch.arange(0, 2000, 2)
    first = int(diverse(x, 1, exclude=labeled).indices[0])
    far = sphere_distance(max_similarity(normalize(x), labeled))
    far[labeled] = -1
    assert first == int(far.argmax())


def test_typical__covers_more_classes_than_random(fmnist):
    x, y = fmnist[0][:2000], fmnist[1][:2000]
    n_classes = lambda sel: len(set(y[sel.indices].tolist()))
    typ = [n_classes(typical(x, 20, seed=s)) for s in range(3)]
    rnd = [n_classes(random(x, 20, seed=s)) for s in range(20)]
    assert min(typ) >= 9 and sum(typ) / 3 > sum(rnd) / 20 + 0.5, (typ, rnd)


def test_typical__no_near_identical_picks(fmnist):
    x = fmnist[0][:2000]

    def closest(duplicate: float) -> float:
        xn = normalize(x)[typical(x, 60, seed=0, duplicate=duplicate).indices]
        return float((xn @ xn.T).fill_diagonal_(0).max())

    assert closest(0.95) <= 0.95
    assert closest(1.0) > 0.95  # without the guard, typical picks do come in near-identical pairs


def test_balanced__equal_picks_per_cluster(fmnist):
    x = fmnist[0][:3000]
    sel = balanced(x, 50, seed=2, clusters=10)
    labels = kmeans(normalize(x), 10, seed=2).labels
    assert torch.bincount(labels[sel.indices], minlength=10).tolist() == [5] * 10
    first_round = labels[sel.indices[:10]]
    assert len(set(first_round.tolist())) == 10  # every prefix is balanced too


def test_balanced__small_cluster_gives_its_share_to_others(fmnist):
    x = fmnist[0][:3000]
    labels = kmeans(normalize(x), 5, seed=0).labels
    members = (labels == 0).nonzero().flatten()
    sel = balanced(x, 50, seed=0, clusters=5, exclude=members[2:])  # cluster 0 keeps 2 rows
    counts = torch.bincount(labels[sel.indices], minlength=5).tolist()
    assert counts[0] == 2 and sorted(counts[1:]) == [12, 12, 12, 12]


def test_balanced__picks_nearest_their_centre(fmnist):
    x = fmnist[0][:3000]
    fit = kmeans(normalize(x), 4, seed=0)
    sel = balanced(x, 8, seed=0, clusters=4)
    for c in range(4):
        mine = sel.indices[fit.labels[sel.indices] == c]
        best = fit.sim.masked_fill(fit.labels != c, -2).topk(2).indices
        assert sorted(mine.tolist()) == sorted(best.tolist())


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_strategy__unit_rows_are_used_in_place_and_left_alone(fmnist, name):
    x = fmnist[0][:600]
    unit = normalize(x)
    assert normalize(unit) is unit  # no second copy of already-normalised rows
    before = unit.clone()
    got = STRATEGIES.get(name)(unit, 12, seed=5, probs=probs_for(x)).indices
    assert torch.equal(unit, before)
    assert torch.equal(got, STRATEGIES.get(name)(x, 12, seed=5, probs=probs_for(x)).indices)
