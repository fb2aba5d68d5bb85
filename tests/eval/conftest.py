"""Fashion-MNIST as flat pixel features: the raw-pixel baselines the eval protocols are checked on."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def pixels(fmnist_train, fmnist_test):
    """`(train_x, train_y, test_x, test_y)`: float32 `(N, 784)` uint8 values (no scaling), int64 labels."""
    return (fmnist_train.images.flatten(1).float(), torch.from_numpy(fmnist_train.labels),
            fmnist_test.images.flatten(1).float(), torch.from_numpy(fmnist_test.labels))
