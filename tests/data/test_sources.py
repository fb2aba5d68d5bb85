"""open_data: named sets and split suffixes, IDX paths, image folders, storage size, errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from data_files import write_class_folders

from headstart.data import open_data
from headstart.data.idx import find_named
from headstart.data.sources import default_memory_budget
from headstart.errors import HeadstartError


def test_open_data__named_set_and_split_suffix(fashion):
    train = open_data("fashion-mnist")
    assert train.images.shape == (60000, 1, 28, 28) and np.bincount(train.labels).tolist() == [6000] * 10
    test = open_data("fashion-mnist:test", split="train")  # the suffix wins
    assert test.images.shape == (10000, 1, 28, 28) and test.classes[9] == "Ankle boot"
    assert torch.equal(test.images, fashion.images) and test.source == "fashion-mnist:test"
    assert len(open_data("fashion-mnist", split="test")) == 10000


def test_open_data__idx_folder_and_file(fashion):
    folder = find_named("fashion-mnist")
    by_folder = open_data(str(folder), split="test")
    assert torch.equal(by_folder.images, fashion.images) and np.array_equal(by_folder.labels, fashion.labels)
    by_file = open_data(str(folder / "t10k-images-idx3-ubyte.gz"))
    assert len(by_file) == 10000 and np.array_equal(by_file.labels, fashion.labels)
    assert len(open_data(f"{folder}:test")) == 10000


def test_open_data__load_size_stores_resized_or_resizes_per_batch(fashion):
    stored = open_data("fashion-mnist:test", load_size=32)
    assert stored.images.shape == (10000, 1, 32, 32) and stored.size is None
    streamed = open_data("fashion-mnist:test", load_size=32, memory_budget=10_000 * 32 * 32 - 1)
    assert streamed.images.shape == (10000, 1, 28, 28) and streamed.size == 32
    a, _ = stored.__getitems__([3, 7])
    b, _ = streamed.__getitems__([3, 7])
    assert torch.equal(a, b)  # the same resize, done once or per batch


def test_open_data__upscale_false_keeps_a_smaller_set_and_still_shrinks(fashion):
    kept = open_data("fashion-mnist:test", load_size=64, upscale=False)
    assert kept.images.shape == (10000, 1, 28, 28) and kept.size is None
    assert torch.equal(kept.images, fashion.images)
    shrunk = open_data("fashion-mnist:test", load_size=16, upscale=False)
    assert shrunk.images.shape == (10000, 1, 16, 16)
    assert torch.equal(shrunk.images, open_data("fashion-mnist:test", load_size=16).images)


def test_open_data__image_folder_with_split_subfolders(tmp_path, fashion):
    write_class_folders(tmp_path / "train", fashion, per_class=4)
    write_class_folders(tmp_path / "val", fashion, per_class=2)
    train = open_data(str(tmp_path), load_size=28)
    assert len(train) == 12 and train.classes == ["sneaker", "trouser", "tshirt"]
    val = open_data(f"{tmp_path}:test", load_size=28)
    assert len(val) == 6 and np.bincount(val.labels).tolist() == [2, 2, 2]
    assert torch.equal(val.images, train.images[[0, 1, 4, 5, 8, 9]])  # same first files


def test_open_data__missing_path_names_it_and_the_choices(tmp_path):
    with pytest.raises(HeadstartError) as info:
        open_data(str(tmp_path / "nope"))
    assert str(info.value) == (f"no such file or folder: {tmp_path / 'nope'} — pass a folder of images, "
                               "an IDX .gz file, or one of: fashion-mnist, mnist")
    with pytest.raises(HeadstartError, match="did you mean 'fashion-mnist'"):
        open_data("fashion_mnist")


def test_open_data__bad_arguments(tmp_path, fashion):
    with pytest.raises(HeadstartError, match="unknown split 'val'"):
        open_data("fashion-mnist:val")
    with pytest.raises(HeadstartError, match="on_bad_image"):
        open_data("fashion-mnist", on_bad_image="ignore")
    with pytest.raises(HeadstartError, match="load_size"):
        open_data("fashion-mnist", load_size=0)
    written = write_class_folders(tmp_path, fashion, per_class=1)
    with pytest.raises(HeadstartError, match="single file"):
        open_data(next(iter(written)))
    (tmp_path / "empty").mkdir()
    accepted = r"\(\.jpg \.jpeg \.png \.bmp \.tif \.tiff \.webp \.gif\)"
    with pytest.raises(HeadstartError, match=rf"no images in .*empty — put image files {accepted}"):
        open_data(str(tmp_path / "empty"))


def test_default_memory_budget__at_most_4gib_and_a_quarter_of_ram():
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert default_memory_budget() == min(4 << 30, ram // 4)
