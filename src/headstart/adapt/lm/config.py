"""Options of `headstart align` and `headstart generate`: one definition for CLI and API.

`align` shares the strategy options of `finetune` (same names, same meaning); it imports no
torch, so `headstart --help` starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from headstart.adapt.config import STRATEGY_HELP
from headstart.config import Config
from headstart.train.config import Auto, TrainerOptions


class AlignConfig(TrainerOptions):
    """`headstart align`: preference optimisation (DPO / IPO) of a causal LM on chosen/rejected pairs."""

    from_: str = Field(description="start (and reference) model: an instruct run, a next-token run, or hf:<folder>")
    data: str = Field(description="preference pairs: JSONL with prompt, chosen, rejected; or fortunes-instruct"
                      "[-topic|-lang] (its preference view)")
    model: str = Field("auto", description="the model's name in the run folder; auto: the start's")
    method: Literal["dpo", "ipo"] = Field("dpo", description="dpo: -log sigmoid(beta h); ipo: (h - 1/(2 beta))^2 "
                                          "on per-token log-prob ratios")
    beta: float = Field(0.1, gt=0, description="KL weight: how far the policy may move from the reference")
    sft_weight: float = Field(0.0, ge=0, description="add this x the chosen answers' NLL per token (RPO; TRL's "
                              "loss_type [sigmoid, sft]): keeps the chosen answer likely; 0: the plain loss")
    rejected: Literal["data", "policy"] = Field("data", description="data: the pairs' own rejected answers; "
                                                "policy: the start model's greedy answer wherever it is not the "
                                                "chosen one (on-policy pairs), the data's elsewhere")
    labels: str | None = Field(None, description="pairs to train on: 600 or 10% (seeded); unset: all")
    skip_labels: str | None = Field(None, description="leave out the first 600 or 10% of the seeded order: with a "
                                    "named task, the prompts `finetune --labels` of the same --seed trained on, so "
                                    "alignment sees new prompts")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="share of the pairs held out for validation")
    strategy: str = Field("full", description=STRATEGY_HELP)
    lora_rank: int = Field(8, ge=1, description="LoRA rank r (--strategy lora/qlora)")
    lora_alpha: float | Auto = Field("auto", description="LoRA alpha; auto: 2 x rank")
    lora_plus_ratio: float = Field(1.0, gt=0, description="LoRA+: the B matrices' LR is this x the A "
                                   "matrices' (16 in Hayou et al. 2024); 1: plain LoRA")
    lora_tokens: Literal["answers", "none"] = Field(
        "answers", description="--task instruct / align with lora or qlora: also train the embedding rows of "
        "the tokens the training answers use (input and tied output; PEFT trainable tokens); none: adapters only")
    lora_targets: list[str] = Field(["auto"], description="LoRA module names or suffixes; auto: every "
                                    "attention and MLP projection of each block")
    freeze_blocks: int | None = Field(None, ge=0, description="--strategy freeze: first K layer groups frozen")
    unfreeze_every: int | None = Field(None, ge=1, description="--strategy freeze: unfreeze one more group every N "
                                       "epochs")
    backbone_lr_mult: float = Field(1.0, ge=0, description="backbone LR = this x head LR")
    layer_decay: float = Field(1.0, gt=0, le=1, description="layer-wise LR decay: group i of n gets decay^(n-i)")
    blend: float | Literal["sweep"] | None = Field(None, description="WiSE-FT between the start and the aligned "
                                                   "weights; sweep: pick on validation exact match")
    seq_len: int = Field(128, ge=8, le=512, description="longest chat in tokens (the prompt's start is cut first)")
    batch_size: int = Field(16, ge=1, description="pairs per step (global)")
    test_split: bool = Field(True, description="score the named set's test split at the end")
    forgetting_data: str | None = Field(None, description="unused for text: the pretraining run's own held-out "
                                        "windows are scored")


class GenerateConfig(Config):
    """`headstart generate`: text from a causal LM run (streamed), or a JSONL of prompts to a JSONL of outputs."""

    run: str = Field(description="a run folder with exported/hf/ (instruct, align, next-token) or hf:<folder>")
    prompt: str | None = Field(None, description="one prompt; the answer streams to the terminal")
    prompts: Path | None = Field(None, description="JSONL of prompts ({\"prompt\": ...} or {\"messages\": [...]})")
    out: Path | None = Field(None, description="--prompts: JSONL of {prompt, output} to write")
    chat: bool | Auto = Field("auto", description="wrap prompts in the tokenizer's chat template; auto: when it "
                              "has one")
    max_new_tokens: int = Field(64, ge=1, description="most tokens generated per prompt")
    max_prompt_tokens: int | Auto = Field("auto", description="a longer prompt keeps its last this many tokens; "
                                          "auto: as the run was trained (its prompt_tokens), else whole; 0: whole")
    temperature: float = Field(0.0, ge=0, description="0: greedy; else sampling temperature")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling: smallest set of tokens with this mass")
    top_k: int = Field(0, ge=0, description="sample among the k most likely tokens (0: all)")
    stop: list[str] = Field([], description="stop when the output ends with one of these strings")
    batch_size: int = Field(16, ge=1, description="--prompts: prompts generated together")
    seed: int = Field(0, description="sampling seed")
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = Field("auto", description="device type")
