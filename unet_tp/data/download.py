"""Downloading and unpacking datasets: resumable, checksummed, and never half-done.

Downloads go through pooch (temporary name, checksum, rename; a file already there with the right
checksum is kept). Kept here because pooch lacks them: the **resume** (pooch restarts from zero;
the downloader given to it keeps ``<name>.part`` and asks for the rest with an HTTP Range) and the
**safe, atomic extraction** (pooch's Untar/Unzip accept a member leading outside the target or a
link pointing out): every member checked first, extracted to a temporary folder renamed at the
end. Also: MSD Task01 converted to the BraTS layout and labels; the Kaggle mirror through
``kagglehub`` (linked, not copied); an archive on Drive extracted to the local disk.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import re
import shutil
import tarfile
import threading
import types
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import nibabel as nib
import numpy as np
import pooch

from unet_tp.conventions import BRATS_AFFINE, BRATS_SHAPE, MSD_CHANNELS, MSD_EDITION
from unet_tp.data.cases import (
    ARCHIVE_NAME,
    LABEL_TOLERANCE,
    BadArchive,
    DataError,
    load_nifti,
    scan_cases,
    unreadable,
)
from unet_tp.fileio import (
    archive_problem,
    atomic_dir,
    disk_full,
    free_space,
    is_web_page,
    no_space_message,
    room_for,
    save_json,
    sha256_file,
    size_text,
    tree_size,
)
from unet_tp.i18n import in_notebook, tr
from unet_tp.progress import byte_bar, progress_bar
from unet_tp.sources import KAGGLE_BRATS2019

CHUNK = 1 << 20
MSD_CONVERTED = "MSD_Task01_BraTS_layout"
CONVERTED_MARK = "unet_tp_converted.json"
"""Written in the converted folder once every MSD case is (with the URL they came from): a re-run
of that URL finds it, downloads nothing."""
_DRIVE_PART = re.compile(r"(.+)-(\d{8}T\d{6}Z)-\d{3}")
"""The stem of one part of a Google Drive folder download (``NAME-20241201T101010Z-001.zip``;
Drive splits a large folder into several zips, a case's files possibly in two of them)."""


class DownloadError(RuntimeError):
    """A download that failed; the partial file is kept for resuming unless said otherwise."""


class ChecksumMismatch(DownloadError):
    """A download whose digest is not the one expected (deleted); ``got`` is its digest."""

    def __init__(self, message: str, got: str) -> None:
        super().__init__(message)
        self.got = got


def verify_checksum(path: Path, sha256: str | None = None, md5: str | None = None) -> None:
    """Raise DownloadError if ``path`` does not have the expected digest."""
    for algorithm, expected in (("sha256", sha256), ("md5", md5)):
        if expected and (got := pooch.file_hash(str(path), alg=algorithm)) != expected.lower():
            raise DownloadError(
                tr(
                    "{name}: {algorithm} is {got}, expected {expected}; the file is corrupt or not "
                    "the expected archive",
                    name=path.name,
                    algorithm=algorithm.upper(),
                    got=got,
                    expected=expected,
                )
            )


def _resuming(part: Path, progress: bool, timeout: float):
    """A pooch downloader that appends to ``part`` what is left to fetch, then hands it to pooch."""

    def get(url: str, output_file: str, _pooch: object) -> None:
        have = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"User-Agent": "unet-tp"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            if exc.code != 416 or not have:
                raise DownloadError(_http_error(url, exc.code, exc.reason)) from None
            if _file_size(exc.headers) != have:  # a part longer than the file: not of it
                part.unlink()
                return get(url, output_file, _pooch)  # (no part now: no Range, no 416)
            # 416 with the file's size that of the part: nothing left to fetch, the part is whole
        except (urllib.error.URLError, OSError) as exc:
            raise DownloadError(
                tr("{url}: {error}; check the address and the connection", url=url, error=exc)
            ) from None
        else:
            with response:
                _receive(url, response, part, have if response.status == 206 else 0, progress)
        os.replace(part, output_file)

    return get


def _http_error(url: str, code: int, reason: str) -> str:
    """A server's refusal of ``url``, with what to check."""
    if code in (404, 410):
        return tr(
            "{url}: not found (HTTP {code}): check the address (a typo, or a file moved or "
            "removed since); ask whoever gave it for the current one",
            url=url,
            code=code,
        )
    if code in (401, 403):
        return tr(
            "{url}: access refused (HTTP {code} {reason}): the file is not shared publicly; ask "
            "whoever gave the address for a public direct link",
            url=url,
            code=code,
            reason=reason,
        )
    return tr(
        "{url}: the server answered HTTP {code} {reason}: check the address, or try again later",
        url=url,
        code=code,
        reason=reason,
    )


def _again() -> str:
    """The step that runs a download again: the cell in the notebook, the command elsewhere."""
    return tr("re-run the cell") if in_notebook() else tr("run the same command again")


def _file_size(headers) -> int | None:
    """The whole file's size a 416 answer gives (``Content-Range: bytes */SIZE``), or None."""
    m = re.fullmatch(r"bytes \*/(\d+)", (headers or {}).get("Content-Range", "").strip())
    return int(m[1]) if m else None


def _receive(url: str, response, part: Path, have: int, progress: bool) -> None:
    """Append the body of ``response`` to ``part`` (rewrite it when ``have`` is 0), with a bar."""
    length = response.headers.get("Content-Length")
    total = have + int(length) if length is not None else None
    if length is not None and (message := no_space_message(part.parent, int(length), url)):
        raise DownloadError(message)
    got = have
    try:
        with (
            open(part, "ab" if have else "wb") as f,
            byte_bar(total, part.stem, progress, initial=have) as bar,
        ):
            while block := response.read(CHUNK):
                f.write(block)
                got += len(block)
                bar.update(len(block))
    except (OSError, urllib.error.URLError) as exc:
        if disk_full(exc):
            raise DownloadError(_disk_full(url, part.parent, got, total)) from None
        raise DownloadError(
            tr(
                "{url}: interrupted after {got} bytes ({error}); {again} to resume",
                again=_again(),
                url=url,
                got=got,
                error=exc,
            )
        ) from None
    if total is not None and got != total:
        raise DownloadError(
            tr(
                "{url}: got {got} of {total} bytes; {again} to resume",
                again=_again(),
                url=url,
                got=got,
                total=total,
            )
        )


def _disk_full(url: str, folder: Path, got: int, total: int | None) -> str:
    """A download stopped by a full disk: how much came, how much is free, how to resume."""
    sizes = {"got": size_text(got), "free": size_text(free_space(folder) or 0)}
    if total is None:
        return tr(
            "{url}: the disk of {folder} is full after {got} ({free} free): free some space "
            "(delete downloads, old runs or caches you no longer use), then {again} to resume",
            again=_again(),
            url=url,
            folder=folder,
            **sizes,
        )
    return tr(
        "{url}: the disk of {folder} is full after {got} of {total} ({free} free): free some "
        "space (delete downloads, old runs or caches you no longer use), then {again} to resume",
        again=_again(),
        url=url,
        folder=folder,
        total=size_text(total),
        **sizes,
    )


def download(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str | None = None,
    md5: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` with pooch, resuming a partial download, checked against
    ``sha256``/``md5`` before it takes its name; a DownloadError on failure (re-run to resume)."""
    dest = Path(dest).expanduser()
    known = f"sha256:{sha256}" if sha256 else f"md5:{md5}" if md5 else None
    get = _resuming(dest.with_name(dest.name + ".part"), progress, timeout)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # no log of the address, nor advice on pooch's known_hash
    try:
        pooch.retrieve(url, known, fname=dest.name, path=dest.parent, downloader=get)
    except ValueError as exc:  # pooch: the checksum does not match (the download is deleted)
        found = re.search(r"got (?:\w+:)?([0-9a-f]{32,64})", str(exc))
        got = found[1] if found else "?"
        raise ChecksumMismatch(
            tr(
                "{url}: {algorithm} {got} does not match the expected {expected}: a damaged "
                "download, or the address serves another file; the downloaded file was deleted: "
                "check the address and the checksum you were given",
                url=url,
                algorithm="SHA-256" if sha256 else "MD5",
                got=got,
                expected=sha256 or md5,
            ),
            got,
        ) from None
    finally:
        logger.setLevel(level)
    if sha256 and md5:  # pooch checks one digest
        verify_checksum(dest, md5=md5)
    return dest


def _check_member(name: str, target: Path) -> None:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise DataError(
            tr(
                "refusing to extract {name}: its path leads outside {target}",
                name=repr(name),
                target=target,
            )
        )


def extract(
    archive: str | os.PathLike[str] | list[str | os.PathLike[str]],
    target: str | os.PathLike[str],
    progress: bool = False,
) -> Path:
    """Extract a zip or tar archive (or several into one folder: the parts of a Google Drive
    download) to a new ``target``, atomically; a DataError for a member that would land outside
    it (or a link pointing out)."""
    archives = [Path(a) for a in (archive if isinstance(archive, list) else [archive])]
    target = Path(target)
    if target.exists():
        raise DataError(
            tr("{target} already exists; remove it or choose another folder", target=target)
        )
    with atomic_dir(target) as tmp:
        for one in archives:
            try:
                _extract_into(one, target, tmp, progress)
            except (EOFError, tarfile.TarError, zipfile.BadZipFile, zlib.error) as exc:
                # a download cut short past its first members: nothing is left of the extraction
                raise BadArchive(
                    tr(
                        "{archive}: a damaged or truncated archive ({error}): get it again",
                        archive=one,
                        error=exc,
                    )
                ) from None
            except (NotImplementedError, RuntimeError) as exc:  # zipfile's: method, password
                raise DataError(_unreadable_zip(one, exc)) from None
        with contextlib.suppress(OSError):  # what a re-run compares the archives with
            (tmp / UNPACKED_FROM).write_text(json.dumps(_stamps(archives)))
    return target


UNPACKED_FROM = ".unet-tp-unpacked-from.json"  # (a hidden file: no case reads it)


def _stamps(archives: list[Path]) -> dict[str, list[int]]:
    """Each archive's size and modification time, by name."""
    return {a.name: [(st := a.stat()).st_size, st.st_mtime_ns] for a in archives}


def _unreadable_zip(archive: Path, exc: Exception) -> str:
    """A zip Python cannot read (encrypted, or another compression method): how to unpack it."""
    if "encrypted" in str(exc):
        return tr(
            "{archive}: a zip password-protected Python's zipfile cannot read ({error}): unpack "
            "it with another tool (7-Zip: `7z x ARCHIVE`) and give the folder",
            archive=archive,
            error=_short(exc),
        )
    return tr(
        "{archive}: a zip compressed in a way Python's zipfile cannot read ({error}): unpack it "
        "with another tool (7-Zip: `7z x ARCHIVE`) and give the folder",
        archive=archive,
        error=_short(exc),
    )


def _short(exc: Exception) -> str:
    """An exception's text without the ``<ZipInfo ...>`` dump zipfile puts in it."""
    return re.sub(r"<ZipInfo filename='([^']*)'[^>]*>", r"\1", str(exc))


def _extract_into(archive: Path, target: Path, tmp: Path, progress: bool) -> None:
    """Extract one archive into ``tmp`` (what becomes ``target``), every member checked first."""
    label = tr("extracting {name}", name=archive.name)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                # a zip written on Windows by some tools separates folders with "\\": on
                # Linux they would be one file name each, the cases' folders lost
                info.filename = info.filename.replace("\\", "/")
                _check_member(info.filename, target)
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise DataError(
                        tr(
                            "refusing to extract {name}: a symbolic link",
                            name=repr(info.filename),
                        )
                    )
            total = sum(i.file_size for i in zf.infolist())
            with room_for(tmp, total, label, DataError), byte_bar(total, label, progress) as bar:
                for info in zf.infolist():
                    zf.extract(info, tmp)
                    bar.update(info.file_size)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for m in members:
                _check_member(m.name, target)
                if m.issym() or m.islnk():
                    _check_member(str(PurePosixPath(m.name).parent / m.linkname), target)
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            total = sum(m.size for m in members)
            with room_for(tmp, total, label, DataError), byte_bar(total, label, progress) as bar:
                for m in members:
                    try:  # the data filter: Python >= 3.11.4, 3.10.12
                        tf.extract(m, tmp, **kwargs)
                    except tarfile.FilterError as exc:
                        raise DataError(
                            tr("refusing to extract {name}: {error}", name=archive.name, error=exc)
                        ) from None
                    bar.update(m.size)
    else:
        raise BadArchive(_not_an_archive(archive))


def _not_an_archive(archive: Path) -> str:
    """Why ``archive`` does not unpack: a web page saved in its place (Drive's), a damaged one..."""
    if in_notebook() and is_web_page(archive):  # on Drive: a download from Drive went wrong
        return tr(
            "{archive}: a web page saved in place of the zip (Google Drive's 'cannot scan for "
            "viruses' page, a login or an error page): delete it, download the real zip to your "
            "computer and put it in the Drive folder",
            archive=archive,
        )
    problem = archive_problem(archive) or tr("not a zip or tar archive")
    return tr("{archive}: {problem}", archive=archive, problem=problem)


def _read_msd(case_id: str, path: Path) -> tuple[nib.Nifti1Image, np.ndarray]:
    """One MSD file read fully; a DataError naming it (the image or the label) if it cannot be."""
    try:
        img = load_nifti(path)
        return img, np.asanyarray(img.dataobj)
    except Exception as exc:  # noqa: BLE001 - any read failure names the file
        raise DataError(unreadable(case_id, path, exc)) from None


def _write_msd_case(image_path: Path, label_path: Path, final: Path) -> None:
    """One MSD case as ``final/<case>_{flair,t1,t1ce,t2,seg}.nii.gz``, written atomically."""
    case_id = final.name
    img, data = _read_msd(case_id, image_path)
    label = _read_msd(case_id, label_path)[1] if label_path.exists() else None
    if data.ndim != 4 or data.shape[3] != len(MSD_CHANNELS):
        raise DataError(
            tr(
                "case {case_id}: {path} has shape {shape}, expected (X, Y, Z, 4)",
                case_id=case_id,
                path=image_path,
                shape=data.shape,
            )
        )
    affine = img.affine
    if np.allclose(affine, np.eye(4)) and data.shape[:3] == BRATS_SHAPE:
        affine = BRATS_AFFINE
    with atomic_dir(final) as tmp:
        for c, modality in enumerate(MSD_CHANNELS):
            vol = data[..., c]
            if (
                np.issubdtype(vol.dtype, np.floating)
                and np.array_equal(vol, np.round(vol))
                and np.abs(vol).max() < 32767
            ):
                vol = vol.astype(np.int16)
            nib.Nifti1Image(vol, affine).to_filename(str(tmp / f"{case_id}_{modality}.nii.gz"))
        if label is not None:
            if np.issubdtype(label.dtype, np.floating):  # rounding error of a float export
                rounded = np.round(label)
                if np.all(np.abs(label - rounded) <= LABEL_TOLERANCE):
                    label = rounded
            bad = np.setdiff1d(np.unique(label), list(MSD_EDITION.labels))
            if bad.size:  # a few of them: an interpolated label holds millions
                shown = ", ".join(f"{v:g}" for v in bad[:5].tolist())
                shown += tr(", … ({count} values)", count=bad.size) if bad.size > 5 else ""
                raise DataError(
                    tr(
                        "case {case_id}: {path} holds labels [{labels}], expected MSD 0..3",
                        case_id=case_id,
                        path=label_path,
                        labels=shown,
                    )
                )
            seg = MSD_EDITION.to_brats(label)
            nib.Nifti1Image(seg, affine).to_filename(str(tmp / f"{case_id}_seg.nii.gz"))


def convert_msd(
    task_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    progress: bool = True,
    url: str | None = None,
) -> Path:
    """MSD ``Task01_BrainTumour`` in BraTS 2019 layout and labels under ``out`` (returned): each
    4D ``imagesTr/BRATS_xxx.nii.gz`` becomes ``out/BRATS_xxx/BRATS_xxx_<mod>.nii.gz``, the BraTS
    affine replacing MSD's identity one; cases already converted are kept. ``url``: where the
    task was downloaded from, in the mark of a complete conversion."""
    task_dir, out = Path(task_dir), Path(out)
    images = _nifti_files(task_dir / "imagesTr")
    if not images:
        raise DataError(
            tr("{folder}: no imagesTr/*.nii.gz; is this MSD Task01_BrainTumour?", folder=task_dir)
        )
    out.mkdir(parents=True, exist_ok=True)
    converted = False
    for image_path in progress_bar(images, tr("converting MSD to BraTS layout"), progress):
        final = out / image_path.name.split(".nii")[0]
        if not final.exists():
            _write_msd_case(image_path, task_dir / "labelsTr" / image_path.name, final)
            converted = True
    save_json(out / CONVERTED_MARK, {"from": str(task_dir), "cases": len(images), "url": url})
    unlabelled = _nifti_files(task_dir / "imagesTs")
    fields = {"folder": task_dir / "imagesTs", "count": len(unlabelled), "cases": len(images)}
    if converted and len(unlabelled) == 1:  # (said when converting only, not on each re-run)
        print(
            tr(
                "{folder}: 1 test image without labels, left out (the {cases} cases of imagesTr/ "
                "converted)",
                **fields,
            )
        )
    elif converted and unlabelled:
        print(
            tr(
                "{folder}: {count} test images without labels, left out (the {cases} cases of "
                "imagesTr/ converted)",
                **fields,
            )
        )
    return out


def _nifti_files(folder: Path) -> list[Path]:
    """The NIfTI files of an MSD folder, sorted, not macOS's ``._`` resource forks."""
    return sorted(p for p in folder.glob("*.nii*") if not p.name.startswith("."))


def _converted_from(folder: Path) -> str | None:
    """The URL whose MSD cases ``folder`` holds, every one converted (None: not marked so)."""
    try:
        mark = json.loads((folder / CONVERTED_MARK).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return mark.get("url") if isinstance(mark, dict) else None


def msd_task(folder: Path) -> Path | None:
    """The MSD Task01 folder (holding imagesTr) at or below ``folder``, or None."""
    if (folder / "imagesTr").is_dir():
        return folder
    return next((p.parent for p in sorted(folder.rglob("imagesTr")) if p.is_dir()), None)


def archive_stem(name: str) -> str | None:
    """``name`` without its archive suffix, or None if it is not an archive name."""
    return m[1] if (m := ARCHIVE_NAME.fullmatch(name)) else None


def fetch_dataset(
    url: str,
    out: str | os.PathLike[str],
    layout: str = "brats",
    sha256: str | None = None,
    md5: str | None = None,
    keep_archive: bool = False,
    progress: bool = True,
) -> Path:
    """The folder of BraTS cases of ``url`` (http(s), file:// or a path: an archive, a folder of
    cases, or of one archive), downloaded to ``out/downloads``, extracted below ``out`` and for
    ``layout="msd"`` converted; ``keep_archive`` keeps the archive and MSD's 4D originals."""
    out = Path(out).expanduser()
    if url.startswith("file://"):
        url = urllib.request.url2pathname(url[len("file://") :])
    remote = downloaded = "://" in url
    if remote:
        name = _download_name(url)
        unpacked = out / (archive_stem(name) or name)
        if _converted_from(out / MSD_CONVERTED) == _source_key(url):  # not another URL's
            return _fetched_before(url, out / MSD_CONVERTED)
        if downloaded := not _unpacked_before(unpacked, url, sha256):
            archive = _download_anew(url, out / "downloads" / name, sha256, md5, progress)
        else:  # an earlier run unpacked it (and removed it)
            archive = _fetched_before(url, unpacked)
    elif (archive := Path(url).expanduser()).is_file():
        if _converted_from(out / MSD_CONVERTED) == str(archive.resolve()):
            return _fetched_before(url, out / MSD_CONVERTED)  # (7 GB not unpacked again)
        verify_checksum(archive, sha256, md5)
    cases = (
        _unpack_download(url, archive, out, sha256, progress)
        if downloaded
        else use_archive_or_folder(archive, out, progress=progress)
    )
    if downloaded and not keep_archive:
        archive.unlink()
    task = msd_task(cases)
    if layout != "msd" and (task is None or scan_cases(cases).cases):
        return cases
    if task is None:
        raise DataError(
            tr(
                "{folder}: not an MSD Task01_BrainTumour folder (no imagesTr/ inside); a folder "
                "of BraTS cases needs no conversion: use it as it is",
                folder=cases,
            )
        )
    origin = _source_key(url) if remote else None  # a signed URL's query changes
    origin = str(archive.resolve()) if not remote and archive.is_file() else origin
    converted = convert_msd(task, out / MSD_CONVERTED, progress, origin)
    if _unpacked_from(cases) is not None and not keep_archive:  # (the kit's own unpacking only:
        shutil.rmtree(cases)  # a folder the user unpacked is theirs, data round 21)
        print(
            tr(
                "removed {folder} (unpacked here; the converted cases replace its 4D originals)",
                folder=cases,
            )
        )
    return converted


SOURCE = ".unet-tp-source.json"
"""Written in the folder a download was unpacked to: its URL and the archive's SHA-256, which a
re-run compares (another source of the same file name is downloaded, not the old cases given)."""


def _source_key(url: str) -> str:
    """What tells a download's source: ``url`` less its query where its path names the archive (a
    signed URL's query changes), whole where the query names it (Drive's ``uc?id=...``)."""
    base = url.split("?")[0]
    return base if archive_stem(PurePosixPath(base).name) else url


def _download_name(url: str) -> str:
    """The file name of ``url``'s download: its path's last part, with a digest of the URL where
    the query names the file (every Drive link ends in ``uc``: they must not share a folder)."""
    name = PurePosixPath(urllib.request.url2pathname(url.split("?")[0])).name or "download"
    if archive_stem(name) or _source_key(url) == url.split("?")[0]:
        return name
    return f"{name}-{hashlib.sha256(url.encode()).hexdigest()[:10]}"


def _unpacked_before(folder: Path, url: str, sha256: str | None) -> bool:
    """Whether ``folder`` holds what an earlier run unpacked from ``url`` (with ``sha256``, when
    given): False if it is not there or holds another source's (said: it is unpacked again)."""
    if not folder.is_dir():
        return False
    try:
        source = json.loads((folder / SOURCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        source = None
    if not isinstance(source, dict):  # unpacked by an older kit, or by hand: source not known
        if sha256 and _unpacked_from(folder) is None:
            raise DataError(
                tr(
                    "{folder} exists and was not unpacked by unet-tp, so whether it holds {url} "
                    "(SHA-256 {sha256}) is not known; remove it or choose another --out",
                    folder=folder,
                    url=url,
                    sha256=sha256,
                )
            )
        return not sha256  # (the kit's own: unpacked again from the download, checked)
    if source.get("url") == _source_key(url) and (
        not sha256 or source.get("sha256") == sha256.lower()
    ):
        return True
    print(
        tr(
            "{folder} was unpacked from another source ({source}, SHA-256 {sha256}): downloading "
            "{url} to unpack it again",
            folder=folder,
            source=source.get("url"),
            sha256=source.get("sha256"),
            url=url,
        )
    )
    return False


def _download_anew(url: str, dest: Path, sha256: str | None, md5: str | None, progress) -> Path:
    """:func:`download`, a file already at ``dest`` downloaded again when no checksum tells it is
    this URL's (pooch keeps a file of that name: another source's, or a download kept)."""
    if not (sha256 or md5):
        dest.unlink(missing_ok=True)
    return download(url, dest, sha256, md5, progress=progress)


def _unpack_download(url: str, archive: Path, out: Path, sha256: str | None, progress) -> Path:
    """The cases folder ``archive`` (downloaded from ``url``) unpacks to, marked with its source;
    a download that does not unpack is removed (said), so that the next run downloads it again."""
    try:
        cases = use_archive_or_folder(archive, out, progress=progress)
    except BadArchive as exc:
        page = is_web_page(archive)
        archive.unlink(missing_ok=True)
        if page and in_notebook():
            raise BadArchive(
                tr(
                    "{url}: the address gives a web page, not the archive (Google Drive's "
                    "'cannot scan for viruses' page, a login or an error page; the download was "
                    "removed): check the address, or ask your instructor for a direct link",
                    url=url,
                )
            ) from None
        raise BadArchive(
            tr(
                "{error}; the download was removed: {again} to download it again",
                error=exc,
                again=_again(),
            )
        ) from None
    with contextlib.suppress(OSError):
        digest = sha256.lower() if sha256 else sha256_file(archive)
        save_json(cases / SOURCE, {"url": _source_key(url), "sha256": digest})
    return cases


def _fetched_before(url: str, folder: Path) -> Path:
    """``folder``, where an earlier run unpacked (and converted) ``url``: said, not downloaded
    again (its archive was removed once unpacked)."""
    print(
        tr(
            "{url}: already downloaded and unpacked in {folder}, not downloaded again (delete "
            "that folder to download it again)",
            url=url,
            folder=folder,
        )
    )
    return folder


def _release_folder(root: Path) -> Path:
    """The folder holding HGG/ and LGG/ below ``root`` (or ``root`` itself)."""
    for candidate in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        if (candidate / "HGG").is_dir() or (candidate / "LGG").is_dir():
            return candidate
    return root


@contextlib.contextmanager
def watch_growth(folder: Path, label: str, every: float = 1.0):
    """A bar of the bytes ``folder`` gains while the block runs (kagglehub shows none while it
    unpacks 30 GB); what it yields holds ``seen``, the bytes gained."""
    watch, stop, start = types.SimpleNamespace(seen=0), threading.Event(), tree_size(folder)

    def run() -> None:
        with byte_bar(None, label, leave=False) as bar:
            while not stop.wait(every):
                watch.seen = tree_size(folder) - start
                bar.update(watch.seen - bar.n)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield watch
    finally:
        stop.set()
        thread.join()
        watch.seen = tree_size(folder) - start


def fetch_kaggle(out: str | os.PathLike[str], handle: str = KAGGLE_BRATS2019) -> Path:
    """The Kaggle mirror of BraTS 2019 through ``kagglehub`` (no credentials), its release folder
    linked as ``out/<its name>`` (or used where kagglehub put it when no link can be made)."""
    try:
        import kagglehub  # type: ignore[import-not-found]  # ships in Colab and on Kaggle
    except ModuleNotFoundError:
        if in_notebook():
            raise DataError(
                tr(
                    "DATA_SOURCE = 'kaggle' needs kagglehub (it ships in Colab): run "
                    "`!pip install kagglehub` in a cell, then re-run the data cell"
                )
            ) from None
        raise DataError(
            tr("the kaggle source needs kagglehub: pip install kagglehub (it ships in Colab)")
        ) from None
    cache = Path(os.environ.get("KAGGLEHUB_CACHE") or Path.home() / ".cache" / "kagglehub")
    try:
        with watch_growth(cache / "datasets" / handle, f"kagglehub: {handle}"):
            path = Path(kagglehub.dataset_download(handle))
    except Exception as exc:  # noqa: BLE001 - network or Kaggle errors of any type, in one line
        raise DataError(_kaggle_failed(exc, cache, handle)) from None
    release = _release_folder(path)
    if not scan_cases(release).cases:
        raise DataError(
            tr(
                "{folder}: kagglehub returned no BraTS case for {handle}",
                folder=release,
                handle=handle,
            )
        )
    # HGG/LGG right in kagglehub's folder: named after the dataset, not its version number
    name = release.name if release != path else handle.rsplit("/", 1)[-1]
    link = Path(out).expanduser() / name
    if link.exists() or link.is_symlink():
        if link.resolve() == release.resolve():
            return link if link.is_symlink() else release
        raise DataError(
            tr(
                "{link} exists and is not the kagglehub download ({release}); remove it or "
                "choose another --out",
                link=link,
                release=release,
            )
        )
    link.parent.mkdir(parents=True, exist_ok=True)
    try:
        link.symlink_to(release.resolve(), target_is_directory=True)
    except OSError:
        return release  # no links on this file system: the cases stay where kagglehub put them
    return link


def _kaggle_failed(exc: Exception, cache: Path, handle: str) -> str:
    """Why kagglehub could not fetch ``handle``: a full disk (sizes, what to do), or its error."""
    if disk_full(exc) or disk_full(exc.__cause__) or disk_full(exc.__context__):
        return tr(
            "kagglehub could not fetch {handle}: the disk of {cache} is full after {got} ({free} "
            "free; the mirror needs about 30 GB once unpacked). Free some space (delete "
            "downloads, old runs or caches you no longer use), use a course pack (DATA_SOURCE = "
            "'pack') or the sample cases, or set KAGGLEHUB_CACHE to a folder on a larger disk",
            handle=handle,
            cache=cache,
            got=size_text(tree_size(cache / "datasets" / handle)),
            free=size_text(free_space(cache) or 0),
        )
    if in_notebook():
        return tr(
            "kagglehub could not fetch {handle} ({error}); check the connection and re-run the "
            "cell, or download the dataset from kaggle.com, put it on your Drive and set "
            "DATA_SOURCE = 'drive' and DRIVE_FOLDER",
            handle=handle,
            error=f"{type(exc).__name__}: {exc}",
        )
    return tr(
        "kagglehub could not fetch {handle} ({error}); check the connection, or download the "
        "dataset from kaggle.com and use --url FOLDER",
        handle=handle,
        error=f"{type(exc).__name__}: {exc}",
    )


def _no_such_folder(folder: Path) -> DataError:
    """A missing folder, naming what its parent holds and the closest name."""
    parent = folder.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    try:
        names = sorted(p.name for p in parent.iterdir() if not p.name.startswith("."))
    except OSError:
        names = []
    close = difflib.get_close_matches(folder.name, names, n=1, cutoff=0.75)  # near misses only
    shown = ", ".join(names[:12]) or tr("nothing")
    if len(names) > 12:
        shown = tr("{names} and {more} more", names=shown, more=len(names) - 12)
    if close:
        return DataError(
            tr(
                "{folder}: no such folder; {parent} holds: {names}; did you mean {close}?",
                folder=folder,
                parent=parent,
                names=shown,
                close=parent / close[0],
            )
        )
    return DataError(
        tr(
            "{folder}: no such folder; {parent} holds: {names}",
            folder=folder,
            parent=parent,
            names=shown,
        )
    )


def use_archive_or_folder(
    folder: str | os.PathLike[str], local_root: str | os.PathLike[str], progress: bool = True
) -> Path:
    """The BraTS cases of a folder (e.g. on Drive) used as it is, or of its one archive (or of
    an archive given itself, or of the parts of one Drive download) extracted once to
    ``local_root/<archive stem>`` on the local disk."""
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise _no_such_folder(folder)
    if folder.is_file() and folder.name.endswith((".nii", ".nii.gz")):
        raise DataError(_a_nifti_file(folder))
    archives = (
        [folder]
        if folder.is_file()
        else sorted(p for p in folder.iterdir() if p.is_file() and archive_stem(p.name))
    )
    if folder.is_dir() and (scan_cases(folder).cases or not archives):
        return folder  # find_cases names what is missing when there is no case either
    stem = archive_stem(archives[0].name) or archives[0].name
    if len(archives) > 1:
        parts = {
            (m[1], m[2]) if (m := _DRIVE_PART.fullmatch(archive_stem(a.name))) else a
            for a in archives
        }
        if len(parts) > 1:
            raise DataError(
                tr(
                    "{folder}: no BraTS case, and several archives ({names}); point to one of them",
                    folder=folder,
                    names=", ".join(a.name for a in archives),
                )
            )
        stem = parts.pop()[0]  # the parts of one Google Drive download: one folder of cases
    target = Path(local_root).expanduser() / stem
    shown = ", ".join(str(a) for a in archives)
    if target.exists() and _unpacked_from(target) not in (None, _stamps(archives)):
        # the kit's own unpacking of another archive of that name (Kaggle names every download
        # archive.zip; a Drive folder's archive replaced): unpacked again, not the old cases
        print(
            tr(
                "{target} was unpacked from another archive than {archives}: unpacking it again",
                target=target,
                archives=shown,
            )
        )
        shutil.rmtree(target)
    if not target.exists():  # extract() says if it is no archive
        print(tr("extracting {archives} to {target}", archives=shown, target=target))
        extract(archives, target, progress=progress)
    return target


def _a_nifti_file(path: Path) -> str:
    """A NIfTI image given where the folder of cases (or their archive) was expected."""
    if in_notebook():
        return tr(
            "{path}: a NIfTI image, not a folder: set DRIVE_FOLDER to the folder that holds the "
            "cases' folders (perhaps {example})",
            path=path,
            example=path.parent.parent,
        )
    return tr(
        "{path}: a NIfTI image, not a folder of cases or an archive: give the folder that holds "
        "the cases' folders (perhaps {example})",
        path=path,
        example=path.parent.parent,
    )


def _unpacked_from(target: Path) -> dict | None:
    """The archives' stamps recorded when ``target`` was unpacked (None: not known)."""
    try:
        return json.loads((target / UNPACKED_FROM).read_text())
    except (OSError, ValueError):
        return None
