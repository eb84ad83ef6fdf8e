"""Half precision for the student's own float32 ``train_step``, the student's code unchanged.

On a GPU with float16 and no bf16 (a T4) :func:`student_step` runs the model's forward under
float16 autocast and gives the student a ``loss_fn`` whose loss is multiplied by a GradScaler's
scale and an optimizer whose ``step()`` unscales (skipping an inf/NaN update); the ``loss.item()``
returned is divided by the scale. With bf16 only the forward changes; on a CPU, or with
``amp=False``, the student's function is returned unchanged.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

import torch
from torch import nn

from unet_tp.device import amp_dtype

TrainStep = Callable[..., object]


class AutocastModel(nn.Module):
    """Runs the wrapped model's forward under autocast of ``dtype``; returns float32 logits."""

    def __init__(self, model: nn.Module, dtype: torch.dtype):
        super().__init__()
        self.model, self.dtype = model, dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, dtype=self.dtype):
            return self.model(x).float()


class ScaledOptimizer:
    """The student's optimizer under a GradScaler: ``step()`` unscales, skips on inf/NaN and
    updates the scale; everything else is the optimizer's own."""

    def __init__(self, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler):
        self.optimizer, self.scaler = optimizer, scaler
        self.scaled = False  # set by the loss function once a loss of this step was scaled
        self.unscaled = False  # the gradients divided by the scale already (before a clipping)

    def unscale(self) -> None:
        """Divide the gradients by the scale now (once a step): before torch's gradient
        clipping, which would clip the scaled ones (honest round 23: SGD stalled on a T4)."""
        if self.scaled and not self.unscaled:
            self.scaler.unscale_(self.optimizer)
            self.unscaled = True

    def step(self, closure=None):
        """One update; ``closure`` (torch.optim's ``step(closure)``: zero_grad, forward, loss,
        backward) is run first, as the scaler cannot take it (honest round 21: a T4 only)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        has_grad = any(p.grad is not None for g in self.param_groups for p in g["params"])
        if not (self.scaled and has_grad):  # nothing scaled (no loss or no backward yet)
            return self.optimizer.step() if closure is None else (self.optimizer.step(), loss)[1]
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scaled = self.unscaled = False
        return loss

    def __getattr__(self, name: str):
        return getattr(self.optimizer, name)


class HalfPrecisionStep:
    """The student's ``train_step`` under autocast of ``dtype``, with ``scaler`` (float16, kept
    for checkpoints) or without (bf16); returns the unscaled loss."""

    def __init__(self, train_step: TrainStep, dtype: torch.dtype, scaler=None):
        self.train_step, self.dtype, self.scaler = train_step, dtype, scaler
        self.__wrapped__ = train_step

    def __call__(self, model, images, labels, optimizer, loss_fn):
        model = AutocastModel(model, self.dtype)
        if self.scaler is None:
            return self.train_step(model, images, labels, optimizer, loss_fn)
        scaler, proxy = self.scaler, ScaledOptimizer(optimizer, self.scaler)
        used = []  # the scale each loss was multiplied by

        def scaled_loss(logits, target):
            loss = loss_fn(logits.float(), target)
            used.append(scaler.get_scale())
            proxy.scaled = True
            return scaler.scale(loss)

        with _clipping_unscaled(proxy, getattr(self.train_step, "__globals__", {})):
            result = self.train_step(model, images, labels, proxy, scaled_loss)
        if not used or result is None:
            return result
        try:
            return result / used[-1]
        except TypeError:  # not a number: left for the checks to report
            return result


@contextlib.contextmanager
def _clipping_unscaled(proxy: ScaledOptimizer, namespace: dict):
    """torch's gradient clippings unscale the gradients first, for the time of a step: as
    ``torch.nn.utils``'s functions and as the names the notebook imported them by."""
    from torch.nn.utils import clip_grad

    originals = [getattr(clip_grad, n) for n in ("clip_grad_norm_", "clip_grad_value_")]

    def unscaling(clip: Callable) -> Callable:
        @functools.wraps(clip)
        def clip_unscaled(*args, **kwargs):
            proxy.unscale()
            return clip(*args, **kwargs)

        return clip_unscaled

    swaps = {id(f): unscaling(f) for f in originals}
    places = [(vars(m), f.__name__) for m in (torch.nn.utils, clip_grad) for f in originals]
    places += [(namespace, k) for k, v in list(namespace.items()) if id(v) in swaps]
    saved = [(where, key, where[key]) for where, key in places if id(where.get(key)) in swaps]
    for where, key, original in saved:
        where[key] = swaps[id(original)]
    try:
        yield
    finally:
        for where, key, original in saved:
            where[key] = original


def student_step(
    train_step: TrainStep,
    device: torch.device,
    amp: bool = True,
    scaler: torch.amp.GradScaler | None = None,
) -> TrainStep:
    """The student's ``train_step(model, images, labels, optimizer, loss_fn)`` as the course loop
    runs it on ``device``: itself (CPU, MPS, ``amp=False``), or a :class:`HalfPrecisionStep` (bf16
    from Ampere; float16 with ``scaler``, default a new GradScaler, on a T4)."""
    dtype = amp_dtype(device) if amp else None
    if dtype is None:
        return train_step
    if dtype == torch.bfloat16:
        return HalfPrecisionStep(train_step, dtype)
    return HalfPrecisionStep(train_step, dtype, scaler or torch.amp.GradScaler(device.type))
