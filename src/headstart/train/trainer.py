"""The one place that builds a Lightning `Trainer`: devices, strategy, precision, checkpoints,
loggers, progress. Methods and fine-tuning modules implement their steps and nothing else."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from collections.abc import Iterator
from typing import Any

import lightning as L
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.io import TorchCheckpointIO

from headstart.errors import HeadstartError
from headstart.io import atomic_open
from headstart.run import Run
from headstart.train.checkpointing import RunCheckpoint
from headstart.train.config import TrainerOptions
from headstart.train.metrics_log import MetricsCSV
from headstart.train.progress import StepProgressBar


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints go to a temporary file, are fsynced, then renamed: never half-written."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        with atomic_open(path) as f:
            writer = _KeepsWriteErrors(f)
            try:
                torch.save(checkpoint, writer)
            except RuntimeError:
                if writer.error is not None:  # torch's zip writer reports a failed write as "unexpected pos"
                    raise writer.error from None
                raise


class _KeepsWriteErrors:
    """A file's `write` that remembers the OSError (disk full, ...) torch.save would hide."""

    def __init__(self, f: Any) -> None:
        self.f, self.error = f, None

    def write(self, data: Any) -> int:
        try:
            return self.f.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.f.flush()


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


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse instead of handing large blocks back to the kernel.

    Each training step frees and re-allocates the same large buffers (views, activations); with
    glibc's defaults every one of them is a fresh mmap whose pages fault in again on first touch.
    On Linux/glibc only; HEADSTART_KEEP_FREED_MEMORY=0 turns it off. True when applied.
    """
    import ctypes
    import os
    import sys

    if not sys.platform.startswith("linux") or os.environ.get("HEADSTART_KEEP_FREED_MEMORY", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # musl or another libc: leave it alone
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    mmap_ok = libc.mallopt(m_mmap_threshold, 1 << 30) or libc.mallopt(m_mmap_threshold, 1 << 25)  # older glibc: 32 MiB max
    return bool(libc.mallopt(m_trim_threshold, 1 << 30)) and bool(mmap_ok)


def build_trainer(opts: TrainerOptions, run: Run, *, max_steps: int, callbacks: list[Callback],
                  precision: str, resume_step: int | None = None, use_distributed_sampler: bool = True) -> L.Trainer:
    """A Trainer for `max_steps` optimizer steps that checkpoints into `run` and logs to its metrics.csv.

    `use_distributed_sampler=False` for loaders that shard themselves over ranks (`ResumableLoader`).
    """
    keep_freed_memory()
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no tips or device banners
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*`isinstance\\(treespec, LeafSpec\\)`.*")
    warnings.filterwarnings("ignore", message=".*`training_step` returned `None`.*")  # --skip-nonfinite says why
    warnings.filterwarnings("ignore", message=".*The dirpath has changed from.*")  # a moved or copied run folder
    ckpt = RunCheckpoint(run.checkpoints, every=opts.checkpoint_every)
    devices = opts.devices if opts.devices != "auto" else "auto"
    strategy = opts.distributed
    if strategy == "auto" and devices not in ("auto", 1) and _accelerator(opts) == "cpu":
        strategy = "ddp"
    settings = {
        "accelerator": _accelerator(opts),
        "devices": devices,
        "num_nodes": opts.num_nodes,
        "strategy": _strategy(strategy, opts.ddp_timeout),
        "use_distributed_sampler": use_distributed_sampler,
        "precision": precision,
        "max_steps": max_steps,
        "max_epochs": -1,
        "accumulate_grad_batches": opts.accumulate_grad_batches,
        "callbacks": [ckpt, *callbacks, *([StepProgressBar()] if opts.progress else [])],
        "logger": _loggers(opts, run, resume_step),
        "plugins": [AtomicCheckpointIO()] if strategy != "fsdp" else None,
        "enable_progress_bar": opts.progress,
        "enable_model_summary": False,
        "log_every_n_steps": 1,
        "num_sanity_val_steps": 0,
        "default_root_dir": str(run.path),
        "deterministic": False,
        "benchmark": torch.cuda.is_available(),
    }
    try:
        return L.Trainer(**settings)
    except (MisconfigurationException, ValueError) as err:  # a combination Lightning refuses (fsdp on CPU, ...)
        raise HeadstartError(f"cannot set up training: {' '.join(str(err).split())}",
                             fix="check --accelerator, --devices, --distributed and --precision") from None


def _strategy(name: str, timeout_s: int) -> Any:
    """ddp/fsdp with a bounded wait: when a process dies the others stop within `timeout_s`."""
    from datetime import timedelta

    if name == "ddp":
        from lightning.pytorch.strategies import DDPStrategy

        return DDPStrategy(timeout=timedelta(seconds=timeout_s))
    if name == "fsdp":
        from lightning.pytorch.strategies import FSDPStrategy

        return FSDPStrategy(timeout=timedelta(seconds=timeout_s))
    return name


def read_checkpoint(path) -> dict[str, Any]:
    """A Lightning checkpoint, memory-mapped; a file that is not one is a clear error."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception as err:  # noqa: BLE001 - any failure to read it is the same user error
        raise HeadstartError(f"cannot read checkpoint {path}: {type(err).__name__}: {err}",
                             fix="start a new run with --overwrite (the checkpoint is unusable)") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise HeadstartError(f"{path} is not a headstart training checkpoint", fix="start a new run with --overwrite")
    return ckpt


def checkpoint_step(path) -> int | None:
    """The global step a checkpoint was saved at (None if there is none)."""
    if not path or not os.path.isfile(path):
        return None
    return int(read_checkpoint(path).get("global_step", 0))


def check_checkpoint_fits(path, module: torch.nn.Module) -> None:
    """Refuse to resume from a checkpoint whose tensors are not `module`'s (another model or method)."""
    saved = read_checkpoint(path)["state_dict"]
    own = module.state_dict()
    missing = sorted(set(own) - set(saved))
    unexpected = sorted(set(saved) - set(own))
    reshaped = sorted(k for k in set(own) & set(saved) if tuple(own[k].shape) != tuple(saved[k].shape))
    if missing or unexpected or reshaped:
        example = (missing or unexpected or reshaped)[0]
        raise HeadstartError(
            f"{path} was written by another model or method ({len(missing)} tensors missing, {len(unexpected)} "
            f"unexpected, {len(reshaped)} of another shape, e.g. {example!r}); cannot resume",
            fix="resume with the --model/--method/--method-args the run was started with, or use another --out")


@contextlib.contextmanager
def stops_explained(run: Run, trainer: L.Trainer) -> Iterator[None]:
    """`trainer.fit` stopped early, said in one line with the checkpoint to resume from:

    - Ctrl-C: Lightning stops gracefully and calls `exit(1)`; it becomes a KeyboardInterrupt;
    - a ddp/fsdp process that died (or hung past --ddp-timeout) makes the others fail inside a
      collective: a HeadstartError.
    """
    try:
        yield
    except SystemExit:
        if not trainer.interrupted:
            raise
        kept, fix = _kept(run)
        raise KeyboardInterrupt(f"{kept} — {fix}") from None
    except RuntimeError as err:
        if trainer.world_size <= 1 or not _peer_failure(err):
            raise
        reason = re.sub(r"^\[[^\]]*\]\s*", "", " ".join(str(err).split())).split(". ")[0][:160]  # drop file:line
        kept, fix = _kept(run)
        if "timed out" in reason.lower():
            fix += " (if the processes are only slow, raise --ddp-timeout)"
        raise HeadstartError(f"training stopped: another training process died or stopped answering ({reason}); "
                             f"{kept}", fix=fix) from None


def _kept(run: Run) -> tuple[str, str]:
    """What a stopped run keeps, and how to go on."""
    step = checkpoint_step(run.last_checkpoint) if run.last_checkpoint.is_file() else None
    if step is None:
        return "no checkpoint was written yet", "run the same command with --overwrite to start again"
    return f"{run.last_checkpoint} (step {step}) is kept", "run the same command with --resume to continue"


def _peer_failure(err: RuntimeError) -> bool:
    dist_error = getattr(torch.distributed, "DistError", ())
    if dist_error and isinstance(err, dist_error):
        return True
    text = str(err)
    return any(s in text for s in ("Connection reset by peer", "Connection closed by peer", "gloo/transport",
                                   "NCCL", "Timed out", "timed out"))


def _accelerator(opts: TrainerOptions) -> str:
    if opts.accelerator == "cuda":
        return "gpu"
    if opts.accelerator == "gpu" and not torch.cuda.is_available():
        raise HeadstartError("--accelerator gpu was asked for but no CUDA GPU is visible",
                             fix="drop --accelerator or install a CUDA build of torch")
    return "cpu" if opts.accelerator == "auto" and not torch.cuda.is_available() else opts.accelerator


def _loggers(opts: TrainerOptions, run: Run, resume_step: int | None) -> list:
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
