"""QLoRA on CPU through bitsandbytes: the blocks' Linear layers held in 4-bit NF4, LoRA adapters train,
the merge gives plain Linear layers computing what the adapted 4-bit model computed."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from headstart.adapt.config import FinetuneConfig
from headstart.adapt.strategies import strategy_class
from headstart.adapt.strategies.base import Context, count_params
from headstart.adapt.strategies.qlora import bitsandbytes, quantize_blocks
from tests.adapt.lm_helpers import tiny_lm

CFG = FinetuneConfig(from_="scratch", data="fortunes-instruct", task="instruct", lora_rank=4, lora_alpha=8.0)


def ids():
    return torch.randint(5, 900, (2, 16), generator=torch.Generator().manual_seed(1))


def test_quantize_blocks__nf4_weights_close_to_float():
    model = tiny_lm().eval()
    with torch.no_grad():
        before = model(ids())
    assert quantize_blocks(model.backbone) == 2 * 7  # q, k, v, o, gate, up, down in each of 2 layers
    w = model.backbone.module.layers[0].self_attn.q_proj.weight
    assert w.dtype == torch.uint8 and w.numel() == 64 * 64 // 2  # two 4-bit values a byte
    with torch.no_grad():
        after = model(ids())
    rel = ((after - before).abs().mean() / before.abs().mean()).item()
    assert 1e-4 < rel < 0.15  # quantised: not the same, not far


def test_qlora__adapters_train_and_merge_into_plain_float_layers():
    bnb = bitsandbytes()
    model = tiny_lm()
    strategy = strategy_class("qlora")(CFG)
    strategy.prepare(model, Context(CFG, None, None, 0))
    trainable, total = count_params(model)
    assert 0 < trainable and trainable / total < 0.10  # adapters only: the tied embedding/head is frozen
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x = ids()
    losses = []
    for _ in range(5):
        loss = nn.functional.cross_entropy(model(x)[:, :-1].flatten(0, 1), x[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    model.eval()
    with torch.no_grad():
        adapted = model(x)
    strategy.finish(model)
    layers = [m for m in model.backbone.module.modules() if isinstance(m, nn.Linear)]
    assert len(layers) == 14 and not any(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())
    assert type(model.backbone.module).__name__ == "LlamaModel"  # the peft wrapper dropped
    with torch.no_grad():
        merged = model(x)
    # the 4-bit layers' eval-mode CPU kernel rounds through bf16: agreement to that precision
    assert (merged - adapted).abs().max().item() < 5e-3


def test_quantize_blocks__a_net_without_transformer_blocks_is_one_line():
    import pytest

    from headstart.errors import HeadstartError
    from headstart.models.factory import create_backbone

    with pytest.raises(HeadstartError, match="found no Linear layer in the transformer blocks"):
        quantize_blocks(create_backbone("headstart/resnet-mini"))


@pytest.mark.parametrize("name", ["lora", "qlora"])
def test_lora_tokens__answer_rows_train_tied_to_the_head_and_merge_into_the_embedding(name):
    model = tiny_lm()
    emb = model.backbone.module.get_input_embeddings().weight
    start = emb.detach().clone()
    rows = (7, 11, 13)
    strategy = strategy_class(name)(CFG)
    strategy.prepare(model, Context(CFG, None, None, 0, token_ids=rows))
    trainable = count_params(model)[0]
    plain = tiny_lm()
    strategy_class(name)(CFG.model_copy(update={"lora_tokens": "none"})).prepare(plain, Context(CFG, None, None, 0,
                                                                                            token_ids=rows))
    assert trainable - count_params(plain)[0] == len(rows) * emb.shape[1]  # the rows' numbers, once
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x = ids()
    for _ in range(3):  # push the answer tokens' logits up: only the output side can
        loss = -model(x)[..., list(rows)].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        adapted = model(x)
    strategy.finish(model)
    assert type(model.head) is nn.Linear and model.head.weight is model.backbone.module.get_input_embeddings().weight
    merged_emb = model.head.weight.detach()
    changed = (merged_emb - start).abs().sum(1).nonzero().flatten().tolist()
    assert changed == list(rows)  # those rows moved, no other
    with torch.no_grad():
        merged = model(x)
    assert (merged - adapted).abs().max().item() < (5e-3 if name == "qlora" else 1e-5)
