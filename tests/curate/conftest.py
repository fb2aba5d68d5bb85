"""Real data for the curate tests: Fashion-MNIST test images as flattened pixel rows."""

from __future__ import annotations

import pytest
import torch

from headstart.data.idx import open_idx


@pytest.fixture(scope="session")
def fmnist() -> tuple[torch.Tensor, torch.Tensor]:
    """First 5,000 test images as float `(5000, 784)` pixel rows, and their labels `(5000,)`."""
    images = open_idx("fashion-mnist", "test")
    x = images.images[:5000].reshape(5000, -1).float()
    return x, torch.as_tensor(images.labels[:5000])
