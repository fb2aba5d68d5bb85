"""Options of `headstart study` and `headstart demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from headstart.config import Config
from headstart.models.family import ModelName
from headstart.run import RunOptions


class StudyConfig(RunOptions):
    """`headstart study`: how much head start does pretraining on your data give, at each label budget?"""

    data: str = Field(description="unlabeled images to pretrain on (folder, IDX, or fashion-mnist)")
    labeled: str | None = Field(None, description="labeled pool for fine-tuning; unset: --data, if it has labels "
                                "(detect / segment: a YOLO folder, a COCO .json or images/ + masks/)")
    test: str | None = Field(None, description="held-out labeled test set; unset: the data's test split "
                             "(detect / segment: always the labeled data's test split)")
    task: Literal["classify", "detect", "segment"] = Field(
        "classify", description="what the cells fine-tune for: classify (accuracy), detect (mAP@0.5:0.95) or "
        "segment (mIoU)")
    model: ModelName = Field("headstart/resnet-mini", description="backbone, <package>/<name>")
    method: str = Field("simclr", description="pretraining method")
    from_: str | None = Field(None, description="reuse a finished pretraining run instead of pretraining")
    baseline_weights: str | None = Field(None, description="also fine-tune from these weights (e.g. ImageNet)")
    baseline_model: ModelName | None = Field(None, description="model of --baseline-weights; unset: --model")
    budgets: list[str] = Field(["10/class", "1%", "10%", "100%"], description="label budgets: N/class, P%, or N "
                               "(detect / segment: P% or N images; unset there: 10%, 100%)")
    seeds: int = Field(3, ge=1, description="seeds per cell (confidence intervals over them)")
    strategies: list[str] = Field(["linear", "lp-ft"], description="fine-tuning strategies from pretrained weights "
                                  "(from scratch always trains fully)")
    pretrain_steps: int | None = Field(None, ge=1, description="pretraining steps; unset: pretrain's own")
    pretrain_args: dict[str, Any] = Field({}, description="more pretrain options, KEY=VALUE")
    finetune_steps: int | None = Field(None, ge=1, description="fine-tuning steps per cell; unset: auto")
    finetune_steps_by_budget: dict[str, int] = Field({}, description="fine-tuning steps per cell of a budget, "
                                                     "BUDGET=STEPS (e.g. 10%=600); others: --finetune-steps")
    finetune_args: dict[str, Any] = Field({}, description="more finetune options, KEY=VALUE")
    semi: Literal["none", "fixmatch", "flexmatch", "freematch"] = Field(
        "none", description="also fine-tune every start with this --semi method on the unlabeled rest of the pool: "
        "separates what pretraining adds from what the unlabeled pool adds at fine-tune time")
    answer_budget: str | None = Field(None, description="the budget the answer line is about, fixed before the run "
                                      "(e.g. 1%); unset: the one validation accuracy picks")
    keep_checkpoints: bool = Field(False, description="keep each finished fine-tuning cell's checkpoints "
                                   "(off: only its figures and results stay, the run folder stays small)")
    image_size: int | str = Field("auto", description="input side (auto: the data's)")
    batch_size: int = Field(256, ge=2, description="pretraining batch size")


class DemoConfig(Config):
    """`headstart demo`: the head-start study on Fashion-MNIST at 1% of the labels, its plan fixed before it runs
    and sized from a timing of this machine to finish in about --minutes (set-up excluded)."""

    out: Path = Field(Path("runs/demo"), description="run folder")
    resume: bool = Field(True, description="reuse the plan and every finished part of an earlier demo "
                         "in --out")
    overwrite: bool = Field(False, description="start over in --out")
    minutes: float = Field(13.0, gt=0, description="rough time budget; sets pretraining and fine-tuning lengths")
    text: bool = Field(False, description="the text study instead: bert-mini MLM on the fortunes corpus, fine-tuned "
                       "on fortunes-topic, against TF-IDF + logistic regression")
    seed: int = Field(0, description="first seed")
    progress: bool = Field(True, description="show progress")
