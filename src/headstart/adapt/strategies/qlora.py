"""`qlora`: LoRA adapters over a frozen base whose Linear layers are held in 4-bit NF4.

Dettmers et al. 2023, "QLoRA: Efficient Finetuning of Quantized LLMs" (arXiv:2305.14314): every
Linear layer of the backbone's transformer blocks is quantised to 4-bit NormalFloat with double
quantisation of the scales (`bitsandbytes.nn.Linear4bit`), frozen; LoRA adapters (`lora`'s
targets, rank and alpha, through `peft`) train in float on top; embeddings and norms stay float.

bitsandbytes >= 0.49 runs 4-bit layers on CPUs as well as CUDA GPUs (dequantise, then a float
matmul), so the same strategy runs on a laptop and on a GPU (found here: bitsandbytes 0.50 on CPU
works; torchao 0.18 has no NF4 tensor left to build on). `finish` merges: each adapted layer
becomes a plain Linear holding dequantised base + (alpha / r) B A, every other 4-bit layer its
dequantised weight, so the exported model is a plain float checkpoint (the weights it trained
against, not the original float ones).
"""

from __future__ import annotations

import logging
import re

import torch
from torch import nn

from headstart.adapt.head import Classifier
from headstart.adapt.strategies.base import Context
from headstart.adapt.strategies.lora import LoRA, merge_token_rows, quiet_peft, unwrap_head
from headstart.errors import HeadstartError
from headstart.models.backbone import Backbone

log = logging.getLogger("headstart")
BLOCK_LINEAR = re.compile(r"(^|\.)(layers?|h|blocks)\.\d+\.")  # a Linear inside a transformer block
MIN_BNB = (0, 49)


class QLoRA(LoRA):
    name = "qlora"

    def prepare(self, model: Classifier, ctx: Context) -> None:
        count = quantize_blocks(model.backbone)
        log.info("QLoRA: %d Linear layers held in 4-bit NF4", count)
        super().prepare(model, ctx)

    def finish(self, model: Classifier) -> None:
        dequantize_merge(model.backbone)
        merge_token_rows(model.backbone.module)
        unwrap_head(model)


def bitsandbytes():
    """The `bitsandbytes` module, or one line saying what to install."""
    quiet_peft()
    try:
        import bitsandbytes as bnb  # an optional dependency: the `llm` extra
    except ModuleNotFoundError:
        raise HeadstartError("--strategy qlora needs bitsandbytes",
                             fix="pip install 'bitsandbytes>=0.49' (or pip install 'headstart[llm]')") from None
    version = tuple(int(x) for x in re.findall(r"\d+", bnb.__version__)[:2])
    if version < MIN_BNB and not torch.cuda.is_available():
        raise HeadstartError(f"bitsandbytes {bnb.__version__} has no CPU 4-bit path",
                             fix="pip install -U 'bitsandbytes>=0.49', or run on a CUDA GPU")
    return bnb


def quantize_blocks(backbone: Backbone) -> int:
    """Replace every Linear inside a transformer block of `backbone.module` by a frozen NF4 layer."""
    bnb = bitsandbytes()
    names = [n for n, m in backbone.module.named_modules() if type(m) is nn.Linear and BLOCK_LINEAR.search(n)]
    if not names:
        raise HeadstartError(f"found no Linear layer in the transformer blocks of {backbone.meta.name}",
                             fix="--strategy qlora quantises transformer blocks; use --strategy lora")
    device = next(backbone.module.parameters()).device
    for name in names:
        parent, _, child = name.rpartition(".")
        owner = backbone.module.get_submodule(parent) if parent else backbone.module
        linear: nn.Linear = getattr(owner, child)
        q = bnb.nn.Linear4bit(linear.in_features, linear.out_features, bias=linear.bias is not None,
                              compute_dtype=linear.weight.dtype, compress_statistics=True, quant_type="nf4")
        q.weight = bnb.nn.Params4bit(linear.weight.data.cpu(), requires_grad=False, compress_statistics=True,
                                     quant_type="nf4")
        if linear.bias is not None:
            q.bias = nn.Parameter(linear.bias.data.clone(), requires_grad=False)
        setattr(owner, child, q.to(device))  # moving it to a device quantises the weight
    return len(names)


def dequantize_merge(backbone: Backbone) -> None:
    """Plain float Linear layers for the adapted (base + LoRA delta) and the 4-bit ones; the peft
    wrapper dropped."""
    bnb = bitsandbytes()
    module = backbone.module
    base = module.get_base_model() if hasattr(module, "get_base_model") else module
    done: list[str] = []
    for name, m in list(base.named_modules()):
        layer = m.base_layer if hasattr(m, "base_layer") and hasattr(m, "lora_A") else m
        if not isinstance(layer, bnb.nn.Linear4bit) or any(name.startswith(d + ".") for d in done):
            continue  # a LoRA wrapper's own base layer was merged with it
        done.append(name)
        w = dequantized(layer)
        if layer is not m:
            w = w + sum(m.get_delta_weight(a).float() for a in m.active_adapters)
        plain = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
        plain.weight.data.copy_(w)
        if layer.bias is not None:
            plain.bias.data.copy_(layer.bias.data)
        parent, _, child = name.rpartition(".")
        setattr(base.get_submodule(parent) if parent else base, child, plain.to(w.device))
    backbone.module = base


@torch.no_grad()
def dequantized(layer: nn.Module) -> torch.Tensor:
    """The float weight `(out, in)` a 4-bit layer computes with, read off the layer itself (identity in,
    bias out): bitsandbytes' CPU path repacks the weight for its kernel after an eval-mode forward, so
    the stored bytes are not always `dequantize_4bit`'s input format."""
    eye = torch.eye(layer.in_features, dtype=torch.float32, device=layer.weight.device)
    out = layer(eye).float()  # (in, out) = I W^T + b
    if layer.bias is not None:
        out = out - layer.bias.float()
    return out.t().contiguous()
