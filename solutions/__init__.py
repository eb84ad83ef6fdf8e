"""Reference solutions of the practical (instructor side; never shipped to students).

The blocks here are the single source of truth for the notebook's solution cells: each region
marked ``# --- notebook cell: ID ---`` is copied verbatim into the source notebook's cell of that
nbgrader id by ``unet-tp notebook build`` (which fails on a mismatch with ``--check``).
"""

from __future__ import annotations

from solutions.evaluation import dice_score, predict
from solutions.losses import categorical_cross_entropy, ce_dice_loss, soft_dice_loss
from solutions.training import train_step
from solutions.unet import DoubleConv, Down, OutConv, UNet, Up, center_crop

__all__ = [
    "DoubleConv",
    "Down",
    "OutConv",
    "UNet",
    "Up",
    "categorical_cross_entropy",
    "ce_dice_loss",
    "center_crop",
    "dice_score",
    "predict",
    "soft_dice_loss",
    "train_step",
]
