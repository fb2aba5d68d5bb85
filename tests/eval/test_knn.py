import math

import pytest
import torch

from headstart.errors import HeadstartError
from headstart.eval.features import bf16_is_native
from headstart.eval.knn import knn_accuracy, knn_predict

# bf16 matmul only where the CPU has it natively (it moves top-1 by ~0.01 points); else fp32
FAST = torch.bfloat16 if bf16_is_native(torch.device("cpu")) else torch.float32


def toy(n_per_class=20, seed=0):
    """Three well-separated directions in 5-D, with small noise."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.eye(5)[:3] * 10
    labels = torch.arange(3).repeat_interleave(n_per_class)
    return centers[labels] + 0.5 * torch.randn(len(labels), 5, generator=g), labels


def test_knn_predict__k1_is_exact_nearest_neighbour():
    train, labels = toy()
    query = train[::3] + 1e-3  # each query's nearest training sample is its own source
    scores = knn_predict(train, labels, query, num_classes=3, k=1)
    assert scores.shape == (len(query), 3)
    assert torch.equal(scores, torch.nn.functional.one_hot(labels[::3], 3).float())


def test_knn_predict__temperature_weighting_overrules_majority():
    # neighbours of the query [1, 0]: one of class 0 at cos 1.0, two of class 1 at cos 0.8
    train = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.8, -0.6], [-1.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 2])
    query = torch.tensor([[1.0, 0.0]])
    majority = knn_predict(train, labels, query, num_classes=3, k=3, temperature=None)
    assert torch.allclose(majority, torch.tensor([[1 / 3, 2 / 3, 0.0]]))
    weighted = knn_predict(train, labels, query, num_classes=3, k=3, temperature=0.1)
    w0, w1 = math.exp(1.0 / 0.1), 2 * math.exp(0.8 / 0.1)
    assert torch.allclose(weighted, torch.tensor([[w0 / (w0 + w1), w1 / (w0 + w1), 0.0]]))
    assert weighted.argmax().item() == 0 and majority.argmax().item() == 1


def test_knn_predict__tiny_temperature_does_not_overflow(pixels):
    train_x, train_y, test_x, _ = pixels
    sharp = knn_predict(train_x[:5000], train_y[:5000], test_x[:500], num_classes=10, k=20, temperature=1e-4)
    one = knn_predict(train_x[:5000], train_y[:5000], test_x[:500], num_classes=10, k=1)
    assert torch.isfinite(sharp).all()
    assert (sharp.argmax(1) == one.argmax(1)).float().mean() > 0.99


def test_knn_predict__chunk_size_does_not_change_scores(pixels):
    train_x, train_y, test_x, _ = pixels
    whole = knn_predict(train_x[:3000], train_y[:3000], test_x[:300], num_classes=10, chunk=300)
    chunked = knn_predict(train_x[:3000], train_y[:3000], test_x[:300], num_classes=10, chunk=7)
    assert torch.allclose(whole, chunked)
    assert torch.allclose(chunked.sum(1), torch.ones(300))


def test_knn_accuracy__fashion_mnist_raw_pixels_full_train_set(pixels):
    """Cosine kNN, k=20, exp(sim / 0.07) votes, all 60k raw training images -> the 10k test images."""
    train_x, train_y, test_x, test_y = pixels
    assert knn_accuracy(train_x, train_y, test_x, test_y, dtype=FAST) == pytest.approx(0.8459, abs=0.005)


def test_knn_accuracy__fashion_mnist_majority_vote_is_lower(pixels):
    train_x, train_y, test_x, test_y = pixels
    majority = knn_accuracy(train_x, train_y, test_x, test_y, temperature=None, dtype=FAST)
    assert majority == pytest.approx(0.8407, abs=0.005)


def test_knn_accuracy__fashion_mnist_centred_pixels(pixels):
    """Centred on the training mean, cosine kNN reaches the often-quoted ~86.1%."""
    train_x, train_y, test_x, test_y = pixels
    mean = train_x.mean(0)
    centred = knn_accuracy(train_x - mean, train_y, test_x - mean, test_y, dtype=FAST)
    assert centred == pytest.approx(0.8605, abs=0.005)


def test_knn_accuracy__bf16_matches_fp32(pixels):
    train_x, train_y, test_x, test_y = (t[:n] for t, n in zip(pixels, (10000, 10000, 2000, 2000)))
    fp32 = knn_accuracy(train_x, train_y, test_x, test_y)
    bf16 = knn_accuracy(train_x, train_y, test_x, test_y, dtype=torch.bfloat16)
    assert abs(fp32 - bf16) <= 0.005  # 10 of 2000 near-tied neighbourhoods


def test_knn_predict__k_larger_than_train_set_uses_all():
    train, labels = toy(n_per_class=2)
    scores = knn_predict(train, labels, train, num_classes=3, k=100, temperature=None)
    assert torch.allclose(scores, torch.full((6, 3), 1 / 3))


def test_knn_predict__error_width_mismatch():
    with pytest.raises(HeadstartError, match="same backbone"):
        knn_predict(torch.randn(10, 4), torch.zeros(10, dtype=torch.long), torch.randn(3, 5), num_classes=2)


def test_knn_predict__error_unlabeled_training_samples():
    with pytest.raises(HeadstartError, match="label -1"):
        knn_predict(torch.randn(4, 3), torch.tensor([0, 1, -1, 0]), torch.randn(2, 3), num_classes=2)
