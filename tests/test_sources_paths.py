"""Where data comes from and goes to: the Kaggle mirror (stand-in kagglehub), Google Drive
folders and archives, paths that cannot be written (a real read-only bind mount in a user
namespace, and OSErrors injected with monkeypatch), prediction of a whole folder, and train
refusing flags that contradict a prepared cache."""

import errno
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from tinycases import SHAPE, volumes, write_case

from autograder import model_commands
from unet_tp import fileio, i18n, notebook
from unet_tp.cli import main
from unet_tp.conventions import BRATS_AFFINE
from unet_tp.data import DataError, download, find_cases
from unet_tp.data.cache import CacheSettings, prepare_cache
from unet_tp.sources import KAGGLE_BRATS2019

UNET_TP = str(Path(sys.executable).with_name("unet-tp"))


def _mirror(root: Path) -> Path:
    """A folder in the Kaggle mirror's layout: uncompressed .nii in HGG/LGG, two csv files."""
    release = root / "MICCAI_BraTS_2019_Data_Training"
    write_case(release / "HGG", "BraTS19_CBICA_AAA_1", index=1, suffix=".nii")
    write_case(release / "LGG", "BraTS19_TCIA09_141_1", index=2, suffix=".nii")
    (release / "name_mapping.csv").write_text("Grade,BraTS_2019_subject_ID\n")
    (release / "survival_data.csv").write_text("BraTS19ID,Age,Survival,ResectionStatus\n")
    return root


@pytest.fixture
def kagglehub(tmp_path, monkeypatch):
    """A stand-in ``kagglehub`` module on sys.path, returning a folder in the mirror's layout."""
    version = _mirror(tmp_path / "kagglehub_cache" / "datasets" / "versions" / "1")
    pkg = tmp_path / "fake_modules" / "kagglehub"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "CALLS = []\n"
        "FAIL = None\n"
        "def dataset_download(handle, path=None, **kwargs):\n"
        "    CALLS.append(handle)\n"
        "    if FAIL is not None:\n"
        "        raise FAIL\n"
        f"    return {str(version)!r}\n"
    )
    monkeypatch.syspath_prepend(str(pkg.parent))
    monkeypatch.delitem(sys.modules, "kagglehub", raising=False)
    import kagglehub as module

    yield module, version
    sys.modules.pop("kagglehub", None)


def test_kaggle_source_links_the_mirror(kagglehub, tmp_path, capsys):
    module, version = kagglehub
    out = tmp_path / "data"
    assert main(["data", "download", "--source", "kaggle", "--out", str(out)]) == 0
    assert module.CALLS == [KAGGLE_BRATS2019]
    link = out / "MICCAI_BraTS_2019_Data_Training"
    assert link.is_symlink() and link.resolve() == (version / link.name).resolve()  # no copy
    cases = find_cases(link)
    assert [(c.case_id, c.grade) for c in cases] == [
        ("BraTS19_CBICA_AAA_1", "HGG"),
        ("BraTS19_TCIA09_141_1", "LGG"),
    ]
    assert "2 cases ready" in capsys.readouterr().out
    assert main(["data", "download", "--source", "kaggle", "--out", str(out)]) == 0  # re-run
    shutil.rmtree(version / link.name / "LGG")
    (out / "other").mkdir()
    link.unlink()
    link.mkdir()  # a user's own folder of that name is not replaced
    assert main(["data", "download", "--source", "kaggle", "--out", str(out)]) == 2
    assert "exists and is not the kagglehub download" in capsys.readouterr().err


def test_kaggle_download_counts_complete_cases_and_names_the_others(kagglehub, tmp_path, capsys):
    """Tester: "4 cases ready" where one case lacked its t2 and a file was cut short."""
    _, version = kagglehub
    hgg = version / "MICCAI_BraTS_2019_Data_Training" / "HGG"
    write_case(hgg, "BraTS19_CBICA_BBB_1", index=3, suffix=".nii")
    write_case(hgg, "BraTS19_CBICA_CCC_1", index=4, suffix=".nii")
    (hgg / "BraTS19_CBICA_BBB_1" / "BraTS19_CBICA_BBB_1_t2.nii").unlink()
    cut = hgg / "BraTS19_CBICA_CCC_1" / "BraTS19_CBICA_CCC_1_flair.nii"
    cut.write_bytes(cut.read_bytes()[:-1000])
    assert main(["data", "download", "--source", "kaggle", "--out", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert "2 cases ready" in out
    assert "incomplete, not counted: case BraTS19_CBICA_BBB_1: missing t2 file" in out
    link = tmp_path / "data" / cut.relative_to(version)  # (the download's link to it)
    assert f"incomplete, not counted: case BraTS19_CBICA_CCC_1: {link} is cut short: " in out


def test_kaggle_version_holding_hgg_lgg_itself_is_named_after_the_dataset(
    kagglehub, tmp_path, monkeypatch
):
    module, version = kagglehub
    flat = version.parent / "2"
    (version / "MICCAI_BraTS_2019_Data_Training").rename(flat)  # HGG/, LGG/ in versions/2
    monkeypatch.setattr(module, "dataset_download", lambda handle, **kwargs: str(flat))
    out = tmp_path / "data"
    assert main(["data", "download", "--source", "kaggle", "--out", str(out)]) == 0
    assert [p.name for p in out.iterdir()] == [KAGGLE_BRATS2019.split("/")[1]]  # not "2"
    assert len(find_cases(out / KAGGLE_BRATS2019.split("/")[1])) == 2


def test_kaggle_failures_are_one_line(kagglehub, tmp_path, capsys, monkeypatch):
    module, _ = kagglehub
    module.FAIL = ConnectionError("Name or service not known")
    assert main(["data", "download", "--source", "kaggle", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "kagglehub could not fetch" in err and "ConnectionError" in err
    assert len(err.strip().splitlines()) == 1
    monkeypatch.setitem(sys.modules, "kagglehub", None)  # not installed
    assert main(["data", "download", "--source", "kaggle", "--out", str(tmp_path)]) == 2
    assert "pip install kagglehub" in capsys.readouterr().err


def test_notebook_kaggle_source(kagglehub, tmp_path, monkeypatch):
    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("UNET_TP_DATA_SOURCE", raising=False)
    data = notebook.get_data("kaggle")
    assert data.num_cases == 2 and data.data_dir.is_symlink()
    assert data.data_dir.parent == tmp_path / "home" / "kaggle"


def test_the_notebook_gives_notebook_steps_not_commands(kagglehub, tmp_path, monkeypatch, capsys):
    """A French tester's data cell: kagglehub's failure said `--url FOLDER`, its absence a bare
    `pip install`, a case without its seg `unet-tp predict` (no file named), a non-cache folder
    given to cached_patient `unet-tp data prepare`: commands a student has no use for there."""
    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("UNET_TP_DATA_SOURCE", raising=False)
    module, _ = kagglehub
    module.FAIL = ConnectionError("Name or service not known")
    with pytest.raises(notebook.NotebookError) as err:
        notebook.get_data("kaggle")
    assert "re-run the cell" in str(err.value) and "DATA_SOURCE = 'drive'" in str(err.value)
    assert "--url" not in str(err.value)
    monkeypatch.setitem(sys.modules, "kagglehub", None)  # not installed
    with pytest.raises(notebook.NotebookError, match=r"run `!pip install kagglehub` in a cell"):
        notebook.get_data("kaggle")
    data = _tiny_set(tmp_path / "cases", n=2)
    write_case(data, "BraTS19_T_9", index=9, seg=False)
    cache = notebook.prepare_slices(data, notebook.preset_config("tiny"))
    out = capsys.readouterr().out
    assert "skipped BraTS19_T_9: no seg file (BraTS19_T_9_seg.nii.gz expected): without" in out
    assert "unet-tp" not in out
    with pytest.raises(notebook.NotebookError) as err:
        notebook.cached_patient(cache.parent, "BraTS19_T_0")
    assert "re-run the data cell" in str(err.value) and "unet-tp" not in str(err.value)


def test_one_patient_in_the_notebook_names_the_data_folder_and_the_bar_is_french(
    tmp_path, monkeypatch
):
    """A French tester: too few patients named the kit's hashed cache folder (slices/88a7...),
    with no step; the slice cache's bar said "preparing slices", "case"."""
    from unet_tp import progress

    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(i18n, "_current", "fr")
    data = _tiny_set(tmp_path / "Drive" / "cases", n=1)
    config = notebook.preset_config("tiny")
    cache = notebook.prepare_slices(data, config)
    with pytest.raises(notebook.NotebookError) as err:
        notebook.split_datasets(cache, config)
    assert str(err.value) == (
        f"{data.resolve()} : un seul patient utilisable ; il en faut au moins 2 (dont un pour la "
        "validation) : ajoutez-y des cas, ou corrigez ceux écartés ci-dessus"
    )
    bars = []
    monkeypatch.setattr(progress, "progress_bar", lambda *args, **kw: bars.append((args, kw)))
    progress.case_progress()([1, 2])
    assert bars == [(([1, 2], "préparation des coupes"), {"unit": "cas"})]


def test_a_stray_image_on_drive_is_no_prediction_only_set(tmp_path, monkeypatch):
    """A French tester's Drive folder of one stray images/scan_t1.nii.gz: « aucun de ses 1 cas
    n'a de fichier seg : un jeu pour la prédiction seulement ... `unet-tp predict` »."""
    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("UNET_TP_DATA_SOURCE", raising=False)
    case = _tiny_set(tmp_path / "cases", n=1) / "BraTS19_T_0"
    stray = tmp_path / "Drive" / "images" / "scan_t1.nii.gz"
    stray.parent.mkdir(parents=True)
    shutil.copy(next(case.glob("*_t1.nii.gz")), stray)
    data = notebook.get_data("drive", str(stray.parent.parent))
    with pytest.raises(notebook.NotebookError) as err:
        notebook.prepare_slices(data, notebook.preset_config("tiny"))
    assert str(err.value) == (
        f"{stray.parent.parent}: no complete BraTS case: the files found (e.g. {stray}) lack "
        "t1ce, t2, flair and the seg; training needs the labels: set DRIVE_FOLDER to the folder "
        "holding the cases' folders, or choose another DATA_SOURCE"
    )


def test_missing_drive_folder_lists_its_parent(tmp_path, monkeypatch):
    monkeypatch.delenv("UNET_TP_DATA_SOURCE", raising=False)
    drive = tmp_path / "MyDrive"
    (drive / "BraTS_2019").mkdir(parents=True)
    (drive / "Colab Notebooks").mkdir()
    with pytest.raises(DataError) as err:
        notebook.get_data("drive", str(drive / "BraTS2019"))
    msg = str(err.value)
    assert (
        f"{drive / 'BraTS2019'}: no such folder; {drive} holds: BraTS_2019, Colab Notebooks" in msg
    )
    assert f"did you mean {drive / 'BraTS_2019'}?" in msg
    (tmp_path / "odd" / "oddnames").mkdir(parents=True)  # far from the name: no "did you mean"
    with pytest.raises(DataError) as err:
        notebook.get_data("drive", str(tmp_path / "odd" / "nonexistent"))
    assert "holds: oddnames" in str(err.value) and "did you mean" not in str(err.value)


def test_brats_zip_on_drive_is_extracted_locally(tmp_path, monkeypatch, capsys):
    real_access = os.access
    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("UNET_TP_DATA_SOURCE", raising=False)
    src = _mirror(tmp_path / "src")
    drive = tmp_path / "MyDrive" / "brats"
    drive.mkdir(parents=True)
    shutil.make_archive(str(drive / "MICCAI_BraTS_2019_Data_Training"), "zip", src)
    data = notebook.get_data("drive", str(drive))
    assert data.num_cases == 2
    assert data.data_dir == tmp_path / "home" / "drive" / "MICCAI_BraTS_2019_Data_Training"
    assert "extracting" in capsys.readouterr().out
    again = notebook.get_data("drive", str(drive / "MICCAI_BraTS_2019_Data_Training.zip"))
    assert again.data_dir == data.data_dir and "extracting" not in capsys.readouterr().out
    # another archive of that name in another Drive folder (Kaggle names every download
    # archive.zip): unpacked again, its cases given, not the first one's (data round 22)
    shutil.rmtree(src / "MICCAI_BraTS_2019_Data_Training" / "LGG")
    other = tmp_path / "MyDrive" / "TP2"
    shutil.make_archive(str(other / "MICCAI_BraTS_2019_Data_Training"), "zip", src)
    data = notebook.get_data("drive", str(other))
    assert data.num_cases == 1 and data.data_dir == again.data_dir
    assert "was unpacked from another archive than" in capsys.readouterr().out
    assert notebook.get_data("drive", str(drive)).num_cases == 2  # and back to the first
    # the same from the command line: the folder holding the zip, and a mistyped folder
    out = tmp_path / "my cli"  # (a Drive folder's space: the next line quotes it for a shell)
    assert main(["data", "download", "--url", str(drive), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "2 cases ready in " + str(out / "MICCAI_BraTS_2019_Data_Training") in said
    root = out / "MICCAI_BraTS_2019_Data_Training"
    assert f"next: unet-tp data prepare '{root}' --cache '{out / 'cache'}'" in said
    # found again in an --out that cannot be written (a read-only mount): a cache here instead
    monkeypatch.setattr(
        os, "access", lambda path, mode: Path(path) != out and real_access(path, mode)
    )
    assert main(["data", "download", "--url", str(drive), "--out", str(out)]) == 0
    assert f"next: unet-tp data prepare '{root}' --cache brats_cache" in capsys.readouterr().out
    monkeypatch.setattr(os, "access", real_access)
    assert main(["data", "download", "--url", str(drive.parent / "bratz"), "--out", str(out)]) == 2
    assert f"did you mean {drive}?" in capsys.readouterr().err


def test_drive_download_in_several_zips_is_one_folder_of_cases(tmp_path, monkeypatch, capsys):
    """Drive downloads a large folder as NAME-<time>-001.zip, -002.zip..., a case's files
    possibly split between them: the parts are extracted into one folder; unrelated archives
    are still refused."""
    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("UNET_TP_DATA_SOURCE", raising=False)
    src = _mirror(tmp_path / "src")
    drive = tmp_path / "MyDrive" / "brats"
    drive.mkdir(parents=True)
    files = sorted(p for p in src.rglob("*") if p.is_file())
    for part in (1, 2):
        name = f"MICCAI_BraTS_2019_Data_Training-20261201T101010Z-00{part}.zip"
        with zipfile.ZipFile(drive / name, "w") as zf:
            for f in files[part - 1 :: 2]:  # every case has files in both parts
                zf.write(f, arcname=str(f.relative_to(src)))
    data = notebook.get_data("drive", str(drive))
    assert data.data_dir == tmp_path / "home" / "drive" / "MICCAI_BraTS_2019_Data_Training"
    cases = find_cases(data.data_dir)
    assert len(cases) == 2 and all(not c.missing() for c in cases)
    assert "-001.zip" in capsys.readouterr().out
    shutil.copy(
        drive / "MICCAI_BraTS_2019_Data_Training-20261201T101010Z-001.zip", drive / "other.zip"
    )
    with pytest.raises(DataError, match="several archives"):
        download.use_archive_or_folder(drive, tmp_path / "elsewhere")


def _tiny_set(root: Path, n: int = 4, seg: bool = True) -> Path:
    for i in range(n):
        write_case(root, f"BraTS19_T_{i}", index=i, seg=seg)
    return root


def _unshare_ok() -> bool:
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    return probe.returncode == 0


def _read_only(path: Path, command: list[str]) -> subprocess.CompletedProcess:
    """Run ``command`` with ``path`` bind-mounted read-only (a private mount namespace)."""
    script = f'mount --bind -o ro "{path}" "{path}" && exec "$@"'
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", *command], capture_output=True, text=True
    )


@pytest.mark.slow
@pytest.mark.skipif(not _unshare_ok(), reason="needs unshare -rm (user + mount namespaces)")
def test_read_only_cache_and_output_on_a_read_only_mount(tmp_path):
    data = _tiny_set(tmp_path / "data")
    cache = tmp_path / "cache"
    prepare_cache(data, cache, CacheSettings())
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*")}
    probe = _read_only(cache, ["touch", str(cache / "x")])
    assert probe.returncode != 0 and "Read-only file system" in probe.stderr  # really read-only
    done = _read_only(cache, [UNET_TP, "data", "prepare", str(data), "--cache", str(cache)])
    assert done.returncode == 0, done.stderr
    assert "4 cases" in done.stdout and "nothing written" in done.stdout
    other = _read_only(
        cache, [UNET_TP, "data", "prepare", str(data), "--cache", str(cache), "--crop", "16"]
    )
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert other.stderr.strip().count("\n") == 0
    assert "read-only file system" in other.stderr and str(cache) in other.stderr
    out_dir = tmp_path / "ro_out"
    out_dir.mkdir()
    pred = _read_only(
        out_dir,
        [UNET_TP, "predict", "--data", str(data), "--checkpoint", "none.pt", "--out", str(out_dir)],
    )
    assert pred.returncode == 2 and "read-only file system" in pred.stderr
    assert "checkpoint" not in pred.stderr  # refused before the model is loaded
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*")} == before
    assert not list(out_dir.iterdir())


def test_unchanged_cache_is_not_written(tmp_path, monkeypatch):
    data = _tiny_set(tmp_path / "data")
    prepare_cache(data, tmp_path / "c", CacheSettings())

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "c"))

    from unet_tp.data import cache as cache_mod

    monkeypatch.setattr(cache_mod, "save_json", refuse)
    monkeypatch.setattr(cache_mod, "save_npy", refuse)
    report = prepare_cache(data, tmp_path / "c", CacheSettings())
    assert report.wrote is False and sorted(report.reused) == [f"BraTS19_T_{i}" for i in range(4)]
    (find_cases(data)[0].files["t1"]).touch()  # a changed source needs a write: one line
    rc = main(["data", "prepare", str(data), "--cache", str(tmp_path / "c")])
    assert rc == 2


def test_os_errors_are_one_line_and_leave_no_temporary_file(tmp_path, monkeypatch, capsys):
    data = _tiny_set(tmp_path / "data", n=2)
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["data", "prepare", str(data), "--cache", str(afile / "cache")]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"error: {afile / 'cache' / 'cases'}: a part of this path is a file, not a folder: choose another path\n"
    )

    real_save = np.save

    def disk_full(f, array):  # half the bytes, then the disk is full
        f.write(b"\x93NUMPY" + b"\0" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileio.np, "save", disk_full)
    assert main(["data", "prepare", str(data), "--cache", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert f"the disk of {tmp_path / 'c'} is full: the slice cache needs" in err, err
    assert len(err.splitlines()) == 1
    leftovers = [p for p in (tmp_path / "c").rglob("*") if p.name.startswith(".")]
    assert leftovers == []
    monkeypatch.setattr(fileio.np, "save", real_save)

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "c"))

    monkeypatch.setattr(Path, "mkdir", denied)
    assert main(["data", "prepare", str(data), "--cache", str(tmp_path / "c")]) == 2
    assert f"{tmp_path / 'c'}: permission denied" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    data = _tiny_set(root / "data")
    cache = root / "cache"
    prepare_cache(data, cache, CacheSettings())
    run = root / "run"
    rc = main(
        ["train", "--data", str(cache), "--out", str(run), "--preset", "tiny", "--num-workers", "0"]
        + ["--no-eval"]
    )
    assert rc == 0
    return data, cache, run


@pytest.mark.slow
def test_train_on_a_cache_uses_and_records_its_geometry(tiny_run, tmp_path, capsys):
    _, cache, run = tiny_run
    config = json.loads((run / "config.json").read_text())
    assert config["settings"]["grid"] == {"crop": None, "image_size": None}
    assert config["slice_shape"] == [SHAPE[1], SHAPE[0]]
    rc = main(["train", "--data", str(cache), "--out", str(tmp_path / "r"), "--crop", "160"])
    err = capsys.readouterr().err
    assert rc == 2 and "--crop 160 (the cache has None)" in err
    rc = main(["train", "--data", str(cache), "--out", str(tmp_path / "r"), "--image-size", "48"])
    assert rc == 2 and "--image-size 48 (the cache has None)" in capsys.readouterr().err


@pytest.mark.slow
def test_train_reports_a_preset_geometry_once(tmp_path, capsys):
    data = _tiny_set(tmp_path / "data")
    cache = tmp_path / "cache"
    prepare_cache(data, cache, CacheSettings())
    capsys.readouterr()
    rc = main(
        ["train", "--data", str(cache), "--out", str(tmp_path / "r"), "--preset", "tiny"]
        + ["--num-workers", "0", "--no-eval", "--epochs", "1"]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert out.count("note: training on the cache's slice geometry, not preset tiny's") == 1
    assert "crop 192 -> None, image_size 48 -> None" in out


@pytest.mark.slow
def test_predict_every_case_of_a_folder_with_one_model_load(
    tiny_run, tmp_path, monkeypatch, capsys
):
    _, _, run = tiny_run
    val = _tiny_set(tmp_path / "val", n=3, seg=False)
    # one case stored RAS (another affine): its prediction keeps that grid and affine
    ras = BRATS_AFFINE @ np.array(
        [[-1, 0, 0, SHAPE[0] - 1], [0, -1, 0, SHAPE[1] - 1], [0, 0, 1, 0], [0, 0, 0, 1]]
    )
    shutil.rmtree(val / "BraTS19_T_2")
    write_case(val, "BraTS19_T_2", index=2, seg=False, affine=ras)
    loads = []
    real = model_commands._load_model
    monkeypatch.setattr(model_commands, "_load_model", lambda *a: loads.append(a) or real(*a))
    out = tmp_path / "pred"
    ckpt = str(run / "checkpoint.pt")
    assert main(["predict", "--data", str(val), "--checkpoint", ckpt, "--out", str(out)]) == 0
    assert len(loads) == 1
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"BraTS19_T_{i}.nii.gz" for i in range(3)]
    img = nib.load(str(out / "BraTS19_T_2.nii.gz"))
    assert img.shape == SHAPE and np.allclose(img.affine, ras)
    assert set(np.unique(np.asanyarray(img.dataobj)).tolist()) <= {0, 1, 2, 4}
    assert "3 cases segmented" in capsys.readouterr().out
    # again, one output lost and one case unreadable (a run cut short, a case gone bad): nothing
    # is overwritten without --force, the missing one is done, the bad one named
    before = (out / "BraTS19_T_0.nii.gz").stat().st_mtime_ns
    (out / "BraTS19_T_1.nii.gz").unlink()
    (out / "BraTS19_T_2.nii.gz").unlink()
    (val / "BraTS19_T_2" / "BraTS19_T_2_flair.nii.gz").write_bytes(b"not a volume")
    assert main(["predict", "--data", str(val), "--checkpoint", ckpt, "--out", str(out)]) == 1
    said = capsys.readouterr()
    assert "kept 1 segmentations already in" in said.out and "1 cases segmented" in said.out
    assert "1 cases could not be read: BraTS19_T_2" in said.err
    assert (out / "BraTS19_T_0.nii.gz").stat().st_mtime_ns == before
    assert sorted(p.name for p in out.iterdir()) == ["BraTS19_T_0.nii.gz", "BraTS19_T_1.nii.gz"]
    # --case for one case stays; an --out without a NIfTI extension is refused before inference
    one = ["predict", "--case", str(val / "BraTS19_T_0"), "--checkpoint", ckpt]
    assert main([*one, "--out", str(tmp_path / "single" / "seg")]) == 2
    assert "must name a NIfTI file ending in .nii.gz or .nii" in capsys.readouterr().err
    assert len(loads) == 2 and not (tmp_path / "single").exists()  # (the second run: one)
    assert main([*one, "--out", str(tmp_path / "single" / "seg.nii")]) == 0
    assert [p.name for p in (tmp_path / "single").iterdir()] == ["seg.nii"]  # no .partial file
    assert os.path.getsize(tmp_path / "single" / "seg.nii") > 0
    # a BraTS 2023 case: its segmentation in 2023's labels, ET 3, as its own seg files (it was
    # 4, read by 2023's tools as the 2024 resection cavity); the network's answer is made up here
    # (the tiny model finds no ET): the case's truth, in the working orientation
    _, seg_2019 = volumes(0)
    truth = np.transpose(seg_2019, (1, 0, 2))
    monkeypatch.setattr(model_commands.train, "predict_volume", lambda *a: truth)
    gli = write_case(tmp_path / "gli", "BraTS-GLI-00000-000", "brats2023", index=0, seg=False)
    one = ["predict", "--case", str(gli), "--checkpoint", ckpt, "--out"]
    assert main([*one, str(tmp_path / "gli.nii.gz")]) == 0
    assert "labels as BraTS 2023-2024 glioma files: 1 NETC, 2 SNFH, 3 ET" in capsys.readouterr().out
    seg_2023 = np.asanyarray(nib.load(str(tmp_path / "gli.nii.gz")).dataobj)
    assert (seg_2019 == 4).any()
    np.testing.assert_array_equal(seg_2023, np.where(seg_2019 == 4, 3, seg_2019))
    # a case whose headers give no orientation (codes 0): its segmentation gives none either, so
    # every tool reads it on the grid it reads the case on (not an orientation made up for it)
    lost = write_case(tmp_path / "lost", "BraTS19_L_0", index=0, seg=False)
    for f in lost.iterdir():
        nib.Nifti1Image(np.asanyarray(nib.load(str(f)).dataobj), None).to_filename(str(f))
    assert main([*one[:2], str(lost), *one[3:], str(tmp_path / "lost.nii.gz")]) == 0
    source, written = (
        nib.load(str(lost / "BraTS19_L_0_flair.nii.gz")),
        nib.load(str(tmp_path / "lost.nii.gz")),
    )
    assert (written.header["qform_code"], written.header["sform_code"]) == (0, 0)
    assert np.allclose(written.affine, source.affine) and written.shape == source.shape
    # a scanner's codes (qform 2, sform 4) and units (mm, s) are the segmentation's too
    scanner = write_case(tmp_path / "scanner", "BraTS19_S_0", index=0, seg=False)
    for f in scanner.iterdir():
        img = nib.load(str(f))
        img.set_qform(img.affine, code=2)
        img.set_sform(img.affine, code=4)
        img.header.set_xyzt_units("mm", "sec")
        img.to_filename(str(f))
    assert main([*one[:2], str(scanner), *one[3:], str(tmp_path / "scanner.nii.gz")]) == 0
    written = nib.load(str(tmp_path / "scanner.nii.gz")).header
    assert (int(written["qform_code"]), int(written["sform_code"])) == (2, 4)
    assert written.get_xyzt_units() == ("mm", "sec")


@pytest.mark.slow
def test_evaluate_every_case_leaves_out_those_without_a_seg(tiny_run, tmp_path, capsys):
    """Evaluating every case of a folder where one case has no seg: it is left out and named
    (it stopped the run); named with --cases, it is still refused."""
    _, _, run = tiny_run
    data = tmp_path / "mixed"
    for i in range(4):  # not the run's patients: every case is evaluated
        write_case(data, f"BraTS19_E_{i}", index=i, seg=i != 1)
    cut = next(data.glob("BraTS19_E_3/*_t1.nii*"))  # unreadable: said, the others evaluated
    cut.write_bytes(cut.read_bytes()[:100])  # (data round 21: it stopped the run, no JSON)
    ckpt, out = str(run / "checkpoint.pt"), str(tmp_path / "eval.json")
    evaluate = ["evaluate", "--data", str(data), "--checkpoint", ckpt, "--out", out]
    assert main(evaluate) == 0
    said = capsys.readouterr()
    assert "left out, no seg file to compare with: BraTS19_E_1" in said.out
    assert "skipped case BraTS19_E_3" in said.err and str(cut) in said.err
    written = json.loads(Path(out).read_text())
    assert sorted(written["cases"]) == ["BraTS19_E_0", "BraTS19_E_2"]
    assert list(written["skipped"]) == ["BraTS19_E_3"]
    assert main([*evaluate, "--cases", "BraTS19_E_1"]) == 2
    assert "no seg file for BraTS19_E_1" in capsys.readouterr().err
    assert main(evaluate) == 0  # its own metrics file is replaced
    # a file evaluate did not write (the case's own seg, data round 19) is not, unless --force
    seg = next(data.glob("BraTS19_E_0/*seg*"))
    before = seg.read_bytes()
    assert main([*evaluate[:-1], str(seg)]) == 2
    assert "is not a metrics file of `unet-tp evaluate`" in capsys.readouterr().err
    assert seg.read_bytes() == before
    # figures of the folder, no case named: one with a seg to compare with, not the first
    figures = ["figures", "--data", str(data), "--run", str(run), "--out", str(tmp_path / "f")]
    assert main([*figures[:2], str(data / "BraTS19_E_1"), *figures[3:]]) == 2
    assert main(figures) == 0 and (tmp_path / "f" / "prediction.png").is_file()


def test_kagglehub_unpacking_gets_a_progress_bar(tmp_path):
    """kagglehub shows no bar while it unpacks: the bytes its folder gains are shown instead."""
    import time

    from unet_tp.data.download import watch_growth

    folder = tmp_path / "kagglehub" / "datasets" / "x"
    folder.mkdir(parents=True)
    (folder / "before.nii").write_bytes(b"x" * 100)
    with watch_growth(folder, "kagglehub: x", every=0.05) as watch:
        for i in range(3):
            (folder / f"case{i}.nii").write_bytes(b"x" * 1000)
            time.sleep(0.1)
    assert watch.seen == 3000  # what the bar counted (it shows in a notebook or a terminal)


def test_the_notebook_steps_say_what_went_wrong_in_one_line_without_a_traceback(
    tmp_path, monkeypatch
):
    """In Colab a DataError from the data cell used to come with six frames of the kit's code
    above the one line that says what to do; IPython shows ``_render_traceback_`` instead."""
    monkeypatch.delenv("UNET_TP_DATA_SOURCE", raising=False)
    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "home"))
    missing = tmp_path / "Mon Drive" / "BraTS é"
    with pytest.raises(notebook.NotebookError) as err:
        notebook.get_data("drive", str(missing))
    assert err.value._render_traceback_() == [f"DataError: {err.value}"]
    assert str(err.value).startswith(f"{missing}: no such folder")
    with pytest.raises(notebook.NotebookError) as err:
        notebook.get_data("sampel")
    assert err.value._render_traceback_()[0].startswith("ValueError: DATA_SOURCE must be one of")
    monkeypatch.setenv("UNET_TP_DATA_SOURCE", "Drive")  # (data round 21: the URL was missing)
    with pytest.raises(notebook.NotebookError, match=r"\$UNET_TP_DATA_SOURCE must be one of"):
        notebook.get_data("sample")
    monkeypatch.delenv("UNET_TP_DATA_SOURCE")

    data = _tiny_set(tmp_path / "Mon Drive" / "cases é", n=2)

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "home"))

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(notebook.NotebookError) as err:
        notebook.prepare_slices(data, notebook.preset_config("tiny"))
    assert err.value._render_traceback_() == [
        f"PermissionError: {tmp_path / 'home'}: permission denied: choose a folder you can write "
        "to, or fix its permissions"
    ]
    monkeypatch.undo()
    with pytest.raises(AttributeError):  # a bug keeps its traceback
        notebook.split_datasets(None, None)

    def broadcast(*args, **kwargs):  # a bug's ValueError, from numpy: not the data's fault
        return np.zeros(3) + np.zeros(4)

    monkeypatch.setattr(notebook, "find_cases", broadcast)
    with pytest.raises(ValueError, match="could not be broadcast") as err:
        notebook.get_data("drive", str(data))
    assert not isinstance(err.value, notebook.NotebookError)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_full_disk_in_the_notebook_data_cell_says_re_run_the_cell(tmp_path, monkeypatch, lang):
    """A French tester's notebook: NumPy's raw "OSError: 950272 requested and 739264 written"
    (no errno, no folder, no step) while the slice cache was written; now the cache folder, the
    free space and a step a student takes there (re-run the cell), in the notebook's language."""
    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(i18n, "_current", lang)
    data = _tiny_set(tmp_path / "cases", n=2)

    def short_write(*args, **kwargs):  # np.save's tofile on a file system that filled up
        raise OSError("950272 requested and 739264 written")

    monkeypatch.setattr(fileio.np, "save", short_write)
    with pytest.raises(notebook.NotebookError) as err:
        notebook.prepare_slices(data, notebook.preset_config("tiny"))
    (line,) = err.value._render_traceback_()
    cache = notebook.default_cache_dir(data, notebook.preset_config("tiny").cache_settings())
    if lang == "en":
        assert line.startswith(f"DataError: {cache}: the disk is full while writing the slice "), (
            line
        )
        assert "free). Free some space (downloads, old caches), then re-run the cell: " in line
    else:
        assert line.startswith(f"DataError: {cache} : le disque est plein pendant l'écriture du"), (
            line
        )
        assert (
            "libres). Libérez de l'espace (téléchargements, anciens caches) puis ré-exécutez "
            in line
        )
    assert "requested" not in line and "unet-tp" not in line


def test_a_nifti_file_or_a_web_page_on_drive_says_what_to_do_there(tmp_path, monkeypatch):
    """A French tester's DRIVE_FOLDER: a .nii.gz began an "extraction", then "damaged gzip
    archive"; a zip that was Drive's web page advised "or DATA_SOURCE = 'drive'", already set."""
    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("UNET_TP_DATA_SOURCE", raising=False)
    data = _tiny_set(tmp_path / "Drive" / "cases", n=1)
    image = next(data.glob("*/*_t1.nii.gz"))
    with pytest.raises(notebook.NotebookError) as err:
        notebook.get_data("drive", str(image))
    assert str(err.value) == (
        f"{image}: a NIfTI image, not a folder: set DRIVE_FOLDER to the folder that holds the "
        f"cases' folders (perhaps {data})"
    )
    page = tmp_path / "Drive" / "zip" / "BraTS2019.zip"
    page.parent.mkdir()
    page.write_text("<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning")
    monkeypatch.setattr(i18n, "_current", "fr")
    with pytest.raises(notebook.NotebookError) as err:
        notebook.get_data("drive", str(page.parent))
    assert str(err.value).startswith(f"{page} : une page web enregistrée à la place du zip")
    assert str(err.value).endswith("placez-le dans le dossier Drive"), err.value
    assert "DATA_SOURCE" not in str(err.value)


def test_kagglehub_filling_the_disk_says_so_not_check_the_connection(kagglehub, tmp_path, capsys):
    module, _ = kagglehub
    module.FAIL = OSError(errno.ENOSPC, "No space left on device")
    assert main(["data", "download", "--source", "kaggle", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is full after" in err and "the mirror needs about 30 GB" in err, err
    assert "check the connection" not in err and len(err.strip().splitlines()) == 1


def test_msd_task_on_drive_is_converted_locally_and_left_as_it_was(tmp_path, monkeypatch):
    """DATA_SOURCE = "drive" on the Decathlon's Task01 (its 4D images) used to stop with a shell
    command to type, its path unquoted (a Drive path has spaces); the notebook's cell gives "msd"
    no folder of one's own. It is converted once to the local disk, the Drive folder untouched."""
    monkeypatch.delenv("UNET_TP_DATA_SOURCE", raising=False)
    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "home"))
    task = tmp_path / "Mon Drive" / "Task01_BrainTumour"
    (task / "imagesTr").mkdir(parents=True)
    (task / "labelsTr").mkdir()
    for i in (1, 2):
        image = np.zeros((16, 16, 8, 4), dtype=np.float32)
        image[4:12, 4:12, 2:6] = 100 + i
        label = np.zeros((16, 16, 8), dtype=np.uint8)
        label[6:10, 6:10, 3] = [1, 2, 3, 0]
        name = f"BRATS_{i:03d}.nii.gz"
        nib.Nifti1Image(image, np.eye(4)).to_filename(str(task / "imagesTr" / name))
        nib.Nifti1Image(label, np.eye(4)).to_filename(str(task / "labelsTr" / name))
    before = sorted(p.relative_to(task) for p in task.rglob("*"))
    data = notebook.get_data("drive", str(task))
    assert data.num_cases == 2 and data.data_dir.is_relative_to(tmp_path / "home" / "drive")
    assert [c.case_id for c in find_cases(data.data_dir)] == ["BRATS_001", "BRATS_002"]
    assert sorted(p.relative_to(task) for p in task.rglob("*")) == before
    assert notebook.get_data("drive", str(task)).data_dir == data.data_dir  # a re-run
    with pytest.raises(DataError, match=r"--url '.*/Mon Drive/Task01_BrainTumour' --out DIR"):
        find_cases(task)  # the command it names can be pasted into a shell


def test_a_refused_atomic_write_names_the_file_it_would_have_made(tmp_path):
    # the write goes through a temporary ".NAME.XXXXXXXX.tmp": the user asked for NAME
    target = tmp_path / "p.tar.gz"
    with pytest.raises(OSError) as err, fileio.atomic_write(target):
        (tmp,) = tmp_path.iterdir()
        raise OSError(errno.EROFS, "Read-only file system", str(tmp))
    assert Path(err.value.filename).name != "p.tar.gz"  # the temporary file's name
    message = fileio.os_error_message(err.value)
    assert message.startswith(f"{target}: it is on a read-only file system")
    assert not target.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "error",
    [
        OSError("Not enough free space to write 24883200 bytes after offset 128"),  # NumPy's
        OSError("950272 requested and 739264 written"),  # NumPy's tofile, in np.save
        OSError(errno.ENOSPC, "No space left on device"),  # gzip's: no file named
    ],
    ids=["numpy", "numpy-tofile", "gzip"],
)
def test_a_full_disk_while_writing_names_the_file_and_says_the_disk_is_full(tmp_path, error):
    """Data round 20: a cache written to a full disk said NumPy's words with no path (and its
    "cached cases kept" message never came: errno None); a download or a pack, "a file: ..."."""
    for write in (fileio.atomic_write, fileio.atomic_path):
        target = tmp_path / "BraTS19_A.images.npy"
        with pytest.raises(OSError) as err, write(target):
            raise OSError(*error.args)
        assert fileio.disk_full(err.value)
        assert fileio.os_error_message(err.value) == (
            f"{target}: the disk is full: free some space or choose a folder on another disk"
        )
        assert not list(tmp_path.iterdir())
