"""The unlabeled images of semi-supervised fine-tuning: an endless, seeded stream of batches.

Batch t (t = 0, 1, ...) of a process is a function of (seed, t, rank, world) alone: pass e over
the pool draws a permutation from (seed, e), and consecutive slices of it make the batches,
split over ranks as `DistributedSampler` splits an epoch. So the stream needs no loader state
of its own: a resumed run restores the count of batches drawn (saved in the checkpoint) and
continues with exactly the batches an uninterrupted run would have seen. The pool is usually
far larger than the labeled set, so it is not tied to the labeled loader's epochs.
"""

from __future__ import annotations

import numpy as np
import torch

from headstart.data.imageset import ImageSet
from headstart.errors import HeadstartError


class UnlabeledStream:
    """`next()` -> (uint8 images `(B, C, H, W)`, labels `(B,)` (-1 unknown), pool indices `(B,)`)."""

    def __init__(self, pool: ImageSet, *, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        if len(pool) < batch_size * world:
            raise HeadstartError(
                f"the unlabeled pool has {len(pool)} images, fewer than one unlabeled batch "
                f"({batch_size * world})",
                fix="pass a larger --unlabeled-data, label less of --data, or lower --semi-ratio")
        self.pool, self.batch_size, self.seed = pool, batch_size, seed
        self.rank, self.world = rank, world
        self.drawn = 0  # batches handed out so far; saved in checkpoints
        self._order: tuple[int, torch.Tensor] | None = None  # (pass, permutation) cached

    @property
    def per_pass(self) -> int:
        """Batches per pass over the pool (the last partial slice of a pass is dropped)."""
        return len(self.pool) // (self.batch_size * self.world)

    def indices(self, t: int) -> torch.Tensor:
        """Pool rows of this process's batch `t`."""
        e, j = divmod(t, self.per_pass)
        if self._order is None or self._order[0] != e:
            seed = int(np.random.SeedSequence([self.seed % 2**32, e, 0x5E41]).generate_state(1)[0])
            self._order = (e, torch.randperm(len(self.pool), generator=torch.Generator().manual_seed(seed)))
        step = self.batch_size * self.world
        return self._order[1][j * step:(j + 1) * step][self.rank::self.world]

    def next(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        index = self.indices(self.drawn)
        self.drawn += 1
        images, labels = self.pool.__getitems__(index.tolist())
        return images, labels, index
