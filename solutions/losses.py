"""Losses of the practical: the categorical cross-entropy of the TP's Eq. (1), and soft Dice.

Eq. (1):  Loss = - sum_{i=1}^{C} t_i log(s_i),  t the one-hot ground truth, s the softmax scores,
averaged over the pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def categorical_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
) -> torch.Tensor:
    """Categorical cross-entropy of Eq. (1), mean over pixels.

    ``log softmax`` is computed as ``logits - logsumexp(logits)``, which stays finite for logits
    of any size (a plain ``softmax(...).log()`` gives ``log(0) = -inf`` from about |logit| > 100).

    Args:
        logits: ``(N, C, ...)`` raw network scores.
        target: ``(N, ...)`` integer classes in ``[0, C)`` (or ``ignore_index``).
        weight: optional ``(C,)`` class weights; the mean is then weighted,
            ``sum(w_t * loss) / sum(w_t)``, as in ``torch.nn.functional.cross_entropy``.
        ignore_index: pixels with this target count neither in the sum nor in the mean.

    Returns:
        Scalar loss.

    Example:
        >>> logits = torch.tensor([[[0.0], [0.0]]])  # 1 pixel, 2 classes, equal scores
        >>> categorical_cross_entropy(logits, torch.tensor([[0]])).item()  # -log(1/2)
        0.6931471824645996
    """
    num_classes = logits.shape[1]
    log_s = logits - torch.logsumexp(logits, dim=1, keepdim=True)  # log softmax, stably
    valid = (
        torch.ones_like(target, dtype=torch.bool)
        if ignore_index is None
        else target != ignore_index
    )
    safe_target = torch.where(valid, target, torch.zeros_like(target))
    t = F.one_hot(safe_target.long(), num_classes).movedim(-1, 1).to(log_s.dtype)  # (N, C, ...)
    per_pixel = -(t * log_s).sum(dim=1)  # Eq. (1): sum over the classes
    pixel_weight = valid.to(log_s.dtype)
    if weight is not None:
        pixel_weight = pixel_weight * weight.to(log_s.dtype)[safe_target.long()]
    return (per_pixel * pixel_weight).sum() / pixel_weight.sum()


def soft_dice_loss(
    logits: torch.Tensor, target: torch.Tensor, include_background: bool = False, eps: float = 1e-5
) -> torch.Tensor:
    """1 - mean soft Dice over classes, computed on the softmax scores over the whole batch.

    Args:
        logits: ``(N, C, ...)``.
        target: ``(N, ...)`` integer classes.
        include_background: also score class 0 (usually not: it is easy and dominates).
        eps: smoothing, so that a class absent from both scores 1.
    """
    probs = logits.softmax(dim=1)
    t = F.one_hot(target.long(), logits.shape[1]).movedim(-1, 1).to(probs.dtype)
    dims = (0, *range(2, logits.ndim))
    intersection = (probs * t).sum(dims)
    total = probs.sum(dims) + t.sum(dims)
    dice = (2 * intersection + eps) / (total + eps)
    if not include_background:
        dice = dice[1:]
    return 1 - dice.mean()


def ce_dice_loss(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy plus soft Dice, the usual pairing for unbalanced segmentation."""
    return categorical_cross_entropy(logits, target, weight) + soft_dice_loss(logits, target)
