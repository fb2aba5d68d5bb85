"""Training: the trainer builder, run folders, and the `pretrain` command."""

from __future__ import annotations

from headstart.config import api_function
from headstart.train.config import PretrainConfig


def _pretrain(cfg: PretrainConfig):
    from headstart.train.pretraining import run

    return run(cfg)


pretrain = api_function(
    PretrainConfig, _pretrain, "pretrain",
    "Self-supervised pretraining on unlabeled images; returns a PretrainResult (run folder, kNN, steps, seconds).\n\n"
    "Example:\n    headstart.pretrain(data='fashion-mnist', model='headstart/resnet-mini', method='simclr', "
    "steps=500, out='runs/fm')",
)
