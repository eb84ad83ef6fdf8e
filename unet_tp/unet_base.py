"""What every U-Net of the practical shares, apart from its layers (``DoubleConv``, ``Down``,
``Up``, the U-Net's ``__init__``/``forward``: what students write): the configuration, the He
initialisation of the paper, input checks that say what to do, size arithmetic, and the paper's
overlap-tile prediction.

Reference: Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015 (arXiv:1505.04597).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class UNetBase(nn.Module):
    """Configuration, initialisation, input checks and sizes of a U-Net.

    Args:
        in_channels: input channels (4 for BraTS: t1, t1ce, t2, flair).
        num_classes: output classes (4 for BraTS: background, NCR/NET, ED, ET).
        base_channels: channels of the first level (64 in the paper); doubled at each level.
        depth: number of pooling steps (4 in the paper).
        padding: ``False`` for the paper's unpadded convolutions (output smaller than input);
            ``True`` for same-size output.
        batch_norm: batch normalisation after each convolution (not in the paper).

    Example:
        >>> UNetBase(base_channels=64, depth=4).widths
        [64, 128, 256, 512, 1024]
    """

    def __init__(
        self,
        in_channels: int = 4,
        num_classes: int = 4,
        base_channels: int = 64,
        depth: int = 4,
        padding: bool = False,
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

    @property
    def widths(self) -> list[int]:
        """Channels of each level, top to bottom: ``base_channels * 2**level``."""
        return [self.config["base_channels"] * 2**i for i in range(self.config["depth"] + 1)]

    @widths.setter
    def widths(self, value) -> None:  # ``self.widths = [...]``, a habit: the same list is fine
        if list(value) != self.widths:
            raise ValueError(
                f"self.widths = {list(value)}: UNetBase computes the widths from base_channels "
                f"and depth ({self.widths}); read self.widths instead of setting it"
            )

    def reset_parameters(self) -> None:
        """He-normal weights (std sqrt(2 / fan_in)) and zero biases, as in the paper."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    @property
    def in_channels(self) -> int:
        return self.config["in_channels"]

    @in_channels.setter
    def in_channels(self, value: int) -> None:  # ``self.in_channels = in_channels``, a habit
        self.config["in_channels"] = value

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

    def tiles(self, height: int, width: int, tile: int) -> tuple[int, int, int, int, int]:
        """The overlap-tile grid of an image: ``(input tile, output tile, margin, rows, columns)``,
        the output tile ``tile`` rounded up to one the network gives."""
        in_tile = self.input_size_for(tile)
        tile = self.output_size(in_tile)
        return in_tile, tile, (in_tile - tile) // 2, -(-height // tile), -(-width // tile)


@torch.no_grad()
def predict_overlap_tile(
    model: UNetBase, image: torch.Tensor, tile: int | None = None
) -> torch.Tensor:
    """``(N, classes, H, W)`` logits of a whole ``(N, C, H, W)`` image by the paper's overlap-tile
    strategy: mirror-padded by the network's border loss, predicted tile by tile (``tile``: output
    tile size, default the image's, at most 388). A padded U-Net predicts the image at once, as
    does a model that is no :class:`UNetBase` (no ``config``: taken to keep the image's size).
    """
    config = getattr(model, "config", None)
    if not isinstance(config, dict) or config.get("padding", True):
        return model(image)
    n, _, h, w = image.shape
    in_tile, tile, margin, rows, cols = model.tiles(h, w, tile or min(max(h, w), 388))
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
