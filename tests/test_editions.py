"""Every BraTS a user brings: 2019 / 2020 (case 355) / 2021 / 2023-2024 naming and labels, MSD as a
folder, label advice, prediction-only sets, and suspicious data (on tiny generated cases)."""

import re
import shutil

import nibabel as nib
import numpy as np
import pytest
from tinycases import volumes, write_case

from unet_tp import i18n
from unet_tp.cli import main
from unet_tp.conventions import BRATS_SHAPE, EDITIONS, MSD_CHANNELS, MSD_EDITION
from unet_tp.data import DataError, find_cases, load_case, scan_cases
from unet_tp.data.cache import CacheSettings, prepare_cache


@pytest.mark.parametrize(
    ("edition", "case_id"),
    [
        ("brats2019", "BraTS19_TCIA01_131_1"),
        ("brats2020", "BraTS20_Training_001"),
        ("brats2021", "BraTS2021_00000"),
        ("brats2023", "BraTS-GLI-00000-000"),
        ("brats2023-other", "BraTS-MET-00000-000"),
    ],
)
def test_each_edition_reads_to_brats_2019_labels(tmp_path, edition, case_id):
    write_case(tmp_path / "data", case_id, edition)
    (case,) = find_cases(tmp_path / "data")
    assert case.case_id == case_id and case.edition == edition
    vol = load_case(case)
    _, seg_2019 = volumes(0)
    # the same voxels and BraTS 2019 labels whatever the edition (2023's 3 is stored as 4)
    assert sorted(np.unique(vol.seg).tolist()) == [0, 1, 2, 4]
    assert (vol.seg == 4).sum() == (seg_2019 == 4).sum() and vol.warnings == []


@pytest.mark.parametrize("edition", [*EDITIONS.values(), MSD_EDITION], ids=lambda e: e.key)
def test_a_segmentation_goes_back_to_each_editions_labels(edition):
    """What ``predict`` writes: BraTS 2019 labels in the edition's own, read back unchanged."""
    brats = np.array([0, 1, 2, 4], np.uint8)
    written = edition.from_brats(brats)
    np.testing.assert_array_equal(edition.to_brats(written), brats)
    assert set(written.tolist()) <= set(edition.labels)
    expected = {"brats2023": [0, 1, 2, 3], "brats2023-other": [0, 1, 2, 3], "msd": [0, 2, 1, 3]}
    assert written.tolist() == expected.get(edition.key, [0, 1, 2, 4])


def test_2023_seg_file_holds_label_3_for_enhancing(tmp_path):
    case_dir = write_case(tmp_path, "BraTS-GLI-00001-000", "brats2023")
    raw = np.asanyarray(nib.load(str(case_dir / "BraTS-GLI-00001-000-seg.nii.gz")).dataobj)
    assert sorted(np.unique(raw).tolist()) == [0, 1, 2, 3]
    (case,) = find_cases(tmp_path)
    np.testing.assert_array_equal(load_case(case).seg == 4, np.transpose(raw == 3, (1, 0, 2)))


def test_brats2020_case_355_seg_quirk_is_read_and_named(tmp_path, capsys):
    case_dir = write_case(tmp_path / "d", "BraTS20_Training_355", "brats2020")
    (case_dir / "BraTS20_Training_355_seg.nii.gz").rename(case_dir / "W39_1998.09.19_Segm.nii.gz")
    (case,) = find_cases(tmp_path / "d")
    assert case.files["seg"].name == "W39_1998.09.19_Segm.nii.gz"
    assert "W39_1998.09.19_Segm.nii.gz" in case.notes[0]
    assert load_case(case).seg.max() == 4
    assert main(["data", "info", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "seg read from W39_1998.09.19_Segm.nii.gz" in out and "BraTS 2020" in out


def test_brats2020_grades_come_from_its_name_mapping_csv(tmp_path, capsys):
    release = tmp_path / "MICCAI_BraTS2020_TrainingData"
    for i in (1, 2, 3):
        write_case(release, f"BraTS20_Training_00{i}", "brats2020", index=i)
    (release / "name_mapping.csv").write_text(
        "Grade,BraTS_2017_subject_ID,BraTS_2018_subject_ID,TCGA_TCIA_subject_ID,"
        "BraTS_2019_subject_ID,BraTS_2020_subject_ID\n"
        "HGG,Brats17_CBICA_AAB_1,Brats18_CBICA_AAB_1,NA,BraTS19_CBICA_AAB_1,BraTS20_Training_001\n"
        "LGG,Brats17_2013_0_1,Brats18_2013_0_1,NA,BraTS19_2013_0_1,BraTS20_Training_002\n",
        encoding="utf-8",
    )
    assert [c.grade for c in find_cases(release)] == ["HGG", "LGG", None]
    assert main(["data", "info", str(release)]) == 0
    out = capsys.readouterr().out
    assert "HGG" in out and "LGG" in out
    # 2019's copy of patient 001 beside it: one patient under two names, refused by name
    write_case(tmp_path, "BraTS19_CBICA_AAB_1", index=1)
    with pytest.raises(
        DataError, match=r"BraTS20_Training_001 .* and case BraTS19_CBICA_AAB_1 .*two editions"
    ):
        find_cases(tmp_path)


def test_info_names_the_edition_and_unrecognised_files(tmp_path, capsys):
    write_case(tmp_path / "d", "BraTS-GLI-00000-000", "brats2023")
    write_case(tmp_path / "d", "BraTS-GLI-00002-000", "brats2023")
    (tmp_path / "d" / "notes").mkdir()
    (tmp_path / "d" / "notes" / "brain-seg.nii.gz").write_bytes(b"")  # 2023 kind, not a 2023 id
    stray = tmp_path / "d" / "notes" / "atlas_brain.nii.gz"
    shutil.copy(next((tmp_path / "d" / "BraTS-GLI-00000-000").iterdir()), stray)
    assert scan_cases(tmp_path / "d").unrecognised == [stray, stray.with_name("brain-seg.nii.gz")]
    assert main(["data", "info", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "2 cases" in out and "edition: BraTS 2023-2024 glioma: 2" in out
    assert "2 NIfTI files not recognised" in out and str(stray) in out


def test_no_case_found_names_the_files_seen(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "T1w_scan.nii.gz").write_bytes(b"")
    with pytest.raises(
        DataError, match=r"no BraTS case found .*BraTS 2023.*found T1w_scan\.nii\.gz"
    ):
        find_cases(tmp_path / "x")


def test_an_archive_given_for_a_folder_of_cases_is_told_how_to_unpack(tmp_path, capsys):
    (tmp_path / "drive").mkdir()
    archive = tmp_path / "drive" / "MICCAI_BraTS_2019_Data_Training.zip"
    archive.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    for target in (archive, archive.parent):
        assert main(["data", "info", str(target)]) == 2
        err = capsys.readouterr().err
        assert f"unet-tp data download --url {archive} --out DIR" in err, err
        assert err.count("\n") == 1 and "Traceback" not in err


def test_a_file_there_twice_compressed_and_not_says_to_keep_one(tmp_path, capsys):
    case_dir = write_case(tmp_path / "d", "BraTS19_Two_1", suffix=".nii")
    seg = case_dir / "BraTS19_Two_1_seg.nii"
    nib.save(nib.load(str(seg)), str(seg.with_name(seg.name + ".gz")))  # as gunzip -k leaves
    assert main(["data", "info", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "two seg files, BraTS19_Two_1_seg.nii and BraTS19_Two_1_seg.nii.gz" in err
    assert "keep one of them" in err and err.count("\n") == 1


def test_a_file_there_twice_in_one_case_of_several_leaves_that_case_out(tmp_path, capsys):
    """Tester: a .nii left beside its .nii.gz in one case made `data info` and the notebook's
    data cell fail for all; that case is left out, as unreadable ones are, saying why."""
    write_case(tmp_path / "d", "BraTS19_One_1", index=1, suffix=".nii")
    case_dir = write_case(tmp_path / "d", "BraTS19_Two_1", index=2, suffix=".nii")
    seg = case_dir / "BraTS19_Two_1_seg.nii"
    nib.save(nib.load(str(seg)), str(seg.with_name(seg.name + ".gz")))
    twice = "two seg files, BraTS19_Two_1_seg.nii and BraTS19_Two_1_seg.nii.gz"
    assert main(["data", "info", str(tmp_path / "d")]) == 0
    (line,) = [s for s in capsys.readouterr().out.splitlines() if s.startswith("BraTS19_Two_1")]
    assert twice in line and "keep one of them" in line
    report = prepare_cache(tmp_path / "d", tmp_path / "c", CacheSettings(crop=16), skip_bad=True)
    assert report.built == ["BraTS19_One_1"] and twice in report.skipped["BraTS19_Two_1"]


@pytest.mark.parametrize("name", ["seg.nii.gz", "BraTS19_Pred_1_autoseg.nii.gz", "my_segm.nii"])
def test_a_prediction_saved_beside_a_case_without_seg_is_no_ground_truth(tmp_path, name):
    case_dir = write_case(tmp_path, "BraTS19_Pred_1")
    (case_dir / "BraTS19_Pred_1_seg.nii.gz").rename(case_dir / name)  # a student's prediction
    scan = scan_cases(tmp_path)
    (case,) = scan.cases
    assert not case.has_seg and scan.unrecognised == [case_dir / name]


def test_a_link_back_up_the_tree_is_walked_once(tmp_path):
    case_dir = write_case(tmp_path / "data", "BraTS19_Loop_1")
    (case_dir / "loop").symlink_to(tmp_path / "data")  # a loop, as `ln -s .. loop` leaves
    (tmp_path / "data" / "again").symlink_to(case_dir)  # the same folder twice
    (case,) = find_cases(tmp_path / "data")
    assert case.directory == case_dir


def test_a_folder_of_archives_names_the_largest_to_unpack(tmp_path):
    # Kaggle's BraTS 2021: the release beside two one-case archives
    (tmp_path / "BraTS2021_00495.tar").write_bytes(b"x" * 10)
    (tmp_path / "BraTS2021_Training_Data.tar").write_bytes(b"x" * 1000)
    (tmp_path / "BraTS2021_00621.tar").write_bytes(b"x" * 10)
    with pytest.raises(DataError, match=r"3 archive\(s\).*--url \S*BraTS2021_Training_Data\.tar "):
        find_cases(tmp_path)


def test_label_3_in_a_2019_named_seg_names_the_matching_conventions(tmp_path):
    # a 2023 seg saved with 2019 names: labels 0/1/2/3
    write_case(tmp_path, "BraTS19_X_1", "brats2019", labels={0: 0, 1: 1, 2: 2, 4: 3})
    (case,) = find_cases(tmp_path)
    with pytest.raises(DataError) as err:
        load_case(case)
    msg = str(err.value)
    assert "holds labels [3] (3 on " in msg and "outside the BraTS 2019 set [0, 1, 2, 4]" in msg
    assert "BraTS 2023-2024 glioma convention (1 NETC, 2 SNFH, 3 ET, 4 RC" in msg
    # a whole 2023 name: BraTS19_X_1-seg.nii.gz would still be a 2019 case (label 3 refused)
    assert "e.g. BraTS-GLI-00000-000-seg.nii.gz, beside its t1n, t1c, t2w, t2f files" in msg
    assert "MSD Task01_BrainTumour convention" in msg and "imagesTr" in msg
    for f in case.files.values():  # the advice followed: the case reads, ET as 4
        kind = f.name[len("BraTS19_X_1_") : -len(".nii.gz")]
        kind = {"t1": "t1n", "t1ce": "t1c", "t2": "t2w", "flair": "t2f"}.get(kind, kind)
        f.rename(f.with_name(f"BraTS-GLI-00000-000-{kind}.nii.gz"))
    (renamed,) = find_cases(tmp_path)
    assert renamed.edition == "brats2023" and load_case(renamed).seg.max() == 4


def test_stray_3s_in_a_2019_seg_are_not_advised_as_2023s(tmp_path, monkeypatch):
    # a 2019 seg (4 = enhancing) with a few voxels of 3 left by an edit: read with 2023's
    # names, its 4s would be 2024's resection cavity, background: the enhancing tumour lost
    case_dir = write_case(tmp_path, "BraTS19_Edit_1")
    seg_path = case_dir / "BraTS19_Edit_1_seg.nii.gz"
    seg_img = nib.load(str(seg_path))
    raw = np.asanyarray(seg_img.dataobj).copy()
    assert (raw == 4).sum() > 4
    raw[tuple(np.argwhere(raw == 4)[:2].T)] = 3
    nib.Nifti1Image(raw, seg_img.affine).to_filename(str(seg_path))
    (case,) = find_cases(tmp_path)
    with pytest.raises(DataError) as err:
        load_case(case)
    msg = str(err.value)
    assert "holds labels [3] (3 on 2 voxels) outside the BraTS 2019 set" in msg
    assert "2023" not in msg.split("outside")[1].split("match no known convention")[0]
    assert "match no known convention" in msg and "stray voxels: relabel them" in msg
    # in French: "ils" (the labels), the conventions' names translated (a tester's round)
    monkeypatch.setattr(i18n, "_current", "fr")
    with pytest.raises(DataError) as err:
        load_case(case)
    assert " ; ils ne correspondent à aucune convention connue (BraTS 2019: 1 NCR/NET" in str(
        err.value
    )
    assert "BraTS 2023-2024 gliome: 1 NETC, 2 SNFH, 3 ET, 4 RC (cavité de résection : fond) ; " in (
        str(err.value)
    )
    assert "1 œdème, 2 tumeur non rehaussée, 3 tumeur rehaussée)" in str(err.value)


def test_brats_2024_resection_cavity_is_read_as_background(tmp_path, capsys):
    # a post-treatment case: 1 NETC, 2 SNFH, 3 ET and 4 RC, the cavity left by surgery
    case_dir = write_case(tmp_path / "d", "BraTS-GLI-02073-100", "brats2023")
    seg_path = case_dir / "BraTS-GLI-02073-100-seg.nii.gz"
    seg_img = nib.load(str(seg_path))
    raw = np.asanyarray(seg_img.dataobj).copy()
    cavity = np.zeros_like(raw, dtype=bool)
    cavity[4:8, 4:8, 4:6] = True  # inside the brain, away from the tumour
    assert not raw[cavity].any()
    raw[cavity] = 4
    nib.Nifti1Image(raw, seg_img.affine).to_filename(str(seg_path))
    (case,) = find_cases(tmp_path / "d")
    vol = load_case(case)
    _, seg_2019 = volumes(0)
    # the tumour as BraTS 2019 labels it, the cavity background; nothing suspicious to report
    assert np.array_equal(vol.seg, np.transpose(seg_2019, (1, 0, 2))) and vol.warnings == []
    assert main(["data", "info", str(tmp_path / "d")]) == 0
    assert "edition: BraTS 2023-2024 glioma: 1" in capsys.readouterr().out


def test_label_4_without_3_in_a_glioma_seg_is_read_as_the_cavity_and_said(tmp_path):
    # 2024's convention (4: the cavity), or a BraTS 2019 seg (4: enhancing) given 2023's names
    write_case(tmp_path, "BraTS-GLI-00003-000", "brats2023", labels={0: 0, 1: 1, 2: 2, 4: 4})
    (case,) = find_cases(tmp_path)
    vol = load_case(case)
    assert sorted(np.unique(vol.seg).tolist()) == [0, 1, 2]
    (warning,) = vol.warnings
    assert "BraTS-GLI-00003-000-seg.nii.gz holds label 4 and no label 3" in warning
    assert "RC (resection cavity: background)" in warning and "BraTS 2019 labels" in warning
    with pytest.raises(DataError, match="holds label 4 and no label 3"):
        load_case(case, strict=True)


def test_label_4_in_another_2023_tumours_seg_names_brats_2019(tmp_path):
    # BraTS 2023's other tumour types (MET, SSA, PED) have no label 4
    write_case(tmp_path, "BraTS-MET-00003-000", "brats2023-other", labels={0: 0, 1: 1, 2: 2, 4: 4})
    (case,) = find_cases(tmp_path)
    assert case.edition == "brats2023-other"
    with pytest.raises(DataError, match=r"outside the BraTS 2023 set .*BraTS 2019 convention"):
        load_case(case)


def _msd_folder(root, n=2):
    task = root / "Task01_BrainTumour"
    (task / "imagesTr").mkdir(parents=True)
    (task / "labelsTr").mkdir()
    for i in range(1, n + 1):
        images, seg = volumes(i)
        channels = [images[m] for m in MSD_CHANNELS]
        stack = np.stack(channels, axis=-1).astype(np.float32)
        msd_label = np.zeros_like(seg)
        msd_label[seg == 2], msd_label[seg == 1], msd_label[seg == 4] = 1, 2, 3
        name = f"BRATS_{i:03d}.nii.gz"
        nib.Nifti1Image(stack, np.eye(4)).to_filename(str(task / "imagesTr" / name))
        nib.Nifti1Image(msd_label, np.eye(4)).to_filename(str(task / "labelsTr" / name))
    return task


def test_unpacked_msd_folder_is_converted(tmp_path, capsys):
    task = _msd_folder(tmp_path / "src")
    (task / "imagesTs").mkdir()  # the challenge's test images: no labels
    shutil.copy(task / "imagesTr" / "BRATS_001.nii.gz", task / "imagesTs" / "BRATS_485.nii.gz")
    with pytest.raises(DataError, match=r"MSD Task01_BrainTumour folder .*--source msd"):
        find_cases(task)
    rc = main(
        ["data", "download", "--source", "msd", "--url", str(task), "--out", str(tmp_path / "o")]
    )
    assert rc == 0, capsys.readouterr().err
    assert "imagesTs: 1 test image without labels, left out" in capsys.readouterr().out
    rerun = [
        "data",
        "download",
        "--source",
        "msd",
        "--url",
        str(task),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(rerun) == 0  # (a Drive folder's notebook re-run: nothing converted, nothing said)
    assert "imagesTs" not in capsys.readouterr().out
    cases = find_cases(tmp_path / "o" / "MSD_Task01_BraTS_layout")
    assert [c.case_id for c in cases] == ["BRATS_001", "BRATS_002"]
    vol = load_case(cases[0])
    _, seg = volumes(1)
    np.testing.assert_array_equal(vol.seg, np.transpose(seg, (1, 0, 2)))  # MSD 1/2/3 -> 2/1/4


def test_msd_label_file_that_cannot_be_read_is_the_one_named(tmp_path, capsys):
    # a truncated labelsTr file is named (not its image), with why; a float label with rounding
    # error (2.9999998 for 3) is converted as its integer label
    task = _msd_folder(tmp_path / "src")
    label = task / "labelsTr" / "BRATS_002.nii.gz"
    msd = np.asanyarray(nib.load(str(label)).dataobj).astype(np.float32)
    fuzzy = np.where(msd == 3, np.float32(2.9999998), msd)
    nib.Nifti1Image(fuzzy, np.eye(4)).to_filename(str(label))
    label.with_name("BRATS_001.nii.gz").write_bytes(label.read_bytes()[:-40])
    args = ["data", "download", "--source", "msd", "--url", str(task), "--out", str(tmp_path / "o")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "cannot read " + str(task / "labelsTr" / "BRATS_001.nii.gz") in err
    assert "imagesTr" not in err and "truncated" in err
    shutil.copy(label, label.with_name("BRATS_001.nii.gz"))
    assert main(args) == 0, capsys.readouterr().err
    cases = find_cases(tmp_path / "o" / "MSD_Task01_BraTS_layout")
    _, seg = volumes(2)
    np.testing.assert_array_equal(load_case(cases[1]).seg, np.transpose(seg, (1, 0, 2)))


def test_an_interpolated_msd_label_is_refused_in_one_short_line(tmp_path, capsys):
    # a label resampled with linear interpolation holds thousands of values between the labels:
    # a few of them are shown, and how many (every one was printed, a line of megabytes)
    task = _msd_folder(tmp_path / "src", n=1)
    label = task / "labelsTr" / "BRATS_001.nii.gz"
    msd = np.asanyarray(nib.load(str(label)).dataobj).astype(np.float32)
    blurred = msd + np.random.default_rng(0).uniform(0.01, 0.4, msd.shape).astype(np.float32)
    nib.Nifti1Image(blurred, np.eye(4)).to_filename(str(label))
    args = ["data", "download", "--source", "msd", "--url", str(task), "--out", str(tmp_path / "o")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert re.search(
        r"BRATS_001.nii.gz holds labels \[[\d.]+(, [\d.]+){4}, … \(\d+ values\)\]", err
    )
    assert "expected MSD 0..3" in err and len(err) < 1000, len(err)


def test_msd_source_on_a_brats_folder_is_refused(tmp_path, capsys):
    write_case(tmp_path / "d", "BraTS19_A_1")
    rc = main(
        [
            "data",
            "download",
            "--source",
            "msd",
            "--url",
            str(tmp_path / "d"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 2
    assert "not an MSD Task01_BrainTumour folder" in capsys.readouterr().err


def test_prediction_only_set(tmp_path, capsys):
    for i in range(3):
        write_case(tmp_path / "val", f"BraTS19_Val_{i}", index=i, seg=False)
    assert main(["data", "info", str(tmp_path / "val")]) == 0
    out = capsys.readouterr().out
    assert "all cases have no seg file: prediction only" in out and "missing" not in out
    rc = main(
        ["data", "prepare", str(tmp_path / "val"), "--cache", str(tmp_path / "c"), "--skip-bad"]
    )
    assert rc == 2
    assert "prediction-only set" in capsys.readouterr().err
    # mixed: the seg-less case is left out and named, the others are cached
    write_case(tmp_path / "val", "BraTS19_Train_9", index=9)
    write_case(tmp_path / "val", "BraTS19_Train_8", index=8)
    report = prepare_cache(tmp_path / "val", tmp_path / "c2", CacheSettings())
    assert sorted(report.built) == ["BraTS19_Train_8", "BraTS19_Train_9"]
    assert "prediction only" in report.skipped["BraTS19_Val_0"]
    assert "skipped BraTS19_Val_1: no seg file" in report.summary()


def test_constant_modality_and_non_zero_background_warn_and_strict_refuses(tmp_path, capsys):
    case_dir = write_case(tmp_path / "d", "BraTS19_A_1")
    write_case(tmp_path / "d", "BraTS19_B_1", index=1)
    t2 = case_dir / "BraTS19_A_1_t2.nii.gz"
    nib.Nifti1Image(np.zeros((24, 24, 12), np.int16), nib.load(str(t2)).affine).to_filename(str(t2))
    flair = case_dir / "BraTS19_A_1_flair.nii.gz"
    img = nib.load(str(flair))
    data = np.asanyarray(img.dataobj) + 50  # background 50 instead of 0
    nib.Nifti1Image(data, img.affine).to_filename(str(flair))
    vol = load_case(find_cases(case_dir)[0])
    assert len(vol.warnings) == 2
    assert vol.warnings[0].startswith(f"case BraTS19_A_1: t2 file {t2} is constant (every voxel 0)")
    assert f"flair file {flair} is non-zero on 100% of the volume" in vol.warnings[1]
    cache = ["--cache", str(tmp_path / "c")]
    assert main(["data", "prepare", str(tmp_path / "d"), *cache]) == 0
    out = capsys.readouterr().out
    assert out.count("warning: case BraTS19_A_1") == 2
    rc = main(["data", "prepare", str(tmp_path / "d"), "--cache", str(tmp_path / "c3"), "--strict"])
    err = capsys.readouterr().err
    assert rc == 2 and "t2 file" in err and "(an error with --strict)" in err
    assert "Traceback" not in err


def test_all_zero_case_and_lost_header_on_the_brats_grid(tmp_path):
    zero = write_case(tmp_path / "z", "BraTS19_Z_1", shape=(24, 24, 12))
    for f in zero.iterdir():
        if "seg" not in f.name:
            nib.Nifti1Image(np.zeros((24, 24, 12), np.int16), np.eye(4)).to_filename(str(f))
    nib.Nifti1Image(np.zeros((24, 24, 12), np.uint8), np.eye(4)).to_filename(
        str(zero / "BraTS19_Z_1_seg.nii.gz")
    )
    vol = load_case(find_cases(zero)[0])
    assert sum("is constant" in w for w in vol.warnings) == 4 and len(vol.warnings) == 5
    assert "BraTS19_Z_1_seg.nii.gz is all background (label 0 only)" in vol.warnings[-1]
    # identity affine on 240x240x155: a lost header; only the first modality is checked here
    lost = tmp_path / "lost" / "BraTS19_L_1"
    lost.mkdir(parents=True)
    images, seg = volumes(0, BRATS_SHAPE)
    for m, v in images.items():
        nib.Nifti1Image(v, np.eye(4)).to_filename(str(lost / f"BraTS19_L_1_{m}.nii"))
    nib.Nifti1Image(seg, np.eye(4)).to_filename(str(lost / "BraTS19_L_1_seg.nii"))
    case = find_cases(lost)[0]
    vol = load_case(case)
    assert len(vol.warnings) == 4
    assert (
        "t1 file" in vol.warnings[0]
        and "identity affine on the BraTS 240x240x155 grid" in vol.warnings[0]
    )
    with pytest.raises(DataError, match=r"BraTS19_L_1_t1\.nii has an identity affine .*--strict"):
        load_case(case, strict=True)
    # an ITK (LPS) affine copied into NIfTI without its sign change, and 2 mm voxels: said
    itk = tmp_path / "itk" / "BraTS19_I_1"
    itk.mkdir(parents=True)
    naive = np.diag([1.0, 1.0, 1.0, 1.0])
    naive[1, 3] = -239.0
    for m, v in images.items():
        nib.Nifti1Image(v, naive).to_filename(str(itk / f"BraTS19_I_1_{m}.nii"))
    nib.Nifti1Image(seg, naive).to_filename(str(itk / "BraTS19_I_1_seg.nii"))
    (warning, *_) = load_case(find_cases(itk)[0]).warnings
    assert "BraTS19_I_1_t1.nii has an affine on the BraTS" in warning
    assert "x 0..239, y -239..0" in warning and "x -239..0, y 0..239" in warning
    coarse = write_case(tmp_path / "coarse", "BraTS19_C_1")
    for f in coarse.iterdir():
        img = nib.load(str(f))
        nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine @ np.diag([2, 2, 2, 1])).to_filename(
            str(f)
        )
    (warning,) = load_case(find_cases(coarse)[0]).warnings
    assert "voxels of (2.0, 2.0, 2.0) mm, not BraTS's 1 mm" in warning


def test_header_without_orientation_codes_is_a_lost_header(tmp_path):
    """qform_code and sform_code 0 (``nib.Nifti1Image(data, None)`` saved): nibabel falls back to
    an LAS affine the file never gave, so a BraTS (LPS) array reads flipped front to back; said
    per modality, like the identity affine. A header with either code set is not."""
    write_case(tmp_path / "ok", "BraTS19_S_1")
    for f in write_case(tmp_path / "ok", "BraTS19_Q_1").iterdir():
        img = nib.load(str(f))
        img.set_sform(img.affine, code=0)
        img.set_qform(img.affine, code=1)  # the affine is in the qform only: fine
        img.to_filename(str(f))
    assert [load_case(c).warnings for c in find_cases(tmp_path / "ok")] == [[], []]
    lost = write_case(tmp_path / "lost", "BraTS19_N_1")
    for f in lost.iterdir():
        data = np.asanyarray(nib.load(str(f)).dataobj)
        nib.Nifti1Image(data, None).to_filename(str(f))
    (case,) = find_cases(tmp_path / "lost")
    vol = load_case(case)
    assert len(vol.warnings) == 4 and "t1 file" in vol.warnings[0]
    assert "no orientation in its header (qform_code and sform_code 0" in vol.warnings[0]
    assert "read as LAS" in vol.warnings[0]
    with pytest.raises(DataError, match=r"BraTS19_N_1_t1\.nii\.gz has no orientation .*--strict"):
        load_case(case, strict=True)


def test_skip_bad_that_leaves_nothing_keeps_the_reasons(tmp_path, capsys):
    for i in range(2):
        case_dir = write_case(tmp_path / "d", f"BraTS19_Bad_{i}", index=i)
        (case_dir / f"BraTS19_Bad_{i}_t1ce.nii.gz").write_bytes(b"truncated")
    rc = main(
        ["data", "prepare", str(tmp_path / "d"), "--cache", str(tmp_path / "c"), "--skip-bad"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "no usable case, all 2 were skipped" in err
    assert "case BraTS19_Bad_0: cannot read" in err and "case BraTS19_Bad_1: cannot read" in err


def test_unreadable_files_are_one_line_saying_why(tmp_path):
    """A Kaggle-mirror .nii cut short (nibabel's message holds a line break), and a file whose
    name and compression disagree and is cut too: one line each, naming the file and why."""
    cut = write_case(tmp_path / "a", "BraTS19_Cut_1", suffix=".nii") / "BraTS19_Cut_1_t2.nii"
    cut.write_bytes(cut.read_bytes()[:2000])
    plain = write_case(tmp_path / "b", "BraTS19_Gz_1", suffix=".nii") / "BraTS19_Gz_1_t1.nii"
    plain.with_name(plain.name + ".gz").write_bytes(plain.read_bytes()[:2000])  # named .gz
    plain.unlink()
    empty = write_case(tmp_path / "c", "BraTS19_Zero_1") / "BraTS19_Zero_1_flair.nii.gz"
    empty.write_bytes(b"")  # (a Drive placeholder: data round 21 read it as not gzipped)
    expected = {
        "a": ("BraTS19_Cut_1_t2.nii", "truncated or not a NIfTI image"),
        "b": ("BraTS19_Gz_1_t1.nii.gz", "not gzip-compressed but named .gz, and its content is"),
        "c": ("BraTS19_Zero_1_flair.nii.gz", "the file is empty (0 bytes"),
    }
    for folder, (name, why) in expected.items():
        (case,) = find_cases(tmp_path / folder)
        with pytest.raises(DataError) as info:
            load_case(case)
        text = str(info.value)
        assert "\n" not in text and f"{name} (" in text and why in text


def test_a_file_whose_name_and_compression_disagree_is_read_as_it_is(tmp_path):
    """A .nii.gz that is not gzipped and a gzipped .nii (a re-upload, a converter's habit) are
    read from their bytes: in Kaggle's read-only /kaggle/input they cannot be renamed (they were
    refused with 'rename it'); the volumes are those of the well-named files."""
    (expected,) = find_cases(write_case(tmp_path / "ok", "BraTS19_Ok_1", index=3))
    want = load_case(expected)
    for folder, suffix in (("b", ".nii"), ("c", ".nii.gz")):
        case_dir = write_case(tmp_path / folder, "BraTS19_Ok_1", suffix=suffix, index=3)
        for path in case_dir.iterdir():
            other = path.name[:-3] if suffix == ".nii.gz" else path.name + ".gz"
            path.rename(path.with_name(other))
        (case,) = find_cases(tmp_path / folder)
        got = load_case(case)
        assert np.array_equal(got.image, want.image) and np.array_equal(got.seg, want.seg)


def test_a_few_outlier_voxels_are_warned(tmp_path):
    """Data round 21: one t1ce voxel at 3e9 made the z-scored channel flat (its enhancing tumour
    0.085 above the brain, against 7 in the others), without a word."""
    case_dir = write_case(tmp_path / "d", "BraTS19_O_1")
    t1ce = case_dir / "BraTS19_O_1_t1ce.nii.gz"
    img = nib.load(str(t1ce))
    data = np.asanyarray(img.dataobj).astype(np.float32)
    assert not load_case(find_cases(case_dir)[0]).warnings
    data[tuple(np.argwhere(data > 0)[0])] = 3e9
    nib.Nifti1Image(data, img.affine).to_filename(str(t1ce))
    (warning,) = load_case(find_cases(case_dir)[0]).warnings
    assert f"t1ce file {t1ce} has voxels up to 3e+09" in warning and "outliers" in warning


def test_brats_axes_with_the_origin_at_zero_are_not_called_flipped(tmp_path):
    """Data round 22: BraTS's orientation diag(-1, -1, 1) with the origin at 0, 0, 0 (nibabel's
    and SimpleITK's default) read exactly as the BraTS header's copy, yet gave one warning per
    modality, "reads flipped or rotated 180 degrees", and --strict refused the case."""
    affine = np.diag([-1.0, -1.0, 1.0, 1.0])
    origin0 = write_case(tmp_path / "o", "BraTS19_O_1", affine=affine, shape=BRATS_SHAPE)
    ref = write_case(tmp_path / "ref", "BraTS19_O_1", shape=BRATS_SHAPE)
    vol = load_case(find_cases(origin0)[0], strict=True)
    assert vol.warnings == []
    assert np.array_equal(vol.seg, load_case(find_cases(ref)[0]).seg)


def test_brats_peds_segs_are_refused_and_a_binary_mask_is_said(tmp_path):
    """Data round 22: BraTS-PEDs 2024 labels (1 ET, 2 NET, 3 cystic component, 4 edema) were
    read as 2023's (1 NETC, 2 SNFH, 3 ET): refused, the year not being in the file; a 0/1 mask
    was read silently as necrotic core everywhere."""
    write_case(tmp_path / "ped", "BraTS-PED-00002-000", "brats2023-other")
    (case,) = find_cases(tmp_path / "ped")
    with pytest.raises(DataError, match=r"BraTS-PEDs seg, whose labels differ by year"):
        load_case(case)
    assert load_case(case, with_seg=False).seg is None  # its images alone are read
    write_case(tmp_path / "bin", "BraTS19_B_1", labels={0: 0, 1: 1, 2: 1, 4: 1})
    (warning,) = load_case(find_cases(tmp_path / "bin")[0]).warnings
    assert "holds label 1 alone: a binary whole-tumour mask?" in warning


def test_a_header_whose_qform_and_sform_disagree_is_warned(tmp_path):
    """Data round 22: a qform and an sform pointing the axes other ways were read by the sform
    unsaid (ITK's tools read the qform: a seg drawn there lies flipped here)."""
    case_dir = write_case(tmp_path / "d", "BraTS19_Q_1")
    t2 = case_dir / "BraTS19_Q_1_t2.nii.gz"
    img = nib.load(str(t2))
    data, sform = np.asanyarray(img.dataobj), img.affine
    both = nib.Nifti1Image(data, sform)
    both.set_qform(sform, code=1)
    both.set_sform(sform, code=1)
    both.to_filename(str(t2))
    assert load_case(find_cases(case_dir)[0]).warnings == []  # (the same: nothing said)
    both.set_qform(sform @ np.diag([-1.0, 1.0, 1.0, 1.0]), code=1)
    both.to_filename(str(t2))
    (warning,) = load_case(find_cases(case_dir)[0]).warnings
    assert f"{t2}: its header's qform" in warning and "read by its sform" in warning
