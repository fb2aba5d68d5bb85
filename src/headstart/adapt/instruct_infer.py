"""Scoring a `CausalLM` on tokenized chats, batched, without gradients: the summed log-probs of each
answer, and whether greedy decoding would give each reference answer exactly.

Greedy decoding stops at the first token that differs from the reference, so the greedy answer
equals the reference (its end-of-sequence token included) exactly when the argmax at every answer
position is the reference token. One teacher-forced forward pass decides it, with the same result
as `generate(do_sample=False)` and without the token-by-token loop (checked in the tests).
"""

from __future__ import annotations

import numpy as np
import torch

from headstart.adapt.causal_lm import CausalLM
from headstart.adapt.preference import sequence_logps
from headstart.data.text.instruct import IGNORE, InstructSet, PadCollate

BATCH = 64


@torch.no_grad()
def answer_logps(model: CausalLM, data: InstructSet, *, device: torch.device | str = "cpu",
                 batch_size: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
    """(summed log-probs, answer token counts), each `(N, rows)`: row 0 chosen, row 1 rejected."""
    logps, counts = [], []
    for ids, labels, mask in _batches(model, data, device, batch_size):
        lp, n = sequence_logps(model(ids, mask), labels)
        logps.append(lp.view(data.rows, -1).T.cpu())
        counts.append(n.view(data.rows, -1).T.cpu())
    return torch.cat(logps).double().numpy(), torch.cat(counts).numpy()


@torch.no_grad()
def greedy_matches(model: CausalLM, data: InstructSet, *, device: torch.device | str = "cpu",
                   batch_size: int = BATCH) -> np.ndarray:
    """Whether greedy decoding reproduces each example's answer exactly, `(N,)` bool (see module doc)."""
    out = []
    for ids, labels, mask in _batches(model, data, device, batch_size):
        guess = model(ids, mask)[:, :-1].argmax(-1)
        target = labels[:, 1:]
        scored = target != IGNORE
        out.append(((guess == target) | ~scored).all(1).cpu())
    return torch.cat(out).numpy()


def _batches(model: CausalLM, data: InstructSet, device, batch_size: int):
    model.to(device)
    was_training = model.training
    model.eval()
    collate = PadCollate(model.backbone.pad_id)
    try:
        for start in range(0, len(data), batch_size):
            ids, labels, mask, _ = collate([data[i] for i in range(start, min(start + batch_size, len(data)))])
            yield ids.to(device), labels.to(device), mask.to(device)
    finally:
        model.train(was_training)
