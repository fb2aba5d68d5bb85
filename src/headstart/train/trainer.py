"""The one place that builds a Lightning `Trainer`: devices, strategy, precision, checkpoints,
loggers, progress. Methods and fine-tuning modules implement their steps and nothing else."""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from headstart.errors import HeadstartError
from headstart.io import atomic_open
from headstart.train.config import TrainerOptions
from headstart.train.run import RunDir


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints go to a temporary file, are fsynced, then renamed: never half-written."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        with atomic_open(path) as f:
            torch.save(checkpoint, f)


def resolve_precision(precision: str, accelerator: str) -> str:
    """auto -> bf16-mixed where the hardware runs bf16 natively (GPUs, AVX512-BF16/AMX CPUs), else 32."""
    if precision != "auto":
        return precision
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "bf16-mixed" if torch.cpu._is_avx512_bf16_supported() else "32"


def resolve_workers(num_workers: int | str, in_memory: bool) -> int:
    """auto: no workers for in-memory data (indexing a tensor is cheaper than IPC); else cores - 1, max 8."""
    if num_workers != "auto":
        return int(num_workers)
    if in_memory:
        return 0
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def build_trainer(opts: TrainerOptions, run: RunDir, *, max_steps: int, callbacks: list[Callback],
                  precision: str, resume_step: int | None = None) -> L.Trainer:
    """A Trainer for `max_steps` optimizer steps that checkpoints into `run` and logs to its metrics.csv."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no tips or device banners
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*`isinstance\\(treespec, LeafSpec\\)`.*")
    ckpt = ModelCheckpoint(dirpath=run.checkpoints, filename="last", save_top_k=0, save_last=True,
                           every_n_train_steps=opts.checkpoint_every_n_steps, save_on_train_epoch_end=True)
    ckpt.CHECKPOINT_NAME_LAST = "last"
    devices = opts.devices if opts.devices != "auto" else "auto"
    strategy = opts.strategy
    if strategy == "auto" and devices not in ("auto", 1) and _accelerator(opts) == "cpu":
        strategy = "ddp"
    return L.Trainer(
        accelerator=_accelerator(opts),
        devices=devices,
        num_nodes=opts.num_nodes,
        strategy=strategy,
        precision=precision,
        max_steps=max_steps,
        max_epochs=-1,
        accumulate_grad_batches=opts.accumulate_grad_batches,
        callbacks=[ckpt, *callbacks],
        logger=_loggers(opts, run, resume_step),
        plugins=[AtomicCheckpointIO()] if strategy != "fsdp" else None,
        enable_progress_bar=opts.progress,
        enable_model_summary=False,
        log_every_n_steps=1,
        num_sanity_val_steps=0,
        default_root_dir=str(run.path),
        deterministic=False,
        benchmark=torch.cuda.is_available(),
    )


def checkpoint_step(path) -> int | None:
    """The global step a checkpoint was saved at (None if there is none)."""
    if not path or not os.path.isfile(path):
        return None
    return int(torch.load(path, map_location="cpu", weights_only=False, mmap=True).get("global_step", 0))


def _accelerator(opts: TrainerOptions) -> str:
    if opts.accelerator == "cuda":
        return "gpu"
    if opts.accelerator == "gpu" and not torch.cuda.is_available():
        raise HeadstartError("--accelerator gpu was asked for but no CUDA GPU is visible",
                             fix="drop --accelerator or install a CUDA build of torch")
    return "cpu" if opts.accelerator == "auto" and not torch.cuda.is_available() else opts.accelerator


def _loggers(opts: TrainerOptions, run: RunDir, resume_step: int | None) -> list:
    from headstart.train.metrics_log import MetricsCSV

    out: list = [MetricsCSV(run.path, resume_step)]
    if "tensorboard" in opts.logger:
        try:
            from lightning.pytorch.loggers import TensorBoardLogger

            out.append(TensorBoardLogger(save_dir=str(run.path), name="tensorboard", version=""))
        except ModuleNotFoundError:
            raise HeadstartError("--logger tensorboard needs tensorboard", fix="pip install tensorboard") from None
    if "mlflow" in opts.logger:
        try:
            import mlflow  # noqa: F401
            from lightning.pytorch.loggers import MLFlowLogger
        except ModuleNotFoundError:
            raise HeadstartError("--logger mlflow needs mlflow", fix="pip install mlflow") from None
        out.append(MLFlowLogger(experiment_name="headstart", tracking_uri=f"file:{run.path / 'mlruns'}"))
    return out
