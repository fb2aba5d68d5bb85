"""Options of commands that train (pretrain, finetune): one definition, shared by CLI and API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from headstart.models.family import ModelName
from headstart.run import RunOptions

Auto = Literal["auto"]
PositiveInt = Annotated[int, Field(ge=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
CHECKPOINT_EVERY = r"^(off|\d+(\.\d+)?(s|m|h)|[1-9]\d*steps)$"


class TrainerOptions(RunOptions):
    """How training runs: hardware, precision, length, checkpoints, logging."""

    epochs: int | None = Field(None, ge=1, description="passes over the data; unset: from --steps, else auto")
    steps: int | None = Field(None, ge=1, description="optimizer steps (overrides --epochs)")
    batch_size: int = Field(256, ge=2, description="global batch size (all devices together)")
    accumulate_grad_batches: int = Field(1, ge=1, description="micro-batches per optimizer step")
    lr: PositiveFloat | Auto = Field("auto", description="learning rate; auto: the method's rate x batch_size/256")
    weight_decay: Annotated[float, Field(ge=0)] | Auto = Field("auto", description="weight decay; auto: the method's own")
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = Field("auto", description="device type")
    devices: PositiveInt | Auto = Field("auto", description="devices per node (GPUs, or CPU processes with ddp)")
    num_nodes: int = Field(1, ge=1, description="machines (start with torchrun or SLURM)")
    distributed: Literal["auto", "ddp", "fsdp"] = Field(
        "auto", description="how training spreads over devices (Lightning's strategy); auto: ddp for several "
        "CPU processes, else Lightning's choice")
    precision: Literal["auto", "32", "bf16-mixed", "16-mixed"] = Field(
        "auto", description="auto: bf16-mixed on GPUs and on CPUs with native bf16, else 32")
    compile: Literal["auto", "on", "off"] = Field("auto", description="torch.compile the backbone (auto: on GPUs)")
    channels_last: bool = Field(True, description="channels-last memory format for conv nets")
    num_workers: Annotated[int, Field(ge=0)] | Auto = Field("auto", description="data-loader worker processes")
    checkpoint_every: str = Field("10m", pattern=CHECKPOINT_EVERY, description="checkpoint every N seconds, "
                                  "minutes or hours of training (30s, 5m, 1h) or every N steps (1000steps), as well "
                                  "as at epoch ends and the end; off: only those")
    logger: list[Literal["csv", "tensorboard", "mlflow"]] = Field(["csv"], description="metric loggers")
    skip_nonfinite: int = Field(0, ge=0, description="skip up to N steps with a NaN/Inf loss before stopping")
    ddp_timeout: int = Field(1800, ge=1, description="seconds a process waits for the others (ddp/fsdp) before "
                             "the run stops")


class PretrainConfig(TrainerOptions):
    """`headstart pretrain`: self-supervised pretraining on unlabeled images."""

    data: str = Field(description="image folder, IDX .gz file/folder, or fashion-mnist / mnist[:split]")
    model: ModelName = Field("headstart/resnet-mini", description="backbone, <package>/<name> (headstart list-models)")
    method: str = Field("simclr", description="pretraining method (headstart list-methods)")
    weights: str | None = Field(None, description="start from local weights: a file or a headstart run folder")
    allow_partial: bool = Field(False, description="--weights that do not cover the model: load the tensors that "
                                "fit and warn with the counts (else refused)")
    image_size: PositiveInt | Auto = Field("auto", description="input side in pixels; auto: the data's side (32-224)")
    seq_len: int = Field(128, ge=8, le=512, description="text models: tokens per training sequence (packed windows; "
                         "documents are cut to it)")
    method_args: dict[str, Any] = Field({}, description="method hyper-parameters, KEY=VALUE (see list-methods)")
    val_data: str | None = Field(None, description="labeled data for the online kNN monitor (auto for named sets)")
    monitor: bool = Field(True, description="report kNN accuracy every epoch when labels are available")
    knn_k: int = Field(20, ge=1, description="neighbours for kNN accuracy")
    on_bad_image: Literal["skip", "fail"] = Field("skip", description="skip unreadable images with a warning, or stop")
    activation_checkpointing: bool = Field(False, description="recompute activations in backward (ViTs; less memory)")
