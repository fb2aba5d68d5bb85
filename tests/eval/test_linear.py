import numpy as np
import pytest
import torch

from headstart.data.subsets import label_subset
from headstart.errors import HeadstartError
from headstart.eval.linear import linear_probe


def few_labels(labels: np.ndarray, per_class: int, val_per_class: int, seed: int = 0):
    """Stratified train indices and a disjoint stratified validation split."""
    train = label_subset(labels, per_class=per_class, seed=seed)
    rest = np.setdiff1d(np.arange(len(labels)), train)
    val = rest[label_subset(labels[rest], per_class=val_per_class, seed=seed + 1)]
    return torch.from_numpy(train), torch.from_numpy(val)


@pytest.fixture(scope="module")
def probe_600(pixels):
    """Logistic regression on raw pixels, 600 stratified labels (60 per class), 1000 for validation."""
    train_x, train_y, test_x, test_y = pixels
    tr, va = few_labels(train_y.numpy(), 60, 100)
    return linear_probe(train_x[tr], train_y[tr], train_x[va], train_y[va], test_x, test_y, num_classes=10)


def test_linear_probe__fashion_mnist_600_labels(probe_600):
    assert probe_600.test_accuracy == pytest.approx(0.784, abs=0.02)


def test_linear_probe__chosen_weight_decay_is_best_on_val(probe_600):
    sweep = probe_600.val_accuracies
    assert len(sweep) == 7
    assert probe_600.val_accuracy == max(sweep.values()) == sweep[probe_600.weight_decay]
    # few labels: strong regularisation must win over almost none
    assert sweep[probe_600.weight_decay] > sweep[1e-6] + 0.005


def test_linear_probe__folded_linear_applies_to_raw_features(probe_600, pixels):
    _, _, test_x, test_y = pixels
    with torch.no_grad():
        acc = (probe_600.linear(test_x).argmax(1) == test_y).float().mean().item()
    assert acc == probe_600.test_accuracy
    assert probe_600.linear.weight.shape == (10, 784)


def test_linear_probe__invariant_to_feature_scale(pixels):
    train_x, train_y, test_x, test_y = pixels
    tr, va = few_labels(train_y.numpy(), 20, 20, seed=3)
    one = {"num_classes": 10, "weight_decays": (1e-2,)}  # one fit: the chosen L2 cannot flip on a near-tie
    a = linear_probe(train_x[tr], train_y[tr], train_x[va], train_y[va], test_x[:2000], test_y[:2000], **one)
    b = linear_probe(1000 * train_x[tr] + 5, train_y[tr], 1000 * train_x[va] + 5, train_y[va],
                     1000 * test_x[:2000] + 5, test_y[:2000], **one)
    assert abs(a.test_accuracy - b.test_accuracy) <= 0.002
    assert a.test_accuracy > 0.65


def test_linear_probe__constant_train_feature_is_ignored(pixels):
    train_x, train_y, test_x, test_y = pixels
    tr, va = few_labels(train_y.numpy(), 20, 20, seed=4)
    one = {"num_classes": 10, "weight_decays": (1e-2,)}
    base = linear_probe(train_x[tr], train_y[tr], train_x[va], train_y[va], test_x[:2000], test_y[:2000], **one)

    def pad(x, value):  # a column constant (0) in training, arbitrary elsewhere
        return torch.cat([x, torch.full((len(x), 1), value)], dim=1)

    padded = linear_probe(pad(train_x[tr], 0.0), train_y[tr], pad(train_x[va], 0.0), train_y[va],
                          pad(test_x[:2000], 1e6), test_y[:2000], **one)
    assert padded.linear.weight[:, -1].abs().max() == 0
    assert padded.test_accuracy == pytest.approx(base.test_accuracy, abs=0.002)


def test_linear_probe__without_test_split(pixels):
    train_x, train_y, _, _ = pixels
    result = linear_probe(train_x[:300], train_y[:300], train_x[300:400], train_y[300:400], num_classes=10,
                          weight_decays=(1e-2,))
    assert result.test_accuracy is None and result.weight_decay == 1e-2 and 0.5 < result.val_accuracy <= 1


def test_linear_probe__error_unlabeled_samples():
    x = torch.randn(6, 3)
    with pytest.raises(HeadstartError, match="label -1"):
        linear_probe(x, torch.tensor([0, 1, -1, 0, 1, 0]), x, torch.zeros(6, dtype=torch.long), num_classes=2)


def test_linear_probe__error_width_mismatch():
    y = torch.zeros(6, dtype=torch.long)
    with pytest.raises(HeadstartError, match="same backbone"):
        linear_probe(torch.randn(6, 3), y, torch.randn(6, 4), y, num_classes=2)


@pytest.mark.slow
def test_linear_probe__fashion_mnist_all_labels(pixels):
    """All 60k raw pixels (50k fit, 10k choose L2) -> ~84.5% test (sklearn's logistic regression: ~84%)."""
    train_x, train_y, test_x, test_y = pixels
    perm = torch.randperm(60000, generator=torch.Generator().manual_seed(0))
    tr, va = perm[:50000], perm[50000:]
    result = linear_probe(train_x[tr], train_y[tr], train_x[va], train_y[va], test_x, test_y, num_classes=10)
    assert result.test_accuracy == pytest.approx(0.845, abs=0.01)


def test_linear_probe__small_val_chooses_by_loss_and_does_no_worse(pixels, monkeypatch):
    """60 validation images: the L2 with the lowest validation loss is kept; over seeds, test accuracy
    is at least that of choosing by validation accuracy (which moves in 1.7-point steps here)."""
    import headstart.eval.linear as lin

    train_x, train_y, test_x, test_y = pixels
    by_loss, by_acc = [], []
    for seed in range(4):
        tr, va = few_labels(train_y.numpy(), 54, 6, seed=seed)
        args = (train_x[tr], train_y[tr], train_x[va], train_y[va], test_x[:5000], test_y[:5000])
        r = linear_probe(*args, num_classes=10)
        assert r.weight_decay == min(r.val_losses, key=r.val_losses.get)
        by_loss.append(r.test_accuracy)
        monkeypatch.setattr(lin, "LOSS_SELECT_BELOW", 0)
        by_acc.append(linear_probe(*args, num_classes=10).test_accuracy)
        monkeypatch.undo()
    assert np.mean(by_loss) >= np.mean(by_acc) - 0.002, (by_loss, by_acc)
