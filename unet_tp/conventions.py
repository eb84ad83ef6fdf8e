"""Data conventions of BraTS 2019, written down once (in the spirit of nnU-Net's dataset.json).

Labels: 0 background, 1 NCR/NET, 2 edema (ED), 4 enhancing tumour (ET), no 3; the network is
trained on classes 0..3 (:func:`to_train_labels`, :func:`to_brats_labels`: the only two mappings).
Regions: whole tumour WT = {1, 2, 4}, tumour core TC = {1, 4}, ET = {4}. Every volume is turned to
the working orientation ``("P", "L", "S")``: rows anterior -> posterior, columns the patient's
right -> left, slices inferior -> superior, so ``imshow(volume[:, :, z])`` shows an axial slice as
radiologists read it. Each BraTS edition the kit reads is declared once in :data:`EDITIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unet_tp.i18n import translated

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


@dataclass(frozen=True)
class Edition:
    """How one BraTS edition names its files and labels its segmentations."""

    key: str  # short name: brats2019, brats2023, ...
    title: str  # what messages call it
    case_pattern: str  # regular expression a case id of this edition matches
    separator: str  # between the case id and the file kind ("_" or "-")
    file_kinds: dict[str, str]  # the file kind of each kit modality and of "seg" (t1ce -> t1c)
    labels: dict[int, int]  # file label -> BraTS 2019 label (the kit's internal labels)
    label_names: dict[int, str]  # meaning of each file label, for messages
    example_id: str = "<case>"  # a case id of this edition, for messages

    def file_name(self, case_id: str, kind: str, suffix: str = ".nii.gz") -> str:
        """Name of the ``kind`` file (a kit modality or ``"seg"``) of a case of this edition."""
        return f"{case_id}{self.separator}{self.file_kinds[kind]}{suffix}"

    def to_brats(self, seg: np.ndarray) -> np.ndarray:
        """Map this edition's labels to BraTS 2019 labels {0, 1, 2, 4} (identity for 2019-2021)."""
        return _relabel(seg, self.labels)

    def from_brats(self, seg: np.ndarray) -> np.ndarray:
        """BraTS 2019 labels back to this edition's (2023: ET 4 -> 3), as its seg files hold them."""
        return _relabel(seg, {v: k for k, v in self.labels.items() if v})  # (2024's 4 not made)

    def describe_labels(self) -> str:
        """The labels and their meaning, in the current language: "1 NCR/NET, 2 ED, 4 ET"."""
        return ", ".join(f"{k} {translated(v)}" for k, v in self.label_names.items() if k)


def _relabel(seg: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """``seg`` as uint8 with each label ``k`` of ``mapping`` made ``mapping[k]`` (others 0)."""
    if all(k == v for k, v in mapping.items()):
        return seg.astype(np.uint8)
    lut = np.zeros(256, dtype=np.uint8)
    for k, v in mapping.items():
        lut[k] = v
    return lut[seg.astype(np.uint8)]


_BRATS_2019_KINDS = {"t1": "t1", "t1ce": "t1ce", "t2": "t2", "flair": "flair", "seg": "seg"}
_BRATS_2023_KINDS = {"t1": "t1n", "t1ce": "t1c", "t2": "t2w", "flair": "t2f", "seg": "seg"}
_BRATS_2019 = (
    _BRATS_2019_KINDS,
    {0: 0, 1: 1, 2: 2, 4: 4},
    {0: "background", 1: "NCR/NET", 2: "ED", 4: "ET"},
)

EDITIONS: dict[str, Edition] = {
    e.key: e
    for e in (
        Edition("brats2019", "BraTS 2019", r"BraTS19_.+", "_", *_BRATS_2019),
        # BraTS 2020: the 2019 naming and labels. Quirk: training case 355 ships its seg as
        # W39_1998.09.19_Segm.nii (see SEG_FILE_QUIRK); it is read as that case's seg.
        Edition("brats2020", "BraTS 2020", r"BraTS20_.+", "_", *_BRATS_2019),
        Edition("brats2021", "BraTS 2021", r"BraTS2021_\d+", "_", *_BRATS_2019),
        # BraTS 2023 and 2024 glioma (BraTS-GLI-00000-000-t1n.nii.gz): 1 NETC, 2 SNFH, 3 ET (4
        # here); 2024's post-treatment cases add 4, the resection cavity: no tumour, background.
        Edition(
            "brats2023",
            "BraTS 2023-2024 glioma",
            r"BraTS-GLI-\d+-\d+",
            "-",
            _BRATS_2023_KINDS,
            {0: 0, 1: 1, 2: 2, 3: 4, 4: 0},
            {
                0: "background",
                1: "NETC",
                2: "SNFH",
                3: "ET",
                4: "RC (resection cavity: background)",
            },
            "BraTS-GLI-00000-000",
        ),
        # The other 2023 tumour types in the same naming (MET, SSA, PED 2023): 1 NETC, 2 SNFH, 3 ET.
        Edition(
            "brats2023-other",
            "BraTS 2023",
            r"BraTS-[A-Z]+-\d+-\d+",
            "-",
            _BRATS_2023_KINDS,
            {0: 0, 1: 1, 2: 2, 3: 4},
            {0: "background", 1: "NETC", 2: "SNFH", 3: "ET"},
            "BraTS-MET-00000-000",
        ),
        # Any other case id with the 2019-2021 file names (e.g. renamed cases, MSD converted).
        Edition("brats", "BraTS 2019-2021 naming", r".+", "_", *_BRATS_2019),
    )
}
"""Editions in the order they are tried; the last one takes any case id with 2019 file names."""

MSD_CHANNELS: tuple[str, ...] = ("flair", "t1", "t1ce", "t2")
"""Channel order of the 4D images of the Medical Segmentation Decathlon's Task01_BrainTumour."""

MSD_EDITION = Edition(
    "msd",
    "MSD Task01_BrainTumour",
    r"BRATS_\d+",
    "_",
    _BRATS_2019_KINDS,
    {0: 0, 1: 2, 2: 1, 3: 4},
    {0: "background", 1: "edema", 2: "non-enhancing tumour", 3: "enhancing tumour"},
)
"""MSD Task01 labels (1 edema, 2 non-enhancing, 3 enhancing) -> BraTS 2 / 1 / 4 at conversion."""

LABEL_CONVENTIONS: tuple[Edition, ...] = (EDITIONS["brats2019"], EDITIONS["brats2023"], MSD_EDITION)
"""The label conventions an unexpected label set is compared with, for advice."""

SEG_FILE_QUIRK = r"(?i)[^_]+_\d{4}\.\d{2}\.\d{2}_segm\.nii(\.gz)?"
"""A lone file of this name in a case folder without a seg is that case's seg (BraTS 2020's
case 355: ``W39_1998.09.19_Segm.nii``); it is named when read. Narrow on purpose: a file a
student saved beside a case (``seg.nii.gz``, ``<case>_autoseg.nii.gz``) is no ground truth."""

BRAIN_FRACTION_RANGE: tuple[float, float] = (0.01, 0.6)
"""Plausible share of the volume inside the brain mask (about 0.16 on BraTS; 1.0 means the
background is not zero, so the mask is the whole volume)."""


def matching_conventions(values: np.ndarray | list[int]) -> list[Edition]:
    """The label conventions whose label set holds every value in ``values``."""
    values = {int(v) for v in np.asarray(values).ravel()}
    return [e for e in LABEL_CONVENTIONS if values <= set(e.labels)]


_TO_TRAIN = np.full(256, 255, dtype=np.uint8)
_TO_TRAIN[list(BRATS_LABELS)] = np.arange(len(BRATS_LABELS), dtype=np.uint8)
_TO_BRATS = np.array(BRATS_LABELS, dtype=np.uint8)


def to_train_labels(seg: np.ndarray) -> np.ndarray:
    """Map BraTS labels {0, 1, 2, 4} to classes {0, 1, 2, 3} (a ValueError for any other value).

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


def region_classes() -> dict[str, tuple[int, ...]]:
    """:data:`REGIONS` in network classes: wt (1, 2, 3), tc (1, 3), et (3,)."""
    return {r: tuple(to_train_labels(np.array(labels)).tolist()) for r, labels in REGIONS.items()}


def region_mask(seg: np.ndarray, region: str) -> np.ndarray:
    """Boolean mask of a BraTS region ("wt", "tc" or "et") on an array of BraTS labels."""
    try:
        labels = REGIONS[region.lower()]
    except KeyError:
        raise ValueError(f"unknown region {region!r}; expected one of {list(REGIONS)}") from None
    return np.isin(seg, labels)
