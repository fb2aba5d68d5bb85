"""CPU conv layout: channels-last, tiny output maps as one dense matrix product, tiny 1x1 inputs
contiguous; the same numbers and parameters as plain `nn.Conv2d` either way."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from headstart.models.factory import create_backbone
from headstart.train.memory_format import TinyMapConv2d, channels_last, map_pixels


def real_maps(fmnist_test, channels: int, size: tuple[int, int]) -> torch.Tensor:
    """(16, channels, *size) maps from real Fashion-MNIST images (pooled, channels mixed by a 1x1 conv)."""
    images = fmnist_test.images[:16].float() / 255
    pooled = nn.functional.adaptive_avg_pool2d(images, size)
    mix = torch.randn(channels, 1, generator=torch.Generator().manual_seed(0))
    return torch.einsum("oc,bchw->bohw", mix, pooled) + 0.1 * pooled


def test_channels_last__resnet18_at_64px_runs_its_last_stage_as_dense_products(fmnist_test):
    torch.manual_seed(0)
    reference = create_backbone("torchvision/resnet18", image_size=64)  # plain channels-last everywhere
    backbone = create_backbone("torchvision/resnet18", image_size=64)
    backbone.load_state_dict(reference.state_dict())
    reference.to(memory_format=torch.channels_last)
    special = channels_last(backbone, 64, cpu=True)
    names = {m: n for n, m in backbone.module.named_modules()}
    assert sorted(names[c] for c in special) == ["layer4.0.conv1", "layer4.0.conv2", "layer4.1.conv1",
                                                 "layer4.1.conv2"]  # 3x3 kernels with 2x2 outputs
    assert set(special.values()) == {"dense"} and all(type(c) is TinyMapConv2d for c in special)
    assert backbone.state_dict().keys() == reference.state_dict().keys()
    assert type(copy.deepcopy(backbone).module.layer4[1].conv2) is TinyMapConv2d  # EMA teachers copy it

    images = nn.functional.interpolate(fmnist_test.images[:16].float() / 255, size=64)  # (16, 1, 64, 64) real
    x = images.contiguous(memory_format=torch.channels_last)
    out, expected = backbone(x), reference(x)  # train mode: batch statistics
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    out.square().mean().backward()
    expected.square().mean().backward()
    for p, q in zip(backbone.parameters(), reference.parameters()):  # fp32 sums in another order only
        assert (p.grad - q.grad).norm() <= 1e-4 * q.grad.norm()


@pytest.mark.parametrize(("cin", "cout", "kernel", "stride", "padding", "dilation", "size", "bias"), [
    (8, 16, 3, 1, 1, 1, (2, 2), False),   # ResNet's last stage at 64 px
    (8, 16, 3, 2, 1, 1, (4, 4), True),    # its stride-2 entry, with a bias
    (4, 6, (3, 1), (1, 2), (1, 0), 1, (3, 2), True),  # rectangular kernel, map and stride
    (4, 6, 3, 1, 2, 2, (2, 3), False),    # dilation
])
def test_tiny_map_conv__equals_conv2d_forward_and_backward(fmnist_test, cin, cout, kernel, stride, padding,
                                                           dilation, size, bias):
    torch.manual_seed(0)
    conv = nn.Conv2d(cin, cout, kernel, stride, padding, dilation, bias=bias)
    dense = copy.deepcopy(conv)
    dense.__class__ = TinyMapConv2d
    x = real_maps(fmnist_test, cin, size).requires_grad_()
    x2 = x.detach().clone().contiguous(memory_format=torch.channels_last).requires_grad_()
    out, expected = dense(x2), conv(x)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    (out * expected.detach()).sum().backward()
    (expected * expected.detach()).sum().backward()
    torch.testing.assert_close(x2.grad, x.grad, rtol=1e-5, atol=1e-6)
    for p, q in zip(dense.parameters(), conv.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # bf16 products, as training runs them
        low, low_ref = dense(x2), conv(x)
    assert low.dtype == low_ref.dtype == torch.bfloat16
    assert (low.float() - expected).norm() <= 0.02 * expected.norm()


def test_channels_last__nothing_special_on_gpus_or_large_maps():
    backbone = create_backbone("headstart/resnet-mini")
    assert min(p_in for p_in, _ in map_pixels(backbone, 28).values()) == 16  # the last stage at 4x4
    assert channels_last(backbone, 28, cpu=True) == {}
    resnet = create_backbone("torchvision/resnet18", image_size=64)
    assert channels_last(resnet, 64, cpu=False) == {}
    assert all(type(m) is nn.Conv2d and m.weight.is_contiguous(memory_format=torch.channels_last)
               for m in resnet.modules() if isinstance(m, nn.Conv2d))
    assert resnet.training  # the probe forward restores the mode


def test_channels_last__1x1_convolutions_on_tiny_maps_stay_contiguous():
    resnet = create_backbone("torchvision/resnet18", image_size=32)  # layer4 sees 1x1 maps, downsample 2x2
    special = channels_last(resnet, 32, cpu=True)
    names = {m: n for n, m in resnet.module.named_modules()}
    contiguous = sorted(names[c] for c, kind in special.items() if kind == "contiguous")
    assert contiguous == ["layer4.0.downsample.0"]
    assert all(c.weight.is_contiguous() for c, kind in special.items() if kind == "contiguous")


def test_tiny_map_conv__larger_maps_fall_back_to_the_plain_convolution(fmnist_test):
    conv = nn.Conv2d(4, 8, 3, padding=1)
    dense = copy.deepcopy(conv)
    dense.__class__ = TinyMapConv2d
    x = real_maps(fmnist_test, 4, (28, 28))  # a 784 x 784-pixel dense matrix would be wasteful
    with torch.profiler.profile() as prof:
        out = dense(x)
    ops = {e.key for e in prof.key_averages()}
    assert "aten::convolution" in ops and "aten::index_select" not in ops
    torch.testing.assert_close(out, conv(x))


def test_channels_last__laying_out_twice_changes_nothing():
    resnet = create_backbone("torchvision/resnet18", image_size=32)
    first = channels_last(resnet, 32, cpu=True)
    again = channels_last(resnet, 32, cpu=True)
    assert again == first
    for conv in (c for c, kind in first.items() if kind == "contiguous"):
        assert len(conv._forward_pre_hooks) == 1
