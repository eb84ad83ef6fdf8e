"""Course packs: built from tiny cases of two BraTS editions, served over loopback HTTP, opened and
read with the cache's own Dataset; every broken pack is one clear line."""

import errno
import io
import json
import os
import shutil
import tarfile
from types import SimpleNamespace

import pytest
from loopback import LoopbackServer
from tinycases import write_case

from unet_tp import fileio, i18n
from unet_tp.cli import main
from unet_tp.data import pack as pack_mod
from unet_tp.data.cache import CacheSettings, SliceDataset, split_patients
from unet_tp.data.cases import DataError, find_cases
from unet_tp.data.pack import (
    MANIFEST,
    build_pack,
    choose_patients,
    is_pack,
    open_pack,
    pack_info,
    read_manifest,
    summarise,
)
from unet_tp.preprocess import Grid

SETTINGS = CacheSettings(crop=16)
CASES = {
    "HGG/BraTS19_TCIA01_1_1": "brats2019",
    "HGG/BraTS19_TCIA01_2_1": "brats2019",
    "LGG/BraTS19_TCIA09_3_1": "brats2019",
    "BraTS-GLI-00001-000": "brats2023",
    "BraTS-GLI-00002-000": "brats2023",
}


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    root = tmp_path_factory.mktemp("pack")
    for i, (where, edition) in enumerate(CASES.items()):
        folder, _, case_id = f"data/{where}".rpartition("/")
        write_case(root / folder, case_id, edition, index=i)
    write_case(root / "data", "BraTS-GLI-00009-000", "brats2023", index=9, seg=False)
    built = build_pack(root / "data", root / "www" / "course.tar", 5, SETTINGS, work_dir=root / "w")
    return built


def _error(source, tmp_path, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        open_pack(source, tmp_path / "packs", progress=False, **kwargs)
    text = str(info.value)
    assert "\n" not in text, text
    return text


def test_pack_served_over_http_opens_into_the_cache_the_loader_reads(pack, tmp_path):
    m = pack.manifest
    assert m["editions"] == ["brats2019", "brats2023"] and m["patients"] == 5
    assert m["grid"] == {"crop": 16, "image_size": None} and m["settings"] == SETTINGS.to_json()
    assert (pack.path.parent / "course.tar.sha256").read_text().startswith(pack.sha256)
    with LoopbackServer(pack.path.parent) as server:
        url = server.url("course.tar")
        folder = open_pack(url, tmp_path, pack.sha256, Grid(16), progress=False)
        again = open_pack(url, tmp_path, pack.sha256, SETTINGS, progress=False)
    assert again == folder and is_pack(url) and is_pack(pack.path) and is_pack(folder)
    data = SliceDataset(folder)
    image, label = data[0]
    assert len(data) == m["slices"] and image.shape == (4, 16, 16) and label.shape == (16, 16)
    assert split_patients(folder, 0.2, 0) == (m["split"]["train"], m["split"]["val"])
    assert read_manifest(folder) == m and open_pack(folder, expected_grid=Grid(16)) == folder
    assert open_pack(pack.path, tmp_path, pack.sha256, progress=False) == folder  # reused
    info = pack_info(pack.path)
    assert "5 patients (4 training, 1 validation)" in info and "brats2019, brats2023" in info
    assert f"{m['slices']} slices of 16x16" in info and pack_info(folder).startswith(str(folder))


def test_same_cases_give_the_same_bytes(pack, tmp_path):
    again = build_pack(
        pack.path.parents[1] / "data", tmp_path / "again.tar", 5, SETTINGS, work_dir=tmp_path
    )
    assert again.sha256 == pack.sha256
    # the same cases copied elsewhere, their dates changed (data round 21: the sizes and dates
    # of the sources were packed, and a rebuilt pack no longer matched the notebook's SHA-256)
    copied = tmp_path / "copied"
    shutil.copytree(pack.path.parents[1] / "data", copied, copy_function=shutil.copy)
    for f in copied.rglob("*.nii*"):
        os.utime(f, ns=(10**18, 10**18))
    moved = build_pack(copied, tmp_path / "moved.tar", 5, SETTINGS, work_dir=tmp_path / "w2")
    assert moved.sha256 == pack.sha256
    plain = build_pack(
        pack.path.parents[1] / "data", tmp_path / "plain.tar", 5, SETTINGS, work_dir=tmp_path,
        compress=False,
    )  # fmt: skip
    assert plain.size > pack.size and plain.manifest == pack.manifest
    assert (
        len(SliceDataset(open_pack(plain.path, tmp_path, progress=False)))
        == plain.manifest["slices"]
    )


def test_patients_are_chosen_by_seed_and_grade(pack):
    cases = find_cases(pack.path.parents[1] / "data")
    chosen = [c.case_id for c in choose_patients(cases, 3, seed=1)]
    assert chosen == [c.case_id for c in choose_patients(cases[::-1], 3, seed=1)]
    # 2 HGG, 1 LGG, 2 without a grade (2023): one of each, in proportion
    assert sorted(str(c.grade) for c in choose_patients(cases, 3)) == ["HGG", "LGG", "None"]


def test_a_packs_warnings_name_files_not_the_instructors_folders(tmp_path):
    """Data round 21: a case's warning ("t1 file /home/me/BraTS/X/X_t1.nii is constant") was
    packed as it was, naming the instructor's folders."""
    folder = tmp_path / "BraTS" / "X"
    case = SimpleNamespace(case_id="X", directory=folder)
    entry = {"source": {"X_t1.nii": [1, 2]}, "warnings": [f"t1 file {folder}/X_t1.nii is constant"]}
    meta = {"source": str(tmp_path), "cases": {"X": entry}, "skipped": {"Y": str(tmp_path)}}
    packed = json.dumps(pack_mod._packed_meta(meta, [case]))
    assert str(tmp_path) not in packed and "t1 file X_t1.nii is constant" in packed


def test_an_out_that_cannot_be_written_is_refused_before_any_work(tmp_path, capsys):
    """Data round 21: `--out afile/p.tar.gz` said "afile: it already exists", a read-only --out
    was refused once the whole cache was built."""
    (tmp_path / "afile").write_text("x")
    data = str(tmp_path / "nowhere")  # (no data: any work would fail on it first)
    assert (
        main(
            ["data", "pack", data, "--out", str(tmp_path / "afile" / "p.tar.gz"), "--patients", "2"]
        )
        == 2
    )
    assert "afile: a part of this path is a file, not a folder" in capsys.readouterr().err
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):  # (root writes anywhere)
        return
    assert main(["data", "pack", data, "--out", str(locked / "p.tar.gz"), "--patients", "2"]) == 2
    assert "locked: permission denied" in capsys.readouterr().err


def test_patients_not_scans_are_chosen():
    """`--patients N` counts patients: BraTS 2024's two timepoints of a patient come together
    (they were counted as two patients), and the manifest says patients and scans."""
    ids = ["BraTS-GLI-00001-100", "BraTS-GLI-00001-101", "BraTS-GLI-00002-100"]
    ids += ["BraTS-GLI-00003-100", "BraTS-GLI-00003-101"]
    cases = [SimpleNamespace(case_id=i, grade=None) for i in ids]
    for seed in range(5):
        chosen = [c.case_id for c in choose_patients(cases, 2, seed=seed)]
        assert len({c[:15] for c in chosen}) == 2
        assert all(i in chosen for i in ids if i[:15] in {c[:15] for c in chosen})
    manifest = {"format": 1, "kit_version": "0", "patients": 2, "scans": 3, "slices": 9}
    manifest |= {"grid": {"crop": 8, "image_size": None}, "editions": ["BraTS 2024"]}
    manifest["split"] = {"train": ids[:2], "val": ids[2:3]}
    text = summarise(manifest, None, "p.tar")
    assert "2 patients (1 training, 1 validation; 3 scans)" in text


def test_download_is_resumed_after_a_dropped_connection(pack, tmp_path):
    with LoopbackServer(pack.path.parent) as server:
        server.cut_after = pack.size // 2
        text = _error(server.url("course.tar"), tmp_path, expected_sha256=pack.sha256)
        assert "course.tar" in text and "resume" in text
        server.cut_after = None
        folder = open_pack(
            server.url("course.tar"), tmp_path / "packs", pack.sha256, progress=False
        )
    assert server.requests[-1]["range"] == f"bytes={pack.size // 2}-"
    assert len(SliceDataset(folder)) == pack.manifest["slices"]


def test_wrong_checksum_over_http_and_on_a_file(pack, tmp_path):
    with LoopbackServer(pack.path.parent) as server:
        url = server.url("course.tar")
        text = _error(url, tmp_path, expected_sha256="0" * 64)
    assert text.startswith(url) and "SHA" in text and f"expected {'0' * 64}" in text
    assert "SHA-256 is" in _error(pack.path, tmp_path, expected_sha256="0" * 64)


def test_truncated_pack(pack, tmp_path):
    for cut in (200, pack.size // 3, 2 * pack.size // 3):
        short = tmp_path / f"short{cut}.tar"
        short.write_bytes(pack.path.read_bytes()[:cut])
        text = _error(short, tmp_path)
        assert text.startswith(f"{short}: truncated"), text
    assert not list((tmp_path / "packs").iterdir())  # nothing half-unpacked left


def test_pack_of_another_grid(pack, tmp_path):
    text = _error(pack.path, tmp_path, expected_grid=Grid(32, 24))
    assert text == (
        f"{pack.path}: a pack of grid crop 16, image_size None, but this run asks for crop 32, "
        "image_size 24; set crop/image_size to the pack's or build a pack of that grid"
    )


def _rewrite(pack, out, change) -> None:
    """A copy of the pack with ``change(members)`` applied to its ``{name: bytes}``."""
    with tarfile.open(pack.path) as tf:
        members = {m.name: tf.extractfile(m).read() for m in tf}
    change(members)
    with tarfile.open(out, "w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def _edit_manifest(edit):
    def change(members):
        manifest = json.loads(members[MANIFEST])
        edit(manifest)
        members[MANIFEST] = json.dumps(manifest).encode()

    return change


def test_not_a_pack_foreign_and_tampered_packs(pack, tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"hello" * 200)
    assert _error(junk, tmp_path) == f"{junk}: not a unet-tp pack: not a tar archive"
    foreign = tmp_path / "foreign.tar"
    _rewrite(pack, foreign, lambda m: m.pop(MANIFEST))
    assert _error(foreign, tmp_path) == f"{foreign}: not a unet-tp pack (no pack.json first)"
    newer = tmp_path / "newer.tar"
    _rewrite(pack, newer, _edit_manifest(lambda m: m.update(format=99)))
    assert "pack format 99, this unet-tp reads format 1" in _error(newer, tmp_path)
    sneaky = tmp_path / "sneaky.tar"
    _rewrite(pack, sneaky, _edit_manifest(lambda m: m["members"].update({"../x": {}})))
    assert _error(sneaky, tmp_path) == f"{sneaky}: not a unet-tp pack (member '../x')"
    extra = tmp_path / "extra.tar"
    _rewrite(pack, extra, lambda m: m.update({"../evil": b"x"}))
    assert _error(extra, tmp_path) == f"{extra}: unexpected member '../evil' in the pack"
    tampered = tmp_path / "tampered.tar"
    name = next(n for n in pack.manifest["members"] if n.endswith(".labels.npy"))
    _rewrite(pack, tampered, lambda m: m.update({name: m[name][:-1] + b"\x07"}))
    text = _error(tampered, tmp_path)
    assert text.startswith(f"{tampered}: {name} does not match the pack's manifest"), text


def test_unpacked_folder_cut_short_and_missing_sources(pack, tmp_path):
    folder = open_pack(pack.path, tmp_path, progress=False)
    next((folder / "cases").glob("*.images.npy")).write_bytes(b"")
    with pytest.raises(DataError, match="an incomplete unpacked pack"):
        open_pack(folder)
    assert open_pack(pack.path, tmp_path, progress=False) == folder  # unpacked again
    assert "no such pack" in _error(tmp_path / "nothing.tar", tmp_path)


def test_pack_of_a_flat_folder_and_a_bad_case_named_where_it_is(tmp_path, capsys, monkeypatch):
    """Every case's files in one folder (a Drive upload of loose files) packs as prepare reads
    it; an unreadable case is named by its own file, and --skip-bad (which the message
    advises) leaves it out."""
    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "home"))
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(4):
        for f in write_case(tmp_path / "cases", f"BraTS19_F_{i}_1", index=i).iterdir():
            f.rename(flat / f.name)
    built = build_pack(flat, tmp_path / "flat.tar", 3, SETTINGS, work_dir=tmp_path / "w")
    assert built.manifest["patients"] == 3
    cut = flat / "BraTS19_F_0_1_flair.nii.gz"
    cut.write_bytes(cut.read_bytes()[:100])
    out = tmp_path / "bad.tar.gz"
    args = ["data", "pack", str(flat), "--out", str(out), "--patients", "4", "--crop", "16"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"cannot read {cut}" in err and "--skip-bad" in err and not out.exists()
    assert main([*args, "--skip-bad"]) == 0
    text = capsys.readouterr().out
    assert "3 patients" in text and "note: 3 patients, not the 4 asked (1 skipped)" in text
    assert f"skipped BraTS19_F_0_1: case BraTS19_F_0_1: cannot read {cut}" in text
    with tarfile.open(out) as tf:  # what students download names nothing of the instructor's disk
        packed = b"".join(tf.extractfile(m).read() for m in tf if m.name.endswith(".json"))
    assert str(tmp_path).encode() not in packed
    more = [*args[:6], "9", *args[7:], "--skip-bad", "--force"]
    assert main(more) == 0  # fewer cases than asked: said, not silent
    assert f"not the 9 asked ({flat} holds 4 with a seg file; 1 skipped)" in capsys.readouterr().out


def test_skip_bad_takes_other_cases_in_place_of_the_bad_ones(tmp_path, monkeypatch):
    """Tester: 8 cases, 2 of them bad, --patients 5 --skip-bad gave 3 patients: the bad ones
    were chosen, then dropped. A case missing a file is not chosen, and one that cannot be read
    is replaced by the next one chosen."""
    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "home"))
    data = tmp_path / "data"
    for i in range(8):
        write_case(data, f"BraTS19_G_{i}_1", index=i)
    chosen = {c.case_id for c in choose_patients(find_cases(data), 5)}
    no_t2, cut = sorted(chosen)[:2]
    (data / no_t2 / f"{no_t2}_t2.nii.gz").unlink()
    flair = data / cut / f"{cut}_flair.nii.gz"
    flair.write_bytes(flair.read_bytes()[:100])
    built = build_pack(data, tmp_path / "p.tar", 5, SETTINGS, skip_bad=True, progress=False)
    assert built.manifest["patients"] == 5
    assert sorted(built.skipped) == [no_t2, cut]
    assert f"missing t2 file (expected {data / no_t2 / no_t2}_t2.nii.gz" in built.skipped[no_t2]
    assert f"cannot read {flair}" in built.skipped[cut]
    assert not {no_t2, cut} & set(built.manifest["split"]["train"] + built.manifest["split"]["val"])


def test_case_id_a_pack_cannot_hold_is_refused_before_any_work(tmp_path):
    for i in range(2):
        write_case(tmp_path / "data", f"Patient 0{i}", index=i)
    with pytest.raises(DataError) as info:
        build_pack(tmp_path / "data", tmp_path / "p.tar", 2, SETTINGS, work_dir=tmp_path / "w")
    assert "case 'Patient 00'" in str(info.value) and "rename its files" in str(info.value)
    assert not (tmp_path / "w").exists()


def test_a_disk_too_small_or_filling_up_while_unpacking(pack, tmp_path, monkeypatch):
    """Colab's disk is shared with the downloads: a pack that cannot fit says how much it needs
    before anything is written; a disk that fills up half-way is one message, nothing kept."""
    unpacked = sum(m["bytes"] for m in pack.manifest["members"].values())
    with monkeypatch.context() as m:
        m.setattr(fileio, "free_space", lambda folder: 1000)
        text = _error(pack.path, tmp_path)
    assert f"unpacking the course pack course.tar needs {fileio.size_text(unpacked)}" in text, text
    assert "1.0 kB free" in text, text
    real, written = pack_mod.copy_hashed, []

    def full_at_the_third_file(src, dest):
        if len(written) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(dest))
        written.append(dest)
        return real(src, dest)

    monkeypatch.setattr(pack_mod, "copy_hashed", full_at_the_third_file)
    text = _error(pack.path, tmp_path)
    assert "filled up while unpacking the course pack course.tar" in text, text
    assert not list((tmp_path / "packs").iterdir())  # nothing half-unpacked left


def test_packs_of_urls_of_one_name_and_a_bad_download_fetched_again(pack, tmp_path):
    """Every Drive link ends in ``uc?id=...``: the second pack's URL was given the first one's
    pack (pooch keeps a file of that name unchecked), and a web page or a damaged download
    was kept and reused at every run, mending the server never helping (data round 22)."""
    www = tmp_path / "www"
    www.mkdir()
    shutil.copy(pack.path, www / "uc?id=course")
    data = pack.path.parent.parent / "data"
    small = build_pack(data, www / "small.tar", 2, SETTINGS, work_dir=tmp_path / "w")
    shutil.copy(small.path, www / "uc?id=small")
    (www / "late.tar").write_text("<!doctype html><html>Google Drive can't scan</html>")
    with LoopbackServer(www) as server:
        course = open_pack(server.url("uc?id=course"), tmp_path / "packs", progress=False)
        other = open_pack(server.url("uc?id=small"), tmp_path / "packs", progress=False)
        assert read_manifest(course)["patients"] == 5 and read_manifest(other)["patients"] == 2
        text = _error(server.url("late.tar"), tmp_path)
        assert "late.tar: the address gives a web page, not the pack" in text
        assert "the download was removed" in text
        shutil.copy(pack.path, www / "late.tar")  # the server mended
        late = open_pack(server.url("late.tar"), tmp_path / "packs", progress=False)
    assert late == course


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_brats_zip_or_a_web_page_as_pack_url_says_what_to_set_in_the_notebook(
    tmp_path, monkeypatch, lang
):
    """A French tester's PACK_URL: a valid zip of BraTS cases was called "a damaged or truncated
    zip", and a web page's advice ended in ``...notebook)) (the download was removed: ...)``."""
    from unet_tp import notebook

    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(i18n, "_current", lang)
    monkeypatch.delenv("UNET_TP_DATA_SOURCE", raising=False)
    www = tmp_path / "www"
    write_case(tmp_path / "cases", "BraTS19_T_0", index=0)
    shutil.make_archive(str(www / "brats"), "zip", tmp_path / "cases")
    (www / "page.tar").write_text("<!doctype html><html>Google Drive can't scan</html>")
    with LoopbackServer(www) as server:
        with pytest.raises(notebook.NotebookError) as zipped:
            notebook.get_data("pack", url=server.url("brats.zip"))
        with pytest.raises(notebook.NotebookError) as page:
            notebook.get_data("pack", url=server.url("page.tar"))
    zipped, page = str(zipped.value), str(page.value)
    assert "\n" not in zipped + page and "))" not in page
    if lang == "en":
        assert zipped.startswith(f"{server.url('brats.zip')}: an archive of BraTS cases")
        assert "not a course pack: set DATA_SOURCE = 'download'" in zipped, zipped
        assert page.startswith(f"{server.url('page.tar')}: the address gives a web page, not")
        assert "ask your instructor for a direct link to the pack; the download was" in page
    else:
        assert "une archive de cas BraTS (fichiers NIfTI), pas un pack de cours" in zipped
        assert "DATA_SOURCE = 'download'" in zipped
        assert "demandez à votre enseignant un lien direct vers le pack ; le téléch" in page


def test_the_pack_grid_in_the_notebook_shows_no_none(pack, tmp_path, monkeypatch, capsys):
    """A French tester: « (recadrage 192, taille None) » for a pack whose slices are not
    resized."""
    from unet_tp import notebook

    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(i18n, "_current", "fr")
    monkeypatch.delenv("UNET_TP_DATA_SOURCE", raising=False)
    data = notebook.get_data("pack", url=str(pack.path))
    notebook.prepare_slices(data, notebook.preset_config("tiny"))
    out = capsys.readouterr().out
    assert "la grille du pack (recadrage 16, taille 16, sans redimensionnement) remplace" in out
    assert "None" not in out


def test_a_pack_checksum_mismatch_in_the_notebook_names_pack_url_and_pack_sha256(
    pack, tmp_path, monkeypatch
):
    """A French tester: the mismatch said "(deleted; check ... the checksum you were given)":
    deleted what, and which setting is the checksum?"""
    from unet_tp import notebook

    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("UNET_TP_DATA_SOURCE", raising=False)
    with LoopbackServer(pack.path.parent) as server:
        url = server.url(pack.path.name)
        with pytest.raises(notebook.NotebookError) as err:
            notebook.get_data("pack", url=url, pack_sha256="0" * 64)
    assert str(err.value).startswith(f"{url}: its SHA-256 is {pack.sha256}, not PACK_SHA256's ")
    assert "the downloaded file was deleted: check that PACK_URL and PACK_SHA256" in str(err.value)
    assert not list((tmp_path / "home" / "packs" / "downloads").iterdir())
