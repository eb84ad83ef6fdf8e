"""Checkpoints of a training run, written atomically after every epoch and read back to resume,
evaluate or predict: the weights, the optimizer and gradient-scaler states, the epoch, and the
run's :class:`RunState` (settings by group, split, cache folder, history). ``torch.save`` directly:
Lightning Fabric would add a dependency to the students' install for what ten lines do.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from unet_tp.fileio import atomic_write
from unet_tp.settings import TrainConfig

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
    with atomic_write(path, "wb") as f:
        torch.save(payload, f)


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


def resume(
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
