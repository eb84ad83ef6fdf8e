"""Finding BraTS cases on disk and reading them into the working orientation.

Layouts (``.nii.gz`` or ``.nii``): the official releases
(``MICCAI_BraTS_2019_Data_Training/{HGG,LGG}/<case>/<case>_<mod>.nii.gz``, BraTS 2020/2021), BraTS
2023-2024 (``<case>/<case>-{t1n,t1c,t2w,t2f,seg}.nii.gz``) and any folder of case folders (the Kaggle
mirror, a Drive); each edition's naming and labels are in :data:`unet_tp.conventions.EDITIONS`.
"""

from __future__ import annotations

import csv
import functools
import gzip
import os
import re
import shlex
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.orientations import (
    apply_orientation,
    axcodes2ornt,
    inv_ornt_aff,
    io_orientation,
    ornt_transform,
)

from unet_tp.conventions import (
    BRAIN_FRACTION_RANGE,
    BRATS_AFFINE,
    BRATS_SHAPE,
    EDITIONS,
    LABEL_CONVENTIONS,
    MODALITIES,
    SEG_FILE_QUIRK,
    WORKING_ORIENTATION,
    Edition,
    matching_conventions,
)
from unet_tp.i18n import tr, translated
from unet_tp.metrics import SliceSpacing

SEG = "seg"
GRADES = ("HGG", "LGG")
_NII = r"\.nii(?:\.gz)?$"
ARCHIVE_NAME = re.compile(r"(.+?)\.(tar\.gz|tgz|tar\.bz2|tar\.xz|tar|zip)", re.IGNORECASE)
"""An archive's name: the stem, then the suffix."""
LABEL_TOLERANCE = 1e-3
"""How far a label stored as a float may be from an integer and still be read as it."""


def _naming(e: Edition) -> tuple[re.Pattern[str], Edition, dict[str, str]]:
    """``(file-name pattern, edition, file kind -> kit kind)``; the case id's case matters."""
    kinds = {v: k for k, v in e.file_kinds.items()}
    alternatives = "|".join(sorted(kinds, key=len, reverse=True))
    pattern = rf"^(?P<case>(?-i:{e.case_pattern})){re.escape(e.separator)}(?P<kind>{alternatives})"
    return re.compile(pattern + _NII, re.IGNORECASE), e, kinds


# 2023's "-seg" tried first; the last edition takes any case id with 2019 file names
_NAMINGS = [_naming(e) for e in sorted(EDITIONS.values(), key=lambda e: e.separator != "-")]
_QUIRK_RE = re.compile(SEG_FILE_QUIRK)


def _match_file(name: str) -> tuple[str, str, Edition] | None:
    """``(case id, kit kind, edition)`` of a BraTS file name, or None."""
    for pattern, edition, kinds in _NAMINGS:
        if m := pattern.match(name):
            return m["case"], kinds[m["kind"].lower()], edition
    return None


class DataError(ValueError):
    """A case or file that cannot be used; the message names the case and the file."""


class BadArchive(DataError):
    """An archive that does not open or unpack (a web page, a download cut short or damaged): a
    download of the kit's own is removed, so that the next run downloads it again."""


@dataclass(frozen=True)
class Case:
    """One patient on disk: its id, folder, file of each modality and ``"seg"``, grade (HGG/LGG
    when the layout says so), edition key, what was read in an unusual way (``notes``), and why
    the scan found it unusable (``problem``: reading it raises it, a case left out as the
    unreadable ones are)."""

    case_id: str
    directory: Path
    files: dict[str, Path] = field(default_factory=dict)
    grade: str | None = None
    edition: str = "brats2019"
    notes: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def conventions(self) -> Edition:
        return EDITIONS[self.edition]

    @property
    def has_seg(self) -> bool:
        return SEG in self.files

    def missing(self, with_seg: bool = True) -> list[str]:
        """Names of the expected files that are absent."""
        wanted = list(MODALITIES) + ([SEG] if with_seg else [])
        return [kind for kind in wanted if kind not in self.files]

    def expected_path(self, kind: str) -> Path:
        return self.directory / self.conventions.file_name(self.case_id, kind)


@dataclass
class CaseVolumes:
    """A case read into memory in the working orientation: raw float32 ``image`` ``(4, rows,
    cols, slices)`` in ``MODALITIES`` order, uint8 ``seg`` with BraTS labels (or None), the
    sources' affine and shape, the suspicious data found (``warnings``, one line each), and
    whether the sources' headers gave an orientation (``oriented``: qform or sform code set)."""

    case_id: str
    image: np.ndarray
    seg: np.ndarray | None
    affine: np.ndarray
    source_shape: tuple[int, ...]
    warnings: list[str] = field(default_factory=list)
    oriented: bool = True
    slice_z: tuple[int, ...] | None = None  # some slices of the case only: which (a cache's)

    @property
    def spacing(self) -> tuple[float, ...]:
        """Voxel size in mm along each axis of the working orientation (what HD95 measures in:
        a source stored in another axis order has its sizes in that order; where the volume
        holds some slices only, which: ``metrics.SliceSpacing``)."""
        to_working = ornt_transform(io_orientation(self.affine), _WORKING)
        sizes = [0.0] * 3
        for zoom, (axis, _) in zip(_zooms(self.affine), to_working, strict=True):
            sizes[int(axis)] = zoom
        return tuple(sizes) if self.slice_z is None else SliceSpacing(sizes, self.slice_z)

    def to_source_orientation(self, volume: np.ndarray) -> np.ndarray:
        """Reorient a working-orientation volume back to the array layout of the source files."""
        return apply_orientation(volume, ornt_transform(_WORKING, io_orientation(self.affine)))


_WORKING = axcodes2ornt(WORKING_ORIENTATION)


def _is_junk(name: str) -> bool:
    # hidden files, e.g. macOS resource forks ("._x.nii.gz") shipped in public archives (MSD's)
    return name.startswith(".")


@dataclass
class Scan:
    """What a folder holds: the folder scanned (``root``), the cases found, sorted by id, and
    the NIfTI files that belong to no case (``unrecognised``: their names follow no edition)."""

    root: Path
    cases: list[Case]
    unrecognised: list[Path]

    def editions(self) -> dict[str, int]:
        """Number of cases per edition title."""
        return dict(Counter(c.conventions.title for c in self.cases))


def _expected_names() -> str:
    return tr("; ").join(
        f"{e.title}: <case>{e.separator}{{{','.join(dict.fromkeys(e.file_kinds.values()))}}}.nii[.gz]"
        for e in (EDITIONS["brats2019"], EDITIONS["brats2023"])
    )


def scan_cases(root: str | os.PathLike[str]) -> Scan:
    """Every BraTS case below ``root`` (a release, a folder of case folders, one case folder),
    possibly none, and the NIfTI files that follow no known naming."""
    root = _folder_of_cases(Path(root).expanduser())
    cases: dict[tuple[Path, str], Case] = {}
    unmatched: list[Path] = []
    twice: dict[tuple[Path, str], str] = {}  # a case with a file there twice: why it is unusable
    seen = {_folder_key(root)}  # a link back up (a loop) or to a folder already walked
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not _is_junk(d) and d != "__MACOSX")
        kept = []
        for d in dirnames:
            key = _folder_key(Path(dirpath, d))
            if key not in seen:
                seen.add(key)
                kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            if _is_junk(name):
                continue
            match = _match_file(name)
            directory = Path(dirpath)
            if match is None:
                if re.search(_NII, name, re.IGNORECASE):
                    unmatched.append(directory / name)
                continue
            case_id, kind, edition = match
            key = (directory, case_id)
            if key not in cases:
                grade = next(
                    (p.upper() for p in directory.parts[::-1] if p.upper() in GRADES), None
                )
                cases[key] = Case(case_id, directory, {}, grade, edition.key)
            previous = cases[key].files.get(kind)
            if previous is not None:
                twice[key] = tr(
                    "case {case_id}: two {kind} files, {first} and {second}, in {directory}; "
                    "keep one of them (e.g. delete the copy gunzip -k left)",
                    case_id=case_id,
                    kind=kind,
                    first=previous.name,
                    second=name,
                    directory=directory,
                )
                continue
            cases[key].files[kind] = directory / name
    cases |= {key: replace(cases[key], problem=why) for key, why in twice.items()}
    unrecognised = _quirk_segs(cases, unmatched) + _stray_copies(cases)
    found = _graded(sorted(cases.values(), key=lambda c: c.case_id))
    _one_folder_each(found)
    return Scan(root, found, unrecognised)


def _one_folder_each(found: list[Case]) -> None:
    """A DataError where a case is in several folders: three of them named, the rest counted."""
    dupes = sorted(i for i, n in Counter(c.case_id for c in found).items() if n > 1)
    if dupes:
        where = [str(c.directory) for c in found if c.case_id == dupes[0]]
        more = tr(" and {count} more", count=len(where) - 3) if len(where) > 3 else ""
        raise DataError(
            tr(
                "case {case_id} appears in {count} folders: {folders}{more}; keep one copy of "
                "each case",
                case_id=dupes[0],
                count=len(where),
                folders=", ".join(where[:3]),
                more=more,
            )
        )


def _folder_of_cases(root: Path) -> Path:
    """``root``, or a DataError where it is not a folder (an archive: how to unpack it)."""
    if not root.exists():
        raise DataError(tr("{root}: no such folder", root=root))
    if root.is_dir():
        return root
    if ARCHIVE_NAME.fullmatch(root.name):
        raise DataError(
            tr(
                "{root}: not a folder (expected a folder of BraTS cases); an archive: unpack it "
                "first: `unet-tp data download --url {archive} --out DIR`",
                root=root,
                archive=shlex.quote(str(root)),
            )
        )
    raise DataError(tr("{root}: not a folder (expected a folder of BraTS cases)", root=root))


def _folder_key(path: Path) -> tuple[int, int] | None:
    """A folder's (device, inode), through links; None if it cannot be read."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _graded(cases: list[Case]) -> list[Case]:
    """Cases without a HGG/LGG folder graded by the release's ``name_mapping.csv`` (BraTS 2020
    names the grade only there), in their folder or the one above it; a DataError for one
    patient found under two editions' names (the same file's row: 2019's and 2020's copies of
    one case would sit on both sides of a split)."""
    rows_in = functools.cache(lambda folder: _name_mapping_rows(folder / "name_mapping.csv"))
    where = {c.case_id: c for c in cases}
    out = []
    for case in cases:
        folders = (case.directory, case.directory.parent)
        rows = [row for f in folders for row in rows_in(f) if case.case_id in row[1]]
        twins = sorted({i for _, ids in rows for i in ids if i in where and i != case.case_id})
        if twins:
            raise DataError(
                tr(
                    "case {case_id} ({directory}) and case {twin} ({twin_directory}) are one "
                    "patient under two editions' names (so says name_mapping.csv): keep one of "
                    "the two folders",
                    case_id=case.case_id,
                    directory=case.directory,
                    twin=twins[0],
                    twin_directory=where[twins[0]].directory,
                )
            )
        grade = case.grade or next((g for g, _ in rows if g), None)
        out.append(case if grade == case.grade else replace(case, grade=grade))
    return out


def _name_mapping_rows(path: Path) -> list[tuple[str | None, set[str]]]:
    """``(HGG, LGG or None, the row's subject ids)`` of each row of a BraTS ``name_mapping.csv``
    (every id column), none if there is none or it cannot be read."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    out = []
    for row in rows:
        grade = str(row.get("Grade") or "").strip().upper()
        ids = {str(v).strip() for k, v in row.items() if k != "Grade" and isinstance(v, str) and v}
        out.append((grade if grade in GRADES else None, ids - {"NA", ""}))
    return out


def _quirk_segs(cases: dict[tuple[Path, str], Case], unmatched: list[Path]) -> list[Path]:
    """A lone seg-like file in a one-case folder without a seg becomes that case's seg (BraTS
    2020's case 355); returns the files that stay unrecognised."""
    unrecognised = []
    for path in unmatched:
        here = [c for (d, _), c in cases.items() if d == path.parent]
        if len(here) == 1 and SEG not in here[0].files and _QUIRK_RE.fullmatch(path.name):
            here[0].files[SEG] = path
            here[0].notes.append(
                tr(
                    "seg read from {name} (not named {case_id}_seg)",
                    name=path.name,
                    case_id=here[0].case_id,
                )
            )
        else:
            unrecognised.append(path)
    return unrecognised


_COPY_OF = re.compile(r"Copy of (.+)|(.+) \(\d+\)")
"""The id of a copy of a case: Drive's "Make a copy" (``Copy of <id>``), a browser's ``<id> (1)``."""


def _stray_copies(cases: dict[tuple[Path, str], Case]) -> list[Path]:
    """The files of an incomplete "case" whose id holds another's of its folder (data round 21:
    Drive's ``Copy of BraTS2021_00001_seg.nii.gz``, a ``BraTS19_X_1_flair_seg.nii``), or of a
    complete copy of another case (``Copy of <id>``, ``<id> (1)``: one patient twice, on both sides
    of a split; data round 22, with a note on the case copied): taken out of the cases and
    returned (unrecognised files)."""
    strays = []
    ids = {i: c for (_, i), c in sorted(cases.items(), key=lambda kv: kv[0][1])}
    for (folder, case_id), case in list(cases.items()):
        others = [i for d, i in cases if d == folder and i != case_id and i in case_id]
        stray = bool(others) and bool(case.missing(with_seg=False))
        copied = None if stray else (m := _COPY_OF.fullmatch(case_id)) and ids.get(m[1] or m[2])
        if stray or copied:
            strays += case.files.values()
            del cases[(folder, case_id)]
        if copied:
            copied.notes.append(
                tr(
                    "left out {case_id} ({count} files in {folder}): a copy of this case "
                    "(Drive's 'Make a copy'), the same patient twice",
                    case_id=case_id,
                    count=len(case.files),
                    folder=folder,
                )
            )
    return sorted(strays)


def find_cases(root: str | os.PathLike[str]) -> list[Case]:
    """Every BraTS case below ``root`` (as :func:`scan_cases`), sorted by id; a DataError that
    names the NIfTI files found when there is none."""
    found = scan_cases(root)
    if found.cases and not all(c.problem for c in found.cases):
        return found.cases
    if found.cases:  # (no case is usable: the first one's problem)
        raise DataError(found.cases[0].problem)
    root = found.root
    if any(p.parent.name == "imagesTr" for p in found.unrecognised):
        raise DataError(
            tr(
                "{root}: an MSD Task01_BrainTumour folder (4D images in imagesTr/), not BraTS "
                "cases; convert it with `unet-tp data download --source msd --url {url} --out "
                "DIR` (in the notebook: DATA_SOURCE = 'drive' converts it)",
                root=root,
                url=shlex.quote(str(root)),
            )
        )
    if (root / "unet_tp_cache.json").is_file():  # (cache.META; data round 21)
        raise DataError(
            tr(
                "{root}: a slice cache (`unet-tp data prepare` wrote it), not a folder of cases: "
                "`unet-tp train --data` takes it as it is; `info`, `prepare` and `evaluate` need "
                "the cases it was made from",
                root=root,
            )
        )
    archives = sorted(p.name for p in root.iterdir() if ARCHIVE_NAME.fullmatch(p.name))
    if archives:
        # the largest: Kaggle's BraTS 2021 holds the release beside two one-case archives
        largest = max(archives, key=lambda name: _size(root / name))
        raise DataError(
            tr(
                "{root}: no BraTS case, but {count} archive(s) ({names}); unpack it first: "
                "`unet-tp data download --url {archive} --out DIR`",
                root=root,
                count=len(archives),
                names=", ".join(archives[:3]),
                archive=shlex.quote(str(root / largest)),
            )
        )
    raise DataError(_no_case_found(root, found.unrecognised))


def _no_case_found(root: Path, unrecognised: list[Path]) -> str:
    """No BraTS case in ``root``: the names expected, and the first NIfTI files found."""
    expected, names = _expected_names(), ", ".join(p.name for p in unrecognised[:3])
    if (more := len(unrecognised) - 3) > 0:
        return tr(
            "{root}: no BraTS case found (expected {expected}); found {names} and {more} more",
            root=root,
            expected=expected,
            names=names,
            more=more,
        )
    if names:
        return tr(
            "{root}: no BraTS case found (expected {expected}); found {names}",
            root=root,
            expected=expected,
            names=names,
        )
    return tr("{root}: no BraTS case found (expected {expected})", root=root, expected=expected)


def _read(case_id: str, path: Path) -> tuple[np.ndarray, np.ndarray, bool, list[str]]:
    """Read one NIfTI file fully: ``(data, affine, whether the header says its orientation,
    warnings)`` (qform_code and sform_code 0: nibabel falls back to an affine the file never
    gave); every failure becomes a DataError naming case and file."""
    try:
        img = load_nifti(path)
        data = np.asanyarray(img.dataobj)
    except FileNotFoundError:
        raise DataError(
            tr("case {case_id}: file {path} does not exist", case_id=case_id, path=path)
        ) from None
    except (
        EOFError,
        zlib.error,
        OSError,
        ValueError,
        OverflowError,  # a negative dimension in the header
        nib.filebasedimages.ImageFileError,
        nib.spatialimages.HeaderDataError,  # an unknown data type code, dim[0] above 7
    ) as exc:
        raise DataError(unreadable(case_id, path, exc)) from None
    while data.ndim > 3 and data.shape[-1] == 1:  # (X, Y, Z, 1) or (X, Y, Z, 1, 1): one volume
        data = data[..., 0]
    if data.ndim != 3:
        raise DataError(
            tr(
                "case {case_id}: {path} has shape {shape}, expected a 3D volume",
                case_id=case_id,
                path=path,
                shape=data.shape,
            )
        )
    if not (np.issubdtype(data.dtype, np.integer) or np.issubdtype(data.dtype, np.floating)):
        raise DataError(
            tr(
                "case {case_id}: {path} has data type {dtype}, expected numbers",
                case_id=case_id,
                path=path,
                dtype=data.dtype,
            )
        )
    header = img.header
    oriented = any(int(header.get(code, 1)) > 0 for code in ("qform_code", "sform_code"))
    affine = img.affine
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-6:
        raise DataError(
            tr(
                "case {case_id}: {path} has a damaged affine in its header (not finite, or a "
                "voxel axis of length 0: {matrix}); restore the header from the case's other "
                "files",
                case_id=case_id,
                path=path,
                matrix=np.round(affine[:3, :3], 3).tolist(),
            )
        )
    return data, affine, oriented, _forms_disagree(case_id, path, img)


def _forms_disagree(case_id: str, path: Path, img: nib.Nifti1Image) -> list[str]:
    """A warning where the header's qform and sform both hold and point the voxel axes other
    ways: nibabel (and the kit) read the sform, ITK's tools (ITK-SNAP, SimpleITK) the qform, so
    a seg drawn in one lies flipped or turned in the other (data round 22)."""
    header = img.header
    if int(header["qform_code"]) <= 0 or int(header["sform_code"]) <= 0:
        return []
    qform, sform = img.get_qform(), img.get_sform()
    if np.array_equal(io_orientation(qform), io_orientation(sform)):
        return []
    q, s = ("".join(nib.aff2axcodes(a)) for a in (qform, sform))
    return [
        tr(
            "case {case_id}: {path}: its header's qform ({q}) and sform ({s}) point the axes "
            "other ways: read by its sform, as nibabel reads it; ITK-SNAP and SimpleITK read the "
            "qform (a seg drawn there may lie turned here: check it in the patient browser)",
            case_id=case_id,
            path=path,
            q=q,
            s=s,
        )
    ]


def load_nifti(path: Path) -> nib.Nifti1Image:
    """``nib.load``, and a file whose name and compression disagree (a ``.nii.gz`` that is not
    gzipped, a gzipped ``.nii``: a re-upload, a converter's habit) read from its bytes, as it
    is: it may lie in a folder the student cannot rename in (Kaggle's read-only /kaggle/input)."""
    try:
        return nib.load(str(path))
    except Exception:
        if _compression_mismatch(path) is None:
            raise
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    for kind in (nib.Nifti1Image, nib.Nifti2Image):
        try:
            return kind.from_bytes(raw)
        except Exception:  # noqa: BLE001, S112 - the next kind, then the caller's message
            continue
    return nib.load(str(path))  # raises the error the caller explains


def _compression_mismatch(path: Path) -> str | None:
    """What disagrees between a file's name and its compression, or None."""
    try:
        with open(path, "rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"
    except OSError:
        return None
    if gzipped == path.name.lower().endswith(".gz"):
        return None
    return "gzip-compressed but not named .gz" if gzipped else "not gzip-compressed but named .gz"


def unreadable_hint(path: Path) -> str:
    """Why a NIfTI file cannot be read: empty, its name and its compression disagree, or cut."""
    try:
        if path.stat().st_size == 0:  # (a Drive placeholder, a failed copy: data round 21)
            return tr("the file is empty (0 bytes: a copy or a download that did not finish)")
    except OSError:
        pass
    # read from its bytes, it still failed: the content is damaged too
    if (mismatch := _compression_mismatch(path)) == "gzip-compressed but not named .gz":
        return tr(
            "the file is gzip-compressed but not named .gz, and its content is truncated or not "
            "a NIfTI image"
        )
    if mismatch:
        return tr(
            "the file is not gzip-compressed but named .gz, and its content is truncated or not "
            "a NIfTI image"
        )
    return tr("the file is truncated or not a NIfTI image")


def unreadable(case_id: str, path: Path, exc: Exception) -> str:
    """A case's file that cannot be read: the reader's error in one line, and why."""
    return tr(
        "case {case_id}: cannot read {path} ({error}); {hint}",
        case_id=case_id,
        path=path,
        error=f"{type(exc).__name__}: {' '.join(str(exc).split())}",
        hint=unreadable_hint(path),
    )


def load_case(case: Case, with_seg: bool = True, strict: bool = False) -> CaseVolumes:
    """Read and validate a case in the working orientation: files present and readable, one
    grid, finite intensities, the edition's labels (as BraTS 2019's); a DataError names case and
    file. Suspicious data gives warnings (a DataError when ``strict``)."""
    if case.problem:
        raise DataError(case.problem)
    for kind in case.missing(with_seg):
        raise DataError(missing_file(case, kind))
    channels, seg, warnings = [], None, []
    ref = None  # (shape, affine, path) of the first file: every file must share its voxel grid
    for kind in list(MODALITIES) + ([SEG] if with_seg else []):
        path = case.files[kind]
        data, affine, oriented, read_warnings = _read(case.case_id, path)
        warnings += read_warnings
        ref = ref or (data.shape, affine, path, oriented)
        if oriented and ref[3]:  # a file stored in another orientation (a seg re-saved by a tool)
            data, affine = _as_oriented(data, affine, ref[1])
        warnings += _check_same_grid(case.case_id, path, data.shape, affine, ref, oriented)
        if kind == SEG:
            seg, seg_warnings = _validate_seg(case, path, data)
            warnings += seg_warnings
        else:
            data = data.astype(np.float32, copy=False)
            if not np.isfinite(data).all():
                raise DataError(
                    tr(
                        "case {case_id}: {path} holds {count} NaN or infinite values (a "
                        "converter's background?): set them to 0 (e.g. numpy.nan_to_num) and save "
                        "it again, or leave the case out with --skip-bad",
                        case_id=case.case_id,
                        path=path,
                        count=int((~np.isfinite(data)).sum()),
                    )
                )
            warnings += _suspicious_image(case.case_id, kind, path, data, affine, oriented)
            channels.append(data)
    transform = ornt_transform(io_orientation(ref[1]), _WORKING)
    image = np.empty((len(channels), *apply_orientation(channels[0], transform).shape), np.float32)
    for channel, data in zip(image, channels, strict=True):
        channel[...] = apply_orientation(data, transform)  # one copy, C order (NIfTI's is F)
    constant = any(c.size and c.min() == c.max() for c in channels)  # (said per modality)
    warnings += _volume_warnings(case, image, ref[1], constant)
    if strict and warnings:
        raise DataError(strict_error(warnings[0]))
    if seg is not None:
        seg = np.ascontiguousarray(apply_orientation(seg, transform))
    return CaseVolumes(case.case_id, image, seg, ref[1], ref[0], warnings, oriented=ref[3])


def strict_error(warning: str) -> str:
    """A warning made an error by ``--strict``."""
    return tr("{warning} (an error with --strict)", warning=warning)


def incomplete(case: Case) -> str | None:
    """Why a case is not complete, found without reading its images (a download's count): the
    scan's problem, a missing image, or an uncompressed .nii shorter than its header says; None if
    complete."""
    if case.problem:
        return case.problem
    if missing := case.missing(with_seg=False):
        return missing_file(case, missing[0])
    for path in case.files.values():
        if path.name.lower().endswith(".gz") or _compression_mismatch(path):
            continue  # (a gzipped file's size says nothing without unpacking it)
        try:
            header = nib.load(str(path)).header
            size = path.stat().st_size
        except Exception as exc:  # noqa: BLE001 - its header is not even there: say why
            return unreadable(case.case_id, path, exc)
        expected = int(header.get_data_offset()) + header.get_data_dtype().itemsize * int(
            np.prod(header.get_data_shape())
        )
        if size < expected:
            return tr(
                "case {case_id}: {path} is cut short: {size} bytes, its header says {expected} (a "
                "copy or a download that did not finish)",
                case_id=case.case_id,
                path=path,
                size=size,
                expected=expected,
            )
    return None


def missing_file(case: Case, kind: str) -> str:
    """A case's missing file: the name expected, and the NIfTI files its folder holds."""
    fields = {"case_id": case.case_id, "kind": kind, "path": case.expected_path(kind)}
    if kind == SEG:
        return tr(
            "case {case_id}: missing {kind} file (a prediction-only case: no ground truth) "
            "(expected {path} or the same name ending in .nii){beside}",
            beside=_beside(case),
            **fields,
        )
    return tr(
        "case {case_id}: missing {kind} file (expected {path} or the same name ending in "
        ".nii){beside}",
        beside=_beside(case),
        **fields,
    )


def _volume_warnings(case: Case, image: np.ndarray, affine: np.ndarray, constant: bool):
    """Warnings for a whole case: little brain in any modality (unless one is constant, said
    already), voxels not of 1 mm."""
    warnings, low = [], BRAIN_FRACTION_RANGE[0]
    brain = float(np.any(image != 0, axis=0).mean()) if image.size else 0.0
    if brain < low and not constant:
        warnings.append(
            tr(
                "case {case_id}: {directory}: only {brain:.1%} of the volume is non-zero in any "
                "modality (below {low:.0%}): an empty or cropped-away brain",
                case_id=case.case_id,
                directory=case.directory,
                brain=brain,
                low=low,
            )
        )
    zooms = _zooms(affine)
    if max(abs(z - 1.0) for z in zooms) > 0.05:
        warnings.append(
            tr(
                "case {case_id}: {directory}: voxels of {zooms} mm, not BraTS's 1 mm: the "
                "network sees this brain at another scale than the other cases' (resample it to "
                "1 mm)",
                case_id=case.case_id,
                directory=case.directory,
                zooms=zooms,
            )
        )
    return warnings


def _as_oriented(data: np.ndarray, affine: np.ndarray, like: np.ndarray):
    """``(data, affine)`` on the voxel grid of ``like`` when they are that grid stored with its
    axes permuted or flipped (a seg re-saved by ITK-SNAP or SimpleITK: same voxels in space),
    else as they are (:func:`_check_same_grid` says what differs)."""
    transform = ornt_transform(io_orientation(affine), io_orientation(like))
    if (transform == [[0, 1], [1, 1], [2, 1]]).all():
        return data, affine
    moved = affine @ inv_ornt_aff(transform, data.shape)
    if not np.allclose(moved, like, atol=1e-3):  # not the same voxels in space
        return data, affine
    return apply_orientation(data, transform), moved


def _check_same_grid(
    case_id: str, path: Path, shape, affine: np.ndarray, ref, oriented: bool = True
) -> list[str]:
    """Refuse a file whose shape, orientation or voxel size differ from the first file's (a
    shift of the origin alone is a header quirk: the voxels still line up, so it is accepted,
    with a warning past :data:`ORIGIN_SHIFT_MM`: a seg of another registration, data round 20);
    ``oriented``: whether the file's header says its orientation (if either file's does not,
    the message says so)."""
    ref_shape, ref_affine, ref_path, ref_oriented = ref
    lost = [p.name for p, o in ((path, oriented), (ref_path, ref_oriented)) if not o]
    names = {"case_id": case_id, "name": path.name, "ref": ref_path.name}
    if shape != ref_shape:
        raise DataError(
            tr(
                "case {case_id}: {name} has shape {shape} but {ref} has {ref_shape}; all "
                "modalities and seg must share one grid",
                shape=shape,
                ref_shape=ref_shape,
                **names,
            )
        )
    if not np.allclose(affine[:3, :3], ref_affine[:3, :3], atol=1e-3):
        grids = {
            "axes": "".join(nib.aff2axcodes(affine)),
            "zooms": _zooms(affine),
            "ref_axes": "".join(nib.aff2axcodes(ref_affine)),
            "ref_zooms": _zooms(ref_affine),
        }
        if lost:
            raise DataError(
                tr(
                    "case {case_id}: {name} is stored with orientation {axes} / voxel size "
                    "{zooms} but {ref} with {ref_axes} / {ref_zooms}; the files are not on one "
                    "voxel grid ({lost} has no orientation in its header, qform_code and "
                    "sform_code 0: a lost header; restore it from the case's other files)",
                    lost=lost[0],
                    **names,
                    **grids,
                )
            )
        raise DataError(
            tr(
                "case {case_id}: {name} is stored with orientation {axes} / voxel size {zooms} "
                "but {ref} with {ref_axes} / {ref_zooms}; the files are not on one voxel grid",
                **names,
                **grids,
            )
        )
    shift = float(np.linalg.norm(affine[:3, 3] - ref_affine[:3, 3]))
    if shift <= ORIGIN_SHIFT_MM:
        return []
    return [
        tr(
            "case {case_id}: {name}'s origin is {shift:.1f} mm from {ref}'s (the voxels are read "
            "as lining up): a file of another registration? check it in a viewer",
            shift=shift,
            **names,
        )
    ]


ORIGIN_SHIFT_MM = 5.0  # (scanner headers differ by a voxel or so; a registration, by more)


def _suspicious_image(
    case_id: str, kind: str, path: Path, data: np.ndarray, affine: np.ndarray, oriented: bool
) -> list[str]:
    """Warnings for one modality: constant, non-zero background, identity affine on BraTS grid,
    no orientation in the header."""
    out, file = [], {"case_id": case_id, "kind": kind, "path": path}
    if data.size and data.min() == data.max():
        out.append(
            tr(
                "case {case_id}: {kind} file {path} is constant (every voxel {value:g}): an "
                "empty or failed export",
                value=float(data.min()),
                **file,
            )
        )
    else:
        out += _intensity_warnings(data, file)
    if data.shape == BRATS_SHAPE and oriented and _off_brats_box(affine):
        identity = np.allclose(affine, np.eye(4))
        out.append(_off_box_warning(affine, identity, file))
    if not oriented:
        out.append(
            tr(
                "case {case_id}: {kind} file {path} has no orientation in its header (qform_code "
                "and sform_code 0, a lost header): it is read as {axes}, which may show it "
                "flipped against the other cases; restore the header (BraTS: affine diag(-1, -1, "
                "1), origin 0, 239, 0)",
                axes="".join(nib.aff2axcodes(affine)),
                **file,
            )
        )
    return out


def _intensity_warnings(data: np.ndarray, file: dict) -> list[str]:
    """Warnings for a modality that is not constant: a few huge outliers, a non-zero
    background."""
    out = []
    share = float(np.count_nonzero(data)) / max(data.size, 1)
    top, mean = float(np.abs(data).max()), float(np.abs(data).sum()) / max(share * data.size, 1)
    if top > OUTLIER_RATIO * mean:  # (data round 21: one voxel at 3e9 flattened a t1ce)
        out.append(
            tr(
                "case {case_id}: {kind} file {path} has voxels up to {top:.3g}, {ratio:.0f} times "
                "its mean inside the brain: a few outliers squash the other voxels' contrast once "
                "z-scored; check the file (a failed conversion?)",
                top=top,
                ratio=top / mean,
                **file,
            )
        )
    if share > BRAIN_FRACTION_RANGE[1]:
        out.append(
            tr(
                "case {case_id}: {kind} file {path} is non-zero on {share:.0%} of the volume "
                "(above {high:.0%}): a non-zero background, so the brain mask would be the whole "
                "volume; BraTS images are 0 outside the brain",
                share=share,
                high=BRAIN_FRACTION_RANGE[1],
                **file,
            )
        )
    return out


def _off_box_warning(affine: np.ndarray, identity: bool, file: dict) -> str:
    """A BraTS-grid file whose affine puts it where no BraTS volume lies."""
    where = {
        "grid": "x".join(map(str, BRATS_SHAPE)),
        "box": _box_text(affine),
        "brats_box": _box_text(BRATS_AFFINE),
    }
    if identity:
        return tr(
            "case {case_id}: {kind} file {path} has an identity affine on the BraTS {grid} grid "
            "that puts it where no BraTS volume lies ({box} against BraTS's {brats_box}; a lost "
            "header, or an ITK affine copied without its sign change): it reads flipped or "
            "rotated 180 degrees against the other cases; restore the BraTS header (affine "
            "diag(-1, -1, 1), origin 0, 239, 0)",
            **where,
            **file,
        )
    return tr(
        "case {case_id}: {kind} file {path} has an affine on the BraTS {grid} grid that puts it "
        "where no BraTS volume lies ({box} against BraTS's {brats_box}; a lost header, or an ITK "
        "affine copied without its sign change): it reads flipped or rotated 180 degrees against "
        "the other cases; restore the BraTS header (affine diag(-1, -1, 1), origin 0, 239, 0)",
        **where,
        **file,
    )


OUTLIER_RATIO = 100  # a voxel this many times a modality's mean (MRI: under 10 times)


def _world_box(affine: np.ndarray) -> np.ndarray:
    """The lowest and highest world coordinates (mm) of the BraTS grid's voxel centres."""
    corners = np.array(np.meshgrid(*[[0, n - 1] for n in BRATS_SHAPE])).reshape(3, -1)
    world = affine[:3, :3] @ corners + affine[:3, 3:]
    return np.stack([world.min(axis=1), world.max(axis=1)])


def _off_brats_box(affine: np.ndarray, tolerance_mm: float = 20.0) -> bool:
    """Whether the BraTS grid under ``affine`` lies elsewhere in space than under BraTS's own
    affine, its axes pointing another way (a re-saved file in another orientation lies in the
    same place; a shifted origin of a few mm is a header quirk, and BraTS's axes with the origin
    at 0, 0, 0, nibabel's and SimpleITK's default, read the same voxels: data round 22)."""
    if np.allclose(affine[:3, :3], BRATS_AFFINE[:3, :3], atol=1e-3):
        return False  # an origin elsewhere moves the grid, it does not flip it
    return bool(np.abs(_world_box(affine) - _world_box(BRATS_AFFINE)).max() > tolerance_mm)


def _box_text(affine: np.ndarray) -> str:
    low, high = _world_box(affine)
    return ", ".join(f"{a} {lo:g}..{hi:g}" for a, lo, hi in zip("xyz", low, high, strict=True))


def _beside(case: Case) -> str:
    """The NIfTI files in a case's folder that are none of its files (a modality named another
    way: ``_t1c``, ``_T1Gd``), for a message."""
    try:
        names = sorted(p.name for p in case.directory.iterdir() if re.search(_NII, p.name, re.I))
    except OSError:
        return ""
    others = [n for n in names if n not in {f.name for f in case.files.values()}]
    return tr("; the folder also holds {names}", names=", ".join(others[:4])) if others else ""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _voxels(n: int) -> str:
    return tr("{n:,} voxel", n=n) if n == 1 else tr("{n:,} voxels", n=n)


def _zooms(affine: np.ndarray) -> tuple[float, ...]:
    return tuple(round(float(z), 3) for z in np.sqrt((affine[:3, :3] ** 2).sum(axis=0)))


def label_advice(values: list[int], edition: Edition) -> str:
    """What to do about a seg whose labels do not follow ``edition``: the conventions they match."""
    # a convention that reads a tumour label of this edition's as background (2024's 4, the
    # resection cavity) is no advice for a seg that holds it: a 2019 seg's stray 3s read so
    # would lose the enhancing tumour
    erased = [v for v in values if edition.labels.get(v)]
    matches = [
        e
        for e in matching_conventions(values)
        if e.key != edition.key and all(e.labels.get(v) for v in erased)
    ]
    if not matches:
        known = tr("; ").join(
            f"{translated(e.title)}: {e.describe_labels()}" for e in LABEL_CONVENTIONS
        )
        return tr(
            "they match no known convention ({known}); a few stray voxels: relabel them",
            known=known,
        )
    parts = []
    for e in matches:
        if e.key == "msd":
            parts.append(
                tr(
                    "the {title} convention ({labels}): convert an MSD folder (imagesTr/labelsTr) "
                    "with `unet-tp data download --source msd --url FOLDER --out DIR`",
                    title=translated(e.title),
                    labels=e.describe_labels(),
                )
            )
            continue
        # the case id too: a 2019 case id with 2023's "-seg" is not a 2023 case
        parts.append(
            tr(
                "the {title} convention ({labels}): a case whose files are all named as {title} "
                "names them is read with it (e.g. {example}, beside its {kinds} files)",
                title=translated(e.title),
                labels=e.describe_labels(),
                example=e.file_name(e.example_id, "seg"),
                kinds=", ".join(e.file_kinds[k] for k in MODALITIES),
            )
        )
    return tr("they match {conventions}", conventions=tr("; or ").join(parts))


def _validate_seg(case: Case, path: Path, data: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The seg in BraTS 2019 labels, and a warning where its labels could be another edition's."""
    case_id, edition = case.case_id, case.conventions
    if case_id.startswith("BraTS-PED-"):  # (data round 22: read as 2023's, 2024's were wrong)
        raise DataError(
            tr(
                "case {case_id}: {path} is a BraTS-PEDs seg, whose labels differ by year (2023: 1 "
                "NETC, 2 SNFH, 3 ET; 2024: 1 ET, 2 NET, 3 cystic component, 4 edema): not "
                "supported, the file does not say which; leave the case out (--skip-bad)",
                case_id=case_id,
                path=path,
            )
        )
    file = {"case_id": case_id, "path": path}
    if np.issubdtype(data.dtype, np.floating):
        if not np.isfinite(data).all():
            raise DataError(tr("case {case_id}: {path} holds NaN or infinite labels", **file))
        # labels stored as floats may carry rounding error (3.9999999, or an scl_slope of 0.1)
        rounded = np.round(data)
        off = np.abs(data - rounded) > LABEL_TOLERANCE
        if off.any():
            raise DataError(
                tr(
                    "case {case_id}: {path} holds non-integer labels (e.g. {value:g})",
                    value=float(data[off][0]),
                    **file,
                )
            )
        data = rounded
    values = np.unique(data)
    bad = np.setdiff1d(values, list(edition.labels))
    if bad.size:
        counts = ", ".join(
            tr("{label} on {voxels}", label=int(v), voxels=_voxels(int((data == v).sum())))
            for v in bad
        )
        raise DataError(
            tr(
                "case {case_id}: {path} holds labels {bad} ({counts}) outside the {title} set "
                "{labels}; {advice}",
                bad=bad.astype(int).tolist(),
                counts=counts,
                title=edition.title,
                labels=list(edition.labels),
                advice=label_advice(values.astype(int).tolist(), edition),
                **file,
            )
        )
    return edition.to_brats(data), _label_warnings(values.tolist(), edition, file)


def _label_warnings(values: list, edition: Edition, file: dict) -> list[str]:
    """Warnings for a seg whose labels are valid but read oddly: no tumour at all, a binary mask,
    4 without 3."""
    warnings = []
    if values == [0]:  # (a BraTS case always holds a tumour: an empty mask, another case's file)
        warnings.append(
            tr(
                "case {case_id}: {path} is all background (label 0 only), while every BraTS case "
                "holds a tumour: the wrong file, or an empty mask? The case is kept, as "
                "tumour-free",
                **file,
            )
        )
    if values == [0, 1]:  # (data round 22: read silently as all necrotic core)
        warnings.append(
            tr(
                "case {case_id}: {path} holds label 1 alone: a binary whole-tumour mask? It is "
                "read as {name} everywhere, no other tumour region",
                name=edition.label_names[1],
                **file,
            )
        )
    if edition.labels.get(4) == 0 and 4 in values and 3 not in values:
        # 2024's resection cavity, or a 2019 seg (4 = enhancing) given 2023's names
        warnings.append(
            tr(
                "case {case_id}: {path} holds label 4 and no label 3: 4 is read as the {title} "
                "convention's {name}; if the file holds BraTS 2019 labels (4 enhancing tumour), "
                "name the case's files as BraTS 2019 names them",
                title=edition.title,
                name=edition.label_names[4],
                **file,
            )
        )
    return warnings
