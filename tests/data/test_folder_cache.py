"""The cached listing of a large folder: reused while the folder is unchanged, redone when it changes."""

from __future__ import annotations

import os

import numpy as np
import pytest
from data_files import write_class_folders
from PIL import Image

from headstart.data import folder, folder_cache
from headstart.data.folder import index_folder


@pytest.fixture
def cached(tmp_path, monkeypatch):
    """Every listing cached (no size floor), folders trusted at once, the cache in tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(folder_cache, "CACHE_ABOVE", 1)
    monkeypatch.setattr(folder_cache, "COARSE_NS", 0)
    return tmp_path / "cache" / "headstart" / "index"


def _listed(root):
    index = index_folder(root)
    return index.paths, index.labels.tolist(), index.classes


def _no_listing(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("the folder was listed although its cached listing was current")

    monkeypatch.setattr(folder, "_scan", refuse)


def test_listing_is_cached_and_reused_unchanged(tmp_path, fashion, cached, monkeypatch):
    root = tmp_path / "data"
    write_class_folders(root, fashion, per_class=3)
    (root / "tshirt" / "deep" / "er").mkdir(parents=True)
    Image.fromarray(fashion.images[0, 0].numpy()).save(root / "tshirt" / "deep" / "er" / "x.png")
    first = _listed(root)
    assert len(list(cached.glob("*.npz"))) == 1 and len(first[0]) == 10
    with monkeypatch.context() as m:
        _no_listing(m)
        assert _listed(root) == first
        assert _listed(str(root) + "/") == first  # the same folder spelled with a slash
    assert index_folder(root, cache=False).paths == first[0]


@pytest.mark.parametrize("change", ["add_deep", "remove", "new_folder", "rename_class"])
def test_a_change_anywhere_redoes_the_listing(tmp_path, fashion, cached, change):
    root = tmp_path / "data"
    write_class_folders(root, fashion, per_class=3)
    (root / "tshirt" / "deep").mkdir()
    Image.fromarray(fashion.images[0, 0].numpy()).save(root / "tshirt" / "deep" / "a.png")
    before = _listed(root)
    pixels = fashion.images[1, 0].numpy()
    if change == "add_deep":
        Image.fromarray(pixels).save(root / "tshirt" / "deep" / "b.png")
    elif change == "remove":
        os.remove(before[0][0])
    elif change == "new_folder":
        (root / "sneaker" / "new").mkdir()
        Image.fromarray(pixels).save(root / "sneaker" / "new" / "c.png")
    else:
        os.rename(root / "trouser", root / "pants")
    assert _listed(root) == _listed_fresh(root) != before


def _listed_fresh(root):
    index = index_folder(root, cache=False)
    return index.paths, index.labels.tolist(), index.classes


def test_a_folder_changed_just_before_listing_is_not_trusted(tmp_path, fashion, cached, monkeypatch):
    monkeypatch.setattr(folder_cache, "COARSE_NS", 10**12)  # every folder "just changed"
    root = tmp_path / "data"
    write_class_folders(root, fashion, per_class=2)
    first = _listed(root)
    calls = []
    scan = folder._scan
    monkeypatch.setattr(folder, "_scan", lambda *a: calls.append(a[0]) or scan(*a))
    assert _listed(root) == first and calls  # listed again, not read from the cache


def test_a_broken_cache_file_is_ignored(tmp_path, fashion, cached):
    root = tmp_path / "data"
    write_class_folders(root, fashion, per_class=2)
    first = _listed(root)
    for f in cached.glob("*.npz"):
        f.write_bytes(b"not an npz")
    assert _listed(root) == first
    assert np.load(next(cached.glob("*.npz")))["names"].size  # rewritten


def test_small_folders_are_not_cached(tmp_path, fashion, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    write_class_folders(tmp_path / "data", fashion, per_class=2)
    index_folder(tmp_path / "data")
    assert not (tmp_path / "cache").exists()
