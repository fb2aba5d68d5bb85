"""Fixtures for the data tests; helpers that write image files live in `data_files.py`."""

from __future__ import annotations

import pytest

from headstart.data.idx import open_idx
from headstart.data.imageset import ImageSet


@pytest.fixture(scope="session")
def fashion() -> ImageSet:
    """The Fashion-MNIST test split, (10000, 1, 28, 28) uint8."""
    return open_idx("fashion-mnist", "test")
