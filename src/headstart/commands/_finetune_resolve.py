"""Where fine-tuning starts (`--from`) and every `"auto"` value, resolved in one place.

Length: small labeled sets need many passes, large ones few. `--epochs auto` gives
`clip(120_000 / n_train, 10, 300)` passes, so 540 training images (600 labels less the
validation split) at batch 64 make ~1,800 optimizer steps, and 54,000 images make 10 epochs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from headstart.adapt.config import FinetuneConfig
from headstart.adapt.data import LabeledSplits
from headstart.adapt.strategies import strategy_class
from headstart.commands.pretrain import auto_image_size
from headstart.errors import HeadstartError
from headstart.run import Run
from headstart.train.trainer import resolve_precision

PASSES_BUDGET = 120_000  # image passes of an auto-length run (within the epoch bounds below)
EPOCH_BOUNDS = (10, 300)
WEIGHT_DECAY = 0.05  # AdamW, decoupled, on weights only


@dataclass(frozen=True)
class Init:
    """The start of fine-tuning: random weights, a headstart run folder, or a weights file."""

    kind: str  # "scratch" | "run" | "weights"
    model: str
    weights: Path | None = None  # what `create_backbone(weights=...)` loads
    pretrain_data: str | None = None  # the pretraining run's data (default forgetting data)
    image_size: int | None = None  # the run's input side

    @property
    def scratch(self) -> bool:
        return self.kind == "scratch"


def refuse_classify_only(cfg: FinetuneConfig, classify_only: dict[str, object]) -> None:
    """Options that only `--task classify` has, given to another task: refused in one line, not ignored.
    `classify_only`: option name -> its default (set to anything else: given)."""
    given = [k for k, default in classify_only.items() if getattr(cfg, k) != default]
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise HeadstartError(f"{flags} apply to --task classify, not --task {cfg.task}", fix=f"drop {flags}")


def resolve_init(cfg: FinetuneConfig) -> Init:
    """Read `--from`: `scratch`, a run folder (its model, data and image size), or a weights file."""
    if cfg.from_ == "scratch":
        if cfg.model == "auto":
            raise HeadstartError(
                "--from scratch needs --model", fix="pass e.g. --model headstart/resnet-mini"
            )
        return Init("scratch", cfg.model)
    path = Path(cfg.from_)
    if path.is_dir():
        return _from_run(path, cfg.model)
    if path.is_file():
        if cfg.model == "auto":
            raise HeadstartError(
                f"--from {path} is a weights file, which does not name its model",
                fix="pass --model <package>/<name> (headstart list-models)",
            )
        return Init("weights", cfg.model, path)
    raise HeadstartError(
        f"--from {cfg.from_}: no such run folder or weights file",
        fix="pass scratch, a headstart run folder, or a .safetensors/.pt/.pth file",
    )


def _from_run(path: Path, model: str) -> Init:
    run = Run(path)
    if not run.backbone_file.is_file():
        raise HeadstartError(
            f"--from {path} is not a finished headstart run (no exported/backbone.safetensors)",
            fix="pass the --out of a finished pretraining run, or a weights file",
        )
    if model != "auto" and model != run.model_name:
        raise HeadstartError(
            f"--model {model} but the run {path} trained {run.model_name}",
            fix=f"drop --model or pass --model {run.model_name}",
        )
    return Init("run", run.model_name, path, run.pretrain_data, run.image_size)


def resolve(cfg: FinetuneConfig, init: Init, data: LabeledSplits) -> FinetuneConfig:
    """Every "auto" of `cfg` resolved: model, strategy, image size, batch, length, LR, precision."""
    strategy = cfg.strategy if cfg.strategy != "auto" else ("full" if init.scratch else "lp-ft")
    cls = strategy_class(strategy)
    _check_options(cfg, strategy, init)
    n = len(data.train)
    batch = min(cfg.batch_size, n)
    if batch < 2:
        raise HeadstartError(
            f"only {n} training image(s) after holding out validation",
            fix="label more images (--labels / --per-class) or lower --val-fraction",
        )
    per_epoch = n // (batch * cfg.accumulate_grad_batches) or 1
    epochs = cfg.epochs or (None if cfg.steps else auto_epochs(n))
    steps = cfg.steps or epochs * per_epoch
    return cfg.model_copy(
        update={
            "model": init.model,
            "strategy": strategy,
            "image_size": image_size(cfg, init, data),
            "batch_size": batch,
            "epochs": epochs or math.ceil(steps / per_epoch),
            "steps": steps,
            "lr": cfg.lr if cfg.lr != "auto" else cls.default_lr(batch, init.scratch),
            "weight_decay": cfg.weight_decay if cfg.weight_decay != "auto" else WEIGHT_DECAY,
            "lora_alpha": cfg.lora_alpha if cfg.lora_alpha != "auto" else 2.0 * cfg.lora_rank,
            "precision": resolve_precision(cfg.precision, cfg.accelerator),
            "forgetting_data": cfg.forgetting_data or init.pretrain_data,
        }
    )


def auto_epochs(n_train: int) -> int:
    lo, hi = EPOCH_BOUNDS
    return int(min(hi, max(lo, round(PASSES_BUDGET / max(1, n_train)))))


def image_size(cfg: FinetuneConfig, init: Init, data: LabeledSplits) -> int:
    """--image-size, else the pretraining run's, else the data's side (32-224 for library models)."""
    if cfg.image_size != "auto":
        return int(cfg.image_size)
    return init.image_size or auto_image_size(init.model, data.train)


def _check_options(cfg: FinetuneConfig, strategy: str, init: Init) -> None:
    if isinstance(cfg.blend, float) and not 0 <= cfg.blend <= 1:
        raise HeadstartError(f"--blend {cfg.blend} is outside [0, 1]", fix="pass a weight in [0, 1] or sweep")
    if cfg.blend is not None and init.scratch:
        raise HeadstartError(
            "--blend needs pretrained start weights, but --from is scratch",
            fix="drop --blend or start --from a run or weights file",
        )
    if strategy != "freeze" and (cfg.freeze_blocks is not None or cfg.unfreeze_every is not None):
        raise HeadstartError(
            f"--freeze-blocks/--unfreeze-every apply to --strategy freeze, not {strategy}",
            fix="pass --strategy freeze",
        )
