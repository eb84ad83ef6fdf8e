"""Finding BraTS cases on disk and reading them into the working orientation.

Two layouts are recognised, ``.nii.gz`` and ``.nii`` alike:

* the official release: ``MICCAI_BraTS_2019_Data_Training/{HGG,LGG}/<case>/<case>_<mod>.nii.gz``
* any folder of case folders: ``<root>/<case>/<case>_<mod>.nii[.gz]`` (the Kaggle mirror, a Drive)

where ``<mod>`` is one of t1, t1ce, t2, flair and seg.
"""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.orientations import (
    apply_orientation,
    axcodes2ornt,
    io_orientation,
    ornt_transform,
)

from unet_tp.conventions import BRATS_LABELS, MODALITIES, WORKING_ORIENTATION

SEG = "seg"
_FILE_RE = re.compile(r"^(?P<case>.+)_(?P<kind>t1|t1ce|t2|flair|seg)\.nii(?:\.gz)?$", re.IGNORECASE)


class DataError(ValueError):
    """A case or file that cannot be used; the message names the case and the file."""


@dataclass(frozen=True)
class Case:
    """One patient on disk.

    Attributes:
        case_id: the BraTS subject id, e.g. ``BraTS19_2013_2_1``.
        directory: the folder holding the case's files.
        files: path of each file found, keyed by modality name or ``"seg"``.
        grade: ``"HGG"`` or ``"LGG"`` when the layout says so, else ``None``.
    """

    case_id: str
    directory: Path
    files: dict[str, Path] = field(default_factory=dict)
    grade: str | None = None

    @property
    def has_seg(self) -> bool:
        return SEG in self.files

    def missing(self, with_seg: bool = True) -> list[str]:
        """Names of the expected files that are absent."""
        wanted = list(MODALITIES) + ([SEG] if with_seg else [])
        return [kind for kind in wanted if kind not in self.files]

    def expected_path(self, kind: str) -> Path:
        return self.directory / f"{self.case_id}_{kind}.nii.gz"


@dataclass
class CaseVolumes:
    """A case read into memory, in the working orientation (see :mod:`unet_tp.conventions`).

    Attributes:
        case_id: subject id.
        image: float32 array ``(4, rows, cols, slices)``, channels in ``MODALITIES`` order,
            raw scanner intensities (not yet normalised).
        seg: uint8 array ``(rows, cols, slices)`` with BraTS labels, or ``None``.
        affine: voxel-to-world affine of the source files (for writing predictions back).
        source_shape: array shape of the source files.
    """

    case_id: str
    image: np.ndarray
    seg: np.ndarray | None
    affine: np.ndarray
    source_shape: tuple[int, ...]

    def to_source_orientation(self, volume: np.ndarray) -> np.ndarray:
        """Reorient a working-orientation volume back to the array layout of the source files."""
        return apply_orientation(volume, ornt_transform(_WORKING, io_orientation(self.affine)))


_WORKING = axcodes2ornt(WORKING_ORIENTATION)


def _is_junk(name: str) -> bool:
    # macOS resource forks ("._x.nii.gz") ship inside several public archives, MSD's among them.
    return name.startswith("._") or name.startswith(".")


def find_cases(root: str | os.PathLike[str]) -> list[Case]:
    """Find every BraTS case below ``root``.

    Args:
        root: a BraTS release folder, a folder of case folders, or a single case folder.

    Returns:
        Cases sorted by id.

    Raises:
        DataError: if ``root`` does not exist or holds no BraTS case.

    Example:
        >>> cases = find_cases("data/MICCAI_BraTS_2019_Data_Training")  # doctest: +SKIP
        >>> cases[0].case_id, cases[0].grade  # doctest: +SKIP
        ('BraTS19_2013_10_1', 'HGG')
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError(f"{root}: no such folder")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (expected a folder of BraTS cases)")
    cases: dict[tuple[Path, str], Case] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not _is_junk(d) and d != "__MACOSX")
        for name in sorted(filenames):
            match = None if _is_junk(name) else _FILE_RE.match(name)
            if match is None:
                continue
            directory = Path(dirpath)
            key = (directory, match["case"])
            if key not in cases:
                grade = next(
                    (p for p in directory.parts[::-1] if p.upper() in ("HGG", "LGG")), None
                )
                cases[key] = Case(match["case"], directory, {}, grade.upper() if grade else None)
            kind = match["kind"].lower()
            previous = cases[key].files.get(kind)
            if previous is not None:
                raise DataError(
                    f"case {match['case']}: two {kind} files, {previous.name} and {name}, in {directory}"
                )
            cases[key].files[kind] = directory / name
    if not cases:
        raise DataError(
            f"{root}: no BraTS case found (expected folders holding "
            f"<case>_{{{','.join(MODALITIES)},seg}}.nii[.gz])"
        )
    found = sorted(cases.values(), key=lambda c: c.case_id)
    ids = [c.case_id for c in found]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        where = [str(c.directory) for c in found if c.case_id == dupes[0]]
        raise DataError(f"case {dupes[0]} appears in several folders: {', '.join(where)}")
    return found


def _read(case_id: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one NIfTI file fully; every failure becomes a DataError naming case and file."""
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except FileNotFoundError:
        raise DataError(f"case {case_id}: file {path} does not exist") from None
    except (EOFError, zlib.error, OSError, ValueError, nib.filebasedimages.ImageFileError) as exc:
        raise DataError(
            f"case {case_id}: cannot read {path} ({type(exc).__name__}: {exc}); "
            "the file is truncated or not a NIfTI image"
        ) from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise DataError(f"case {case_id}: {path} has shape {data.shape}, expected a 3D volume")
    if not (np.issubdtype(data.dtype, np.integer) or np.issubdtype(data.dtype, np.floating)):
        raise DataError(f"case {case_id}: {path} has data type {data.dtype}, expected numbers")
    return data, img.affine


def load_case(case: Case, with_seg: bool = True) -> CaseVolumes:
    """Read and validate a case, reoriented to the working orientation.

    Checks: every modality (and the segmentation when ``with_seg``) present and readable, one
    3D shape and one affine for all files, finite intensities, labels within {0, 1, 2, 4}.

    Args:
        case: a case from :func:`find_cases`.
        with_seg: also read the segmentation (required for training cases).

    Returns:
        The case's volumes.

    Raises:
        DataError: naming the case and the offending file.
    """
    for kind in case.missing(with_seg):
        raise DataError(
            f"case {case.case_id}: missing {kind} file (expected {case.expected_path(kind)} "
            "or the same name ending in .nii)"
        )
    channels = []
    ref_shape = ref_affine = ref_path = None
    kinds = list(MODALITIES) + ([SEG] if with_seg else [])
    seg = None
    for kind in kinds:
        path = case.files[kind]
        data, affine = _read(case.case_id, path)
        if ref_shape is None:
            ref_shape, ref_affine, ref_path = data.shape, affine, path
        elif data.shape != ref_shape:
            raise DataError(
                f"case {case.case_id}: {path.name} has shape {data.shape} but "
                f"{ref_path.name} has {ref_shape}; all modalities and seg must share one grid"
            )
        elif not np.allclose(affine[:3, :3], ref_affine[:3, :3], atol=1e-3):
            # Another orientation or voxel size: the arrays do not share one voxel grid. (A shift
            # of the origin alone is a header quirk; the voxels still line up, so it is accepted.)
            raise DataError(
                f"case {case.case_id}: {path.name} is stored with orientation "
                f"{''.join(nib.aff2axcodes(affine))} / voxel size {_zooms(affine)} but "
                f"{ref_path.name} with {''.join(nib.aff2axcodes(ref_affine))} / {_zooms(ref_affine)}; "
                "the files are not on one voxel grid"
            )
        if kind == SEG:
            seg = _validate_seg(case.case_id, path, data)
        else:
            data = data.astype(np.float32, copy=False)
            if not np.isfinite(data).all():
                n_bad = int((~np.isfinite(data)).sum())
                raise DataError(f"case {case.case_id}: {path} holds {n_bad} NaN or infinite values")
            channels.append(data)
    transform = ornt_transform(io_orientation(ref_affine), _WORKING)
    image = np.stack([apply_orientation(c, transform) for c in channels]).astype(np.float32)
    if seg is not None:
        seg = np.ascontiguousarray(apply_orientation(seg, transform))
    return CaseVolumes(case.case_id, np.ascontiguousarray(image), seg, ref_affine, ref_shape)


def _zooms(affine: np.ndarray) -> tuple[float, ...]:
    return tuple(round(float(z), 3) for z in np.sqrt((affine[:3, :3] ** 2).sum(axis=0)))


def _validate_seg(case_id: str, path: Path, data: np.ndarray) -> np.ndarray:
    if np.issubdtype(data.dtype, np.floating):
        if not np.isfinite(data).all():
            raise DataError(f"case {case_id}: {path} holds NaN or infinite labels")
        if not np.array_equal(data, np.round(data)):
            raise DataError(f"case {case_id}: {path} holds non-integer labels")
    values = np.unique(data)
    bad = np.setdiff1d(values, BRATS_LABELS)
    if bad.size:
        raise DataError(
            f"case {case_id}: {path} holds labels {bad.astype(int).tolist()} outside the BraTS "
            f"set {list(BRATS_LABELS)} (an MSD label map? convert it with `unet-tp data download "
            "--source msd`)"
        )
    return data.astype(np.uint8)
