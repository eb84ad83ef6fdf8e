"""Hidden grading tests: each student block against the reference in ``solutions/``.

The notebook's test cells call :func:`check` in their hidden part (removed from the student
version, restored by nbgrader at grading)::

    from unet_tp.instructor import hidden_tests
    hidden_tests().check("test_double_conv_reference", DoubleConv)

When ``unet-tp grade`` runs a notebook, the kernel's start-up file calls :func:`arm` before any
student code runs. Arming snapshots the functions the checks rely on (``torch.allclose``,
``numpy.testing``, the tensor operators, the visible checks, this module's own functions),
hides the ``solutions`` package from the notebook, and takes a per-notebook secret key. A check
that passes then prints a token, an HMAC of its test id; the grader counts a test cell only if
its output holds the right token and no error. So a notebook that patches a comparison function,
redefines a test helper, imports the reference, swallows exceptions, or prints fake success lines
earns nothing from it. (A student's code still runs with the grader's rights: for a hostile
class, run ``unet-tp grade`` in a container.)
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import hmac
import importlib.abc
import io
import json
import linecache
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

import numpy as np
import numpy.testing
import torch
import torch.nn.functional as F
import torch.testing
from torch import nn

from unet_tp import checks as visible_checks
from unet_tp import metrics
from unet_tp.instructor import import_solutions

_SOL = import_solutions()
_REF = MappingProxyType(
    {
        name: getattr(_SOL, name)
        for name in (
            "DoubleConv",
            "Down",
            "Up",
            "UNet",
            "center_crop",
            "categorical_cross_entropy",
            "train_step",
            "predict",
            "dice_score",
        )
    }
)

# what a notebook could patch to fake a pass: (owner, attribute name)
_GUARDED_ATTRS = [
    (torch, "allclose"),
    (torch, "equal"),
    (torch, "isclose"),
    (torch, "isfinite"),
    (torch.testing, "assert_close"),
    (np, "allclose"),
    (np, "isclose"),
    (np, "array_equal"),
    (np.testing, "assert_allclose"),
    (np.testing, "assert_array_equal"),
    (np.testing, "assert_equal"),
    (math, "isclose"),
    (builtins, "abs"),
    (builtins, "max"),
    (builtins, "float"),
    (builtins, "isinstance"),
    (builtins, "print"),
    (builtins, "len"),
    (torch.Tensor, "__sub__"),
    (torch.Tensor, "__eq__"),
    (torch.Tensor, "abs"),
    (torch.Tensor, "max"),
    (torch.Tensor, "item"),
    (torch.Tensor, "all"),
    (torch.Tensor, "backward"),
    (F, "cross_entropy"),
    (F, "one_hot"),
    (nn.Module, "__call__"),
    (nn.Module, "parameters"),
    (nn.Module, "load_state_dict"),
]


def _snapshot() -> dict[str, tuple[object, str, object]]:
    snap = {}
    for owner, attr in _GUARDED_ATTRS:
        label = f"{getattr(owner, '__name__', owner)}.{attr}"
        snap[label] = (owner, attr, getattr(owner, attr))
    for name in dir(visible_checks):
        if name.startswith("check_"):
            snap[f"unet_tp.checks.{name}"] = (visible_checks, name, getattr(visible_checks, name))
    module = sys.modules[__name__]
    for name, value in list(vars(module).items()):
        frozen = isinstance(value, MappingProxyType)  # _REF, _TESTS: read-only, and guarded
        if frozen or (callable(value) and not isinstance(value, type) and name != "__getattr__"):
            snap[f"{__name__}.{name}"] = (module, name, value)
    return snap


_ORIGINALS = _snapshot()
_STATE: dict[str, object] = {"key": None, "cells": {}}
_abs, _max, _float, _print = builtins.abs, builtins.max, builtins.float, builtins.print


class GradingError(AssertionError):
    """A hidden test failed; the message says what differs from the reference."""


def _verify_untouched() -> None:
    changed = [
        label
        for label, (owner, attr, value) in _ORIGINALS.items()
        if getattr(owner, attr, None) is not value
    ]
    if changed:
        raise GradingError(
            f"the notebook replaced {', '.join(changed)}: grading cannot trust its checks here"
        )


class _HideSolutions(importlib.abc.MetaPathFinder):
    """Refuses ``import solutions`` inside a notebook being graded."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "solutions" or fullname.startswith("solutions."):
            raise ImportError(
                "the reference solutions are not available to notebooks during grading"
            )
        return None


def arm() -> None:
    """Start grading mode (called by the kernel's start-up file, before any notebook cell)."""
    key_file = os.environ.pop("UNET_TP_GRADING_KEY_FILE", None)
    cells = os.environ.pop("UNET_TP_GRADING_CELLS", None)
    if not key_file:
        return
    key_path = Path(key_file)
    _STATE["key"] = key_path.read_bytes().strip()
    key_path.unlink()  # read once: the notebook cannot read it after this
    _STATE["cells"] = json.loads(Path(cells).read_text()) if cells else {}
    for name in [m for m in sys.modules if m == "solutions" or m.startswith("solutions.")]:
        del sys.modules[name]
    sys.meta_path.insert(0, _HideSolutions())


def token(key: bytes, test_id: str) -> str:
    """The pass token of ``test_id`` under ``key`` (the grader recomputes it)."""
    return hmac.new(key, test_id.encode(), hashlib.sha256).hexdigest()[:32]


def _caller_is_test_cell(test_id: str, frame) -> bool:
    cells = _STATE["cells"]
    expected = cells.get(test_id) if isinstance(cells, dict) else None
    if not expected:
        return False
    source = "".join(linecache.getlines(frame.f_code.co_filename))
    return expected.strip() in source


def check(test_id: str, *objects) -> None:
    """Run the hidden test ``test_id`` on the student's objects; print the pass line."""
    _verify_untouched()
    if test_id not in _TESTS:
        raise GradingError(f"unknown hidden test {test_id!r}")
    if _STATE["key"] is not None and not _caller_is_test_cell(test_id, sys._getframe(1)):
        raise GradingError(f"{test_id} was called from outside its test cell")
    _TESTS[test_id](*objects)
    _verify_untouched()
    key = _STATE["key"]
    line = f"[hidden tests] {test_id}: passed"
    if isinstance(key, bytes):
        line += f" {token(key, test_id)}"
    _print(line)


# ---- helpers -------------------------------------------------------------------------------


def _require_student_code(obj) -> None:
    """The object must be the notebook's own code, not the reference or a wrapper of it."""
    module = getattr(obj, "__module__", "") or ""
    if module.startswith("solutions") or obj in _REF.values():
        raise GradingError(f"{getattr(obj, '__name__', obj)} is the reference implementation")


def _require_own_modules(module: nn.Module) -> None:
    for sub in module.modules():
        if type(sub).__module__.startswith("solutions"):
            raise GradingError(f"{type(sub).__name__} inside the block comes from the reference")


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return _float((a.detach().double() - b.detach().double()).abs().max())


def _params_by_definition(module: nn.Module) -> list[torch.Tensor]:
    return list(module.parameters())


def _params_by_execution(module: nn.Module, *inputs) -> list[torch.Tensor]:
    """Parameters in the order their modules first run in ``forward``."""
    order: list[nn.Module] = []
    hooks = []
    for m in module.modules():
        if list(m.parameters(recurse=False)):
            hooks.append(
                m.register_forward_pre_hook(
                    lambda mod, _: order.append(mod) if mod not in order else None
                )
            )
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        for h in hooks:
            h.remove()
    params = [p for m in order for p in m.parameters(recurse=False)]
    seen = {id(p) for p in params}
    return params + [p for p in module.parameters() if id(p) not in seen]


def _load_reference_weights(
    student: nn.Module, reference: nn.Module, inputs: tuple, name: str
) -> list[list[torch.Tensor]]:
    """Candidate matchings of the student's parameters to the reference's (by order, shape)."""
    ref_def = _params_by_definition(reference)
    ref_exe = _params_by_execution(reference, *inputs)
    st_def = _params_by_definition(student)
    if len(st_def) != len(ref_def):
        raise GradingError(
            f"{name} has {len(st_def)} parameter tensors, the reference {len(ref_def)} "
            f"(shapes {[tuple(p.shape) for p in ref_def]})"
        )
    try:
        st_exe = _params_by_execution(student, *inputs)
    except Exception:  # the forward fails: the comparison below reports it
        st_exe = st_def
    candidates = []
    for st, ref in ((st_def, ref_def), (st_exe, ref_exe)):
        if all(a.shape == b.shape for a, b in zip(st, ref, strict=True)):
            candidates.append([st, ref])
    if not candidates:
        raise GradingError(
            f"{name}: the parameter shapes {[tuple(p.shape) for p in st_def]} do not match the "
            f"reference's {[tuple(p.shape) for p in ref_def]}"
        )
    return candidates


def _same_as_reference(
    make_student: Callable[[], nn.Module],
    make_reference: Callable[[], nn.Module],
    inputs: tuple,
    name: str,
    tol: float = 1e-4,
) -> None:
    """Outputs equal to the reference's once the reference weights are loaded, and gradients
    reaching every parameter."""
    torch.manual_seed(0)
    student, reference = make_student(), make_reference()
    _require_own_modules(student)
    last = ""
    for st_params, ref_params in _load_reference_weights(student, reference, inputs, name):
        with torch.no_grad():
            for p, q in zip(st_params, ref_params, strict=True):
                p.copy_(q)
        with torch.no_grad():
            expected = reference(*inputs)
            got = student(*inputs)
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            last = (
                f"output shape {tuple(getattr(got, 'shape', ()))}, expected {tuple(expected.shape)}"
            )
            continue
        diff = _max_diff(got, expected)
        scale = _max(1.0, _float(expected.abs().max()))
        if diff <= tol * scale:
            break
        last = f"max |difference| {diff:.3g}"
    else:
        raise GradingError(
            f"{name}: with the reference weights loaded, the output differs from the "
            f"reference ({last})"
        )
    # every parameter receives a gradient
    student.zero_grad()
    out = student(*[x.clone() for x in inputs])
    (out.double() ** 2).mean().backward()
    dead = [
        tuple(p.shape) for p in student.parameters() if p.grad is None or not p.grad.abs().sum()
    ]
    if dead:
        raise GradingError(f"{name}: no gradient reaches the parameters of shape {dead}")


def _visible(visible_check: Callable, *objects) -> None:
    """The visible check again (grading cannot trust the kernel's copy), quietly: the visible
    part of the cell already printed its lines."""
    for obj in objects:
        _require_student_code(obj)
    with contextlib.redirect_stdout(io.StringIO()):
        visible_check(*objects)


# ---- the hidden tests, by test cell ------------------------------------------------------------


def _t_double_conv(DoubleConv) -> None:  # noqa: N803
    _visible(visible_checks.check_double_conv, DoubleConv)


def _t_double_conv_reference(DoubleConv) -> None:  # noqa: N803
    _require_student_code(DoubleConv)
    x = (torch.randn(2, 3, 20, 20),)
    for padding, bn in ((False, False), (True, False), (False, True)):
        _same_as_reference(
            lambda p=padding, b=bn: DoubleConv(3, 8, padding=p, batch_norm=b),
            lambda p=padding, b=bn: _REF["DoubleConv"](3, 8, padding=p, batch_norm=b),
            x,
            f"DoubleConv(3, 8, padding={padding}, batch_norm={bn})",
        )


def _t_down(Down) -> None:  # noqa: N803
    _visible(visible_checks.check_down, Down)


def _t_down_reference(Down) -> None:  # noqa: N803
    _require_student_code(Down)
    x = (torch.randn(2, 8, 24, 24),)
    for padding, bn in ((False, False), (True, True)):
        _same_as_reference(
            lambda p=padding, b=bn: Down(8, 16, padding=p, batch_norm=b),
            lambda p=padding, b=bn: _REF["Down"](8, 16, padding=p, batch_norm=b),
            x,
            f"Down(8, 16, padding={padding}, batch_norm={bn})",
        )


def _t_center_crop(center_crop) -> None:
    _visible(visible_checks.check_center_crop, center_crop)
    g = torch.Generator().manual_seed(3)
    for h, w, th, tw in ((64, 64, 56, 56), (17, 20, 8, 13), (9, 9, 9, 9), (30, 31, 1, 2)):
        x = torch.randn(2, 3, h, w, generator=g)
        got = center_crop(x, th, tw)
        if not torch.equal(got, _REF["center_crop"](x, th, tw)):
            raise GradingError(f"center_crop of a {h}x{w} map to {th}x{tw} is not the centre")


def _t_up(Up) -> None:  # noqa: N803
    _visible(visible_checks.check_up, Up)


def _t_up_reference(Up) -> None:  # noqa: N803
    _require_student_code(Up)
    _same_as_reference(
        lambda: Up(16, 8),
        lambda: _REF["Up"](16, 8),
        (torch.randn(2, 16, 6, 6), torch.randn(2, 8, 17, 17)),
        "Up(16, 8) (skip cropped 17 -> 12)",
    )
    _same_as_reference(
        lambda: Up(16, 8, padding=True, batch_norm=True),
        lambda: _REF["Up"](16, 8, padding=True, batch_norm=True),
        (torch.randn(2, 16, 6, 6), torch.randn(2, 8, 12, 12)),
        "Up(16, 8, padding=True, batch_norm=True)",
    )


def _t_unet(UNet) -> None:  # noqa: N803
    _visible(visible_checks.check_unet, UNet)


def _t_unet_reference(UNet) -> None:  # noqa: N803
    _require_student_code(UNet)
    ref = _REF["UNet"](4, 4, base_channels=4, depth=3, padding=False)
    size = ref.input_size_for(20)
    _same_as_reference(
        lambda: UNet(4, 4, base_channels=4, depth=3, padding=False),
        lambda: _REF["UNet"](4, 4, base_channels=4, depth=3, padding=False),
        (torch.randn(1, 4, size, size),),
        f"UNet(4, 4, base_channels=4, depth=3) on {size}x{size}",
    )
    _same_as_reference(
        lambda: UNet(4, 4, base_channels=4, depth=4, padding=True, batch_norm=True),
        lambda: _REF["UNet"](4, 4, base_channels=4, depth=4, padding=True, batch_norm=True),
        (torch.randn(2, 4, 48, 48),),
        "UNet(4, 4, base_channels=4, depth=4, padding=True, batch_norm=True) on 48x48",
    )
    net = UNet(in_channels=1, num_classes=2, padding=False)
    total = sum(p.numel() for p in net.parameters())
    if total != 31_030_658:
        raise GradingError(f"the paper's network has {total:,} parameters, not 31,030,658")


def _loss_cases():
    g = torch.Generator().manual_seed(11)
    rand = torch.randn(2, 4, 7, 5, generator=g, dtype=torch.float64) * 3
    target = torch.randint(0, 4, (2, 7, 5), generator=g)
    weight = torch.tensor([0.2, 1.0, 3.0, 0.5], dtype=torch.float64)
    return [
        ("random logits", rand, target, None),
        ("class weights", rand, target, weight),
        ("one class only in the target", rand, torch.zeros_like(target), None),
        ("a single-class problem (C = 1)", rand[:, :1], torch.zeros_like(target), None),
        ("extreme logits (+-1e4)", rand.sign() * 1e4, target, None),
        ("extreme logits with weights", rand * 1e3, target, weight),
        ("float32 logits", rand.float(), target, None),
    ]


def _t_loss(loss_fn) -> None:
    _visible(visible_checks.check_loss, loss_fn)


class _Forbidden:
    def __init__(self, name):
        self.name = name

    def __call__(self, *args, **kwargs):
        raise GradingError(
            f"the loss calls {self.name}: Eq. (1) must be written out (softmax/log/sum)"
        )


def _t_loss_reference(loss_fn) -> None:
    _require_student_code(loss_fn)
    saved = (F.cross_entropy, F.nll_loss, nn.CrossEntropyLoss.forward, nn.NLLLoss.forward)
    F.cross_entropy, F.nll_loss = _Forbidden("F.cross_entropy"), _Forbidden("F.nll_loss")
    nn.CrossEntropyLoss.forward = _Forbidden("nn.CrossEntropyLoss")
    nn.NLLLoss.forward = _Forbidden("nn.NLLLoss")
    try:
        for label, logits, target, weight in _loss_cases():
            logits_s = logits.clone().requires_grad_()
            logits_r = logits.clone().requires_grad_()
            args = (target,) if weight is None else (target, weight)
            got = loss_fn(logits_s, *args)
            expected = _REF["categorical_cross_entropy"](logits_r, *args)
            if not isinstance(got, torch.Tensor) or got.numel() != 1:
                raise GradingError(f"{label}: the loss is not a scalar tensor")
            got_value = got.detach()
            if not bool(torch.isfinite(got_value)):
                raise GradingError(f"{label}: the loss is {_float(got_value)}")
            tol = 1e-5 if logits.dtype == torch.float64 else 1e-4
            gap = _abs(_float(got_value) - _float(expected.detach()))
            if gap > tol * _max(1.0, _abs(_float(expected.detach()))):
                raise GradingError(
                    f"{label}: loss {_float(got_value):.6g}, expected {_float(expected.detach()):.6g}"
                )
            got.backward()
            expected.backward()
            if logits_s.grad is None or _max_diff(logits_s.grad, logits_r.grad) > tol:
                raise GradingError(f"{label}: the gradient differs from the reference")
    finally:
        F.cross_entropy, F.nll_loss, nn.CrossEntropyLoss.forward, nn.NLLLoss.forward = saved


def _t_train_step(train_step) -> None:
    _require_student_code(train_step)
    with contextlib.redirect_stdout(io.StringIO()):  # printed by the visible part
        visible_checks.check_train_step(train_step, F.cross_entropy)


def _t_train_step_reference(train_step) -> None:
    _require_student_code(train_step)
    torch.manual_seed(5)
    make = lambda: nn.Sequential(  # noqa: E731
        nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.Conv2d(6, 4, 1)
    )
    student, reference = make(), make()
    reference.load_state_dict(student.state_dict())
    student.eval()
    reference.eval()  # train_step must switch to training mode itself
    opt_s = torch.optim.Adam(student.parameters(), lr=1e-2)
    opt_r = torch.optim.Adam(reference.parameters(), lr=1e-2)
    images = torch.randn(3, 4, 10, 10)
    labels = torch.randint(0, 4, (3, 10, 10))
    ce = _REF["categorical_cross_entropy"]
    for step in range(3):
        got = train_step(student, images, labels, opt_s, ce)
        expected = _REF["train_step"](reference, images, labels, opt_r, ce)
        if not isinstance(got, float) or _abs(got - expected) > 1e-5:
            raise GradingError(
                f"step {step + 1}: returned {got!r}, expected the loss {expected:.6f}"
            )
    diff = _max(
        _max_diff(a, b) for a, b in zip(student.parameters(), reference.parameters(), strict=True)
    )
    if diff > 1e-5:
        raise GradingError(
            f"after 3 Adam steps the weights differ from the reference by {diff:.3g}"
        )


def _t_predict_dice(predict, dice_score) -> None:
    _visible(visible_checks.check_predict_dice, predict, dice_score)


def _t_predict_dice_reference(predict, dice_score) -> None:
    _require_student_code(predict)
    _require_student_code(dice_score)
    rng = np.random.default_rng(4)
    for shape, p in (((5, 6), 0.3), ((4, 8, 3), 0.05), ((10,), 0.0), ((3, 3), 1.0)):
        a, b = rng.random(shape) < p, rng.random(shape) < p
        got, expected = dice_score(a, b), metrics.dice(a, b)
        if _abs(_float(got) - expected) > 1e-9:
            raise GradingError(f"Dice of two {shape} masks: {got}, expected {expected}")
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4))
    with torch.no_grad():
        model(torch.randn(8, 4, 6, 6) * 3 + 1)  # running statistics away from 0/1
    model.train()
    images = torch.randn(2, 4, 6, 6)
    got = predict(model, images)
    expected = _REF["predict"](model, images)
    if not torch.equal(got.long(), expected.long()):
        raise GradingError("predict differs from the argmax of the model in eval mode")


_TESTS: MappingProxyType[str, Callable] = MappingProxyType(
    {
        "test_double_conv": _t_double_conv,
        "test_double_conv_reference": _t_double_conv_reference,
        "test_down": _t_down,
        "test_down_reference": _t_down_reference,
        "test_center_crop": _t_center_crop,
        "test_up": _t_up,
        "test_up_reference": _t_up_reference,
        "test_unet": _t_unet,
        "test_unet_reference": _t_unet_reference,
        "test_loss": _t_loss,
        "test_loss_reference": _t_loss_reference,
        "test_train_step": _t_train_step,
        "test_train_step_reference": _t_train_step_reference,
        "test_predict_dice": _t_predict_dice,
        "test_predict_dice_reference": _t_predict_dice_reference,
    }
)

# the functions defined above, and the two tables; read-only from here on
_ORIGINALS = MappingProxyType({**_ORIGINALS, **_snapshot()})
