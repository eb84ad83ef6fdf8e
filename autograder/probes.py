"""Probe blocks: the grader's own versions of the blocks others are built from.

A request for (b) ``Down`` runs with the grader's ``DoubleConv``, (c) ``Up`` with its
``DoubleConv`` and ``center_crop``, (d) ``UNet`` with every block but ``OutConv``: a wrong
``DoubleConv`` costs (a) only. They have the reference's attributes (``pool``, ``conv``, ``up``)
and the channels (``in_channels``, ``out_channels``) a network may read, and take the options a
student's blocks add (``dropout=0.0``, ``bilinear=False``: honest round 18's lost (d)). A probe enters the kernel once every request testing its block was
answered; its parameters are created in the reference's order.
"""

from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F
from torch import nn


class ProbeDoubleConv(nn.Module):
    """(3x3 conv -> [BN] -> ReLU) x 2."""

    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False, *_, **__):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        pad = int(bool(padding))
        layers = []
        for c_in in (in_channels, out_channels):
            layers += [nn.Conv2d(c_in, out_channels, 3, padding=pad, bias=not batch_norm)]
            layers += [nn.BatchNorm2d(out_channels)] if batch_norm else []
            layers += [nn.ReLU()]
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return self.block(x)


class ProbeDown(nn.Module):
    """2x2 max-pool, then a DoubleConv."""

    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False, *_, **__):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.pool = nn.MaxPool2d(2)
        self.conv = ProbeDoubleConv(in_channels, out_channels, padding, batch_norm)

    def forward(self, x):
        return self.conv(self.pool(x))


def probe_center_crop(x, height, width):
    """The centre window (top/left rounded down)."""
    top, left = (x.shape[-2] - height) // 2, (x.shape[-1] - width) // 2
    return x[..., top : top + height, left : left + width]


class ProbeUp(nn.Module):
    """2x2 up-convolution, crop (or pad) the skip, concatenate [skip, x], DoubleConv."""

    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False, *_, **__):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.padding = padding
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, 2, stride=2)
        self.conv = ProbeDoubleConv(in_channels, out_channels, padding, batch_norm)

    def forward(self, x, skip):
        x = self.up(x)
        if not self.padding:
            skip = probe_center_crop(skip, x.shape[-2], x.shape[-1])
        elif x.shape[-2:] != skip.shape[-2:]:
            dh, dw = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
            x = F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])
        return self.conv(torch.cat([skip, x], dim=1))


def _positional(function, skip: int = 0, least: int = 2) -> inspect.Signature | None:
    """``function``'s signature without its first ``skip`` parameters, if it names ``least``
    positional ones at least (else None: called as the probe is)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = list(signature.parameters.values())[skip:]
    named = [p for p in params if p.kind in kinds]
    return signature.replace(parameters=params) if len(named) >= least else None


def _bound(signature: inspect.Signature | None, args: tuple, kwargs: dict):
    """``args`` and ``kwargs`` bound by ``signature``, or None."""
    try:
        return signature.bind(*args, **kwargs) if signature else None
    except TypeError:
        return None


def _fitted_function(probe, block):
    """The probe ``center_crop`` called as the notebook's (``center_crop(x, target_h=...)``)."""
    signature, inputs = _positional(block), len(inspect.signature(probe).parameters)

    def fitted_crop(*args, **kwargs):  # (its own inputs: x, height, width)
        given = _bound(signature, args, kwargs)
        return probe(*given.args[:inputs]) if given else probe(*args, **kwargs)

    fitted_crop.__signature__ = signature  # (the check reads it: called as theirs)
    return fitted_crop


def fitted(probe, block):
    """``probe`` called as the notebook's own ``block`` is: its arguments bound by the block's
    signature (``DoubleConv(in_ch=..., out_ch=...)``, milesial's ``mid_channels`` or
    ``bilinear`` third, ``up(x1=x, x2=skip)``, ``center_crop(x, target_h=...)``), the first two
    the channels, ``pad*`` the padding, ``*norm*``/``bn`` the batch norm; an attribute the probe
    lacks (``self.ups[-1].out_ch``) read from the block built alike, if a number, string or
    tuple (honest rounds 20 and 23: a U-Net that called or read its blocks so lost (d))."""
    if not isinstance(probe, type):
        return _fitted_function(probe, block)
    if not isinstance(block, type):
        return probe
    signature = _positional(block)
    forward = _positional(getattr(block, "forward", None), 1, 1)
    inputs = len(inspect.signature(probe.forward).parameters) - 1  # (self aside)

    def option(arguments: dict, *words: str):
        return next((v for k, v in arguments.items() if any(w in k.lower() for w in words)), False)

    class Fitted(probe):
        def __init__(self, *args, **kwargs):
            self.__dict__["_as_built"] = (args, kwargs)
            given = _bound(signature, args, kwargs)
            if given is None:
                super().__init__(*args, **kwargs)
                return
            given.apply_defaults()
            arguments = dict(given.arguments)
            for p in signature.parameters.values():
                if p.kind is p.VAR_KEYWORD:
                    arguments.update(arguments.pop(p.name, {}))
            named = list(arguments)
            c_in, c_out = arguments.pop(named[0]), arguments.pop(named[1])
            super().__init__(c_in, c_out, option(arguments, "pad"), option(arguments, "norm", "bn"))

        def forward(self, *args, **kwargs):  # (its own inputs: a student's `crop=` aside)
            given = _bound(forward, args, kwargs)
            if given is None:
                return super().forward(*args, **kwargs)
            return super().forward(*given.args[:inputs])

        def __getattr__(self, name: str):
            try:
                return super().__getattr__(name)
            except AttributeError:
                if name.startswith("_") or "_as_built" not in self.__dict__:
                    raise
            args, kwargs = self.__dict__.pop("_as_built")
            with torch.random.fork_rng(devices=[]):  # (the probes' weights: the reference's)
                try:
                    own = vars(block(*args, **kwargs))
                except Exception:
                    own = {}
            plain = (int, float, bool, str, tuple, type(None))
            for key, value in own.items():
                if isinstance(value, plain) and key not in self.__dict__:
                    self.__dict__[key] = value
            return super().__getattr__(name) if name not in self.__dict__ else self.__dict__[name]

    Fitted.__name__ = Fitted.__qualname__ = probe.__name__
    return Fitted


PROBES = {
    "DoubleConv": ProbeDoubleConv,
    "Down": ProbeDown,
    "Up": ProbeUp,
    "center_crop": probe_center_crop,
}
# the probes each probe is built from (their source goes with it)
BUILT_FROM = {"Down": ["DoubleConv"], "Up": ["DoubleConv", "center_crop"]}
_HEADER = (
    "import inspect\n\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n\n"
)


def probe_source(names: list[str]) -> str:
    """Python source defining ``PROBES`` with the probes ``names`` (and what they are built from)."""
    needed = []
    for name in names:
        for part in [*BUILT_FROM.get(name, []), name]:
            if part not in needed:
                needed.append(part)
    helpers = [_positional, _bound, _fitted_function, fitted]
    body = "\n\n".join(inspect.getsource(f) for f in [*(PROBES[n] for n in needed), *helpers])
    table = ", ".join(f"{n!r}: {PROBES[n].__name__}" for n in names)
    return f"{_HEADER}{body}\n\nPROBES = {{{table}}}\nFIT = fitted\n"
