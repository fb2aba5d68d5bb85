"""Preference losses over sequence log-probabilities: DPO and IPO (pure functions).

DPO (Rafailov et al. 2023, "Direct Preference Optimization", arXiv:2305.18290), with
    h = (log pi(y_w|x) - log ref(y_w|x)) - (log pi(y_l|x) - log ref(y_l|x)):
    loss = -log sigmoid(beta * h)
IPO (Azar et al. 2023, "A General Theoretical Paradigm to Understand Learning from Human
Preferences", arXiv:2310.12036): loss = (h' - 1 / (2 beta))^2, with h' from log-probs averaged
over each answer's tokens (TRL's normalisation, which the IPO authors confirmed).
Either may add `sft_weight` x the chosen answers' negative log-likelihood per token (RPO, Pang et al.
2024, "Iterative Reasoning Preference Optimization", arXiv:2404.19733; TRL's `loss_type=[..., "sft"]`):
plain DPO lowers the chosen answer's likelihood along with the rejected one's, which on a small model
can cost the greedy answer itself; the NLL term keeps the chosen answer likely.

The implicit rewards are beta * (log pi - log ref) of each answer; a pair is ranked right when the
chosen reward is the larger. Log-probs are sums over the answer tokens only (labels != -100).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from headstart.data.text.instruct import IGNORE

METHODS = ("dpo", "ipo")


def sequence_logps(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of log-probs of the labelled tokens, their count), each `(B,)`, from logits `(B, T, V)`
    where position t predicts token t + 1 and `labels` `(B, T)` are -100 where nothing is scored."""
    target = labels[:, 1:]
    scored = target != IGNORE
    logp = torch.gather(logits[:, :-1].float().log_softmax(-1), 2, target.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return (logp * scored).sum(1), scored.sum(1)


def preference_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
                    ref_rejected: torch.Tensor, *, beta: float, method: str = "dpo",
                    chosen_tokens: torch.Tensor | None = None,
                    rejected_tokens: torch.Tensor | None = None,
                    sft_weight: float = 0.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Mean DPO or IPO loss over a batch of pairs, and the implicit rewards.

    Args:
        policy_chosen, policy_rejected, ref_chosen, ref_rejected: summed log-probs `(B,)`.
        beta: the KL weight.
        method: "dpo" or "ipo".
        chosen_tokens, rejected_tokens: answer lengths `(B,)` (IPO averages per token; the NLL term
            divides by the chosen answers' tokens).
        sft_weight: weight of the chosen answers' mean per-token NLL added to the loss (0: none).

    Returns:
        (loss, {"chosen_rewards", "rejected_rewards", "accuracy", "margin"}).

    Example:
        >>> loss, r = preference_loss(pc, pr, rc, rr, beta=0.1)
    """
    chosen = policy_chosen - ref_chosen
    rejected = policy_rejected - ref_rejected
    if method == "dpo":
        losses = -F.logsigmoid(beta * (chosen - rejected))
    elif method == "ipo":
        h = chosen / chosen_tokens.clamp_min(1) - rejected / rejected_tokens.clamp_min(1)
        losses = (h - 1 / (2 * beta)) ** 2
    else:
        raise ValueError(f"unknown preference method {method!r}; use one of {METHODS}")
    loss = losses.mean()
    if sft_weight:
        if chosen_tokens is None:
            raise ValueError("sft_weight needs chosen_tokens, the chosen answers' lengths")
        loss = loss - sft_weight * policy_chosen.sum() / chosen_tokens.sum().clamp_min(1)
    chosen_rewards, rejected_rewards = beta * chosen.detach(), beta * rejected.detach()
    return loss, {"chosen_rewards": chosen_rewards, "rejected_rewards": rejected_rewards,
                  "accuracy": (chosen_rewards > rejected_rewards).float().mean(),
                  "margin": (chosen_rewards - rejected_rewards).mean()}
