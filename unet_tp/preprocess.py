"""One preprocessing path from a loaded case to the network's input, and back, shared by the
slice cache, prediction and evaluation: the network sees at inference what it saw in training.
``normalise`` z-scores over the brain; ``network_images`` takes axial slices onto the network's
:class:`Grid` (centre crop, then resize), declared here once; ``Grid.from_network`` puts classes
back on the original slices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where it computes: `unet-tp --help` starts without it
    import torch


@dataclass(frozen=True)
class Grid:
    """The network's input grid: each axial slice centre-cropped (or zero-padded) to ``crop``
    (None: whole), then resized to ``image_size`` (None: kept) by area for images, nearest for
    labels, and back bilinearly for logits."""

    crop: int | None = None
    image_size: int | None = None

    def __post_init__(self) -> None:
        for name in ("crop", "image_size"):
            value = getattr(self, name)
            if value is not None and value < 8:
                raise ValueError(f"{name} must be at least 8 pixels, got {value}")

    @classmethod
    def of(cls, settings: object) -> Grid:
        """The grid of ``settings``: a Grid, or settings holding one as ``.grid``
        (:class:`unet_tp.settings.CacheSettings`, :class:`unet_tp.settings.TrainConfig`)."""
        return settings if isinstance(settings, Grid) else settings.grid

    def input_size(self, height: int = 240, width: int = 240) -> tuple[int, int]:
        """The network's input size for slices of ``height x width``."""
        size = self.image_size or self.crop
        return (size, size) if size is not None else (height, width)

    def to_network(self, arr: np.ndarray, is_label: bool = False) -> np.ndarray:
        """Crop/pad and resize slices ``(n, [C,] H, W)`` to this grid."""
        if self.crop is not None:
            arr = _fit(arr, self.crop)
        if self.image_size is None or arr.shape[-1] == self.image_size:
            return arr
        import torch
        import torch.nn.functional as F

        size = (self.image_size, self.image_size)
        if is_label:
            t = torch.from_numpy(arr[:, None].astype(np.float32))
            return F.interpolate(t, size=size, mode="nearest-exact").numpy()[:, 0].astype(np.uint8)
        return F.interpolate(
            torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)), size=size, mode="area"
        ).numpy()

    def from_network(self, logits: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Classes ``(n, height, width)`` on the original slices from logits on this grid (the
        inverse of :meth:`to_network`; background outside the crop)."""
        import torch.nn.functional as F

        crop_h, crop_w = (self.crop, self.crop) if self.crop is not None else (height, width)
        if logits.shape[-2:] != (crop_h, crop_w):
            logits = F.interpolate(
                logits.float(), size=(crop_h, crop_w), mode="bilinear", align_corners=False
            )
        classes = logits.argmax(dim=1)
        out = classes.new_zeros((classes.shape[0], height, width))
        # the same centre offsets as _fit, for crop (positive) and pad (negative)
        top, left = _offset(height, crop_h), _offset(width, crop_w)
        src_t, src_l = max(-top, 0), max(-left, 0)
        dst_t, dst_l = max(top, 0), max(left, 0)
        h, w = min(crop_h, height), min(crop_w, width)
        out[:, dst_t : dst_t + h, dst_l : dst_l + w] = classes[
            :, src_t : src_t + h, src_l : src_l + w
        ]
        return out


def _offset(n: int, size: int) -> int:
    """Where a centre crop of ``n`` pixels to ``size`` starts; a pad's, negative (its padding
    before: data round 21, a 121-pixel slice padded by 35 was read back from 36)."""
    return (n - size) // 2 if n >= size else -((size - n) // 2)


def _fit(arr: np.ndarray, size: int) -> np.ndarray:
    """Centre crop or zero pad the last two axes to ``size x size``."""
    out = arr
    for axis in (-2, -1):
        n = out.shape[axis]
        if n > size:
            start = _offset(n, size)
            out = np.take(out, np.arange(start, start + size), axis=axis)
        elif n < size:
            before = -_offset(n, size)
            pad = [(0, 0)] * out.ndim
            pad[axis] = (before, size - n - before)
            out = np.pad(out, pad)
    return out


def brain_mask(image: np.ndarray) -> np.ndarray:
    """Voxels inside the brain of a ``(channels, ...)`` raw image, boolean of ``image.shape[1:]``:
    BraTS volumes are skull-stripped, so brain = non-zero in any modality."""
    return np.any(image != 0, axis=0)


def zscore(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each channel of ``image`` (``(channels, ...)``) to zero mean, unit variance over ``mask``
    (the background would squash the brain's contrasts), zero outside it; float32."""
    out = np.zeros(image.shape, dtype=np.float32)
    if not mask.any():
        return out
    for c in range(image.shape[0]):
        values = image[c][mask].astype(np.float64)
        std = values.std()
        out[c][mask] = (values - values.mean()) / (std if std > 0 else 1.0)
    return out


def normalise(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(z-scored image, brain mask)`` of a case's raw ``(4, H, W, D)`` image (:func:`zscore`
    over :func:`brain_mask`)."""
    mask = brain_mask(image)
    return zscore(image, mask), mask


def brain_slices(mask: np.ndarray) -> np.ndarray:
    """Axial indices of the slices holding any brain (the ones worth segmenting)."""
    return np.flatnonzero(mask.any(axis=(0, 1)))


def network_images(image: np.ndarray, z: np.ndarray, grid: Grid) -> np.ndarray:
    """Axial slices ``z`` of a normalised ``(4, H, W, D)`` image as the network's input
    ``(n, 4, h, w)``."""
    return grid.to_network(np.moveaxis(image[..., z], -1, 0))


def network_labels(classes: np.ndarray, z: np.ndarray, grid: Grid) -> np.ndarray:
    """Axial slices ``z`` of a ``(H, W, D)`` class volume on the network's grid, uint8 ``(n, h, w)``."""
    labels = grid.to_network(np.moveaxis(classes[..., z], -1, 0), is_label=True)
    return np.ascontiguousarray(labels, dtype=np.uint8)
