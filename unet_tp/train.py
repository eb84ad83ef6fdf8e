"""Training and evaluation: fit a segmentation network on the slice cache, score it in 3D.

Any ``nn.Module`` mapping ``(N, 4, H, W)`` to ``(N, 4, H, W)`` logits (the students' U-Net, the
reference one). In small steps, as nnU-Net's trainer: :func:`fit` runs the epochs; each is
:func:`epoch_loader` (its data order depends only on ``(seed, epoch)``, so a resumed run retraces
the uninterrupted one), :func:`train_epoch` (one step function per batch: the notebook's
``train_step`` or :class:`AmpTrainStep`) and :func:`validate` (loss, Dice WT/TC/ET per patient);
the learning rate follows :func:`cosine_schedule`; checkpoints are :mod:`unet_tp.checkpoint`,
prediction's preprocessing the cache's (:mod:`unet_tp.preprocess`). On CUDA: mixed precision
(bf16 from compute capability 8, else fp16 with a GradScaler) and channels_last, with torch's own
tools rather than Lightning Fabric: the loop is short, the students read it, and their Colab
install stays torch alone.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader, Dataset, RandomSampler

from unet_tp.checkpoint import (  # noqa: F401 - re-exported
    RunState,
    load_checkpoint,
    load_weights,
    run_settings,
    save_checkpoint,
    unwrap,
)
from unet_tp.checkpoint import resume as resume_run
from unet_tp.conventions import NUM_CLASSES, REGIONS, region_classes, to_brats_labels
from unet_tp.data.cache import CacheSettings
from unet_tp.data.cases import CaseVolumes, load_case
from unet_tp.device import amp_dtype
from unet_tp.fileio import save_json
from unet_tp.losses import LossFn, loss_by_name
from unet_tp.metrics import brats_metrics, dice_from_counts
from unet_tp.precision import student_step
from unet_tp.preprocess import Grid, brain_slices, network_images, normalise
from unet_tp.progress import progress_bar
from unet_tp.settings import PRESETS, TrainConfig, preset_config  # noqa: F401 - re-exported

TrainStep = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.optim.Optimizer, LossFn], float]


def _seeded(seed: int, epoch: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch * 101 + stream)


def _autocast(device: torch.device, enabled: bool = True):
    dtype = amp_dtype(device) if enabled else None
    return nullcontext() if dtype is None else torch.autocast(device_type=device.type, dtype=dtype)


def _prepare_batch(images, labels, device, channels_last):
    images = images.to(device, non_blocking=True)
    if channels_last and device.type == "cuda":
        images = images.contiguous(memory_format=torch.channels_last)
    return images, labels.to(device, non_blocking=True)


def _is_main() -> bool:
    return not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0


@contextlib.contextmanager
def torch_settings(deterministic: bool, device: torch.device) -> Iterator[None]:
    """Set torch's global switches for a training run, and put them back on exit (a notebook
    keeps its interpreter: a later cell must not inherit them).

    ``deterministic``: deterministic algorithms (bit-identical reruns); else, on CUDA, cuDNN
    benchmarking (the slice size is fixed: cuDNN picks the fastest kernels once).
    """
    benchmark, cublas = torch.backends.cudnn.benchmark, os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    algorithms = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    try:
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS determinism
            torch.backends.cudnn.benchmark = False
            torch.use_deterministic_algorithms(True, warn_only=True)
        elif device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        yield
    finally:
        torch.backends.cudnn.benchmark = benchmark
        torch.use_deterministic_algorithms(algorithms[0], warn_only=algorithms[1])
        os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        if cublas is not None:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = cublas


def cosine_schedule(optimizer: torch.optim.Optimizer, epochs: int) -> LambdaLR:
    """Cosine decay of the learning rate over the epochs, stepped once per epoch: epoch ``e``
    runs at ``lr * (1 + cos(pi e / epochs)) / 2``."""
    return LambdaLR(optimizer, lambda e: 0.5 * (1 + math.cos(math.pi * e / max(epochs, 1))))


class AmpTrainStep:
    """The reference ``train_step`` (zero the gradients, forward, loss, backward, update) with
    mixed precision on CUDA: the forward under autocast, the loss in float32, a GradScaler for
    fp16 (:attr:`scaler`, saved in checkpoints). Called as the notebook's ``train_step(model,
    images, labels, optimizer, loss_fn)``; returns the batch's loss (a non-finite one before any
    update: :func:`train_epoch` stops on it).
    """

    def __init__(self, device: torch.device, amp: bool = True):
        self.device, self.amp = device, amp
        use_scaler = amp and amp_dtype(device) == torch.float16
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None

    def __call__(self, model, images, labels, optimizer, loss_fn) -> float:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        with _autocast(self.device, self.amp):
            logits = model(images)
        loss = loss_fn(logits.float(), labels)
        value = loss.item()
        if not math.isfinite(value):
            return value
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            loss.backward()
            optimizer.step()
        return value


def training_step(
    train_step: TrainStep | None, device: torch.device, amp: bool
) -> TrainStep | AmpTrainStep:
    """The one step function of a run: the notebook's block (f) in half precision where the GPU
    has it (:func:`unet_tp.precision.student_step`: fp16 with a gradient scaler on a T4, bf16 from
    compute capability 8; the student's code unchanged), or :class:`AmpTrainStep`."""
    if train_step is None:
        return AmpTrainStep(device, amp)
    return student_step(train_step, device, amp)


class Budget:
    """A run's time budget: times the first epoch, says what the run costs and what the budget
    allows, and stops the run before an epoch would go past it."""

    def __init__(self, minutes: float | None, epochs: int, start: int):
        self.minutes, self.epochs, self.start = minutes, epochs, start
        self.t0 = time.perf_counter()

    def stop_after(self, epoch: int, progress: bool = True) -> bool:
        """After epoch ``epoch`` (0-based): True when the next one would end past the budget."""
        spent = time.perf_counter() - self.t0
        per_epoch = spent / (epoch + 1 - self.start)
        if epoch == self.start and progress:
            line = f"epoch {epoch + 1} took {_duration(per_epoch)}: {self.epochs} epochs = "
            line += _duration(per_epoch * (self.epochs - self.start))
            if self.minutes is not None:
                allowed = self.start + int(self.minutes * 60 // per_epoch)
                allowed = min(max(allowed, self.start + 1), self.epochs)
                line += f"; the budget of {self.minutes:g} min allows {allowed}"
            print(line)
        if self.minutes is None or epoch + 1 >= self.epochs:
            return False
        return spent + per_epoch > self.minutes * 60


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _score(record: dict) -> float:
    """What "best" means for a checkpoint: the mean validation Dice, else minus the loss."""
    dice = [record[k] for k in ("dice_wt", "dice_tc", "dice_et") if k in record]
    return float(np.mean(dice)) if dice else -record.get("val_loss", record["train_loss"])


def epoch_loader(train_set: Dataset, config: TrainConfig, device: torch.device, epoch: int):
    """The shuffled training batches of ``epoch``: the order depends only on ``(seed, epoch)``
    (a DistributedSampler's share of it under torchrun)."""
    if torch.distributed.is_initialized():
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(train_set, shuffle=True, seed=config.seed)
        sampler.set_epoch(epoch)
        generator, drop_last = None, True
    else:
        generator = _seeded(config.seed, epoch, 0)
        sampler = RandomSampler(train_set, generator=generator)
        drop_last = len(train_set) > config.optim.batch_size
    return DataLoader(
        train_set,
        batch_size=config.optim.batch_size,
        sampler=sampler,
        generator=generator,
        drop_last=drop_last,
        num_workers=config.optim.num_workers,
        pin_memory=device.type == "cuda",
    )


def train_epoch(
    model: nn.Module,
    loader: DataLoader,
    step: Callable[..., float],
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    config: TrainConfig,
    device: torch.device,
    epoch: int,
    progress: bool = True,
) -> float:
    """One pass over ``loader`` (random left-right flips when ``config.optim.augment``, seeded by
    ``(seed, epoch)``); returns the mean training loss.

    Raises:
        FloatingPointError: the loss became NaN or infinite.
    """
    flips, optim = _seeded(config.seed, epoch, 1), config.optim
    model.train()
    running, seen = 0.0, 0
    bar = progress_bar(
        loader, f"epoch {epoch + 1}/{optim.epochs}", enabled=progress and _is_main(), leave=False
    )
    for images, labels in bar:
        if optim.augment:
            flip = torch.rand(len(images), generator=flips) < 0.5
            images[flip] = images[flip].flip(-1)
            labels[flip] = labels[flip].flip(-1)
        images, labels = _prepare_batch(images, labels, device, optim.channels_last)
        value = step(model, images, labels, optimizer, loss_fn)
        if not math.isfinite(value):
            raise FloatingPointError(
                f"epoch {epoch + 1}: the loss became {value}; check the loss or lower the "
                "learning rate (--lr)"
            )
        running += value * len(images)
        seen += len(images)
        bar.set_postfix(loss=f"{running / seen:.4f}")
    return running / max(seen, 1)


def _patients(dataset: Dataset) -> tuple[list[str], torch.Tensor]:
    """The patients of ``dataset`` and the patient number of each item (one patient, "all",
    for a dataset without ``slice_info``)."""
    if not hasattr(dataset, "slice_info"):
        return ["all"], torch.zeros(len(dataset), dtype=torch.long)
    names = [dataset.slice_info(i)[0] for i in range(len(dataset))]
    order = list(dict.fromkeys(names))
    number = {n: i for i, n in enumerate(order)}
    return order, torch.tensor([number[n] for n in names], dtype=torch.long)


def region_counts(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``(N, regions, 3)`` counts ``[intersection, predicted, true]`` of each BraTS region
    (:func:`unet_tp.conventions.region_classes`) on each of ``N`` class maps, in one pass."""
    rows = []
    for classes in region_classes().values():
        lab = torch.tensor(classes, device=pred.device)
        pm, tm = torch.isin(pred, lab).flatten(1), torch.isin(target, lab).flatten(1)
        rows.append(torch.stack([(pm & tm).sum(1), pm.sum(1), tm.sum(1)], dim=-1))
    return torch.stack(rows, dim=1)


@torch.no_grad()
def validate(
    model: nn.Module,
    dataset: Dataset,
    loss_fn: LossFn,
    device: torch.device,
    batch_size: int = 16,
    amp: bool = True,
    channels_last: bool = True,
) -> dict[str, float]:
    """Validation loss and Dice WT/TC/ET per patient over the cached slices of ``dataset``.

    Dice is computed per patient by summing region counts over that patient's slices (not per
    slice, batch by batch on the device), then averaged over patients. Only the cached slices
    count (every tumour slice and a share of the others); :func:`evaluate_cases` scores whole
    volumes.
    """
    model.eval()
    names, patient_of = _patients(dataset)
    counts = torch.zeros((len(names), len(REGIONS), 3), dtype=torch.long, device=device)
    total, n = 0.0, 0
    for images, labels in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        images, labels = _prepare_batch(images, labels, device, channels_last)
        with _autocast(device, amp):
            logits = model(images)
        total += float(loss_fn(logits.float(), labels)) * len(images)
        who = patient_of[n : n + len(images)].to(device)
        counts.index_add_(0, who, region_counts(logits.argmax(dim=1), labels))
        n += len(images)
    c = counts.cpu().numpy()
    d = dice_from_counts(c[..., 0], c[..., 1], c[..., 2]).mean(0) if n else [float("nan")] * 3
    return {
        "val_loss": total / max(n, 1),
        **{f"dice_{r}": float(v) for r, v in zip(REGIONS, d, strict=True)},
    }


def _print_epoch(record: dict, epochs: int) -> None:
    dice = " ".join(
        f"{r.upper()} {record[f'dice_{r}']:.3f}" for r in REGIONS if f"dice_{r}" in record
    )
    vl = f" val loss {record['val_loss']:.4f}" if "val_loss" in record else ""
    print(
        f"epoch {record['epoch']}/{epochs}: loss {record['train_loss']:.4f}{vl} Dice {dice} "
        f"({record['seconds']:.0f} s)"
    )


def fit(
    model: nn.Module,
    train_set: Dataset,
    val_set: Dataset | None,
    config: TrainConfig,
    out_dir: str | os.PathLike[str] | None = None,
    loss_fn: LossFn | None = None,
    resume: bool = False,
    state: RunState | None = None,
    device: torch.device | None = None,
    progress: bool = True,
    train_step: TrainStep | None = None,
) -> list[dict]:
    """Train ``model``; returns the history, one dict per epoch (also written to
    ``out_dir/history.json`` after every epoch).

    Args:
        model: the network (possibly wrapped in DistributedDataParallel).
        train_set, val_set: training and validation slices (e.g.
            :class:`unet_tp.data.cache.SliceDataset`); ``val_set`` may be None.
        config: the run's settings (:class:`unet_tp.settings.TrainConfig`).
        out_dir: where ``checkpoint.pt`` and ``history.json`` go (None: nowhere).
        loss_fn: ``f(logits, target) -> loss``; default ``config.optim.loss``
            (:func:`unet_tp.losses.loss_by_name`).
        resume: continue from ``out_dir/checkpoint.pt``; ``state``: run metadata for checkpoints.
        device: where to train, chosen once by the caller (:func:`unet_tp.device.run_device`);
            default: where the model's weights are. ``progress``: tqdm bars.
        train_step: ``train_step(model, images, labels, optimizer, loss_fn) -> float``, the
            notebook's block (f), the step of every batch (:func:`training_step`); default
            :class:`AmpTrainStep`.

    Example:
        >>> history = fit(UNet(base_channels=8), train, val, preset_config("tiny"))  # doctest: +SKIP
        >>> history[-1]["dice_wt"]  # doctest: +SKIP
        0.71
    """
    optim = config.optim
    device = device or next(model.parameters()).device
    loss_fn = loss_fn or loss_by_name(optim.loss)
    out = Path(out_dir) if out_dir is not None else None
    state = state or RunState(config, {}, "", None)
    state.config = state.config.for_model(unwrap(model))
    with torch_settings(optim.deterministic, device):
        optimizer, scheduler, step = _set_up(model, config, device, train_step)
        scaler = getattr(step, "scaler", None)
        start = 0
        if resume:
            start, state.history = resume_run(out, model, optimizer, scheduler, scaler)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        budget = Budget(optim.time_budget_minutes, optim.epochs, start)
        for epoch in range(start, optim.epochs):
            args = (model, step, optimizer, loss_fn, config, device, epoch, progress)
            state.history.append(_epoch(train_set, val_set, *args))
            scheduler.step()
            checkpoint = (model, optimizer, scaler, epoch)
            if _after_epoch(state, out, progress, checkpoint, budget, device):
                break
    return state.history


def _after_epoch(
    state: RunState, out: Path | None, progress: bool, checkpoint, budget, device
) -> bool:
    """The epoch's line and checkpoints (main process); True to stop at the time budget, the
    best epoch's weights then loaded."""
    model, epoch = checkpoint[0], checkpoint[-1]
    if _is_main():
        _end_epoch(state.history[-1], state, out, progress, checkpoint)
    if _agreed(budget.stop_after(epoch, progress and _is_main()), device):
        _keep_best(model, state, out, progress)
        return True
    return False


def _agreed(stop: bool, device: torch.device) -> bool:
    """The main process's decision, for every process of a torchrun (their clocks differ)."""
    if not torch.distributed.is_initialized():
        return stop
    flag = torch.tensor([float(stop)], device=device)
    torch.distributed.broadcast(flag, 0)
    return bool(flag.item())


def _keep_best(model: nn.Module, state: RunState, out: Path | None, progress: bool) -> None:
    """At the time budget: the best epoch's weights back into ``model`` (from ``best.pt``)."""
    best = max(state.history, key=_score)
    if out is not None and (out / "best.pt").exists():
        unwrap(model).load_state_dict(load_checkpoint(out / "best.pt")["model"])
    if progress and _is_main():
        print(
            f"stopped at the time budget after epoch {state.history[-1]['epoch']} of "
            f"{state.config.optim.epochs}; the best epoch ({best['epoch']}) is kept"
            + (f" in {out / 'best.pt'} and loaded" if out is not None else "")
            + "; resuming the run trains further"
        )


def _set_up(model: nn.Module, config: TrainConfig, device: torch.device, train_step):
    """The model on ``device``; Adam, its cosine schedule and the run's step function."""
    model.to(device)
    if config.optim.channels_last and device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optim.lr)
    step = training_step(train_step, device, config.optim.amp)
    return optimizer, cosine_schedule(optimizer, config.optim.epochs), step


def _epoch(
    train_set, val_set, model, step, optimizer, loss_fn, config, device, epoch, progress
) -> dict:
    """Train one epoch, then validate (main process only): the epoch's history record."""
    t0, o = time.perf_counter(), config.optim
    loader = epoch_loader(train_set, config, device, epoch)
    loss = train_epoch(model, loader, step, optimizer, loss_fn, config, device, epoch, progress)
    record = {"epoch": epoch + 1, "train_loss": loss, "lr": optimizer.param_groups[0]["lr"]}
    if val_set is not None and _is_main():
        record |= validate(
            unwrap(model), val_set, loss_fn, device, o.batch_size, o.amp, o.channels_last
        )
    record["seconds"] = time.perf_counter() - t0
    return record


def _end_epoch(record: dict, state: RunState, out: Path | None, progress: bool, checkpoint) -> None:
    """Print the epoch's line; write the checkpoint (and ``best.pt`` when the epoch is the best so
    far) and ``history.json`` (main process only)."""
    if progress:
        _print_epoch(record, state.config.optim.epochs)
    if out is not None:
        save_checkpoint(out / "checkpoint.pt", *checkpoint, state)
        if max(state.history, key=_score) is record:  # the best epoch so far
            save_checkpoint(out / "best.pt", *checkpoint, state)
        save_json(out / "history.json", state.history, indent=1)


@torch.no_grad()
def predict_volume(
    model: nn.Module,
    volumes: CaseVolumes,
    settings: Grid | CacheSettings | TrainConfig,
    device: torch.device | None = None,
    batch_size: int = 16,
    amp: bool = True,
    predict_fn: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
) -> np.ndarray:
    """Segment a whole case slice by slice; returns BraTS labels in the working orientation.

    The case goes through the training preprocessing (:mod:`unet_tp.preprocess`: normalised,
    every axial slice holding brain put on the network's grid), and predictions are mapped back
    to the full slice; slices without brain are background.

    Args:
        settings: the network's input grid: a :class:`~unet_tp.preprocess.Grid`, or settings
            holding one (``CacheSettings``, ``TrainConfig``).
        predict_fn: ``predict_fn(model, images) -> classes (N, H, W)``, the notebook's block (g);
            default: the argmax of the logits.
    """
    grid = Grid.of(settings)
    device = device or next(model.parameters()).device
    model.eval()
    image, mask = normalise(volumes.image)
    _, height, width, depth = image.shape
    classes = np.zeros((height, width, depth), dtype=np.uint8)
    zs = brain_slices(mask)
    for start in range(0, len(zs), batch_size):
        z = zs[start : start + batch_size]
        x = network_images(image, z, grid)
        x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)
        if predict_fn is None:
            with _autocast(device, amp):
                logits = model(x)
        else:  # classes from the student's function, resized as one-hot maps
            classes_small = predict_fn(model, x).long()
            logits = F.one_hot(classes_small, NUM_CLASSES).movedim(-1, 1).float()
        pred = grid.from_network(logits.float(), height, width)
        classes[..., z] = np.moveaxis(pred.cpu().numpy().astype(np.uint8), 0, -1)
    return to_brats_labels(classes)


def evaluate_cases(
    model: nn.Module,
    cases: Sequence,
    settings: Grid | CacheSettings | TrainConfig,
    device: torch.device | None = None,
    progress: bool = True,
) -> dict[str, dict[str, float]]:
    """BraTS metrics of every case (:class:`unet_tp.data.Case` with a seg), on whole 3D volumes."""
    results = {}
    for case in progress_bar(cases, "evaluating", enabled=progress, unit="case"):
        vol = load_case(case, with_seg=True)
        pred = predict_volume(model, vol, settings, device)
        results[case.case_id] = brats_metrics(pred, vol.seg)
    return results
