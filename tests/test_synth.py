"""The sample cases must look like BraTS 2019 to every reader: layout, header, labels, contrasts."""

import nibabel as nib
import numpy as np
import pytest
from conftest import case_dirs

from unet_tp.conventions import BRATS_AFFINE, MODALITIES
from unet_tp.data.synth import synth_dataset, synth_volumes


def test_exact_brats_layout_and_headers(brats_root):
    assert brats_root.name == "MICCAI_BraTS_2019_Data_Training"
    dirs = case_dirs(brats_root)
    assert len(dirs) == 4
    for d in dirs:
        assert d.parent.name in ("HGG", "LGG")
        for kind in (*MODALITIES, "seg"):
            img = nib.load(str(d / f"{d.name}_{kind}.nii.gz"))
            assert img.shape == (240, 240, 155)
            assert np.allclose(img.affine, BRATS_AFFINE)
            assert img.header.get_zooms() == (1.0, 1.0, 1.0)
            assert img.get_data_dtype() == (np.uint8 if kind == "seg" else np.int16)
        seg = np.asanyarray(nib.load(str(d / f"{d.name}_seg.nii.gz")).dataobj)
        assert set(np.unique(seg)) <= {0, 1, 2, 4}


def _regions(seed, index):
    images, seg, grade = synth_volumes(seed, index)
    brain = images["t1"] > 0
    wm_like = brain & (seg == 0)
    return images, seg, grade, brain, wm_like


@pytest.mark.slow  # 3 s: test_glioma_contrasts[0] keeps a generated case in the fast loop
def test_skull_stripped_and_tumour_inside_brain():
    images, seg, _, brain, _ = _regions(0, 1)
    for vol in images.values():
        assert ((vol > 0) == brain).all()  # every modality: zero exactly outside the brain
    assert brain.mean() > 0.08  # a head-sized brain, not a speck
    assert (seg[~brain] == 0).all()


@pytest.mark.parametrize(
    "index", [0, *(pytest.param(i, marks=pytest.mark.slow) for i in (1, 2, 3, 5))]
)
def test_glioma_contrasts(index):
    images, seg, grade, brain, normal = _regions(11, index)
    mean = {
        m: {lab: images[m][seg == lab].mean() for lab in (1, 2, 4) if (seg == lab).any()}
        for m in MODALITIES
    }
    normal_mean = {m: np.median(images[m][normal]) for m in MODALITIES}
    assert mean["flair"][2] > 1.3 * normal_mean["flair"]  # edema bright on FLAIR
    assert mean["t2"][2] > 1.3 * normal_mean["t2"]  # and on T2
    if grade == "HGG":
        assert mean["t1ce"][4] > 1.5 * mean["t1ce"][1]  # enhancing rim bright, core dark on T1ce
        assert mean["t1ce"][4] > 1.5 * normal_mean["t1ce"]
    else:
        assert 4 not in mean["t1ce"]


@pytest.mark.slow
def test_seed_determines_the_case():
    a, sa, _ = synth_volumes(5, 2)
    b, sb, _ = synth_volumes(5, 2)
    c, sc, _ = synth_volumes(6, 2)
    np.testing.assert_array_equal(a["flair"], b["flair"])
    np.testing.assert_array_equal(sa, sb)
    assert not np.array_equal(sa, sc)


@pytest.mark.slow
def test_cases_vary_in_position_and_size():
    centres, sizes = [], []
    for i in range(4):
        _, seg, _ = synth_volumes(0, i)
        idx = np.argwhere(seg > 0)
        centres.append(idx.mean(axis=0))
        sizes.append(len(idx))
    assert np.ptp(np.array(centres), axis=0).max() > 10
    assert max(sizes) > 1.3 * min(sizes)


@pytest.mark.slow
def test_rerun_keeps_cases_and_other_seed_is_refused(tmp_path):
    root = synth_dataset(tmp_path, cases=1, seed=3)
    (f,) = root.glob("*/*/*_t1.nii.gz")
    mtime = f.stat().st_mtime_ns
    synth_dataset(tmp_path, cases=1, seed=3)
    assert f.stat().st_mtime_ns == mtime
    with pytest.raises(FileExistsError, match="seed 3"):
        synth_dataset(tmp_path, cases=1, seed=4)


@pytest.mark.slow  # (over 2.5 s: the full suite's, not the fast loop's)
def test_two_processes_making_the_same_cases_do_not_trip_each_other(tmp_path):
    """Two grading runs (the class's and a re-run) make the sample cases at once: one copied the
    folder while the other rewrote the manifest (its temporary file vanished under the copy), and
    the case the other wrote first made this one's rename fail. The manifest is written once and
    a case already written is taken as it is (the same seed, the same bytes)."""
    from unet_tp.data.synth import MANIFEST, synth_dataset, write_case

    root = synth_dataset(tmp_path, cases=1, seed=3)
    written = (root / MANIFEST).stat().st_mtime_ns
    case = write_case(root, 3, 0)  # as the slower process does, the case being there already
    assert case.is_dir() and not [p for p in root.rglob(".*")]
    synth_dataset(tmp_path, cases=1, seed=3)
    assert (root / MANIFEST).stat().st_mtime_ns == written


def test_sample_cases_are_not_mixed_into_a_real_dataset(tmp_path):
    """Data round 21: `data synth OUT` on a folder of real cases added BraTS19_SYN_* beside them
    (`info` then counted them, `prepare` and `train` used them all)."""
    from tinycases import write_case

    write_case(tmp_path / "real", "BraTS2021_00001", "brats2021")
    with pytest.raises(FileExistsError, match="BraTS2021_00001"):
        synth_dataset(tmp_path / "real", cases=1, seed=3)
    assert not (tmp_path / "real" / "MICCAI_BraTS_2019_Data_Training").exists()


@pytest.mark.slow  # (over 2.5 s: the full suite's, not the fast loop's)
def test_force_replaces_only_sample_cases_the_kit_wrote(tmp_path):
    """Data round 22: `data synth OUT --force` deleted a real release found at
    OUT/MICCAI_BraTS_2019_Data_Training (the release's own name), and a link there failed
    with "Cannot call rmtree on a symbolic link"."""
    from tinycases import write_case

    real = tmp_path / "out" / "MICCAI_BraTS_2019_Data_Training"
    write_case(real / "HGG", "BraTS19_CBICA_AAA_1", "brats2019")
    (real / "name_mapping.csv").write_text("Grade,BraTS_2019_subject_ID\n")
    before = sorted(p.relative_to(real) for p in real.rglob("*"))
    with pytest.raises(FileExistsError, match="not made by unet-tp.*even with --force"):
        synth_dataset(tmp_path / "out", cases=1, seed=3, force=True)
    assert sorted(p.relative_to(real) for p in real.rglob("*")) == before
    made = synth_dataset(tmp_path / "made", cases=1, seed=3)
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / made.name).symlink_to(made)
    with pytest.raises(FileExistsError, match="is a symbolic link"):
        synth_dataset(tmp_path / "link", cases=1, seed=4, force=True)
    assert (made / "unet_tp_synth.json").is_file()
    again = synth_dataset(tmp_path / "made", cases=1, seed=4, force=True)  # the kit's own
    assert again == made and '"seed": 4' in (made / "unet_tp_synth.json").read_text()
