"""Block (g) of the notebook: predicting classes and scoring them with the Dice coefficient."""

from __future__ import annotations

import numpy as np
import torch


# --- notebook cell: predict_dice ---
@torch.no_grad()
def predict(model, images):
    """Class of each pixel: the argmax of the logits over the classes, the model in eval mode.

    Args:
        model: the trained network.
        images: ``(N, 4, H, W)`` batch of slices.

    Returns:
        ``(N, H, W)`` integer tensor of classes.
    """
    ### BEGIN SOLUTION
    model.eval()  # batch norm uses its running statistics, not the batch's
    return model(images).argmax(dim=1)
    ### END SOLUTION


def dice_score(pred, truth):
    """Dice coefficient ``2 |P & T| / (|P| + |T|)`` of two boolean masks (NumPy arrays).

    By the BraTS convention, two empty masks agree perfectly: Dice 1.0.

    Args:
        pred: predicted mask (any shape).
        truth: ground-truth mask of the same shape.

    Returns:
        A float in ``[0, 1]``.
    """
    ### BEGIN SOLUTION
    pred, truth = pred.astype(bool), truth.astype(bool)
    sizes = pred.sum() + truth.sum()  # |P| + |T|
    if sizes == 0:
        return 1.0  # both empty
    return float(2 * np.logical_and(pred, truth).sum() / sizes)
    ### END SOLUTION


# --- end of notebook cell ---
