"""U-Net of Ronneberger, Fischer and Brox, MICCAI 2015 (arXiv:1505.04597), in PyTorch.

Contracting path: per level two unpadded 3x3 convolutions, each followed by a ReLU, then a 2x2
max-pool of stride 2; the number of channels doubles at each level (64 -> 1024). Expansive path:
a 2x2 up-convolution that halves the channels, concatenation with the centre-cropped feature map
of the same level, two 3x3 convolutions with ReLU. A final 1x1 convolution maps to the classes.
Weights are drawn from N(0, 2/N), N the fan-in, as in the paper (He initialisation).

The paper's network is unpadded (572x572 in, 388x388 out); ``padding=True`` keeps the output the
size of the input, which is what training on whole 240x240 BraTS slices wants.

The regions between ``# --- notebook cell: ID ---`` and ``# --- end of notebook cell ---`` are
the notebook's cells of the same nbgrader id, verbatim: ``unet-tp notebook build`` copies them
into the source notebook, and nbgrader turns each ``### BEGIN SOLUTION`` ... ``### END SOLUTION``
into a blank for the students.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from unet_tp.unet_base import UNetBase, predict_overlap_tile

__all__ = ["DoubleConv", "Down", "OutConv", "UNet", "Up", "center_crop", "predict_overlap_tile"]


# --- notebook cell: double_conv ---
class DoubleConv(nn.Module):
    """(3x3 convolution -> [batch norm] -> ReLU), twice.

    Args:
        in_channels: channels of the input.
        out_channels: channels of both convolutions' outputs.
        padding: False for the paper's unpadded convolutions (each one trims a 1-pixel border);
            True to keep the size (``padding=1``).
        batch_norm: a BatchNorm2d between each convolution and its ReLU (then the convolution
            needs no bias).
    """

    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        ### BEGIN SOLUTION
        pad = 1 if padding else 0
        layers = []
        for c_in in (in_channels, out_channels):
            layers.append(
                nn.Conv2d(c_in, out_channels, kernel_size=3, padding=pad, bias=not batch_norm)
            )
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
        self.block = nn.Sequential(*layers)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.block(x)
        ### END SOLUTION


# --- end of notebook cell ---


# --- notebook cell: down ---
class Down(nn.Module):
    """Contracting step: 2x2 max-pooling with stride 2, then a DoubleConv.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output (twice ``in_channels`` in the U-Net).
        padding, batch_norm: passed to the DoubleConv.
    """

    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        ### BEGIN SOLUTION
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels, padding, batch_norm)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.conv(self.pool(x))
        ### END SOLUTION


# --- end of notebook cell ---


# --- notebook cell: up ---
def center_crop(x, height, width):
    """The centre ``height x width`` window of a ``(N, C, H, W)`` tensor (the paper's "copy and
    crop": the skip connection is cropped to the size of the up-sampled map)."""
    ### BEGIN SOLUTION
    top = (x.shape[-2] - height) // 2
    left = (x.shape[-1] - width) // 2
    return x[..., top : top + height, left : left + width]
    ### END SOLUTION


class Up(nn.Module):
    """Expansive step: 2x2 up-convolution halving the channels, concatenation with the cropped
    skip connection (skip first, then the up-sampled map), then a DoubleConv.

    Args:
        in_channels: channels of the input from the level below (the up-convolution halves them;
            the concatenation with the skip brings them back to ``in_channels``).
        out_channels: channels of the output (half of ``in_channels`` in the U-Net).
        padding, batch_norm: passed to the DoubleConv.
    """

    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        self.padding = padding
        ### BEGIN SOLUTION
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels, padding, batch_norm)
        ### END SOLUTION

    def forward(self, x, skip):
        ### BEGIN SOLUTION
        x = self.up(x)
        if not self.padding:
            skip = center_crop(skip, x.shape[-2], x.shape[-1])
        elif x.shape[-2:] != skip.shape[-2:]:
            # padded net on a size not divisible by 2**depth: pad the up-sampled map instead
            dh, dw = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
            x = F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])
        return self.conv(torch.cat([skip, x], dim=1))
        ### END SOLUTION


# --- end of notebook cell ---


# --- notebook cell: unet ---
class OutConv(nn.Module):
    """1x1 convolution mapping the features to one score per class (given)."""

    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_classes, kernel_size=1)

    def forward(self, x):
        return self.conv(x)


class UNet(UNetBase):
    """The U-Net of Figure 1: ``inc``, ``depth`` Down steps, ``depth`` Up steps, ``outc``.

    ``UNetBase`` (from ``unet_tp``) stores the arguments in ``self.config``, gives the channel
    widths of each level in ``self.widths`` (``[64, 128, 256, 512, 1024]`` for the paper),
    initialises the weights as in the paper and checks the input.

    Args:
        in_channels: input channels (4 for BraTS: t1, t1ce, t2, flair).
        num_classes: output classes (4 for BraTS: background, NCR/NET, ED, ET).
        base_channels: channels of the first level (64 in the paper).
        depth: number of Down (and Up) steps (4 in the paper).
        padding: False: the paper's unpadded network (572 x 572 in, 388 x 388 out).
        batch_norm: batch normalisation in every DoubleConv.
    """

    def __init__(
        self,
        in_channels=4,
        num_classes=4,
        base_channels=64,
        depth=4,
        padding=False,
        batch_norm=False,
    ):
        super().__init__(in_channels, num_classes, base_channels, depth, padding, batch_norm)
        widths = self.widths
        ### BEGIN SOLUTION
        self.inc = DoubleConv(in_channels, widths[0], padding, batch_norm)
        self.downs = nn.ModuleList(
            Down(widths[i], widths[i + 1], padding, batch_norm) for i in range(depth)
        )
        self.ups = nn.ModuleList(
            Up(widths[i + 1], widths[i], padding, batch_norm) for i in reversed(range(depth))
        )
        self.outc = OutConv(widths[0], num_classes)
        ### END SOLUTION
        self.reset_parameters()

    def forward(self, x):
        self.check_input(x)  # a clear error for a wrong channel count or an invalid size
        ### BEGIN SOLUTION
        skips = []
        x = self.inc(x)
        for down in self.downs:  # contracting path
            skips.append(x)
            x = down(x)
        for up, skip in zip(self.ups, reversed(skips), strict=True):  # expansive path
            x = up(x, skip)
        return self.outc(x)
        ### END SOLUTION


# --- end of notebook cell ---
