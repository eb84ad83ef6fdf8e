"""The slice cache: content, reuse, rebuild, bad cases, and never trusting a half-written cache."""

import errno
import json
import re
import shutil

import numpy as np
import pytest
import torch
from conftest import case_dirs

from unet_tp.conventions import to_train_labels
from unet_tp.data import DataError, find_cases, load_case
from unet_tp.data import cache as cache_mod
from unet_tp.data.cache import META, CacheSettings, SliceDataset, load_cache_meta, prepare_cache
from unet_tp.preprocess import zscore


def _mtimes(cache_dir):
    return {p.name: p.stat().st_mtime_ns for p in (cache_dir / "cases").iterdir()}


def test_slices_match_the_normalised_volume(brats_root, tmp_path):
    two = tmp_path / "two"  # two of the sample cases: each is read whole (a second a case)
    for case_dir in case_dirs(brats_root)[:2]:
        shutil.copytree(case_dir, two / case_dir.parent.name / case_dir.name)
    report = prepare_cache(two, tmp_path / "c", CacheSettings(tumour_free_fraction=0.0))
    assert len(report.built) == 2 and report.n_slices > 0
    ds = SliceDataset(tmp_path / "c")
    assert len(ds) == report.n_slices
    image, label = ds[0]
    assert image.dtype == torch.float32 and image.shape == (4, 240, 240)
    assert label.dtype == torch.int64 and label.shape == (240, 240)
    # every kept slice has tumour (fraction 0) and equals the z-scored volume's slice
    case_id, z = ds.slice_info(3)
    vol = load_case(next(c for c in find_cases(brats_root) if c.case_id == case_id))
    mask = vol.image.any(axis=0)
    expected = zscore(vol.image, mask)[:, :, :, z]
    image, label = ds[3]
    np.testing.assert_allclose(image.numpy(), expected, atol=2e-2, rtol=1e-2)  # float16 storage
    np.testing.assert_array_equal(label.numpy(), to_train_labels(vol.seg[:, :, z]))
    assert (ds.tumour_pixels() > 0).all()


@pytest.mark.slow
def test_tumour_free_share_and_resize(brats_root, tmp_path):
    none = prepare_cache(
        brats_root, tmp_path / "a", CacheSettings(tumour_free_fraction=0.0)
    ).n_slices
    half = prepare_cache(
        brats_root, tmp_path / "b", CacheSettings(tumour_free_fraction=0.5)
    ).n_slices
    full = prepare_cache(
        brats_root, tmp_path / "c", CacheSettings(tumour_free_fraction=1.0)
    ).n_slices
    assert none < half < full
    ds = SliceDataset(tmp_path / "c")
    assert (ds.tumour_pixels() == 0).sum() == full - none
    prepare_cache(brats_root, tmp_path / "d", CacheSettings(crop=192, image_size=96))
    image, label = SliceDataset(tmp_path / "d")[0]
    assert image.shape == (4, 96, 96) and label.shape == (96, 96)
    assert set(label.unique().tolist()) <= {0, 1, 2, 3}


@pytest.mark.slow
def test_rerun_reuses_changed_setting_rebuilds(brats_root, tmp_path):
    cache = tmp_path / "c"
    prepare_cache(brats_root, cache)
    before = _mtimes(cache)
    report = prepare_cache(brats_root, cache)
    assert len(report.reused) == 4 and not report.built
    assert _mtimes(cache) == before
    report = prepare_cache(brats_root, cache, CacheSettings(image_size=64))
    assert len(report.built) == 4
    assert SliceDataset(cache)[0][0].shape == (4, 64, 64)


@pytest.mark.slow
def test_changed_source_rebuilds_only_that_case(brats_copy, tmp_path):
    cache = tmp_path / "c"
    prepare_cache(brats_copy, cache)
    case = find_cases(brats_copy)[1]
    case.files["t2"].touch()
    report = prepare_cache(brats_copy, cache)
    assert report.built == [case.case_id] and len(report.reused) == 3


@pytest.mark.slow
def test_bad_case_stops_names_it_and_skip_bad_goes_on(brats_copy, tmp_path):
    cache = tmp_path / "c"
    bad = find_cases(brats_copy)[2]
    data = bad.files["flair"].read_bytes()
    bad.files["flair"].write_bytes(data[:1000])
    with pytest.raises(
        DataError, match=rf"(?s)case {bad.case_id}: cannot read .*flair.*--skip-bad"
    ):
        prepare_cache(brats_copy, cache)
    # the cases before it are kept for resuming, but the cache is not trusted
    with pytest.raises(DataError, match="incomplete"):
        SliceDataset(cache)
    report = prepare_cache(brats_copy, cache, skip_bad=True)
    assert list(report.skipped) == [bad.case_id] and len(report.reused) == 2
    ds = SliceDataset(cache)
    assert bad.case_id not in ds.case_ids and len(ds.case_ids) == 3
    assert bad.case_id in json.loads((cache / META).read_text())["skipped"]
    # the same cache asked for without --skip-bad: the bad case stops the run again
    with pytest.raises(DataError, match=rf"case {bad.case_id}: cannot read"):
        prepare_cache(brats_copy, cache)
    # the file mended: read again, not "skipped" from the last run's memory (data round 19)
    bad.files["flair"].write_bytes(data)
    report = prepare_cache(brats_copy, cache, skip_bad=True)
    assert bad.case_id in report.built and not report.skipped
    assert len(SliceDataset(cache).case_ids) == 4


@pytest.mark.slow
def test_interrupted_run_is_never_trusted_and_resumes(brats_root, tmp_path, monkeypatch):
    cache = tmp_path / "c"
    real = cache_mod.case_slices
    calls = []

    def crash_on_third(case, settings, *args):
        calls.append(case.case_id)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(case, settings, *args)

    monkeypatch.setattr(cache_mod, "case_slices", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        prepare_cache(brats_root, cache)
    with pytest.raises(DataError, match="incomplete"):
        load_cache_meta(cache)
    assert not list((cache / "cases").glob(".*.tmp"))
    monkeypatch.setattr(cache_mod, "case_slices", real)
    report = prepare_cache(brats_root, cache)
    assert len(report.reused) == 2 and len(report.built) == 2
    assert len(SliceDataset(cache).case_ids) == 4


def test_a_folder_that_is_not_a_cache_is_not_overwritten(brats_root, tmp_path):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="not a unet-tp slice cache"):
        prepare_cache(brats_root, mine)
    assert (mine / "chapter1.tex").read_text() == "precious"


@pytest.mark.slow  # (over 2.5 s: the full suite's, not the fast loop's)
def test_force_into_a_folder_deletes_nothing_the_cache_did_not_write(brats_root, tmp_path):
    """``--force`` into a folder that is no cache writes its arrays there and deletes nothing
    else (it removed every file of ``cases/`` it had not written: a user's NIfTI files); a cache
    whose cases/ folder is the data's is refused, --force or not (data round 19)."""
    mine = tmp_path / "mine"
    (mine / "cases").mkdir(parents=True)
    (mine / "cases" / "notes.txt").write_text("precious")
    (mine / "cases" / "old_run").mkdir()
    prepare_cache(brats_root, mine, force=True)
    assert (mine / "cases" / "notes.txt").read_text() == "precious"
    assert (mine / "cases" / "old_run").is_dir() and len(SliceDataset(mine).case_ids) == 4
    flat = tmp_path / "proj" / "cases"
    shutil.copytree(brats_root, flat)
    before = sorted(p.name for p in flat.rglob("*"))
    for force in (False, True):
        with pytest.raises(DataError, match=r"proj: its cases/ folder, .*holds the data"):
            prepare_cache(flat, tmp_path / "proj", force=force)
    assert sorted(p.name for p in flat.rglob("*")) == before


@pytest.mark.slow  # (over 2.5 s: the full suite's, not the fast loop's)
def test_a_case_without_a_slice_to_keep_is_left_out_saying_why(brats_root, tmp_path):
    """A tumour-free case with no tumour-free slice asked for gave an array of 0 slices (a
    validation Dice of nan, or a sampler's error naming nothing)."""
    from tinycases import write_case

    data = tmp_path / "data"
    shutil.copytree(brats_root, data)
    write_case(data, "BraTS19_TCIA01_999_1", index=5, labels={1: 0, 2: 0, 4: 0})
    settings = CacheSettings(tumour_free_fraction=0.0)
    report = prepare_cache(data, tmp_path / "c", settings)
    assert report.skipped == {
        "BraTS19_TCIA01_999_1": "no slice to keep (no tumour slice, and a tumour-free share of 0)"
    }
    assert "BraTS19_TCIA01_999_1" not in SliceDataset(tmp_path / "c").case_ids
    # not bad data: the cache is unchanged without --skip-bad too (nothing written)
    assert prepare_cache(data, tmp_path / "c", settings).wrote is False


@pytest.mark.slow  # (over 2.5 s: the full suite's, not the fast loop's)
def test_skip_reasons_are_said_in_the_language_of_the_run_that_reads_the_cache(
    brats_root, tmp_path, monkeypatch
):
    """Tester: a cache built in English, read by the French notebook, printed its skip reasons
    in English; an older cache's reasons (plain text) are said as they are."""
    from tinycases import write_case

    from unet_tp import i18n

    data, cache = tmp_path / "data", tmp_path / "c"
    shutil.copytree(brats_root, data)
    write_case(data, "BraTS19_TCIA01_999_1", index=5, seg=False)
    english = prepare_cache(data, cache).skipped["BraTS19_TCIA01_999_1"]
    assert english.startswith("no seg file (BraTS19_TCIA01_999_1_seg.nii.gz expected;")
    monkeypatch.setattr(i18n, "_current", "fr")
    report = prepare_cache(data, cache)
    assert report.wrote is False
    assert report.skipped == {
        "BraTS19_TCIA01_999_1": "pas de fichier seg (BraTS19_TCIA01_999_1_seg.nii.gz attendu ; "
        "prédiction seulement : `unet-tp predict --data DIR` le segmente)"
    }
    meta = json.loads((cache / META).read_text())
    meta["skipped"]["BraTS19_TCIA01_999_1"] = english
    (cache / META).write_text(json.dumps(meta))
    assert prepare_cache(data, cache).skipped == {"BraTS19_TCIA01_999_1": english}


@pytest.mark.slow  # (over 2.5 s: the full suite's, not the fast loop's)
def test_a_seg_without_tumour_is_warned_naming_it_and_the_case_kept(brats_root, tmp_path):
    """Tester: a case whose seg is all zero (every BraTS case holds a tumour: likely the wrong
    file) was kept silently."""
    from tinycases import write_case

    data = tmp_path / "data"
    shutil.copytree(brats_root, data)
    case = write_case(data, "BraTS19_TCIA01_999_1", index=5, labels={1: 0, 2: 0, 4: 0})
    report = prepare_cache(data, tmp_path / "c")
    (warning,) = [w for w in report.warnings if "BraTS19_TCIA01_999_1" in w]
    assert warning.startswith(
        f"case BraTS19_TCIA01_999_1: {case / 'BraTS19_TCIA01_999_1_seg.nii.gz'} is all "
        "background (label 0 only)"
    )
    assert "BraTS19_TCIA01_999_1" in report.built and "  warning: case BraTS19_TCIA01_999_1: " in (
        report.summary()
    )


@pytest.mark.slow  # (over 2.5 s: the full suite's, not the fast loop's)
def test_a_cache_of_other_cases_is_not_replaced_without_force(brats_root, tmp_path):
    """--cache pointed at another data set's cache (an instructor's BraTS 2019 cache given
    BraTS 2021 cases) deleted its cases; now refused, naming both, unless --force."""
    from tinycases import write_case

    cache = tmp_path / "cache19"
    prepare_cache(brats_root, cache)
    held = set(load_cache_meta(cache)["cases"])
    other = tmp_path / "b21"
    for i in range(2):
        write_case(other, f"BraTS2021_0000{i}", edition="brats2021", index=i)
    with pytest.raises(
        FileExistsError, match=rf"cache19 is the slice cache of .*none of them in {other}"
    ):
        prepare_cache(other, cache)
    assert set(load_cache_meta(cache)["cases"]) == held
    assert len(prepare_cache(other, cache, force=True).built) == 2


@pytest.mark.slow
def test_dataset_split_and_bounded_open_files(brats_root, tmp_path):
    prepare_cache(brats_root, tmp_path / "c")
    ids = sorted(SliceDataset(tmp_path / "c").case_ids)
    ds = SliceDataset(tmp_path / "c", case_ids=ids[:2], max_open=1)
    for i in range(len(ds)):
        ds[i]
        assert len(ds._open) <= 1
    assert {ds.slice_info(i)[0] for i in range(len(ds))} == set(ids[:2])
    with pytest.raises(DataError, match="not in the cache"):
        SliceDataset(tmp_path / "c", case_ids=["nobody"])
    loader = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=True, num_workers=2)
    images, labels = next(iter(loader))
    assert images.shape == (4, 4, 240, 240) and labels.shape == (4, 240, 240)


@pytest.mark.slow
def test_a_full_disk_says_how_much_the_cache_needs_and_keeps_what_was_written(
    brats_root, tmp_path, monkeypatch
):
    """The disk fills up while the cache is written: one message with the sizes (not
    ``OSError: [Errno 28]``), the cache still incomplete, the cases written kept for the re-run."""
    cache = tmp_path / "c"
    real, written = cache_mod.save_npy, []

    def full_after_two_cases(path, array):
        if len(written) == 4:  # two cases' images and labels
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        written.append(path)
        real(path, array)

    monkeypatch.setattr(cache_mod, "save_npy", full_after_two_cases)
    with pytest.raises(DataError) as info:
        prepare_cache(brats_root, cache, CacheSettings(tumour_free_fraction=0.0))
    text = str(info.value)
    assert f"the disk of {cache} is full" in text and "per case" in text, text
    assert "for the 2 case(s) left" in text and "run again" in text, text
    with pytest.raises(DataError, match="incomplete"):
        load_cache_meta(cache)
    monkeypatch.setattr(cache_mod, "save_npy", real)
    report = prepare_cache(brats_root, cache, CacheSettings(tumour_free_fraction=0.0))
    assert len(report.reused) == 2 and len(report.built) == 2


def test_a_disk_full_to_the_last_byte_is_the_same_one_message(brats_root, tmp_path, monkeypatch):
    """Not even the cache's small metadata fits once a case's arrays do not (it was saved in
    the handler of the full disk: `OSError: [Errno 28]` came out of it, not the message)."""
    real_json, saved = cache_mod.save_json, []

    def full(path, *args):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    def json_until_full(path, obj, *args):
        saved.append(path)
        if len(saved) > 1:  # the first, the run's start (marked incomplete), fits
            full(path)
        real_json(path, obj, *args)

    monkeypatch.setattr(cache_mod, "save_npy", full)
    monkeypatch.setattr(cache_mod, "save_json", json_until_full)
    cache = tmp_path / "c"
    with pytest.raises(DataError, match=f"the disk of {re.escape(str(cache))} is full"):
        prepare_cache(brats_root, cache, CacheSettings(tumour_free_fraction=0.0))
    assert len(saved) == 2


def test_many_cases_skipped_for_one_reason_are_said_in_one_line(tmp_path):
    """Data round 21: a release's 125 validation cases (no seg file) were 125 lines at each run
    of the data cell."""
    report = cache_mod.PrepareReport(tmp_path)
    report.skipped = {f"BraTS20_Validation_{i:03d}": "no seg file" for i in range(125)}
    report.skipped["BraTS20_Training_007"] = "cannot read its t1"
    lines = report.summary().splitlines()
    assert len(lines) == 3 and "  skipped BraTS20_Training_007: cannot read its t1" in lines
    assert "skipped 125 cases (BraTS20_Validation_000, BraTS20_Validation_001, " in lines[1]


@pytest.mark.slow  # (over 2.5 s: the full suite's, not the fast loop's)
def test_a_slice_cache_given_as_cases_is_said_to_be_one(brats_root, tmp_path):
    """Data round 21: `data info CACHE` (a folder `train --data` takes) said "no BraTS case"."""
    prepare_cache(brats_root, tmp_path / "c", CacheSettings(crop=16))
    with pytest.raises(DataError, match="a slice cache .* not a folder of cases"):
        find_cases(tmp_path / "c")
