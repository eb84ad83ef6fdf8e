"""Data conventions of BraTS 2019, written down once (in the spirit of nnU-Net's dataset.json).

Labels
    BraTS files hold 0 background, 1 necrotic / non-enhancing tumour core (NCR/NET),
    2 peritumoral edema (ED), 4 GD-enhancing tumour (ET); there is no label 3.
    The network is trained on contiguous classes 0..3; :func:`to_train_labels` and
    :func:`to_brats_labels` are the only two places where labels are mapped.

Regions (what BraTS scores)
    whole tumour WT = {1, 2, 4}, tumour core TC = {1, 4}, enhancing tumour ET = {4}.

Orientation
    Every volume is reoriented to the *working orientation* ``("P", "L", "S")``: array axis 0 runs
    anterior -> posterior (image rows, anterior at the top), axis 1 runs the patient's right ->
    left (image columns, so the patient's left is on the image's right, as radiologists read an
    axial slice), axis 2 runs inferior -> superior (axial slice index). ``volume[:, :, z]`` can
    therefore be shown with ``imshow`` as is.
"""

from __future__ import annotations

import numpy as np

MODALITIES: tuple[str, ...] = ("t1", "t1ce", "t2", "flair")
"""Channel order of every image tensor in the kit."""

BRATS_LABELS: tuple[int, ...] = (0, 1, 2, 4)
"""Label values found in BraTS segmentation files."""

LABEL_NAMES: dict[int, str] = {
    0: "background",
    1: "necrotic / non-enhancing core",
    2: "edema",
    4: "enhancing tumour",
}

REGIONS: dict[str, tuple[int, ...]] = {"wt": (1, 2, 4), "tc": (1, 4), "et": (4,)}
"""BraTS evaluation regions, on the original labels."""

NUM_CLASSES = 4
"""Classes the network predicts: 0 background, 1 NCR/NET, 2 ED, 3 ET (= BraTS label 4)."""

WORKING_ORIENTATION: tuple[str, str, str] = ("P", "L", "S")

BRATS_SHAPE: tuple[int, int, int] = (240, 240, 155)
"""Voxel grid of every BraTS 2019 volume (1 mm isotropic, SRI24 space)."""

BRATS_AFFINE = np.array(
    [[-1.0, 0.0, 0.0, -0.0], [0.0, -1.0, 0.0, 239.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)
"""Voxel-to-world affine of the BraTS 2019 files (axes L, P, S in RAS+ world coordinates)."""

_TO_TRAIN = np.full(256, 255, dtype=np.uint8)
_TO_TRAIN[list(BRATS_LABELS)] = np.arange(len(BRATS_LABELS), dtype=np.uint8)
_TO_BRATS = np.array(BRATS_LABELS, dtype=np.uint8)


def to_train_labels(seg: np.ndarray) -> np.ndarray:
    """Map BraTS labels {0, 1, 2, 4} to contiguous classes {0, 1, 2, 3}.

    Args:
        seg: integer array of BraTS labels.

    Returns:
        uint8 array of the same shape with classes 0..3.

    Raises:
        ValueError: if ``seg`` holds a value outside {0, 1, 2, 4}.

    Example:
        >>> to_train_labels(np.array([0, 1, 2, 4])).tolist()
        [0, 1, 2, 3]
    """
    seg = np.asarray(seg)
    bad = np.setdiff1d(np.unique(seg), BRATS_LABELS)
    if bad.size:
        raise ValueError(f"labels {bad.tolist()} are not BraTS labels {list(BRATS_LABELS)}")
    return _TO_TRAIN[seg.astype(np.uint8)]


def to_brats_labels(classes: np.ndarray) -> np.ndarray:
    """Map network classes {0, 1, 2, 3} back to BraTS labels {0, 1, 2, 4} (inverse of the above)."""
    classes = np.asarray(classes)
    if classes.size and (classes.min() < 0 or classes.max() >= NUM_CLASSES):
        raise ValueError(f"classes must lie in 0..{NUM_CLASSES - 1}")
    return _TO_BRATS[classes.astype(np.intp)]


def region_mask(seg: np.ndarray, region: str) -> np.ndarray:
    """Boolean mask of a BraTS region ("wt", "tc" or "et") on an array of BraTS labels."""
    try:
        labels = REGIONS[region.lower()]
    except KeyError:
        raise ValueError(f"unknown region {region!r}; expected one of {list(REGIONS)}") from None
    return np.isin(seg, labels)
