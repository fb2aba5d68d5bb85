"""Options of `headstart finetune`, `evaluate` and `predict`: one definition for CLI and API.

Config modules import no torch, so `headstart --help` starts fast. `"auto"` values are resolved
in `headstart.adapt.resolve` and the resolved config is saved in the run folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from headstart.config import Config
from headstart.models.family import ModelNameOrAuto
from headstart.train.config import Auto, TrainerOptions

STRATEGY_HELP = ("linear | full | lp-ft | lora | qlora | freeze; auto: full from scratch, else lp-ft "
                 "(--task instruct: full)")


class FinetuneConfig(TrainerOptions):
    """`headstart finetune`: a classifier from a pretrained (or random) backbone and few labels."""

    from_: str = Field(description="start from: scratch, a headstart run folder, or a weights file")
    allow_partial: bool = Field(False, description="--from weights that do not cover the model: load the tensors "
                                "that fit and warn with the counts (else refused)")
    model: ModelNameOrAuto = Field("auto", description="backbone <package>/<name>; auto: the run's model")
    data: str = Field(description="labeled images: class sub-folders, IDX .gz, or fashion-mnist / mnist; "
                      "text: fortunes-topic, class sub-folders of .txt, or CSV/JSONL with text,label")
    task: Literal["classify", "detect", "segment", "instruct"] = Field(
        "classify", description="classify; detect: boxes (YOLO data.yaml or COCO .json); segment: label maps "
        "(images/ + masks/, or COCO .json); instruct: a causal LM on JSONL prompt/response or messages "
        "(or fortunes-instruct), loss on the answers"
    )
    labels: str | None = Field(None, description="label budget: 1% or 600 (stratified, seeded); unset: all")
    per_class: int | None = Field(None, ge=1, description="labels per class (instead of --labels)")
    indices: Path | None = Field(
        None, description="file of training-split indices to label (one a line, or a JSON list), "
        "instead of --labels; e.g. the picks of `headstart select`"
    )
    val_fraction: float = Field(
        0.1, gt=0, lt=1, description="share of the labeled pool held out for validation"
    )
    strategy: str = Field("auto", description=STRATEGY_HELP)
    lora_rank: int = Field(8, ge=1, description="LoRA rank r (--strategy lora)")
    lora_alpha: float | Auto = Field("auto", description="LoRA alpha; auto: 2 x rank")
    lora_plus_ratio: float = Field(1.0, gt=0, description="LoRA+: the B matrices' LR is this x the A "
                                   "matrices' (16 in Hayou et al. 2024); 1: plain LoRA")
    lora_tokens: Literal["answers", "none"] = Field(
        "answers", description="--task instruct / align with lora or qlora: also train the embedding rows of "
        "the tokens the training answers use (input and tied output; PEFT trainable tokens); none: adapters only")
    lora_targets: list[str] = Field(
        ["auto"],
        description="LoRA module names or suffixes; auto: ViT qkv/proj/fc1/fc2, "
        "CNN convs of the last half of the stages, BERT attention projections, every block linear of a "
        "Llama-style decoder",
    )
    freeze_blocks: int | None = Field(
        None, ge=0, description="--strategy freeze: first K layer groups frozen; unset: half of them"
    )
    unfreeze_every: int | None = Field(
        None,
        ge=1,
        description="--strategy freeze: unfreeze one more group every "
        "N epochs, from the top (gradual unfreezing)",
    )
    backbone_lr_mult: float = Field(1.0, ge=0, description="backbone LR = this x head LR")
    layer_decay: float = Field(
        1.0, gt=0, le=1, description="layer-wise LR decay: group i of n gets decay^(n-i)"
    )
    blend: float | Literal["sweep"] | None = Field(
        None,
        description="WiSE-FT: backbone = (1-a) start + a tuned; "
        "sweep: pick a in {0,.25,.5,.75,1} on validation",
    )
    balance: Literal["none", "sampler", "loss"] = Field(
        "none", description="class balance: weighted sampling or loss weights"
    )
    early_stopping: int | None = Field(
        None,
        ge=1,
        description="stop after N epochs without a better validation accuracy and keep the best weights",
    )
    label_smoothing: float = Field(0.1, ge=0, lt=1, description="cross-entropy label smoothing")
    self_train: int = Field(
        0, ge=0, description="self-training rounds: the model labels the unlabeled images, its most "
        "confident labels join the labeled ones, and fine-tuning goes on (0: off)"
    )
    pseudo_per_class: int = Field(1000, ge=1, description="--self-train: pseudo-labels kept per class and round")
    unlabeled_data: str | None = Field(
        None, description="--self-train / --semi: unlabeled images; unset: the rest of --data's training "
        "split"
    )
    semi: Literal["none", "fixmatch", "flexmatch", "freematch"] = Field(
        "none", description="semi-supervised fine-tuning on the unlabeled images: FixMatch consistency "
        "with a fixed, class-wise curriculum (FlexMatch) or self-adaptive (FreeMatch) confidence threshold"
    )
    semi_ratio: int = Field(2, ge=1, description="--semi: unlabeled images per labeled one in a step (mu)")
    semi_threshold: float = Field(
        0.95, gt=0, le=1, description="--semi: pseudo-label confidence threshold (flexmatch: its ceiling; "
        "freematch sets its own)"
    )
    semi_weight: float = Field(1.0, ge=0, description="--semi: weight of the unlabeled loss (lambda_u)")
    semi_align: bool = Field(
        False, description="--semi: align pseudo-label class shares to the labeled ones (distribution "
        "alignment)"
    )
    image_size: int | Auto = Field(
        "auto", description="input side; auto: the run's, else the data's (32-224 for library models)"
    )
    tokenizer: Path | None = Field(
        None, description="text: a local tokenizer folder; unset: the run's (--from a run), else one trained "
        "on the texts of --data's training split (--from scratch)"
    )
    seq_len: int = Field(128, ge=8, le=512, description="text: longest sequence of tokens read per text")
    test_split: bool = Field(
        True, description="evaluate on the test split at the end (named sets; else --test-data)"
    )
    test_data: str | None = Field(None, description="labeled test images when --data has no test split")
    forgetting_data: str | None = Field(
        None,
        description="labeled data for the forgetting check; unset: the "
        "pretraining data's test split when it has one",
    )
    knn_k: int = Field(20, ge=1, description="neighbours for the forgetting kNN")
    batch_size: int = Field(64, ge=2, description="global batch size (clipped to the training set)")
    on_bad_image: Literal["skip", "fail"] = Field(
        "skip", description="skip unreadable images with a warning, or stop"
    )


class EvaluateConfig(Config):
    """`headstart evaluate`: kNN + linear probe for a pretraining run, accuracy for a fine-tuned one."""

    run: Path = Field(description="a headstart run folder (pretrain or finetune)")
    data: str = Field(description="labeled images: fashion-mnist, an IDX folder, or class sub-folders")
    knn_k: int = Field(20, ge=1, description="neighbours for kNN accuracy")
    labels: str | None = Field(
        None, description="use this stratified share of the training split (1% or 600)"
    )
    test_labels: str | None = Field(None, description="use this stratified share of the test split")
    image_size: int | None = Field(None, ge=1, description="input side; unset: the run's")
    batch_size: int = Field(256, ge=1, description="images per forward pass")
    seed: int = Field(0, description="seed of the subsets and the probe's validation split")
    on_bad_image: Literal["skip", "fail"] = Field(
        "skip", description="skip unreadable images with a warning, or stop"
    )
    progress: bool = Field(True, description="show a progress bar")


class PredictConfig(Config):
    """`headstart predict`: class, confidence and top-3 for every image, as CSV."""

    run: Path = Field(description="a fine-tuned headstart run folder")
    data: str = Field(description="images: a folder (any layout), an IDX file, or fashion-mnist[:test]")
    out: Path = Field(Path("predictions.csv"), description="CSV file to write")
    batch_size: int = Field(256, ge=1, description="images per forward pass")
    top: int = Field(3, ge=1, description="classes listed per image")
    draw: Path | None = Field(
        None, description="detect/segment runs: also write each image with its boxes or mask drawn to this folder"
    )
    on_bad_image: Literal["skip", "fail"] = Field(
        "skip", description="skip unreadable images with a warning, or stop"
    )
    progress: bool = Field(True, description="show a progress bar")
