"""BraTS-format sample cases (offline demos, tests, grading), written as BraTS 2019 ships them:
240x240x155 int16 images and a uint8 seg (labels 0/1/2/4), gzipped NIfTI with the BraTS affine.

A skull-stripped head (white matter, a cortical ribbon, sulcal CSF, the fissure, the ventricles)
with each modality's contrasts, and a glioma: necrotic core, enhancing rim, edema; about one case
in four LGG-like (a non-enhancing core). The same seed gives the same files on any machine.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from unet_tp.conventions import BRATS_AFFINE, BRATS_SHAPE, MODALITIES
from unet_tp.fileio import atomic_dir, save_json, unet_tp_home
from unet_tp.i18n import tr

RELEASE_DIR = "MICCAI_BraTS_2019_Data_Training"
MANIFEST = "unet_tp_synth.json"

# Mean intensity of each tissue per modality (t1, t1ce, t2, flair), on int16 scales like BraTS.
_TISSUE = {
    "csf": (260, 290, 1750, 170),
    "gm": (560, 610, 880, 530),
    "wm": (820, 840, 590, 410),
    "edema": (560, 600, 1350, 930),
    "enhancing": (600, 1550, 1050, 760),
    "necrotic": (300, 320, 1600, 520),
    "nonenhancing": (430, 460, 1250, 720),
}


def _smooth_noise(rng: np.random.Generator, shape: tuple, cells: tuple[int, ...]) -> np.ndarray:
    """Smooth random field in about [-1, 1]: coarse Gaussian noise upsampled with cubic splines."""
    coarse = rng.standard_normal(cells)
    # splines to a quarter of the resolution, then trilinear: smooth enough, a fraction of the cost
    mid = tuple(max(c, -(-s // 4)) for s, c in zip(shape, cells, strict=True))
    zoom = [m / c for m, c in zip(mid, cells, strict=True)]
    field = ndimage.zoom(coarse, zoom, order=3, mode="reflect", grid_mode=True)
    field = torch.from_numpy(field.astype(np.float32))[None, None]
    full = F.interpolate(field, size=shape, mode="trilinear", align_corners=False)
    return full[0, 0].numpy() / 2.0


def _ellipsoid_radius(shape, centre, radii) -> np.ndarray:
    """Normalised ellipsoidal radius (1 on the surface) on a grid, computed with broadcasting."""
    axes = [
        ((np.arange(n, dtype=np.float32) - c) / r).reshape([-1 if i == k else 1 for k in range(3)])
        for i, (n, c, r) in enumerate(zip(shape, centre, radii, strict=True))
    ]
    return np.sqrt(axes[0] ** 2 + axes[1] ** 2 + axes[2] ** 2)


def synth_volumes(seed: int, index: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray, str]:
    """Case ``index`` of dataset ``seed`` in BraTS array layout: ``(images, seg, grade)``, an
    int16 volume per modality, a uint8 seg with BraTS labels, ``"HGG"`` or ``"LGG"``."""
    rng = np.random.default_rng([seed, index])
    brain, tissue, centre = _head(rng)
    seg, sub, grade = _tumour(rng, brain, centre)
    return _contrasts(rng, brain, tissue, seg, sub, grade), seg, grade


def _head(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """``(brain mask, tissue map, brain centre)``: tissue 0 outside, 1 wm, 2 gm, 3 csf."""
    shape = BRATS_SHAPE
    # Brain: an ellipsoid with a bumpy surface, flattened at its base.
    centre = (120 + rng.uniform(-4, 4), 122 + rng.uniform(-6, 6), 70 + rng.uniform(-4, 4))
    radii = (rng.uniform(62, 70), rng.uniform(80, 90), rng.uniform(58, 66))
    r = _ellipsoid_radius(shape, centre, radii)
    r += 0.05 * _smooth_noise(rng, shape, (10, 10, 8))
    z = np.arange(shape[2], dtype=np.float32).reshape(1, 1, -1)
    brain = (r < 1.0) & (z > centre[2] - radii[2] * 0.75)
    # Cortex: a grey-matter ribbon with gyri (a finer noise field), sulcal CSF at the surface.
    gyri = 0.05 * _smooth_noise(rng, shape, (28, 28, 20))
    gm = brain & (r + gyri > 0.80)
    csf = brain & ((r + gyri > 0.955) | (gyri > 0.042))
    x = np.arange(shape[0], dtype=np.float32).reshape(-1, 1, 1)
    fissure = brain & (np.abs(x - centre[0]) < 1.2) & (z > centre[2] - 10)
    ventricles = np.zeros(shape, dtype=bool)
    for side in (-1, 1):
        vc = (centre[0] + side * rng.uniform(9, 12), centre[1] - 8, centre[2] + 12)
        ventricles |= _ellipsoid_radius(shape, vc, (rng.uniform(4, 7), 26, 11)) < 1.0
    csf |= fissure | ventricles
    tissue = np.zeros(shape, dtype=np.uint8)
    tissue[brain] = 1
    tissue[gm] = 2
    tissue[csf & brain] = 3
    return brain, tissue, centre


def _tumour(rng: np.random.Generator, brain: np.ndarray, centre) -> tuple[np.ndarray, tuple, str]:
    """``(seg, box, grade)``: a tumour in one hemisphere's white matter (necrotic core, enhancing
    rim, edema around it; an LGG's core does not enhance), drawn in the ``box`` around it."""
    grade = "LGG" if rng.random() < 0.25 else "HGG"
    side = rng.choice([-1, 1])
    offset = (side * rng.uniform(18, 38), rng.uniform(-45, 45), rng.uniform(-10, 28))
    t_centre = np.array(centre) + np.array(offset)
    r_tumour = rng.uniform(10, 21)
    r_edema = r_tumour * rng.uniform(1.5, 2.3)
    box = int(np.ceil(r_edema * 1.35)) + 2
    lo = np.maximum(np.round(t_centre).astype(int) - box, 0)
    hi = np.minimum(np.round(t_centre).astype(int) + box, BRATS_SHAPE)
    sub = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    sub_shape = tuple(int(b - a) for a, b in zip(lo, hi, strict=True))
    rr = _ellipsoid_radius(sub_shape, t_centre - lo, tuple(rng.uniform(0.8, 1.25, size=3)))
    d_tumour = rr / r_tumour + 0.22 * _smooth_noise(rng, sub_shape, (5, 5, 5))
    d_edema = rr / r_edema + 0.30 * _smooth_noise(rng, sub_shape, (6, 6, 6))
    core_frac = rng.uniform(0.45, 0.7)
    inside = brain[sub]
    seg = np.zeros(BRATS_SHAPE, dtype=np.uint8)
    local = np.zeros(sub_shape, dtype=np.uint8)
    local[(d_edema < 1.0) & inside] = 2
    if grade == "HGG":
        local[(d_tumour < 1.0) & inside] = 4
        local[(d_tumour < core_frac) & inside] = 1
    else:
        local[(d_tumour < 0.9) & inside] = 1
    seg[sub] = local
    return seg, sub, grade


def _contrasts(rng, brain, tissue, seg, sub, grade) -> dict[str, np.ndarray]:
    """The int16 image of each modality: tissue means, tumour heterogeneity, partial-volume
    blur, bias field, texture and noise; exactly zero outside the brain."""
    shape, sub_shape = BRATS_SHAPE, seg[sub].shape
    # in the tumour's box, BraTS label -> 1 edema, 2 enhancing, 3 necrotic/non-enhancing
    kind = np.array([0, 3, 1, 0, 2], dtype=np.uint8)[seg[sub]]
    bias = 1.0 + 0.08 * _smooth_noise(rng, shape, (4, 4, 3))
    texture = 1.0 + 0.04 * _smooth_noise(rng, shape, (40, 40, 26))
    heterogeneity = 1.0 + 0.10 * _smooth_noise(rng, sub_shape, (8, 8, 8))
    kinds = ("edema", "enhancing", "necrotic" if grade == "HGG" else "nonenhancing")
    # the brain's box and the blur's reach around it: the voxels outside are zero in the end
    box = _around(brain, margin=4)
    gain = bias[box] * texture[box]  # the same for every modality
    images: dict[str, np.ndarray] = {}
    for m, modality in enumerate(MODALITIES):
        lut = np.array([0] + [_TISSUE[t][m] for t in ("wm", "gm", "csf")], dtype=np.float32)
        lut *= rng.uniform(0.9, 1.1)
        vol = lut[tissue]
        tumour_lut = np.array([0] + [_TISSUE[t][m] for t in kinds], dtype=np.float32)
        tumour_lut *= rng.uniform(0.92, 1.08)
        region = vol[sub]
        region[kind > 0] = (tumour_lut[kind] * heterogeneity)[kind > 0]
        vol[sub] = region
        vol = ndimage.gaussian_filter(vol[box], sigma=0.8)
        vol *= gain
        vol += rng.standard_normal(vol.shape, dtype=np.float32) * (0.035 * lut[1])  # the box's
        np.clip(np.round(vol, out=vol), 1, 32000, out=vol)
        image = np.zeros(shape, dtype=np.int16)
        image[box] = vol.astype(np.int16) * brain[box]  # exactly zero outside the brain
        images[modality] = image
    return images


def _around(mask: np.ndarray, margin: int) -> tuple[slice, ...]:
    """The box of ``mask``'s voxels grown by ``margin`` on each side (within the volume)."""
    box = []
    for axis in range(mask.ndim):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        box.append(slice(max(int(hit[0]) - margin, 0), int(hit[-1]) + margin + 1))
    return tuple(box)


def case_name(index: int) -> str:
    """BraTS-style subject id of sample case ``index``."""
    return f"BraTS19_SYN_{index:04d}_1"


def _write_nifti(array: np.ndarray, path: Path) -> None:
    img = nib.Nifti1Image(array, BRATS_AFFINE)
    img.header.set_xyzt_units("mm", "sec")
    img.set_qform(BRATS_AFFINE, code=1)
    img.set_sform(BRATS_AFFINE, code=1)
    img.to_filename(str(path))


def write_case(out_root: Path, seed: int, index: int) -> Path:
    """Generate case ``index`` and write it atomically under ``out_root/<grade>/<case>/``."""
    images, seg, grade = synth_volumes(seed, index)
    name = case_name(index)
    final = out_root / grade / name
    try:
        with atomic_dir(final) as tmp:
            for modality, vol in images.items():
                _write_nifti(vol, tmp / f"{name}_{modality}.nii.gz")
            _write_nifti(seg, tmp / f"{name}_seg.nii.gz")
    except OSError as exc:  # another process wrote the same case first: the same bytes
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not final.is_dir():
            raise
    return final


def synth_dataset(
    out: str | os.PathLike[str],
    cases: int,
    seed: int = 0,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``cases`` sample cases of ``seed`` under ``out/MICCAI_BraTS_2019_Data_Training``
    (returned; ``{HGG,LGG}/<case>/``), keeping those already there; another seed over an existing
    dataset is refused unless ``force``. ``progress(done, total)`` is called after each case."""
    if cases < 1:
        raise ValueError(tr("cases must be at least 1"))
    out = Path(out).expanduser()
    root = out / RELEASE_DIR
    _refuse_mixing(out, root)
    manifest_path = root / MANIFEST
    found = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    if root.exists() and (found is None or found.get("seed") != seed):
        _replaceable(root, found, force)
        shutil.rmtree(root)
        found = None
    root.mkdir(parents=True, exist_ok=True)
    manifest = {"seed": seed, "generator": "unet_tp.data.synth"}
    # written once: another process may be copying the folder (the grader's homes), and a
    # rewrite's temporary file would vanish under it
    if found != manifest:
        save_json(manifest_path, manifest)
    existing = {p.name for grade in ("HGG", "LGG") for p in (root / grade).glob("BraTS19_SYN_*")}
    for i in range(cases):
        if case_name(i) not in existing:
            write_case(root, seed, i)
        if progress is not None:
            progress(i + 1, cases)
    return root


def _replaceable(root: Path, found: dict | None, force: bool) -> None:
    """A FileExistsError unless ``root`` (there, of another seed or not the kit's) may be deleted:
    sample cases the kit wrote (its manifest there), with ``force``. A real release bears that
    name (data round 22: ``--force`` deleted one), and a link's target is not the kit's."""
    if root.is_symlink():
        raise FileExistsError(
            tr(
                "{root} is a symbolic link (to {target}), not sample cases written here: it is "
                "not replaced, even with --force; choose another OUT",
                root=root,
                target=os.readlink(root),
            )
        )
    if found is None:
        raise FileExistsError(
            tr(
                "{root} exists and was not made by unet-tp (no {manifest}: a BraTS release bears "
                "that name); it is not replaced, even with --force: choose another OUT",
                root=root,
                manifest=MANIFEST,
            )
        )
    if not force:
        raise FileExistsError(
            tr(
                "{root} exists and was made with seed {seed}; choose another OUT or pass --force "
                "to replace it",
                root=root,
                seed=found["seed"],
            )
        )


def _refuse_mixing(out: Path, root: Path) -> None:
    """A FileExistsError if ``out`` holds BraTS cases other than the sample's (data round 21:
    sample cases were added beside a real release, then prepared and trained on with it)."""
    from unet_tp.data.cases import DataError, scan_cases

    if not out.is_dir():
        return
    try:
        found = scan_cases(out).cases
    except DataError:
        found = []
    own = [c for c in found if not c.directory.is_relative_to(root)]
    if own:
        raise FileExistsError(
            tr(
                "{out} holds {count} BraTS cases of its own (e.g. {case_id} in {directory}): "
                "sample cases there would be mixed with them; choose another OUT",
                out=out,
                count=len(own),
                case_id=own[0].case_id,
                directory=own[0].directory,
            )
        )


def default_sample_dir(seed: int = 0, home: str | os.PathLike[str] | None = None) -> Path:
    """Where :func:`sample_cases` keeps the cases of ``seed``: ``<home>/sample_cases/seed<seed>``,
    ``home`` defaulting to the kit's working folder."""
    return Path(home if home is not None else unet_tp_home()) / "sample_cases" / f"seed{seed}"


def sample_cases(cases: int = 12, seed: int = 0, out: str | os.PathLike[str] | None = None) -> Path:
    """The built-in sample dataset, generated on first use (deterministic, offline): its release
    folder, ready for :func:`unet_tp.data.find_cases` or ``unet-tp data prepare``."""
    out = Path(out) if out is not None else default_sample_dir(seed)
    return synth_dataset(out, cases=cases, seed=seed)
