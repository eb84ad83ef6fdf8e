"""Downloading and unpacking datasets: resumable, checksummed, and never half-done.

* A download goes to ``<name>.part``; an interrupted one is resumed with an HTTP Range request;
  the file takes its final name only once complete and its checksum verified.
* Extraction goes to a temporary folder next to the target and is renamed into place at the end;
  an archive member that would land outside the target (absolute path, ``..``, a link pointing
  out) stops the extraction.
* The Decathlon's Task01_BrainTumour (one 4D NIfTI per case, MSD labels) is converted to the
  BraTS 2019 layout and label convention, from its archive or an unpacked folder.
* The Kaggle mirror of BraTS 2019 comes through ``kagglehub`` (public, no credentials); its
  folder is linked under the data folder, not copied.
* A BraTS archive uploaded to Google Drive is extracted to the local disk (reading thousands of
  cases through the Drive mount is slow), with a progress bar.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

import nibabel as nib
import numpy as np

from unet_tp.conventions import BRATS_AFFINE, BRATS_SHAPE, MSD_CHANNELS, MSD_EDITION
from unet_tp.data.cases import DataError, scan_cases
from unet_tp.fileio import atomic_dir
from unet_tp.progress import byte_bar, progress_bar
from unet_tp.sources import KAGGLE_BRATS2019

CHUNK = 1 << 20
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")


class DownloadError(RuntimeError):
    """A download that failed; the partial file is kept for resuming unless said otherwise."""


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify_checksum(path: Path, sha256: str | None = None, md5: str | None = None) -> None:
    """Raise DownloadError if ``path`` does not have the expected digest."""
    for algorithm, expected in (("sha256", sha256), ("md5", md5)):
        if expected:
            got = _digest(path, algorithm)
            if got.lower() != expected.lower():
                raise DownloadError(
                    f"{path.name}: {algorithm.upper()} is {got}, expected {expected}; "
                    "the file is corrupt or not the expected archive"
                )


def download(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str | None = None,
    md5: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest``, resuming a previous partial download.

    It reads better whole (about 60 lines): one HTTP exchange, from the resume request to the
    checksum and the rename, whose steps share the partial file, the response and the bar.

    Args:
        url: http(s) or file URL.
        dest: final file path. If it exists (and matches the checksum) nothing is downloaded.
        sha256: expected SHA-256, checked before the file takes its final name.
        md5: expected MD5 (for sources that publish only that).
        progress: show a tqdm progress bar.
        timeout: seconds without data before giving up (the partial file is kept).

    Returns:
        ``dest``.

    Raises:
        DownloadError: network failure (re-run to resume) or checksum mismatch (file removed).
    """
    dest = Path(dest).expanduser()
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        verify_checksum(dest, sha256, md5)
        return dest
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "unet-tp"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to fetch: the part file is whole
            response = None
        else:
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"{url}: {exc}; check the address and the connection") from None
    if response is not None:
        with response:
            status = getattr(response, "status", 200)
            if have and status != 206:
                have = 0  # the server ignored the Range request: start again
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else None
            mode = "ab" if have else "wb"
            bar = byte_bar(total, dest.name, progress, initial=have)
            got = have
            try:
                with open(part, mode) as f, bar:
                    while True:
                        block = response.read(CHUNK)
                        if not block:
                            break
                        f.write(block)
                        got += len(block)
                        bar.update(len(block))
            except (OSError, urllib.error.URLError) as exc:
                raise DownloadError(
                    f"{url}: interrupted after {got} bytes ({exc}); run the same command again "
                    "to resume"
                ) from None
            if total is not None and got != total:
                raise DownloadError(
                    f"{url}: got {got} of {total} bytes; run the same command again to resume"
                )
    try:
        verify_checksum(part, sha256, md5)
    except DownloadError:
        part.unlink()
        raise
    os.replace(part, dest)
    return dest


def _check_member(name: str, target: Path) -> None:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise DataError(f"refusing to extract {name!r}: its path leads outside {target}")


def extract(
    archive: str | os.PathLike[str], target: str | os.PathLike[str], progress: bool = False
) -> Path:
    """Extract a zip or tar archive (any compression) to ``target``, atomically and safely.

    Args:
        archive: the archive.
        target: the folder to create (must not exist).
        progress: a progress bar over the bytes extracted.

    Returns:
        ``target``.

    Raises:
        DataError: not an archive, a member that would land outside ``target``, or ``target``
            already exists.
    """
    archive, target = Path(archive), Path(target)
    if target.exists():
        raise DataError(f"{target} already exists; remove it or choose another folder")
    with atomic_dir(target) as tmp:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    _check_member(info.filename, target)
                    if (info.external_attr >> 16) & 0o170000 == 0o120000:
                        raise DataError(f"refusing to extract {info.filename!r}: a symbolic link")
                with _bar(sum(i.file_size for i in zf.infolist()), archive, progress) as bar:
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
                with _bar(sum(m.size for m in members), archive, progress) as bar:
                    for m in members:
                        try:  # the data filter: Python >= 3.11.4, 3.10.12
                            tf.extract(m, tmp, **kwargs)
                        except tarfile.FilterError as exc:
                            raise DataError(f"refusing to extract {archive.name}: {exc}") from None
                        bar.update(m.size)
        else:
            raise DataError(f"{archive}: not a zip or tar archive")
    return target


def _bar(total: int, archive: Path, progress: bool):
    return byte_bar(total, f"extracting {archive.name}", progress)


def convert_msd(
    task_dir: str | os.PathLike[str], out: str | os.PathLike[str], progress: bool = True
) -> Path:
    """Convert MSD ``Task01_BrainTumour`` to the BraTS 2019 layout and labels.

    Each ``imagesTr/BRATS_xxx.nii.gz`` (4D: FLAIR, T1w, T1gd, T2w) becomes
    ``out/BRATS_xxx/BRATS_xxx_{flair,t1,t1ce,t2,seg}.nii.gz``; labels are mapped
    1 -> 2 (edema), 2 -> 1 (non-enhancing), 3 -> 4 (enhancing). MSD stores these volumes with an
    identity affine although their voxels are on the BraTS grid; such files get the BraTS affine
    so that they are shown the right way up, like the BraTS release.

    Returns:
        ``out``. Cases already converted are kept (each case is written atomically).
    """
    task_dir, out = Path(task_dir), Path(out)
    images = sorted(p for p in (task_dir / "imagesTr").glob("*.nii*") if not p.name.startswith("."))
    if not images:
        raise DataError(f"{task_dir}: no imagesTr/*.nii.gz; is this MSD Task01_BrainTumour?")
    out.mkdir(parents=True, exist_ok=True)
    for image_path in progress_bar(images, "converting MSD to BraTS layout", progress):
        case_id = image_path.name.split(".nii")[0]
        final = out / case_id
        if final.exists():
            continue
        label_path = task_dir / "labelsTr" / image_path.name
        try:
            img = nib.load(str(image_path))
            data = np.asanyarray(img.dataobj)
            label = (
                np.asanyarray(nib.load(str(label_path)).dataobj) if label_path.exists() else None
            )
        except Exception as exc:  # noqa: BLE001 - any read failure names the file
            raise DataError(f"case {case_id}: cannot read {image_path} ({exc})") from None
        if data.ndim != 4 or data.shape[3] != len(MSD_CHANNELS):
            raise DataError(
                f"case {case_id}: {image_path} has shape {data.shape}, expected (X, Y, Z, 4)"
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
                bad = np.setdiff1d(np.unique(label), list(MSD_EDITION.labels))
                if bad.size:
                    raise DataError(
                        f"case {case_id}: {label_path} holds labels {bad.tolist()}, expected MSD 0..3"
                    )
                seg = MSD_EDITION.to_brats(label)
                nib.Nifti1Image(seg, affine).to_filename(str(tmp / f"{case_id}_seg.nii.gz"))
    return out


def archive_name(url: str) -> str:
    name = PurePosixPath(urllib.request.url2pathname(url.split("?")[0])).name
    return name or "download.archive"


def _msd_task(folder: Path) -> Path | None:
    """The MSD Task01 folder (holding imagesTr) at or below ``folder``, or None."""
    if (folder / "imagesTr").is_dir():
        return folder
    return next((p.parent for p in sorted(folder.rglob("imagesTr")) if p.is_dir()), None)


def archive_stem(name: str) -> str | None:
    """``name`` without its archive suffix, or None if it is not an archive name."""
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return None


def fetch_dataset(
    url: str,
    out: str | os.PathLike[str],
    layout: str = "brats",
    sha256: str | None = None,
    md5: str | None = None,
    keep_archive: bool = False,
    progress: bool = True,
) -> Path:
    """Download (or take a local) archive, extract it, and convert it to BraTS layout if needed.

    Args:
        url: http(s)/file URL, or the path of a local archive or folder (a mounted Drive). A
            folder of BraTS cases is used in place; an unpacked MSD Task01 folder is converted.
        out: data folder; the archive goes to ``out/downloads``, the cases below ``out``.
        layout: ``"brats"`` or ``"msd"``.
        sha256: expected SHA-256 of the archive.
        md5: expected MD5 of the archive.
        keep_archive: keep the downloaded archive after a successful extraction.
        progress: progress bars.

    Returns:
        The folder holding the cases, ready for ``unet-tp data prepare``.

    Raises:
        DataError: a folder that is not what ``layout`` says (e.g. BraTS cases given as MSD).
    """
    out = Path(out).expanduser()
    local = Path(url).expanduser() if "://" not in url else None
    if local is not None and not local.exists():
        use_archive_or_folder(local, out)  # raises, naming what the parent folder holds
    if local is not None and local.is_dir():
        task = _msd_task(local)
        if layout == "msd" or (task is not None and not scan_cases(local).cases):
            if task is None:
                raise DataError(
                    f"{local}: not an MSD Task01_BrainTumour folder (no imagesTr/ inside); "
                    "a folder of BraTS cases needs no conversion: use it as it is"
                )
            return convert_msd(task, out / "MSD_Task01_BraTS_layout", progress=progress)
        # a folder of cases (e.g. on Drive) is used in place, nothing copied; a folder holding
        # only a BraTS archive (uploaded to Drive) has it extracted below ``out``
        return use_archive_or_folder(local, out, progress=progress)
    if local is not None:
        verify_checksum(local, sha256, md5)
        archive = local
    else:
        archive = download(
            url, out / "downloads" / archive_name(url), sha256=sha256, md5=md5, progress=progress
        )
    stem = archive_stem(archive.name) or archive.name
    extracted = out / stem
    if not extracted.exists():
        extract(archive, extracted, progress=progress)
    result = extracted
    if layout == "msd":
        task = _msd_task(extracted)
        if task is None:
            raise DataError(f"{archive}: no imagesTr folder; is this MSD Task01_BrainTumour?")
        result = convert_msd(task, out / "MSD_Task01_BraTS_layout", progress=progress)
        if not keep_archive:
            shutil.rmtree(extracted)  # the 4D originals: the converted cases replace them
    if local is None and not keep_archive:
        archive.unlink()
    return result


def _release_folder(root: Path) -> Path:
    """The folder holding HGG/ and LGG/ below ``root`` (or ``root`` itself)."""
    for candidate in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        if (candidate / "HGG").is_dir() or (candidate / "LGG").is_dir():
            return candidate
    return root


def _kagglehub_cache() -> Path:
    """Where kagglehub keeps its downloads (``$KAGGLEHUB_CACHE``, else ``~/.cache/kagglehub``)."""
    return Path(os.environ.get("KAGGLEHUB_CACHE") or Path.home() / ".cache" / "kagglehub")


class watch_growth:  # noqa: N801 - used as a context manager, like open()
    """A progress bar of the bytes a folder gains while the block runs (kagglehub shows a bar for
    its download but none while it unpacks 30 GB, which takes minutes on Colab)."""

    def __init__(self, folder: Path, label: str, every: float = 1.0):
        import threading

        self.folder, self.label, self.every = Path(folder), label, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.seen = 0

    def _size(self) -> int:
        total = 0
        for root, _, files in os.walk(self.folder):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(root, name)).st_size
        return total

    def _run(self) -> None:
        with byte_bar(None, self.label, leave=False) as bar:
            while not self._stop.wait(self.every):
                self.seen = self._size() - self.start
                bar.update(self.seen - bar.n)

    def __enter__(self) -> watch_growth:
        self.start = self._size()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.seen = self._size() - self.start


def fetch_kaggle(out: str | os.PathLike[str], handle: str = KAGGLE_BRATS2019) -> Path:
    """The Kaggle mirror of BraTS 2019 through ``kagglehub`` (public: no credentials needed).

    ``kagglehub.dataset_download`` downloads to its own cache (or, on Kaggle, mounts the
    dataset read-only); the release folder is then linked as ``out/<its name>``, so the 30 GB
    exist once. Where a link cannot be made (e.g. a Drive folder), the cases are used where
    kagglehub put them.

    Args:
        out: the data folder.
        handle: Kaggle dataset handle (kagglehub shows its own download progress bar).

    Returns:
        The folder holding the cases.

    Raises:
        DataError: kagglehub missing or failing, or no BraTS case in what it returned.
    """
    try:
        import kagglehub  # type: ignore[import-not-found]  # ships in Colab and on Kaggle
    except ModuleNotFoundError:
        raise DataError(
            "the kaggle source needs kagglehub: pip install kagglehub (it ships in Colab)"
        ) from None
    try:
        with watch_growth(_kagglehub_cache() / "datasets" / handle, f"kagglehub: {handle}"):
            path = Path(kagglehub.dataset_download(handle))
    except Exception as exc:  # noqa: BLE001 - network or Kaggle errors of any type, in one line
        raise DataError(
            f"kagglehub could not fetch {handle} ({type(exc).__name__}: {exc}); check the "
            "connection, or download the dataset from kaggle.com and use --url FOLDER"
        ) from None
    release = _release_folder(path)
    found = scan_cases(release)
    if not found.cases:
        raise DataError(f"{release}: kagglehub returned no BraTS case for {handle}")
    out = Path(out).expanduser()
    link = out / release.name
    if link.is_symlink() and link.resolve() == release.resolve():
        return link
    if link.exists() or link.is_symlink():
        if link.resolve() == release.resolve():
            return release
        raise DataError(
            f"{link} exists and is not the kagglehub download ({release}); remove it or choose "
            "another --out"
        )
    out.mkdir(parents=True, exist_ok=True)
    try:
        link.symlink_to(release.resolve(), target_is_directory=True)
    except OSError:
        return release  # no links on this file system: the cases stay where kagglehub put them
    return link


def use_archive_or_folder(
    folder: str | os.PathLike[str], local_root: str | os.PathLike[str], progress: bool = True
) -> Path:
    """The BraTS cases of a folder (e.g. on Drive), or of a BraTS archive in it, extracted locally.

    A folder holding cases is used as it is. A folder holding no case but one zip/tar archive
    (a BraTS download uploaded to Drive), or the path of such an archive, is extracted once to
    ``local_root/<archive stem>`` on the local disk, with a progress bar.

    Args:
        folder: the folder or archive.
        local_root: where archives are extracted.
        progress: progress bar while extracting.

    Returns:
        The folder holding the cases.

    Raises:
        DataError: a missing folder (naming what its parent holds and the closest name), or
            neither cases nor one archive.
    """
    import difflib

    folder = Path(folder).expanduser()
    if not folder.exists():
        parent = folder.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        try:
            names = sorted(p.name for p in parent.iterdir() if not p.name.startswith("."))
        except OSError:
            names = []
        close = difflib.get_close_matches(folder.name, names, n=1, cutoff=0.4)
        shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
        hint = f"; did you mean {parent / close[0]}?" if close else ""
        raise DataError(f"{folder}: no such folder; {parent} holds: {shown or 'nothing'}{hint}")
    archives = (
        [folder]
        if folder.is_file()
        else sorted(p for p in folder.iterdir() if p.is_file() and archive_stem(p.name))
    )
    if folder.is_dir() and (scan_cases(folder).cases or not archives):
        return folder  # find_cases names what is missing when there is no case either
    if len(archives) > 1:
        raise DataError(
            f"{folder}: no BraTS case, and several archives ({', '.join(a.name for a in archives)}); "
            "point to one of them"
        )
    archive = archives[0]
    stem = archive_stem(archive.name)
    if stem is None:
        raise DataError(f"{archive}: not a folder of BraTS cases nor a zip or tar archive")
    target = Path(local_root).expanduser() / stem
    if not target.exists():
        print(f"extracting {archive} to {target} (local disk: faster than reading from Drive)")
        extract(archive, target, progress=progress)
    return target
