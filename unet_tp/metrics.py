"""BraTS evaluation: Dice and HD95 per region (WT {1, 2, 4}, TC {1, 4}, ET {4}), per patient, on
whole 3D volumes (a per-slice mean would count every tumour-free slice as perfect). As the
challenge: Dice is 1 when prediction and truth are both empty, 0 when one is; HD95 (both
directions pooled, as medpy's) is 0 when both are empty, the volume's diagonal when one is.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from unet_tp.conventions import BRATS_SHAPE, REGIONS, region_mask

HD95_EMPTY = float(np.sqrt(sum(s * s for s in BRATS_SHAPE)))  # 373.13 mm
"""HD95 when exactly one of prediction and truth is empty: the volume's diagonal."""


def dice_from_counts(intersection, predicted, true) -> np.ndarray:
    """Dice from voxel counts, elementwise: ``2 |P & T| / (|P| + |T|)``, 1 where both are empty
    (the kit's one Dice formula: :func:`dice` and the training loop's validation use it)."""
    inter = np.asarray(intersection, dtype=np.float64)
    total = np.asarray(predicted, dtype=np.float64) + np.asarray(true, dtype=np.float64)
    return np.where(total > 0, 2.0 * inter / np.maximum(total, 1), 1.0)


def dice_agrees(value: float, want: float) -> bool:
    """Whether ``value`` is the Dice ``want`` to float32's precision (torch's default dtype: a
    Dice of counts divided in float32 is right; honest round 33), and 0 to 1e-9 where the masks
    do not overlap (where a smoothing term ``eps`` shows)."""
    return abs(value - want) <= 1e-6 * abs(want) + 1e-9


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice coefficient of two boolean masks (1 if both are empty).

    Example:
        >>> dice(np.array([1, 1, 0], bool), np.array([1, 0, 0], bool))
        0.6666666666666666
    """
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    return float(dice_from_counts(np.logical_and(pred, truth).sum(), pred.sum(), truth.sum()))


def _surface(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndimage.binary_erosion(
        mask, structure=ndimage.generate_binary_structure(mask.ndim, 1)
    )


class SliceSpacing(tuple):
    """Voxel sizes (mm) of a volume holding some slices of a case, with the case's slice each
    was (``z``): HD95 measures them where they were (a slice cache keeps every tumour slice and
    a share of the others: stacked side by side, data round 20's HD95 was 13 mm for 49)."""

    z: tuple[int, ...]

    def __new__(cls, sizes: tuple[float, ...], z: tuple[int, ...]) -> SliceSpacing:
        spacing = super().__new__(cls, sizes)
        spacing.z = tuple(int(i) for i in z)
        return spacing

    def __getnewargs__(self) -> tuple:  # (copied and pickled with its slices)
        return tuple(self), self.z


def _where_they_were(mask: np.ndarray, z: tuple[int, ...]) -> np.ndarray:
    """``mask``'s slices (last axis) at the case's slices ``z``, the others empty."""
    placed = np.zeros((*mask.shape[:-1], max(z) - min(z) + 1), bool)
    placed[..., np.asarray(z) - min(z)] = mask
    return placed


def hd95(pred: np.ndarray, truth: np.ndarray, spacing: tuple[float, ...] | None = None) -> float:
    """95th-percentile Hausdorff distance between two boolean masks of one shape, in mm (voxel
    ``spacing`` per axis, default 1 mm as BraTS; a :class:`SliceSpacing` puts each slice where
    it was); 0 if both are empty, :data:`HD95_EMPTY` if exactly one is."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    if pred.shape != truth.shape:
        raise ValueError(f"shapes differ: {pred.shape} vs {truth.shape}")
    z = getattr(spacing, "z", None)
    if z and len(z) == pred.shape[-1] and len(set(z)) == len(z):
        pred, truth = _where_they_were(pred, z), _where_they_were(truth, z)
    has_pred, has_truth = pred.any(), truth.any()
    if not has_pred and not has_truth:
        return 0.0
    if has_pred != has_truth:
        return HD95_EMPTY
    spacing = tuple(spacing or (1.0,) * pred.ndim)
    # Distance transforms on the bounding box of both masks (plus a margin) instead of the volume.
    both = pred | truth
    where = np.argwhere(both)
    lo, hi = np.maximum(where.min(axis=0) - 2, 0), np.minimum(where.max(axis=0) + 3, pred.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    sp, st = _surface(pred[box]), _surface(truth[box])
    to_truth = ndimage.distance_transform_edt(~st, sampling=spacing)
    to_pred = ndimage.distance_transform_edt(~sp, sampling=spacing)
    distances = np.concatenate([to_truth[sp], to_pred[st]])
    return float(np.percentile(distances, 95))


def brats_metrics(
    pred_seg: np.ndarray, true_seg: np.ndarray, spacing: tuple[float, ...] | None = None
) -> dict[str, float]:
    """``{"dice_wt", "dice_tc", "dice_et", "hd95_wt", "hd95_tc", "hd95_et"}`` of one patient's
    predicted and true BraTS labels (voxel ``spacing`` default 1 mm)."""
    out: dict[str, float] = {}
    for region in REGIONS:
        p, t = region_mask(pred_seg, region), region_mask(true_seg, region)
        out[f"dice_{region}"] = dice(p, t)
        out[f"hd95_{region}"] = hd95(p, t, spacing)
    return {k: out[k] for k in sorted(out, key=lambda k: (k.startswith("hd"), k))}


def mean_metrics(per_case: dict[str, dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over patients."""
    if not per_case:
        return {}
    keys = next(iter(per_case.values())).keys()
    return {k: float(np.mean([m[k] for m in per_case.values()])) for k in keys}
