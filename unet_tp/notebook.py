"""What the student notebook's set-up and data cells call, one call per step.

:func:`notebook_config` (which settings) -> :func:`get_data` (a course pack, or NIfTI cases: sample,
Kaggle, Drive or a download) -> :func:`prepare_slices` (the slice cache: the pack's, or built from
the cases) -> :func:`split_datasets` (training and validation Datasets, split by patient) ->
:func:`cached_patient` / :func:`predict_patient` (a validation patient's slices, segmented).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

import numpy as np
import torch

from unet_tp import checks
from unet_tp.conventions import to_brats_labels
from unet_tp.data.cache import (
    CacheSettings,
    SliceDataset,
    default_cache_dir,
    load_cache_meta,
    prepare_cache,
    split_patients,
)
from unet_tp.data.cases import Case, CaseVolumes, DataError, find_cases, scan_cases
from unet_tp.data.download import DownloadError
from unet_tp.device import in_colab
from unet_tp.fileio import os_error_message, unet_tp_home
from unet_tp.i18n import notebook_step, set_language, tr
from unet_tp.preprocess import Grid
from unet_tp.progress import case_progress
from unet_tp.settings import TrainConfig, preset_config

P = ParamSpec("P")
R = TypeVar("R")
DATA_SOURCES = ("pack", "sample", "kaggle", "drive", "msd", "download")
# Settings given from outside the notebook (the grader: tiny, sample, 4 cases: seconds of training)
PRESET_ENV, SOURCE_ENV, SAMPLES_ENV = (
    "UNET_TP_PRESET",
    "UNET_TP_DATA_SOURCE",
    "UNET_TP_SAMPLE_CASES",
)
# Minutes of training, leaving the rest of a three-hour session to the blanks and the questions
TIME_BUDGETS = {"colab-t4": 45, "notebook-cpu": 10}


def notebook_config(device: torch.device, language: str | None = None) -> tuple[str, TrainConfig]:
    """``(preset name, settings)`` here: ``$UNET_TP_PRESET``, else ``notebook-cpu`` without a GPU
    and ``colab-t4`` with one, with its :data:`TIME_BUDGETS`; ``language`` (``"en"``, ``"fr"``) is
    that of the self-checks' messages."""
    if language is not None:
        set_language(language)
    name = os.environ.get(PRESET_ENV) or ("colab-t4" if device.type == "cuda" else "notebook-cpu")
    return name, preset_config(name, loss="ce", time_budget_minutes=TIME_BUDGETS.get(name))


class NotebookError(DataError):
    """A notebook step that failed for a reason its message says in full (a missing folder, a
    full disk, a damaged archive): shown in the notebook as one line, without a traceback."""

    def __init__(self, message: str, kind: str = "DataError") -> None:
        super().__init__(message)
        self.kind = kind

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of the traceback
        return [f"{self.kind}: {self}"]


def _one_line(step: Callable[P, R]) -> Callable[P, R]:
    """``step`` with the kit's errors (bad data, downloads, settings, the file system) raised as
    a :class:`NotebookError`; any other error (a bug) keeps its traceback."""

    @functools.wraps(step)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with notebook_step():  # the messages: steps a student takes in the notebook
                return step(*args, **kwargs)
        except NotebookError:
            raise
        except OSError as exc:
            raise NotebookError(os_error_message(exc), type(exc).__name__) from exc
        except (DataError, DownloadError) as exc:
            raise NotebookError(str(exc), type(exc).__name__) from exc
        except ValueError as exc:
            if not _raised_by_the_kit(exc):  # numpy's or torch's, from a bug: its traceback
                raise
            raise NotebookError(str(exc), type(exc).__name__) from exc

    return run


def _raised_by_the_kit(exc: BaseException) -> bool:
    """Whether ``exc`` was raised in the kit's own code (a setting it checks) or by nibabel (a
    file it cannot read), not deeper (a bug: a shape numpy cannot broadcast)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return True
    import nibabel

    where = Path(tb.tb_frame.f_code.co_filename).resolve()
    kit, reader = Path(__file__).resolve().parent, Path(nibabel.__file__).resolve().parent
    return where.is_relative_to(kit) or where.is_relative_to(reader)


@dataclass
class NotebookData:
    """Where the data is: NIfTI cases (``data_dir``) or a course pack's cache (``cache_dir``)."""

    data_dir: Path | None
    source: str
    num_cases: int
    cache_dir: Path | None = None
    cases: list[Case] | None = None  # these cases of data_dir only (default: all)


def _fetch(source: str, drive_folder: str | None, url: str | None) -> Path:
    from unet_tp.data import download
    from unet_tp.sources import sources

    if source == "kaggle":
        return download.fetch_kaggle(unet_tp_home() / "kaggle", sources()["kaggle"].url)
    if source == "drive":
        if not drive_folder:
            raise ValueError(tr("set DRIVE_FOLDER to the Drive folder holding your BraTS cases"))
        if in_colab() and not Path("/content/drive/MyDrive").exists():
            from google.colab import drive  # type: ignore[import-not-found]

            drive.mount("/content/drive")
        folder = download.use_archive_or_folder(drive_folder, unet_tp_home() / "drive")
        if not scan_cases(folder).cases and download.msd_task(folder) is not None:
            # the Decathlon's Task01 (4D images): converted once to the local disk, as "msd"
            return download.fetch_dataset(str(folder), unet_tp_home() / "drive" / "msd", "msd")
        return folder
    src = sources()["msd" if source == "msd" else "brats2019"]
    if (url := url or src.url) is None:
        raise ValueError(
            tr(
                "no BraTS 2019 URL is configured: ask your instructor for it, then set "
                "os.environ['UNET_TP_BRATS_URL'] (or use DATA_SOURCE = 'kaggle', 'drive' or "
                "'sample')"
            )
        )
    home = unet_tp_home() / src.name
    return download.fetch_dataset(url, home, src.layout, sha256=src.sha256, md5=src.md5)


@_one_line
def get_data(
    source: str = "sample",
    drive_folder: str | None = None,
    sample_count: int = 8,
    url: str | None = None,
    pack_sha256: str | None = None,
) -> NotebookData:
    """Find (or fetch) the BraTS cases the notebook trains on.

    Args:
        source: ``"pack"`` (the course pack at ``url``, checked against ``pack_sha256``),
            ``"sample"`` (synthetic cases made offline), ``"kaggle"`` (the public Kaggle mirror of
            BraTS 2019, about 30 GB), ``"drive"`` (cases or a BraTS zip in ``drive_folder`` of
            your Google Drive), ``"msd"`` (the Decathlon's Task01, converted) or ``"download"``
            (``url``, default the archive of :mod:`unet_tp.sources`). ``$UNET_TP_DATA_SOURCE``
            and ``$UNET_TP_SAMPLE_CASES`` override the arguments.
        sample_count: how many sample cases.
    """
    given = "DATA_SOURCE" if not os.environ.get(SOURCE_ENV) else f"${SOURCE_ENV}"
    source = os.environ.get(SOURCE_ENV) or source
    if source not in DATA_SOURCES:
        raise ValueError(
            tr(
                "{given} must be one of {sources}, not {source}",
                given=given,
                sources=", ".join(DATA_SOURCES),
                source=repr(source),
            )
        )
    if source == "pack":
        from unet_tp.data.pack import open_pack

        if not url:
            raise ValueError(
                tr(
                    "no course pack is configured: set PACK_URL to the address your instructor "
                    "gave, or choose another DATA_SOURCE ('sample' works offline)"
                )
            )
        cache_dir = open_pack(url, expected_sha256=pack_sha256)
        return NotebookData(None, source, len(load_cache_meta(cache_dir)["cases"]), cache_dir)
    if source == "sample":
        from unet_tp.data.synth import case_name, sample_cases

        count = int(os.environ.get(SAMPLES_ENV) or sample_count)
        data_dir = sample_cases(cases=count)
        # the folder keeps the cases of an earlier, larger sample_count: these ones only
        names = {case_name(i) for i in range(count)}
        cases = [c for c in find_cases(data_dir) if c.case_id in names]
        return NotebookData(Path(data_dir), source, len(cases), cases=cases)
    data_dir = _fetch(source, drive_folder, url)
    return NotebookData(Path(data_dir), source, len(find_cases(data_dir)))


@_one_line
def prepare_slices(data: NotebookData | str | os.PathLike[str], config: TrainConfig) -> Path:
    """The slice cache: a pack's (its grid then ``config``'s), or one built from ``data``."""
    if isinstance(data, NotebookData) and data.cache_dir is not None:
        from unet_tp.data.pack import read_manifest, summarise

        manifest = read_manifest(data.cache_dir)
        grid = Grid(manifest["grid"]["crop"], manifest["grid"]["image_size"])
        if grid != config.grid:  # the instructor chose the pack's grid for the course
            side = grid.crop or 240  # (no resizing: the crop's size, or BraTS's 240)
            print(
                tr(
                    "the pack's grid (crop {crop}, size {size}) replaces the preset's",
                    crop=grid.crop if grid.crop is not None else tr("none"),
                    size=grid.image_size or tr("{side}, no resizing", side=side),
                )
            )
            config.grid = grid
        print(summarise(manifest, None, tr("course pack")))
        return data.cache_dir
    data_dir = data.data_dir if isinstance(data, NotebookData) else data
    settings = config.cache_settings()
    cache_dir = default_cache_dir(data_dir, settings)
    cases = data.cases if isinstance(data, NotebookData) else None
    report = prepare_cache(
        data_dir, cache_dir, settings, skip_bad=True, progress=case_progress(), cases=cases
    )
    print(report.summary())
    return cache_dir


@dataclass
class Split:
    """Training and validation slices, split by patient."""

    train_set: SliceDataset
    val_set: SliceDataset
    train_ids: list[str]
    val_ids: list[str]


@_one_line
def split_datasets(cache_dir: str | os.PathLike[str], config: TrainConfig) -> Split:
    """The cached patients as training and validation Datasets (stratified by grade)."""
    train_ids, val_ids = split_patients(cache_dir, config.sampling.val_fraction, config.seed)
    return Split(
        SliceDataset(cache_dir, train_ids), SliceDataset(cache_dir, val_ids), train_ids, val_ids
    )


@_one_line
def cached_patient(cache_dir: str | os.PathLike[str], case_id: str) -> CaseVolumes:
    """A patient's cached slices (every tumour slice, a share of the others) as a volume:
    ``image`` (4, H, W, n) on the network's grid, ``seg`` (H, W, n) BraTS labels."""
    cache_dir = Path(cache_dir)
    meta = load_cache_meta(cache_dir)
    if case_id not in meta["cases"]:  # a split from before the data cell was run again
        raise DataError(
            tr(
                "{cache_dir}: patient {case_id} is not in the slice cache (it holds {count} "
                "patients, changed since): run the data cell again (get_data, prepare_slices, "
                "split_datasets), then the cells after it",
                cache_dir=cache_dir,
                case_id=case_id,
                count=len(meta["cases"]),
            )
        )
    entry = meta["cases"][case_id]
    images = np.load(cache_dir / entry["images"]).astype(np.float32)  # (n, 4, H, W)
    labels = np.load(cache_dir / entry["labels"])  # (n, H, W), classes 0..3
    image, seg = np.moveaxis(images, 0, -1), to_brats_labels(np.moveaxis(labels, 0, -1))
    grid = CacheSettings.from_json(meta["settings"]).grid
    mm = (grid.crop or 240) / (grid.image_size or grid.crop or 240)  # BraTS voxels are 1 mm
    affine, z = np.diag([mm, mm, 1.0, 1.0]), tuple(entry["z"])  # (where each slice was: HD95)
    return CaseVolumes(case_id, image, seg, affine, image.shape[1:], slice_z=z)


@torch.no_grad()
def predict_patient(model, patient: CaseVolumes, predict_fn, device, batch_size: int = 16):
    """BraTS labels (H, W, n) of a :func:`cached_patient` by ``predict_fn(model, images)``."""
    slices, classes = np.moveaxis(patient.image, -1, 0), []
    stopped = tr("The evaluation stopped")
    for i in range(0, len(slices), batch_size):
        batch = slices[i : i + batch_size]
        with checks.answers_first(model, checks.EVALUATION_ANSWERS, stopped):
            out = predict_fn(model, torch.from_numpy(batch).to(device))
        out = out.cpu().numpy() if isinstance(out, torch.Tensor) else np.asarray(out)  # (NumPy's)
        classes.append(out.reshape(len(batch), *batch.shape[-2:]))  # a squeezed batch of one
    return to_brats_labels(np.moveaxis(np.concatenate(classes).astype(np.uint8), 0, -1))
