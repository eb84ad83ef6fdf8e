"""Reading BraTS cases: layouts, orientation, and every kind of bad input."""

import gzip
import shutil
import struct

import nibabel as nib
import numpy as np
import pytest
from conftest import case_dirs
from nibabel.orientations import inv_ornt_aff

from unet_tp.conventions import BRATS_AFFINE, MODALITIES
from unet_tp.data import DataError, find_cases, load_case


@pytest.mark.slow  # (over 2.5 s: the full suite's, not the fast loop's)
def test_official_layout_with_grades(brats_root):
    cases = find_cases(brats_root)
    assert len(cases) == 4
    assert all(c.grade in ("HGG", "LGG") for c in cases)
    assert all(set(c.files) == {*MODALITIES, "seg"} for c in cases)
    assert [c.case_id for c in cases] == sorted(c.case_id for c in cases)


def test_plain_folder_of_uncompressed_cases(brats_root, tmp_path):
    """The Kaggle mirror: a flat folder of case folders holding .nii files."""
    src = case_dirs(brats_root)[0]
    dst = tmp_path / "flat" / src.name
    dst.mkdir(parents=True)
    for f in src.iterdir():
        with gzip.open(f) as fin, open(dst / f.name.removesuffix(".gz"), "wb") as fout:
            shutil.copyfileobj(fin, fout)
    (dst / "._junk_t1.nii").write_bytes(b"macOS resource fork")
    (case,) = find_cases(tmp_path / "flat")
    assert case.grade is None and case.files["t1"].suffix == ".nii"
    a = load_case(case)
    b = load_case(find_cases(src)[0])
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.seg, b.seg)


@pytest.mark.slow
def test_working_orientation_does_not_depend_on_storage(brats_root, tmp_path):
    """The same head stored RAS instead of BraTS's LPS reads into the same working arrays."""
    (case,) = find_cases(case_dirs(brats_root)[0])
    ref = load_case(case)
    dst = tmp_path / case.case_id
    dst.mkdir()
    for path in case.files.values():
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)[::-1, ::-1, :]
        affine = img.affine @ np.array(
            [[-1, 0, 0, 239], [0, -1, 0, 239], [0, 0, 1, 0], [0, 0, 0, 1]]
        )
        nib.Nifti1Image(np.ascontiguousarray(data), affine).to_filename(str(dst / path.name))
    assert nib.aff2axcodes(affine) == ("R", "A", "S")
    other = load_case(find_cases(dst)[0])
    np.testing.assert_array_equal(other.image, ref.image)
    np.testing.assert_array_equal(other.seg, ref.seg)
    # and a prediction goes back to each file's own layout
    back = other.to_source_orientation(other.seg)
    np.testing.assert_array_equal(
        back, np.asanyarray(nib.load(str(dst / case.files["seg"].name)).dataobj)
    )


def test_working_orientation_is_radiological(brats_root):
    """Rows run anterior -> posterior, columns the patient's right -> left."""
    (case,) = find_cases(case_dirs(brats_root)[0])
    vol = load_case(case)
    assert np.allclose(vol.affine, BRATS_AFFINE)
    raw = np.asanyarray(nib.load(str(case.files["t1"])).dataobj)
    # BraTS axes are (L, P, S): working (P, L, S) is a transpose of the first two axes.
    np.testing.assert_array_equal(vol.image[0], np.transpose(raw, (1, 0, 2)).astype(np.float32))


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        find_cases(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no BraTS case found"):
        find_cases(tmp_path / "empty")


def _one_case(root):
    return find_cases(case_dirs(root)[0])[0]


def test_missing_modality_names_case_and_file(brats_copy):
    case = _one_case(brats_copy)
    t1ce = case.files["t1ce"]
    t1ce.rename(t1ce.with_name(f"{case.case_id}_t1c.nii.gz"))  # another edition's name for it
    case = _one_case(brats_copy)
    with pytest.raises(
        DataError,
        match=rf"case {case.case_id}: missing t1ce file .*_t1ce\.nii\.gz.*"
        rf"the folder also holds {case.case_id}_t1c\.nii\.gz",
    ):
        load_case(case)


def test_truncated_gzip(brats_copy):
    case = _one_case(brats_copy)
    path = case.files["flair"]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        DataError, match=rf"case {case.case_id}: cannot read .*_flair\.nii\.gz.*truncated"
    ):
        load_case(case)


@pytest.mark.parametrize(
    ("offset", "fmt", "value"),
    [(70, "<h", 9999), (40, "<h", 9), (42, "<h", -5)],
    ids=["unknown datatype", "dim0 above 7", "negative dim"],
)
def test_damaged_header_is_one_error_naming_the_file(brats_copy, offset, fmt, value):
    # uncompressed, as the Kaggle mirror's files (nibabel maps them: a negative size overflows)
    gz = _one_case(brats_copy).files["flair"]
    raw = bytearray(gzip.decompress(gz.read_bytes()))
    raw[offset : offset + struct.calcsize(fmt)] = struct.pack(fmt, value)
    gz.with_suffix("").write_bytes(bytes(raw))
    gz.unlink()
    case = _one_case(brats_copy)
    with pytest.raises(DataError, match=rf"case {case.case_id}: cannot read .*_flair\.nii \("):
        load_case(case)


@pytest.mark.parametrize("damage", ["zero axis", "nan"])
def test_a_damaged_affine_is_one_error_naming_the_file(brats_copy, damage):
    case = _one_case(brats_copy)
    img = nib.load(str(case.files["seg"]))
    affine = img.affine.copy()
    affine[:3, 2] = 0.0 if damage == "zero axis" else np.nan
    damaged = nib.Nifti1Image(np.asanyarray(img.dataobj), None)
    damaged.header.set_sform(affine, code=1)  # as a broken converter writes it
    damaged.header.set_qform(None, code=0)
    damaged.to_filename(str(case.files["seg"]))
    with pytest.raises(DataError, match=rf"case {case.case_id}: .*_seg\.nii\.gz has a damaged"):
        load_case(case)


def test_shape_mismatch(brats_copy):
    case = _one_case(brats_copy)
    img = nib.load(str(case.files["t2"]))
    nib.Nifti1Image(np.asanyarray(img.dataobj)[:, :, :150], img.affine).to_filename(
        str(case.files["t2"])
    )
    with pytest.raises(DataError, match=r"_t2\.nii\.gz has shape \(240, 240, 150\)"):
        load_case(case)


def test_labels_outside_brats_set(brats_copy):
    case = _one_case(brats_copy)
    img = nib.load(str(case.files["seg"]))
    seg = np.asanyarray(img.dataobj).copy()
    seg[seg == 4] = 3
    seg[0, 0, 0] = 7
    nib.Nifti1Image(seg, img.affine).to_filename(str(case.files["seg"]))
    match = r"_seg\.nii\.gz holds labels \[3, 7\] \(3 on [0-9,]+ voxels, 7 on 1 voxel\) outside"
    with pytest.raises(DataError, match=match):
        load_case(case)


def test_float_labels_with_rounding_error_are_rounded(brats_copy):
    # a seg saved as float64 with 3.9999999 for 4 (a resampled or rescaled export) reads as BraTS
    # labels; a value truly between two labels is still refused, and named
    case = _one_case(brats_copy)
    img = nib.load(str(case.files["seg"]))
    seg = np.asanyarray(img.dataobj)
    fuzzy = seg.astype(np.float64)
    fuzzy[seg == 4], fuzzy[seg == 2], fuzzy[seg == 1] = 3.9999999, 2.0000001, 0.9999999
    nib.Nifti1Image(fuzzy, img.affine).to_filename(str(case.files["seg"]))
    loaded = load_case(case)
    assert loaded.seg.dtype == np.uint8
    for label in (1, 2, 4):
        assert (loaded.seg == label).sum() == (seg == label).sum() > 0
    fuzzy[0, 0, 0] = 2.5
    nib.Nifti1Image(fuzzy, img.affine).to_filename(str(case.files["seg"]))
    with pytest.raises(DataError, match=r"_seg\.nii\.gz holds non-integer labels \(e\.g\. 2\.5\)"):
        load_case(case)


@pytest.mark.parametrize("extra", [(1,), pytest.param((1, 1), marks=pytest.mark.slow)])
def test_trailing_singleton_dimensions_are_one_volume(brats_copy, extra):
    # some converters write a 3D volume as (X, Y, Z, 1) or, NIfTI's dim[0] = 5, (X, Y, Z, 1, 1)
    case = _one_case(brats_copy)
    before = load_case(case)
    for kind in ("t2", "seg"):
        img = nib.load(str(case.files[kind]))
        data = np.asanyarray(img.dataobj).reshape(img.shape + extra)
        nib.Nifti1Image(data, img.affine).to_filename(str(case.files[kind]))
    after = load_case(case)
    np.testing.assert_array_equal(after.image, before.image)
    np.testing.assert_array_equal(after.seg, before.seg)


def test_nan_intensities(brats_copy):
    case = _one_case(brats_copy)
    img = nib.load(str(case.files["t1"]))
    data = np.asanyarray(img.dataobj).astype(np.float32)
    data[100, 100, 70] = np.nan
    nib.Nifti1Image(data, img.affine).to_filename(str(case.files["t1"]))
    with pytest.raises(DataError, match=r"_t1\.nii\.gz holds 1 NaN.*set them to 0"):
        load_case(case)


def test_not_a_nifti(brats_copy):
    case = _one_case(brats_copy)
    case.files["seg"].write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"cannot read .*_seg\.nii\.gz"):
        load_case(case)


@pytest.mark.slow
def test_grids_must_match_but_an_origin_shift_is_tolerated(brats_copy):
    case = _one_case(brats_copy)
    img = nib.load(str(case.files["seg"]))
    seg = np.asanyarray(img.dataobj)
    shifted = img.affine.copy()
    shifted[:3, 3] += 1.0  # header quirk: another origin, same voxel grid
    nib.Nifti1Image(seg, shifted).to_filename(str(case.files["seg"]))
    loaded = load_case(case)
    assert loaded.seg.shape == (240, 240, 155) and not loaded.warnings
    shifted[:3, 3] += 60.0  # data round 20: a seg of another registration, read unsaid
    nib.Nifti1Image(seg, shifted).to_filename(str(case.files["seg"]))
    (warning,) = load_case(case).warnings
    assert "_seg.nii.gz's origin is 105.7 mm from" in warning and "registration" in warning
    flipped = img.affine @ np.diag([-1.0, 1.0, 1.0, 1.0])  # another orientation
    nib.Nifti1Image(seg, flipped).to_filename(str(case.files["seg"]))
    with pytest.raises(
        DataError, match=r"_seg\.nii\.gz is stored with orientation RPS .* but .* LPS"
    ):
        load_case(case)
    # the same voxels stored in another orientation (a seg re-saved by ITK-SNAP: data and
    # header flipped together) are the images' grid: read as the original seg (it was refused)
    nib.Nifti1Image(seg, img.affine).to_filename(str(case.files["seg"]))
    expected = load_case(case).seg
    resaved = img.affine @ inv_ornt_aff([[0, -1], [1, 1], [2, 1]], seg.shape)
    nib.Nifti1Image(seg[::-1], resaved).to_filename(str(case.files["seg"]))
    assert nib.aff2axcodes(resaved) != nib.aff2axcodes(img.affine)
    np.testing.assert_array_equal(load_case(case).seg, expected)
    lost = nib.Nifti1Image(seg, img.affine)
    lost.set_qform(None, code=0)
    lost.set_sform(None, code=0)  # a seg whose header lost its orientation: said so
    lost.to_filename(str(case.files["seg"]))
    with pytest.raises(DataError, match=r"one voxel grid \(.*_seg\.nii\.gz has no orientation"):
        load_case(case)


def test_a_copy_left_beside_a_case_is_not_a_case(tmp_path):
    """Data round 21: Drive's `Copy of BraTS2021_00001_seg.nii.gz` (or `<case>_flair_seg.nii`)
    in a case's folder was a seg-only case: `data info` counted it, `prepare` stopped on its
    missing t1. A file of an incomplete case whose id holds its folder's case is a stray copy."""
    from tinycases import write_case

    from unet_tp.data.cases import scan_cases

    folder = write_case(tmp_path / "data", "BraTS2021_00001", "brats2021")
    seg = next(folder.glob("*_seg.nii.gz"))
    shutil.copy(seg, folder / "Copy of BraTS2021_00001_seg.nii.gz")
    shutil.copy(seg, folder / "BraTS2021_00001_flair_seg.nii.gz")
    scan = scan_cases(tmp_path / "data")
    assert [c.case_id for c in scan.cases] == ["BraTS2021_00001"]
    assert {p.name for p in scan.unrecognised} == {
        "Copy of BraTS2021_00001_seg.nii.gz", "BraTS2021_00001_flair_seg.nii.gz"
    }  # fmt: skip
    alone = write_case(tmp_path / "other", "BraTS2021_00002", "brats2021")
    next(alone.glob("*_t1.nii.gz")).unlink()  # a case of its own missing a file: still named
    assert [c.missing() for c in find_cases(tmp_path / "other")] == [["t1"]]


def test_a_whole_copy_of_a_case_is_left_out_with_a_note(tmp_path):
    """Data round 22: Drive's "Make a copy" of a case's five files (``Copy of <id>_*``) or a
    ``<id> (1)`` copy was a second case of the same patient: `data info` listed both, and the
    split could put one in training and the other in validation."""
    from tinycases import write_case

    from unet_tp.data.cases import scan_cases

    folder = write_case(tmp_path / "data", "BraTS19_CBICA_A0_1", "brats2019")
    write_case(tmp_path / "data", "BraTS19_CBICA_A1_1", "brats2019", index=1)
    for f in sorted(folder.iterdir()):
        shutil.copy(f, folder / f"Copy of {f.name}")
    other = write_case(tmp_path / "data", "BraTS19_CBICA_A1_1 (1)", "brats2019", index=1)
    scan = scan_cases(tmp_path / "data")
    assert [c.case_id for c in scan.cases] == ["BraTS19_CBICA_A0_1", "BraTS19_CBICA_A1_1"]
    assert len(scan.unrecognised) == 10 and all(
        p.name.startswith("Copy of") or p.parent == other for p in scan.unrecognised
    )
    first, second = scan.cases
    assert first.notes == [
        f"left out Copy of BraTS19_CBICA_A0_1 (5 files in {folder}): a copy of this case "
        "(Drive's 'Make a copy'), the same patient twice"
    ]
    assert "left out BraTS19_CBICA_A1_1 (1)" in second.notes[0]


def test_a_case_in_many_folders_names_three_and_counts_the_rest(tmp_path):
    """French student round 39: a case copied into 15 folders of a Drive listed all 15 paths."""
    from tinycases import write_case

    for i in range(5):
        write_case(tmp_path / "data" / f"copy{i}", "BraTS2021_00001", "brats2021")
    with pytest.raises(DataError) as info:
        find_cases(tmp_path / "data")
    said = str(info.value)
    assert said.startswith("case BraTS2021_00001 appears in 5 folders: "), said
    assert said.count(str(tmp_path)) == 3 and " and 2 more; keep one copy of each case" in said
