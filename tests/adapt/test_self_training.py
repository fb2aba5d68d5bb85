"""Self-training: confident pseudo-labels per class from the model, more fine-tuning on them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from headstart.adapt.config import FinetuneConfig
from headstart.adapt.self_training import check_options, pseudo_labeled
from headstart.errors import HeadstartError
from tests.adapt.conftest import finetune_fast


class NearestMean(nn.Module):
    """A real classifier of Fashion-MNIST: logits = -squared distance to each class's mean image."""

    def __init__(self, images: torch.Tensor, labels: np.ndarray) -> None:
        super().__init__()
        x = images.float().flatten(1) / 255
        self.register_buffer("means", torch.stack([x[torch.from_numpy(labels == k)].mean(0) for k in range(10)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -torch.cdist(x.flatten(1), self.means).square() * 0.05


def test_pseudo_labeled__keeps_the_most_confident_per_class_and_they_are_more_often_right(fmnist_train):
    labeled = np.concatenate([np.flatnonzero(fmnist_train.labels == k)[:20] for k in range(10)])
    model = NearestMean(fmnist_train.images[torch.from_numpy(labeled)], fmnist_train.labels[labeled])
    pool = fmnist_train.subset(np.arange(10_000, 15_000)).with_format(size=None, channels=1)
    pseudo, info = pseudo_labeled(model, pool, per_class=50, image_size=28, device=torch.device("cpu"))
    assert len(pseudo) == info["pseudo_labels"] == 500 and info["per_class"] == [50] * 10
    assert info["pool"] == 5000
    truth = dict(zip(pool.paths, pool.labels))
    right = np.array([truth[p] for p in pseudo.paths]) == pseudo.labels
    assert info["pseudo_label_accuracy"] == pytest.approx(right.mean(), abs=1e-4)
    # the nearest class mean gets about 2 in 3 right; its surest 10% do much better
    assert 0.55 < info["pool_accuracy"] < 0.8
    assert info["pseudo_label_accuracy"] > info["pool_accuracy"] + 0.1
    assert (pool.labels == fmnist_train.labels[10_000:15_000]).all()  # the pool's labels are untouched


def test_self_train__a_round_on_the_rest_of_the_split_and_its_record(tmp_path, ft_root):
    out = tmp_path / "st"
    finetune_fast(out, from_="scratch", model="headstart/resnet-mini", data=str(ft_root), per_class=10,
                  epochs=2, self_train=1, pseudo_per_class=20)
    results = json.loads((out / "results.json").read_text())
    (record,) = results["self_training"]
    assert record["round"] == 1 and record["pool"] == 4 * 60 - 4 * 10  # the split without labeled + val
    assert record["pseudo_labels"] == sum(record["per_class"]) and max(record["per_class"]) <= 20
    assert 0 <= record["pseudo_label_accuracy"] <= 1
    assert results["train_labels"] + results["val_labels"] == 40  # the labeled set itself is unchanged


def test_self_train__unlabeled_data_from_another_folder(tmp_path, ft_root):
    out = tmp_path / "st"
    finetune_fast(out, from_="scratch", model="headstart/resnet-mini", data=str(ft_root / "train"),
                  test_split=False, per_class=10, epochs=1, self_train=1, pseudo_per_class=5,
                  unlabeled_data=str(ft_root / "test"))
    (record,) = json.loads((out / "results.json").read_text())["self_training"]
    assert record["pool"] == 4 * 40 and record["pseudo_labels"] <= 20


@pytest.mark.parametrize(("options", "message"), [
    ({"unlabeled_data": "somewhere"}, "--unlabeled-data is read by --self-train and --semi only"),
])
def test_self_train__conflicting_options_are_refused(tmp_path, ft_root, options, message):
    with pytest.raises(HeadstartError, match=message):
        finetune_fast(tmp_path / "st", from_="scratch", model="headstart/resnet-mini", data=str(ft_root),
                      per_class=10, **options)


def test_self_train__a_run_with_a_checkpoint_is_not_resumed():
    """`--resume` on a fresh folder starts the run (the re-run-after-a-kill idiom); a run that has a
    checkpoint reaches this check with its saved settings, and its rounds share that one checkpoint."""
    resumed = FinetuneConfig(from_="scratch", model="headstart/resnet-mini", data="fashion-mnist",
                             self_train=1, resume=True)
    with pytest.raises(HeadstartError, match="--resume cannot continue a --self-train run"):
        check_options(resumed)
