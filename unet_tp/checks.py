"""The notebook's visible self-checks: each says what was expected, what came out, and names the
mistake.

They run the cases of :mod:`unet_tp.check_cases`, the cases the grader compares with the reference
(on fresh random inputs), here on fixed inputs and without the reference: known properties, hand
examples, ``F.cross_entropy``, and the student's own layers (a DoubleConv's output is rebuilt from
its own Conv2d and BatchNorm2d weights, a Down's from its own DoubleConv, a UNet's from its own
blocks). So "ok" means the block will get its points, and a failure that it will lose them.

A check prints one line per point it verified and raises ``AssertionError`` at the first problem.
An exception raised inside the student's code becomes an ``AssertionError`` that shows the line
that raised and the expected shape at each step of the block.
"""

from __future__ import annotations

import contextlib
import math
import traceback
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from unet_tp import check_cases as cases
from unet_tp.metrics import dice as exact_dice

TOLERANCE = {torch.float64: 1e-7, torch.float32: 1e-4}  # the grader's, relative to the scale
GRADIENT_TOLERANCE = {dtype: 10 * tol for dtype, tol in TOLERANCE.items()}


def _ok(message: str) -> None:
    print(f"  ok: {message}")


def _shape(t) -> tuple | str:
    return tuple(t.shape) if hasattr(t, "shape") else type(t).__name__


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _conv_params(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


def _describe(module: nn.Module) -> str:
    layers = [
        type(m).__name__
        for m in module.modules()
        if not list(m.children()) and not isinstance(m, nn.Identity)
    ]
    return " -> ".join(layers) or "no layers"


# ---- errors raised by the student's code: the line, and the expected shapes ---------------------


def is_student_frame(filename: str) -> bool:
    """A frame of the notebook's cells (IPython's names; ``<cell ...>`` for cells run by tests)."""
    return (
        filename.startswith("<ipython-input")
        or "ipykernel_" in filename
        or filename.startswith("<cell")
    )


def _where(exc: BaseException) -> str:
    """The lines of the student's cells the error went through, outermost first (at most 3):
    ``line N: `code``` each, or ''."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if is_student_frame(f.filename)][
        -3:
    ]
    lines = []
    for frame in frames:
        code = (frame.line or "").strip()
        lines.append(f"line {frame.lineno}" + (f": `{code[:120]}`" if code else ""))
    return " -> ".join(lines)


def _table(steps: list[tuple[str, object]]) -> str:
    width = max(len(name) for name, _ in steps)
    return "\n".join(f"    {name:<{width}}  {shape}" for name, shape in steps)


def _explain(
    exc: BaseException, what: str, steps: list[tuple[str, object]], hint: str = ""
) -> BaseException:
    """The AssertionError that shows an exception of the student's code: the error, the line that
    raised, a hint naming the mistake, and the expected shape at each step (a blank's stub,
    ``NotImplementedError``, is shown as it is)."""
    last = traceback.extract_tb(exc.__traceback__)[-1:]
    if isinstance(exc, NotImplementedError) and last and is_student_frame(last[0].filename):
        return exc  # a blank not filled in yet: its own error says it best
    message = f"{what} raised {type(exc).__name__}: {str(exc).strip()[:300]}"
    where = _where(exc)
    if where:
        message += f"\n  in your code, {where}"
    if hint:
        message += f"\n  {hint}"
    message += f"\n  Expected shapes, step by step:\n{_table(steps)}"
    return AssertionError(message)


class _Calls:
    """Records which submodules run, in order, and which ones were running when an exception
    left the module (the innermost first)."""

    def __init__(self, module: nn.Module):
        self.module, self.order, self.stack, self.hooks = module, [], [], []
        self.names = {id(m): name for name, m in module.named_modules()}

    def __enter__(self) -> _Calls:
        for m in self.module.modules():
            self.hooks.append(m.register_forward_pre_hook(self._enter))
            self.hooks.append(m.register_forward_hook(self._leave))
        return self

    def _enter(self, m, _args) -> None:
        if all(m is not seen for seen in self.order):
            self.order.append(m)
        self.stack.append(m)

    def _leave(self, m, _args, _out) -> None:
        if self.stack and self.stack[-1] is m:
            self.stack.pop()

    def __exit__(self, *exc) -> None:
        for h in self.hooks:
            h.remove()

    def of(self, kind: type) -> list[nn.Module]:
        return [m for m in self.order if isinstance(m, kind)]

    def inside(self) -> str:
        """The innermost named block running when the exception left ('' if the top one)."""
        for m in reversed(self.stack):
            name = self.names.get(id(m), "")
            if name and m is not self.module:
                return f"{name} ({type(m).__name__})"
        return ""


# ---- numbers ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[torch.dtype]:
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield dtype
    finally:
        torch.set_default_dtype(before)


def _randomize(module: nn.Module, seed: int) -> None:
    """Weights as the grader's: He-scaled normal weights, batch-norm scales around 1, small biases
    (so a batch norm's default weight 1 and bias 0 hide nothing)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for sub in module.modules():
            for name, p in sub.named_parameters(recurse=False):
                draw = torch.randn(p.shape, generator=g)
                if p.dim() > 1:
                    value = draw * math.sqrt(2.0 / max(1, p[0].numel()))
                elif isinstance(sub, nn.BatchNorm2d) and name == "weight":
                    value = 1 + 0.1 * draw
                else:
                    value = 0.1 * draw
                p.copy_(value.to(p.dtype))


def _diff(got: torch.Tensor, want: torch.Tensor) -> float:
    if tuple(got.shape) != tuple(want.shape):
        return math.inf
    if not got.numel():
        return 0.0
    return float((got.detach().double() - want.detach().double()).abs().max())


def _close(got, want: torch.Tensor, tol: float) -> bool:
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(want.shape):
        return False
    scale = max(1.0, float(want.detach().abs().max()) if want.numel() else 1.0)
    return _diff(got, want) <= tol * scale  # NaN fails


def _grads(out: torch.Tensor, params: list[torch.Tensor], cotangent: torch.Tensor) -> list:
    if not out.requires_grad:
        return [None] * len(params)
    return list(
        torch.autograd.grad((out * cotangent).sum(), params, allow_unused=True, retain_graph=True)
    )


def _dead_gradients(module: nn.Module, out, expected, dtype) -> list[tuple]:
    """Shapes of the parameters whose gradient (of sum(output * c), c random) differs from the
    one the expected computation gives, or is missing."""
    params = [p for p in module.parameters() if p.requires_grad]
    cot = torch.randn(out.shape, generator=torch.Generator().manual_seed(3)).to(out.dtype)
    got, want = _grads(out, params, cot), _grads(expected, params, cot)
    dead = []
    for p, g, w in zip(params, got, want, strict=True):
        if w is None:
            continue
        if g is None or not _close(g, w, GRADIENT_TOLERANCE[dtype]):
            dead.append(tuple(p.shape))
    return dead


def _namespace(obj) -> dict:
    """The globals the student's class or function looks its names up in (the notebook's)."""
    for value in vars(obj).values() if isinstance(obj, type) else [obj]:
        fn = getattr(value, "__func__", value)
        if hasattr(fn, "__globals__"):
            return fn.__globals__
    return {}


def _block_class(ns: dict, name: str) -> type | None:
    cls = ns.get(name)
    return cls if isinstance(cls, type) and issubclass(cls, nn.Module) else None


def _top_instances(module: nn.Module, kind: type | None) -> list[nn.Module]:
    """Instances of ``kind`` inside ``module`` that are not inside another one."""
    if kind is None:
        return []
    found: list[nn.Module] = []
    for sub in module.modules():
        inside = any(any(s is sub for s in f.modules()) for f in found)
        if sub is not module and isinstance(sub, kind) and not inside:
            found.append(sub)
    return found


def _build(cls: type, case: cases.ModuleCase) -> nn.Module:
    return cls(*case.args, **case.keywords)


@contextlib.contextmanager
def _replaced(ns: dict, name: str, value) -> Iterator[None]:
    """``ns[name] = value`` for the time of a check (the grader does the same with its probes)."""
    missing = object()
    saved = ns.get(name, missing)
    ns[name] = value
    try:
        yield
    finally:
        if saved is missing:
            ns.pop(name, None)
        else:
            ns[name] = saved


class _Run:
    """A module case run: the module (reference-like weights), its inputs and output, the order
    its layers ran in, in float64 (float32 if the student's code cannot run in float64)."""

    def __init__(self, cls: type, case: cases.ModuleCase, steps: list[tuple[str, object]]):
        self.case, self.steps = case, steps
        errors = []
        self.meta = case.meta
        for dtype in (torch.float32,) if case.meta else (torch.float64, torch.float32):
            self.dtype = dtype
            with self.dtype_context():
                calls = None
                try:
                    torch.manual_seed(0)
                    self.module = _build(cls, case)
                    if not case.meta:
                        _randomize(self.module, 1)
                    self.module.train()
                    if case.meta:
                        self.inputs = [torch.zeros(s) for s in case.inputs]
                    else:
                        self.inputs = [x.to(dtype) for x in case.draw(cases.visible_rng())]
                    calls = _Calls(self.module)
                    with calls:
                        self.out = self.module(*[x.clone() for x in self.inputs])
                except Exception as exc:  # noqa: BLE001 - shown to the student below
                    errors.append((exc, calls.inside() if calls else ""))
                    continue
            self.calls = calls
            break
        else:
            exc, inside = errors[0]
            hint = f"(inside {inside})" if inside else ""
            raise _explain(exc, case.label, steps, hint)
        if not isinstance(self.out, torch.Tensor):
            raise AssertionError(
                f"{case.label}: forward returned {type(self.out).__name__}, not a tensor: did "
                "you forget `return`?"
            )

    @property
    def tol(self) -> float:
        return TOLERANCE[self.dtype]

    @contextlib.contextmanager
    def dtype_context(self) -> Iterator[None]:
        """The run's default dtype (and the meta device for a meta case)."""
        device = torch.device("meta") if self.meta else contextlib.nullcontext()
        with _default_dtype(self.dtype), device:
            yield

    def guard(self, what: str, fn: Callable):
        """``fn()``; an exception of the student's code becomes an explained AssertionError."""
        try:
            with self.dtype_context():
                return fn()
        except AssertionError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise _explain(exc, what, self.steps) from None

    def check_shape(self, hint: str = "") -> None:
        if _shape(self.out) != self.case.output:
            raise AssertionError(
                f"{self.case.label} on {_inputs_text(self.case)}: expected output "
                f"{self.case.output}, got {_shape(self.out)}.{hint}\n  Expected shapes, step by "
                f"step:\n{_table(self.steps)}\n  Layers found: {_describe(self.module)}."
            )

    def check_gradients(self, expected: torch.Tensor) -> None:
        if not self.case.gradients:
            return
        with self.dtype_context():
            dead = _dead_gradients(self.module, self.out, expected, self.dtype)
        if dead:
            raise AssertionError(
                f"{self.case.label}: the output is right but no gradient (or a wrong one) reaches "
                f"the parameters of shape {', '.join(map(str, dead[:4]))}: no .detach(), "
                ".data, .numpy() or torch.no_grad() in forward"
            )


def _inputs_text(case: cases.ModuleCase) -> str:
    names = ("x", "skip") if len(case.inputs) == 2 else ("an input",)
    return " and ".join(f"{n} {s}" for n, s in zip(names, case.inputs, strict=True))


# ---- (a) DoubleConv ------------------------------------------------------------------------


def _double_conv_steps(n: int, c_in: int, c_out: int, size, padding: bool, bn: bool) -> list:
    h, w = size
    b = 0 if padding else 2
    steps: list[tuple[str, object]] = [("input", (n, c_in, h, w))]
    for i in (1, 2):
        h, w = h - b, w - b
        steps.append((f"conv{i} 3x3 (padding={int(padding)})", (n, c_out, h, w)))
        if bn:
            steps.append((f"BatchNorm2d {i}", (n, c_out, h, w)))
        steps.append((f"ReLU {i}", (n, c_out, h, w)))
    return steps


def _conv_bn_relu(x, convs, bns, padding: bool, order: str = "conv bn relu", relus=(1, 1)):
    """Two (conv -> [BN] -> ReLU) built from the student's own layers; ``order`` and ``relus``
    give the usual mistakes."""
    pad = int(bool(padding))
    for i, conv in enumerate(convs):
        x = F.conv2d(x, conv.weight, conv.bias, padding=pad)
        for step in order.split()[1:]:
            if step == "bn" and bns:
                x = F.batch_norm(x, None, None, bns[i].weight, bns[i].bias, training=True)
            elif step == "relu" and relus[i]:
                x = F.relu(x)
    return x


def _layers(run: _Run, kind: type) -> list[nn.Module]:
    """The layers of ``kind`` in the order they ran (in definition order if they were used
    through their weights only, by functional calls)."""
    ran = run.calls.of(kind)
    defined = [m for m in run.module.modules() if isinstance(m, kind)]
    return ran if len(ran) == len(defined) else defined


def _check_double_conv_layers(run: _Run, convs, bns, c_in, c_out, bn) -> None:
    label = run.case.label
    if len(convs) != 2:
        raise AssertionError(
            f"{label}: {len(convs)} convolution(s) ran, expected 2 (3x3 conv -> ReLU, twice). "
            f"Layers found: {_describe(run.module)}."
        )
    shapes = [tuple(c.weight.shape) for c in convs]
    if shapes != [(c_out, c_in, 3, 3), (c_out, c_out, 3, 3)]:
        raise AssertionError(
            f"{label}: the convolutions' weights have shapes {shapes}, expected "
            f"[{(c_out, c_in, 3, 3)}, {(c_out, c_out, 3, 3)}]: 3x3 kernels, in_channels -> "
            "out_channels, then out_channels -> out_channels"
        )
    if bn and len(bns) != 2:
        raise AssertionError(
            f"{label}: {len(bns)} BatchNorm2d layer(s) ran, expected 2: with batch_norm=True "
            "each convolution is followed by a batch norm, then its ReLU (conv -> BN -> ReLU)"
        )
    if not bn and bns:
        raise AssertionError(
            f"{label}: batch_norm=False, yet a BatchNorm2d ran: add it only if asked"
        )
    for conv in convs:
        if tuple(conv.stride) != (1, 1) or tuple(conv.dilation) != (1, 1) or conv.groups != 1:
            raise AssertionError(
                f"{label}: the convolutions take stride 1 (no dilation, no groups)"
            )
    base = _conv_params(c_in, c_out, 3, not bn) + _conv_params(c_out, c_out, 3, not bn)
    allowed = {base} if not bn else {base + 4 * c_out, base + 6 * c_out}  # a bias before BN is fine
    if _params(run.module) not in allowed:
        raise AssertionError(
            f"{label} has {_params(run.module):,} parameters, expected {min(allowed):,}: "
            f"parameters that do not belong to its two convolutions"
            f"{' and batch norms' if bn else ''} (an unused layer?). Layers found: "
            f"{_describe(run.module)}."
        )


def _check_double_conv_case(DoubleConv: type, case: cases.ModuleCase) -> None:  # noqa: N803
    kw = case.kwargs
    c_in, c_out, padding, bn = (
        kw["in_channels"],
        kw["out_channels"],
        kw["padding"],
        kw["batch_norm"],
    )
    steps = _double_conv_steps(case.inputs[0][0], c_in, c_out, case.inputs[0][2:], padding, bn)
    run = _Run(DoubleConv, case, steps)
    size = case.inputs[0][-1]
    hint = ""
    if _shape(run.out)[-1:] == (size,) and not padding:
        hint = " The size did not shrink: with padding=False use padding=0 (valid convolutions)."
    elif padding and _shape(run.out)[-1:] == (size - 4,):
        hint = " padding=True must keep the size: padding=1 in each convolution."
    elif _shape(run.out)[-1:] == (size - 2,):
        hint = " It shrank by 2 only: are there two 3x3 convolutions?"
    run.check_shape(hint)
    convs, bns = _layers(run, nn.Conv2d), _layers(run, nn.BatchNorm2d)
    _check_double_conv_layers(run, convs, bns, c_in, c_out, bn)
    x = run.inputs[0]
    with run.dtype_context():
        expected = _conv_bn_relu(x, convs, bns, padding)
        if not _close(run.out, expected, run.tol):
            mistakes = {
                "the batch norm comes after the ReLU: conv -> BatchNorm2d -> ReLU": (
                    "conv relu bn",
                    (1, 1),
                ),
                "no ReLU after the second convolution (the last one too)": ("conv bn relu", (1, 0)),
                "no ReLU after the first convolution": ("conv bn relu", (0, 1)),
            }
            for mistake, (order, relus) in mistakes.items():
                if _close(run.out, _conv_bn_relu(x, convs, bns, padding, order, relus), run.tol):
                    raise AssertionError(f"{case.label}: {mistake}.")
            raise AssertionError(
                f"{case.label}: the output differs from conv -> {'BN -> ' if bn else ''}ReLU, "
                f"twice, rebuilt from your own layers (max |difference| "
                f"{_diff(run.out, expected):.3g}): check the order of the layers and that each "
                "one is applied once"
            )
    run.check_gradients(expected)


def check_double_conv(DoubleConv: type) -> None:  # noqa: N803 (the class under test)
    """The DoubleConv cases: shapes, layers, parameters, and the output rebuilt from its layers."""
    for case in cases.MODULES["double_conv"].cases:
        _check_double_conv_case(DoubleConv, case)
        _ok(
            f"{case.label}: {case.inputs[0]} -> {case.output}, conv -> "
            f"{'BN -> ' if case.kwargs['batch_norm'] else ''}ReLU twice"
        )


# ---- blocks built from blocks: the inner one must be built with the right arguments -----------


def _inner_matches(run: _Run, inner: nn.Module, cls: type, c_in: int, c_out: int, x) -> str:
    """'' if ``inner`` computes what ``cls(c_in, c_out, padding, batch_norm)`` of the case does
    (same weights, input ``x``); else what differs."""
    kw = run.case.kwargs
    name = "DoubleConv"  # the notebook's name (the grader may check with its own class)
    with run.dtype_context():
        fresh = cls(c_in, c_out, padding=kw["padding"], batch_norm=kw["batch_norm"])
        mine = [tuple(v.shape) for v in inner.state_dict().values()]
        theirs = [tuple(v.shape) for v in fresh.state_dict().values()]
        wanted = f"{name}({c_in}, {c_out}, padding={kw['padding']}, batch_norm={kw['batch_norm']})"
        if mine != theirs:
            return (
                f"its {name} is not {wanted}: its weights have other shapes (pass "
                "in_channels, out_channels, padding and batch_norm on, by name or in order)"
            )
        fresh.load_state_dict(inner.state_dict())
        fresh.train(inner.training)
        if not _close(inner(x.clone()), fresh(x.clone()), run.tol):
            return (
                f"its {name} does not compute what {wanted} does: pass padding and "
                "batch_norm on to it"
            )
    return ""


# ---- (b) Down ------------------------------------------------------------------------------


def _check_down_case(Down: type, case: cases.ModuleCase) -> None:  # noqa: N803
    kw = case.kwargs
    c_in, c_out, padding, bn = (
        kw["in_channels"],
        kw["out_channels"],
        kw["padding"],
        kw["batch_norm"],
    )
    n, _, h, w = case.inputs[0]
    steps = [("input", case.inputs[0]), ("max-pool 2x2, stride 2", (n, c_in, h // 2, w // 2))]
    steps += _double_conv_steps(n, c_in, c_out, (h // 2, w // 2), padding, bn)[1:]
    run = _Run(Down, case, steps)
    double_conv = _block_class(_namespace(Down), "DoubleConv")
    inner = _top_instances(run.module, double_conv)
    x = run.inputs[0]
    pooled = F.max_pool2d(x, 2)
    if len(inner) == 1:
        wrong = run.guard(
            f"{case.label}: its DoubleConv",
            lambda: _inner_matches(run, inner[0], double_conv, c_in, c_out, pooled),
        )
        if wrong:
            raise AssertionError(f"{case.label}: {wrong}.")

        def rebuild(t):
            return inner[0](t.clone())
    else:
        convs, bns = _layers(run, nn.Conv2d), _layers(run, nn.BatchNorm2d)
        _check_double_conv_layers(run, convs, bns, c_in, c_out, bn)

        def rebuild(t):
            return _conv_bn_relu(t, convs, bns, padding)

    expected = run.guard(case.label, lambda: rebuild(pooled))
    if _shape(run.out) != _shape(expected):
        hint = ""
        if _shape(run.out) == _shape(run.guard(case.label, lambda: rebuild(x))):
            hint = " The size was not halved: is the 2x2 max-pooling (stride 2) there?"
        elif _shape(run.out) == _shape(run.guard(case.label, lambda: F.max_pool2d(rebuild(x), 2))):
            hint = " Pooled after the convolutions: pool first, then convolve."
        raise AssertionError(
            f"{case.label} on {_inputs_text(case)}: expected output {_shape(expected)}, got "
            f"{_shape(run.out)}.{hint}\n  Expected shapes, step by step:\n{_table(steps)}"
        )
    if not _close(run.out, expected, run.tol):
        mistakes = {
            "average pooling: the contracting step takes the maximum (nn.MaxPool2d(2))": (
                F.avg_pool2d
            ),
        }
        for mistake, pool in mistakes.items():
            if _close(run.out, run.guard(case.label, lambda p=pool: rebuild(p(x, 2))), run.tol):
                raise AssertionError(f"{case.label}: {mistake}.")
        raise AssertionError(
            f"{case.label}: the output differs from DoubleConv(max_pool(x, 2)) built from your "
            f"own layers (max |difference| {_diff(run.out, expected):.3g}): 2x2 max-pooling, "
            "stride 2, then the DoubleConv"
        )
    run.check_gradients(expected)


def check_down(Down: type) -> None:  # noqa: N803
    """The Down cases: max-pooling then its DoubleConv, built with the block's arguments."""
    for case in cases.MODULES["down"].cases:
        _check_down_case(Down, case)
        _ok(f"{case.label}: {case.inputs[0]} -> {case.output}")


# ---- (c) center_crop and Up ----------------------------------------------------------------


def _centre(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The check's own centre window (top and left rounded down), put in place of the
    notebook's ``center_crop`` while Up is checked: a wrong crop costs its own point only."""
    top, left = (x.shape[-2] - height) // 2, (x.shape[-1] - width) // 2
    return x.narrow(-2, top, height).narrow(-1, left, width)


def _crop_mistake(case: cases.CropCase, first: int) -> str:
    """Name the window whose top-left value (of an arange map) is ``first``."""
    top, left = divmod(first, case.width)
    offsets = {
        (0, 0): "the window is the top-left corner: offset the crop by half the margin, "
        "top = (H - height) // 2, left = (W - width) // 2",
        ((case.width - case.target_w) // 2, (case.height - case.target_h) // 2): "the row and "
        "column offsets are swapped: the top offset comes from the heights, (H - height) // 2, "
        "the left one from the widths",
    }
    for (t, left_), why in offsets.items():
        if (top, left) == (t, left_):
            return why
    return f"the window starts at row {top}, column {left}"


def check_center_crop(center_crop: Callable) -> None:
    """The crop cases: the centre window (either rounding of an odd margin), unequal margins."""
    for case in cases.crop_cases(cases.visible_rng(), grader=False):
        x = torch.arange(float(case.height * case.width)).reshape(1, 1, case.height, case.width)
        x = x.expand(2, 3, -1, -1).clone()
        steps = [("x", tuple(x.shape)), ("top, left", "(H - height) // 2, (W - width) // 2")]
        steps.append(("window", (2, 3, case.target_h, case.target_w)))
        try:
            out = center_crop(x, case.target_h, case.target_w)
        except Exception as exc:  # noqa: BLE001
            raise _explain(exc, case.label, steps) from None
        if not isinstance(out, torch.Tensor):
            raise AssertionError(f"{case.label}: returned {type(out).__name__}, not a tensor")
        want = (2, 3, case.target_h, case.target_w)
        if _shape(out) != want:
            swapped = " (height and width swapped?)" if _shape(out)[-2:] == want[:-3:-1] else ""
            raise AssertionError(
                f"{case.label}: expected shape {want}, got {_shape(out)}{swapped}: crop the "
                "height and the width separately, keep the batch and channel dimensions"
            )
        windows = [
            x[..., t : t + case.target_h, left : left + case.target_w] for t, left in case.windows()
        ]
        if not any(out.dtype == x.dtype and torch.equal(out, win) for win in windows):
            first = int(out[0, 0].flatten()[0]) if out.numel() else -1
            raise AssertionError(
                f"{case.label}: not the centre window: {_crop_mistake(case, first)} (expected top "
                f"{' or '.join(str(t) for t in sorted({t for t, _ in case.windows()}))}, left "
                f"{' or '.join(str(v) for v in sorted({v for _, v in case.windows()}))})."
            )
    _ok("the centre window, for even, odd and unequal margins (either rounding of an odd one)")


def _up_steps(case: cases.ModuleCase) -> list[tuple[str, object]]:
    kw = case.kwargs
    c_in, c_out = kw["in_channels"], kw["out_channels"]
    (n, _, h, w), skip = case.inputs
    up = (n, c_in // 2, 2 * h, 2 * w)
    steps: list[tuple[str, object]] = [("x", case.inputs[0]), ("skip", skip)]
    steps.append(("up-conv 2x2, stride 2 (x)", up))
    steps.append(("skip cropped to x's size (centre)", up))
    steps.append(("torch.cat([skip, x], dim=1)", (n, c_in, *up[2:])))
    steps += _double_conv_steps(n, c_in, c_out, up[2:], kw["padding"], kw["batch_norm"])[1:]
    return steps


def _cat_order(run: _Run, up: nn.Module, first_conv: nn.Module | None) -> str:
    """With the up-convolution zeroed, which half of the first convolution's input is zero."""
    if first_conv is None:
        return ""
    seen = []
    hook = first_conv.register_forward_pre_hook(lambda _m, a: seen.append(a[0].detach()))
    saved = {k: v.clone() for k, v in up.state_dict().items()}
    try:
        with run.dtype_context(), torch.no_grad():
            for p in up.parameters():
                p.zero_()
            run.module(*[x.clone() for x in run.inputs])
    except Exception:  # noqa: BLE001
        return ""
    finally:
        hook.remove()
        up.load_state_dict(saved)
    if not seen:
        return ""
    half = seen[0].shape[1] // 2
    first, second = seen[0][:, :half], seen[0][:, half:]
    if bool((first == 0).all()) and not bool((second == 0).all()):
        return (
            "the concatenation order is swapped: torch.cat([x, skip]) puts the up-sampled map "
            "first; the skip comes first, torch.cat([skip, x], dim=1) (with the up-convolution "
            "zeroed, the first half of the DoubleConv's input was zero)"
        )
    return ""


def _check_up_case(Up: type, case: cases.ModuleCase) -> None:  # noqa: N803
    kw = case.kwargs
    c_in, c_out, padding = kw["in_channels"], kw["out_channels"], kw["padding"]
    steps = _up_steps(case)
    run = _Run(Up, case, steps)
    label = case.label
    ups = run.calls.of(nn.ConvTranspose2d)
    if len(ups) != 1:
        raise AssertionError(
            f"{label}: {len(ups)} nn.ConvTranspose2d ran, expected 1 (the 2x2 up-convolution). "
            f"Layers found: {_describe(run.module)}."
        )
    up = ups[0]
    if tuple(up.weight.shape) != (c_in, c_in // 2, 2, 2) or tuple(up.stride) != (2, 2):
        raise AssertionError(
            f"{label}: the up-convolution should be nn.ConvTranspose2d({c_in}, {c_in // 2}, "
            f"kernel_size=2, stride=2): it halves the channels and doubles the size (weight "
            f"{tuple(up.weight.shape)}, stride {tuple(up.stride)})"
        )
    x, skip = run.inputs
    double_conv = _block_class(_namespace(Up), "DoubleConv")
    inner = _top_instances(run.module, double_conv)
    with run.dtype_context():
        u = F.conv_transpose2d(x, up.weight, up.bias, stride=2)
    if len(inner) == 1:
        cat = torch.cat([skip[..., : u.shape[-2], : u.shape[-1]], u], 1)
        wrong = run.guard(
            f"{label}: its DoubleConv",
            lambda: _inner_matches(run, inner[0], double_conv, c_in, c_out, cat),
        )
        if wrong:
            raise AssertionError(f"{label}: {wrong}.")

        def rebuild(t):
            return inner[0](t.clone())
    else:
        convs, bns = _layers(run, nn.Conv2d), _layers(run, nn.BatchNorm2d)
        _check_double_conv_layers(run, convs, bns, c_in, c_out, kw["batch_norm"])

        def rebuild(t):
            return _conv_bn_relu(t, convs, bns, padding)

    h, w = u.shape[-2:]
    crop = cases.CropCase(skip.shape[-2], skip.shape[-1], h, w)
    windows = crop.windows() if not padding else [(0, 0)]
    expected = [
        run.guard(
            label, lambda t=t, le=le: rebuild(torch.cat([skip[..., t : t + h, le : le + w], u], 1))
        )
        for t, le in windows
    ]
    if _shape(run.out) != _shape(expected[0]):
        raise AssertionError(
            f"{label} on {_inputs_text(case)}: expected output {_shape(expected[0])}, got "
            f"{_shape(run.out)}.\n  Expected shapes, step by step:\n{_table(steps)}"
        )
    if any(_close(run.out, e, run.tol) for e in expected):
        run.check_gradients(next(e for e in expected if _close(run.out, e, run.tol)))
        return
    first_conv = next(iter(run.calls.of(nn.Conv2d)), None)
    mistake = _cat_order(run, up, first_conv)
    if not mistake and not padding:
        wrong_windows = {
            "the skip is cropped at its top-left corner: take its centre window (center_crop)": (
                0,
                0,
            ),
            "the crop's row and column offsets are swapped: top = (H - h) // 2 from the "
            "heights, left = (W - w) // 2 from the widths": (
                (skip.shape[-1] - w) // 2,
                (skip.shape[-2] - h) // 2,
            ),
        }
        for why, (t, le) in wrong_windows.items():
            if t + h <= skip.shape[-2] and le + w <= skip.shape[-1]:
                cand = run.guard(
                    label,
                    lambda t=t, le=le: rebuild(
                        torch.cat([skip[..., t : t + h, le : le + w], u], 1)
                    ),
                )
                if _close(run.out, cand, run.tol):
                    mistake = why
                    break
    raise AssertionError(
        f"{label}: "
        + (
            mistake
            or "the output differs from DoubleConv(torch.cat([centre of skip, up(x)], dim=1)) "
            f"built from your own layers (max |difference| {_diff(run.out, expected[0]):.3g})"
        )
        + "."
    )


def check_up(Up: type) -> None:  # noqa: N803
    """The Up cases: up-convolution, the skip's centre window, [skip, x], its DoubleConv."""
    ns = _namespace(Up)
    with _replaced(ns, "center_crop", _centre) if "center_crop" in ns else contextlib.nullcontext():
        for case in cases.MODULES["up"].cases:
            _check_up_case(Up, case)
            _ok(f"{case.label}: x {case.inputs[0]} + skip {case.inputs[1]} -> {case.output}")


# ---- (d) UNet ------------------------------------------------------------------------------


def expected_layer_shapes(
    in_size: int,
    in_channels: int = 1,
    num_classes: int = 2,
    base_channels: int = 64,
    depth: int = 4,
    padding: bool = False,
    batch: int = 1,
) -> list[tuple[str, tuple[int, ...]]]:
    """(block name, output shape) of each block of the U-Net."""
    border = 0 if padding else 4
    rows = []
    size = in_size - border
    rows.append(("inc", (batch, base_channels, size, size)))
    for i in range(depth):
        size = size // 2 - border
        rows.append((f"downs.{i}", (batch, base_channels * 2 ** (i + 1), size, size)))
    for i in range(depth):
        size = size * 2 - border
        rows.append((f"ups.{i}", (batch, base_channels * 2 ** (depth - 1 - i), size, size)))
    rows.append(("outc", (batch, num_classes, size, size)))
    return rows


def _unet_steps(case: cases.ModuleCase) -> list[tuple[str, object]]:
    kw = case.kwargs
    n, _, size, _ = case.inputs[0]
    rows = expected_layer_shapes(
        size,
        kw["in_channels"],
        kw["num_classes"],
        kw["base_channels"],
        kw["depth"],
        kw["padding"],
        n,
    )
    depth = kw["depth"]
    steps: list[tuple[str, object]] = [("input", case.inputs[0])]
    for name, shape in rows:
        if name.startswith("ups."):
            level = depth - 1 - int(name[4:])
            skip = "inc" if level == 0 else f"downs.{level - 1}"
            name = f"{name} (x, skip = {skip}'s output)"
        steps.append((name, shape))
    return steps


def _channels(block: nn.Module) -> tuple[int, int] | None:
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    ups = [m for m in block.modules() if isinstance(m, nn.ConvTranspose2d)]
    if not convs:
        return None
    return (ups[0].in_channels if ups else convs[0].in_channels, convs[-1].out_channels)


def _unet_blocks(net: nn.Module, ns: dict, kw: dict) -> tuple[dict, str]:
    """The student's blocks by role (inc, downs, ups in the order they must run, outc), or why
    they cannot be found."""
    widths = [kw["base_channels"] * 2**i for i in range(kw["depth"] + 1)]
    depth = kw["depth"]
    kinds = {k: _block_class(ns, k) for k in ("DoubleConv", "Down", "Up", "OutConv")}
    found = {k: _top_instances(net, cls) for k, cls in kinds.items() if k != "OutConv"}
    found = {
        k: [
            b
            for b in blocks
            if not any(
                b is not o and any(b is s for s in o.modules()) for o in found["Down"] + found["Up"]
            )
        ]
        for k, blocks in found.items()
    }
    want = {
        "inc": ("DoubleConv", (kw["in_channels"], widths[0])),
        **{f"downs.{i}": ("Down", (widths[i], widths[i + 1])) for i in range(depth)},
        **{f"ups.{i}": ("Up", (widths[depth - i], widths[depth - 1 - i])) for i in range(depth)},
    }
    roles: dict[str, nn.Module] = {}
    for role, (kind, chans) in want.items():
        match = [b for b in found.get(kind, []) if _channels(b) == chans]
        if len(match) == 1:
            roles[role] = match[0]
    outs = _top_instances(net, kinds["OutConv"]) or [
        m
        for m in net.modules()
        if isinstance(m, nn.Conv2d)
        and tuple(m.kernel_size) == (1, 1)
        and not any(any(m is s for s in b.modules()) for bs in found.values() for b in bs)
    ]
    outs = [o for o in outs if _channels(o) == (widths[0], kw["num_classes"])]
    if len(outs) == 1:
        roles["outc"] = outs[0]
    missing = [r for r in [*want, "outc"] if r not in roles]
    if not missing:
        return roles, ""
    have = [
        f"{kind} {c[0]}->{c[1]}"
        for kind, blocks in found.items()
        for b in blocks
        if (c := _channels(b))
    ]
    need = [f"{kind} {c[0]}->{c[1]}" for kind, c in want.values()]
    need.append(f"outc {widths[0]}->{kw['num_classes']}")
    words = []
    if not found["Down"] and not found["Up"]:
        words.append("build it from your DoubleConv, Down and Up classes")
    else:
        words.append(
            "use in_channels, num_classes, base_channels and depth (self.widths = "
            f"{widths}): no fixed widths or depth"
        )
    return roles, (
        f"its blocks do not match the arguments: expected {', '.join(need)}; found "
        f"{', '.join(have) or 'none'}: {'; '.join(words)}"
    )


def _canonical(roles: dict, x: torch.Tensor, depth: int) -> torch.Tensor:
    """Figure 1's wiring of the student's own blocks."""
    skips = []
    x = roles["inc"](x)
    for i in range(depth):
        skips.append(x)
        x = roles[f"downs.{i}"](x)
    for i in range(depth):
        x = roles[f"ups.{i}"](x, skips.pop())
    return roles["outc"](x)


def _role_shapes(roles: dict, run: _Run, depth: int) -> dict[str, tuple]:
    """The output shape of each role's block in Figure 1's wiring of the student's blocks."""
    shapes: dict[str, tuple] = {}
    hooks = []
    for role, block in roles.items():

        def hook(_m, _a, out, role=role) -> None:
            shapes.setdefault(role, _shape(out))

        hooks.append(block.register_forward_hook(hook))
    try:
        with run.dtype_context(), torch.no_grad():
            _canonical(roles, run.inputs[0].clone(), depth)
    finally:
        for h in hooks:
            h.remove()
    return shapes


def _fresh_blocks(run: _Run, roles: dict, ns: dict) -> dict:
    """Each role's block built again with the UNet's padding and batch_norm, its weights copied;
    an AssertionError if its weights' shapes differ (an argument not passed on)."""
    kw, label = run.case.kwargs, run.case.label
    classes = {"inc": "DoubleConv", "downs": "Down", "ups": "Up"}
    fresh_roles = {"outc": roles["outc"]}
    for role, block in roles.items():
        if role == "outc":
            continue
        cls = _block_class(ns, classes[role.split(".")[0]])
        c_in, c_out = _channels(block)
        args = f"padding={kw['padding']}, batch_norm={kw['batch_norm']}"
        with run.dtype_context():
            fresh = cls(c_in, c_out, padding=kw["padding"], batch_norm=kw["batch_norm"])
        shapes = [tuple(v.shape) for v in block.state_dict().values()]
        if shapes != [tuple(v.shape) for v in fresh.state_dict().values()]:
            what = "batch_norm" if kw["batch_norm"] else "its arguments"
            raise AssertionError(
                f"{label}: {role} is not {classes[role.split('.')[0]]}({c_in}, {c_out}, {args}): pass {what} on "
                "to every block (padding and batch_norm of the UNet go to inc, every Down and "
                "every Up)."
            )
        if not run.meta:
            fresh.load_state_dict(block.state_dict())
        fresh_roles[role] = fresh.train()
    return fresh_roles


def _check_unet_case(UNet: type, case: cases.ModuleCase) -> None:  # noqa: N803
    """A UNet case, against Figure 1's wiring of its own blocks, each built again with the
    UNet's arguments (on the meta device: shapes and parameter count only)."""
    kw = case.kwargs
    steps = _unet_steps(case)
    run = _Run(UNet, case, steps)
    label = case.label
    ns = _namespace(UNet)
    roles, why = _unet_blocks(run.module, ns, kw)
    if why:
        raise AssertionError(f"{label}: {why}.")
    fresh_roles = _fresh_blocks(run, roles, ns)
    if not any(roles["outc"] is m for m in run.calls.order):
        raise AssertionError(
            f"{label}: outc is built but never applied (the output has {_shape(run.out)[1:2]} "
            f"channels where {kw['num_classes']} classes were asked): end forward with "
            "return self.outc(x)."
        )
    x = run.inputs[0]
    expected = run.guard(label, lambda: _canonical(fresh_roles, x.clone(), kw["depth"]))
    own = run.guard(label, lambda: _canonical(roles, x.clone(), kw["depth"]))
    not_passed = (
        f"{label}: a block is not built with the UNet's padding={kw['padding']} and "
        f"batch_norm={kw['batch_norm']}: pass them on to inc, every Down and every Up."
    )
    if _shape(run.out) != _shape(expected):
        if _shape(own) == _shape(run.out):
            raise AssertionError(not_passed)
        raise AssertionError(
            f"{label}: expected output {_shape(expected)}, got {_shape(run.out)}.\n  Expected "
            f"shapes, step by step:\n{_table(steps)}"
        )
    if not run.meta and not _close(run.out, expected, run.tol):
        if _close(run.out, own, run.tol):
            raise AssertionError(not_passed)
        raise AssertionError(
            f"{label}: the output differs from Figure 1's wiring of your own blocks (max "
            f"|difference| {_diff(run.out, expected):.3g}): inc, then the Downs, then the Ups "
            "each with the skip of its level (the last one saved first), then outc.\n  "
            f"Expected shapes, step by step:\n{_table(steps)}"
        )
    if not run.meta:
        run.check_gradients(own)
    if _shape(expected) != case.output:  # the blocks below fail their own checks, not this one
        print(f"  note: {label}: your blocks give {_shape(expected)} instead of {case.output}")
        return
    got = _role_shapes(roles, run, kw["depth"])
    for name, shape in steps[1:]:
        role = name.split(" ")[0]
        if got.get(role, shape) != shape:
            raise AssertionError(
                f"{label}: block {role} gives {got[role]}, expected {shape}.\n  Expected "
                f"shapes, step by step:\n{_table(steps)}"
            )
    if (kw["in_channels"], kw["num_classes"], kw["base_channels"], kw["depth"]) == (1, 2, 64, 4):
        assert _params(run.module) == 31_030_658, (
            f"{label} has {_params(run.module):,} parameters; the paper's network has "
            "31,030,658. Check the channel widths (64, 128, 256, 512, 1024), that each Up halves "
            "them, and the final 1x1 convolution."
        )


def check_unet(UNet: type, quick: bool = False) -> None:  # noqa: N803
    """The UNet cases: small networks against Figure 1's wiring of their own blocks, the paper's
    network (31,030,658 parameters, 572 -> 388) on the meta device."""
    for case in cases.MODULES["unet"].cases:
        _check_unet_case(UNet, case)
        _ok(f"{case.label}: {case.inputs[0]} -> {case.output}")


# ---- (e) categorical cross-entropy -----------------------------------------------------------


class _Ops(TorchFunctionMode):
    """Records the torch functions called (name, tensor shapes, keyword arguments)."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, list[tuple], dict]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        shapes = [tuple(a.shape) for a in args if isinstance(a, torch.Tensor)]
        self.calls.append((getattr(func, "__name__", str(func)), shapes, kwargs))
        return func(*args, **kwargs)


def _loss_steps(logits_shape: tuple) -> list[tuple[str, object]]:
    n, c, h, w = logits_shape
    return [
        ("logits", (n, c, h, w)),
        ("target", (n, h, w)),
        ("torch.logsumexp(logits, dim=1, keepdim=True)", (n, 1, h, w)),
        ("log_s = logits - logsumexp", (n, c, h, w)),
        ("F.one_hot(target, C)", (n, h, w, c)),
        ("  .movedim(-1, 1)", (n, c, h, w)),
        ("per pixel: -(t * log_s).sum(dim=1)", (n, h, w)),
        ("mean over the pixels", "() a scalar tensor"),
    ]


def _loss_error_hint(ops: _Ops, shape: tuple) -> str:
    """Name the usual wiring mistake from the shapes of the call that raised."""
    if not ops.calls:
        return ""
    n, c, h, w = shape
    _, shapes, _ = ops.calls[-1]
    if (n, h, w, c) in shapes and c != w:
        return (
            "F.one_hot(target, C) has the classes last, (N, H, W, C): move them to dim 1 with "
            ".movedim(-1, 1) before multiplying with the (N, C, H, W) log-probabilities"
        )
    if (n, h, w) in shapes and shape in shapes:
        return (
            "torch.logsumexp(logits, dim=1) drops the class dimension, (N, H, W): keep it with "
            "keepdim=True so it broadcasts against the (N, C, H, W) logits"
        )
    return ""


def _loss_value_hint(label, value, logits, target, weight) -> str:
    """Name the usual mistake whose result equals ``value``."""
    onehot = F.one_hot(target, logits.shape[1]).movedim(-1, 1).to(logits.dtype)
    log_s = torch.log_softmax(logits, 1)
    per_pixel = -(onehot * log_s).sum(1)
    candidates = {
        "the sum over the pixels instead of the mean": lambda: per_pixel.sum(),
        "the mean over the classes too (sum over the classes, mean over the pixels)": lambda: (
            -(onehot * log_s).mean()
        ),
        "a missing minus sign": lambda: -per_pixel.mean(),
        "no softmax: the log of the raw logits": lambda: (
            -(onehot * torch.log(logits.clamp(min=1e-12))).sum(1).mean()
        ),
        "the softmax taken over the wrong dimension (use dim=1, the classes)": lambda: (
            -(onehot * torch.log_softmax(logits, -1)).sum(1).mean()
        ),
        "the log missing (-sum t * s)": lambda: -(onehot * logits.softmax(1)).sum(1).mean(),
        "a clamped log, log(softmax(...).clamp(...)): wrong at large logits, where the true "
        "probability is far below the clamp; use logits - torch.logsumexp(logits, dim=1, "
        "keepdim=True)": lambda: (
            -(onehot * torch.log(logits.softmax(1).clamp(min=1e-7))).sum(1).mean()
        ),
    }
    if weight is not None:
        pw = weight.to(logits.dtype)[target]
        candidates = {
            "the class weights are ignored: each pixel's term is multiplied by the weight of its "
            "true class": lambda: per_pixel.mean(),
            "the weighted sum is divided by the number of pixels: divide by the sum of the "
            "pixels' weights, sum(w[target])": lambda: (per_pixel * pw).sum() / per_pixel.numel(),
            "the weights are applied but not divided by their sum": lambda: (per_pixel * pw).sum(),
        } | candidates
    for mistake, candidate in candidates.items():
        with torch.no_grad():
            cand = float(candidate())
        if math.isfinite(cand) and abs(cand - value) <= 1e-6 * max(1.0, abs(value)):
            return f" Your value matches {mistake}."
    if "extreme" in label:
        return (
            " Right on ordinary logits, wrong at large logits: a clamped or rounded log? Compute "
            "log(softmax) as logits - torch.logsumexp(logits, dim=1, keepdim=True)."
        )
    return ""


def check_loss(loss_fn: Callable) -> None:
    """The loss cases: value and gradient equal to ``F.cross_entropy`` (with class weights, one
    class, C = 1, extreme logits, float32)."""
    for label, logits_np, target_np, weight_np in cases.loss_inputs(cases.visible_rng()):
        logits = torch.from_numpy(logits_np).clone().requires_grad_()
        target = torch.from_numpy(target_np)
        weight = None if weight_np is None else torch.from_numpy(weight_np)
        args = (target,) if weight is None else (target, weight)
        tol = 1e-5 if logits.dtype == torch.float64 else 1e-4
        ops = _Ops()
        try:
            with ops:
                value = loss_fn(logits, *args)
        except Exception as exc:  # noqa: BLE001
            hint = _loss_error_hint(ops, tuple(logits.shape))
            raise _explain(
                exc, f"{label}: the loss", _loss_steps(tuple(logits.shape)), hint
            ) from None
        if not isinstance(value, torch.Tensor):
            raise AssertionError(
                f"{label}: the loss returned {type(value).__name__}, not a scalar tensor: no "
                ".item() or float() (the gradient must flow back through it)"
            )
        if value.numel() != 1:
            raise AssertionError(
                f"{label}: the loss has shape {tuple(value.shape)}, expected a scalar: average "
                "over the pixels (and sum over the classes)"
            )
        expected = F.cross_entropy(logits, target, weight=weight)
        got = float(value.detach())
        want = float(expected.detach())
        if not math.isfinite(got):
            raise AssertionError(
                f"{label}: the loss is {got}: log(softmax(...)) underflows to log(0) at large "
                "logits. Use logits - torch.logsumexp(logits, dim=1, keepdim=True)."
            )
        if not abs(got - want) <= tol * max(1.0, abs(want)):
            raise AssertionError(
                f"{label}: loss {got:.6g}, expected {want:.6g} (torch's cross-entropy"
                f"{' with weight=' if weight is not None else ''}: the mean over the pixels of "
                "-sum_i t_i log s_i, s = softmax over dim=1)."
                + _loss_value_hint(label, got, logits.detach(), target, weight)
            )
        if not value.requires_grad:
            raise AssertionError(
                f"{label}: the value is right but no gradient reaches the logits: the loss was cut "
                "from the graph (.item(), .detach(), .numpy() or torch.tensor(...)); build it "
                "from torch operations only"
            )
        value.backward()
        (grad,) = torch.autograd.grad(expected, logits)
        if logits.grad is None or not _diff(logits.grad, grad) <= tol:
            raise AssertionError(
                f"{label}: the value is right but its gradient differs from torch's "
                "cross-entropy: no .detach(), no in-place change of the logits"
            )
    logits = torch.zeros(1, 2, 1, 1)
    try:
        value = loss_fn(logits, torch.zeros(1, 1, 1, dtype=torch.long))
    except Exception as exc:  # noqa: BLE001
        raise _explain(exc, "one pixel, two classes", _loss_steps((1, 2, 1, 1))) from None
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        assert abs(float(value) - math.log(2)) < 1e-6, (
            f"one pixel, two classes, equal logits: the loss is -log(1/2) = {math.log(2):.6f}, "
            f"got {float(value):.6f}"
        )
        _ok("one pixel, equal scores: -log(1/2)")
    _ok(
        "equals torch's cross-entropy (value and gradient): random logits, class weights, one "
        "class, C = 1, extreme logits (+-1e4), float32"
    )


# ---- (f) training step ---------------------------------------------------------------------


def _train_steps(case: cases.TrainStepCase) -> list[tuple[str, object]]:
    n, c, h, w = case.images
    return [
        ("model.train()", ""),
        ("optimizer.zero_grad()", "clears the previous gradients"),
        ("logits = model(images)", (n, case.classes, h, w)),
        ("loss = loss_fn(logits, labels)", f"() a scalar tensor; labels {(n, h, w)}"),
        ("loss.backward()", "fills p.grad"),
        ("optimizer.step()", "updates the weights"),
        ("return loss.item()", "a Python float, the loss before the update"),
    ]


class _Watch:
    """What happens inside the student's step: backward passes, and the gradients the optimizer
    sees when its step runs."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer):
        self.backwards = 0
        self.steps: list[list] = []
        self.params = list(model.parameters())
        for p in self.params:
            p.register_hook(self._seen)
        step = optimizer.step

        def watched_step(*a, **k):
            self.steps.append(
                [None if p.grad is None else p.grad.detach().clone() for p in self.params]
            )
            return step(*a, **k)

        optimizer.step = watched_step

    def _seen(self, grad):
        self.backwards += 1
        return grad


def _train_reference(state, images, labels, loss_fn, case, dtype):
    """The losses (before each update) and the final weights of ``case.steps`` Adam steps, and
    the fresh gradients of each step."""
    model = cases.small_net(case.net)
    model.load_state_dict(state)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=case.lr)
    params = list(model.parameters())
    losses, grads = [], []
    for _ in range(case.steps + 1):
        loss = loss_fn(model(images.to(dtype)), labels)
        losses.append(float(loss.detach()))
        g = torch.autograd.grad(loss, params)
        grads.append(g)
        for p, gi in zip(params, g, strict=True):
            p.grad = gi
        if len(grads) <= case.steps:
            opt.step()
    # the weights after case.steps updates were those before the last (extra) loss
    return losses, grads, [p.detach().clone() for p in params]


def check_train_step(train_step: Callable, loss_fn: Callable) -> None:
    """The train_step case: the returned losses (before each update) and the weights after three
    Adam steps equal those of forward, loss, backward, step with fresh gradients."""
    case = cases.TRAIN_STEP
    state, images, labels = cases.train_step_inputs(cases.visible_rng(), case)
    steps = _train_steps(case)
    errors = []
    for dtype in (torch.float64, torch.float32):
        swapped = []

        def watched_loss(a, b, *rest, swapped=swapped, **kw):
            if isinstance(a, torch.Tensor) and not a.is_floating_point():
                swapped.append(True)
            return loss_fn(a, b, *rest, **kw)

        with _default_dtype(dtype):
            model = cases.small_net(case.net)
            model.load_state_dict(state)
            model.eval()  # train_step must switch to training mode itself
            opt = torch.optim.Adam(model.parameters(), lr=case.lr)
            watch = _Watch(model, opt)
            got = []
            try:
                for _ in range(case.steps):
                    got.append(train_step(model, images.to(dtype), labels, opt, watched_loss))
            except Exception as exc:  # noqa: BLE001
                errors.append((exc, bool(swapped)))
                continue
            ref_losses, ref_grads, _ = _train_reference(state, images, labels, loss_fn, case, dtype)
        break
    else:
        exc, was_swapped = errors[0]
        hint = ""
        if was_swapped:
            hint = (
                "loss_fn(labels, logits): the arguments are swapped; call loss_fn(logits, labels)"
            )
        elif "has no attribute 'backward'" in str(exc):
            hint = (
                "the loss was turned into a number (.item()) before backward(): keep the tensor "
                "for backward() and return loss.item() at the end"
            )
        raise _explain(exc, "train_step", steps, hint) from None
    tol = TOLERANCE[dtype]
    for i, value in enumerate(got):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise AssertionError(
                f"step {i + 1}: train_step returned {type(value).__name__} {str(value)[:40]}, not "
                "the loss as a finite Python float: return loss.item()"
            )
    _ok("returns the loss as a Python float")
    with _default_dtype(dtype):
        model_ref = cases.small_net(case.net)
        model_ref.load_state_dict(state)
        model_ref.train()
        opt_ref = torch.optim.Adam(model_ref.parameters(), lr=case.lr)
        for g in ref_grads[: case.steps]:
            for p, gi in zip(model_ref.parameters(), g, strict=True):
                p.grad = gi
            opt_ref.step()
    diff = max(_diff(a, b) for a, b in zip(model.parameters(), model_ref.parameters(), strict=True))
    losses_ok = all(
        abs(g - w) <= tol * max(1.0, abs(w)) for g, w in zip(got, ref_losses, strict=False)
    )
    if losses_ok and diff <= tol:
        _ok(f"{case.steps} Adam steps: the losses before each update and the weights are right")
        return
    if not model.training:
        raise AssertionError(
            "the model was left in evaluation mode: train_step must call model.train()"
        )
    if (
        not losses_ok
        and diff <= tol
        and all(
            abs(g - w) <= tol * max(1.0, abs(w)) for g, w in zip(got, ref_losses[1:], strict=False)
        )
    ):
        raise AssertionError(
            f"the weights are right but train_step returns the loss after the update ({got[0]:.6f}"
            f" instead of {ref_losses[0]:.6f} at step 1): return the loss computed before "
            "optimizer.step()"
        )
    fresh = [list(g) for g in ref_grads]
    why = ""
    if not watch.steps:
        why = "optimizer.step() is never called: the weights did not change"
    elif watch.backwards == 0:
        why = "loss.backward() is never called: there is no gradient for the optimizer"
    elif all(g is None or not bool(g.abs().sum()) for g in watch.steps[0]):
        why = (
            "optimizer.step() ran without gradients: zero_grad() is called between backward() "
            "and step(); call it before backward() (or after step())"
        )
    elif (
        len(watch.steps) >= 2
        and fresh
        and not all(
            g is not None and _diff(g, f) <= 1e-3 * max(1.0, float(f.abs().max()))
            for g, f in zip(watch.steps[1], fresh[1], strict=False)
        )
    ):
        why = (
            "at the second step the optimizer saw the gradients of both steps added: gradients "
            "accumulate in .grad; call optimizer.zero_grad() at each step"
        )
    if why:
        raise AssertionError(why)
    if not losses_ok:
        i = next(
            i
            for i, (g, w) in enumerate(zip(got, ref_losses, strict=False))
            if not abs(g - w) <= tol * max(1.0, abs(w))
        )
        raise AssertionError(
            f"step {i + 1}: returned {got[i]:.6f}, expected the loss {ref_losses[i]:.6f} (the loss "
            "of the batch before the update, loss_fn(model(images), labels))"
        )
    raise AssertionError(
        f"after {case.steps} Adam steps the weights differ from forward, loss, backward, step "
        f"with fresh gradients by {diff:.3g}: one optimizer.step() per call, on the gradients "
        "of this batch only"
    )


# ---- (g) prediction and Dice -----------------------------------------------------------------


def _dice_hint(value: float, a: np.ndarray, b: np.ndarray, want: float) -> str:
    inter, union = np.logical_and(a, b).sum(), np.logical_or(a, b).sum()
    sizes = a.sum() + b.sum()
    if not math.isfinite(value) and sizes == 0:
        return (
            " Two empty masks (no tumour, none predicted) agree perfectly: return 1.0 when "
            "|P| + |T| = 0 (0/0 gives NaN)."
        )
    if sizes == 0:
        return " Two empty masks agree perfectly: Dice 1.0 by the BraTS convention."
    if union and abs(value - inter / union) < 1e-9:
        return " That is the IoU (Jaccard index) |P & T| / |P | T|; the Dice is 2 |P & T| / (|P| + |T|)."
    if abs(value - want) < 1e-4:
        return (
            " Close but not exact: a smoothing term (eps) or float32 arithmetic changes the "
            "Dice; compute it exactly (NumPy counts, float64) and handle two empty masks with an "
            "if."
        )
    return ""


def check_predict_dice(predict: Callable, dice_score: Callable) -> None:
    """Dice on hand-made and random masks (empty ones included), predictions in eval mode."""
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2, :2] = True  # 4 pixels
    b[:2, :] = True  # 8 pixels, 4 shared
    inputs = cases.predict_dice_inputs(cases.visible_rng())
    pairs = [((4, 4), a, b), ((4, 4), a, ~a), ((4, 4), np.zeros_like(a), np.zeros_like(a))]
    pairs += [(c.shape, p, t) for c, (p, t) in zip(cases.DICE_PAIRS, inputs.pairs, strict=True)]
    steps = [("pred, truth", "boolean masks of one shape"), ("|P & T|, |P|, |T|", "counts")]
    steps.append(("Dice", "2 |P & T| / (|P| + |T|), 1.0 if both are empty"))
    for shape, p, t in pairs:
        want = exact_dice(p, t)
        what = f"dice_score of two {shape} masks ({int(p.sum())} and {int(t.sum())} pixels)"
        try:
            raw = dice_score(p, t)
            value = float(raw)
        except Exception as exc:  # noqa: BLE001
            raise _explain(exc, what, steps) from None
        if not abs(value - want) <= 1e-9:
            raise AssertionError(
                f"{what}: {value!r:.14}, expected {want:.6g}." + _dice_hint(value, p, t, want)
            )
    _ok("Dice of overlapping, disjoint, empty and random masks (two empty masks: 1.0)")
    psteps = [("model.eval()", "batch norm uses its running statistics")]
    n, _, h, w = cases.PREDICT.images
    psteps += [("model(images)", (n, 4, h, w)), ("argmax over dim=1 (the classes)", (n, h, w))]
    errors = []
    for dtype in (torch.float64, torch.float32):
        with _default_dtype(dtype):
            model = cases.small_net(cases.PREDICT.net)
            model.load_state_dict(inputs.state)
            model.train()
            images = inputs.images.to(dtype)
            try:
                out = predict(model, images)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
                continue
            reference = cases.small_net(cases.PREDICT.net)
            reference.load_state_dict(inputs.state)
            with torch.no_grad():
                expected = reference.eval()(images).argmax(1)
                train_mode = reference.train()(images).argmax(1)  # what forgetting eval() gives
        break
    else:
        raise _explain(
            errors[0], f"predict on a {tuple(inputs.images.shape)} batch", psteps
        ) from None
    got = out.detach().cpu() if hasattr(out, "detach") else out
    try:
        got = torch.as_tensor(np.asarray(got).astype(np.int64))
    except (TypeError, ValueError):
        got = None
    if got is None or tuple(got.shape) != tuple(expected.shape):
        raise AssertionError(
            f"predict on a {tuple(inputs.images.shape)} batch should give the {tuple(expected.shape)} "
            f"classes, got {_shape(out)}: the argmax over dim=1, the classes"
        )
    if not torch.equal(got, expected):
        if torch.equal(got, train_mode):
            raise AssertionError(
                "predict used the batch's statistics: put the model in eval mode (model.eval()) "
                "so batch norm uses its running statistics"
            )
        raise AssertionError(
            "predict should return the argmax over dim=1 (the classes) of the logits"
        )
    _ok("predict: eval mode, argmax over the classes")
