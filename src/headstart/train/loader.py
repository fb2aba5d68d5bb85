"""The pretraining data loader: a fresh shuffle each epoch from `(seed, epoch)`, sharded over
ranks, and resumable in the middle of an epoch.

Lightning saves a loader's `state_dict()` in every checkpoint when the loader has one, and
hands it back to `load_state_dict()` on `--resume`. Ours records the epoch and how many
batches of it were trained on; the resumed loader skips exactly those, so a run killed at
step k and resumed sees the same batches, in the same order, as a run never interrupted.
(A plain DataLoader restarts the epoch from its first batch: the resumed run would train on
some images twice and never see others.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes, once the process group exists."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class EpochSampler(Sampler[int]):
    """Indices in a new random order each epoch, drawn from `(seed, epoch)` alone, split over
    ranks like `DistributedSampler`. The first `skip` indices of the current epoch are left out
    once (set when resuming). Lightning calls `set_epoch` at the start of every epoch."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = n, seed
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.skip = 0
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n // rank_and_world()[1]

    def __iter__(self) -> Iterator[int]:
        rank, world = rank_and_world()
        seed = int(np.random.SeedSequence([self.seed % 2**32, self.epoch]).generate_state(1)[0])
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(seed))
        mine = order[: self.n // world * world][rank::world]  # (n // world,)
        skip, self.skip = self.skip, 0
        return iter(mine[skip:].tolist())


class ResumableLoader(DataLoader):
    """A DataLoader over `EpochSampler` (last partial batch dropped) whose position Lightning
    saves and restores.

    The position counts batches handed to the trainer (not indices drawn by worker
    processes ahead of time), so it is right with any `num_workers`.
    """

    def __init__(self, dataset: Dataset, *, batch_size: int, seed: int, **kwargs: Any) -> None:
        sampler = EpochSampler(len(dataset), seed)  # type: ignore[arg-type]
        # own generator: worker seeds must not draw from (and shift) the global RNG
        super().__init__(dataset, batch_size=batch_size, sampler=sampler, drop_last=True,
                         generator=torch.Generator().manual_seed(seed), **kwargs)
        self.position = 0  # batches of the current epoch handed out

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        self.position = self.sampler.skip // self.batch_size
        for batch in super().__iter__():
            self.position += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.sampler.epoch, "batches": self.position, "seed": self.sampler.seed,
                "batch_size": self.batch_size, "n": self.sampler.n}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if (state.get("n"), state.get("batch_size")) != (self.sampler.n, self.batch_size):
            return  # other data or batch size: the saved position means nothing here; start the epoch over
        epoch, batches = int(state["epoch"]), int(state["batches"])
        if batches >= len(self):  # saved after the epoch's last batch
            epoch, batches = epoch + 1, 0
        self.sampler.epoch, self.sampler.skip = epoch, batches * self.batch_size
        self.position = batches
