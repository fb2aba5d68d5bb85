import pytest
import torch
from torch import nn

from headstart.errors import HeadstartError
from headstart.eval.features import bf16_is_native, extract_features
from headstart.eval.knn import knn_accuracy


@pytest.fixture(scope="module")
def small(fmnist_test):
    return fmnist_test.subset(range(1000))


def tiny_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 16))


def test_extract_features__matches_direct_forward_in_order(small):
    net = tiny_net()
    feats, labels = extract_features(net, small, batch_size=96, bf16=False, progress=False)
    net.eval()
    with torch.no_grad():
        expected = net(small.images.float() / 255)
    assert feats.dtype == torch.float32 and feats.shape == (1000, 16)
    assert torch.allclose(feats, expected, atol=1e-6)
    assert labels.dtype == torch.int64 and torch.equal(labels, torch.from_numpy(small.labels))


def test_extract_features__restores_training_mode(small):
    net = tiny_net().train()
    a, _ = extract_features(net, small, progress=False, bf16=False)
    b, _ = extract_features(net, small, progress=False, bf16=False)
    assert torch.equal(a, b)  # dropout was off
    assert net.training and all(m.training for m in net.modules())


def test_extract_features__bf16_close_to_fp32(small):
    net = tiny_net()
    fp32, _ = extract_features(net, small, bf16=False, progress=False)
    auto, _ = extract_features(net, small, bf16=True, progress=False)
    assert auto.dtype == torch.float32
    if bf16_is_native(torch.device("cpu")):
        assert not torch.equal(auto, fp32)  # bf16 autocast really ran
    assert torch.allclose(auto, fp32, atol=0.05, rtol=0.02)


def test_extract_features__resizes_and_expands_channels(small):
    def channel_means(x):  # (B, C, H, W) -> (B, C + 1): per-channel mean and the side length
        return torch.cat([x.mean(dim=(2, 3)), torch.full((len(x), 1), float(x.shape[-1]))], dim=1)

    feats, _ = extract_features(channel_means, small, size=40, channels=3, progress=False)
    assert feats.shape == (1000, 4) and (feats[:, 3] == 40).all()
    assert torch.equal(feats[:, 0], feats[:, 1]) and torch.equal(feats[:, 1], feats[:, 2])
    original = small.images.float().mean(dim=(1, 2, 3)) / 255
    assert torch.allclose(feats[:, 0], original, atol=0.01)  # resizing keeps the mean brightness


def test_extract_features__pixels_give_raw_pixel_knn(fmnist_train, small):
    """Identity features through the loader must give exactly the kNN accuracy of the raw tensors."""
    bank = fmnist_train.subset(range(10000))
    flat = lambda x: x.flatten(1)
    fb, lb = extract_features(flat, bank, batch_size=1000, progress=True)
    fq, lq = extract_features(flat, small, batch_size=100, progress=True)
    via_loader = knn_accuracy(fb, lb, fq, lq)
    direct = knn_accuracy(bank.images.flatten(1).float(), torch.from_numpy(bank.labels),
                          small.images.flatten(1).float(), torch.from_numpy(small.labels))
    assert via_loader == pytest.approx(direct, abs=0.001) and 0.75 < direct < 0.9


def test_extract_features__error_token_output(small):
    with pytest.raises(HeadstartError, match="not \\(B, D\\)"):
        extract_features(lambda x: x.flatten(2), small, progress=False)
