"""Duplicates: planted near-copies of Fashion-MNIST images, a reference leader clustering, no chaining
on a short pretraining run's embeddings, file hashes."""

from __future__ import annotations

import pytest
import torch

from headstart.curate.base import normalize
from headstart.curate.dedup import (
    Buckets,
    exact_duplicates,
    kept_rows,
    near_duplicates,
    neighbour_counts,
    similar_pairs,
)
from headstart.errors import HeadstartError


def brute_force_groups(x: torch.Tensor, threshold: float) -> list[list[int]]:
    """Connected components of the full similarity matrix (single link), by depth-first search."""
    xn = normalize(x)
    adjacent = (xn @ xn.T >= threshold).fill_diagonal_(False)
    seen, groups = set(), []
    for start in range(len(x)):
        if start in seen or not adjacent[start].any():
            continue
        stack, group = [start], set()
        while stack:
            i = stack.pop()
            if i not in group:
                group.add(i)
                stack += adjacent[i].nonzero().flatten().tolist()
        seen |= group
        groups.append(sorted(group))
    return groups


@pytest.mark.parametrize("search", ["exact", "clusters"])
def test_near_duplicates__finds_planted_copies_and_nothing_else(fmnist, search):
    x = fmnist[0][:2000]
    near = {i for group in brute_force_groups(x, 0.99) for i in group}
    distinct = torch.tensor([i for i in range(2000) if i not in near])
    x = x[distinct]  # really distinct: no pair at cosine >= 0.99, checked by brute force
    assert brute_force_groups(x, 0.99) == []
    g = torch.Generator().manual_seed(0)
    originals = torch.randperm(len(x), generator=g)[:20]
    copies = x[originals] + torch.randn(20, x.shape[1], generator=g)  # +-1 grey level of 255
    rows = torch.cat([x, copies])
    groups = near_duplicates(rows, threshold=0.99, chunk=256, search=search)  # copies sit in other blocks
    assert sorted(grp.members for grp in groups) == sorted(
        [[int(o), len(x) + i] for i, o in enumerate(originals)]
    )
    assert all(grp.similarity[0] == 1.0 and grp.similarity[1] > 0.999 for grp in groups)


def reference_leaders(x: torch.Tensor, threshold: float) -> list[list[int]]:
    """Greedy leaders on the full matrix, one row at a time: most neighbours first, ties lowest row."""
    xn = normalize(x)
    sim = xn @ xn.T
    near = (sim >= threshold).fill_diagonal_(False)
    degree = near.sum(dim=1).tolist()
    free, groups = set(range(len(x))), []
    for i in sorted(range(len(x)), key=lambda r: (-degree[r], r)):
        if i not in free or degree[i] == 0:
            continue
        free.discard(i)
        members = [j for j in sorted(free) if near[i, j]]
        free -= set(members)
        if members:
            groups.append([i, *members])
    return sorted(groups, key=min)


def test_near_duplicates__leaders_not_chains(fmnist):
    x = fmnist[0][:2000]
    chains = brute_force_groups(x, 0.98)  # raw pixels: ~100 pairs, some chained
    xn = normalize(x)
    assert any((xn[c] @ xn[c].T).min() < 0.98 for c in chains)  # single link would join far rows
    groups = near_duplicates(x, threshold=0.98, chunk=300)
    assert [g.members for g in groups] == reference_leaders(x, 0.98)
    for grp in groups:
        assert grp.representative == grp.members[0]
        assert grp.similarity == pytest.approx((xn[grp.members] @ xn[grp.representative]).tolist(), abs=1e-5)
        assert min(grp.similarity) >= 0.98
    kept = kept_rows(groups, len(x))
    between = (xn[kept] @ xn[kept].T).fill_diagonal_(0)
    assert between.max() < 0.98  # what is kept holds no near-duplicate pair


def test_near_duplicates__cluster_search_meets_each_pair_once_and_most_of_them(fmnist):
    xn = normalize(fmnist[0])  # 5,000 raw pixel rows: many look-alikes at 0.95
    exact = neighbour_counts(similar_pairs(xn, 0.95, 1000), len(xn))
    buckets = Buckets(xn)
    assert len(buckets.members) == 71 and sum(map(len, buckets.members)) == len(xn)
    found = neighbour_counts(buckets.pairs(xn, 0.95, 1000), len(xn))
    assert (found <= exact).all()  # never a pair twice, never one below the threshold
    assert found.sum() >= 0.9 * exact.sum() and exact.sum() > 10_000
    groups = near_duplicates(xn, threshold=0.95, search="clusters")
    for grp in groups[::10]:
        assert min((xn[grp.members] @ xn[grp.representative]).tolist()) >= 0.95 - 1e-6
    assert len({i for g in groups for i in g.members}) == sum(map(len, (g.members for g in groups)))


def test_near_duplicates__representative_is_the_most_central():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    rows = torch.stack([a, a + 0.1 * b, a + 0.2 * b, b])  # row 1 sits between rows 0 and 2
    (group,) = near_duplicates(rows, threshold=0.99)
    assert group.representative == 1 and group.members == [1, 0, 2]
    assert kept_rows([group], 4).tolist() == [1, 3]


def test_near_duplicates__error_bad_threshold():
    with pytest.raises(HeadstartError, match=r"\(0, 1\]"):
        near_duplicates(torch.randn(5, 3), threshold=1.5)


def test_exact_duplicates__by_content_not_name(tmp_path):
    big = bytes(range(256)) * 1024  # 256 KiB: past the prefix hash
    files = {
        "a.png": b"same bytes",
        "b/a.png": b"same bytes",
        "c.png": b"same bytes",
        "d.png": b"diff bytes",  # same size, other content
        "big1.bin": big,
        "big2.bin": big,
        "big3.bin": big[:-1] + b"\x00",  # same size and prefix, differs at the end
        "solo.txt": b"x",
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    groups = exact_duplicates(paths)
    assert groups == [[paths[0], paths[1], paths[2]], [paths[4], paths[5]]]


def test_exact_duplicates__error_missing_file(tmp_path):
    with pytest.raises(HeadstartError, match="cannot read .*nope.png"):
        exact_duplicates([tmp_path / "nope.png"])


def test_near_duplicates__short_run_305_images_no_chaining(pretrained_run, fmnist_test):
    """The issue's case: 300 test images + 5 planted re-encoded copies (contrast x1.1, noise of 4 grey
    levels), the features of a 6-step run, which are blurry enough for single link to chain."""
    from headstart.eval.features import extract_features
    from headstart.models.factory import load_run_backbone

    idx = torch.cat([torch.nonzero(torch.as_tensor(fmnist_test.labels) == c).flatten()[:30] for c in range(10)])
    images = fmnist_test.images[idx]
    g = torch.Generator().manual_seed(0)
    copies = 1.1 * images[:5].float() + 4 * torch.randn(5, 1, 28, 28, generator=g)
    data = fmnist_test.subset(torch.cat([idx, idx[:5]]).numpy())
    data.images = torch.cat([images, copies.round().clamp(0, 255).to(torch.uint8)])
    feats, _ = extract_features(load_run_backbone(pretrained_run).eval(), data.with_format(size=32, channels=1),
                                progress=False)
    xn = normalize(feats)
    chains = brute_force_groups(feats, 0.95)
    assert any((xn[c] @ xn[c].T).min() < 0.95 for c in chains)  # single link would put far rows together
    groups = near_duplicates(feats, threshold=0.95)
    assert min(s for grp in groups for s in grp.similarity) >= 0.95
    assert max(len(grp.members) for grp in groups) < max(len(c) for c in chains)
    kept = set(kept_rows(groups, len(feats)).tolist())
    assert (xn[sorted(kept)] @ xn[sorted(kept)].T).fill_diagonal_(0).max() < 0.95
    planted = [i for i in range(5) if xn[i] @ xn[300 + i] >= 0.95]
    assert planted == [0, 1, 2, 3, 4] and all(not {i, 300 + i} <= kept for i in planted)  # never both kept
