"""CPU attention path: explicit GEMMs under bf16 autocast, the fused kernel otherwise; same numbers."""

from __future__ import annotations

import torch

from headstart.models.factory import create_backbone


def _attention_modules(backbone):
    return [m for m in backbone.modules() if hasattr(m, "fused_attn")]


def _views(fmnist_test):
    return fmnist_test.images[:32].float().div(255)  # (32, 1, 28, 28) real images


def test_vit__explicit_attention_under_bf16_autocast_on_cpu(fmnist_test):
    b = create_backbone("headstart/vit-tiny", image_size=28).eval()
    attn = _attention_modules(b)
    assert len(attn) == 6 and all(m._headstart_fused_default for m in attn)
    x = _views(fmnist_test)
    with torch.no_grad():
        b(x)
        assert all(m.fused_attn for m in attn)          # fp32: the fused kernel
        with torch.autocast("cpu", dtype=torch.bfloat16):
            b(x)
        assert not any(m.fused_attn for m in attn)      # bf16 on a CPU: explicit matmuls


def test_vit__explicit_attention__same_features_and_gradients(fmnist_test, monkeypatch):
    from headstart.models import attention

    torch.manual_seed(0)
    b = create_backbone("headstart/vit-tiny", image_size=28)
    x = _views(fmnist_test)
    outs, grads = [], []
    for explicit in (False, True):
        monkeypatch.setattr(attention, "explicit_pays", lambda t, e=explicit: e)
        b.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = b(x).float()
        y.pow(2).mean().backward()
        assert all(m.fused_attn is not explicit for m in _attention_modules(b))
        outs.append(y.detach())
        grads.append(b.module.blocks[0].attn.qkv.weight.grad.clone())
    scale = outs[0].abs().mean()
    assert (outs[0] - outs[1]).abs().mean() < 0.02 * scale  # bf16 rounding only
    cos = torch.nn.functional.cosine_similarity(grads[0].flatten(), grads[1].flatten(), dim=0)
    assert cos > 0.99
