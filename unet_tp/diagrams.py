"""The network drawn by the kit from the same widths and sizes as the layer table: the U-Net of
the paper's Figure 1 and its overlap-tile strategy (Figure 2) (Ronneberger, Fischer and Brox,
"U-Net: Convolutional Networks for Biomedical Image Segmentation", MICCAI 2015, arXiv:1505.04597).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from unet_tp.i18n import tr, translated
from unet_tp.unet_base import UNetBase

ARROWS = {  # meaning -> colour, as in the paper's legend
    "conv 3x3, ReLU": "#1f4e9c",
    "copy and crop": "#8c8c8c",
    "max pool 2x2": "#c0392b",
    "up-conv 2x2": "#27ae60",
    "conv 1x1": "#16a085",
}


@dataclass
class FeatureMap:
    """One bar of the figure: a feature map at a level of the U."""

    level: int
    channels: int
    size: int
    x: float = 0.0
    copied: bool = False  # the cropped copy from the contracting path


def unet_feature_maps(
    in_size: int = 572, in_channels: int = 1, num_classes: int = 2, base: int = 64, depth: int = 4
) -> tuple[list[FeatureMap], list[tuple[int, int, str]]]:
    """The feature maps of the unpadded U-Net for an ``in_size`` input, and the arrows between
    them as ``(from index, to index, meaning)``.

    Raises:
        ValueError: when the unpadded network cannot take ``in_size`` (the nearest valid sizes).
    """
    net = UNetBase(in_channels, num_classes, base, depth, padding=False)
    if net.output_size(in_size) is None:
        raise ValueError(
            f"the unpadded U-Net cannot take {in_size}: try {net.nearest_valid_sizes(in_size)}"
        )
    maps, arrows = [FeatureMap(0, in_channels, in_size)], []

    def add(level, channels, size, meaning, src=None, copied=False):
        arrows.append((len(maps) - 1 if src is None else src, len(maps), meaning))
        maps.append(FeatureMap(level, channels, size, copied=copied))

    skips = []
    for level, width in enumerate(net.widths):
        if level:
            add(level, maps[-1].channels, maps[-1].size // 2, "max pool 2x2")
        add(level, width, maps[-1].size - 2, "conv 3x3, ReLU")
        add(level, width, maps[-1].size - 2, "conv 3x3, ReLU")
        skips.append(len(maps) - 1)
    for level in range(depth - 1, -1, -1):
        width, below = net.widths[level], len(maps) - 1
        add(level, width, maps[below].size * 2, "copy and crop", src=skips[level], copied=True)
        add(level, width, maps[below].size * 2, "up-conv 2x2", src=below)
        add(level, width, maps[-1].size - 2, "conv 3x3, ReLU")
        add(level, width, maps[-1].size - 2, "conv 3x3, ReLU")
    add(0, num_classes, maps[-1].size, "conv 1x1")
    return maps, arrows


def _layout(maps: list[FeatureMap], arrows) -> None:
    """x of each bar: one step per convolution, the up-conv's output beside its cropped copy."""
    x = 0.0
    for i, fmap in enumerate(maps):
        meaning = next((m for src, dst, m in arrows if dst == i), None)
        if meaning == "up-conv 2x2":
            fmap.x = x = maps[i - 1].x + _bar_width(maps[i - 1])
            continue
        x += {"max pool 2x2": 0.0, "copy and crop": 1.0, None: 0.0}.get(meaning, 1.1)
        fmap.x = x


def _bar_width(fmap: FeatureMap) -> float:
    return 0.12 + 0.06 * math.log2(max(fmap.channels, 1))


def _bar_height(fmap: FeatureMap, in_size: int) -> float:
    return 2.6 * math.sqrt(fmap.size / in_size)


def _arrow_ends(a: FeatureMap, b: FeatureMap, meaning: str, top: dict, in_size: int):
    """Pooling goes down from a bar's bottom, up-convolution up from above the channel count;
    the others go right, at mid-height of the smaller bar."""
    if meaning == "max pool 2x2":
        x = a.x + _bar_width(a) / 2
        return (x, top[a.level] - _bar_height(a, in_size)), (x, top[b.level] + 0.45)
    if meaning == "up-conv 2x2":
        start = (a.x + _bar_width(a) / 2, top[a.level] + 0.45)
        return start, (b.x + _bar_width(b) / 2, top[b.level] - _bar_height(b, in_size))
    y = top[a.level] - min(_bar_height(a, in_size), _bar_height(b, in_size)) / 2
    return (a.x + _bar_width(a), y), (b.x, y)


def draw_unet(
    in_size: int = 572, in_channels: int = 1, num_classes: int = 2, base: int = 64, depth: int = 4
) -> Figure:
    """The paper's U-Net as a figure: one bar per feature map (channels above, size beside),
    arrows for the convolutions, max pooling, up-convolution and copy-and-crop.

    Args:
        in_size: input tile size (572 in the paper: output 388).
        in_channels, num_classes, base, depth: as :class:`unet_tp.unet_base.UNetBase`.
    """
    maps, arrows = unet_feature_maps(in_size, in_channels, num_classes, base, depth)
    _layout(maps, arrows)
    fig = _figure(figsize=(13, 7.5), layout="constrained")
    ax = fig.add_subplot()
    top = {m.level: -4.2 * m.level for m in maps}
    size_label = {"ha": "right", "va": "bottom", "fontsize": 6, "rotation": 90}
    for i, fmap in enumerate(maps):
        w, h = _bar_width(fmap), _bar_height(fmap, in_size)
        face = "#dbe9f6" if fmap.copied else "#4a90d9"
        ax.add_patch(Rectangle((fmap.x, top[fmap.level] - h), w, h, fc=face, ec="black", lw=0.6))
        ax.text(fmap.x + w / 2, top[fmap.level] + 0.1, str(fmap.channels), ha="center", fontsize=7)
        if not maps[i - 1].copied:  # an up-conv's output: its size is its copy's
            ax.text(fmap.x - 0.05, top[fmap.level] - h, f"{fmap.size}²", **size_label)
    for src, dst, meaning in arrows:
        ends = _arrow_ends(maps[src], maps[dst], meaning, top, in_size)
        style = {"arrowstyle": "-|>", "mutation_scale": 9, "color": ARROWS[meaning], "lw": 1.2}
        ax.add_patch(FancyArrowPatch(*ends, **style))
    for i, (meaning, colour) in enumerate(ARROWS.items()):  # the legend
        y = 0.30 - 0.05 * i
        ax.text(
            0.80,
            y,
            translated(meaning),
            transform=ax.transAxes,
            fontsize=9,
            color=colour,
            va="center",
        )
    out = maps[-1]
    ax.set_title(
        tr(
            "U-Net (Ronneberger et al. 2015): input {size}x{size}x{channels}, output "
            "{out}x{out}x{classes}, unpadded 3x3 convolutions",
            size=in_size,
            channels=in_channels,
            out=out.size,
            classes=num_classes,
        )
    )
    ax.set_xlim(-0.6, maps[-1].x + 1)
    ax.set_ylim(-4.2 * depth - 3, 0.8)
    ax.set_axis_off()
    return fig


def _figure(**kwargs) -> Figure:
    """A figure made through pyplot, which sets up the notebook's display of figures (a bare
    ``Figure`` as a cell's value showed as text when no plot had been drawn yet), then closed
    there: the notebook shows it once, as the cell's value."""
    fig = plt.figure(**kwargs)
    plt.close(fig)
    return fig


def _box(ax, xy, size: int, colour: str, filled: bool = False, lw: float = 2) -> None:
    face = {"fc": colour, "alpha": 0.35} if filled else {"fill": False}
    ax.add_patch(Rectangle(xy, size, size, ec=colour, lw=lw, **face))


def draw_overlap_tile(
    image: np.ndarray | None = None,
    out_tile: int = 100,
    depth: int = 4,
    tile: tuple[int, int] = (1, 0),
) -> Figure:
    """The overlap-tile strategy (the paper's Figure 2) on ``image``: mirror-padded by the unpadded
    network's border, its output tiles, and one tile's input beside the output it predicts.

    Args:
        image: a 2D slice (e.g. a FLAIR slice); default a drawn disc.
        out_tile: output tile size, rounded up to one the unpadded network gives (at most half
            the image's side, so that several tiles show: 32 for a 64x64 slice).
        depth: poolings of the U-Net (its border loss grows with the depth).
        tile: (row, column) of the tile shown (the last one if the image has fewer).
    """
    if image is None:
        yy, xx = np.mgrid[-1:1:240j, -1:1:240j]
        image = (xx**2 / 0.6 + yy**2 / 0.8 < 1) * (1 + 0.5 * np.cos(9 * xx) * np.sin(7 * yy))
    h, w = image.shape
    out_tile = min(out_tile, max(16, min(h, w) // 2))
    net = UNetBase(padding=False, depth=depth)
    in_tile, out_tile, margin, rows, cols = net.tiles(h, w, out_tile)
    pad = ((margin, margin + rows * out_tile - h), (margin, margin + cols * out_tile - w))
    padded = np.pad(np.asarray(image, dtype=float), pad, mode="symmetric")  # mirrored
    ph, pw = padded.shape
    fig = _figure(figsize=(11, 5.2), layout="constrained")
    whole, zoom = fig.subplots(1, 2)
    whole.imshow(padded, cmap="gray", extent=(-margin, pw - margin, ph - margin, -margin))
    whole.add_patch(Rectangle((0, 0), w, h, fill=False, ec="white", ls="--", lw=1))
    for r in range(rows):
        for c in range(cols):
            _box(whole, (c * out_tile, r * out_tile), out_tile, "#f1c40f", lw=0.6)
    y0, x0 = min(tile[0], rows - 1) * out_tile, min(tile[1], cols - 1) * out_tile
    _box(whole, (x0 - margin, y0 - margin), in_tile, "#3498db")
    _box(whole, (x0, y0), out_tile, "#f1c40f", filled=True)
    whole.set_title(
        tr(
            "{w}x{h} slice (dashed) mirrored by {margin} px; output tiles of {out}",
            w=w,
            h=h,
            margin=margin,
            out=out_tile,
        )
    )
    zoom.imshow(padded[y0 : y0 + in_tile, x0 : x0 + in_tile], cmap="gray")
    _box(zoom, (margin - 0.5, margin - 0.5), out_tile, "#f1c40f", filled=True)
    zoom.set_title(
        tr(
            "the blue tile: input {size}x{size} -> output {out}x{out} (yellow)",
            size=in_tile,
            out=out_tile,
        )
    )
    for ax in (whole, zoom):
        ax.set_axis_off()
    return fig
