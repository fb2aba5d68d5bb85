"""Duplicates: planted near-copies of Fashion-MNIST images, brute-force agreement, file hashes."""

from __future__ import annotations

import pytest
import torch

from headstart.curate.base import normalize
from headstart.curate.dedup import exact_duplicates, find, kept_rows, near_duplicates, union
from headstart.errors import HeadstartError


def brute_force_groups(x: torch.Tensor, threshold: float) -> list[list[int]]:
    """Connected components of the full similarity matrix, by depth-first search."""
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


def test_near_duplicates__finds_planted_copies_and_nothing_else(fmnist):
    x = fmnist[0][:2000]
    near = {i for group in brute_force_groups(x, 0.99) for i in group}
    distinct = torch.tensor([i for i in range(2000) if i not in near])
    x = x[distinct]  # really distinct: no pair at cosine >= 0.99, checked by brute force
    assert brute_force_groups(x, 0.99) == []
    g = torch.Generator().manual_seed(0)
    originals = torch.randperm(len(x), generator=g)[:20]
    copies = x[originals] + torch.randn(20, x.shape[1], generator=g)  # +-1 grey level of 255
    rows = torch.cat([x, copies])
    groups = near_duplicates(rows, threshold=0.99, chunk=256)  # copies sit in other blocks
    assert sorted(grp.members for grp in groups) == sorted(
        [[int(o), len(x) + i] for i, o in enumerate(originals)]
    )
    assert all(grp.similarity[0] == 1.0 and grp.similarity[1] > 0.999 for grp in groups)


def test_near_duplicates__agrees_with_brute_force_on_chains(fmnist):
    x = fmnist[0][:2000]
    expected = brute_force_groups(x, 0.98)  # raw pixels: ~100 pairs, some chained
    assert any(len(group) > 2 for group in expected)
    groups = near_duplicates(x, threshold=0.98, chunk=300)
    assert sorted(sorted(grp.members) for grp in groups) == expected
    xn = normalize(x)
    for grp in groups:
        assert grp.similarity == pytest.approx((xn[grp.members] @ xn[grp.representative]).tolist(), abs=1e-5)


def test_near_duplicates__representative_is_the_most_central():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    rows = torch.stack([a, a + 0.1 * b, a + 0.2 * b, b])  # row 1 sits between rows 0 and 2
    (group,) = near_duplicates(rows, threshold=0.99)
    assert group.representative == 1 and group.members == [1, 0, 2]
    assert kept_rows([group], 4).tolist() == [1, 3]


def test_union__chains_join_transitively():
    parent = torch.arange(8)
    union(parent, torch.tensor([6, 2, 4]), torch.tensor([7, 4, 7]))
    assert find(parent, torch.arange(8)).tolist() == [0, 1, 2, 3, 2, 5, 2, 2]


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
