"""Tiny BraTS-format cases (24x24x12 voxels) in any edition's naming, for fast reader tests."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from unet_tp.conventions import BRATS_AFFINE, EDITIONS, MODALITIES

SHAPE = (24, 24, 12)


def volumes(index: int = 0, shape: tuple[int, int, int] = SHAPE) -> tuple[dict, np.ndarray]:
    """Four int16 modalities (zero outside a box-shaped brain) and a BraTS 2019 seg (0/1/2/4)."""
    rng = np.random.default_rng(index)
    brain = np.zeros(shape, dtype=bool)
    cx, cy, cz = (s // 2 for s in shape)
    hx, hy, hz = shape[0] // 4, shape[1] // 4, shape[2] // 3  # about 17% of the volume, as BraTS
    brain[cx - hx : cx + hx, cy - hy : cy + hy, cz - hz : cz + hz] = True
    images = {}
    for k, m in enumerate(MODALITIES):
        vol = np.zeros(shape, dtype=np.int16)
        vol[brain] = rng.integers(200 + 100 * k, 400 + 100 * k, size=int(brain.sum()))
        images[m] = vol
    seg = np.zeros(shape, dtype=np.uint8)
    seg[cx - 4 : cx + 4, cy - 4 : cy + 4, cz - 2 : cz + 2] = 2
    seg[cx - 2 : cx + 2, cy - 2 : cy + 2, cz - 1 : cz + 1] = 4
    seg[cx - 1 : cx + 1, cy - 1 : cy + 1, cz] = 1
    return images, seg


def write_case(
    folder: Path,
    case_id: str,
    edition: str = "brats2019",
    index: int = 0,
    seg: bool = True,
    suffix: str = ".nii.gz",
    affine: np.ndarray = BRATS_AFFINE,
    labels: dict[int, int] | None = None,
    shape: tuple[int, int, int] = SHAPE,
) -> Path:
    """Write one case in ``folder/case_id`` with ``edition``'s file names and labels.

    Args:
        labels: BraTS 2019 label -> label written (default: the edition's own convention).
    """
    e = EDITIONS[edition]
    images, seg_2019 = volumes(index, shape)
    out = folder / case_id
    out.mkdir(parents=True, exist_ok=True)
    for m, vol in images.items():
        nib.Nifti1Image(vol, affine).to_filename(str(out / e.file_name(case_id, m, suffix)))
    if seg:
        # the first file label of each BraTS 2019 label (2024's cavity, 4, is background too)
        inverse = labels or {v: k for k, v in reversed(e.labels.items())}
        lut = np.zeros(256, dtype=np.uint8)
        for k, v in inverse.items():
            lut[k] = v
        nib.Nifti1Image(lut[seg_2019], affine).to_filename(
            str(out / e.file_name(case_id, "seg", suffix))
        )
    return out
