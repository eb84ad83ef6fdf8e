"""Course packs: the slice cache of N patients in one tar, built once by the instructor, opened in
a session in about a minute (no NIfTI work there).

Members, manifest first: ``pack.json`` (format, kit version, editions, grid, patients, split by
patient, the SHA-256 and size of every other member), ``unet_tp_cache.json`` and
``cases/<case>.{images,labels}.npy``, i.e. the cache folder :class:`SliceDataset` reads.
:func:`open_pack` checks every member against the manifest while unpacking into a temporary
folder renamed into place; every failure is a one-line :class:`DataError` naming the file.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from unet_tp import __version__
from unet_tp.data.cache import (
    META,
    CacheSettings,
    files_ok,
    load_cache_meta,
    prepare_cache,
    split_patients,
)
from unet_tp.data.cases import BadArchive, Case, DataError, find_cases, incomplete
from unet_tp.data.split import patient_of
from unet_tp.fileio import (
    archive_problem,
    atomic_dir,
    atomic_write,
    check_writable,
    copy_hashed,
    is_web_page,
    os_error_message,
    room_for,
    sha256_file,
    unet_tp_home,
)
from unet_tp.i18n import in_notebook, language, tr
from unet_tp.preprocess import Grid
from unet_tp.progress import byte_bar, case_progress

PACK_FORMAT = 1
MANIFEST = "pack.json"
_CASE_ID = r"[A-Za-z0-9._-]+"
"""What a case id in a pack may hold (its member names are made of it)."""
_MEMBER = re.compile(rf"^(unet_tp_cache\.json|cases/{_CASE_ID}\.(images|labels)\.npy)$")


@dataclass(frozen=True)
class BuiltPack:
    """What :func:`build_pack` wrote: the archive, its SHA-256 (for ``--pack-sha256``), its size."""

    path: Path
    sha256: str
    size: int
    manifest: dict
    skipped: dict[str, str] = field(default_factory=dict)  # case id -> why (``skip_bad``)

    def summary(self) -> str:
        lines = [summarise(self.manifest, self.size, self.path), f"  sha256 {self.sha256}"]
        skipped = [
            tr("  skipped {case_id}: {why}", case_id=c, why=why) for c, why in self.skipped.items()
        ]
        return "\n".join(lines + skipped)


def choose_patients(cases: list[Case], n: int, seed: int = 0) -> list[Case]:
    """The cases of ``n`` patients (a patient's scans, one per timepoint, together) chosen by
    ``seed`` alone (not the listing order), in proportion to each grade (HGG/LGG) when the layout
    gives grades: each grade's patients are shuffled, then taken by their rank within it."""
    by_grade: dict[str, dict[str, list[Case]]] = {}
    for case in sorted(cases, key=lambda c: c.case_id):
        group = by_grade.setdefault(str(case.grade), {})
        group.setdefault(patient_of(case.case_id), []).append(case)
    ranked = []
    for grade, group in by_grade.items():
        scans = list(group.values())
        order = np.random.default_rng([seed, *grade.encode()]).permutation(len(scans))
        ranked += [((rank + 0.5) / len(scans), grade, scans[i]) for rank, i in enumerate(order)]
    ranked.sort(key=lambda r: (r[0], r[1]))
    return sorted((c for r in ranked[:n] for c in r[2]), key=lambda c: c.case_id)


def build_pack(
    data_dir: str | os.PathLike[str],
    out_tar: str | os.PathLike[str],
    patients: int,
    settings: CacheSettings | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    work_dir: str | os.PathLike[str] | None = None,
    compress: bool = True,
    progress: bool = True,
    skip_bad: bool = False,
) -> BuiltPack:
    """Write a pack of ``patients`` cases of ``data_dir`` (chosen by :func:`choose_patients`) to
    ``out_tar``, with the split by patient in its manifest. The slice cache is kept in
    ``work_dir`` (a re-run reuses it). ``skip_bad``: leave out the cases that cannot be used
    instead of stopping, choosing among the others (a case missing a file is not chosen; a chosen
    case that cannot be read is replaced by the next one), so that the pack holds fewer patients
    only when too few are left. ``compress``: gzip level 1, 3.7x smaller at 192x192 (the zeros
    outside the brain) for a quarter more unpacking time."""
    settings = settings or CacheSettings()
    if patients < 2:
        raise DataError(tr("{out}: a pack needs at least 2 patients (one held out)", out=out_tar))
    _writable(Path(out_tar).expanduser().parent)  # (before minutes of work: data round 21)
    found = [c for c in find_cases(data_dir) if c.has_seg]
    skipped = {c.case_id: why for c in found if skip_bad and (why := incomplete(c))}
    usable = [c for c in found if c.case_id not in skipped]
    chosen = choose_patients(usable, patients, seed)
    if not chosen:
        raise DataError(tr("{data}: no case with a seg file to pack", data=data_dir))
    _check_case_ids(chosen)  # before any work: the pack's member names are made of the case ids
    key = json.dumps(
        [str(Path(data_dir).resolve()), [c.case_id for c in chosen], settings.to_json()]
    )
    work = Path(work_dir) if work_dir else unet_tp_home() / "packs" / "work"
    work = work / hashlib.sha1(key.encode()).hexdigest()[:12]
    build = dict(data=data_dir, cache_dir=work / "cache", settings=settings, skip_bad=skip_bad)
    build["progress"] = case_progress() if progress else None
    report, chosen, failed = _cache_of(build, chosen, usable, patients, seed)
    skipped |= failed
    meta = load_cache_meta(report.cache_dir)
    meta_bytes = json.dumps(_packed_meta(meta, chosen)).encode()
    train, val = split_patients(report.cache_dir, val_fraction, seed, source=data_dir)
    split = {"val_fraction": val_fraction, "seed": seed, "train": train, "val": val}
    manifest = _manifest(meta, meta_bytes, chosen, settings, split, report.cache_dir)
    out = Path(out_tar).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    _check_manifest(manifest, out)  # e.g. a case id a pack cannot hold as a file name
    with _tar_writer(out, compress) as tf:
        _add_bytes(tf, MANIFEST, json.dumps(manifest, indent=1).encode())
        _add_bytes(tf, META, meta_bytes)
        for name in sorted(manifest["members"]):
            if name != META:
                tf.add(report.cache_dir / name, arcname=name, recursive=False, filter=_plain)
    built = BuiltPack(out, sha256_file(out), out.stat().st_size, manifest, skipped)
    (out.parent / f"{out.name}.sha256").write_text(f"{built.sha256}  {out.name}\n")
    return built


def _cache_of(build: dict, chosen: list[Case], usable: list[Case], patients: int, seed: int):
    """``(the report of prepare_cache(**build, cases=...), the cases chosen, {case id: why} of the
    chosen cases left out)``: a chosen case left out (``skip_bad``) is replaced by the next one
    :func:`choose_patients` takes among ``usable``, until none is left out or no other is left."""
    failed: dict[str, str] = {}
    while True:
        report = prepare_cache(**build, cases=chosen)
        failed |= {
            c.case_id: report.skipped[c.case_id] for c in chosen if c.case_id in report.skipped
        }
        usable = [c for c in usable if c.case_id not in failed]
        kept = [c for c in chosen if c.case_id not in failed]
        if (chosen := choose_patients(usable, patients, seed)) == kept:
            return report, chosen, failed
        _check_case_ids(chosen)


def _check_case_ids(cases: list[Case]) -> None:
    """A DataError for a case whose id cannot name a pack's member."""
    for case in cases:
        if not re.fullmatch(_CASE_ID, case.case_id):
            raise DataError(
                tr(
                    "case {case_id} ({directory}): a pack holds case ids of letters, digits, '.', "
                    "'_' and '-' only; rename its files (e.g. BraTS19_X_1_t1.nii.gz)",
                    case_id=repr(case.case_id),
                    directory=case.directory,
                )
            )


def _writable(folder: Path) -> None:
    """A DataError saying why the pack cannot be written into ``folder``, if it cannot."""
    try:
        check_writable(folder)
    except OSError as exc:
        raise DataError(os_error_message(exc)) from None


def _packed_meta(meta: dict, chosen: list[Case]) -> dict:
    """The cache's meta as a pack holds it: nothing of the instructor's disk (no source path, no
    skip reason, a warning's file by its name: data round 21 found them), nor of when its files
    were copied (their sizes and dates: a pack rebuilt from a copy changed its SHA-256)."""
    folders = {c.case_id: f"{c.directory}{os.sep}" for c in chosen}
    cases = {
        case_id: {
            **entry,
            "source": {},
            "warnings": [w.replace(folders.get(case_id, "\0"), "") for w in entry["warnings"]],
        }
        for case_id, entry in meta["cases"].items()
    }
    meta = {**meta, "source": "unet-tp pack", "skipped": {}, "cases": cases}
    return meta | {"skipped_sources": {}, "skipped_bad": []}


@contextlib.contextmanager
def _tar_writer(path: Path, compress: bool) -> Iterator[tarfile.TarFile]:
    """A tar written atomically, gzipped (level 1) or not, with no date: the same cache gives
    the same bytes, so a rebuilt pack keeps its SHA-256."""
    with atomic_write(path) as f:
        gz = gzip.GzipFile("", "wb", compresslevel=1, fileobj=f, mtime=0) if compress else None
        with gz or contextlib.nullcontext(), tarfile.open(fileobj=gz or f, mode="w") as tf:
            yield tf


def _manifest(meta, meta_bytes, chosen, settings, split: dict, cache_dir: Path) -> dict:
    """The manifest of a pack of this cache."""
    members = {
        e[key]: {"sha256": sha256_file(cache_dir / e[key]), "bytes": e[f"{key}_bytes"]}
        for e in meta["cases"].values()
        for key in ("images", "labels")
    }
    members[META] = {"sha256": hashlib.sha256(meta_bytes).hexdigest(), "bytes": len(meta_bytes)}
    return {
        "format": PACK_FORMAT,
        "kit_version": __version__,
        "editions": sorted({c.edition for c in chosen if c.case_id in meta["cases"]}),
        "grid": {"crop": settings.crop, "image_size": settings.image_size},
        "settings": settings.to_json(),
        "patients": _patients(meta["cases"]),
        "scans": len(meta["cases"]),
        "slices": sum(e["shape"][0] for e in meta["cases"].values()),
        "split": split,
        "members": members,
    }


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Members with no owner, mode 0644: the same pack whoever builds it."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode, info.mtime = 0o644, 0
    return info


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = _plain(tarfile.TarInfo(name))
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def is_pack(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` names a pack rather than a folder of cases or a cache: an http(s) URL,
    a ``.tar``/``.tar.gz`` file, or a folder holding ``pack.json``."""
    text, path = str(source), Path(source).expanduser()
    return (
        _is_url(text)
        or (path.is_file() and text.endswith((".tar", ".tar.gz", ".tgz")))
        or (path / MANIFEST).is_file()
    )


def _is_url(text: str) -> bool:
    return urlparse(text).scheme in ("http", "https")


def _check_manifest(manifest: dict | bytes, where: object) -> dict:
    """A manifest (or the bytes of a ``pack.json``) this kit reads, or a DataError."""
    try:
        manifest = json.loads(manifest) if isinstance(manifest, bytes) else manifest
    except ValueError:
        raise DataError(
            tr(
                "{where}: not a unet-tp pack ({manifest} is not JSON)",
                where=where,
                manifest=MANIFEST,
            )
        ) from None
    if not isinstance(manifest, dict) or "format" not in manifest:
        raise DataError(
            tr(
                "{where}: not a unet-tp pack ({manifest} is not a pack manifest)",
                where=where,
                manifest=MANIFEST,
            )
        )
    if manifest["format"] != PACK_FORMAT:
        raise DataError(
            tr(
                "{where}: pack format {format}, this unet-tp reads format {reads}; rebuild the "
                "pack with this kit (`unet-tp data pack`) or update it",
                where=where,
                format=manifest["format"],
                reads=PACK_FORMAT,
            )
        )
    bad = [n for n in manifest.get("members", {}) if not _MEMBER.match(n)]
    if bad or META not in manifest.get("members", {}):
        raise DataError(
            tr(
                "{where}: not a unet-tp pack (member {member})",
                where=where,
                member=repr((bad or [META])[0]),
            )
        )
    return manifest


def check_grid(manifest: dict, expected_grid: Grid | None, where: object) -> None:
    """One line if the pack's grid is not ``expected_grid`` (None: any grid)."""
    grid = Grid(manifest["grid"]["crop"], manifest["grid"]["image_size"])
    if expected_grid is not None and (want := Grid.of(expected_grid)) != grid:
        raise DataError(
            tr(
                "{where}: a pack of grid crop {crop}, image_size {size}, but this run asks for "
                "crop {want_crop}, image_size {want_size}; set crop/image_size to the pack's or "
                "build a pack of that grid",
                where=where,
                crop=grid.crop,
                size=grid.image_size,
                want_crop=want.crop,
                want_size=want.image_size,
            )
        )


def _not_a_tar(path: Path, url: str | None = None) -> str:
    """Why the file ``path`` (downloaded from ``url``) is no pack: a zip of BraTS cases, a web
    page in its place (Drive's, a login's), or else what :func:`archive_problem` says."""
    where = url or path
    if _holds_nifti(path):
        if in_notebook():
            return tr(
                "{where}: an archive of BraTS cases (NIfTI files), not a course pack: set "
                "DATA_SOURCE = 'download' to download and unpack these cases (from PACK_URL's "
                "address), or put the zip in your Drive and set DATA_SOURCE = 'drive'",
                where=where,
            )
        return tr(
            "{where}: an archive of BraTS cases (NIfTI files), not a unet-tp pack (the .tar "
            "`unet-tp data pack` writes): unpack it with `unet-tp data download --url {where}`",
            where=where,
        )
    if url is not None and is_web_page(path):  # (the file read once)
        if in_notebook():
            return tr(
                "{url}: the address gives a web page, not the pack (Google Drive's 'cannot scan "
                "for viruses' page, a login or an error page): ask your instructor for a direct "
                "link to the pack",
                url=url,
            )
        return tr(
            "{url}: the address gives a web page, not the pack (Google Drive's 'cannot scan for "
            "viruses' page, a login or an error page): use a direct link to the .tar file",
            url=url,
        )
    why = archive_problem(path) or tr("not a tar archive")
    return tr("{path}: not a unet-tp pack: {why}", path=path, why=why)


def _holds_nifti(path: Path) -> bool:
    """Whether ``path`` is a zip holding NIfTI files (BraTS cases, as distributed)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith((".nii", ".nii.gz")) for n in zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _read_tar_manifest(path: Path, url: str | None = None) -> tuple[dict, bytes]:
    """The manifest of a pack archive (its first member) and its bytes (``url``: where it was
    downloaded from, named in the message of a file that is no pack)."""
    if not tarfile.is_tarfile(path):
        raise BadArchive(_not_a_tar(path, url))
    try:
        with tarfile.open(path, "r:*") as tf:
            first = tf.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise BadArchive(
                    tr(
                        "{path}: not a unet-tp pack (no {manifest} first)",
                        path=path,
                        manifest=MANIFEST,
                    )
                )
            raw = tf.extractfile(first).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BadArchive(
            tr("{path}: truncated or damaged pack ({error})", path=path, error=exc)
        ) from None
    return _check_manifest(raw, path), raw


def _unpack(path: Path, manifest: dict, target: Path, progress: bool) -> None:
    """Extract and check every member into a temporary folder, renamed onto ``target``."""
    members = manifest["members"]
    seen: set[str] = set()
    total = sum(m["bytes"] for m in members.values())
    what = tr("unpacking the course pack {name}", name=path.name)
    try:
        with (
            atomic_dir(target) as tmp,
            room_for(tmp, total, what, DataError),
            tarfile.open(path, "r:*") as tf,
        ):
            with byte_bar(total, tr("unpacking {name}", name=path.name), progress) as bar:
                for info in tf:
                    if info.name == MANIFEST:
                        (tmp / MANIFEST).write_bytes(tf.extractfile(info).read())
                        continue
                    if info.name not in members or not info.isfile() or info.name in seen:
                        raise DataError(
                            tr(
                                "{path}: unexpected member {member} in the pack",
                                path=path,
                                member=repr(info.name),
                            )
                        )
                    _extract_checked(tf, info, tmp / info.name, members[info.name], path)
                    seen.add(info.name)
                    bar.update(info.size)
            missing = sorted(set(members) - seen)
            if missing:
                raise BadArchive(
                    tr(
                        "{path}: truncated pack, {count} of {total} files missing (first "
                        "{first}); download it again",
                        path=path,
                        count=len(missing),
                        total=len(members),
                        first=missing[0],
                    )
                )
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise BadArchive(
            tr(
                "{path}: truncated or damaged pack ({error}); download it again",
                path=path,
                error=exc,
            )
        ) from None


def _extract_checked(tf, info, dest: Path, expected: dict, path: Path) -> None:
    """One member written to ``dest``, hashed as it is written, checked against its manifest
    entry (its size before anything is written)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if (
        info.size != expected["bytes"]
        or copy_hashed(tf.extractfile(info), dest) != expected["sha256"]
    ):
        raise BadArchive(
            tr(
                "{path}: {member} does not match the pack's manifest ({size} bytes, expected "
                "{expected}; checksum differs); the pack is damaged, download it again",
                path=path,
                member=info.name,
                size=info.size,
                expected=expected["bytes"],
            )
        )


def _download(url: str, dest_root: Path, sha256: str | None, progress: bool) -> Path:
    """The pack at ``url`` under ``dest_root/downloads`` (resumed, checked against ``sha256``)."""
    from unet_tp.data.download import ChecksumMismatch, DownloadError, download

    name = Path(urlparse(url).path).name or "pack.tar"
    # named by the checksum, or else by the URL: pooch keeps a file already there unchecked, and
    # two URLs of one name (Drive's uc?id=...) gave the first one's pack (data round 22)
    key = sha256 or hashlib.sha256(url.encode()).hexdigest()
    name = f"{key[:12]}-{name}"
    try:
        return download(url, dest_root / "downloads" / name, sha256=sha256, progress=progress)
    except ChecksumMismatch as exc:
        if not in_notebook():
            raise DataError(str(exc)) from None
        raise DataError(
            tr(
                "{url}: its SHA-256 is {got}, not PACK_SHA256's {expected}: a damaged download, "
                "or PACK_URL serves another file; the downloaded file was deleted: check that "
                "PACK_URL and PACK_SHA256 are the two lines your instructor gave, then re-run the "
                "cell",
                url=url,
                got=exc.got,
                expected=sha256,
            )
        ) from None
    except DownloadError as exc:  # named by the URL, on one line
        text = " ".join(str(exc).split())
        raise DataError(text if text.startswith(url) else f"{url}: {text}") from None


def open_pack(
    source: str | os.PathLike[str],
    dest_root: str | os.PathLike[str] | None = None,
    expected_sha256: str | None = None,
    expected_grid: Grid | None = None,
    progress: bool = True,
) -> Path:
    """The cache folder of a pack (the archive, its unpacked folder or an http(s) URL), unpacked
    once under ``dest_root`` (default ``<kit home>/packs``) and checked against
    ``expected_sha256`` and ``expected_grid`` (a Grid or settings with ``.grid``)."""
    dest_root = Path(dest_root).expanduser() if dest_root else unet_tp_home() / "packs"
    text = str(source)
    if _is_url(text):
        path = _download(text, dest_root, expected_sha256, progress)
    else:
        path = Path(text).expanduser()
        if path.is_dir():
            return _open_folder(path, expected_grid)
        if not path.is_file():
            raise DataError(_no_such_pack(path))
        if expected_sha256 and (got := sha256_file(path)) != expected_sha256.lower():
            raise DataError(
                tr(
                    "{path}: SHA-256 is {got}, expected {expected}; not the pack expected (or "
                    "damaged): download it again",
                    path=path,
                    got=got,
                    expected=expected_sha256,
                )
            )
    url = text if _is_url(text) else None
    try:
        return _open_archive(path, dest_root, expected_grid, progress, url)
    except BadArchive as exc:
        if url is None:
            raise
        path.unlink(missing_ok=True)  # the kit's own download: not kept to be reused as it is
        raise BadArchive(
            tr("{error}; the download was removed: the next run downloads it again", error=exc)
        ) from None


def _no_such_pack(path: Path) -> str:
    return tr("{path}: no such pack (a .tar file, its folder or an https URL)", path=path)


def _open_archive(
    path: Path, dest_root: Path, expected_grid: Grid | None, progress, url: str | None = None
) -> Path:
    """The folder the pack archive ``path`` (downloaded from ``url``) is unpacked to, once,
    under ``dest_root``."""
    manifest, raw = _read_tar_manifest(path, url)
    check_grid(manifest, expected_grid, path)
    target = dest_root / f"pack-{hashlib.sha256(raw).hexdigest()[:16]}"
    if target.is_dir() and (target / MANIFEST).is_file():
        if (target / MANIFEST).read_bytes() == raw and _sizes_ok(target, manifest):
            return target
        shutil.rmtree(target)  # a damaged copy: unpack again
    try:
        _unpack(path, manifest, target, progress)
    except OSError:  # another process (a torchrun rank) unpacked it first
        if not ((target / MANIFEST).is_file() and _sizes_ok(target, manifest)):
            raise
    return target


def _sizes_ok(folder: Path, manifest: dict) -> bool:
    return files_ok(folder, {name: e["bytes"] for name, e in manifest["members"].items()})


def read_manifest(folder: str | os.PathLike[str]) -> dict:
    """The manifest of an unpacked pack (its split: ``["split"]["train"]``, ``["val"]``)."""
    folder = Path(folder)
    try:
        return _check_manifest((folder / MANIFEST).read_bytes(), folder)
    except FileNotFoundError:
        raise DataError(
            tr("{folder}: not a unet-tp pack (no {manifest})", folder=folder, manifest=MANIFEST)
        ) from None


def _open_folder(folder: Path, expected_grid: Grid | None) -> Path:
    manifest = read_manifest(folder)
    if not _sizes_ok(folder, manifest):
        raise DataError(
            tr("{folder}: an incomplete unpacked pack (files missing or cut short)", folder=folder)
        )
    check_grid(manifest, expected_grid, folder)
    load_cache_meta(folder)
    return folder


def summarise(manifest: dict, size: int | None, where: object) -> str:
    """A short printable summary of a pack's manifest."""
    split, grid = manifest["split"], manifest["grid"]
    side = grid["image_size"] or grid["crop"] or 240
    scans = manifest.get("scans", manifest["patients"])  # (an older pack's: no "scans")
    scans = tr("; {scans} scans", scans=scans) if scans != manifest["patients"] else ""
    text = tr(
        "{where}: unet-tp pack (format {format}, kit {kit}), {patients} patients ({train} "
        "training, {val} validation{scans}), {slices} slices of {side}x{side} (crop {crop}), "
        "{editions}",
        where=where,
        format=manifest["format"],
        kit=manifest["kit_version"],
        patients=manifest["patients"],
        train=_patients(split["train"]),
        val=_patients(split["val"]),
        scans=scans,
        slices=manifest["slices"],
        side=side,
        crop=grid["crop"],
        editions=", ".join(manifest["editions"]),
    )
    if size is None:
        return text
    mib = f"{size / 2**20:.2f}".replace(".", "," if language() == "fr" else ".")
    return tr("{summary}, {size} MiB", summary=text, size=mib)


def _patients(case_ids: list[str]) -> int:
    return len({patient_of(case_id) for case_id in case_ids})


def pack_info(
    source: str | os.PathLike[str], dest_root: str | os.PathLike[str] | None = None
) -> str:
    """A short printable summary of a pack (archive, folder or URL: a URL is downloaded)."""
    text = str(source)
    if _is_url(text):
        return summarise(read_manifest(open_pack(text, dest_root)), None, text)
    path = Path(text).expanduser()
    if path.is_dir():
        manifest = read_manifest(path)
        return summarise(manifest, sum(m["bytes"] for m in manifest["members"].values()), path)
    if not path.is_file():
        raise DataError(_no_such_pack(path))
    manifest, _ = _read_tar_manifest(path)
    return summarise(manifest, path.stat().st_size, path)
