"""U-Net of Ronneberger, Fischer and Brox, MICCAI 2015 (arXiv:1505.04597), in PyTorch.

Contracting path: per level two unpadded 3x3 convolutions, each followed by a ReLU, then a 2x2
max-pool of stride 2; the number of channels doubles at each level (64 -> 1024). Expansive path:
a 2x2 up-convolution that halves the channels, concatenation with the centre-cropped feature map
of the same level, two 3x3 convolutions with ReLU. A final 1x1 convolution maps to the classes.
Weights are drawn from N(0, 2/N), N the fan-in, as in the paper (He initialisation).

The paper's network is unpadded (572x572 in, 388x388 out); ``padding=True`` keeps the output the
size of the input, which is what training on whole 240x240 BraTS slices wants.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DoubleConv(nn.Module):
    """(3x3 convolution -> [batch norm] -> ReLU) twice."""

    def __init__(
        self, in_channels: int, out_channels: int, padding: bool = False, batch_norm: bool = False
    ):
        super().__init__()
        pad = 1 if padding else 0
        layers: list[nn.Module] = []
        for c_in in (in_channels, out_channels):
            layers.append(
                nn.Conv2d(c_in, out_channels, kernel_size=3, padding=pad, bias=not batch_norm)
            )
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Down(nn.Module):
    """Contracting step: 2x2 max-pool with stride 2, then DoubleConv doubling the channels."""

    def __init__(
        self, in_channels: int, out_channels: int, padding: bool = False, batch_norm: bool = False
    ):
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels, padding, batch_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pool(x))


def center_crop(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Crop the centre ``height x width`` of a ``(N, C, H, W)`` tensor (the paper's "copy and crop")."""
    top = (x.shape[-2] - height) // 2
    left = (x.shape[-1] - width) // 2
    return x[..., top : top + height, left : left + width]


class Up(nn.Module):
    """Expansive step: 2x2 up-convolution halving the channels, crop and concatenate the skip,
    then DoubleConv."""

    def __init__(
        self, in_channels: int, out_channels: int, padding: bool = False, batch_norm: bool = False
    ):
        super().__init__()
        self.padding = padding
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels, padding, batch_norm)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        if not self.padding:
            skip = center_crop(skip, x.shape[-2], x.shape[-1])
        elif x.shape[-2:] != skip.shape[-2:]:
            # padded net on a size not divisible by 2**depth: pad the upsampled map to the skip's
            dh, dw = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
            x = F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class OutConv(nn.Module):
    """1x1 convolution mapping the features to one score per class."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class UNet(nn.Module):
    """U-Net (Ronneberger et al. 2015).

    Args:
        in_channels: input channels (4 for BraTS: t1, t1ce, t2, flair).
        num_classes: output classes (4 for BraTS: background, NCR/NET, ED, ET).
        base_channels: channels of the first level (64 in the paper); doubled at each level.
        depth: number of pooling steps (4 in the paper).
        padding: ``False`` for the paper's unpadded convolutions (output smaller than input);
            ``True`` for same-size output.
        batch_norm: add batch normalisation after each convolution (not in the paper).

    Example:
        >>> net = UNet(in_channels=1, num_classes=2, padding=False)
        >>> net(torch.zeros(1, 1, 572, 572)).shape
        torch.Size([1, 2, 388, 388])
        >>> sum(p.numel() for p in net.parameters())
        31030658
    """

    def __init__(
        self,
        in_channels: int = 4,
        num_classes: int = 4,
        base_channels: int = 64,
        depth: int = 4,
        padding: bool = True,
        batch_norm: bool = False,
    ):
        super().__init__()
        if depth < 1 or base_channels < 1:
            raise ValueError("depth and base_channels must be positive")
        self.config = dict(
            in_channels=in_channels,
            num_classes=num_classes,
            base_channels=base_channels,
            depth=depth,
            padding=padding,
            batch_norm=batch_norm,
        )
        widths = [base_channels * 2**i for i in range(depth + 1)]
        self.inc = DoubleConv(in_channels, widths[0], padding, batch_norm)
        self.downs = nn.ModuleList(
            Down(widths[i], widths[i + 1], padding, batch_norm) for i in range(depth)
        )
        self.ups = nn.ModuleList(
            Up(widths[i + 1], widths[i], padding, batch_norm) for i in reversed(range(depth))
        )
        self.outc = OutConv(widths[0], num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He-normal weights (std sqrt(2 / fan_in)) and zero biases, as in the paper."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        skips = []
        x = self.inc(x)
        for down in self.downs:  # contracting path
            skips.append(x)
            x = down(x)
        for up, skip in zip(self.ups, reversed(skips), strict=True):  # expansive path
            x = up(x, skip)
        return self.outc(x)

    # ---- input checks and sizes -------------------------------------------------------------

    @property
    def in_channels(self) -> int:
        return self.config["in_channels"]

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ValueError that says what to do for a wrong channel count or spatial size."""
        if x.ndim != 4:
            raise ValueError(
                f"UNet expects a (batch, channels, height, width) tensor, got shape {tuple(x.shape)}"
            )
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"UNet was built for {self.in_channels} input channels but got {x.shape[1]} "
                f"(input shape {tuple(x.shape)}); BraTS slices have 4: t1, t1ce, t2, flair"
            )
        min_size = 2 ** self.config["depth"]
        for size in x.shape[-2:]:
            if self.config["padding"]:
                if size < min_size:
                    raise ValueError(f"input size {size} is below {min_size} = 2**depth")
            elif self.output_size(size) is None:
                below, above = self.nearest_valid_sizes(size)
                near = " or ".join(str(s) for s in (below, above) if s is not None)
                raise ValueError(
                    f"the unpadded U-Net cannot take an input of size {size}: every 2x2 pooling must "
                    f"see an even size. Nearest valid sizes: {near}. Mirror-pad the image "
                    "(see predict_overlap_tile) or use padding=True."
                )

    def output_size(self, size: int) -> int | None:
        """Spatial output size for an input of ``size`` pixels, or None if the net cannot take it."""
        if self.config["padding"]:
            return size
        for _ in range(self.config["depth"]):
            size -= 4
            if size <= 0 or size % 2:
                return None
            size //= 2
        size -= 4
        if size <= 0:
            return None
        for _ in range(self.config["depth"]):
            size = size * 2 - 4
        return size

    def nearest_valid_sizes(self, size: int) -> tuple[int | None, int | None]:
        """Closest valid input sizes below and above ``size`` (unpadded net)."""
        below = next((s for s in range(size - 1, 0, -1) if self.output_size(s)), None)
        above = next(
            s
            for s in range(size + 1, size + 2 ** (self.config["depth"] + 2))
            if self.output_size(s)
        )
        return below, above

    def input_size_for(self, output: int) -> int:
        """Smallest valid input size whose output is at least ``output`` pixels."""
        size = output
        while not (self.output_size(size) and self.output_size(size) >= output):
            size += 1
        return size


@torch.no_grad()
def predict_overlap_tile(model: UNet, image: torch.Tensor, tile: int | None = None) -> torch.Tensor:
    """Logits for a whole image with the unpadded U-Net: the paper's overlap-tile strategy.

    The image is mirror-padded by the network's border loss, so that every output pixel sees
    real-looking context, and predicted tile by tile.

    Args:
        model: an unpadded (or padded) UNet.
        image: ``(N, C, H, W)``.
        tile: output tile size; default the smallest valid size covering the image (at most 388).

    Returns:
        ``(N, classes, H, W)`` logits.
    """
    if model.config["padding"]:
        return model(image)
    n, _, h, w = image.shape
    if tile is None:
        tile = min(max(h, w), 388)
    in_tile = model.input_size_for(tile)
    tile = model.output_size(in_tile)
    margin = (in_tile - tile) // 2
    rows, cols = -(-h // tile), -(-w // tile)
    bottom, right = rows * tile - h, cols * tile - w
    padded = _mirror_pad(image, margin, margin + bottom, margin, margin + right)
    out = image.new_zeros((n, model.config["num_classes"], rows * tile, cols * tile))
    for r in range(rows):
        for c in range(cols):
            window = padded[..., r * tile : r * tile + in_tile, c * tile : c * tile + in_tile]
            out[..., r * tile : (r + 1) * tile, c * tile : (c + 1) * tile] = model(window)
    return out[..., :h, :w]


def _mirror_pad(x: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """Reflect padding of any width (repeated reflections when wider than the image)."""
    while top or bottom or left or right:
        h, w = x.shape[-2:]
        t, b, l_, r = min(top, h - 1), min(bottom, h - 1), min(left, w - 1), min(right, w - 1)
        x = F.pad(x, [l_, r, t, b], mode="reflect")
        top, bottom, left, right = top - t, bottom - b, left - l_, right - r
    return x
