"""Downloads over a loopback HTTP server: checksum, resume, safe extraction, MSD conversion."""

import errno
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from loopback import LoopbackServer

from unet_tp import fileio, i18n
from unet_tp.cli import main
from unet_tp.data import DataError, find_cases, load_case
from unet_tp.data import download as download_module
from unet_tp.data.download import DownloadError, download, extract, fetch_dataset


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    with LoopbackServer(root) as server:
        yield server


def _blob(path, n=3_000_000):
    path.write_bytes(np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes())
    return path


def test_download_checks_sha256(served, tmp_path):
    blob = _blob(served.root / "a.bin")
    out = download(
        served.url("a.bin"), tmp_path / "dl" / "a.bin", sha256=sha256(blob), progress=False
    )
    assert out.read_bytes() == blob.read_bytes()
    with pytest.raises(
        DownloadError, match=r"a\.bin: SHA-256 [0-9a-f]{64} does not match the expected 0{64}"
    ):
        download(served.url("a.bin"), tmp_path / "dl2" / "a.bin", sha256="0" * 64, progress=False)
    # nothing that looks complete is left behind
    assert not list((tmp_path / "dl2").iterdir())


def test_interrupted_download_resumes(served, tmp_path):
    blob = _blob(served.root / "b.bin")
    dest = tmp_path / "dl" / "b.bin"
    served.cut_after = 1_000_000
    with pytest.raises(DownloadError, match="run the same command again to resume"):
        download(served.url("b.bin"), dest, sha256=sha256(blob), progress=False)
    assert not dest.exists()
    part = dest.with_name("b.bin.part")
    assert part.stat().st_size == 1_000_000
    served.cut_after = None
    download(served.url("b.bin"), dest, sha256=sha256(blob), progress=False)
    assert served.requests[-1]["range"] == "bytes=1000000-"
    assert dest.read_bytes() == blob.read_bytes() and not part.exists()


def test_server_without_range_support_restarts_cleanly(served, tmp_path):
    blob = _blob(served.root / "c.bin")
    dest = tmp_path / "c.bin"
    dest.with_name("c.bin.part").write_bytes(blob.read_bytes()[:500])
    served.honour_range = False
    download(served.url("c.bin"), dest, sha256=sha256(blob), progress=False)
    assert dest.read_bytes() == blob.read_bytes()


def test_http_error_is_clear(served, tmp_path, monkeypatch):
    url = served.url("missing.zip")
    with pytest.raises(DownloadError) as err:
        download(url, tmp_path / "x.zip", progress=False)
    assert str(err.value).startswith(f"{url}: not found (HTTP 404): check the address")
    monkeypatch.setattr(i18n, "_current", "fr")  # a French tester: English, and no step
    with pytest.raises(DownloadError) as err:
        download(url, tmp_path / "x.zip", progress=False)
    assert str(err.value).startswith(f"{url} : introuvable (HTTP 404) : vérifiez l'adresse")


def _zip_with(path, names):
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(name, b"x")
    return path


def test_zip_path_traversal_is_refused(tmp_path):
    archive = _zip_with(tmp_path / "evil.zip", ["ok/a.txt", "../../escape.txt"])
    with pytest.raises(DataError, match="refusing to extract '../../escape.txt'"):
        extract(archive, tmp_path / "out" / "data")
    assert not (tmp_path / "escape.txt").exists()
    assert not list((tmp_path / "out").iterdir())  # no half-extracted folder


def test_tar_traversal_and_links_are_refused(tmp_path):
    for name, member in [
        ("abs.tar", tarfile.TarInfo("/etc/evil")),
        ("dots.tar", tarfile.TarInfo("a/../../evil")),
    ]:
        with tarfile.open(tmp_path / name, "w") as tf:
            member.size = 1
            tf.addfile(member, io.BytesIO(b"x"))
        with pytest.raises(DataError, match="refusing to extract"):
            extract(tmp_path / name, tmp_path / f"out-{name}")
    link = tarfile.TarInfo("data/link")
    link.type, link.linkname = tarfile.SYMTYPE, "../../../etc/passwd"
    with tarfile.open(tmp_path / "link.tar", "w") as tf:
        tf.addfile(link)
    with pytest.raises(DataError, match="refusing to extract"):
        extract(tmp_path / "link.tar", tmp_path / "out-link")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("out-")]


@pytest.mark.slow  # (over 2.5 s: the full suite's, not the fast loop's)
def test_brats_zip_over_http_via_cli(served, brats_zip_made, tmp_path, capsys):
    shutil.copy(brats_zip_made, served.root / "brats2019.zip")
    digest = sha256(served.root / "brats2019.zip")
    rc = main(
        [
            "data",
            "download",
            "--url",
            served.url("brats2019.zip"),
            "--sha256",
            digest,
            "--out",
            str(tmp_path / "data"),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    assert "4 cases ready" in capsys.readouterr().out
    assert len(find_cases(tmp_path / "data" / "brats2019")) == 4
    assert not (tmp_path / "data" / "downloads" / "brats2019.zip").exists()  # archive removed


def test_cli_bad_checksum_exit_code(served, tmp_path, capsys):
    _blob(served.root / "x.zip", 1000)
    rc = main(
        [
            "data",
            "download",
            "--url",
            served.url("x.zip"),
            "--sha256",
            "1" * 64,
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 2 and "SHA-256" in capsys.readouterr().err


def _msd_task(root, n_cases=2):
    """A miniature MSD Task01: 4D images (FLAIR, T1w, T1gd, T2w) and MSD labels, with junk files."""
    task = root / "Task01_BrainTumour"
    (task / "imagesTr").mkdir(parents=True)
    (task / "labelsTr").mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, n_cases + 1):
        image = np.zeros((16, 16, 8, 4), dtype=np.float32)
        image[4:12, 4:12, 2:6] = rng.integers(1, 500, size=(8, 8, 4, 4))
        image[..., 2] += 1000 * (np.arange(16) == 5)[:, None, None]  # mark T1gd
        label = np.zeros((16, 16, 8), dtype=np.uint8)
        label[6:10, 6:10, 3] = [1, 2, 3, 0]  # edema, non-enhancing, enhancing per column
        name = f"BRATS_{i:03d}.nii.gz"
        nib.Nifti1Image(image, np.eye(4)).to_filename(str(task / "imagesTr" / name))
        nib.Nifti1Image(label, np.eye(4)).to_filename(str(task / "labelsTr" / name))
        (task / "imagesTr" / f"._{name}").write_bytes(b"\x00\x05\x16\x07")  # macOS junk, as in MSD
    return task


def test_msd_archive_is_converted_to_brats_layout(served, tmp_path):
    _msd_task(tmp_path / "src")
    with tarfile.open(served.root / "Task01_BrainTumour.tar", "w") as tf:
        tf.add(tmp_path / "src" / "Task01_BrainTumour", arcname="Task01_BrainTumour")
    out = fetch_dataset(
        served.url("Task01_BrainTumour.tar"), tmp_path / "data", layout="msd", progress=False
    )
    cases = find_cases(out)
    assert [c.case_id for c in cases] == ["BRATS_001", "BRATS_002"]
    vol = load_case(cases[0])
    raw_label = np.zeros((16, 16, 8), dtype=np.uint8)
    raw_label[6:10, 6:10, 3] = [1, 2, 3, 0]
    seg = nib.load(str(cases[0].files["seg"]))
    seg_data = np.asanyarray(seg.dataobj)
    assert sorted(np.unique(seg_data)) == [0, 1, 2, 4]
    np.testing.assert_array_equal(seg_data[raw_label == 1], 2)  # MSD edema -> BraTS 2
    np.testing.assert_array_equal(seg_data[raw_label == 2], 1)  # non-enhancing -> 1
    np.testing.assert_array_equal(seg_data[raw_label == 3], 4)  # enhancing -> 4
    t1ce = np.asanyarray(nib.load(str(cases[0].files["t1ce"])).dataobj)
    assert t1ce[5].min() >= 1000  # channel 2 (T1gd) became t1ce
    assert vol.image.shape == (4, 16, 16, 8)


def test_a_task_folder_the_user_unpacked_is_kept_and_a_local_archive_unpacked_once(
    tmp_path, capsys
):
    """Data round 21: `data download --source msd --url DIR/Task01_BrainTumour.tar --out DIR`
    deleted the Task01_BrainTumour/ the user had unpacked there (a notes file in it), and a
    local archive was unpacked again (7 GB) at every run."""
    task = _msd_task(tmp_path / "data")
    (task / "notes.txt").write_text("mine")
    with tarfile.open(tmp_path / "data" / "Task01_BrainTumour.tar", "w") as tf:
        tf.add(task, arcname="Task01_BrainTumour")
    archive = str(tmp_path / "data" / "Task01_BrainTumour.tar")
    out = fetch_dataset(archive, tmp_path / "data", layout="msd", progress=False)
    assert len(find_cases(out)) == 2 and (task / "notes.txt").read_text() == "mine"
    other = tmp_path / "other"  # unpacked by the kit: removed once converted, then not again
    out = fetch_dataset(archive, other, layout="msd", progress=False)
    assert "extracting" in capsys.readouterr().out and not (other / "Task01_BrainTumour").exists()
    assert fetch_dataset(archive, other, layout="msd", progress=False) == out
    assert "extracting" not in capsys.readouterr().out and len(find_cases(out)) == 2


def test_zip_with_windows_separators_keeps_its_folders(brats_root, tmp_path):
    """Some Windows zip tools write ``MICCAI...\\HGG\\case\\file.nii``: extracted on Linux, each
    name would be one file in one folder, the grades (and the case folders) lost."""
    archive = tmp_path / "windows.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(brats_root.rglob("*.nii*")):
            name = "\\".join(("BraTS", *path.relative_to(brats_root).parts))
            zf.write(path, arcname=name)
    cases = find_cases(extract(archive, tmp_path / "out"))
    assert [(c.case_id, c.grade) for c in cases] == [
        (c.case_id, c.grade) for c in find_cases(brats_root)
    ]
    assert all(c.directory.parent.parent == tmp_path / "out" / "BraTS" for c in cases)
    bad = _zip_with(tmp_path / "evil.zip", ["ok\\a.txt", "..\\..\\escape.txt"])
    with pytest.raises(DataError, match="refusing to extract"):
        extract(bad, tmp_path / "out2")


def test_a_rerun_does_not_download_an_unpacked_archive_again(
    served, brats_zip_made, tmp_path, capsys
):
    """The archive is removed once unpacked: running the data cell again used to download it all
    again (minutes to an hour for BraTS in Colab) before finding its folder already there."""
    shutil.copy(brats_zip_made, served.root / "brats2019.zip")
    first = fetch_dataset(served.url("brats2019.zip"), tmp_path / "data", progress=False)
    assert len(served.requests) == 1
    again = fetch_dataset(served.url("brats2019.zip"), tmp_path / "data", progress=False)
    assert again == first and len(find_cases(again)) == 4
    assert len(served.requests) == 1  # nothing downloaded the second time
    assert "already downloaded and unpacked" in capsys.readouterr().out


def test_msd_rerun_downloads_nothing_and_an_interrupted_conversion_resumes(
    served, tmp_path, monkeypatch
):
    _msd_task(tmp_path / "src", n_cases=3)
    with tarfile.open(served.root / "Task01_BrainTumour.tar", "w") as tf:
        tf.add(tmp_path / "src" / "Task01_BrainTumour", arcname="Task01_BrainTumour")
    url, data = served.url("Task01_BrainTumour.tar"), tmp_path / "data"
    real = download_module._write_msd_case

    def reset_at_third(image_path, label_path, final):  # the session resets mid-conversion
        if final.name == "BRATS_003":
            raise KeyboardInterrupt
        real(image_path, label_path, final)

    monkeypatch.setattr(download_module, "_write_msd_case", reset_at_third)
    with pytest.raises(KeyboardInterrupt):
        fetch_dataset(url, data, layout="msd", progress=False)
    monkeypatch.setattr(download_module, "_write_msd_case", real)
    out = fetch_dataset(url, data, layout="msd", progress=False)
    assert [c.case_id for c in find_cases(out)] == ["BRATS_001", "BRATS_002", "BRATS_003"]
    assert len(served.requests) == 1  # the conversion resumed from the unpacked originals
    assert fetch_dataset(url, data, layout="msd", progress=False) == out
    assert len(served.requests) == 1


def test_another_url_into_the_folder_of_a_converted_msd_is_downloaded(
    served, brats_root, brats_zip_made, tmp_path, capsys
):
    """`unet-tp data download --source msd`, then `--source brats2019 --url URL`, both into the
    default `--out data`: the second found MSD's mark of a complete conversion and gave the MSD
    cases back, "already downloaded", without downloading BraTS."""
    _msd_task(tmp_path / "src", n_cases=2)
    with tarfile.open(served.root / "Task01_BrainTumour.tar", "w") as tf:
        tf.add(tmp_path / "src" / "Task01_BrainTumour", arcname="Task01_BrainTumour")
    shutil.copy(brats_zip_made, served.root / "brats2019.zip")
    data = tmp_path / "data"
    msd = fetch_dataset(served.url("Task01_BrainTumour.tar"), data, "msd", progress=False)
    brats = fetch_dataset(served.url("brats2019.zip"), data, progress=False)
    assert brats != msd and len(served.requests) == 2
    assert [c.case_id for c in find_cases(brats)] == [c.case_id for c in find_cases(brats_root)]
    assert "already downloaded" not in capsys.readouterr().out
    again = served.url("Task01_BrainTumour.tar")
    assert fetch_dataset(again, data, "msd", progress=False) == msd and len(served.requests) == 2


@pytest.fixture(scope="module")
def brats_zip_made(brats_root, tmp_path_factory) -> Path:
    """The four sample cases zipped as Kaggle ships them (deflated), made once for the module."""
    out = tmp_path_factory.mktemp("zip") / "brats"
    return Path(shutil.make_archive(str(out), "zip", brats_root.parent, brats_root.name))


@pytest.fixture
def brats_zip(brats_zip_made, tmp_path) -> Path:
    """A private copy of the sample zip: ``tmp_path / "brats.zip"``."""
    return Path(shutil.copy(brats_zip_made, tmp_path / "brats.zip"))


def test_an_archive_cut_short_says_so_and_leaves_nothing(tmp_path):
    """A .tar.gz cut short past its first members (a download stopped) opens, then breaks off
    mid-extraction: one message naming it, and nothing of the extraction left; a zip cut short
    (no central directory) and a file that is no archive say which."""
    src = tmp_path / "src" / "case"
    src.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a.nii", "b.nii"):
        (src / name).write_bytes(rng.bytes(1 << 20))
    whole = shutil.make_archive(str(tmp_path / "whole"), "gztar", src.parent, "case")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(Path(whole).read_bytes()[:1_500_000])
    with pytest.raises(
        DataError, match=r"cut.tar.gz: a damaged or truncated archive .*get it again"
    ):
        extract(cut, tmp_path / "out")
    zipped = Path(shutil.make_archive(str(tmp_path / "whole"), "zip", src.parent, "case"))
    (tmp_path / "cut.zip").write_bytes(zipped.read_bytes()[:100_000])
    with pytest.raises(DataError, match=r"cut.zip: a damaged or truncated zip archive"):
        extract(tmp_path / "cut.zip", tmp_path / "out")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"notes.txt: not a zip or tar archive"):
        extract(tmp_path / "notes.txt", tmp_path / "out")
    page = tmp_path / "BraTS2019.zip"  # Drive's virus-scan page, saved under the file's name
    page.write_text("<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning")
    with pytest.raises(DataError, match=r"BraTS2019.zip: a web page, not an archive"):
        extract(page, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_zip_python_cannot_unpack_says_so_and_what_to_do(tmp_path):
    """A Deflate64 zip (Windows' Explorer, files over 2 GB) and a password-protected one said
    only "That compression method is not supported" or dumped a ZipInfo (data round 19)."""
    import zipfile

    made = tmp_path / "w.zip"
    with zipfile.ZipFile(made, "w") as zf:
        zf.writestr("case/a_flair.nii", b"x" * 100)
    data = bytearray(made.read_bytes())
    for header in (b"PK\x03\x04", b"PK\x01\x02"):  # the method: 9 (Deflate64) everywhere
        at = -1
        while (at := data.find(header, at + 1)) >= 0:
            offset = at + (8 if header == b"PK\x03\x04" else 10)
            data[offset : offset + 2] = (9).to_bytes(2, "little")
    (tmp_path / "win64.zip").write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"win64.zip: a zip compressed in a way .*7z x"):
        extract(tmp_path / "win64.zip", tmp_path / "out")
    data = bytearray(made.read_bytes())
    for header, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # the "encrypted" bit
        at = data.find(header)
        data[at + offset] |= 1
    (tmp_path / "locked.zip").write_bytes(bytes(data))
    with pytest.raises(
        DataError, match=r"locked.zip: a zip password-protected .*case/a_flair"
    ) as e:
        extract(tmp_path / "locked.zip", tmp_path / "out")
    assert "ZipInfo" not in str(e.value) and not (tmp_path / "out").exists()


def test_a_killed_writers_hidden_file_is_removed_by_the_next_write(tmp_path):
    """A predict or a cache killed mid-write left ``.partial-<pid>-x.nii.gz`` (or
    ``.x.json.<pid>.*.tmp``) for good: the next write of the file removes it, not a live one's."""
    from unet_tp.fileio import atomic_path, atomic_write

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    left = [tmp_path / f".partial-{pid}-case.nii.gz", tmp_path / f".meta.json.{pid}.abc.tmp"]
    alive = tmp_path / f".partial-{os.getppid()}-case.nii.gz"
    for path in [*left, alive]:
        path.write_bytes(b"")
    with atomic_path(tmp_path / "case.nii.gz") as tmp:
        tmp.write_bytes(b"seg")
    with atomic_write(tmp_path / "meta.json", "w") as f:
        f.write("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["case.nii.gz", "meta.json", alive.name]
    )


def test_extracting_onto_a_disk_too_small_says_how_much_is_needed(brats_zip, tmp_path, monkeypatch):
    unpacked = sum(i.file_size for i in zipfile.ZipFile(brats_zip).infolist())
    monkeypatch.setattr(fileio, "free_space", lambda folder: 1000)
    with pytest.raises(DataError) as info:
        extract(brats_zip, tmp_path / "out")
    text = str(info.value)
    assert f"extracting brats.zip needs {fileio.size_text(unpacked)}" in text, text
    assert "1.0 kB free" in text and "another disk" in text, text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["brats.zip"]  # nothing started


def test_a_disk_filling_up_while_extracting_is_one_message_and_nothing_half_done(
    brats_zip, tmp_path, monkeypatch
):
    real, done = zipfile.ZipFile.extract, []

    def full_at_the_third_member(self, member, path=None, pwd=None):
        if len(done) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        done.append(member)
        return real(self, member, path, pwd)

    monkeypatch.setattr(zipfile.ZipFile, "extract", full_at_the_third_member)
    with pytest.raises(DataError, match=r"filled up while extracting brats\.zip \(.* unpacked"):
        extract(brats_zip, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["brats.zip"]  # no partial folder


def test_a_download_larger_than_the_free_space_is_refused_before_it_starts(
    served, tmp_path, monkeypatch
):
    _blob(served.root / "big.bin")
    monkeypatch.setattr(fileio, "free_space", lambda folder: 1000)
    with pytest.raises(DownloadError, match=r"big\.bin needs 3\.0 MB; the disk of .* 1\.0 kB free"):
        download(served.url("big.bin"), tmp_path / "dl" / "big.bin", progress=False)
    assert not list((tmp_path / "dl").iterdir())


def test_what_a_reset_left_mid_extraction_is_removed_by_the_rerun(brats_zip, tmp_path, capsys):
    """A Colab session reset (the process killed) while extracting leaves the half-extracted
    folder: every re-run used to leave one more, gigabytes each, and the disk filled up."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    left = tmp_path / "data" / f".cases.unfinished-{dead.stdout.strip()}-x1y2"
    (left / "HGG" / "BraTS19_X_0001_1").mkdir(parents=True)
    (left / "HGG" / "BraTS19_X_0001_1" / "a.nii.gz").write_bytes(b"\0" * 5000)
    mine = tmp_path / "data" / f".cases.unfinished-{os.getpid()}-z9"  # a live process's: kept
    mine.mkdir()
    out = extract(brats_zip, tmp_path / "data" / "cases")
    assert len(find_cases(out)) == 4
    assert sorted(p.name for p in out.parent.iterdir()) == [mine.name, "cases"]
    said = capsys.readouterr().out
    assert f"removed the unfinished copy an interrupted run left ({left.name}, 5.0 kB)" in said


def test_the_instructors_archive_keeps_each_case_and_its_grade(brats_copy, tmp_path):
    """Data round 20: `make_archive.py` filed a BraTS 2021 case under HGG (the round trip made
    11 cases 10 HGG), and `--cases N` took the first N by name."""
    src = brats_copy / "HGG" / next(p.name for p in (brats_copy / "HGG").iterdir())
    other = brats_copy / "BraTS2021_00001"  # a case whose data names no grade
    other.mkdir()
    for path in src.iterdir():
        shutil.copy(path, other / path.name.replace(src.name, other.name))
    archive = tmp_path / "class.tar.gz"
    script = Path(__file__).resolve().parents[1] / "data_scripts" / "make_archive.py"
    subprocess.run([sys.executable, str(script), str(brats_copy), str(archive)], check=True,
                   capture_output=True)  # fmt: skip
    out = tmp_path / "out"
    extract(archive, out)
    grades = {c.case_id: c.grade for c in find_cases(out)}
    assert grades == {c.case_id: c.grade for c in find_cases(brats_copy)}
    assert grades["BraTS2021_00001"] is None
    drawn = tmp_path / "three.tar"
    subprocess.run([sys.executable, str(script), str(brats_copy), str(drawn), "--cases", "3"],
                   check=True, capture_output=True)  # fmt: skip
    with tarfile.open(drawn) as tf:
        assert len({Path(n).parent.name for n in tf.getnames()}) == 3


def _one_case_zip(brats_root, path: Path) -> Path:
    """A zip of the first sample case alone, in a folder of the release's name."""
    first = sorted(p for p in brats_root.rglob("*_seg.nii.gz"))[0].parent
    with zipfile.ZipFile(path, "w") as zf:
        for f in sorted(first.iterdir()):
            zf.write(f, f"{brats_root.name}/{first.name}/{f.name}")
    return path


def test_urls_of_the_same_name_are_not_given_each_others_cases(
    served, brats_root, brats_zip_made, tmp_path, capsys
):
    """Every Drive link ends in ``uc?id=...``, and two releases may both be ``brats.zip``: the
    second URL used to be found "already downloaded" in the first one's folder, and its cases
    given (even with the second's --sha256; data round 22)."""
    shutil.copy(brats_zip_made, served.root / "uc?id=one")
    _one_case_zip(brats_root, served.root / "uc?id=two")
    data = tmp_path / "data"
    four = fetch_dataset(served.url("uc?id=one"), data, progress=False)
    one = fetch_dataset(served.url("uc?id=two"), data, progress=False)
    assert four != one and len(find_cases(four)) == 4 and len(find_cases(one)) == 1
    assert fetch_dataset(served.url("uc?id=one"), data, progress=False) == four
    assert len(served.requests) == 2  # the first one's folder still found: not downloaded
    (served.root / "v2").mkdir()
    shutil.copy(brats_zip_made, served.root / "brats.zip")
    _one_case_zip(brats_root, served.root / "v2" / "brats.zip")
    first = fetch_dataset(served.url("brats.zip"), data, progress=False)
    capsys.readouterr()
    v2 = served.url("v2/brats.zip")
    again = fetch_dataset(v2, data, sha256=sha256(served.root / "v2" / "brats.zip"))
    assert again == first and len(find_cases(again)) == 1  # the second URL's case
    assert "was unpacked from another source" in capsys.readouterr().out
    assert fetch_dataset(v2 + "?token=2", data, progress=False) == again  # (a signed URL)
    assert "already downloaded and unpacked" in capsys.readouterr().out
    with pytest.raises(DownloadError, match="does not match the expected 0{64}"):
        fetch_dataset(v2, data, sha256="0" * 64, progress=False)  # another sha256: downloaded


def test_a_download_that_does_not_unpack_is_removed_and_downloaded_again(
    served, brats_zip_made, tmp_path
):
    """A web page (Drive's virus-scan page) or a damaged zip was kept in downloads/ and pooch
    reused it at every run: mending the address never helped (data round 22)."""
    (served.root / "brats.zip").write_text("<!DOCTYPE html><html>virus scan</html>")
    data = tmp_path / "data"
    with pytest.raises(DataError, match=r"brats\.zip: a web page.*the download was removed"):
        fetch_dataset(served.url("brats.zip"), data, progress=False)
    assert not list((data / "downloads").iterdir())
    damaged = bytearray(Path(brats_zip_made).read_bytes())
    damaged[len(damaged) // 3 : len(damaged) // 3 + 100] = bytes(100)
    (served.root / "brats.zip").write_bytes(damaged)
    with pytest.raises(DataError, match="damaged or truncated.*the download was removed"):
        fetch_dataset(served.url("brats.zip"), data, progress=False)
    shutil.copy(brats_zip_made, served.root / "brats.zip")  # the server mended
    assert len(find_cases(fetch_dataset(served.url("brats.zip"), data, progress=False))) == 4


def test_a_part_longer_than_the_file_is_not_taken_for_it(served, tmp_path):
    """A 416 (nothing left from that offset) used to take any leftover ``.part`` for the whole
    file, one longer than it (another file's) too: only one of the file's size is."""
    blob = _blob(served.root / "d.bin", 100_000)
    dest = tmp_path / "d.bin"
    dest.with_name("d.bin.part").write_bytes(b"y" * 150_000)
    assert download(served.url("d.bin"), dest, progress=False).read_bytes() == blob.read_bytes()
    dest.unlink()
    dest.with_name("d.bin.part").write_bytes(blob.read_bytes())  # whole: 416, nothing fetched
    assert download(served.url("d.bin"), dest, progress=False).read_bytes() == blob.read_bytes()
    assert served.requests[-1]["range"] == "bytes=100000-"
