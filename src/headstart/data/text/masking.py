"""BERT's masking of token ids (Devlin et al. 2019, arXiv:1810.04805, section 3.1).

Of the positions that hold a real token (special tokens and padding never count), `rate` are
chosen; of those, 80% become the mask token, 10% a random token and 10% stay as they are.
The loss is taken on the chosen positions only (`labels` is -100 elsewhere, the value
`torch.nn.functional.cross_entropy` ignores). Drawn from a caller's generator, so a seeded
generator gives the same masks on every run (the held-out perplexity sample relies on it).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

IGNORE = -100  # cross_entropy's ignore_index


def mask_tokens(ids: torch.Tensor, *, mask_id: int, vocab_size: int, special_ids: Sequence[int],
                generator: torch.Generator, rate: float = 0.15) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, labels) for masked-language modelling.

    Args:
        ids: int64 `(B, T)` token ids.
        mask_id: the mask token's id.
        vocab_size: random replacements are drawn from `[0, vocab_size)` minus `special_ids`.
        special_ids: ids that are never chosen (separator, pad, [CLS], ...).
        generator: the random source, on `ids`' device.
        rate: share of the eligible positions chosen.

    Returns:
        `inputs` (a copy of `ids` with the replacements) and `labels` (the original id at the
        chosen positions, -100 elsewhere), both `(B, T)`.

    Example:
        >>> inputs, labels = mask_tokens(ids, mask_id=4, vocab_size=8192, special_ids=[0, 1, 2, 3, 4], generator=g)
    """
    dev = ids.device
    special = torch.as_tensor(list(special_ids), dtype=ids.dtype, device=dev)
    eligible = ~torch.isin(ids, special)
    draw = torch.rand(ids.shape, generator=generator, device=dev)
    chosen = eligible & (draw < rate)
    labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE))
    how = torch.rand(ids.shape, generator=generator, device=dev)  # < 0.8 mask, < 0.9 random, else kept
    inputs = torch.where(chosen & (how < 0.8), torch.full_like(ids, mask_id), ids)
    random_ids = _random_ordinary(ids.shape, vocab_size, special, generator)
    inputs = torch.where(chosen & (how >= 0.8) & (how < 0.9), random_ids, inputs)
    return inputs, labels


def _random_ordinary(shape: torch.Size, vocab_size: int, special: torch.Tensor,
                     generator: torch.Generator) -> torch.Tensor:
    """Uniform ids over the vocabulary without the special ids (a random [PAD] or [SEP] would
    teach the model nothing about the text)."""
    keep = torch.ones(vocab_size, dtype=torch.bool, device=special.device)
    keep[special[(special >= 0) & (special < vocab_size)]] = False
    ordinary = keep.nonzero().squeeze(1)  # (V',)
    pick = torch.randint(len(ordinary), shape, generator=generator, device=special.device)
    return ordinary[pick]
