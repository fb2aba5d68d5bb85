"""LoRA through peft: target choice per family, trainable share, and the merged export loading
strictly into the plain library model with the same logits as the adapted (peft) model."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from headstart.adapt.config import FinetuneConfig
from headstart.adapt.head import Classifier, save_classifier
from headstart.adapt.strategies.base import Context, count_params
from headstart.adapt.strategies.lora import LoRA, target_modules
from headstart.errors import HeadstartError
from headstart.models.factory import create_backbone


def lora_cfg(**kw) -> FinetuneConfig:
    return FinetuneConfig(
        from_="scratch", model="headstart/resnet-mini", data="fashion-mnist", strategy="lora", **kw
    )


def adapted(name: str, size: int, rank: int = 4) -> Classifier:
    """A classifier with LoRA adapters whose B matrices are random (so the merge changes weights)."""
    torch.manual_seed(0)
    model = Classifier(create_backbone(name, image_size=size), [str(i) for i in range(5)])
    LoRA(lora_cfg(lora_rank=rank)).prepare(model, Context(lora_cfg(), None, None, size))  # type: ignore[arg-type]
    with torch.no_grad():
        for n, p in model.backbone.module.named_parameters():
            if "lora_B" in n:
                p.normal_(std=0.05)
    return model.eval()


def normalize(x: torch.Tensor, mean, std) -> torch.Tensor:
    x = x.expand(-1, 3, -1, -1)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def test_lora__merged_export_loads_strictly_into_timm_with_same_logits(tmp_path, fmnist_test):
    import timm

    model = adapted("timm/tf_efficientnet_lite0", 32)
    trainable, total = count_params(model)
    assert 0 < trainable / total < 0.2
    x = fmnist_test.images[:8].float() / 255
    x = torch.nn.functional.interpolate(x, size=32, mode="bilinear")
    with torch.no_grad():
        peft_logits = model(x)
        with model.backbone.module.disable_adapter():
            base_logits = model(x)
    assert (peft_logits - base_logits).abs().max() > 1e-3  # the adapters change the outputs
    LoRA(lora_cfg()).finish(model)
    assert not any("lora" in k for k in model.backbone.module.state_dict())
    save_classifier(model, tmp_path / "model.safetensors", 32)
    plain = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=5).eval()
    plain.load_state_dict(load_file(str(tmp_path / "model.safetensors")), strict=True)
    meta = model.backbone.meta
    with torch.no_grad():
        plain_logits = plain(normalize(x, meta.mean, meta.std))
    torch.testing.assert_close(plain_logits, peft_logits, atol=1e-4, rtol=1e-4)


def test_lora__merged_torchvision_export_loads_strictly(tmp_path, fmnist_test):
    import torchvision

    model = adapted("torchvision/resnet18", 32)
    x = torch.nn.functional.interpolate(fmnist_test.images[:4].float() / 255, size=32, mode="bilinear")
    with torch.no_grad():
        peft_logits = model(x)
    LoRA(lora_cfg()).finish(model)
    save_classifier(model, tmp_path / "model.safetensors", 32)
    plain = torchvision.models.resnet18(num_classes=5).eval()
    plain.load_state_dict(load_file(str(tmp_path / "model.safetensors")), strict=True)
    meta = model.backbone.meta
    with torch.no_grad():
        torch.testing.assert_close(
            plain(normalize(x, meta.mean, meta.std)), peft_logits, atol=1e-4, rtol=1e-4
        )


def test_lora__vit_targets_attention_and_mlp_only():
    backbone = create_backbone("headstart/vit-tiny", image_size=28)
    names = target_modules(backbone, ["auto"])
    assert len(names) == 6 * 4  # qkv, proj, fc1, fc2 in each of 6 blocks
    assert all(n.split(".")[-1] in ("qkv", "proj", "fc1", "fc2") and n.startswith("blocks.") for n in names)
    assert "patch_embed.proj" not in names


def test_lora__decoder_targets_every_block_linear_encoder_attention_only():
    pytest.importorskip("transformers")
    from headstart.models.text import create_text_backbone

    gpt = target_modules(create_text_backbone("headstart/gpt-mini"), ["auto"])
    layers = create_text_backbone("headstart/gpt-mini").module.config.num_hidden_layers
    kinds = {n.split(".")[-1] for n in gpt}
    assert kinds == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert len(gpt) == 7 * layers and not any("embed" in n for n in gpt)
    bert = target_modules(create_text_backbone("headstart/bert-mini"), ["auto"])
    assert {n.split(".")[-1] for n in bert} == {"query", "key", "value", "dense"}
    assert all(".attention." in n for n in bert)


def test_lora__cnn_targets_late_convs_not_depthwise():
    backbone = create_backbone("timm/tf_efficientnet_lite0", image_size=32)
    names = target_modules(backbone, ["auto"])
    modules = dict(backbone.module.named_modules())
    assert names and all(modules[n].groups == 1 for n in names)
    assert not any(n.startswith(("conv_stem", "blocks.0.", "blocks.1.", "blocks.2.")) for n in names)
    assert any(n.startswith("blocks.6.") for n in names)


def test_lora__explicit_targets_and_error_for_unknown():
    backbone = create_backbone("headstart/resnet-mini")
    assert target_modules(backbone, ["conv2"]) == [f"stages.{i}.0.conv2" for i in range(4)]
    with pytest.raises(HeadstartError, match="match no Linear/Conv2d"):
        target_modules(backbone, ["nonexistent"])


def test_lora__trains_transformer_norms_and_merges_them_into_the_plain_model():
    """A decoder's RMSNorm scales train with the adapters (they set its output's confidence); every other
    base weight stays frozen, and the merged model keeps the trained scales."""
    pytest.importorskip("transformers")
    from tests.adapt.lm_helpers import tiny_lm

    model = tiny_lm()
    LoRA(lora_cfg(lora_rank=4)).prepare(model, Context(lora_cfg(), None, None, 0))  # type: ignore[arg-type]
    trainable = {n for n, p in model.backbone.module.named_parameters() if p.requires_grad}
    norms = {n for n in trainable if "norm" in n}
    assert len(norms) == 2 * 2 + 1  # input and post-attention norm of 2 layers, the final norm
    assert trainable - norms and all("lora_" in n for n in trainable - norms)

    def final_norm(named):
        return next(p for n, p in named if n.split(".")[-2:] == ["norm", "weight"])

    final = final_norm(model.backbone.module.named_parameters())
    with torch.no_grad():
        final.mul_(3.0)
    LoRA(lora_cfg()).finish(model)  # merge
    assert not any("lora_" in n for n, _ in model.backbone.module.named_parameters())
    assert torch.allclose(final_norm(model.backbone.module.named_parameters()), torch.full_like(final, 3.0))


def test_lora_plus__b_matrices_learn_ratio_times_faster_than_a():
    from headstart.adapt.groups import finetune_param_groups

    model = Classifier(create_backbone("headstart/resnet-mini"), ["a", "b"])
    strategy = LoRA(lora_cfg(lora_rank=4, lora_plus_ratio=16))
    strategy.prepare(model, Context(lora_cfg(), None, None, 28))  # type: ignore[arg-type]
    groups = finetune_param_groups(model, weight_decay=0.05, layer_decay=0.5,
                                   multipliers=strategy.lr_multipliers(model))
    scale_of = {id(p): g["lr_scale"] for g in groups for p in g["params"]}
    assert len(scale_of) == sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    named = dict(model.backbone.module.named_parameters())
    pairs = [(named[n], named[n.replace(".lora_B.", ".lora_A.")]) for n in named if ".lora_B." in n]
    assert pairs and all(scale_of[id(b)] == pytest.approx(16 * scale_of[id(a)]) for b, a in pairs)
    assert LoRA(lora_cfg(lora_rank=4)).lr_multipliers(model) == {}  # ratio 1: plain LoRA
