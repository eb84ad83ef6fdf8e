"""Training runs of the notebook, named by what they train: the settings (but ``epochs``,
``num_workers`` and ``time_budget_minutes``), the network's arguments, and the source text of the
student's network classes, loss and ``train_step`` (with what a ``functools.partial`` binds). A
run's folder is ``runs/<preset>-<8 hex digits>``: running the training cell again continues an
interrupted run (or one whose ``epochs`` was raised), loads a complete one (``retrain=True``
trains it again), or trains a new run when something changed, saying what.

A global read from another cell is not part of a run (train again with ``retrain=True``); code
made by ``exec`` of a string has no source, so its run is always trained from scratch.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import re
import types
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from unet_tp.fileio import save_json
from unet_tp.i18n import notebook_step, tr
from unet_tp.losses import loss_by_name
from unet_tp.train import (
    BUDGET_STOP,
    LossFn,
    TrainConfig,
    TrainStep,
    fit,
    load_checkpoint,
    load_weights,
)

RUN_FILE = "run.json"
# settings that do not change what is trained: more epochs continue a run; workers only load
NOT_IDENTIFYING = ("epochs", "num_workers", "time_budget_minutes")
LIBRARIES = ("torch", "numpy", "builtins", "typing", "abc")


def _library(obj: object) -> bool:
    return str(getattr(obj, "__module__", None)).split(".")[0] in LIBRARIES


def source_text(obj: object) -> str:
    """What ``obj`` computes, as text: the source of a function (its compiled code where Python
    kept none), of each method of a class and its bases, of a partial with what it binds, of a
    callable object's class with its state."""
    if isinstance(obj, torch.Tensor):
        return f"tensor{obj.detach().cpu().tolist()}"
    if inspect.ismethod(obj):
        obj = obj.__func__
    if (inspect.isroutine(obj) or inspect.isclass(obj)) and _library(obj):
        return f"{obj.__module__}.{obj.__qualname__}"
    if isinstance(obj, functools.partial):
        bound = [*obj.args, *sorted(obj.keywords.items())]
        return "\n".join([source_text(obj.func), *(source_text(v) for v in bound)])
    if inspect.isfunction(obj):
        try:
            return inspect.getsource(obj)
        except (OSError, TypeError):  # a cell run under %%time (honest round 23), exec
            defaults = (obj.__defaults__, sorted((obj.__kwdefaults__ or {}).items()))
            return "\n".join([_code_text(obj.__code__), *(source_text(v) for v in defaults)])
    if inspect.isclass(obj):
        methods = [m for k in obj.__mro__ if not _library(k) for m in vars(k).values()]
        return "\n".join(
            [obj.__name__, *(source_text(m) for m in methods if inspect.isfunction(m))]
        )
    if isinstance(obj, tuple):
        return "\n".join([source_text(v) for v in obj])
    if callable(obj):  # a callable object (nn.CrossEntropyLoss(weight=...)): code and state
        return "\n".join([source_text(type(obj)), *(source_text(v) for v in vars(obj).items())])
    # object addresses ("<... at 0x7f...>") change from one session to the next
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(obj))


def _code_text(code: types.CodeType) -> str:
    """What compiled code computes, where Python kept no source: its bytecode, names and
    constants (the same from one session to the next)."""
    consts = [
        _code_text(c)
        if isinstance(c, types.CodeType)
        else repr(sorted(map(repr, c)))
        if isinstance(c, frozenset)
        else repr(c)
        for c in code.co_consts
    ]
    return repr((code.co_code, consts, code.co_names, code.co_varnames, code.co_freevars))


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def run_identity(
    model: nn.Module, config: TrainConfig, loss_fn: LossFn, train_step: TrainStep | None
) -> dict:
    """What a run trains, as JSON-ready parts (each source text as a digest)."""
    blocks = sorted(
        {type(m) for m in model.modules() if not _library(type(m))}, key=lambda c: c.__name__
    )
    return {
        "settings": {k: v for k, v in config.flat().items() if k not in NOT_IDENTIFYING},
        "model settings": dict(getattr(model, "config", {}) or {}),
        "network code": {c.__name__: _digest(source_text(c)) for c in blocks},
        "loss function": _digest(source_text(loss_fn)),
        "train_step": None if train_step is None else _digest(source_text(train_step)),
    }


def run_key(identity: dict) -> str:
    """Eight hex digits naming a run."""
    return hashlib.sha1(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _changes(old: dict, new: dict) -> list[str]:
    said = []
    for part in new:
        a, b = old.get(part), new[part]
        if a == b:
            continue
        if not isinstance(b, dict):
            said.append(
                tr("your loss function")
                if part == "loss function"
                else tr("your {part}", part=part)
            )
            continue
        a = a or {}
        keys = [k for k in sorted({*a, *b}) if a.get(k) != b.get(k)]
        if part == "network code":
            said.append(tr("your network's code ({blocks})", blocks=", ".join(keys)))
        else:
            said += [f"{k} {a.get(k)!r} -> {b.get(k)!r}" for k in keys]
    return said


def _from_scratch(runs_dir: Path, name: str, folder: Path, identity: dict) -> str:
    """Why the run is trained from scratch, and what changed since the latest other run."""
    if (folder / "checkpoint.pt").exists():
        return tr("RETRAIN = True: training {folder} again from scratch.", folder=folder)
    others = [p for p in runs_dir.glob(f"{name}-*") if p != folder and (p / RUN_FILE).exists()]
    others = [p for p in others if (p / "checkpoint.pt").exists()]
    previous = max(others, key=lambda p: (p / "checkpoint.pt").stat().st_mtime, default=None)
    if previous is None:
        return tr("Training a new run in {folder}.", folder=folder)
    old = json.loads((previous / RUN_FILE).read_text())
    changed = "; ".join(_changes(old, identity)) or tr("the run's identity")
    return tr(
        "Changed since the run in {previous}: {changed}. Training a new run in {folder} (the "
        "previous one is kept).",
        previous=previous,
        changed=changed,
        folder=folder,
    )


def _complete(done: int, folder: Path) -> str:
    """The line of a run that is complete: loaded, how to train it again or longer."""
    return tr(
        "This run is already complete ({epochs}, {folder}): its model is loaded, not trained "
        "again. To train it again from scratch, set RETRAIN = True at the top of this cell; to "
        "train it longer, raise config.optim.epochs.",
        epochs=tr("1 epoch") if done == 1 else tr("{count} epochs", count=done),
        folder=folder,
    )


def _stopped_by_its_budget(folder: Path, done: int, config: TrainConfig) -> str:
    """The line of a run its time budget stopped after its last epoch (``done``) when this run's
    budget is no larger: complete for that budget, loaded ("" where it is to be resumed: another
    epoch saved since, a larger budget, or none; French student round 39: running the cell
    again trained for another whole budget)."""
    try:
        stop = json.loads((folder / BUDGET_STOP).read_text(encoding="utf-8"))
        epoch, best, minutes = int(stop["epoch"]), int(stop["best"]), stop["minutes"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    budget = config.optim.time_budget_minutes
    if epoch != done or minutes is None or budget is None or budget > minutes:
        return ""
    return tr(
        "This run stopped at its time budget ({minutes} min) after epoch {epoch} of {epochs} "
        "({folder}): its best epoch ({best}) is loaded, not trained again. To train it "
        "further, raise config.optim.time_budget_minutes; to train it again from scratch, set "
        "RETRAIN = True at the top of this cell.",
        minutes=minutes,
        epoch=epoch,
        epochs=config.optim.epochs,
        folder=folder,
        best=best,
    )


def _loaded(model: nn.Module, ckpt: dict, path: Path, device: torch.device | None) -> None:
    """``ckpt``'s weights (read from ``path``) into ``model``, moved to ``device``."""
    load_weights(model, ckpt, str(path))
    if device is not None:
        model.to(device)


def train_or_resume(
    model: nn.Module,
    train_set: Dataset,
    val_set: Dataset | None,
    config: TrainConfig,
    runs_dir: str | os.PathLike[str] = "runs",
    name: str = "run",
    loss_fn: LossFn | None = None,
    train_step: TrainStep | None = None,
    retrain: bool = False,
    device: torch.device | None = None,
) -> list[dict]:
    """Train ``model`` in its run folder ``runs_dir/<name>-<key>``, resume it, or load it when
    complete (``retrain``: from scratch anyway); returns its history. Other arguments: as
    :func:`unet_tp.train.fit`."""
    loss_fn = loss_fn if loss_fn is not None else loss_by_name(config.optim.loss)
    identity = run_identity(model, config, loss_fn, train_step)
    folder = Path(runs_dir) / f"{name}-{run_key(identity)}"
    ckpt_path = folder / "checkpoint.pt"
    resume = ckpt_path.exists() and not retrain
    if resume:
        ckpt = load_checkpoint(ckpt_path)
        done = ckpt["epoch"] + 1
        if stopped := _stopped_by_its_budget(folder, done, config):
            best = folder / "best.pt"  # (its best epoch's, else its last checkpoint's)
            if best.exists():
                _loaded(model, load_checkpoint(best), best, device)
            else:
                _loaded(model, ckpt, ckpt_path, device)
            print(stopped)
            return list(ckpt["history"])
        if done >= config.optim.epochs:
            _loaded(model, ckpt, ckpt_path, device)
            print(_complete(done, folder))
            return list(ckpt["history"])
        print(
            tr(
                "Resuming the run in {folder} at epoch {epoch} of {epochs}.",
                folder=folder,
                epoch=done + 1,
                epochs=config.optim.epochs,
            )
        )
    else:
        print(_from_scratch(Path(runs_dir), name, folder, identity))
    folder.mkdir(parents=True, exist_ok=True)
    save_json(folder / RUN_FILE, identity, indent=1)
    fitted = dict(loss_fn=loss_fn, resume=resume, device=device, train_step=train_step)
    from unet_tp import checks  # (the notebook's: a failure there names its failing answers)

    stopped = tr("The training stopped")
    with notebook_step(), checks.answers_first(model, checks.TRAINING_ANSWERS, stopped):
        return fit(model, train_set, val_set, config, out_dir=folder, **fitted)
