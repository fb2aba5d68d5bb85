"""`lora`: low-rank adapters on the backbone's Linear and Conv2d layers, through `peft`.

Hu et al. 2022, "LoRA: Low-Rank Adaptation of Large Language Models" (arXiv:2106.09685):
W' = W + (alpha / r) B A with A (r x in), B (out x r), B initialised to zero, W frozen. Targets
per family: ViT attention `qkv`/`proj` and MLP `fc1`/`fc2` in every block; BERT encoders: the
attention projections of every layer (`query`/`key`/`value`/`attention.output.dense`, as the LoRA
paper adapts); Llama-style decoders: every linear layer of every block, attention
`q_proj`/`k_proj`/`v_proj`/`o_proj` and MLP `gate_proj`/`up_proj`/`down_proj` (Dettmers et al. 2023,
"QLoRA", arXiv:2305.14314: adapters on all block layers are what matches full fine-tuning of a
generative model; attention alone fell far short here, see bench/instruct.py); CNNs: the (non
depthwise) convolutions of the last half of the layer groups. The head trains fully, and so do the
transformer normalisation layers' scales and shifts (LayerNorm / RMSNorm: a few thousand numbers;
Zhao et al. 2023, "Tuning LayerNorm in Attention", arXiv:2312.11420). Without them a pretrained
decoder with tied embeddings cannot sharpen its output: its logits are the final RMSNorm's output
times the frozen embeddings, so their scale is fixed by a frozen norm weight; on gpt-mini's
instruction task, LoRA's training loss stalled at 3.1 nats with the right argmax at 5% probability
while full fine-tuning reached 0.34 (bench/instruct.py). BatchNorm layers keep their weights.

A causal LM (instruction tuning, alignment) also trains, by default (`--lora-tokens answers`), the
embedding rows of the tokens its training answers use: PEFT's trainable tokens, the output head
tied to them (its rows are the same tensor), so the answers' output vectors move as full
fine-tuning moves them, for a few thousand numbers (a small model ties a quarter of its weights
in that matrix, out of LoRA's reach). After training the adapters and rows are merged
(`merge_and_unload`), so the exported weights are plain and still tied.
"""

from __future__ import annotations

import logging
import re
import warnings

from torch import nn

from headstart.adapt.head import Classifier
from headstart.adapt.strategies.base import Context, Strategy
from headstart.errors import HeadstartError
from headstart.models.backbone import Backbone

log = logging.getLogger("headstart")
MAX_TOKEN_ROWS = 512  # answers using more distinct tokens (free text) train adapters only
VIT_TARGET = re.compile(r"(^|\.)blocks\.\d+\.(attn\.(qkv|proj)|mlp\.(fc1|fc2))$")
# text transformers: BERT's attention query/key/value/output; Llama's attention and MLP projections
TEXT_TARGET = re.compile(r"(^|\.)layers?\.\d+\.(attention\.(self\.(query|key|value)|output\.dense)"
                         r"|self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)$")


class LoRA(Strategy):
    name = "lora"
    base_lr = 2e-3
    scratch_lr = 2e-3

    def prepare(self, model: Classifier, ctx: Context) -> None:
        quiet_peft()
        from peft import LoraConfig, get_peft_model  # a dependency, imported here for start-up time
        targets = target_modules(model.backbone, self.cfg.lora_targets)
        alpha = self.cfg.lora_alpha if self.cfg.lora_alpha != "auto" else 2 * self.cfg.lora_rank
        tokens = token_rows(model, ctx.token_ids) if getattr(self.cfg, "lora_tokens", "none") == "answers" else {}
        config = LoraConfig(r=self.cfg.lora_rank, lora_alpha=alpha, target_modules=targets, lora_dropout=0.0,
                            trainable_token_indices=tokens or None)
        model.backbone.module = get_peft_model(model.backbone.module, config)
        if tokens:
            tie_head_rows(model, tokens)
        norms = train_norms(model.backbone.module)
        log.info("LoRA r=%d alpha=%s on %d modules, %d norm layers trained%s", self.cfg.lora_rank, alpha,
                 len(targets), norms, f", {len(next(iter(tokens.values())))} answer-token rows" if tokens else "")

    def lr_multipliers(self, model: Classifier) -> dict[int, float]:
        """LoRA+ (Hayou et al. 2024, arXiv:2402.12354): the B matrices learn `--lora-plus-ratio` times faster
        than the A matrices (B starts at zero, so with one rate its updates are too small to learn features
        efficiently in wide layers); 1: plain LoRA."""
        ratio = getattr(self.cfg, "lora_plus_ratio", 1.0)
        if ratio == 1.0:
            return {}
        return {id(p): ratio for n, p in model.backbone.module.named_parameters() if ".lora_B." in n}

    def finish(self, model: Classifier) -> None:
        merge(model.backbone)
        unwrap_head(model)


def quiet_peft() -> None:
    """Silence two warnings every peft run printed that say nothing to a headstart user: bitsandbytes (which
    peft imports when present) cannot fetch its optional CPU kernel from the hub, offline by design, and
    uses its own CPU path; peft reads a transformers property that transformers renamed."""
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r".*`is_gradient_checkpointing` is deprecated.*")


def train_norms(module: nn.Module) -> int:
    """Make the LayerNorm / RMSNorm parameters under `module` trainable; returns how many layers."""
    norms = [m for m in module.modules() if is_transformer_norm(m)]
    for m in norms:
        for p in m.parameters(recurse=False):
            p.requires_grad_(True)
    return len(norms)


def is_transformer_norm(m: nn.Module) -> bool:
    """A LayerNorm or RMSNorm: torch's, or a model's own class such as transformers' `LlamaRMSNorm`."""
    return type(m).__name__.endswith(("RMSNorm", "LayerNorm"))


def merge(backbone: Backbone) -> None:
    """Fold the adapters into the base weights and drop the peft wrapper (a no-op when unwrapped)."""
    if hasattr(backbone.module, "merge_and_unload"):
        backbone.module = backbone.module.merge_and_unload()


def token_rows(model: nn.Module, ids: tuple[int, ...]) -> dict[str, list[int]]:
    """PEFT's `trainable_token_indices` for `ids` in the input embedding of `model.backbone.module`:
    `{embedding's name: ids}`; empty without ids, for answers of more than `MAX_TOKEN_ROWS` distinct
    tokens (free text: nearly the whole matrix), or when the output head is not tied to that embedding
    (PEFT can hold rows of one matrix shared by both; an untied head keeps LoRA's reach)."""
    module, head = model.backbone.module, getattr(model, "head", None)
    embedding = module.get_input_embeddings() if hasattr(module, "get_input_embeddings") else None
    if not ids or embedding is None or getattr(head, "weight", None) is not embedding.weight:
        return {}
    rows = sorted(set(ids))
    if len(rows) > MAX_TOKEN_ROWS:
        log.info("LoRA: the answers use %d distinct tokens (> %d): no embedding rows trained", len(rows),
                 MAX_TOKEN_ROWS)
        return {}
    name = next(n for n, m in module.named_modules() if m is embedding)
    return {name: rows}


def tie_head_rows(model: nn.Module, tokens: dict[str, list[int]]) -> None:
    """Route the tied output head through the embedding's trainable rows (PEFT's tied trainable tokens)."""
    from peft.tuners.trainable_tokens.layer import TrainableTokensLayer

    wrapper = model.backbone.module.base_model.model.get_submodule(next(iter(tokens)))
    model.head = TrainableTokensLayer(model.head, "default", tied_adapter=wrapper.token_adapter)


def merge_token_rows(module: nn.Module) -> None:
    """Fold trainable token rows into their embedding and drop PEFT's wrapper (what `merge_and_unload`
    does for them, for a model it did not unload: qlora's)."""
    for name, m in list(module.named_modules()):
        if type(m).__name__ == "TrainableTokensWrapper":
            m.token_adapter.merge()
            parent, _, child = name.rpartition(".")
            setattr(module.get_submodule(parent) if parent else module, child, m.token_adapter.get_base_layer())


def unwrap_head(model: nn.Module) -> None:
    """The plain head again after merging: its tied weight already holds the merged rows."""
    head = getattr(model, "head", None)
    if type(head).__name__ == "TrainableTokensLayer":
        model.head = head.get_base_layer()


def target_modules(backbone: Backbone, wanted: list[str]) -> list[str]:
    """Full names of the modules to adapt: `wanted` suffixes, or the family's defaults for ["auto"]."""
    layers = {name: m for name, m in backbone.module.named_modules() if _adaptable(m)}
    if wanted != ["auto"]:
        names = [n for n in layers if any(n == w or n.endswith("." + w) for w in wanted)]
        if not names:
            raise HeadstartError(
                f"--lora-targets {' '.join(wanted)} match no Linear/Conv2d layer of {backbone.meta.name}",
                fix=f"use names such as {', '.join(list(layers)[-3:])}",
            )
        return names
    for pattern in (VIT_TARGET, TEXT_TARGET):
        named = [n for n in layers if pattern.search(n)]
        if named:
            return named
    return _late_convs(backbone, layers)


def _adaptable(m: nn.Module) -> bool:
    return isinstance(m, nn.Linear) or (isinstance(m, nn.Conv2d) and m.groups == 1)


def _late_convs(backbone: Backbone, layers: dict[str, nn.Module]) -> list[str]:
    """Adaptable layers whose weights sit in the last half of the backbone's layer groups."""
    groups = backbone.layer_groups()
    late = {id(p) for params in groups[len(groups) // 2 :] for p in params}
    names = [n for n, m in layers.items() if id(m.weight) in late]
    if not names:
        raise HeadstartError(
            f"found no Linear/Conv2d layer to adapt in {backbone.meta.name}",
            fix="name them with --lora-targets",
        )
    return names
