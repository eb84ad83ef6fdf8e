"""Training runs of the notebook that re-run as a student expects.

A run is named by what it trains: the training settings (all but ``epochs`` and where it
computes), the model's settings, and the code of the network's blocks, of the loss (with the
class weights or other values it binds) and of ``train_step``. Its folder is
``runs/<preset>-<8 hex digits>``, so running the training cell again:

* continues the run when it was interrupted (or when ``config.optim.epochs`` was raised);
* says so, and loads its model, when the run is complete (``retrain=True`` trains it again);
* trains a new run in its own folder when the network, the loss or a setting changed, and says
  what changed (the previous run is kept).
"""

from __future__ import annotations

import dis
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
from unet_tp.losses import loss_by_name
from unet_tp.train import (
    LossFn,
    TrainConfig,
    TrainStep,
    fit,
    load_checkpoint,
    load_weights,
)

RUN_FILE = "run.json"
# settings that do not change what is trained (more epochs continue a run; workers only load), and
# the network's fixed arguments, which its own record ("model settings") holds: the settings part
# keeps the keys of earlier kit versions, so a run folder is found again after an upgrade
NOT_IDENTIFYING = ("epochs", "num_workers", "in_channels", "num_classes", "padding")
_MAX_DEPTH = 4


def _source(func: types.FunctionType) -> str:
    try:
        return inspect.getsource(func)
    except (OSError, TypeError):  # defined where no source is kept (exec of a string)
        code = func.__code__
        return f"{code.co_code.hex()} {code.co_consts!r} {code.co_names!r}"


def _value(obj: object, depth: int) -> str:
    """Text that changes when ``obj`` changes: code for functions and classes, else its value."""
    if depth > _MAX_DEPTH:
        return type(obj).__qualname__
    if isinstance(obj, functools.partial):
        bound = [_value(a, depth + 1) for a in obj.args]
        bound += [f"{k}={_value(v, depth + 1)}" for k, v in sorted(obj.keywords.items())]
        return f"partial({_value(obj.func, depth + 1)}, {', '.join(bound)})"
    if inspect.ismethod(obj):
        return _value(obj.__func__, depth)
    if inspect.isfunction(obj):
        return _function(obj, depth)
    if inspect.isclass(obj):
        return _class(obj, depth)
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if isinstance(obj, nn.Module):  # e.g. nn.CrossEntropyLoss(weight=...)
        state = {k: v.tolist() for k, v in obj.state_dict().items()}
        return f"{obj!r} {state} {_class(type(obj), depth + 1)}"
    if isinstance(obj, torch.Tensor):
        return f"tensor{obj.detach().cpu().tolist()}"
    if callable(obj):  # a callable object: its class's code and its attributes
        attrs = {k: _value(v, depth + 1) for k, v in sorted(vars(obj).items())}
        return f"{_class(type(obj), depth + 1)} {attrs}"
    return repr(obj)


def _function(func: types.FunctionType, depth: int) -> str:
    if func.__module__.startswith(("torch", "numpy")):
        return f"{func.__module__}.{func.__qualname__}"
    parts = [_source(func), repr(func.__defaults__), repr(func.__kwdefaults__)]
    code = func.__code__
    cells = zip(code.co_freevars, func.__closure__ or (), strict=False)
    for name, cell in cells:
        try:
            parts.append(f"{name}: {_value(cell.cell_contents, depth + 1)}")
        except ValueError:  # an empty cell
            parts.append(f"{name}: (unset)")
    for name in sorted(_global_names(code)):
        if name in func.__globals__:
            parts.append(f"{name}: {_value(func.__globals__[name], depth + 1)}")
    return "\n".join(parts)


def _global_names(code: types.CodeType) -> set[str]:
    """Names a function reads as globals (not attribute names such as ``x.mean``: a later
    global ``mean`` must not change what a loss is)."""
    names = {
        ins.argval
        for ins in dis.get_instructions(code)
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")
    }
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _class(cls: type, depth: int) -> str:
    parts = []
    for klass in cls.__mro__:
        if klass.__module__.startswith(("torch", "builtins", "typing", "abc")):
            continue
        for name, attr in sorted(vars(klass).items()):
            if inspect.isfunction(attr):
                parts.append(f"{klass.__name__}.{name}: {_function(attr, depth + 1)}")
    return f"{cls.__name__}\n" + "\n".join(parts)


def _digest(text: str) -> str:
    # object addresses ("<... at 0x7f...>") change from one session to the next: not part of a run
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", text)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def run_identity(
    model: nn.Module, config: TrainConfig, loss_fn: LossFn, train_step: TrainStep | None
) -> dict:
    """What a run trains, as JSON-ready parts: compared part by part to say what changed."""
    settings = {k: v for k, v in config.flat().items() if k not in NOT_IDENTIFYING}
    blocks = sorted(
        {type(m) for m in model.modules() if not type(m).__module__.startswith("torch")},
        key=lambda c: c.__name__,
    )
    return {
        "settings": settings,
        "model settings": dict(getattr(model, "config", {}) or {}),
        "network code": {c.__name__: _digest(_class(c, 0)) for c in blocks},
        "loss function": _digest(_value(loss_fn, 0)),
        "train_step": _digest(_value(train_step, 0)) if train_step is not None else None,
    }


def run_key(identity: dict) -> str:
    """Eight hex digits naming a run."""
    return hashlib.sha1(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _changes(old: dict, new: dict) -> list[str]:
    said = []
    for part in new:
        if old.get(part) == new[part]:
            continue
        if part in ("settings", "model settings"):
            a, b = old.get(part) or {}, new[part]
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            said += [f"{k} {a.get(k)!r} -> {b.get(k)!r}" for k in keys]
        elif part == "network code":
            a, b = old.get(part) or {}, new[part]
            blocks = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            said.append(f"your network's code ({', '.join(blocks)})")
        else:
            said.append(f"your {part}")
    return said


def _latest_other_run(runs_dir: Path, name: str, folder: Path) -> Path | None:
    others = [
        p
        for p in runs_dir.glob(f"{name}-*")
        if p != folder and (p / RUN_FILE).exists() and (p / "checkpoint.pt").exists()
    ]
    return max(others, key=lambda p: (p / "checkpoint.pt").stat().st_mtime, default=None)


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
    """Train ``model`` in its run folder, resume it, or load it when complete (see module doc).

    Args:
        runs_dir: folder of the runs; each run is ``runs_dir/<name>-<key>``.
        name: first part of the folder name (the notebook uses its preset).
        retrain: train from scratch even if the run exists (its folder is overwritten).
        Other arguments: as :func:`unet_tp.train.fit`.

    Returns:
        The run's history, one dict per epoch.
    """
    loss_fn = loss_fn if loss_fn is not None else loss_by_name(config.optim.loss)
    identity = run_identity(model, config, loss_fn, train_step)
    runs_dir = Path(runs_dir)
    folder = runs_dir / f"{name}-{run_key(identity)}"
    ckpt_path = folder / "checkpoint.pt"
    resume = False
    if ckpt_path.exists() and not retrain:
        ckpt = load_checkpoint(ckpt_path)
        done = ckpt["epoch"] + 1
        if done >= config.optim.epochs:
            load_weights(model, ckpt, str(ckpt_path))
            if device is not None:
                model.to(device)
            print(
                f"This run is already complete ({done} epoch{'s' * (done != 1)}, {folder}): "
                "its model is loaded, "
                "not trained again. To train it again from scratch, set RETRAIN = True at the "
                "top of this cell; to train it longer, raise config.optim.epochs."
            )
            return list(ckpt["history"])
        print(f"Resuming the run in {folder} at epoch {done + 1} of {config.optim.epochs}.")
        resume = True
    elif ckpt_path.exists():
        print(f"RETRAIN = True: training {folder} again from scratch.")
    else:
        previous = _latest_other_run(runs_dir, name, folder)
        if previous is not None:
            old = json.loads((previous / RUN_FILE).read_text())
            changed = "; ".join(_changes(old, identity)) or "the run's identity"
            print(
                f"Changed since the run in {previous}: {changed}. Training a new run in "
                f"{folder} (the previous one is kept)."
            )
        else:
            print(f"Training a new run in {folder}.")
    folder.mkdir(parents=True, exist_ok=True)
    save_json(folder / RUN_FILE, identity, indent=1)
    return fit(
        model,
        train_set,
        val_set,
        config,
        out_dir=folder,
        loss_fn=loss_fn,
        resume=resume,
        device=device,
        train_step=train_step,
    )
