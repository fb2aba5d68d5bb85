"""Channels-last except tiny maps on CPUs: which convolutions stay contiguous, same numbers."""

from __future__ import annotations

import torch
from torch import nn

from headstart.models import create_backbone
from headstart.train.memory_format import channels_last, input_pixels


def test_channels_last__resnet18_at_64px_keeps_its_three_2x2_convolutions_contiguous(fmnist_test):
    torch.manual_seed(0)
    reference = create_backbone("torchvision/resnet18", image_size=64)  # channels-last everywhere
    backbone = create_backbone("torchvision/resnet18", image_size=64)
    backbone.load_state_dict(reference.state_dict())
    reference.to(memory_format=torch.channels_last)
    small = channels_last(backbone, 64, cpu=True)
    names = {m: n for n, m in backbone.module.named_modules()}
    assert sorted(names[c] for c in small) == ["layer4.0.conv2", "layer4.1.conv1", "layer4.1.conv2"]
    assert all(c.weight.is_contiguous() for c in small)
    others = [m for m in backbone.modules() if isinstance(m, nn.Conv2d) and m not in small]
    assert len(others) == 17 and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in others)

    images = nn.functional.interpolate(fmnist_test.images[:16].float() / 255, size=64)  # (16, 1, 64, 64) real
    x = images.contiguous(memory_format=torch.channels_last)
    out, expected = backbone(x), reference(x)  # train mode: batch statistics
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    out.square().mean().backward()
    expected.square().mean().backward()
    for p, q in zip(backbone.parameters(), reference.parameters()):  # fp32 sums in another order only
        assert (p.grad - q.grad).norm() <= 1e-4 * q.grad.norm()


def test_channels_last__no_contiguous_convolution_on_gpus_or_large_maps():
    backbone = create_backbone("headstart/resnet-mini")
    assert min(input_pixels(backbone, 28).values()) == 16  # the last stage at 4x4: channels-last pays
    assert channels_last(backbone, 28, cpu=True) == []
    resnet = create_backbone("torchvision/resnet18", image_size=64)
    assert channels_last(resnet, 64, cpu=False) == []
    assert all(m.weight.is_contiguous(memory_format=torch.channels_last)
               for m in resnet.modules() if isinstance(m, nn.Conv2d))
    assert resnet.training  # the probe forward restores the mode
