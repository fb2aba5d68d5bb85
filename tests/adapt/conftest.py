"""Fine-tuning fixtures: a small real Fashion-MNIST folder with train/ and test/ splits, and runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_folder

CLASSES = [0, 1, 7, 9]  # T-shirt/top, Trouser, Sneaker, Ankle boot: 4 classes, chance = 25%


def make_ft_root(root: Path, train, test) -> Path:
    """`root/train/<class>/*.png`: 4 x 60 from the train split; `root/test/`: 4 x 40 from the test split."""
    write_folder(root / "train", train, 60, CLASSES)
    write_folder(root / "test", test, 40, CLASSES)
    return root


@pytest.fixture(scope="session")
def ft_root(tmp_path_factory, fmnist_train, fmnist_test) -> Path:
    return make_ft_root(tmp_path_factory.mktemp("ft-data"), fmnist_train, fmnist_test)


def finetune_fast(out: Path, **kwargs):
    """`headstart.finetune` with small, quiet settings (2 epochs at batch 32 unless overridden)."""
    import headstart

    options = {"epochs": 2, "batch_size": 32, "progress": False, "out": out} | kwargs
    return headstart.finetune(**options)


@pytest.fixture(scope="session")
def finetuned_run(tmp_path_factory, pretrained_run, ft_root) -> Path:
    """An lp-ft run from the shared pretraining run, on `ft_root` (read-only for the tests that use it)."""
    out = tmp_path_factory.mktemp("ft-runs") / "lp-ft"
    finetune_fast(out, from_=str(pretrained_run), data=str(ft_root), strategy="lp-ft", epochs=1)
    return out
