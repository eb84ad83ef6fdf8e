"""Probe blocks: the grader's own implementations of the blocks others are built from.

When block (b) ``Down`` is graded, the notebook's ``DoubleConv`` is replaced by
:class:`ProbeDoubleConv` for the time of the request; when (c) ``Up`` is graded, ``DoubleConv`` and
``center_crop``; when (d) ``UNet`` is graded, every block. So a wrong ``DoubleConv`` costs (a) only,
and a wrong concatenation order costs (c) only.

This file is sent into the student's kernel (see ``harness.load_probes``) only after the blocks
the probes could stand in for have been answered. Parameters are created in the order of the
reference implementation, so that the reference weights load by order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ProbeDoubleConv(nn.Module):
    """(3x3 conv -> [BN] -> ReLU) x 2."""

    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        pad = int(bool(padding))
        layers = []
        for c_in in (in_channels, out_channels):
            layers += [nn.Conv2d(c_in, out_channels, 3, padding=pad, bias=not batch_norm)]
            layers += [nn.BatchNorm2d(out_channels)] if batch_norm else []
            layers += [nn.ReLU()]
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return self.block(x)


class ProbeDown(nn.Module):
    """2x2 max-pool, then a DoubleConv."""

    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        self.conv = ProbeDoubleConv(in_channels, out_channels, padding, batch_norm)

    def forward(self, x):
        return self.conv(F.max_pool2d(x, 2))


def probe_center_crop(x, height, width):
    """The centre window (top/left rounded down)."""
    top, left = (x.shape[-2] - height) // 2, (x.shape[-1] - width) // 2
    return x[..., top : top + height, left : left + width]


class ProbeUp(nn.Module):
    """2x2 up-convolution, crop (or pad) the skip, concatenate [skip, x], DoubleConv."""

    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        self.padding = padding
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, 2, stride=2)
        self.conv = ProbeDoubleConv(in_channels, out_channels, padding, batch_norm)

    def forward(self, x, skip):
        x = self.up(x)
        if not self.padding:
            skip = probe_center_crop(skip, x.shape[-2], x.shape[-1])
        elif x.shape[-2:] != skip.shape[-2:]:
            dh, dw = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
            x = F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class ProbeOutConv(nn.Module):
    """1x1 convolution to the classes."""

    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_classes, 1)

    def forward(self, x):
        return self.conv(x)


PROBES = {
    "DoubleConv": ProbeDoubleConv,
    "Down": ProbeDown,
    "Up": ProbeUp,
    "OutConv": ProbeOutConv,
    "center_crop": probe_center_crop,
}
