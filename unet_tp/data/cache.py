"""The slice cache: each case read and normalised once, its useful axial slices stored as plain
``.npy`` (``cases/<case>.images.npy`` float16 ``(n, 4, H, W)``, ``cases/<case>.labels.npy`` uint8
``(n, H, W)``) and read back memory-mapped (a ``.nii.gz`` decompresses from its start for one slice).

``unet_tp_cache.json`` holds the settings and each case's sources and slices; a case enters it
once its arrays are written and it says ``complete`` only after a whole run, so an interrupted run
is resumed, never trusted. Unchanged settings and sources: nothing is redone; another setting
rebuilds everything.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from unet_tp.conventions import to_train_labels
from unet_tp.data.cases import Case, DataError, find_cases, load_case, strict_error
from unet_tp.data.split import patient_of, split_cases
from unet_tp.data.synth import default_sample_dir
from unet_tp.fileio import disk_full, free_space, save_json, save_npy, size_text, unet_tp_home
from unet_tp.i18n import in_notebook, said, stored, tr
from unet_tp.preprocess import network_images, network_labels, normalise
from unet_tp.settings import CacheSettings

META = "unet_tp_cache.json"


@dataclass
class PrepareReport:
    """What ``prepare_cache`` did."""

    cache_dir: Path
    built: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    n_slices: int = 0
    seconds: float = 0.0
    wrote: bool = True

    def summary(self) -> str:
        counts = {
            "cache_dir": self.cache_dir,
            "cases": len(self.built) + len(self.reused),
            "slices": self.n_slices,
            "built": len(self.built),
            "reused": len(self.reused),
            "seconds": self.seconds,
        }
        if self.wrote:
            first = tr(
                "slice cache {cache_dir}: {cases} cases, {slices} slices ({built} prepared, "
                "{reused} reused) in {seconds:.1f} s",
                **counts,
            )
        else:
            first = tr(
                "slice cache {cache_dir}: {cases} cases, {slices} slices ({built} prepared, "
                "{reused} reused) in {seconds:.1f} s (complete and unchanged: nothing written)",
                **counts,
            )
        lines = [first] + [tr("  warning: {warning}", warning=line) for line in self.warnings]
        by_why: dict[str, list[str]] = {}
        for case_id, why in self.skipped.items():
            by_why.setdefault(why, []).append(case_id)
        for why, ids in by_why.items():  # (a release's 125 validation cases: one line)
            if len(ids) > 3:
                lines.append(
                    tr(
                        "  skipped {count} cases ({ids}, ...): {why}",
                        count=len(ids),
                        ids=", ".join(ids[:3]),
                        why=why,
                    )
                )
            else:
                lines += [tr("  skipped {case_id}: {why}", case_id=c, why=why) for c in ids]
        return "\n".join(lines)


def _source_signature(case: Case) -> dict:
    """Size and modification time of each source file, by name (``{"error": ...}`` if unreadable)."""
    try:
        stats = {path.name: path.stat() for path in sorted(case.files.values())}
    except OSError as exc:
        return {"error": str(exc)}
    return {name: [st.st_size, st.st_mtime_ns] for name, st in stats.items()}


def select_slices(
    seg_classes: np.ndarray, mask: np.ndarray, settings: CacheSettings, case_id: str
) -> np.ndarray:
    """Indices of the axial slices to keep of ``(H, W, D)`` classes and brain mask: every tumour
    slice, a share of the tumour-free brain slices (chosen with ``case_id`` as part of the seed)."""
    area = mask.shape[0] * mask.shape[1]
    has_brain = mask.sum(axis=(0, 1)) >= settings.min_brain_fraction * area
    has_tumour = (seg_classes > 0).any(axis=(0, 1))
    tumour = np.flatnonzero(has_tumour)
    free = np.flatnonzero(has_brain & ~has_tumour)
    n_free = int(round(len(free) * settings.tumour_free_fraction))
    rng = np.random.default_rng([settings.seed, *case_id.encode()])
    chosen = rng.choice(free, size=n_free, replace=False) if n_free else np.array([], dtype=int)
    return np.sort(np.concatenate([tumour, chosen]).astype(int))


def case_slices(
    case: Case, settings: CacheSettings, strict: bool = False, warnings: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read, normalise and slice one case: ``(images, labels, z)``, float16 ``(n, 4, H, W)``,
    uint8 ``(n, H, W)`` classes and each slice's axial index in the working orientation.
    Suspicious data found is appended to ``warnings`` (an error when ``strict``:
    :func:`unet_tp.data.load_case`)."""
    vol = load_case(case, with_seg=True, strict=strict)
    if warnings is not None:
        warnings.extend(vol.warnings)
    image, mask = normalise(vol.image)
    classes = to_train_labels(vol.seg)
    z = select_slices(classes, mask, settings, case.case_id)
    images = network_images(image, z, settings.grid).astype(np.float16)
    return images, network_labels(classes, z, settings.grid), z


def _arrays(entry: object) -> list[str]:
    """The array files a case's cache entry names (``cases/<case>.images.npy``), those alone."""
    names = [entry.get(k) for k in ("images", "labels")] if isinstance(entry, dict) else []
    return [n for n in names if isinstance(n, str) and _ARRAY.fullmatch(n)]


_ARRAY = re.compile(r"cases/[^/\\]+\.(images|labels)\.npy")


def _read_meta(cache_dir: Path) -> dict | None:
    """The cache's metadata, or None (no such file, or not JSON)."""
    path = cache_dir / META
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def files_ok(folder: Path, sizes: dict[str, int]) -> bool:
    """Whether every file named in ``sizes`` is in ``folder`` with that size."""
    return all((p := folder / n).is_file() and p.stat().st_size == b for n, b in sizes.items())


def _reusable(cache_dir: Path, entry: dict | None, signature: dict) -> bool:
    """Whether a case's cached ``entry`` is of these sources and its arrays are whole."""
    sizes = {entry[k]: entry[f"{k}_bytes"] for k in ("images", "labels")} if entry else {}
    return entry is not None and entry["source"] == signature and files_ok(cache_dir, sizes)


def _unchanged(
    cache_dir: Path, meta: dict | None, settings: CacheSettings, cases: list[Case], skip_bad: bool
) -> bool:
    """A complete cache of these settings whose cases all match their unchanged sources."""
    if meta is None or not meta.get("complete") or meta.get("settings") != settings.to_json():
        return False
    entries, skipped = meta.get("cases", {}), meta.get("skipped", {})
    skipped_sources = meta.get("skipped_sources", {})
    # a case skipped last time, its files unchanged: the same run would skip it again (a file
    # mended or a seg put back since: read again; a bad case without --skip-bad: said again)
    return set(entries) | set(skipped) == {c.case_id for c in cases} and all(
        _reusable(cache_dir, entries[c.case_id], _source_signature(c))
        if c.case_id in entries
        else skipped_sources.get(c.case_id) == _source_signature(c)
        and (skip_bad or c.case_id not in meta.get("skipped_bad", []))
        for c in cases
    )


def prepare_cache(
    data: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str],
    settings: CacheSettings | None = None,
    skip_bad: bool = False,
    force: bool = False,
    progress: Callable[[Sequence], object] | None = None,
    strict: bool = False,
    cases: Sequence[Case] | None = None,
) -> PrepareReport:
    """Build or update the slice cache of every case under ``data`` (a complete, unchanged cache
    is used as it is, nothing written). ``skip_bad``: leave out an unreadable case instead of
    raising; ``force``: rebuild all, even into a non-cache folder; ``progress`` wraps the list of
    cases; ``strict``: suspicious data is an error; ``cases``: these cases of ``data`` only
    (default: all of them)."""
    start = time.perf_counter()
    settings = settings or CacheSettings()
    cache_dir = Path(cache_dir).expanduser()
    cases = find_cases(data) if cases is None else list(cases)
    if not any(c.has_seg for c in cases):
        raise DataError(_no_seg_set(data, cases))
    meta = _read_meta(cache_dir)
    _check_apart(data, cache_dir)
    if not force and _unchanged(cache_dir, meta, settings, cases, skip_bad):
        return _unchanged_report(cache_dir, meta, strict, start)
    if not force:
        _other_cases(data, cache_dir, meta, {c.case_id for c in cases})
    run, old_cases = _Run.begin(data, cache_dir, meta, settings, force, skip_bad, strict)
    run.total = len(cases)
    for case in progress(cases) if progress is not None else cases:
        run.add(case, old_cases.get(case.case_id))
    run.finish(data)
    return _done(run.report, run.meta, start)


def _no_seg_set(data, cases: list[Case]) -> str:
    """Why no case of ``data`` can train: stray files (no case has its four images), or a
    prediction-only set (no seg file)."""
    if in_notebook():
        step = tr(
            "training needs the labels: set DRIVE_FOLDER to the folder holding the cases' "
            "folders, or choose another DATA_SOURCE"
        )
    else:
        step = tr("segment it with `unet-tp predict --data DIR --checkpoint CKPT --out OUT_DIR`")
    if all(c.missing(with_seg=False) for c in cases):  # no case has its four modalities
        return tr(
            "{data}: no complete BraTS case: the files found (e.g. {first}) lack {missing} and "
            "the seg; {step}",
            data=data,
            first=next(iter(cases[0].files.values())),
            missing=", ".join(cases[0].missing(with_seg=False)),
            step=step,
        )
    if len(cases) == 1:
        return tr(
            "{data}: its only case has no seg file: a prediction-only set (e.g. a BraTS "
            "validation set); {step}",
            data=data,
            step=step,
        )
    return tr(
        "{data}: none of its {count} cases has a seg file: a prediction-only set (e.g. a BraTS "
        "validation set); {step}",
        data=data,
        count=len(cases),
        step=step,
    )


def _check_apart(data, cache_dir: Path) -> None:
    """Refuse a cache whose ``cases/`` folder is the data's, or holds it (``--cache`` one folder
    too high: the arrays written among the NIfTI files)."""
    data_dir, cases_dir = Path(data).expanduser().resolve(), (cache_dir / "cases").resolve()
    if data_dir == cases_dir or cases_dir in data_dir.parents:
        raise DataError(
            tr(
                "{cache_dir}: its cases/ folder, where the slice cache writes its arrays, holds "
                "the data ({data}); choose another --cache folder (e.g. {example})",
                cache_dir=cache_dir,
                data=data,
                example=cache_dir / "slice_cache",
            )
        )


def _other_cases(data, cache_dir: Path, meta: dict | None, case_ids: set[str]) -> None:
    """Refuse to replace a cache none of whose cases are among ``case_ids`` (another data set's:
    ``--cache`` pointed at the wrong folder would delete its cases)."""
    held = set((meta or {}).get("cases", {}))
    if held and not held & case_ids:
        fields = {"cache_dir": cache_dir, "count": len(held), "data": data}
        if meta.get("source"):
            raise FileExistsError(
                tr(
                    "{cache_dir} is the slice cache of {source} ({count} cases, none of them in "
                    "{data}): preparing {data} there would remove them; choose another --cache "
                    "folder or pass --force to replace it",
                    source=meta["source"],
                    **fields,
                )
            )
        raise FileExistsError(
            tr(
                "{cache_dir} is the slice cache of other data ({count} cases, none of them in "
                "{data}): preparing {data} there would remove them; choose another --cache "
                "folder or pass --force to replace it",
                **fields,
            )
        )


def _unchanged_report(cache_dir: Path, meta: dict, strict: bool, start: float) -> PrepareReport:
    """The report of a complete, unchanged cache (nothing written)."""
    warnings = [w for e in meta["cases"].values() for w in e.get("warnings", [])]
    if strict and warnings:
        raise DataError(strict_error(warnings[0]))
    report = PrepareReport(cache_dir, reused=sorted(meta["cases"]), warnings=warnings, wrote=False)
    report.skipped = {case_id: said(why) for case_id, why in meta.get("skipped", {}).items()}
    return _done(report, meta, start)


def _done(report: PrepareReport, meta: dict, start: float) -> PrepareReport:
    report.n_slices = sum(e["shape"][0] for e in meta["cases"].values())
    report.seconds = time.perf_counter() - start
    return report


@dataclass
class _Run:
    """One run of :func:`prepare_cache`: the metadata it writes (saved after each case) and its
    report."""

    cache_dir: Path
    settings: CacheSettings
    meta: dict
    report: PrepareReport
    skip_bad: bool
    strict: bool
    total: int = 0  # cases in this run
    written: set[str] = field(default_factory=set)  # the arrays the last run's metadata names

    @classmethod
    def begin(cls, data, cache_dir: Path, meta: dict | None, settings, force, skip_bad, strict):
        """``(the run, entries that may be reused)``; the metadata is saved marked incomplete
        first, so a run that stops half-way never leaves an old "complete" flag over new files.
        A non-empty folder that is not a cache is refused unless ``force``."""
        if cache_dir.exists() and meta is None and any(cache_dir.iterdir()) and not force:
            raise FileExistsError(
                tr(
                    "{cache_dir} is not empty and is not a unet-tp slice cache; choose an empty "
                    "folder or pass --force to write into it",
                    cache_dir=cache_dir,
                )
            )
        (cache_dir / "cases").mkdir(parents=True, exist_ok=True)
        same = meta is not None and meta.get("settings") == settings.to_json() and not force
        old_cases: dict[str, dict] = meta["cases"] if same else {}
        source = str(Path(data).expanduser().resolve())
        new = {"settings": settings.to_json(), "source": source, "complete": False}
        save_json(cache_dir / META, {**new, "cases": dict(old_cases), "skipped": {}})
        new |= {"cases": {}, "skipped": {}, "skipped_sources": {}, "skipped_bad": []}
        run = cls(cache_dir, settings, new, PrepareReport(cache_dir), skip_bad, strict)
        run.written = {n for e in (meta or {}).get("cases", {}).values() for n in _arrays(e)}
        return run, old_cases

    def save(self) -> None:
        save_json(self.cache_dir / META, self.meta)

    def skip(self, case_id: str, why: str | DataError, signature: dict, bad: bool = False) -> None:
        """Leave a case out, saying ``why`` (kept to be said in the language of the run that
        reads it); ``bad``: its data could not be read (left out by --skip-bad only: a later run
        without it stops there), not a case with nothing to train."""
        self.report.skipped[case_id], self.meta["skipped"][case_id] = str(why), stored(why)
        self.meta["skipped_sources"][case_id] = signature
        if bad:
            self.meta["skipped_bad"].append(case_id)

    def add(self, case: Case, old: dict | None) -> None:
        """Reuse, build or skip one case; its entry enters the metadata (saved) once its arrays
        are completely written."""
        signature, report = _source_signature(case), self.report
        if _reusable(self.cache_dir, old, signature):
            if self.strict and old.get("warnings"):
                self.save()
                raise DataError(strict_error(old["warnings"][0]))
            self.meta["cases"][case.case_id] = old
            report.reused.append(case.case_id)
            report.warnings += old.get("warnings", [])
            return
        if not case.has_seg:  # not training data; always left out, and said so
            return self.skip(case.case_id, _no_seg(case), signature)
        warnings: list[str] = []
        try:
            images, labels, z = case_slices(case, self.settings, self.strict, warnings)
        except DataError as exc:
            if not self.skip_bad:
                self.save()
                raise DataError(
                    tr("{error}\n(re-run with --skip-bad to leave this case out)", error=exc)
                ) from None
            return self.skip(case.case_id, exc, signature, bad=True)
        if not len(images):  # (a tumour-free case, no tumour-free slice asked for)
            share = self.settings.tumour_free_fraction
            why = tr(
                "no slice to keep (no tumour slice, and a tumour-free share of {share:g})",
                share=share,
            )
            return self.skip(case.case_id, why, signature)
        tumour = (labels > 0).sum(axis=(1, 2)).tolist()
        entry = {k: f"cases/{case.case_id}.{k}.npy" for k in ("images", "labels")}
        entry |= {
            "source": signature,
            "grade": case.grade,
            "z": z.tolist(),
            "tumour_pixels": tumour,
        }
        entry |= {"shape": list(images.shape), "warnings": warnings}
        try:
            for key, array in (("images", images), ("labels", labels)):
                save_npy(self.cache_dir / entry[key], array)
                entry[f"{key}_bytes"] = (self.cache_dir / entry[key]).stat().st_size
        except OSError as exc:
            if not disk_full(exc):
                raise
            with contextlib.suppress(OSError):  # a disk full to the last byte: saved per case
                self.save()  # the cases written so far stay, the cache still says incomplete
            raise DataError(self._disk_full(case.case_id, images.nbytes + labels.nbytes)) from None
        report.warnings += warnings
        self.meta["cases"][case.case_id] = entry
        report.built.append(case.case_id)
        self.save()

    def _disk_full(self, case_id: str, nbytes: int) -> str:
        """What a full disk stops: this case's arrays, about as much for each case left."""
        done = len(self.report.built) + len(self.report.reused) + len(self.report.skipped)
        left = max(self.total - done, 1)
        free = free_space(self.cache_dir) or 0
        if in_notebook():
            return tr(
                "{cache_dir}: the disk is full while writing the slice cache ({free} free). Free "
                "some space (downloads, old caches), then re-run the cell: the cases already "
                "cached are kept.",
                cache_dir=self.cache_dir,
                free=size_text(free),
            )
        return tr(
            "the disk of {cache_dir} is full: the slice cache needs about {per_case} per case "
            "({case_id}), {needed} for the {left} case(s) left, and {free} is free. Free some "
            "space (delete downloads, old runs or caches you no longer use) or choose a cache "
            "folder on another disk, then run again: the cases already cached are kept",
            cache_dir=self.cache_dir,
            per_case=size_text(nbytes),
            case_id=case_id,
            needed=size_text(nbytes * left),
            left=left,
            free=size_text(free),
        )

    def finish(self, data) -> None:
        """Refuse a run that kept no case; remove the arrays of cases that are gone; mark the
        cache complete."""
        cases = self.meta["cases"]
        if not cases:  # (a set without any seg file was refused before anything was written)
            self.save()
            reasons = list(self.report.skipped.values())
            fields = {"data": data, "count": len(reasons), "reasons": tr("; ").join(reasons[:3])}
            if len(reasons) > 3:
                raise DataError(
                    tr(
                        "{data}: no usable case, all {count} were skipped: {reasons}; and {more} "
                        "more",
                        more=len(reasons) - 3,
                        **fields,
                    )
                )
            raise DataError(
                tr("{data}: no usable case, all {count} were skipped: {reasons}", **fields)
            )
        keep = {n for e in cases.values() for n in _arrays(e)}
        for name in self.written - keep:  # only arrays a cache of the folder wrote: --force
            (self.cache_dir / name).unlink(missing_ok=True)  # into a folder deletes nothing else
        self.meta["complete"] = True
        self.save()


def _no_seg(case: Case) -> str:
    """Why a case without its seg file is left out, naming the file expected."""
    name = case.expected_path("seg").name
    if in_notebook():
        return tr(
            "no seg file ({name} expected): without its labels the case cannot train; it is "
            "left out",
            name=name,
        )
    return tr(
        "no seg file ({name} expected; prediction only: `unet-tp predict --data DIR` segments it)",
        name=name,
    )


def load_cache_meta(cache_dir: str | os.PathLike[str]) -> dict:
    """Metadata of a complete cache (a DataError for a folder that is not a cache or whose
    preparation did not finish)."""
    cache_dir = Path(cache_dir).expanduser()
    meta = _read_meta(cache_dir)
    if meta is None and in_notebook():
        raise DataError(
            tr(
                "{cache_dir}: not a slice cache: give the cache_dir the data cell made "
                "(cache_dir = prepare_slices(data, config)); re-run the data cell if it is gone",
                cache_dir=cache_dir,
            )
        )
    if meta is None:
        raise DataError(
            tr(
                "{cache_dir}: not a slice cache (run `unet-tp data prepare DATA --cache "
                "{cache_dir}`)",
                cache_dir=cache_dir,
            )
        )
    if not meta.get("complete") and in_notebook():
        raise DataError(
            tr(
                "{cache_dir}: the slice cache is incomplete (its preparation stopped); re-run "
                "the data cell to finish it",
                cache_dir=cache_dir,
            )
        )
    if not meta.get("complete"):
        raise DataError(
            tr(
                "{cache_dir}: the slice cache is incomplete (its preparation stopped); re-run "
                "`unet-tp data prepare` to finish it",
                cache_dir=cache_dir,
            )
        )
    return meta


def default_cache_dir(data: str | os.PathLike[str], settings: CacheSettings) -> Path:
    """Slice-cache folder of a data folder and settings; data inside the kit's home is named by
    its relative path, so a copied home keeps its caches (the grader copies one per notebook)."""
    home, data = unet_tp_home().resolve(), Path(data).resolve()
    where = data.relative_to(home).as_posix() if data.is_relative_to(home) else str(data)
    key = hashlib.sha1(json.dumps([where, settings.to_json()], sort_keys=True).encode()).hexdigest()
    return unet_tp_home() / "slices" / key[:12]


def split_patients(
    cache_dir: str | os.PathLike[str], val_fraction: float, seed: int, source: object = None
) -> tuple[list[str], list[str]]:
    """Training and validation patient ids of a cache (by patient, stratified by HGG/LGG); a
    DataError for fewer than 2 patients (named by ``source``, default the cache folder)."""
    meta = load_cache_meta(cache_dir)
    ids = sorted(meta["cases"])
    if (patients := len({patient_of(c) for c in ids})) < 2 and in_notebook():
        raise DataError(  # (a complete cache holds a case: one patient)
            tr(
                "{source}: only one usable patient; at least 2 are needed (one for validation): "
                "{step}",
                source=source or meta.get("source") or cache_dir,
                step=_more_patients(meta),
            )
        )
    if patients < 2:
        raise DataError(
            tr(
                "{source}: {cases} case(s) of {patients} patient(s); training needs at least 2 "
                "patients (one held out)",
                source=source or cache_dir,
                cases=len(ids),
                patients=patients,
            )
        )
    grades = [meta["cases"][c].get("grade") for c in ids]
    return split_cases(ids, val_fraction, seed, grades)


def _more_patients(meta: dict) -> str:
    """What a student can do about a cache of one patient, from where its cases came: the sample
    cases, a case's own folder (DRIVE_FOLDER set to it: named as its only case), or a folder of
    cases."""
    source = Path(meta.get("source", ""))
    if source.is_relative_to(default_sample_dir().parent.resolve()):
        return tr("raise sample_count")
    if {source.name} == set(meta["cases"]) | set(meta.get("skipped", {})):
        return tr(
            "it holds one case: set DRIVE_FOLDER to the folder holding the case folders, not to "
            "a case's folder"
        )
    return tr("add cases to it, or fix those skipped above")


class SliceDataset(Dataset):
    """The slices of a prepared cache (of ``case_ids``, default all) as ``(image, label)``
    tensors, float32 ``(4, H, W)`` z-scored and int64 ``(H, W)`` classes 0..3, through
    ``transform(image, label)`` if given; at most ``max_open`` cases memory-mapped at once."""

    def __init__(
        self,
        cache_dir: str | os.PathLike[str],
        case_ids: Sequence[str] | None = None,
        transform: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
        | None = None,
        max_open: int = 8,
    ) -> None:
        self.cache_dir = Path(cache_dir).expanduser()
        self.meta = load_cache_meta(self.cache_dir)
        available = self.meta["cases"]
        if case_ids is None:
            case_ids = sorted(available)
        missing = [c for c in case_ids if c not in available]
        if missing:
            raise DataError(
                tr(
                    "{cache_dir}: cases not in the cache: {cases}",
                    cache_dir=self.cache_dir,
                    cases=", ".join(missing[:5]),
                )
            )
        self.case_ids = list(case_ids)
        self.transform = transform
        self.max_open = max_open
        # One row per slice: (case number, row in that case's arrays)
        rows = [
            (i, r) for i, c in enumerate(self.case_ids) for r in range(available[c]["shape"][0])
        ]
        self.index = np.array(rows, dtype=np.int64).reshape(-1, 2)
        self._open: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def __len__(self) -> int:
        return len(self.index)

    def __getstate__(self) -> dict:
        # DataLoader workers get their own maps.
        state = self.__dict__.copy()
        state["_open"] = OrderedDict()
        return state

    def _arrays(self, case_number: int) -> tuple[np.ndarray, np.ndarray]:
        if case_number in self._open:
            self._open.move_to_end(case_number)
            return self._open[case_number]
        entry = self.meta["cases"][self.case_ids[case_number]]
        arrays = tuple(
            np.load(self.cache_dir / entry[k], mmap_mode="r") for k in ("images", "labels")
        )
        self._open[case_number] = arrays
        while len(self._open) > self.max_open:
            self._open.popitem(last=False)  # dropping the memmap unmaps its pages
        return arrays

    def slice_info(self, i: int) -> tuple[str, int]:
        """``(case_id, z)`` of item ``i``: the patient and the axial index in the volume."""
        case_number, row = self.index[i]
        case_id = self.case_ids[case_number]
        return case_id, int(self.meta["cases"][case_id]["z"][row])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        case_number, row = self.index[i]
        images, labels = self._arrays(int(case_number))
        image = torch.from_numpy(np.array(images[row], dtype=np.float32))
        label = torch.from_numpy(np.array(labels[row], dtype=np.int64))
        if self.transform is not None:
            image, label = self.transform(image, label)
        return image, label

    def tumour_pixels(self) -> np.ndarray:
        """Tumour pixel count of every item (for sampling or picking slices to show)."""
        per_case = [self.meta["cases"][c]["tumour_pixels"] for c in self.case_ids]
        return np.array([per_case[ci][row] for ci, row in self.index], dtype=np.int64)
