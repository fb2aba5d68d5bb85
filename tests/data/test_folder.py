"""Image folders: layout -> labels, exact PNG round trip, odd file systems, bad files, streaming."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch
from data_files import CLASS_IDS, FOLDER_NAMES, write_bad_files, write_class_folders
from PIL import Image

from headstart.data.decode import BadImage
from headstart.data.folder import BadImageWarning, decode_or_black, index_folder, open_folder
from headstart.errors import HeadstartError

BUDGET = 1 << 30


def open_(root, **kw):
    kw = {"on_bad_image": "skip", "memory_budget": BUDGET, "load_size": None} | kw
    return open_folder(root, **kw)


def test_open_folder__png_round_trip_exact(tmp_path, fashion):
    written = write_class_folders(tmp_path, fashion, per_class=20)
    data = open_(tmp_path, load_size=28)
    assert data.classes == sorted(FOLDER_NAMES) == ["sneaker", "trouser", "tshirt"]
    assert len(data) == 60 and np.bincount(data.labels).tolist() == [20, 20, 20]
    assert data.channels == 1 and data.images.shape == (60, 1, 28, 28) and data.images.dtype == torch.uint8
    for i, path in enumerate(data.paths):
        assert torch.equal(data.images[i, 0], torch.from_numpy(written[path]))
        assert data.classes[data.labels[i]] == os.path.basename(os.path.dirname(path))
    truth = dict(zip(FOLDER_NAMES, CLASS_IDS))  # folder name -> Fashion-MNIST label
    image, label = data[45]
    assert fashion.labels[int(os.path.basename(data.paths[45])[:5])] == truth[data.classes[label]]
    assert image.shape == (1, 28, 28)


def test_open_folder__default_size_is_first_image_clamped(tmp_path, fashion):
    write_class_folders(tmp_path, fashion, per_class=3)
    data = open_(tmp_path)
    assert data.images.shape == (9, 1, 32, 32)  # 28 px clamped up to 32


def test_open_folder__jpeg_rgb_round_trip_close(tmp_path, fashion):
    written = write_class_folders(tmp_path, fashion, per_class=5, ext="jpg", rgb=True)
    data = open_(tmp_path, load_size=28)
    assert data.channels == 3 and data.images.shape == (15, 3, 28, 28)
    decoded = data.images.numpy().astype(int)  # (15, 3, 28, 28)
    originals = np.stack([written[p] for p in data.paths])[:, None]  # (15, 1, 28, 28)
    assert np.abs(decoded - originals).mean() < 3.0


def test_index_folder__unlabeled_layouts(tmp_path, fashion):
    write_class_folders(tmp_path / "one_class", fashion, per_class=2)
    Image.fromarray(fashion.images[0, 0].numpy()).save(tmp_path / "loose.png")
    index = index_folder(tmp_path)  # loose image at the top: no classes
    assert index.classes == [] and (index.labels == -1).all() and len(index.paths) == 7
    assert index.paths == sorted(index.paths)
    only = index_folder(tmp_path / "one_class" / "tshirt")
    assert only.classes == [] and len(only.paths) == 2


def test_index_folder__nested_hidden_case_and_other_files(tmp_path, fashion):
    pixels = fashion.images[0, 0].numpy()
    for rel in ["cats/a/b/deep.PNG", "cats/x.JpEg", "dogs/y.webp", "dogs/.hidden.png", ".git/z.png"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(tmp_path / rel, format="WEBP" if rel.endswith("webp") else
                                     "JPEG" if rel.lower().endswith("jpeg") else "PNG")
    (tmp_path / "dogs" / "notes.txt").write_text("x")
    (tmp_path / "empty_dir").mkdir()
    index = index_folder(tmp_path)
    assert index.classes == ["cats", "dogs"] and index.labels.tolist() == [0, 0, 1]
    assert [os.path.basename(p) for p in index.paths] == ["deep.PNG", "x.JpEg", "y.webp"]


def test_index_folder__broken_links_and_loops_do_not_crash(tmp_path, fashion):
    write_class_folders(tmp_path, fashion, per_class=2)
    (tmp_path / "tshirt" / "broken.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "tshirt" / "self.png").symlink_to(tmp_path / "tshirt" / "self.png")  # ELOOP
    (tmp_path / "tshirt" / "up").symlink_to(tmp_path)  # directory loop
    (tmp_path / "sneaker" / "again").symlink_to(tmp_path / "sneaker")
    (tmp_path / "trouser" / "link.png").symlink_to(next((tmp_path / "sneaker").glob("*.png")))
    index = index_folder(tmp_path)
    assert index.classes == ["sneaker", "trouser", "tshirt"]
    assert np.bincount(index.labels).tolist() == [2, 3, 2]
    assert len(open_(tmp_path)) == 7


def test_index_folder__non_utf8_names(tmp_path, fashion):
    write_class_folders(tmp_path, fashion, per_class=2)
    odd_dir = bytes(tmp_path) + b"/sneaker/\xe9t\xe9"
    os.mkdir(odd_dir)
    Image.fromarray(fashion.images[1, 0].numpy()).save(os.fsdecode(odd_dir + b"/\xff.png"))
    open(bytes(tmp_path) + b"/tshirt/\xfe.png", "wb").close()  # bad and badly named
    with pytest.warns(BadImageWarning, match=r"\\xfe\.png: empty file"):
        data = open_(tmp_path, load_size=28)
    assert len(data) == 7 and np.bincount(data.labels).tolist() == [3, 2, 2]
    i = next(i for i, p in enumerate(data.paths) if os.fsencode(p).endswith(b"\xff.png"))
    assert torch.equal(data.images[i, 0], fashion.images[1, 0])


def test_open_folder__bad_files_skipped_with_one_warning_each(tmp_path, fashion):
    write_class_folders(tmp_path, fashion, per_class=4)
    kinds = write_bad_files(tmp_path / "trouser", fashion)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = open_(tmp_path, load_size=28)
    skipped = [str(w.message) for w in caught if issubclass(w.category, BadImageWarning)]
    assert len(skipped) == len(kinds) == 4
    for name, word in kinds.items():
        line = next(m for m in skipped if f"{name}:" in m)
        assert word in line and "\n" not in line
    assert len(data) == 13 and data.images.shape[0] == 13  # 12 + good.png, indices dense
    assert np.bincount(data.labels).tolist() == [4, 5, 4]
    assert not any(os.path.basename(p) in kinds for p in data.paths)


def test_open_folder__fail_mode_names_file_and_fix(tmp_path, fashion):
    write_class_folders(tmp_path, fashion, per_class=2)
    (tmp_path / "tshirt" / "zz.jpg").write_text("not a picture")
    with pytest.raises(HeadstartError, match=r"zz\.jpg.*--on-bad-image skip") as info:
        open_(tmp_path, on_bad_image="fail")
    assert isinstance(info.value, BadImage)


def test_open_folder__all_bad_or_empty_is_an_error(tmp_path, fashion):
    write_bad_files(tmp_path / "bad", fashion)
    (tmp_path / "bad" / "good.png").unlink()
    with pytest.raises(HeadstartError, match="could be"):
        open_(tmp_path / "bad")
    (tmp_path / "empty").mkdir()
    with pytest.raises(HeadstartError, match=r"no images in .*empty.*\.jpg .*\.webp"):
        open_(tmp_path / "empty")
    (tmp_path / "texts" / "a").mkdir(parents=True)
    (tmp_path / "texts" / "a" / "notes.txt").write_text("x")
    with pytest.raises(HeadstartError, match="no images"):
        open_(tmp_path / "texts")


def test_open_folder__over_budget_streams_and_bad_late_file_is_black(tmp_path, fashion):
    written = write_class_folders(tmp_path, fashion, per_class=3)
    data = open_(tmp_path, memory_budget=100, load_size=28)
    assert data.images is None and data.decode is decode_or_black and data.size == 28
    batch, labels = data.__getitems__([0, 4, 8])
    assert batch.shape == (3, 1, 28, 28) and labels.tolist() == [0, 1, 2]
    assert torch.equal(batch[1, 0], torch.from_numpy(written[data.paths[4]]))
    assert data.with_format(size=16, channels=3)[2][0].shape == (3, 16, 16)
    open(data.paths[4], "wb").close()  # the file goes bad mid-run
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, _ = data.__getitems__([4, 5])
        again, _ = data.__getitems__([4])
    assert (first[0] == 0).all() and first[1].float().mean() > 0 and (again == 0).all()
    assert len([w for w in caught if issubclass(w.category, BadImageWarning)]) == 1
