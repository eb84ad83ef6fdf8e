"""Training and evaluation: fit a segmentation network on the slice cache, score it in 3D.

Works with any ``nn.Module`` mapping ``(N, 4, H, W)`` to ``(N, 4, H, W)`` logits: the students'
U-Net in the notebook, the reference one behind ``unet-tp train``.

* tqdm progress bars; the device is picked and named (:func:`unet_tp.device.pick_device`);
* on CUDA, automatic mixed precision (bf16 from compute capability 8, else fp16 with a
  GradScaler, e.g. a Colab T4) and channels_last;
* a checkpoint after every epoch, and ``resume``; the data order and augmentation of epoch ``e``
  depend only on ``(seed, e)``, so a resumed run retraces the uninterrupted one;
* history per epoch: training and validation loss, validation Dice WT/TC/ET per patient.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from unet_tp.conventions import NUM_CLASSES, REGIONS, to_brats_labels
from unet_tp.data.cache import CacheSettings, from_network_grid, to_network_grid
from unet_tp.data.cases import CaseVolumes
from unet_tp.data.normalize import brain_mask, zscore
from unet_tp.device import amp_dtype, pick_device
from unet_tp.fileio import atomic_write
from unet_tp.metrics import brats_metrics

CHECKPOINT_FORMAT = "unet-tp-checkpoint/1"
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
TrainStep = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.optim.Optimizer, LossFn], float]


@dataclass
class TrainConfig:
    """Training settings (what ``unet-tp train`` flags and presets set).

    Attributes:
        epochs: passes over the training slices.
        batch_size: slices per step.
        lr: peak learning rate of Adam (cosine decay over the epochs).
        base_channels: U-Net width of the first level (64 in the paper).
        depth: U-Net pooling steps (4 in the paper).
        batch_norm: batch norm after each convolution (faster, steadier training; not in the paper).
        loss: ``"ce"`` (Eq. 1) or ``"ce+dice"``.
        crop: centre crop of the slices before resizing (cache setting).
        image_size: slice size seen by the network (cache setting); ``None`` keeps 240 (or the crop).
        tumour_free_fraction: share of tumour-free slices in the cache.
        val_fraction: share of patients held out.
        seed: seeds the split, the initial weights, the data order and the augmentation.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"mps"``.
        amp: mixed precision on CUDA.
        channels_last: NHWC memory layout on CUDA (faster convolutions with tensor cores).
        augment: random left-right flips (the brain is roughly symmetric).
        num_workers: DataLoader worker processes.
        deterministic: deterministic algorithms (bit-identical reruns; slower on GPU).
    """

    epochs: int = 20
    batch_size: int = 16
    lr: float = 1e-3
    base_channels: int = 32
    depth: int = 4
    batch_norm: bool = True
    loss: str = "ce+dice"
    crop: int | None = 192
    image_size: int | None = None
    tumour_free_fraction: float = 0.25
    val_fraction: float = 0.2
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    channels_last: bool = True
    augment: bool = True
    num_workers: int = 2
    deterministic: bool = False

    def cache_settings(self) -> CacheSettings:
        return CacheSettings(
            tumour_free_fraction=self.tumour_free_fraction,
            crop=self.crop,
            image_size=self.image_size,
            seed=self.seed,
        )

    def model_config(self, in_channels: int = 4, num_classes: int = NUM_CLASSES) -> dict:
        return dict(
            in_channels=in_channels,
            num_classes=num_classes,
            base_channels=self.base_channels,
            depth=self.depth,
            padding=True,
            batch_norm=self.batch_norm,
        )


PRESETS: dict[str, dict] = {
    # A machine without GPU: 96x96 slices (192 crop halved), a 16-wide U-Net, a few epochs.
    "cpu-quick": dict(
        epochs=6,
        batch_size=16,
        lr=2e-3,
        base_channels=16,
        crop=192,
        image_size=96,
        num_workers=0,
        loss="ce+dice",
    ),
    # A Colab T4 session: full-resolution 192x192 crops, a 32-wide U-Net, mixed precision.
    "colab-t4": dict(
        epochs=15,
        batch_size=16,
        lr=1e-3,
        base_channels=32,
        crop=192,
        image_size=None,
        num_workers=2,
    ),
    # The paper's widths (64 -> 1024) without batch norm, for a reference run on a large GPU.
    "paper": dict(
        epochs=30,
        batch_size=16,
        lr=3e-4,
        base_channels=64,
        batch_norm=False,
        crop=192,
        image_size=None,
    ),
    # The notebook on a CPU (no GPU in Colab, or a laptop): about a minute on 2 cores.
    "notebook-cpu": dict(
        epochs=8,
        batch_size=16,
        lr=3e-3,
        base_channels=16,
        depth=3,
        crop=192,
        image_size=64,
        num_workers=0,
        loss="ce",
    ),
    # Smoke tests and autograding: seconds on a CPU.
    "tiny": dict(
        epochs=1,
        batch_size=8,
        lr=2e-3,
        base_channels=4,
        depth=3,
        crop=192,
        image_size=48,
        num_workers=0,
    ),
}


def preset_config(name: str | None, **overrides) -> TrainConfig:
    """A TrainConfig from a preset name, with explicit settings (not None) taking precedence."""
    base: dict = {}
    if name is not None:
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        base = dict(PRESETS[name])
    known = {f.name for f in fields(TrainConfig)}
    base.update({k: v for k, v in overrides.items() if v is not None and k in known})
    return TrainConfig(**base)


@dataclass
class RunState:
    """Everything a checkpoint holds besides the weights."""

    config: TrainConfig
    model_config: dict
    split: dict[str, list[str]]
    cache_dir: str
    data_source: str | None
    history: list[dict] = field(default_factory=list)


def default_loss(name: str) -> LossFn:
    """The reference losses (instructor side) or, in a student install, torch's cross-entropy."""
    try:
        from unet_tp.instructor import import_solutions

        sol = import_solutions()
        return {"ce": sol.categorical_cross_entropy, "ce+dice": sol.ce_dice_loss}[name]
    except (RuntimeError, ImportError):  # a student install, or grading (solutions hidden)
        if name != "ce":
            raise
        return F.cross_entropy


def _seeded(seed: int, epoch: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch * 101 + stream)


def _autocast(device: torch.device, enabled: bool):
    dtype = amp_dtype(device)
    if not enabled or dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _prepare_batch(images, labels, device, channels_last):
    images = images.to(device, non_blocking=True)
    if channels_last and device.type == "cuda":
        images = images.contiguous(memory_format=torch.channels_last)
    return images, labels.to(device, non_blocking=True)


_BRATS_LUT = torch.tensor([0, 1, 2, 4])


def _region_counts(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(regions, 3) counts [intersection, predicted, true] on class maps of one slice batch."""
    p, t = _BRATS_LUT.to(pred.device)[pred], _BRATS_LUT.to(target.device)[target]
    rows = []
    for labels in REGIONS.values():
        lab = torch.tensor(labels, device=pred.device)
        pm, tm = torch.isin(p, lab), torch.isin(t, lab)
        rows.append(torch.stack([(pm & tm).sum(), pm.sum(), tm.sum()]))
    return torch.stack(rows).cpu()


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

    Dice is computed per patient by summing over that patient's slices (not per slice), then
    averaged over patients. Only the cached slices count (every tumour slice and a share of the
    others); :func:`evaluate_cases` scores whole volumes.
    """
    model.eval()
    per_case: dict[str, torch.Tensor] = {}
    total, n = 0.0, 0
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    start = 0
    for images, labels in loader:
        images, labels = _prepare_batch(images, labels, device, channels_last)
        with _autocast(device, amp):
            logits = model(images)
        total += float(loss_fn(logits.float(), labels)) * len(images)
        n += len(images)
        pred = logits.argmax(dim=1)
        for j in range(len(images)):
            case_id = dataset.slice_info(start + j)[0] if hasattr(dataset, "slice_info") else "all"
            counts = _region_counts(pred[j], labels[j])
            per_case[case_id] = per_case.get(case_id, 0) + counts
        start += len(images)
    dices = []
    for counts in per_case.values():
        inter, psum, tsum = counts[:, 0].double(), counts[:, 1].double(), counts[:, 2].double()
        dices.append(
            torch.where(
                psum + tsum > 0, 2 * inter / (psum + tsum).clamp(min=1), torch.ones_like(inter)
            )
        )
    d = torch.stack(dices).mean(0) if dices else torch.full((3,), float("nan"))
    return {
        "val_loss": total / max(n, 1),
        **{f"dice_{r}": float(v) for r, v in zip(REGIONS, d, strict=True)},
    }


def save_checkpoint(
    path: Path, model: nn.Module, optimizer, scaler, epoch: int, state: RunState
) -> None:
    """Write a checkpoint atomically (a crash mid-write leaves the previous one intact)."""
    module = model.module if hasattr(model, "module") else model
    payload = {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,
        "model": module.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "config": asdict(state.config),
        "model_config": state.model_config,
        "split": state.split,
        "cache_dir": state.cache_dir,
        "data_source": state.data_source,
        "history": state.history,
    }
    with atomic_write(path, "wb") as f:
        torch.save(payload, f)


def load_checkpoint(path: str | os.PathLike[str]) -> dict:
    """Read a checkpoint written by :func:`fit`.

    Raises:
        ValueError: not a unet-tp checkpoint (says what the file is instead).
    """
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


def load_weights(model: nn.Module, ckpt: dict, source: str = "checkpoint") -> None:
    """Load a checkpoint's weights, with an error that says which settings differ."""
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as exc:
        saved = ckpt.get("model_config", {})
        mine = getattr(model, "config", {})
        diff = {
            k: (saved.get(k), mine.get(k))
            for k in set(saved) | set(mine)
            if saved.get(k) != mine.get(k)
        }
        detail = ", ".join(
            f"{k}={a} in the checkpoint but {b} here" for k, (a, b) in sorted(diff.items())
        )
        raise ValueError(
            f"{source} was saved with another model configuration ({detail or str(exc).splitlines()[0]}); "
            "use the same settings or start a new run"
        ) from None


def _is_main() -> bool:
    return not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0


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
    """Train ``model`` and return the history (one dict per epoch).

    Args:
        model: the network (possibly wrapped in DistributedDataParallel).
        train_set: training slices (e.g. :class:`unet_tp.data.cache.SliceDataset`).
        val_set: validation slices, or None.
        config: training settings.
        out_dir: where ``checkpoint.pt`` and ``history.json`` go (None: nowhere).
        loss_fn: ``f(logits, target) -> loss``; default from ``config.loss``.
        resume: continue from ``out_dir/checkpoint.pt``.
        state: run metadata stored in checkpoints.
        device: default :func:`unet_tp.device.pick_device` of ``config.device``.
        progress: tqdm bars.
        train_step: ``train_step(model, images, labels, optimizer, loss_fn) -> float``, the
            notebook's block (f), used instead of the built-in step. Mixed precision then runs
            only in bf16 (compute capability >= 8): fp16 would need a gradient scaler.

    Returns:
        The history, also written to ``out_dir/history.json`` after every epoch.

    Example:
        >>> history = fit(UNet(base_channels=8), train, val, preset_config("tiny"))  # doctest: +SKIP
        >>> history[-1]["dice_wt"]  # doctest: +SKIP
        0.71
    """
    from unet_tp.fileio import save_json

    device = device or pick_device(config.device, verbose=_is_main())
    loss_fn = loss_fn or default_loss(config.loss)
    if config.deterministic:
        os.environ.setdefault(
            "CUBLAS_WORKSPACE_CONFIG", ":4096:8"
        )  # required by cuBLAS for determinism
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = (
            True  # fixed slice size: let cuDNN pick the fastest kernels
        )
    model.to(device)
    if config.channels_last and device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    use_scaler = config.amp and amp_dtype(device) == torch.float16
    scaler = torch.amp.GradScaler("cuda") if use_scaler else None
    out = Path(out_dir) if out_dir is not None else None
    state = state or RunState(config, getattr(model, "config", {}), {}, "", None)
    start_epoch = 0
    if resume:
        if out is None or not (out / "checkpoint.pt").exists():
            raise FileNotFoundError(f"nothing to resume: {out}/checkpoint.pt does not exist")
        ckpt = load_checkpoint(out / "checkpoint.pt")
        module = model.module if hasattr(model, "module") else model
        load_weights(module, ckpt, f"{out}/checkpoint.pt")
        optimizer.load_state_dict(ckpt["optimizer"])
        if scaler is not None and ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        start_epoch = ckpt["epoch"] + 1
        state.history = list(ckpt["history"])
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    sampler_cls = None
    if torch.distributed.is_initialized():
        from torch.utils.data.distributed import DistributedSampler

        sampler_cls = DistributedSampler
    for epoch in range(start_epoch, config.epochs):
        t0 = time.perf_counter()
        lr = config.lr * 0.5 * (1 + math.cos(math.pi * epoch / max(config.epochs, 1)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        if sampler_cls is not None:
            sampler = sampler_cls(train_set, shuffle=True, seed=config.seed)
            sampler.set_epoch(epoch)
            loader = DataLoader(
                train_set,
                batch_size=config.batch_size,
                sampler=sampler,
                num_workers=config.num_workers,
                drop_last=True,
            )
        else:
            loader = DataLoader(
                train_set,
                batch_size=config.batch_size,
                shuffle=True,
                drop_last=len(train_set) > config.batch_size,
                generator=_seeded(config.seed, epoch, 0),
                num_workers=config.num_workers,
                pin_memory=device.type == "cuda",
                persistent_workers=False,
            )
        flips = _seeded(config.seed, epoch, 1)
        model.train()
        running, seen = 0.0, 0
        bar = tqdm(
            loader,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            leave=False,
            disable=None if (progress and _is_main()) else True,
        )
        for images, labels in bar:
            if config.augment:
                flip = torch.rand(len(images), generator=flips) < 0.5
                images[flip] = images[flip].flip(-1)
                labels[flip] = labels[flip].flip(-1)
            images, labels = _prepare_batch(images, labels, device, config.channels_last)
            if train_step is not None:
                bf16 = config.amp and amp_dtype(device) == torch.bfloat16
                value = train_step(
                    _AutocastForward(model) if bf16 else model, images, labels, optimizer, loss_fn
                )
                if not math.isfinite(value):
                    raise FloatingPointError(
                        f"epoch {epoch + 1}: the loss became {value}; check the loss or lower lr"
                    )
                running += value * len(images)
                seen += len(images)
                bar.set_postfix(loss=f"{running / seen:.4f}")
                continue
            optimizer.zero_grad(set_to_none=True)
            with _autocast(device, config.amp):
                logits = model(images)
            loss = loss_fn(logits.float(), labels)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"epoch {epoch + 1}: the loss became {loss.item()}; lower --lr"
                )
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            running += loss.item() * len(images)
            seen += len(images)
            bar.set_postfix(loss=f"{running / seen:.4f}")
        record = {"epoch": epoch + 1, "train_loss": running / max(seen, 1), "lr": lr}
        if val_set is not None and _is_main():
            module = model.module if hasattr(model, "module") else model
            record.update(
                validate(
                    module,
                    val_set,
                    loss_fn,
                    device,
                    config.batch_size,
                    config.amp,
                    config.channels_last,
                )
            )
        record["seconds"] = time.perf_counter() - t0
        state.history.append(record)
        if _is_main():
            if progress:
                dice = " ".join(
                    f"{r.upper()} {record[f'dice_{r}']:.3f}"
                    for r in REGIONS
                    if f"dice_{r}" in record
                )
                vl = f" val loss {record['val_loss']:.4f}" if "val_loss" in record else ""
                print(
                    f"epoch {epoch + 1}/{config.epochs}: loss {record['train_loss']:.4f}{vl} Dice {dice} "
                    f"({record['seconds']:.0f} s)"
                )
            if out is not None:
                save_checkpoint(out / "checkpoint.pt", model, optimizer, scaler, epoch, state)
                save_json(out / "history.json", state.history, indent=1)
        if torch.distributed.is_initialized():
            torch.distributed.barrier()
    return state.history


class _AutocastForward(nn.Module):
    """Runs the wrapped model's forward in bf16 autocast and returns float32 logits."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16):
            return self.model(x).float()


@torch.no_grad()
def predict_volume(
    model: nn.Module,
    volumes: CaseVolumes,
    settings: CacheSettings,
    device: torch.device | None = None,
    batch_size: int = 16,
    amp: bool = True,
    predict_fn: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
) -> np.ndarray:
    """Segment a whole case slice by slice; returns BraTS labels in the working orientation.

    The volume is normalised as for training, every axial slice holding brain goes through the
    network on the training grid (crop, resize), and predictions are mapped back to the full
    slice; slices without brain are background.

    Args:
        predict_fn: ``predict_fn(model, images) -> classes (N, H, W)``, the notebook's block (g);
            default: the argmax of the logits.
    """
    device = device or next(model.parameters()).device
    model.eval()
    image = zscore(volumes.image, brain_mask(volumes.image))
    _, height, width, depth = image.shape
    classes = np.zeros((height, width, depth), dtype=np.uint8)
    zs = np.flatnonzero(brain_mask(volumes.image).any(axis=(0, 1)))
    for start in range(0, len(zs), batch_size):
        z = zs[start : start + batch_size]
        x = to_network_grid(np.moveaxis(image[..., z], -1, 0), settings)
        x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)
        if predict_fn is None:
            with _autocast(device, amp):
                logits = model(x)
        else:  # classes from the student's function, resized as one-hot maps
            classes_small = predict_fn(model, x).long()
            logits = F.one_hot(classes_small, NUM_CLASSES).movedim(-1, 1).float()
        pred = from_network_grid(logits.float(), height, width, settings)
        classes[..., z] = np.moveaxis(pred.cpu().numpy().astype(np.uint8), 0, -1)
    return to_brats_labels(classes)


def evaluate_cases(
    model: nn.Module,
    cases: Sequence,
    settings: CacheSettings,
    device: torch.device | None = None,
    progress: bool = True,
) -> dict[str, dict[str, float]]:
    """BraTS metrics of every case (:class:`unet_tp.data.Case` with a seg), on whole 3D volumes."""
    from unet_tp.data.cases import load_case

    results = {}
    for case in tqdm(cases, desc="evaluating", unit="case", disable=None if progress else True):
        vol = load_case(case, with_seg=True)
        pred = predict_volume(model, vol, settings, device)
        results[case.case_id] = brats_metrics(pred, vol.seg)
    return results
