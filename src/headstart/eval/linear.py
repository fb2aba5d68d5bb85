"""Linear probe: multinomial logistic regression on frozen features.

The transfer protocol of SimCLR (Chen et al. 2020) and CLIP (Radford et al. 2021, appendix
A.3): standardise the features, fit an L2-regularised logistic regression with
L-BFGS on the full training set, and choose the L2 strength on a validation split. The grid
is walked from strong to weak regularisation, each fit warm-started from the previous one,
so 30 L-BFGS steps per grid point reach the accuracy of a converged fit within ~0.1 point
(Fashion-MNIST pixels: 84.44% vs 84.51% with 50k labels).

With a small validation split (under `LOSS_SELECT_BELOW` images, where one image moves the
accuracy by more than 0.1 point) the L2 strength is chosen by validation cross-entropy, which
every image moves a little, instead of accuracy, which moves in steps. Measured on Fashion-MNIST
(SimCLR resnet-mini features, 540 train / 60 val labels, 8 seeds): test accuracy 82.39 +- 0.67%
choosing by loss, 81.97 +- 0.64% by accuracy, 82.42% for the best L2 in hindsight.

The returned `nn.Linear` has the standardisation folded into its weights: it applies to raw
features, `logits = linear(feats)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from headstart.errors import HeadstartError

# L2 strength on the mean cross-entropy; sklearn's C is 1 / (wd * N_train).
WEIGHT_DECAYS = (1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
LOSS_SELECT_BELOW = 1000  # validation images; below: choose the L2 strength by validation loss


@dataclass
class LinearProbeResult:
    """The chosen probe and what it scored."""

    linear: nn.Linear
    weight_decay: float
    val_accuracy: float
    test_accuracy: float | None = None
    val_accuracies: dict[float, float] = field(default_factory=dict)  # the whole sweep
    val_losses: dict[float, float] = field(default_factory=dict)
    by_loss: bool = False  # chosen by validation loss (a small validation split), else by accuracy

    @property
    def score(self) -> float:
        """What the L2 strength was chosen by (higher is better): -loss or accuracy on validation;
        compares probes fitted on other features of the same splits."""
        return -self.val_losses[self.weight_decay] if self.by_loss else self.val_accuracy


def linear_probe(
    train_feats: torch.Tensor,
    train_labels: torch.Tensor,
    val_feats: torch.Tensor,
    val_labels: torch.Tensor,
    test_feats: torch.Tensor | None = None,
    test_labels: torch.Tensor | None = None,
    *,
    num_classes: int,
    weight_decays: Sequence[float] = WEIGHT_DECAYS,
    max_iter: int = 30,
) -> LinearProbeResult:
    """Fit a logistic-regression probe, choosing its L2 strength on the validation split.

    Args:
        train_feats, train_labels: `(N, D)` features and `(N,)` labels to fit on.
        val_feats, val_labels: `(M, D)`, `(M,)` split the L2 strength is chosen on.
        test_feats, test_labels: optional held-out split, scored once with the chosen probe.
        num_classes: number of classes K.
        weight_decays: L2 strengths to try (on the mean loss); ties go to the stronger one.
            Chosen by validation accuracy, or by validation loss below `LOSS_SELECT_BELOW` images.
        max_iter: L-BFGS iterations per grid point.

    Returns:
        `LinearProbeResult` with an `nn.Linear(D, K)` that takes raw features.

    Example:
        >>> result = linear_probe(tr_f, tr_y, va_f, va_y, te_f, te_y, num_classes=10)
        >>> result.test_accuracy, result.weight_decay
    """
    _check(train_feats, train_labels, val_feats, val_labels, num_classes)
    if not weight_decays:
        raise HeadstartError("no L2 strengths to try", fix=f"pass weight_decays, e.g. {WEIGHT_DECAYS}")
    x = train_feats.float()
    mean, std = _moments(x)
    x, val = (x - mean) / std, (val_feats.to(x.device).float() - mean) / std  # standardised
    y, val_y = train_labels.to(x.device).long(), val_labels.to(x.device).long()
    val_acc, wd, weight, bias, sweep, losses = _sweep(x, y, val, val_y, num_classes, weight_decays, max_iter)
    linear = _fold(weight, bias, mean, std)
    test_acc = None
    if test_feats is not None and test_labels is not None:
        with torch.no_grad():
            test_acc = _accuracy(linear(test_feats.to(x.device).float()), test_labels.to(x.device))
    return LinearProbeResult(linear, wd, val_acc, test_acc, sweep, losses, len(val_y) < LOSS_SELECT_BELOW)


def _sweep(x: torch.Tensor, y: torch.Tensor, val: torch.Tensor, val_y: torch.Tensor, num_classes: int,
           weight_decays: Sequence[float], max_iter: int) -> tuple:
    """Fit from the strongest L2 to the weakest, each warm-started from the last; keep the best on val
    (lowest loss on a small val split, else highest accuracy)."""
    by_loss = len(val_y) < LOSS_SELECT_BELOW  # as LinearProbeResult.score
    weight = torch.zeros(num_classes, x.shape[1], device=x.device)  # a constant feature keeps weight 0
    bias = torch.zeros(num_classes, device=x.device)
    best, sweep, losses = None, {}, {}
    for wd in sorted(weight_decays, reverse=True):
        weight, bias = _fit(x, y, weight, bias, wd, max_iter)
        logits = val @ weight.T + bias
        sweep[wd], losses[wd] = _accuracy(logits, val_y), F.cross_entropy(logits, val_y).item()
        score = -losses[wd] if by_loss else sweep[wd]
        if best is None or score > best[0]:  # strict: a tie keeps the stronger L2
            best = (score, sweep[wd], wd, weight, bias)
    return (*best[1:], sweep, losses)


def _fit(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, wd: float,
         max_iter: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimise mean cross-entropy + wd/2 * |W|^2 (bias unpenalised) by full-batch L-BFGS."""
    weight = weight.clone().requires_grad_(True)
    bias = bias.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([weight, bias], lr=1, max_iter=max_iter, history_size=10,
                            tolerance_grad=1e-6, tolerance_change=1e-9, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(x @ weight.T + bias, y) + 0.5 * wd * weight.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return weight.detach(), bias.detach()


def _moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean and std; a constant feature gets std 1 (as sklearn's StandardScaler)."""
    mean, std = x.mean(dim=0), x.std(dim=0)
    constant = std <= 10 * torch.finfo(x.dtype).eps * mean.abs().clamp(min=1)
    return mean, torch.where(constant, torch.ones_like(std), std)


def _fold(weight: torch.Tensor, bias: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> nn.Linear:
    """W (x - m) / s + b  ==  (W / s) x + (b - (W / s) m)."""
    linear = nn.Linear(weight.shape[1], weight.shape[0], device=weight.device)
    with torch.no_grad():
        linear.weight.copy_(weight / std)
        linear.bias.copy_(bias - linear.weight @ mean)
    return linear


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return (logits.argmax(dim=1) == labels).float().mean().item()


def _check(train_feats: torch.Tensor, train_labels: torch.Tensor, val_feats: torch.Tensor,
           val_labels: torch.Tensor, num_classes: int) -> None:
    if train_feats.ndim != 2 or val_feats.ndim != 2 or train_feats.shape[1] != val_feats.shape[1]:
        raise HeadstartError(f"linear probe needs (N, D) features of one width, got train "
                             f"{tuple(train_feats.shape)} and val {tuple(val_feats.shape)}",
                             fix="extract every split with the same backbone")
    for name, feats, labels in (("train", train_feats, train_labels), ("val", val_feats, val_labels)):
        if len(feats) == 0 or len(feats) != len(labels):
            raise HeadstartError(f"linear probe got {len(feats)} {name} features and {len(labels)} labels",
                                 fix=f"pass one label per {name} feature, at least one")
        if labels.min() < 0 or labels.max() >= num_classes:
            raise HeadstartError(f"{name} labels span [{int(labels.min())}, {int(labels.max())}], outside "
                                 f"[0, {num_classes})", fix="drop unlabeled samples (label -1) first")
