"""Shared by the method tests: a real Fashion-MNIST batch, a method built as `pretrain` builds it,
and a short Lightning run through the project's one trainer builder."""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

from headstart.config import parse
from headstart.data.idx import open_idx
from headstart.data.imageset import ImageSet, collate
from headstart.methods import method_class
from headstart.methods.base import Method
from headstart.models.factory import create_backbone
from headstart.run import open_run
from headstart.train.config import TrainerOptions
from headstart.train.module import Plan
from headstart.train.trainer import build_trainer


@functools.cache
def fashion_train(n: int) -> ImageSet:
    """The first `n` Fashion-MNIST training images, (n, 1, 28, 28) uint8 with labels."""
    return open_idx("fashion-mnist", "train").subset(range(n))


def build(name: str, *, steps: int = 100, batch_size: int = 16, model: str = "headstart/resnet-mini",
          seed: int = 0, **method_args) -> Method:
    """The method `name` on a fresh backbone, planned for `steps` optimizer steps (its schedules);
    the same seed gives the same weights (and queue)."""
    cls = method_class(name)
    cfg = parse(cls.config_cls, method_args)
    torch.manual_seed(seed)
    backbone = create_backbone(model, image_size=28)
    plan = Plan(total_steps=steps, batch_size=batch_size, image_size=28, lr=cfg.lr * batch_size / 256,
                weight_decay=cfg.weight_decay, channels_last=False)
    return cls(backbone, cfg, plan)


def fixed_views(method: Method, images: torch.Tensor, seed: int = 0) -> list[torch.Tensor]:
    """The method's views of `images` from a fixed augmentation seed."""
    method._gen = torch.Generator().manual_seed(seed)
    return method.make_views(images)


def fit(method: Method, data: ImageSet, out: Path, *, steps: int, batch_size: int, accumulate: int,
        callbacks: list[Callback] = (), precision: str = "32") -> None:
    """Train on `data` in order for `steps` optimizer steps."""
    opts = TrainerOptions(accumulate_grad_batches=accumulate, progress=False)
    run = open_run(out, "pretrain", resume=False, overwrite=False)
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False, collate_fn=collate)
    try:
        trainer = build_trainer(opts, run, max_steps=steps, callbacks=list(callbacks),
                                precision=precision)
        trainer.fit(method, loader)
    finally:
        run.release()


def train_on(method: Method, views: list[torch.Tensor], *, steps: int, lr: float) -> list[float]:
    """A plain loop: `steps` optimizer steps on the same views; the loss before each step."""
    opt = method.configure_optimizers()
    for group in opt.param_groups:
        group["lr"] = lr
    losses = []
    for _ in range(steps):
        loss, _ = method.loss(views)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def run_ranks(fn, tmp_path: Path, world: int = 2) -> list:
    """Run `fn(rank)` in `world` CPU processes joined by a gloo process group; their return values."""
    torch.multiprocessing.spawn(_rank_main, args=(fn, tmp_path, world), nprocs=world, join=True)
    return [torch.load(tmp_path / f"rank{r}.pt") for r in range(world)]


def _rank_main(rank: int, fn, tmp_path: Path, world: int) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=rank, world_size=world)
    try:
        torch.save(fn(rank), tmp_path / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()
