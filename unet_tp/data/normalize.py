"""Intensity normalisation: z-score of each modality over the brain mask."""

from __future__ import annotations

import numpy as np


def brain_mask(image: np.ndarray) -> np.ndarray:
    """Voxels inside the brain: BraTS volumes are skull-stripped, so brain = non-zero in any modality.

    Args:
        image: ``(channels, ...)`` array of raw intensities.

    Returns:
        Boolean array of ``image.shape[1:]``.
    """
    return np.any(image != 0, axis=0)


def zscore(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Normalise each channel to zero mean, unit variance over ``mask``; zero outside it.

    Statistics are taken over the brain only: the background (about 85% of a BraTS volume) would
    otherwise dominate the mean and squash the contrasts inside the brain.

    Args:
        image: ``(channels, ...)`` raw intensities.
        mask: boolean brain mask of ``image.shape[1:]``.

    Returns:
        float32 array of ``image.shape``.
    """
    out = np.zeros(image.shape, dtype=np.float32)
    if not mask.any():
        return out
    for c in range(image.shape[0]):
        values = image[c][mask].astype(np.float64)
        std = values.std()
        out[c][mask] = (values - values.mean()) / (std if std > 0 else 1.0)
    return out
