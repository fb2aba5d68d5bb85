"""--activation-checkpointing: the same gradients from far fewer saved activations (vit-tiny)."""

from __future__ import annotations

import pytest
import torch

from headstart.commands.pretrain import build_method, resolve
from headstart.errors import HeadstartError
from headstart.train.config import PretrainConfig
from headstart.train.module import Plan


def _grads_and_saved_bytes(method, images: torch.Tensor) -> tuple[list[torch.Tensor], int]:
    saved = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[0] += t.numel() * t.element_size()
        return t

    method.zero_grad(set_to_none=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        features = method.backbone(images)  # (B, 192)
    features.pow(2).mean().backward()
    return [p.grad.clone() for p in method.backbone.parameters()], saved[0]


def test_activation_checkpointing__same_gradients_from_far_fewer_saved_activations(fmnist_test):
    cfg = PretrainConfig(data="fashion-mnist", model="headstart/vit-tiny", image_size=28, seed=0)
    plan = Plan(total_steps=10, batch_size=32, image_size=28, lr=1e-3, weight_decay=0.0, channels_last=False)
    _, _, method_cfg = resolve(cfg, fmnist_test)
    plain = build_method(cfg, plan, method_cfg)
    checkpointed = build_method(cfg.model_copy(update={"activation_checkpointing": True}), plan, method_cfg)
    assert checkpointed.backbone.module.grad_checkpointing and not plain.backbone.module.grad_checkpointing
    images = fmnist_test.images[:32].float() / 255  # (32, 1, 28, 28) real images, fp32

    g_plain, bytes_plain = _grads_and_saved_bytes(plain.train(), images)
    g_ckpt, bytes_ckpt = _grads_and_saved_bytes(checkpointed.train(), images)
    for a, b in zip(g_plain, g_ckpt):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert bytes_ckpt < 0.2 * bytes_plain  # 6 blocks: only each block's input is kept (measured: 12%)


def test_activation_checkpointing__error_for_a_model_without_the_hook(fmnist_test):
    cfg = PretrainConfig(data="fashion-mnist", model="torchvision/resnet18", image_size=32,
                         activation_checkpointing=True)
    plan = Plan(total_steps=10, batch_size=32, image_size=32, lr=1e-3, weight_decay=0.0)
    with pytest.raises(HeadstartError, match="activation-checkpointing: torchvision/resnet18"):
        build_method(cfg, plan, resolve(cfg, fmnist_test)[2])
