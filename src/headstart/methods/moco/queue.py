"""MoCo's memory queue of keys (He et al. 2019, arXiv:1911.05722, Algorithm 1).

Keys are collected with `add` during the loss and written with `flush` once per optimizer step,
so every micro-batch of an accumulated step contrasts against the same queue and all of their
keys enter it together: the queue does not depend on how a step is split into micro-batches.
(lightly's `MemoryBankModule` enqueues inside the forward pass, once per micro-batch.)
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


class KeyQueue(nn.Module):
    """A ring buffer of `size` L2-normalised keys of width `dim`, oldest overwritten first."""

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        # random unit vectors until real keys arrive, as in the reference code
        self.register_buffer("keys", F.normalize(torch.randn(size, dim), dim=1))  # (K, D)
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self._pending: list[torch.Tensor] = []

    def add(self, keys: torch.Tensor) -> None:
        """Remember `(N, D)` keys for the next `flush`."""
        self._pending.append(keys.detach().float())

    @torch.no_grad()
    def flush(self) -> int:
        """Enqueue every key added since the last flush, from all ranks; returns how many."""
        if not self._pending:
            return 0
        keys = torch.cat(self._pending)  # (N, D) from all micro-batches of this step
        self._pending = []
        if dist.is_available() and dist.is_initialized():
            from lightly.models.utils import concat_all_gather

            keys = concat_all_gather(keys.contiguous())  # (world * N, D), rank order
        size = len(self.keys)
        keys = keys[-size:]  # more keys than slots: the newest win
        idx = (self.ptr + torch.arange(len(keys), device=keys.device)) % size
        self.keys[idx] = keys.to(self.keys.dtype)
        self.ptr.copy_((self.ptr + len(keys)) % size)
        return len(keys)


def info_nce(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE with the positive key first and the queue as negatives (MoCo eq. 1).

    q, k: `(B, D)` L2-normalised queries and their positive keys; queue: `(K, D)` negatives.
    """
    pos = (q * k).sum(dim=1, keepdim=True)  # (B, 1)
    neg = q @ queue.T                       # (B, K)
    logits = torch.cat([pos, neg], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))
