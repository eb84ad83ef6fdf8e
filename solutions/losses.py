"""Losses of the practical: the categorical cross-entropy of the TP's Eq. (1), and soft Dice.

Eq. (1):  Loss = - sum_{i=1}^{C} t_i log(s_i),  t the one-hot ground truth, s the softmax scores,
averaged over the pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unet_tp.losses import soft_dice_loss  # one definition, shared with the student package


# --- notebook cell: cce_loss ---
def categorical_cross_entropy(logits, target, weight=None):
    """Categorical cross-entropy of Eq. (1), averaged over the pixels.

    For each pixel, ``-sum_i t_i log(s_i)`` with ``t`` the one-hot ground truth and ``s`` the
    softmax of the logits over the class dimension. Compute ``log(s)`` as
    ``logits - logsumexp(logits)``: ``softmax(...).log()`` gives ``log(0) = -inf`` as soon as
    the logits differ by more than about 100.

    Args:
        logits: ``(N, C, H, W)`` raw scores of the network (C classes).
        target: ``(N, H, W)`` integer class of each pixel, in ``[0, C)``.
        weight: optional ``(C,)`` class weights; each pixel's term is multiplied by the weight
            of its true class and the mean becomes ``sum(w * loss) / sum(w)``, as in
            ``torch.nn.functional.cross_entropy``.

    Returns:
        The loss, a scalar tensor.

    Example:
        >>> logits = torch.zeros(1, 2, 1, 1)  # one pixel, two classes, equal scores
        >>> categorical_cross_entropy(logits, torch.zeros(1, 1, 1, dtype=torch.long)).item()
        0.6931471824645996
    """
    ### BEGIN SOLUTION
    log_s = logits - torch.logsumexp(logits, dim=1, keepdim=True)  # log softmax, stably
    t = F.one_hot(target.long(), logits.shape[1]).movedim(-1, 1).to(log_s.dtype)  # one-hot
    per_pixel = -(t * log_s).sum(dim=1)  # Eq. (1): the sum over the classes
    if weight is None:
        return per_pixel.mean()
    pixel_weight = weight.to(log_s.dtype)[target.long()]
    return (per_pixel * pixel_weight).sum() / pixel_weight.sum()
    ### END SOLUTION


# --- end of notebook cell ---


def ce_dice_loss(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy plus soft Dice, the usual pairing for unbalanced segmentation."""
    return categorical_cross_entropy(logits, target, weight) + soft_dice_loss(logits, target)
