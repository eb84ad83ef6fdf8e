"""The losses the training loop uses by name (``config.optim.loss``) when the notebook gives none:
torch's cross-entropy (what the students' Eq. (1) computes) and cross-entropy + soft Dice.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from unet_tp.settings import LOSS_NAMES

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def soft_dice_loss(
    logits: torch.Tensor, target: torch.Tensor, include_background: bool = False, eps: float = 1e-5
) -> torch.Tensor:
    """1 - mean soft Dice over classes of ``(N, C, ...)`` logits against ``(N, ...)`` integer
    classes, on the softmax scores over the whole batch. ``include_background``: also score
    class 0 (usually not: it is easy and dominates); ``eps``: a class absent from both scores 1."""
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
    return F.cross_entropy(logits, target, weight) + soft_dice_loss(logits, target)


LOSSES: dict[str, LossFn] = dict(zip(LOSS_NAMES, (F.cross_entropy, ce_dice_loss), strict=True))


def loss_by_name(name: str) -> LossFn:
    """The loss called ``name`` in :data:`LOSSES` (``"ce"`` or ``"ce+dice"``)."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[name]
