"""MoCo v3: the contrastive term, the momentum teacher and its cosine schedule, and a ViT backbone."""

from __future__ import annotations

import math

import torch
from method_helpers import build, fashion_train, fixed_views

from headstart.methods.mocov3 import contrastive


def test_contrastive__equals_the_closed_form_scaled_by_2t():
    eye = torch.eye(8)
    t = 0.2
    expected = 2 * t * math.log(1 + 3 * math.exp(-1 / t))  # 4 orthogonal keys, each query its own key
    assert abs(contrastive(eye[:4], eye[:4], t).item() - expected) < 1e-6
    assert abs(contrastive(3 * eye[:4], eye[:4], t).item() - expected) < 1e-6  # scale-free (normalised)


def test_teacher__is_an_ema_of_the_student_with_cosine_momentum():
    method = build("mocov3", steps=10)
    assert method.momentum[0] == 0.99 and method.momentum[-1] == 1.0
    assert all(a <= b for a, b in zip(method.momentum, method.momentum[1:]))
    with torch.no_grad():
        for p in method.projection.parameters():
            p.add_(1.0)
    teacher = [p.clone() for p in method.teacher_projection.parameters()]
    student = [p.clone() for p in method.projection.parameters()]
    method.after_optimizer_step()  # step 0 outside a trainer: momentum 0.99
    for t_new, t_old, s in zip(method.teacher_projection.parameters(), teacher, student):
        torch.testing.assert_close(t_new, 0.99 * t_old + 0.01 * s)


def test_vit_tiny__loss_finite_and_gradients_reach_every_block():
    method = build("mocov3", model="headstart/vit-tiny")
    loss, _ = method.loss(fixed_views(method, fashion_train(16).images))
    loss.backward()
    assert math.isfinite(loss.item())
    for i, block in enumerate(method.backbone.module.blocks):
        assert block.attn.qkv.weight.grad.abs().sum() > 0, f"no gradient in block {i}"
    assert all(p.grad is None for p in method.teacher_backbone.parameters())
