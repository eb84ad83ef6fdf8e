"""Training and evaluation: fit a segmentation network on the slice cache, score it in 3D.

Any ``nn.Module`` mapping ``(N, 4, H, W)`` to ``(N, 4, H, W)`` logits. In small steps, as
nnU-Net's trainer: :func:`fit` runs the epochs, each :func:`epoch_loader` (its order depends only on
``(seed, epoch)``, so a resumed run retraces the uninterrupted one), :func:`train_epoch` (one step
function per batch) and :func:`validate`. On CUDA: mixed precision and channels_last, with torch's
own tools (no Lightning Fabric: the students read the loop, and their install stays torch alone).
Checkpoints hold the weights, the optimizer and scaler states and the run's :class:`RunState`.
"""

from __future__ import annotations

import errno
import functools
import math
import numbers
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader, Dataset, RandomSampler

from unet_tp.conventions import NUM_CLASSES, REGIONS, region_classes, to_brats_labels
from unet_tp.data.cache import CacheSettings
from unet_tp.data.cases import CaseVolumes, DataError, load_case
from unet_tp.device import amp_dtype
from unet_tp.fileio import atomic_write, free_space, save_json
from unet_tp.i18n import in_notebook, tr
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


@contextmanager
def torch_settings(deterministic: bool, device: torch.device) -> Iterator[None]:
    """Torch's global switches for a run, put back on exit (a later notebook cell must not
    inherit them): deterministic algorithms, else cuDNN benchmarking on CUDA."""
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
    """Cosine decay, stepped once per epoch: epoch ``e`` at ``lr (1 + cos(pi e / epochs)) / 2``."""
    return LambdaLR(optimizer, lambda e: 0.5 * (1 + math.cos(math.pi * e / max(epochs, 1))))


def on_device(loss_fn: LossFn, device: torch.device) -> LossFn:
    """``partial(loss, weight=CLASS_WEIGHTS)`` with its tensors on ``device``: the training
    cell makes the weights on the CPU, where a GPU's labels cannot index them (honest round 21)."""
    if not isinstance(loss_fn, functools.partial):
        return loss_fn
    moved = {k: v.to(device) if torch.is_tensor(v) else v for k, v in loss_fn.keywords.items()}
    return functools.partial(loss_fn.func, *loss_fn.args, **moved)


def reference_step(model, images, labels, optimizer, loss_fn) -> float:
    """The reference ``train_step`` in float32 (zero the gradients, forward, loss, backward,
    update); returns the batch's loss (a non-finite one before any update)."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(model(images).float(), labels)
    value = loss.item()
    if math.isfinite(value):
        loss.backward()
        optimizer.step()
    return value


class Budget:
    """A run's time budget: times the first epoch, says what the run and the budget allow, and
    stops before an epoch would end past it."""

    def __init__(self, minutes: float | None, epochs: int, start: int):
        self.minutes, self.epochs, self.start = minutes, epochs, start
        self.t0 = time.perf_counter()

    def stop_after(self, epoch: int, progress: bool = True) -> bool:
        """After epoch ``epoch`` (0-based): True when the next one would end past the budget."""
        spent = time.perf_counter() - self.t0
        per_epoch = spent / (epoch + 1 - self.start)
        if epoch == self.start and progress:
            line = tr(
                "epoch {epoch} took {took}: {epochs} epochs = {total}",
                epoch=epoch + 1,
                took=_duration(per_epoch),
                epochs=self.epochs,
                total=_duration(per_epoch * (self.epochs - self.start)),
            )
            if self.minutes is not None:
                allowed = self.start + int(self.minutes * 60 // per_epoch)
                allowed = min(max(allowed, self.start + 1), self.epochs)
                line += tr(
                    "; the budget of {minutes:g} min allows {allowed}",
                    minutes=self.minutes,
                    allowed=allowed,
                )
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
    """The shuffled batches of ``epoch``, ordered by ``(seed, epoch)`` (torchrun: a share)."""
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


def _a_number(value: object) -> float:
    """The loss a training step returned, as a float; a tensor (``loss`` for ``loss.item()``) or
    anything else stops the epoch at its first step, saying so (honest round 38: a tensor failed
    only after the epoch, "Object of type Tensor is not JSON serializable")."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise TypeError(
        tr(
            "train_step returned {kind}, not the loss as a number: return loss.item() (a tensor "
            "keeps every batch's graph in memory until the epoch ends)",
            kind=type(value).__name__,
        )
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
    """One pass over ``loader`` (flips seeded by ``(seed, epoch)``); the mean training loss (a
    FloatingPointError if it became NaN or infinite)."""
    flips, optim = _seeded(config.seed, epoch, 1), config.optim
    model.train()
    running, seen = 0.0, 0
    bar = progress_bar(
        loader,
        tr("epoch {epoch}/{epochs}", epoch=epoch + 1, epochs=optim.epochs),
        enabled=progress and _is_main(),
        leave=False,
    )
    for images, labels in bar:
        if optim.augment:
            flip = torch.rand(len(images), generator=flips) < 0.5
            images[flip] = images[flip].flip(-1)
            labels[flip] = labels[flip].flip(-1)
        images, labels = _prepare_batch(images, labels, device, optim.channels_last)
        value = _a_number(step(model, images, labels, optimizer, loss_fn))
        if not math.isfinite(value):
            raise FloatingPointError(
                tr(
                    "epoch {epoch}: the loss became {value}; check the loss or lower the "
                    "learning rate (--lr)",
                    epoch=epoch + 1,
                    value=value,
                )
            )
        running += value * len(images)
        seen += len(images)
        bar.set_postfix({tr("loss"): f"{running / seen:.4f}"})
    return running / max(seen, 1)


def _patients(dataset: Dataset) -> tuple[list[str], torch.Tensor]:
    """The patients of ``dataset`` and each item's number (without ``slice_info``: one, "all")."""
    if not hasattr(dataset, "slice_info"):
        return ["all"], torch.zeros(len(dataset), dtype=torch.long)
    names = [dataset.slice_info(i)[0] for i in range(len(dataset))]
    order = list(dict.fromkeys(names))
    number = {n: i for i, n in enumerate(order)}
    return order, torch.tensor([number[n] for n in names], dtype=torch.long)


def region_counts(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``(N, regions, 3)`` counts ``[intersection, predicted, true]`` of the regions on N maps."""
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
    """Validation loss and Dice WT/TC/ET over the cached slices of ``dataset``: region counts
    summed per patient (not per slice), Dice averaged over patients."""
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
    """Train ``model``; returns the history, one dict per epoch (also ``out_dir/history.json``).

    Args:
        model: the network (possibly wrapped in DistributedDataParallel).
        train_set, val_set: training and validation slices; ``val_set`` may be None.
        config: the run's settings (:class:`unet_tp.settings.TrainConfig`).
        out_dir: where ``checkpoint.pt``, ``best.pt`` and ``history.json`` go (None: nowhere).
        loss_fn: ``f(logits, target) -> loss``; default ``config.optim.loss``.
        resume: continue from ``out_dir/checkpoint.pt``; ``state``: run metadata for checkpoints.
        device: where to train (default: where the weights are). ``progress``: tqdm bars.
        train_step: the notebook's ``train_step(model, images, labels, optimizer, loss_fn)``
            (default :func:`reference_step`), in half precision where the GPU has it
            (:func:`unet_tp.precision.student_step`, the student's code unchanged).
    """
    optim, main = config.optim, _is_main()
    device = device or next(model.parameters()).device
    loss_fn = on_device(loss_fn or loss_by_name(optim.loss), device)
    out = Path(out_dir) if out_dir is not None else None
    state = state or RunState(config, {}, "", None)
    state.config = state.config.for_model(unwrap(model))
    with torch_settings(optim.deterministic, device):
        model.to(device)
        if optim.channels_last and device.type == "cuda":
            model.to(memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(model.parameters(), lr=optim.lr)
        scheduler = cosine_schedule(optimizer, optim.epochs)
        step = student_step(train_step or reference_step, device, optim.amp)
        scaler, start = getattr(step, "scaler", None), 0
        if resume:
            start, state.history = resume_run(out, model, optimizer, scheduler, scaler)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        budget = Budget(optim.time_budget_minutes, optim.epochs, start)
        for epoch in range(start, optim.epochs):
            args = (model, step, optimizer, loss_fn, config, device, epoch, progress)
            state.history.append(_epoch(train_set, val_set, *args))
            scheduler.step()
            if main:
                _end_epoch(state, out, progress, (model, optimizer, scaler, epoch))
            if _agreed(budget.stop_after(epoch, progress and main), device):
                _keep_best(model, state, out, progress and main)
                break
    return state.history


def _agreed(stop: bool, device: torch.device) -> bool:
    """The main process's decision, for every process of a torchrun (their clocks differ)."""
    if not torch.distributed.is_initialized():
        return stop
    flag = torch.tensor([float(stop)], device=device)
    torch.distributed.broadcast(flag, 0)
    return bool(flag.item())


BUDGET_STOP = "budget_stop.json"  # a run stopped by its time budget: its epoch, best, budget


def _keep_best(model: nn.Module, state: RunState, out: Path | None, say: bool) -> None:
    """At the time budget: the best epoch's weights back into ``model`` (from ``best.pt``)."""
    best = max(state.history, key=_score)
    if out is not None and (out / "best.pt").exists():
        unwrap(model).load_state_dict(load_checkpoint(out / "best.pt")["model"])
    if out is not None:  # (runs.train_or_resume: the run is done for this budget)
        stop = {"epoch": state.history[-1]["epoch"], "best": best["epoch"]}
        save_json(out / BUDGET_STOP, stop | {"minutes": state.config.optim.time_budget_minutes})
    if say:
        where = {"epoch": state.history[-1]["epoch"], "epochs": state.config.optim.epochs}
        if out is None:
            stopped_line = tr(
                "stopped at the time budget after epoch {epoch} of {epochs}; the best epoch "
                "({best}) is kept",
                best=best["epoch"],
                **where,
            )
        else:
            stopped_line = tr(
                "stopped at the time budget after epoch {epoch} of {epochs}; the best epoch "
                "({best}) is kept in {path} and loaded; {further}",
                best=best["epoch"],
                path=out / "best.pt",
                further=tr(
                    "running this cell again loads it; raise config.optim.time_budget_minutes "
                    "to train it further"
                )
                if in_notebook()
                else tr("resuming the run (--resume) trains it further"),
                **where,
            )
        print(stopped_line)


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


def _epoch_line(record: dict, epochs: int) -> str:
    """An epoch's line: its losses, validation Dice per region and time."""
    dice = " ".join(
        f"{r.upper()} {record[f'dice_{r}']:.3f}" for r in REGIONS if f"dice_{r}" in record
    )
    val = tr(" val loss {loss:.4f}", loss=record["val_loss"]) if "val_loss" in record else ""
    return tr(
        "epoch {epoch}/{epochs}: loss {loss:.4f}{val} Dice {dice} ({seconds:.0f} s)",
        epoch=record["epoch"],
        epochs=epochs,
        loss=record["train_loss"],
        val=val,
        dice=dice,
        seconds=record["seconds"],
    )


def _end_epoch(state: RunState, out: Path | None, progress: bool, checkpoint) -> None:
    """The epoch's line; the checkpoint, ``best.pt`` (the best epoch so far) and the history."""
    record = state.history[-1]
    if progress:
        print(_epoch_line(record, state.config.optim.epochs))
    if out is not None:
        save_checkpoint(out / "checkpoint.pt", *checkpoint, state)
        if max(state.history, key=_score) is record:
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
    """Segment a whole case slice by slice, through the training preprocessing on the grid of
    ``settings``; BraTS labels in the working orientation (slices without brain: background).

    Args:
        settings: a :class:`~unet_tp.preprocess.Grid`, or settings holding one.
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
    skipped: dict[str, str] | None = None,
) -> dict[str, dict[str, float]]:
    """BraTS metrics of every case (:class:`unet_tp.data.Case` with a seg), on whole 3D volumes;
    a case that cannot be read stops the run, unless ``skipped`` is given: then it is said and
    added there (the others still evaluated: data round 21 lost a whole run to one)."""
    results = {}
    bar = progress_bar(cases, "evaluating", enabled=progress, unit="case")
    for case in bar:
        try:
            vol = load_case(case, with_seg=True)
        except DataError as exc:
            if skipped is None:
                raise
            skipped[case.case_id] = str(exc)
            bar.write(f"skipped {exc}", file=sys.stderr)
            continue
        for line in vol.warnings:  # (a volume of zeros explains a Dice of 0)
            bar.write(f"warning: {line}", file=sys.stderr)
        pred = predict_volume(model, vol, settings, device)
        results[case.case_id] = brats_metrics(pred, vol.seg, vol.spacing)  # HD95 in mm
    return results


# Checkpoints: written atomically after every epoch, read back to resume, evaluate or predict.

CHECKPOINT_FORMAT = "unet-tp-checkpoint/2"


@dataclass
class RunState:
    """Everything a checkpoint holds besides the weights and the optimisation state."""

    config: TrainConfig
    split: dict[str, list[str]]
    cache_dir: str
    data_source: str | None
    history: list[dict] = field(default_factory=list)
    model_class: str | None = None  # the network class, as `--model MODULE:NAME` names it


def unwrap(model: nn.Module) -> nn.Module:
    """The network inside a DistributedDataParallel (or similar) wrapper."""
    return model.module if hasattr(model, "module") else model


def save_checkpoint(
    path: Path, model: nn.Module, optimizer, scaler, epoch: int, state: RunState
) -> None:
    """Write a checkpoint atomically (a crash mid-write leaves the previous one intact)."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "settings": state.config.to_json(),
        "split": state.split,
        "cache_dir": state.cache_dir,
        "data_source": state.data_source,
        "history": state.history,
        "model_class": state.model_class,
    }
    try:
        with atomic_write(path, "wb") as f:
            torch.save(payload, f)
    except RuntimeError as exc:  # torch's words for a write that failed (data round 20)
        if "unexpected pos" not in str(exc):
            raise
        full = (free_space(path.parent) or 0) < 2 * sum(t.nbytes for t in payload["model"].values())
        code = errno.ENOSPC if full else errno.EIO
        raise OSError(code, os.strerror(code), str(path)) from exc


def load_checkpoint(path: str | os.PathLike[str]) -> dict:
    """A checkpoint of :func:`unet_tp.train.fit` (FileNotFoundError, or ValueError if not one)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"{path}: not a readable checkpoint ({exc})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a unet-tp checkpoint (expected format {CHECKPOINT_FORMAT})")
    return ckpt


def run_settings(ckpt: dict) -> TrainConfig:
    """The settings a checkpoint's run was trained with (its grid, model, ...)."""
    return TrainConfig.from_json(ckpt["settings"])


def load_weights(model: nn.Module, ckpt: dict, source: str = "checkpoint") -> None:
    """Load a checkpoint's weights, with an error that says which settings differ."""
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as exc:
        saved = run_settings(ckpt).model.kwargs()
        mine = getattr(model, "config", {})
        differ = sorted(k for k in set(saved) | set(mine) if saved.get(k) != mine.get(k))
        detail = ", ".join(
            f"{k}={saved.get(k)} in the checkpoint but {mine.get(k)} here" for k in differ
        )
        detail = detail or str(exc).splitlines()[0]
        raise ValueError(
            f"{source} was saved with another model configuration ({detail}); "
            "use the same settings or start a new run"
        ) from None


def resume_run(
    out_dir: Path | None, model: nn.Module, optimizer, scheduler, scaler
) -> tuple[int, list[dict]]:
    """Restore a run from ``out_dir/checkpoint.pt``: ``(first epoch to run, history)``."""
    path = Path(out_dir) / "checkpoint.pt" if out_dir is not None else None
    if path is None or not path.exists():
        raise FileNotFoundError(f"nothing to resume: {out_dir}/checkpoint.pt does not exist")
    ckpt = load_checkpoint(path)
    load_weights(unwrap(model), ckpt, str(path))
    optimizer.load_state_dict(ckpt["optimizer"])
    if scaler is not None and ckpt.get("scaler"):
        scaler.load_state_dict(ckpt["scaler"])
    start = ckpt["epoch"] + 1
    # The schedule is a function of the epoch: it is set for ``start`` from this run's settings,
    # so that a run resumed with more epochs follows the longer schedule.
    scheduler.last_epoch = start - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "step() before optimizer.step()"
        scheduler.step()
    return start, list(ckpt["history"])
