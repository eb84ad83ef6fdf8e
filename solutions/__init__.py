"""Reference solutions of the practical (instructor side; never shipped to students).

The blocks here are the single source of truth for the notebook's solution cells: the nbgrader
source notebook is generated from / checked against this code.
"""

from __future__ import annotations

from solutions.losses import categorical_cross_entropy, ce_dice_loss, soft_dice_loss
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
    "soft_dice_loss",
]
