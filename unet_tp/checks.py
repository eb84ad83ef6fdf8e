"""The notebook's visible self-checks. Each runs its block's cases of :mod:`unet_tp.check_cases`
(the grader's cases, here on fixed inputs and without the reference: known properties, hand
examples, ``F.cross_entropy``, the student's own layers), prints one line per point verified and
raises an ``AssertionError`` naming the mistake at the first problem; an exception of the student's
code shows the line that raised and the expected shape at each step. So "ok" means the block will
get its points.
"""

from __future__ import annotations

import ast
import contextlib
import dis
import functools
import inspect
import io
import math
import pkgutil
import re
import sys
import textwrap
import traceback
import types
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import NoReturn

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

import unet_tp
from unet_tp import check_cases as cases
from unet_tp.i18n import tr, translated
from unet_tp.metrics import dice as exact_dice
from unet_tp.metrics import dice_agrees

TOLERANCE = {torch.float64: 1e-7, torch.float32: 1e-4}  # the grader's, relative to the scale
GRADIENT_TOLERANCE = {dtype: 10 * tol for dtype, tol in TOLERANCE.items()}
# the train step's, in float64 too: a loss computed in float32 inside it (``model(x).float()``,
# autocast's habit) agrees to about 1e-7; every mistake of a step differs by over 1e-3
STEP_TOLERANCE = 1e-5
DTYPES = (torch.float64, torch.float32)  # float32 if the student's code cannot run in float64
# torch's functions that compute the cross-entropy (kl_div: against one-hot targets, it is Eq. (1)):
# the loss of (e) may not call them (the grader reads the same names, and the classes built on
# them, from the answer's text: assignment.toml)
TORCH_LOSSES = (
    "cross_entropy",
    "nll_loss",
    "cross_entropy_loss",
    "nll_loss2d",
    "nll_loss_nd",
    "kl_div",
    "poisson_nll_loss",  # of log-probabilities against one-hot targets: Eq. (1) plus 1 per pixel
    "binary_cross_entropy",  # of the true class's probability against 1: -log p_y, Eq. (1)
    "binary_cross_entropy_with_logits",
    "ctc_loss",  # of one frame, a blank never taken: -log p_y
    "soft_margin_loss",  # of the true class's log-sum-exp margin: -log p_y by a formula
    "multilabel_soft_margin_loss",
    "gaussian_nll_loss",
)
# the names of torch's losses the grader reads in the answer's text (assignment.toml's
# `forbidden` of (e), without its modules): one the loss reads costs the block, even where it
# names a function of the student's own (the grader cannot tell it from torch's by its text)
LOSS_NAMES = TORCH_LOSSES + (
    "nll_loss_forward",
    "nll_loss2d_forward",
    "linear_cross_entropy",
    "CrossEntropyLoss",
    "NLLLoss",
    "NLLLoss2d",
    "LinearCrossEntropyLoss",
    "KLDivLoss",
    "PoissonNLLLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CTCLoss",
    # its output, with an identity head and no tail, is log p_y
    "AdaptiveLogSoftmaxWithLoss",
    "SoftMarginLoss",
    "MultiLabelSoftMarginLoss",
    "GaussianNLLLoss",
    # torch's chunked linear cross-entropy op: with an identity weight, Eq. (1) and its gradient
    "linear_cross_entropy_batch_chunked",
    # torchvision's, with gamma=0 and alpha=-1, the binary cross-entropy with logits (red team 80)
    "sigmoid_focal_loss",
)
Steps = list[tuple[str, object]]


def _ok(message: str) -> None:
    print(tr("  ok: {message}", message=message))


class _Wrong(AssertionError):
    """A case's problem, shown after the case's label (:func:`_labelled`)."""


@contextlib.contextmanager
def _labelled(label: str) -> Iterator[None]:
    """A :class:`_Wrong` raised inside becomes the AssertionError ``label: problem``."""
    try:
        yield
    except _Wrong as exc:
        raise AssertionError(tr("{label}: {message}", label=label, message=str(exc))) from None


def _shape(t) -> tuple | str:
    return tuple(t.shape) if hasattr(t, "shape") else type(t).__name__


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _found(module: nn.Module, calls: _Calls | None = None) -> str:
    """The layers of ``module`` (its leaves) as messages end with them: in the order they ran
    (a layer run twice, twice), else in the order they were made."""
    leaves = [m for m in module.modules() if not list(m.children())]
    leaves = [m for m in leaves if not isinstance(m, nn.Identity)]
    ran = [m for m in (calls.sequence if calls else []) if any(m is leaf for leaf in leaves)]
    layers = [type(m).__name__ for m in ran or leaves]
    if len(layers) > 40:
        layers = [*layers[:40], "..."]
    return tr("Layers found: {layers}.", layers=" -> ".join(layers) or tr("no layers"))


# ---- what the grading machine has: a notebook importing anything else fails there ------------

# beside Python's own modules: the kit's dependencies (pyproject.toml) and what they bring
GRADER_PACKAGES = frozenset(
    {"torch", "torchvision", "numpy", "scipy", "nibabel", "matplotlib", "PIL", "ipywidgets"}
    | {"tqdm", "pooch", "unet_tp", "IPython", "ipykernel", "einops"}
)


def _distribution(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.lru_cache(maxsize=1)
def _grader_modules() -> frozenset[str]:
    """:data:`GRADER_PACKAGES` and the modules of what the kit's packages bring, as installed
    here (matplotlib's ``mpl_toolkits``, pooch's ``requests``, torch's ``sympy``...)."""
    from importlib import metadata

    provides = metadata.packages_distributions()  # module: the distributions installing it
    modules: dict[str, set[str]] = {}
    for module, dists in provides.items():
        for dist in dists:
            modules.setdefault(_distribution(dist), set()).add(module)
    found, seen = set(GRADER_PACKAGES), set()
    todo = ["unet-tp", *(d for m in GRADER_PACKAGES for d in provides.get(m, []))]
    while todo:
        dist = _distribution(todo.pop())
        if dist in seen:
            continue
        seen.add(dist)
        found |= modules.get(dist, set())
        try:
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [
            r.group(0) for q in requires if "extra ==" not in q if (r := re.match(r"[\w.-]+", q))
        ]
    return frozenset(found)


def _namespace_of(answer) -> dict:
    """The notebook's namespace, as the code of ``answer`` (a function or a class) sees it
    (empty: ``answer`` is no code of the notebook's, ``F.cross_entropy`` say)."""
    functions = [answer, *vars(answer).values()] if isinstance(answer, type) else [answer]
    ns = next((f.__globals__ for f in functions if hasattr(f, "__globals__")), {})
    return ns if ns.get("__name__") == "__main__" else {}


def packages_the_grader_lacks(answers: tuple) -> list[str]:
    """The packages the notebook holds (imported, or things made by them) that the grading
    machine may not have: Colab's sklearn, seaborn..."""
    found = set()
    for answer in answers:
        for name, value in list(_namespace_of(answer).items()):
            try:
                module = value.__name__ if isinstance(value, type(sys)) else value.__module__
            except Exception:  # an object without (or refusing) a module: not an import
                continue
            top = module.partition(".")[0] if isinstance(module, str) and module else "__main__"
            if not name.startswith("_") and not top.startswith("_"):
                found.add(top)
    return sorted(found - _grader_modules() - set(sys.stdlib_module_names))


def _torch_overrides() -> list[str]:
    """The modes the notebook entered that make torch's functions run other code (a
    ``TorchFunctionMode`` or dispatch mode of its own; ``torch.device``'s is torch's own)."""
    from torch.utils._device import DeviceContext
    from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

    stack = [*torch.overrides._get_current_function_mode_stack()]
    stack += _get_current_dispatch_mode_stack()
    return [type(m).__name__ for m in stack if type(m) is not DeviceContext]


def _packages_noted(check: Callable) -> Callable:
    """``check``, after looking for a mode that overrides torch's functions (the grader takes the
    points of every block after the cell that enters one), then a note naming the packages the
    grader may lack: the check passes in Colab, and the cell importing them fails where the
    notebook is graded."""

    @functools.wraps(check)
    def run(*answers) -> None:
        if modes := _torch_overrides():
            raise AssertionError(
                tr(
                    "a cell entered {modes}, which changes what torch's functions do "
                    "(__torch_function__): the grader gives no points to the blocks tested "
                    "after it; restart the runtime and run the cells without it",
                    modes=", ".join(modes),
                )
            )
        try:
            check(*answers)
        except NotImplementedError as exc:  # a blank reached outside _explain
            trace = traceback.extract_tb(exc.__traceback__)
            if not _a_blank(exc, trace):
                raise
            raise shown_plainly(AssertionError(_not_written(tr("This test"), trace[-1]))) from None
        except AssertionError as exc:
            raise shown_plainly(exc) from exc.__cause__
        lacking = packages_the_grader_lacks(answers)
        if lacking:
            print(
                tr(
                    "  note: your notebook imports {packages}, which the grading machine may not "
                    "have: a cell importing it fails there, and the block it defines scores 0 "
                    "(use torch or numpy instead, or ask your instructor)",
                    packages=", ".join(lacking),
                )
            )

    return run


# ---- messages: errors raised by the student's code, the expected shapes ----------------------


def is_student_frame(filename: str) -> bool:
    """A frame of the notebook's cells (IPython's names; ``<cell ...>`` for cells run by tests)."""
    return filename.startswith(("<ipython-input", "<cell")) or "ipykernel_" in filename


def _expected(steps: Steps) -> str:
    """The table of the expected shape at each step, as messages end with it."""
    width = max(len(name) for name, _ in steps)
    table = "\n".join(f"    {name:<{width}}  {shape}" for name, shape in steps)
    told = [shape for _, shape in steps if isinstance(shape, str) and not shape.startswith("(")]
    if told:  # (steps told by what they do, not by a shape: (f)'s and (g)'s)
        return tr("\n  Expected, step by step:\n{table}", table=table)
    return tr("\n  Expected shapes, step by step:\n{table}", table=table)


def _explain(exc: BaseException, what: str, steps: Steps, hint: str = "") -> BaseException:
    """The AssertionError that shows an exception of the student's code: the error, the line that
    raised, a hint naming the mistake, and the expected shape at each step (a blank's stub,
    a bare ``NotImplementedError``, as the method and line not written yet)."""
    trace = traceback.extract_tb(exc.__traceback__)
    if _a_blank(exc, trace):
        return AssertionError(_not_written(what, trace[-1]))
    text = str(exc).strip()
    text = wrong_argument(text) or (
        text if len(text) <= 300 else text[:300].rsplit(" ", 1)[0] + " …"
    )
    message = tr("{what} raised {error}: {text}", what=what, error=type(exc).__name__, text=text)
    lines = []  # the lines of the student's cells the error went through, outermost first
    for frame in [f for f in trace if is_student_frame(f.filename)][-3:]:
        code = (frame.line or "").strip()[:120]
        at = {"number": frame.lineno, "code": code}
        lines.append(tr("line {number}: `{code}`", **at) if code else tr("line {number}", **at))
    if lines:
        message += tr("\n  in your code, {where}", where=" -> ".join(lines))
    hint = hint or _module_method_hint(exc) or _not_run_hint(exc)
    message += f"\n  {hint}" if hint else ""
    return AssertionError(message + _expected(steps))


def _a_blank(exc: BaseException, trace: traceback.StackSummary) -> bool:
    """Whether ``exc`` is a blank's placeholder (``raise NotImplementedError()`` in a cell)."""
    return (
        isinstance(exc, NotImplementedError)
        and not str(exc).strip()
        and bool(trace)
        and is_student_frame(trace[-1].filename)
    )


def _not_written(what: str, frame: traceback.FrameSummary) -> str:
    """The message for a blank not filled in yet, naming the method and line that raised."""
    return tr(
        "{what} reached code not written yet: `{function}` (line {number}) still raises "
        "NotImplementedError, the blank's placeholder. Replace that line with your code, run "
        "its cell, then this test again.",
        what=what,
        function=frame.name,
        number=frame.lineno,
    )


def _not_run_hint(exc: BaseException) -> str:
    """A name of the notebook's not defined yet: the cell defining it was not run."""
    if not isinstance(exc, NameError) or not getattr(exc, "name", None):
        return ""
    return tr(
        "`{name}` is not defined: run the cell that defines it first (in Colab, Runtime > Run "
        "before runs every cell above this one).",
        name=exc.name,
    )


def shown_plainly(exc: AssertionError) -> AssertionError:
    """``exc`` shown by IPython as its message alone: the message names the line of the
    student's code at fault, the checks' own frames would only hide it."""
    exc._render_traceback_ = lambda: [f"\x1b[0;31mAssertionError\x1b[0m: {exc}"]
    return exc


def wrong_argument(text: str) -> str:
    """torch's "invalid combination of arguments" (a page of signatures, every argument marked):
    the arguments whose type does not fit, by name (``nn.Conv2d(..., padding=False)``: conv2d
    given ``padding`` as a tuple of bools)."""
    func = re.match(r"(\w+)\(\) received an invalid combination of arguments", text)
    first = re.search(r"\* \((.*)\)\n\s*didn't match because .*?: \((.*)\)", text)
    if not (func and first):
        return ""
    wrong = []
    for param, given in zip(_top_level(first[1]), _top_level(first[2]), strict=False):
        kind, _, name = param.split(" =")[0].rpartition(" ")
        given = given.strip("!")
        allowed = {"Tensor": {"Tensor", "Parameter"}, "float": {"float", "int"}}.get(kind, {kind})
        items = re.fullmatch(r"tuple of \((.*)\)", given)
        fits = (
            given in allowed
            or (given == "NoneType" and param.endswith("= None"))
            or (
                kind.startswith("tuple of ") and items and set(_top_level(items[1])) <= {kind[9:-1]}
            )
        )
        if not fits:
            wrong.append(
                tr("{name} is {given} where it takes {kind}", name=name, given=given, kind=kind)
            )
            wrong[-1] += (
                tr(" (a bool is not a size: give an int, e.g. 1 if padding else 0)")
                if "bool" in given
                else ""
            )
    return tr("{func}(): {wrong}", func=func[1], wrong="; ".join(wrong)) if wrong else ""


def _top_level(text: str) -> list[str]:
    """``text`` split at its commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    return [*parts, text[start:].strip()]


def _module_method_hint(exc: BaseException) -> str:
    """A block stored under the name of one of nn.Module's own methods (``self.double =
    DoubleConv(...)``): ``self.double(x)`` calls the method, the block is hidden by it."""
    found = re.match(r"Module\.(\w+)\(\)", str(exc)) if isinstance(exc, TypeError) else None
    if not found or not callable(getattr(nn.Module, found.group(1), None)):
        return ""
    return tr(
        "self.{name} is nn.Module's own method {name}(), which hides a block stored under that "
        "name: give the block another name (e.g. self.{name}_conv).",
        name=found.group(1),
    )


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[torch.dtype]:
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield dtype
    finally:
        torch.set_default_dtype(before)


def _first_dtype(attempt: Callable, dtypes: tuple = DTYPES) -> tuple[torch.dtype, object]:
    """``(dtype, attempt(dtype))`` for the first default dtype ``attempt`` runs in; if it runs in
    none, the exception of the first try."""
    errors = []
    for dtype in dtypes:
        with _default_dtype(dtype):
            try:
                return dtype, attempt(dtype)
            except Exception as exc:  # noqa: BLE001 - the caller shows it to the student
                errors.append(exc)
    raise errors[0]


class _Calls:
    """Records which submodules run, in order, and which ones were running when an exception
    left the module (the innermost first)."""

    def __init__(self, module: nn.Module):
        self.module, self.order, self.stack, self.hooks = module, [], [], []
        self.sequence: list[nn.Module] = []  # every call (the first 1,000)
        self.names = {id(m): name for name, m in module.named_modules()}

    def __enter__(self) -> _Calls:
        for m in self.module.modules():
            self.hooks.append(m.register_forward_pre_hook(self._enter))
            self.hooks.append(m.register_forward_hook(self._leave))
        return self

    def _enter(self, m, _args) -> None:
        if all(m is not seen for seen in self.order):
            self.order.append(m)
        if len(self.sequence) < 1_000:
            self.sequence.append(m)
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
                kind = type(m).__name__  # (the grader's stand-in of a block: its probe)
                kind = tr("the grader's {kind}", kind=kind[5:]) if kind[:5] == "Probe" else kind
                return f"{name} ({kind})"
        return ""


# ---- numbers ---------------------------------------------------------------------------------


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


def _near(got: float, want: float, tol: float) -> bool:
    return abs(got - want) <= tol * max(1.0, abs(want))  # NaN fails


def _dead_gradients(module: nn.Module, out, expected, dtype) -> list[tuple]:
    """Shapes of the parameters whose gradient (of sum(output * c), c random) differs from the
    one the expected computation gives, or is missing."""
    params = [p for p in module.parameters() if p.requires_grad]
    cot = torch.randn(out.shape, generator=torch.Generator().manual_seed(3)).to(out.dtype)
    got, want = (
        torch.autograd.grad((y * cot).sum(), params, allow_unused=True, retain_graph=True)
        if y.requires_grad
        else [None] * len(params)
        for y in (out, expected)
    )
    return [
        tuple(p.shape)
        for p, g, w in zip(params, got, want, strict=True)
        if w is not None and (g is None or not _close(g, w, GRADIENT_TOLERANCE[dtype]))
    ]


# ---- the student's classes: their namespace, their blocks --------------------------------------


def _namespace(obj) -> dict:
    """The globals the student's class or function looks its names up in (the notebook's)."""
    for value in vars(obj).values() if isinstance(obj, type) else [obj]:
        fn = getattr(value, "__func__", value)
        if hasattr(fn, "__globals__"):
            return fn.__globals__
    return {}


@contextlib.contextmanager
def _on_the_cpu(answer) -> Iterator[None]:
    """The notebook's ``device`` (``pick_device()``: a T4's ``cuda``) as the CPU for the time of a
    check, whose small network and batches are there: ``images.to(device)`` in a step or a
    predict runs as in the grader, on the CPU (it failed on Colab's GPU, passed in the grade)."""
    ns = _namespace(answer)
    moved = isinstance(ns.get("device"), torch.device | str) and str(ns["device"]) != "cpu"
    with _replaced(ns, "device", torch.device("cpu")) if moved else contextlib.nullcontext():
        yield


def _block_class(ns: dict, name: str) -> type | None:
    cls = ns.get(name)
    return cls if isinstance(cls, type) and issubclass(cls, nn.Module) else None


def _inside(sub: nn.Module, blocks) -> bool:
    return any(any(sub is s for s in b.modules()) for b in blocks)


def _top_instances(module: nn.Module, kind: type | None, name: str = "") -> list[nn.Module]:
    """Instances of ``kind`` (or of a class called ``name``: a block the network reaches by an
    alias of its own while the grader's stands in for it) inside ``module`` that are not inside
    another one."""
    found: list[nn.Module] = []
    for sub in module.modules() if kind is not None or name else []:
        of_kind = (kind is not None and isinstance(sub, kind)) or type(sub).__name__ == name
        if sub is not module and of_kind and not _inside(sub, found):
            found.append(sub)
    return found


@contextlib.contextmanager
def _replaced(ns: dict, name: str, value) -> Iterator[None]:
    """``ns[name] = value`` for the time of a check, if ``ns`` has one (the grader does the same
    with its probes)."""
    present, saved = name in ns, ns.get(name)
    if present:
        ns[name] = value
    try:
        yield
    finally:
        if present:
            ns[name] = saved


# ---- one runner for the module blocks ------------------------------------------------------------


def _unseen_state(m, seen: set) -> bool:
    """Whether ``m`` is a module with weights or statistics that ``seen`` (ids) lacks (a ReLU
    kept in a plain list loses nothing)."""
    if not isinstance(m, nn.Module) or id(m) in seen:
        return False
    return any(True for _ in m.parameters()) or any(True for _ in m.buffers())


def unregistered_modules(module: nn.Module) -> list[str]:
    """The attributes (``self.downs``, ``self.inc.layers``...) of ``module`` and its submodules
    that are plain lists, tuples or dicts of modules with weights PyTorch does not see: not the
    model's parameters, not trained, not saved, not moved to the GPU."""
    seen = {id(m) for m in module.modules()}
    internal = set(vars(nn.Module()))
    found = []
    for prefix, sub in module.named_modules():
        for name, value in vars(sub).items():
            if name in internal or not isinstance(value, (list, tuple, dict)):
                continue
            items = value.values() if isinstance(value, dict) else value
            if any(_unseen_state(m, seen) for m in items):
                found.append(
                    f"self.{prefix + '.' if prefix else ''}{name} ({type(value).__name__})"
                )
    return found


def _in_channels(module: nn.Module) -> int:
    """The input channels of ``module``'s first convolution (0 if it has none)."""
    convs = (nn.Conv2d, nn.ConvTranspose2d)
    return next((m.in_channels for m in module.modules() if isinstance(m, convs)), 0)


def _narrower_up_first(calls: _Calls, failing: nn.Module) -> bool:
    """Whether ``failing``, the first Up that ran, takes fewer channels than another Up of the
    network: the Ups built, or run, from the top level down (French student round 39:
    ``range(depth)`` for ``reversed(range(depth))``, told to reverse its skips)."""
    ups = [m for m in calls.module.modules() if type(m).__name__ == type(failing).__name__]
    ran = [m for m in calls.order if any(m is up for up in ups)]
    widest = max((_in_channels(up) for up in ups), default=0)
    return len(ran) == 1 and ran[0] is failing and 0 < _in_channels(failing) < widest


class _Run:
    """A module case run: the module (reference-like weights), its inputs and output, the order
    its layers ran in, in float64 (float32 if the student's code cannot run in float64)."""

    def __init__(self, cls: type, case: cases.ModuleCase, steps: Steps):
        self.case, self.steps, self.meta = case, steps, case.meta
        self.label, self.kw = translated(case.label), case.kwargs
        calls: dict[torch.dtype, _Calls] = {}

        def attempt(dtype: torch.dtype) -> object:
            self.dtype = dtype
            with self.context():
                torch.manual_seed(0)
                self.module = cls(*case.args, **case.keywords)
                if not self.meta:
                    _randomize(self.module, 1)
                self.module.train()
                if self.meta:
                    self.inputs = [torch.zeros(s) for s in case.inputs]
                else:
                    self.inputs = [x.to(dtype) for x in case.draw(cases.visible_rng())]
                with _Calls(self.module) as calls[dtype]:
                    return self.module(*[x.clone() for x in self.inputs])

        dtypes = (torch.float32,) if case.meta else DTYPES
        try:
            try:
                self.dtype, self.out = _first_dtype(attempt, dtypes)
            except Exception as exc:  # noqa: BLE001
                if not (self.meta and "meta" in str(exc)):
                    raise
                # a value read in forward (`.item()`, a NaN guard): the meta device has none;
                # run for real, as the grader does (honest round 20)
                self.meta = False
                self.dtype, self.out = _first_dtype(attempt, dtypes)
        except Exception as exc:  # noqa: BLE001 - shown to the student
            inside = calls[dtypes[0]].inside() if dtypes[0] in calls else ""
            hint = tr("(inside {block})", block=inside) if inside else ""
            hint = " ".join(filter(None, [hint, self._levels(), self._skips(calls, dtypes[0])]))
            raise _explain(exc, self.label, steps, hint) from None
        self.calls, self.tol = calls[self.dtype], TOLERANCE[self.dtype]
        self._checked()

    def _levels(self) -> str:
        """Where a UNet case failed: its Down blocks not ``depth`` of them (four written out,
        ``down1`` to ``down4``, with ``depth=3``: honest round 33's torch error said nothing)."""
        depth, module = self.kw.get("depth"), getattr(self, "module", None)
        downs = sum(type(m).__name__ == "Down" for m in module.modules()) if module else 0
        if depth is None or not downs or downs == depth:
            return ""
        return tr(
            "(this UNet has {downs} Down blocks for depth={depth}: build one per level, in a loop "
            "over range(depth))",
            downs=downs,
            depth=depth,
        )

    def _skips(self, calls: dict, dtype: torch.dtype) -> str:
        """Where a UNet case failed inside an Up: the skips given in another order (honest round
        36: torch's count of channels said nothing of them)."""
        running = calls[dtype].stack if dtype in calls else []
        ups = [m for m in running if type(m).__name__.endswith("Up")]
        if self.kw.get("depth") is None or not ups:
            return ""
        if _narrower_up_first(calls[dtype], ups[-1]):
            return tr(
                "(the first Up run is not the one of the bottom level: the first Up takes the "
                "widest feature maps, the bottleneck's; build self.ups from the bottom level up, "
                "e.g. over reversed(range(depth)), or run them in that order)"
            )
        return tr(
            "(in an Up: if Up passes its own check, it was given the skip of another level: each "
            "Up takes the skip saved at its own level, the last saved first: reversed(skips) or "
            "skips.pop())"
        )

    def _checked(self) -> None:
        """The run's output and modules, as a network's must be."""
        hidden = unregistered_modules(self.module)
        if hidden:
            raise _Wrong(
                tr(
                    "{names} holds modules PyTorch does not see (a plain Python list or dict: "
                    "their parameters are not the model's, so not trained, saved or moved to the "
                    "GPU): use nn.ModuleList or nn.ModuleDict",
                    names=", ".join(hidden),
                )
            )
        if not isinstance(self.out, torch.Tensor):
            kind = type(self.out).__name__
            raise _Wrong(
                tr("forward returned {kind}, not a tensor: did you forget `return`?", kind=kind)
            )

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        """The run's default dtype (and the meta device for a meta case)."""
        device = torch.device("meta") if self.meta else contextlib.nullcontext()
        with _default_dtype(self.dtype), device:
            yield

    def guard(self, what: str, fn: Callable):
        """``fn()``; an exception of the student's code becomes an explained AssertionError."""
        try:
            with self.context():
                return fn()
        except AssertionError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise _explain(exc, what, self.steps) from None

    def wrong_shape(self, want, hint: str = "", layers: bool = False, on: bool = True):
        """The AssertionError of an output of the wrong shape."""
        where = tr(" on {inputs}", inputs=_inputs_text(self.case)) if on else ""
        message = tr(
            "{label}{where}: expected output {want}, got {got}.{hint}",
            label=self.label,
            where=where,
            want=want,
            got=_shape(self.out),
            hint=hint,
        )
        message += _expected(self.steps)
        return AssertionError(
            message + ("\n  " + _found(self.module, self.calls) if layers else "")
        )

    def gradients(self, expected: torch.Tensor) -> None:
        """The parameters' gradients must be those ``expected`` gives (if the case says so)."""
        if not self.case.gradients:
            return
        with self.context():
            dead = _dead_gradients(self.module, self.out, expected, self.dtype)
        if dead:
            raise _Wrong(
                tr(
                    "the output is right but no gradient (or a wrong one) reaches the parameters "
                    "of shape {shapes}: no .detach(), .data, .numpy() or torch.no_grad() in forward",
                    shapes=", ".join(map(str, dead[:4])),
                )
            )

    def matches(self, expected: list[torch.Tensor]) -> bool:
        """Whether the output is one of ``expected``; if so its gradients must be that one's."""
        hit = next((e for e in expected if _close(self.out, e, self.tol)), None)
        if hit is not None:
            self.gradients(hit)
        return hit is not None

    def mistake(self, candidates: dict[str, Callable], otherwise: str) -> NoReturn:
        """Raise naming the first mistake whose output the block's equals, or ``otherwise``."""
        for mistake, candidate in candidates.items():
            if _close(self.out, self.guard(self.label, candidate), self.tol):
                raise _Wrong(mistake + ".")
        raise _Wrong(otherwise)


def _inputs_text(case: cases.ModuleCase) -> str:
    if len(case.inputs) == 2:
        return tr("x {x} and skip {skip}", x=case.inputs[0], skip=case.inputs[1])
    return tr("an input {shape}", shape=case.inputs[0])


def _check_modules(cls: type, block: str, check: Callable[[type, cases.ModuleCase], str]) -> None:
    """``check(cls, case)`` for each case of ``block``, then the "ok" line it returns."""
    for case in cases.MODULES[block].cases:
        with _labelled(translated(case.label)):
            _ok(check(cls, case))


def _block_args(case: cases.ModuleCase) -> tuple[int, int, bool, bool]:
    kw = case.kwargs
    return kw["in_channels"], kw["out_channels"], kw["padding"], kw["batch_norm"]


# ---- (a) DoubleConv ------------------------------------------------------------------------


def _double_conv_steps(n: int, c_in: int, c_out: int, size, padding: bool, bn: bool) -> Steps:
    h, w = size
    b = 0 if padding else 2
    steps: Steps = [(tr("input"), (n, c_in, h, w))]
    for i in (1, 2):
        h, w = h - b, w - b
        steps.append((f"conv{i} 3x3 (padding={int(padding)})", (n, c_out, h, w)))
        if bn:
            steps.append((f"BatchNorm2d {i}", (n, c_out, h, w)))
        steps.append((f"ReLU {i}", (n, c_out, h, w)))
    return steps


def _conv_bn_relu(x, convs, bns, padding: bool, order: str = "bn relu|bn relu"):
    """Two conv -> [BN] -> ReLU from the student's own layers (``order``: what follows each conv)."""
    for i, (conv, after) in enumerate(zip(convs, order.split("|"), strict=True)):
        x = F.conv2d(x, conv.weight, conv.bias, padding=int(bool(padding)))
        for step in after.split():
            if step == "relu":
                x = F.relu(x)
            elif bns:
                x = F.batch_norm(x, None, None, bns[i].weight, bns[i].bias, training=True)
    return x


def _layers(run: _Run, kind: type) -> list[nn.Module]:
    """The layers of ``kind`` in the order they ran (in definition order if they were used
    through their weights only, by functional calls)."""
    ran = run.calls.of(kind)
    defined = [m for m in run.module.modules() if isinstance(m, kind)]
    return ran if len(ran) == len(defined) else defined


def _no_own_kernels(module: nn.Module, convs: list) -> None:
    """Kernels held as parameters of the module's own (``nn.Parameter`` run by ``F.conv2d``),
    and no ``nn.Conv2d`` (``convs``), are not where the checks and the grader load the
    reference's weights: say so."""
    if convs:
        return
    own_kernels = [
        tuple(p.shape)
        for m in module.modules()
        if not isinstance(m, nn.Conv2d)
        for p in m.parameters(recurse=False)
        if p.dim() == 4
    ]
    if own_kernels:
        raise _Wrong(
            tr(
                "DoubleConv holds its convolution kernels as parameters of its own {shapes} "
                "(nn.Parameter with F.conv2d), not in nn.Conv2d layers: the checks and the grader "
                "load the reference's weights into nn.Conv2d (and nn.BatchNorm2d) layers, so "
                "build it from nn.Conv2d",
                shapes=own_kernels,
            )
        )


def _check_double_conv_layers(run: _Run, convs, bns, c_in, c_out, bn) -> None:
    """Two right-shaped 3x3 convolutions, stride 1, the batch norms asked, no other parameter."""
    if len(convs) != 2:
        _no_own_kernels(run.module, convs)
        raise _Wrong(
            tr(
                "{count} convolution(s) ran, expected 2 (3x3 conv -> ReLU, twice). ",
                count=len(convs),
            )
            + _found(run.module, run.calls)
        )
    want = [(c_out, c_in, 3, 3), (c_out, c_out, 3, 3)]
    if [tuple(c.weight.shape) for c in convs] != want:
        raise _Wrong(
            tr(
                "the convolutions' weights have shapes {shapes}, expected {want}: 3x3 kernels, "
                "in_channels -> out_channels, then out_channels -> out_channels",
                shapes=[tuple(c.weight.shape) for c in convs],
                want=want,
            )
        )
    if bn and len(bns) != 2:
        raise _Wrong(
            tr(
                "{count} BatchNorm2d layer(s) ran, expected 2: with batch_norm=True each "
                "convolution is followed by a batch norm, then its ReLU (conv -> BN -> ReLU)",
                count=len(bns),
            )
        )
    if not bn and bns:
        raise _Wrong(tr("batch_norm=False, yet a BatchNorm2d ran: add it only if asked"))
    if any((tuple(c.stride), tuple(c.dilation), c.groups) != ((1, 1), (1, 1), 1) for c in convs):
        raise _Wrong(tr("the convolutions take stride 1 (no dilation, no groups)"))
    padding = [c for c in convs if c.padding == "same" or any(c.padding)]  # (where it pads)
    if modes := sorted({c.padding_mode for c in padding if c.padding_mode != "zeros"}):
        raise _Wrong(  # (student round 41: 'reflect' was told to check the layers' order)
            tr(
                "the convolutions pad with padding_mode={mode!r}: the padded U-Net pads with "
                "zeros (padding=1, padding_mode='zeros', the default)",
                mode=modes[0],
            )
        )
    _check_double_conv_params(run, c_in, c_out, bn)


def _check_double_conv_params(run: _Run, c_in: int, c_out: int, bn: bool) -> None:
    """The parameters of two convolutions (and batch norms), no more; a bias before a BN is
    fine (an Up's up-convolution aside: its convolutions written in it, honest round 20)."""
    base = 9 * c_out * (c_in + c_out) + (0 if bn else 2 * c_out)
    allowed = {base} if not bn else {base + 4 * c_out, base + 6 * c_out}
    count = _params(run.module) - sum(
        _params(m) for m in run.module.modules() if isinstance(m, nn.ConvTranspose2d)
    )
    if count < min(allowed):
        raise AssertionError(
            tr(
                "{label} has {count:,} parameters, expected {want:,}: some are missing (a "
                "convolution without bias needs batch_norm=True; BatchNorm2d keeps its affine "
                "weight and bias). ",
                label=run.label,
                count=count,
                want=min(allowed),
            )
            + _found(run.module, run.calls)
        )
    if count not in allowed:
        owners = tr("its two convolutions and batch norms") if bn else tr("its two convolutions")
        raise AssertionError(
            tr(
                "{label} has {count:,} parameters, expected {want:,}: parameters that do not "
                "belong to {owners} (an unused layer?). ",
                label=run.label,
                count=count,
                want=min(allowed),
                owners=owners,
            )
            + _found(run.module, run.calls)
        )


def _double_conv_case(cls: type, case: cases.ModuleCase) -> str:
    c_in, c_out, padding, bn = _block_args(case)
    n, _, h, w = case.inputs[0]
    run = _Run(cls, case, _double_conv_steps(n, c_in, c_out, (h, w), padding, bn))
    got, hint = _shape(run.out)[-1:], ""
    if got == (w,) and not padding:
        hint = tr(
            " The size did not shrink: with padding=False use padding=0 (valid convolutions)."
        )
    elif padding and got == (w - 4,):
        hint = tr(" padding=True must keep the size: padding=1 in each convolution.")
    elif got == (w - 2,):
        hint = tr(" It shrank by 2 only: are there two 3x3 convolutions?")
    if _shape(run.out) != case.output:
        raise run.wrong_shape(case.output, hint, layers=True)
    convs, bns = _layers(run, nn.Conv2d), _layers(run, nn.BatchNorm2d)
    _check_double_conv_layers(run, convs, bns, c_in, c_out, bn)
    x, shown = run.inputs[0], {"input": case.inputs[0], "output": case.output}
    expected = run.guard(run.label, lambda: _conv_bn_relu(x, convs, bns, padding))
    shown |= {"label": run.label, "bn": "BN -> " if bn else "", "diff": _diff(run.out, expected)}
    if run.matches([expected]):
        return tr("{label}: {input} -> {output}, conv -> {bn}ReLU twice", **shown)
    mistakes = {
        "relu bn|relu bn": tr(
            "the batch norm is applied after the ReLU; it goes between them: "
            "conv -> BatchNorm2d -> ReLU"
        ),
        "bn relu|bn": tr("no ReLU after the second convolution (the last one too)"),
        "bn|bn relu": tr("no ReLU after the first convolution"),
    }
    ran = {type(m).__name__: None for m in run.calls.order if not list(m.children())}
    foreign = [k for k in ran if k not in ("Conv2d", "BatchNorm2d", "ReLU", "Identity")]
    otherwise = tr(
        "the output differs from conv -> {bn}ReLU, twice, rebuilt from your own layers (max "
        "|difference| {diff:.3g}): check the order of the layers and that each one is "
        "applied once",
        **shown,
    )
    if foreign:
        otherwise = tr(
            "{layers} ran, which the DoubleConv does not have: conv -> {bn}ReLU, twice, with "
            "nn.ReLU (no other activation, no dropout). ",
            layers=", ".join(foreign),
            **shown,
        ) + _found(run.module, run.calls)
    run.mistake(
        {
            why: lambda o=order: _conv_bn_relu(x, convs, bns, padding, o)
            for order, why in mistakes.items()
        },
        otherwise,
    )


@_packages_noted
def check_double_conv(DoubleConv: type) -> None:  # noqa: N803 (the class under test)
    """The DoubleConv cases: shapes, layers, parameters, and the output rebuilt from its layers."""
    _check_modules(DoubleConv, "double_conv", _double_conv_case)


# ---- blocks built from blocks: the inner one must be built with the right arguments -----------


def _again(run: _Run, cls: type, block: nn.Module, c_in: int, c_out: int) -> tuple:
    """``block`` built again as ``cls(c_in, c_out, padding, batch_norm)`` with the case's padding
    and batch_norm, its weights copied (None if they have other shapes), and how it is called."""
    padding, bn = run.kw["padding"], run.kw["batch_norm"]
    args = f"({c_in}, {c_out}, padding={padding}, batch_norm={bn})"
    with run.context():
        fresh = cls(c_in, c_out, padding=padding, batch_norm=bn)
    shapes = [[tuple(v.shape) for v in m.state_dict().values()] for m in (block, fresh)]
    if shapes[0] != shapes[1]:
        return None, args
    if not run.meta:
        fresh.load_state_dict(block.state_dict())
    return fresh.train(block.training), args


def _inner_matches(run: _Run, inner: nn.Module, cls: type, channels: tuple, x) -> str:
    """'' if ``inner`` computes what ``cls(c_in, c_out, padding, batch_norm)`` of the case does
    (same weights, input ``x``); else what differs."""
    fresh, args = _again(run, cls, inner, *channels)
    name = "DoubleConv"  # the notebook's name (the grader may check with its own class)
    if fresh is None:
        return tr(
            "its {name} is not {name}{args}: its weights have other shapes (pass in_channels, "
            "out_channels, padding and batch_norm on, by name or in order)",
            name=name,
            args=args,
        )
    with run.context():
        if not _close(inner(x.clone()), fresh(x.clone()), run.tol):
            return tr(
                "its {name} does not compute what {name}{args} does: pass padding and "
                "batch_norm on to it",
                name=name,
                args=args,
            )
    return ""


def _rebuilder(run: _Run, cls: type, c_in: int, c_out: int, x: torch.Tensor) -> Callable:
    """How a Down or Up's convolutions are rebuilt: by its own DoubleConv (checked to compute
    what the case's DoubleConv does on ``x``), or by its own layers (checked as a DoubleConv's)."""
    double_conv = _block_class(_namespace(cls), "DoubleConv")
    inner = _top_instances(run.module, double_conv)
    if len(inner) == 1:
        wrong = run.guard(
            tr("{label}: its DoubleConv", label=run.label),
            lambda: _inner_matches(run, inner[0], double_conv, (c_in, c_out), x),
        )
        if wrong:
            raise _Wrong(wrong + ".")
        return lambda t: inner[0](t.clone())
    convs, bns = _layers(run, nn.Conv2d), _layers(run, nn.BatchNorm2d)
    _check_double_conv_layers(run, convs, bns, c_in, c_out, run.kw["batch_norm"])
    return lambda t: _conv_bn_relu(t, convs, bns, run.kw["padding"])


# ---- (b) Down ------------------------------------------------------------------------------


def _down_case(cls: type, case: cases.ModuleCase) -> str:
    c_in, c_out, padding, bn = _block_args(case)
    n, _, h, w = case.inputs[0]
    steps = [
        (tr("input"), case.inputs[0]),
        (tr("max-pool 2x2, stride 2"), (n, c_in, h // 2, w // 2)),
    ]
    run = _Run(
        cls, case, steps + _double_conv_steps(n, c_in, c_out, (h // 2, w // 2), padding, bn)[1:]
    )
    x = run.inputs[0]
    rebuild = _rebuilder(run, cls, c_in, c_out, F.max_pool2d(x, 2))
    expected = run.guard(run.label, lambda: rebuild(F.max_pool2d(x, 2)))
    got = _shape(run.out)
    if got != _shape(expected):
        hint = ""
        if got == _shape(run.guard(run.label, lambda: rebuild(x))):
            hint = tr(" The size was not halved: is the 2x2 max-pooling (stride 2) there?")
        elif got == _shape(run.guard(run.label, lambda: F.max_pool2d(rebuild(x), 2))):
            hint = tr(" Pooled after the convolutions: pool first, then convolve.")
        raise run.wrong_shape(_shape(expected), hint)
    if run.matches([expected]):
        return tr(
            "{label}: {input} -> {output}",
            label=run.label,
            input=case.inputs[0],
            output=case.output,
        )
    average = tr("average pooling: the contracting step takes the maximum (nn.MaxPool2d(2))")
    run.mistake(
        {average: lambda: rebuild(F.avg_pool2d(x, 2))},
        tr(
            "the output differs from DoubleConv(max_pool(x, 2)) built from your own layers (max "
            "|difference| {diff:.3g}): 2x2 max-pooling, stride 2, then the DoubleConv",
            diff=_diff(run.out, expected),
        ),
    )


@_packages_noted
def check_down(Down: type) -> None:  # noqa: N803
    """The Down cases: max-pooling then its DoubleConv, built with the block's arguments."""
    _check_built_on(Down, "down", _down_case)


# ---- (c) center_crop and Up ----------------------------------------------------------------


def _centre(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The check's own centre window (top and left rounded down), put in place of the
    notebook's ``center_crop`` while Up is checked: a wrong crop costs its own point only."""
    top, left = (x.shape[-2] - height) // 2, (x.shape[-1] - width) // 2
    return x.narrow(-2, top, height).narrow(-1, left, width)


def _called_as(own: Callable, theirs: object) -> Callable:
    """``own`` called as the notebook's ``theirs`` is: its parameters named their way
    (``center_crop(skip, target_h=..., target_w=...)``, honest round 23)."""
    try:
        signature = inspect.signature(theirs)
    except (TypeError, ValueError):
        return own

    def as_theirs(*args, **kwargs):
        try:
            given = signature.bind(*args, **kwargs)
        except TypeError:
            return own(*args, **kwargs)
        return own(*given.args, **given.kwargs)

    return as_theirs


def _crop_mistake(case: cases.CropCase, first: int) -> str:
    """Name the window whose top-left value (of an arange map) is ``first``."""
    top, left = divmod(first, case.width)
    if (top, left) == (0, 0):
        return tr(
            "the window is the top-left corner: offset the crop by half the margin, "
            "top = (H - height) // 2, left = (W - width) // 2"
        )
    if (top, left) == ((case.width - case.target_w) // 2, (case.height - case.target_h) // 2):
        return tr(
            "the row and column offsets are swapped: the top offset comes from the heights, "
            "(H - height) // 2, the left one from the widths"
        )
    return tr("the window starts at row {top}, column {left}", top=top, left=left)


def _crop_case(center_crop: Callable, case: cases.CropCase, label: str) -> None:
    x = torch.arange(float(case.height * case.width)).reshape(1, 1, case.height, case.width)
    x = x.expand(2, 3, -1, -1).clone()
    th, tw = case.target_h, case.target_w
    want = (2, 3, th, tw)
    steps = [("x", tuple(x.shape)), ("top, left", "(H - height) // 2, (W - width) // 2")]
    try:
        out = center_crop(x, th, tw)
    except Exception as exc:  # noqa: BLE001
        raise _explain(exc, label, [*steps, (tr("window"), want)]) from None
    if not isinstance(out, torch.Tensor):
        raise _Wrong(tr("returned {kind}, not a tensor", kind=type(out).__name__))
    if problem := _crop_shape_problem(case, _shape(out), want):
        raise _Wrong(problem)
    windows = case.windows()
    crops = [x[..., t : t + th, s : s + tw] for t, s in windows]
    if out.dtype != x.dtype and any(torch.equal(out.to(x.dtype), crop) for crop in crops):
        raise _Wrong(
            tr(
                "the right window, but as {got} instead of {want}: crop by slicing, the values "
                "and their dtype unchanged",
                got=out.dtype,
                want=x.dtype,
            )
        )
    if out.dtype != x.dtype or not any(torch.equal(out, crop) for crop in crops):
        first = int(out[0, 0].flatten()[0]) if out.numel() else -1
        either = tr(" or ")
        raise _Wrong(
            tr(
                "not the centre window: {mistake} (expected top {tops}, left {lefts}).",
                mistake=_crop_mistake(case, first),
                tops=either.join(str(t) for t in sorted({t for t, _ in windows})),
                lefts=either.join(str(v) for v in sorted({v for _, v in windows})),
            )
        )


def _crop_shape_problem(case: cases.CropCase, got: tuple | str, want: tuple) -> str:
    """What a crop of shape ``got`` did wrong, for a crop of shape ``want`` ("" if its shape is
    right)."""
    th, tw = want[-2:]
    odd = [(case.height - th) % 2, (case.width - tw) % 2]
    if got != want and any(odd) and got == (2, 3, th + odd[0], tw + odd[1]):
        return tr(  # x[..., top:H - top]: honest round 33's most common crop
            "expected shape {want}, got {got}: the window ends at H - top (or W - left), one "
            "too many where the margin is odd; end it at top + height and left + width, "
            "x[..., top:top + height, left:left + width]",
            want=want,
            got=got,
        )
    if _past_the_edge(got, want):
        return tr(
            "expected shape {want}, got {got}: the window runs past the map's edge, so it "
            "starts too far: the start is (H - height) // 2, with its brackets "
            "(H - height // 2 is H - (height // 2))",
            want=want,
            got=got,
        )
    if got != want:
        swapped = tr(" (height and width swapped?)") if got[-2:] == want[:-3:-1] else ""
        return tr(
            "expected shape {want}, got {got}{swapped}: crop the height and the width "
            "separately, keep the batch and channel dimensions",
            want=want,
            got=got,
            swapped=swapped,
        )
    return ""


def _past_the_edge(got: tuple | str, want: tuple) -> bool:
    """Whether a crop of shape ``got`` is the batch and channels of ``want`` but smaller in
    height or width: the window started too far and ran past the map's edge."""
    if not isinstance(got, tuple) or len(got) != len(want) or got[:-2] != want[:-2]:
        return False
    return got != want and all(g <= w for g, w in zip(got[-2:], want[-2:], strict=True))


@_packages_noted
def check_center_crop(center_crop: Callable) -> None:
    """The crop cases: the centre window (either rounding of an odd margin), unequal margins."""
    for case in cases.crop_cases(cases.visible_rng(), grader=False):
        label = tr("center_crop of a {height}x{width} map to {target_h}x{target_w}", **asdict(case))
        with _labelled(label):
            _crop_case(center_crop, case, label)
    _ok(tr("the centre window, for even, odd and unequal margins (either rounding of an odd one)"))


def _up_steps(case: cases.ModuleCase) -> Steps:
    c_in, c_out, padding, bn = _block_args(case)
    (n, _, h, w), skip = case.inputs
    up = (n, c_in // 2, 2 * h, 2 * w)
    steps: Steps = [("x", case.inputs[0]), ("skip", skip), (tr("up-conv 2x2, stride 2 (x)"), up)]
    steps.append((tr("skip cropped to x's size (centre)"), up))
    steps.append(("torch.cat([skip, x], dim=1)", (n, c_in, *up[2:])))
    return steps + _double_conv_steps(n, c_in, c_out, up[2:], padding, bn)[1:]


def _cat_order(run: _Run, up: nn.Module) -> None:
    """Raise if, with the up-convolution zeroed, the first half of the DoubleConv's input is 0."""
    first_conv = next(iter(run.calls.of(nn.Conv2d)), None)
    if first_conv is None:
        return
    seen = []
    hook = first_conv.register_forward_pre_hook(lambda _m, a: seen.append(a[0].detach()))
    saved = {k: v.clone() for k, v in up.state_dict().items()}
    try:
        with run.context(), torch.no_grad():
            for p in up.parameters():
                p.zero_()
            run.module(*[x.clone() for x in run.inputs])
    except Exception:  # noqa: BLE001
        return
    finally:
        hook.remove()
        up.load_state_dict(saved)
    half = seen[0].shape[1] // 2 if seen else 0
    if seen and bool((seen[0][:, :half] == 0).all()) and not bool((seen[0][:, half:] == 0).all()):
        raise _Wrong(
            tr(
                "the concatenation order is swapped: torch.cat([x, skip]) puts the up-sampled map "
                "first; the skip comes first, torch.cat([skip, x], dim=1) (with the up-convolution "
                "zeroed, the first half of the DoubleConv's input was zero)"
            )
            + "."
        )


def _up_conv(run: _Run, c_in: int) -> nn.Module:
    """The one nn.ConvTranspose2d that ran (or, applied through its weights by
    ``F.conv_transpose2d`` or its ``forward`` called by hand, the one defined), checked to halve
    the channels, double the size."""
    ups = _layers(run, nn.ConvTranspose2d)
    if len(ups) != 1:
        raise _Wrong(
            tr(
                "{count} nn.ConvTranspose2d ran, expected 1 (the 2x2 up-convolution). ",
                count=len(ups),
            )
            + _found(run.module, run.calls)
        )
    up = ups[0]
    if tuple(up.weight.shape) != (c_in, c_in // 2, 2, 2) or tuple(up.stride) != (2, 2):
        raise _Wrong(
            tr(
                "the up-convolution should be nn.ConvTranspose2d({c_in}, {c_half}, kernel_size=2, "
                "stride=2): it halves the channels and doubles the size (weight {weight}, stride "
                "{stride})",
                c_in=c_in,
                c_half=c_in // 2,
                weight=tuple(up.weight.shape),
                stride=tuple(up.stride),
            )
        )
    if up.bias is None:
        raise _Wrong(
            tr(
                "the up-convolution has no bias (bias=False): the paper's "
                "nn.ConvTranspose2d({c_in}, {c_half}, kernel_size=2, stride=2) has one",
                c_in=c_in,
                c_half=c_in // 2,
            )
        )
    return up


def _up_case(cls: type, case: cases.ModuleCase) -> str:
    c_in, c_out, padding, _ = _block_args(case)
    run = _Run(cls, case, _up_steps(case))
    up = _up_conv(run, c_in)
    x, skip = run.inputs
    with run.context():
        u = F.conv_transpose2d(x, up.weight, up.bias, stride=2)
    (h, w), (sh, sw) = u.shape[-2:], skip.shape[-2:]
    rebuild = _rebuilder(run, cls, c_in, c_out, torch.cat([skip[..., :h, :w], u], 1))

    def joined(t: int, s: int) -> Callable:
        return lambda: rebuild(torch.cat([skip[..., t : t + h, s : s + w], u], 1))

    windows = cases.CropCase(sh, sw, h, w).windows() if not padding else [(0, 0)]
    expected = [run.guard(run.label, joined(*ts)) for ts in windows]
    if _shape(run.out) != _shape(expected[0]):
        raise run.wrong_shape(_shape(expected[0]))
    if run.matches(expected):
        return tr(
            "{label}: x {x} + skip {skip} -> {output}",
            label=run.label,
            x=case.inputs[0],
            skip=case.inputs[1],
            output=case.output,
        )
    _cat_order(run, up)
    corner = tr("the skip is cropped at its top-left corner: take its centre window (center_crop)")
    swapped = tr(
        "the crop's row and column offsets are swapped: top = (H - h) // 2 from the "
        "heights, left = (W - w) // 2 from the widths"
    )
    wrong = {} if padding else {corner: (0, 0), swapped: ((sw - w) // 2, (sh - h) // 2)}
    run.mistake(
        {why: joined(t, s) for why, (t, s) in wrong.items() if t + h <= sh and s + w <= sw},
        tr(
            "the output differs from DoubleConv(torch.cat([centre of skip, up(x)], dim=1)) "
            "built from your own layers (max |difference| {diff:.3g}).",
            diff=_diff(run.out, expected[0]),
        ),
    )


@_packages_noted
def check_up(Up: type) -> None:  # noqa: N803
    """The Up cases: up-convolution, the skip's centre window, [skip, x], its DoubleConv."""
    ns = _namespace(Up)
    with _replaced(ns, "center_crop", _called_as(_centre, ns.get("center_crop"))):
        _check_built_on(Up, "up", _up_case)


# ---- (d) UNet ------------------------------------------------------------------------------


def expected_layer_shapes(
    in_size: int, in_channels=1, num_classes=2, base_channels=64, depth=4, padding=False, batch=1
) -> list[tuple[str, tuple[int, ...]]]:
    """(block name, output shape) of each block of the U-Net."""
    border = 0 if padding else 4
    size = in_size - border
    rows = [("inc", (batch, base_channels, size, size))]
    for i in range(depth):
        size = size // 2 - border
        rows.append((f"downs.{i}", (batch, base_channels * 2 ** (i + 1), size, size)))
    for i in range(depth):
        size = size * 2 - border
        rows.append((f"ups.{i}", (batch, base_channels * 2 ** (depth - 1 - i), size, size)))
    rows.append(("outc", (batch, num_classes, size, size)))
    return rows


def _unet_steps(case: cases.ModuleCase) -> Steps:
    kw = case.kwargs
    n, _, size, _ = case.inputs[0]
    names = ("in_channels", "num_classes", "base_channels", "depth", "padding")
    steps: Steps = [(tr("input"), case.inputs[0])]
    for name, shape in expected_layer_shapes(size, *(kw[k] for k in names), n):
        if name.startswith("ups."):
            level = kw["depth"] - 1 - int(name[4:])
            skip = "inc" if level == 0 else f"downs.{level - 1}"
            name = tr("{name} (x, skip = {skip}'s output)", name=name, skip=skip)
        steps.append((name, shape))
    return steps


def _channels(block: nn.Module) -> tuple[int, int] | None:
    """A block's ``(in, out)`` channels, whatever the order its layers were created in (conv2
    before conv1 runs the same): the channels of its first and last convolutions, those whose
    input no other one gives and whose output no other one takes."""
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    ups = [m for m in block.modules() if isinstance(m, nn.ConvTranspose2d)]
    if not convs:
        return None
    first = [c for c in convs if all(o.out_channels != c.in_channels for o in convs if o is not c)]
    last = [c for c in convs if all(o.in_channels != c.out_channels for o in convs if o is not c)]
    c_in = ups[0].in_channels if ups else (first or convs)[0].in_channels
    return (c_in, (last or convs)[-1].out_channels)


def _unet_found(net: nn.Module, ns: dict, kw: dict) -> tuple[dict, list, int]:
    """The student's blocks of each kind (not inside a Down or an Up), the candidates for outc,
    and the widths the arguments give."""
    widths = [kw["base_channels"] * 2**i for i in range(kw["depth"] + 1)]
    kinds = {k: _block_class(ns, k) for k in ("DoubleConv", "Down", "Up", "OutConv")}
    found = {k: _top_instances(net, cls, k) for k, cls in kinds.items() if k != "OutConv"}
    outer = found["Down"] + found["Up"]
    found = {
        k: [b for b in blocks if not _inside(b, [o for o in outer if o is not b])]
        for k, blocks in found.items()
    }
    outs = _top_instances(net, kinds["OutConv"]) or [
        m
        for m in net.modules()
        if isinstance(m, nn.Conv2d)
        and tuple(m.kernel_size) == (1, 1)
        and not _inside(m, [b for bs in found.values() for b in bs])
    ]
    return found, [o for o in outs if _channels(o) == (widths[0], kw["num_classes"])], widths


def _unet_blocks(net: nn.Module, ns: dict, kw: dict) -> dict:
    """The student's blocks by role (inc, downs, ups in running order, outc), or a _Wrong."""
    found, outs, widths = _unet_found(net, ns, kw)
    depth = kw["depth"]
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
    if len(outs) == 1:
        roles["outc"] = outs[0]
    if all(r in roles for r in [*want, "outc"]):
        return roles
    have = [f"{k} {c[0]}->{c[1]}" for k, bs in found.items() for b in bs if (c := _channels(b))]
    need = [f"{kind} {c[0]}->{c[1]}" for kind, c in want.values()]
    need.append(f"outc {widths[0]}->{kw['num_classes']}")
    functions = [
        k
        for k in ("DoubleConv", "Down", "Up")
        if isinstance(ns.get(k), types.FunctionType)  # (a class of no nn.Module: not this)
    ]
    if functions:  # a factory returning nn.Sequential (honest round 20): the grader reads it
        words = tr(
            "{names} is a function here, not a class: this check finds your blocks by their "
            "classes; write it as a class (nn.Module), as its cell starts",
            names=", ".join(functions),
        )
    elif not found["Down"] and not found["Up"]:
        words = tr("build it from your DoubleConv, Down and Up classes")
    else:
        words = tr(
            "use in_channels, num_classes, base_channels and depth (self.widths = {widths}): "
            "no fixed widths or depth",
            widths=widths,
        )
    raise _Wrong(
        tr(
            "its blocks do not match the arguments: expected {need}; found {have}: {words}",
            need=", ".join(need),
            have=", ".join(have) or tr("none"),
            words=words,
        )
        + "."
    )


def _canonical(roles: dict, x: torch.Tensor, depth: int, shapes: dict | None = None):
    """Figure 1's wiring of the student's own blocks (each one's output shape into ``shapes``)."""
    shapes = {} if shapes is None else shapes

    def block(role: str, *args) -> torch.Tensor:
        out = roles[role](*args)
        shapes.setdefault(role, _shape(out))
        return out

    skips = []
    x = block("inc", x)
    for i in range(depth):
        skips.append(x)
        x = block(f"downs.{i}", x)
    for i in range(depth):
        x = block(f"ups.{i}", x, skips.pop())
    return block("outc", x)


def _fresh_blocks(run: _Run, roles: dict, ns: dict) -> dict:
    """Each role's block built again with the UNet's padding and batch_norm, its weights copied;
    a :class:`_Wrong` if its weights' shapes differ (an argument not passed on)."""
    classes = {"inc": "DoubleConv", "downs": "Down", "ups": "Up"}
    fresh_roles = {"outc": roles["outc"]}
    for role, block in roles.items():
        if role == "outc":
            continue
        kind = classes[role.split(".")[0]]
        cls = _block_class(ns, kind)
        cls = cls if cls is not None and isinstance(block, cls) else type(block)  # (an alias's)
        fresh_roles[role], args = _again(run, cls, block, *_channels(block))
        if fresh_roles[role] is None:
            raise _Wrong(
                tr(
                    "{role} is not {kind}{args}: pass {what} on to every block (padding and "
                    "batch_norm of the UNet go to inc, every Down and every Up).",
                    role=role,
                    kind=kind,
                    args=args,
                    what="batch_norm" if run.kw["batch_norm"] else tr("its arguments"),
                )
            )
    return fresh_roles


def _check_outc_applied(run: _Run, outc: nn.Module, kw: dict) -> None:
    """A UNet whose ``outc`` never runs (its output is the last Up's) fails."""
    if any(outc is m for m in run.calls.order) or _forward_runs(run, outc):
        return
    raise _Wrong(
        tr(
            "outc is built but never applied (the output has {channels} channels where "
            "{num_classes} classes were asked): end forward with return self.outc(x).",
            channels=_shape(run.out)[1] if len(_shape(run.out)) > 1 else None,
            **kw,
        )
    )


def _forward_runs(run: _Run, part: nn.Module) -> bool:
    """Whether ``part`` of the run's module runs when the module does, called or its
    ``forward`` called by hand (``self.outc.forward(x)``: no hook of the part runs)."""
    ran, forward = [], part.forward
    part.forward = lambda *args, **kwargs: ran.append(1) or forward(*args, **kwargs)
    try:
        with torch.no_grad(), run.context():
            run.module(*[x.clone() for x in run.inputs])
    except Exception:  # noqa: BLE001 - (it ran once already: never applied, then)
        return False
    finally:
        del part.forward
    return bool(ran)


def _unet_case(cls: type, case: cases.ModuleCase) -> str:
    """A UNet case, against Figure 1's wiring of its own blocks, each built again with the
    UNet's arguments (on the meta device: shapes and parameter count only)."""
    kw, steps = case.kwargs, _unet_steps(case)
    run = _Run(cls, case, steps)
    roles = _unet_blocks(run.module, _namespace(cls), kw)
    fresh_roles = _fresh_blocks(run, roles, _namespace(cls))
    _check_outc_applied(run, roles["outc"], kw)
    x = run.inputs[0]
    expected = run.guard(run.label, lambda: _canonical(fresh_roles, x.clone(), kw["depth"]))
    own = run.guard(run.label, lambda: _canonical(roles, x.clone(), kw["depth"]))
    not_passed = _Wrong(
        tr(
            "a block is not built with the UNet's padding={padding} and batch_norm={batch_norm}: "
            "pass them on to inc, every Down and every Up.",
            **kw,
        )
    )
    if _shape(run.out) != _shape(expected):
        if _shape(own) == _shape(run.out):
            raise not_passed
        raise run.wrong_shape(_shape(expected), on=False)
    if not run.meta and not _close(run.out, expected, run.tol):
        if _close(run.out, own, run.tol):
            raise not_passed
        for name, squash in (("softmax", lambda t: t.softmax(1)), ("sigmoid", torch.sigmoid)):
            if _close(run.out, squash(expected), run.tol):
                raise _Wrong(
                    tr(
                        "the output is the {name} of outc's scores: forward returns the raw "
                        "scores (logits), return self.outc(x); the loss and the argmax of "
                        "predict take logits",
                        name=name,
                    )
                )
        if any(isinstance(m, nn.modules.dropout._DropoutNd) for m in run.module.modules()):
            raise _Wrong(  # (honest round 25: the paper's drop-out, said as a wiring fault)
                tr(
                    "the output differs from Figure 1's wiring of your own blocks: a Dropout "
                    "layer (the paper's, at the end of the contracting path) zeroes values at "
                    "random in training mode; this TP's U-Net has none: remove it"
                )
            )
        raise _Wrong(
            tr(
                "the output differs from Figure 1's wiring of your own blocks (max |difference| "
                "{diff:.3g}): inc, then the Downs, then the Ups each with the skip of its level "
                "(the last one saved first), then outc.",
                diff=_diff(run.out, expected),
            )
            + _expected(steps)
        )
    if not run.meta:
        run.gradients(own)
    _unet_shapes(run, roles)
    return tr(
        "{label}: {input} -> {output}", label=run.label, input=case.inputs[0], output=case.output
    )


def _unet_shapes(run: _Run, roles: dict) -> None:
    """Each block's output shape (Figure 1's), and the paper's network's parameter count."""
    kw, label, steps = run.kw, run.label, run.steps
    if _shape(run.out) != run.case.output:  # the blocks below fail their own checks, not this one
        note = {"label": label, "got": _shape(run.out), "want": run.case.output}
        print(tr("  note: {label}: your blocks give {got} instead of {want}", **note))
        return
    got: dict[str, tuple] = {}
    with run.context(), torch.no_grad():
        _canonical(roles, run.inputs[0].clone(), kw["depth"], got)
    for name, shape in steps[1:]:
        role = name.split(" ")[0]
        if got.get(role, shape) != shape:
            where = {"role": role, "got": got[role], "want": shape}
            raise _Wrong(
                tr("block {role} gives {got}, expected {want}.", **where) + _expected(steps)
            )
    if (kw["in_channels"], kw["num_classes"], kw["base_channels"], kw["depth"]) == (1, 2, 64, 4):
        assert _params(run.module) == 31_030_658, tr(
            "{label} has {count:,} parameters; the paper's network has 31,030,658. Check the "
            "channel widths (64, 128, 256, 512, 1024), that each Up halves them, and the final "
            "1x1 convolution.",
            label=label,
            count=_params(run.module),
        )


@_packages_noted
def check_unet(UNet: type) -> None:  # noqa: N803
    """The UNet cases: small networks against Figure 1's wiring of their own blocks, the paper's
    network (31,030,658 parameters, 572 -> 388) on the meta device."""
    _check_built_on(UNet, "unet", _unet_case)


def _check_built_on(cls: type, block: str, check: Callable) -> None:
    """:func:`_check_modules`; a failure names the blocks ``cls`` is built on that fail their
    own checks: the grade judges ``block`` with correct ones in their place (a wrong Up failed
    the UNet's check, and the UNet still got its points)."""
    try:
        _check_modules(cls, block, check)
    except AssertionError as exc:  # (below: what the grader puts in their place)
        wrong = failing_blocks(_namespace(cls), cases.MODULES[block].probes)
        if not wrong:
            raise
        letter = _BLOCKS[cases.MODULES[block].name][0]
        note = tr(
            "\n  Built on blocks that fail their own checks: {names}. Fix those first: the grade "
            "judges ({block}) with correct blocks in their place, so this failure may be theirs "
            "alone.",
            names=", ".join(wrong),
            block=letter,
        )
        raise AssertionError(str(exc) + note) from None


# each block's name in the notebook: its letter, its check
_BLOCKS = {
    "DoubleConv": ("a", check_double_conv),
    "Down": ("b", check_down),
    "Up": ("c", check_up),
    "center_crop": ("c", check_center_crop),
    "UNet": ("d", check_unet),
}


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


def _loss_steps(logits_shape: tuple) -> Steps:
    n, c, h, w = logits_shape
    return [
        ("logits", (n, c, h, w)),
        ("target", (n, h, w)),
        ("torch.logsumexp(logits, dim=1, keepdim=True)", (n, 1, h, w)),
        ("log_s = logits - logsumexp", (n, c, h, w)),
        ("F.one_hot(target, C)", (n, h, w, c)),
        ("  .movedim(-1, 1)", (n, c, h, w)),
        (tr("per pixel: -(t * log_s).sum(dim=1)"), (n, h, w)),
        (tr("mean over the pixels"), tr("() a scalar tensor")),
    ]


def _loss_error_hint(ops: _Ops, shape: tuple) -> str:
    """Name the usual wiring mistake from the shapes of the call that raised."""
    if not ops.calls:
        return ""
    n, c, h, w = shape
    _, shapes, _ = ops.calls[-1]
    if (n, h, w, c) in shapes and c != w:
        return tr(
            "F.one_hot(target, C) has the classes last, (N, H, W, C): move them to dim 1 with "
            ".movedim(-1, 1) before multiplying with the (N, C, H, W) log-probabilities"
        )
    if (n, c, w, h) in shapes and shape in shapes and h != w:
        return tr(
            "the one-hot's H and W are swapped, (N, C, W, H): .permute(0, 3, 2, 1) reverses "
            "them; use .permute(0, 3, 1, 2) or .movedim(-1, 1)"
        )
    if (n, h, w) in shapes and shape in shapes:
        return tr(
            "torch.logsumexp(logits, dim=1) drops the class dimension, (N, H, W): keep it with "
            "keepdim=True so it broadcasts against the (N, C, H, W) logits"
        )
    return ""


def _loss_mistakes(logits, target, weight) -> dict[str, Callable]:
    """The usual mistakes, each with the value it gives."""
    onehot = F.one_hot(target, logits.shape[1]).movedim(-1, 1).to(logits.dtype)
    log_s = torch.log_softmax(logits, 1)
    per_pixel = -(onehot * log_s).sum(1)

    def ce(log_probs: torch.Tensor) -> torch.Tensor:
        return -(onehot * log_probs).sum(1).mean()

    pw = None if weight is None else weight.to(logits.dtype)[target]
    usual = {
        tr("the sum over the pixels instead of the mean"): lambda: per_pixel.sum(),
        tr(
            "the sum divided by the batch size (logits.shape[0]), as for image classification: "
            "take the mean over all the N * H * W pixels"
        ): lambda: per_pixel.sum() / logits.shape[0],
        tr("the mean over the classes too (sum over the classes, mean over the pixels)"): lambda: (
            -(onehot * log_s).mean()
        ),
        tr("a missing minus sign"): lambda: -per_pixel.mean(),
        tr("no softmax: the log of the raw logits"): lambda: ce(torch.log(logits.clamp(min=1e-12))),
        tr("the softmax taken over the wrong dimension (use dim=1, the classes)"): lambda: ce(
            torch.log_softmax(logits, -1)
        ),
        tr("the log missing (-sum t * s)"): lambda: ce(logits.softmax(1)),
        tr(
            "the softmax applied twice (a log-softmax of the softmax): apply it once, to the logits"
        ): lambda: ce(torch.log_softmax(logits.softmax(1), 1)),
        tr("the sum over dim=0 (the batch) instead of dim=1 (the classes)"): lambda: (
            -(onehot * log_s).sum(0).mean()
        ),
        tr(
            "the one-hot's H and W swapped (.permute(0, 3, 2, 1)): use .permute(0, 3, 1, 2) or "
            ".movedim(-1, 1)"
        ): lambda: ce(log_s.transpose(-1, -2)),
        tr(
            "a clamped log, log(softmax(...).clamp(...)): wrong at large logits, where the true "
            "probability is far below the clamp; use logits - torch.logsumexp(logits, dim=1, "
            "keepdim=True)"
        ): lambda: ce(torch.log(logits.softmax(1).clamp(min=1e-7))),
        tr(
            "F.one_hot(target) without num_classes: when the target lacks the last classes the "
            "one-hot has fewer channels than the logits; pass num_classes=logits.shape[1]"
        ): lambda: -(F.one_hot(target).movedim(-1, 1).to(logits.dtype) * log_s).sum(1).mean(),
    }
    weighted = {} if weight is None else _weighted_mistakes(per_pixel, pw, weight)
    return weighted | usual | _epsilon_mistakes(logits, target, weight)


def _weighted_mistakes(per_pixel, pw, weight) -> dict[str, Callable]:
    """The usual mistakes with class weights (``pw``: each pixel's), each with the value it gives."""
    return {
        tr(
            "the class weights are ignored: each pixel's term is multiplied by the weight of its "
            "true class"
        ): lambda: per_pixel.mean(),
        tr(
            "the weighted sum is divided by the number of pixels: divide by the sum of the "
            "pixels' weights, sum(w[target])"
        ): lambda: (per_pixel * pw).sum() / per_pixel.numel(),
        tr("the weights are applied but not divided by their sum"): lambda: (per_pixel * pw).sum(),
        tr(
            "the weighted sum is divided by the sum of the class weights, weight.sum(): divide "
            "by the sum of the pixels' weights, sum(w[target])"
        ): lambda: (per_pixel * pw).sum() / weight.sum(),
    }


def _epsilon_mistakes(logits, target, weight) -> dict[str, Callable]:
    """log(softmax + eps) for the usual epsilons, each with the value it gives."""
    weight = None if weight is None else weight.to(logits.dtype)

    def loss(eps: float) -> torch.Tensor:
        return F.nll_loss(torch.log(logits.softmax(1) + eps), target, weight=weight)

    return {
        tr(
            "log(softmax(...) + {eps:g}): the epsilon changes the loss where a probability is "
            "small; compute log(softmax) as logits - torch.logsumexp(logits, dim=1, keepdim=True)",
            eps=eps,
        ): functools.partial(loss, eps)
        for eps in (1e-12, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3)
    }


def _loss_value_hint(label, value, logits, target, weight) -> str:
    """Name the usual mistake whose result equals ``value``."""
    for mistake, candidate in _loss_mistakes(logits, target, weight).items():
        try:
            with torch.no_grad():
                cand = float(candidate())
        except RuntimeError:  # a mistake this case's shapes cannot make
            continue
        if math.isfinite(cand) and abs(cand - value) <= 1e-6 * max(1.0, abs(value)):
            return tr(" Your value matches this mistake: {mistake}.", mistake=mistake)
    if "extreme" in label:
        return tr(
            " Right on ordinary logits, wrong at large logits: a clamped or rounded log? Compute "
            "log(softmax) as logits - torch.logsumexp(logits, dim=1, keepdim=True)."
        )
    return ""


TORCH_DISTRIBUTIONS = {"distributions", "Categorical", "OneHotCategorical"}
# the modules the loss may not use (assignment.toml's dotted `forbidden` of (e)), read as the
# Dice's libraries are: through globals, helpers, defaults and closures
LOSS_LIBRARIES = ("torch.distributions", "monai.losses", "torchvision.models.detection")
LOSS_LIBRARIES += ("torch.nn.modules.linear_cross_entropy", "torch.ops.torch_nn")
LOSS_LIBRARIES += ("torch.testing._internal.common_nn",)  # the test suite's reference losses
LOSS_LIBRARIES += ("monai.apps.pathology", "torchvision.ops.focal_loss")  # (red teams 77, 80)


def _code_names(fn: Callable) -> set[str]:
    """The global and attribute names ``fn``'s code reads (its nested functions' too)."""
    code = getattr(getattr(fn, "func", fn), "__code__", None)
    names, todo = set(), [code] if code is not None else []
    while todo:
        code = todo.pop()
        names.update(code.co_names)
        todo += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return names


def _instructions(code: types.CodeType | None) -> Iterator[dis.Instruction]:
    """The bytecode of ``code`` and of the functions nested in it."""
    todo = [code] if code is not None else []
    while todo:
        code = todo.pop()
        yield from dis.get_instructions(code)
        todo += [c for c in code.co_consts if isinstance(c, types.CodeType)]


def _globals_and_imports(fn: Callable) -> tuple[set[str], set[str]]:
    """The global names ``fn``'s code loads (not an attribute's: ``loss.data`` is no global
    ``data``) and the modules it imports (its nested functions' too)."""
    code = getattr(getattr(fn, "func", fn), "__code__", None)
    loads, imported = set(), set()
    for ins in _instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            loads.add(ins.argval)
        elif ins.opname == "IMPORT_NAME":
            imported.add(ins.argval)
    return loads, imported


_DOTTED = re.compile(r"[A-Za-z_][\w.]*")


def _own_functions(f: types.FunctionType) -> set[str]:
    """The global names ``f`` reads (never as an attribute) that hold a function or class of the
    notebook's own: a helper ``nll_loss`` of the student's is not torch's (its code is read)."""
    loads, attributes = set(), set()
    for ins in _instructions(f.__code__):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            loads.add(ins.argval)
        elif "ATTR" in ins.opname or ins.opname == "LOAD_METHOD":
            attributes.add(ins.argval)
    return {name for name in loads - attributes if _own_code(f.__globals__.get(name), f)}


def _own_code(obj: object, f: types.FunctionType) -> list[types.FunctionType]:
    """The functions of ``obj`` where it is a function or class of ``f``'s notebook: itself, or
    its class's methods (a ``CrossEntropyLoss`` of the student's, its code read)."""
    if getattr(obj, "__module__", None) != f.__module__:
        return []
    if isinstance(obj, types.FunctionType):
        return [obj]
    if isinstance(obj, type):
        members = [getattr(m, "__func__", m) for m in vars(obj).values()]
        return [m for m in members if isinstance(m, types.FunctionType)]
    return []


def _texts(code: types.CodeType) -> set[str]:
    """The last dotted part of each text constant of ``code`` and its nested functions (their
    docstrings left out): ``"cross_entropy"``, ``"torch.nn.functional.nll_loss"``."""
    texts, todo = set(), [code]
    while todo:
        code = todo.pop()
        consts = code.co_consts[1:] if _has_docstring(code) else code.co_consts
        texts |= {
            c.strip().rsplit(".", 1)[-1]
            for c in consts
            if isinstance(c, str) and _DOTTED.fullmatch(c.strip())  # not a sentence naming one
        }
        todo += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return texts


def _has_docstring(code: types.CodeType) -> bool:
    """Whether ``code.co_consts[0]`` is a docstring: a function's first text, never a lambda's or
    a comprehension's (``[print("nll_loss") for ...]``); Python 3.14 says so in a flag."""
    flag = getattr(inspect, "CO_HAS_DOCSTRING", None)
    if flag is not None:
        return bool(code.co_flags & flag)
    first = code.co_consts[:1]
    return not code.co_name.startswith("<") and bool(first) and isinstance(first[0], str)


def _names_read(fn: Callable) -> tuple[set[str], set[str]]:
    """``(names, texts)``: :func:`_code_names` and :func:`_texts` of ``fn`` and of the
    notebook's functions it reads (its helpers)."""
    seen, todo, names, texts = set(), [getattr(fn, "func", fn)], set(), set()
    own_attributes = set()  # what the student's classes define: `self.cross_entropy` is theirs
    while todo:
        f = todo.pop()
        if id(f) in seen or not isinstance(f, types.FunctionType):
            continue
        seen.add(id(f))
        read = _code_names(f)
        names |= read - _own_functions(f)
        texts |= _texts(f.__code__)
        for n in read:
            methods = _own_code(obj := f.__globals__.get(n), f)
            todo += methods
            if isinstance(obj, type):
                own_attributes |= set(vars(obj)) | {
                    i.argval
                    for m in methods
                    for i in dis.get_instructions(m)
                    if i.opname == "STORE_ATTR"
                }
    return names - own_attributes, texts


def _no_loss_module(loss_fn: Callable) -> None:
    """A loss that uses one of :data:`LOSS_LIBRARIES` (torch's distributions, MONAI's losses),
    by any name, in a helper, a default or a closure, is wrong: the grader reads them too."""
    library = _library_used(loss_fn, LOSS_LIBRARIES)
    if library == "monai.losses":
        raise _Wrong(
            tr(
                "the loss uses MONAI's losses (monai.losses), which compute the cross-entropy for "
                "you: write Eq. (1) yourself with tensor operations (log-sum-exp, one-hot, sum "
                "over the classes, mean over the pixels); the grader gives such a loss no points"
            )
        )
    if library and library != "torch.distributions":  # torchvision's, the test suite's...
        raise _Wrong(
            tr(
                "the loss uses {library}, which computes the cross-entropy for you: write Eq. (1) "
                "yourself with tensor operations (log-sum-exp, one-hot, sum over the classes, "
                "mean over the pixels); the grader gives such a loss no points",
                library=library,
            )
        )
    if library or _code_names(loss_fn) & TORCH_DISTRIBUTIONS:
        raise _Wrong(
            tr(
                "the loss uses torch's distributions (Categorical(...).log_prob), which computes "
                "the log-softmax of the true class for you: write Eq. (1) yourself with tensor "
                "operations (log-sum-exp, one-hot, sum over the classes, mean over the pixels); "
                "the grader gives such a loss no points"
            )
        )


def _no_loss_names(loss_fn: Callable) -> None:
    """A loss (or a helper of the notebook's it calls) that reads one of :data:`LOSS_NAMES` is
    wrong: the grader reads the same names in its text."""
    names, texts = _names_read(loss_fn)
    if named := names & set(LOSS_NAMES):
        raise _Wrong(
            tr(
                "the loss reads the name {name}, one of torch's losses: the grader reads the "
                "answer's text and gives such a loss no points, even where it is a function of "
                "yours (rename it)",
                name=min(named),
            )
        )
    if quoted := texts & set(LOSS_NAMES):
        raise _Wrong(
            tr(
                "the loss holds the text {text!r}, the name of one of torch's losses: the grader "
                "reads the answer's text and gives such a loss no points (leave the name out)",
                text=min(quoted),
            )
        )


def _call_loss(loss_fn: Callable, label: str, logits, target, weight) -> torch.Tensor:
    """The student's loss on one case, checked to be a scalar tensor written out, not torch's
    cross-entropy (``label``: as shown)."""
    ops = _Ops()
    try:
        with ops:  # called as the training cell does: partial(loss, weight=CLASS_WEIGHTS)
            value = loss_fn(logits, target, **({} if weight is None else {"weight": weight}))
    except Exception as exc:  # noqa: BLE001
        called = exc.__traceback__ is not None and exc.__traceback__.tb_next is None
        if isinstance(exc, TypeError) and called and "keyword argument 'weight'" in str(exc):
            raise _Wrong(
                tr(
                    "the loss takes no weight= argument, and the training cell calls it as "
                    "partial(categorical_cross_entropy, weight=CLASS_WEIGHTS): keep the "
                    "signature (logits, target, weight=None)"
                )
            ) from None
        hint = _loss_error_hint(ops, tuple(logits.shape))
        if cases.MIXED_DTYPES.search(str(exc)):
            hint = tr(
                "float32 and float64 mixed: make the one-hot (or any tensor you build) in the "
                "logits' dtype, F.one_hot(target, C).to(logits.dtype), not .float(); the check and "
                "the grader pass float64 logits too"
            )
        what = tr("{label}: the loss", label=label)
        raise _explain(exc, what, _loss_steps(tuple(logits.shape)), hint) from None
    _no_loss_module(loss_fn)
    _no_course_code(loss_fn, "categorical_cross_entropy")
    used = [name for name, _, _ in ops.calls if name in TORCH_LOSSES]
    if used:
        raise _Wrong(
            tr(
                "the loss calls torch's {name}, which computes the cross-entropy for you: write "
                "Eq. (1) yourself with tensor operations (log-sum-exp, one-hot, sum over the "
                "classes, mean over the pixels); a loss computed by torch's cross-entropy gets no "
                "points",
                name=used[0],
            )
        )
    _no_loss_names(loss_fn)
    if not isinstance(value, torch.Tensor):
        raise _Wrong(
            tr(
                "the loss returned {kind}, not a scalar tensor: no .item() or float() (the "
                "gradient must flow back through it)",
                kind=type(value).__name__,
            )
        )
    if value.numel() != 1:
        raise _Wrong(
            tr(
                "the loss has shape {shape}, expected a scalar: average over the pixels (and sum "
                "over the classes)",
                shape=tuple(value.shape),
            )
        )
    return value


def _loss_case(loss_fn: Callable, label: str, logits, target, weight) -> None:
    """One loss case (``label``: the case's, in English): a scalar tensor, the value and the
    gradient of ``F.cross_entropy``."""
    tol = 1e-5 if logits.dtype == torch.float64 else 1e-4
    value = _call_loss(loss_fn, translated(label), logits, target, weight)
    expected = F.cross_entropy(logits, target, weight=weight)
    got, want = float(value.detach()), float(expected.detach())
    if math.isnan(got) and "extreme" in label:
        raise _Wrong(
            tr(
                "the loss is nan at large logits: exp(logits) overflows to inf there (inf / inf "
                "is nan), or softmax underflows to 0 and the one-hot's zeros meet log(0) = -inf "
                "(0 * -inf is nan). Use logits - torch.logsumexp(logits, dim=1, keepdim=True): no "
                "exp of a large number, no log of 0."
            )
        )
    if not math.isfinite(got):
        raise _Wrong(
            tr(
                "the loss is {got}: log(softmax(...)) underflows to log(0) at large logits. Use "
                "logits - torch.logsumexp(logits, dim=1, keepdim=True).",
                got=got,
            )
        )
    if not _near(got, want, tol):
        raise _Wrong(
            tr(
                "loss {got:.6g}, expected {want:.6g} (torch's cross-entropy{weight}: the mean "
                "over the pixels of -sum_i t_i log s_i, s = softmax over dim=1).",
                got=got,
                want=want,
                weight=tr(" with weight=") if weight is not None else "",
            )
            + _loss_value_hint(label, got, logits.detach(), target, weight)
        )
    if not value.requires_grad:
        raise _Wrong(
            tr(
                "the value is right but no gradient reaches the logits: the loss was cut from the "
                "graph (.item(), .detach(), .numpy() or torch.tensor(...)); build it from torch "
                "operations only"
            )
        )
    value.backward()
    (grad,) = torch.autograd.grad(expected, logits)
    if logits.grad is None or not _diff(logits.grad, grad) <= tol:
        raise _Wrong(
            tr(
                "the value is right but its gradient differs from torch's cross-entropy: no "
                ".detach(), no in-place change of the logits"
            )
        )


@_packages_noted
def check_loss(loss_fn: Callable) -> None:
    """The loss cases: value and gradient equal to ``F.cross_entropy`` (with class weights, one
    class, C = 1, extreme logits, float32)."""
    _not_scripted(loss_fn, "categorical_cross_entropy")
    for label, logits, target, weight in cases.loss_inputs(cases.visible_rng()):
        weight = None if weight is None else torch.from_numpy(weight)
        logits = torch.from_numpy(logits).clone().requires_grad_()
        with _labelled(translated(label)):
            _loss_case(loss_fn, label, logits, torch.from_numpy(target), weight)
    _ok(
        tr(
            "equals torch's cross-entropy (value and gradient): random logits, class weights, "
            "one class, C = 1, extreme logits (+-1e4), float32"
        )
    )


def _train_steps(case: cases.TrainStepCase) -> Steps:
    n, c, h, w = case.images
    scalar = tr("() a scalar tensor; labels {shape}", shape=(n, h, w))
    return [
        ("model.train()", ""),
        ("optimizer.zero_grad()", tr("clears the previous gradients")),
        ("logits = model(images)", (n, case.classes, h, w)),
        ("loss = loss_fn(logits, labels)", scalar),
        ("loss.backward()", tr("fills p.grad")),
        ("optimizer.step()", tr("updates the weights")),
        ("return loss.item()", tr("a Python float, the loss before the update")),
    ]


def _small_net(kind: str, state: dict) -> nn.Module:
    """The case's small network with the case's start weights, in the default dtype."""
    model = cases.small_net(kind)
    model.load_state_dict(state)
    return model


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


def _train_reference(state, images, labels, loss_fn, case) -> tuple[list, list, list]:
    """The losses (before each update) and the final weights of ``case.steps`` Adam steps, and
    the fresh gradients of each step (in the default dtype)."""
    model = _small_net(case.net, state).train()
    opt = torch.optim.Adam(model.parameters(), lr=case.lr)
    params = list(model.parameters())
    losses, grads = [], []
    for _ in range(case.steps + 1):
        loss = loss_fn(model(images.to(torch.get_default_dtype())), labels)
        losses.append(float(loss.detach()))
        grads.append(torch.autograd.grad(loss, params))
        for p, g in zip(params, grads[-1], strict=True):
            p.grad = g
        if len(grads) <= case.steps:
            opt.step()
    # the weights after case.steps updates were those before the last (extra) loss
    return losses, grads, [p.detach().clone() for p in params]


def _run_train_step(train_step, criterion, case, state, images, labels) -> tuple:
    """``(dtype, (model, watch, returned values))`` of ``case.steps`` calls of the student's
    step, on a model handed over in evaluation mode; an explained AssertionError if it raises.
    The loss is called as the notebook's is (``categorical_cross_entropy(logits, target,
    weight=None)``: ``target=`` by name too; honest round 21)."""
    swapped: set[torch.dtype] = set()
    calls = [0]

    def attempt(dtype: torch.dtype) -> tuple:
        def loss_fn(logits, target, *rest, **kw):
            calls[0] += 1
            if isinstance(logits, torch.Tensor) and not logits.is_floating_point():
                swapped.add(dtype)
            return criterion(logits, target, *rest, **kw)

        loss_fn.__qualname__ = "loss_fn"  # (as an error names it: not the check's insides)

        model = _small_net(case.net, state).eval()  # train_step must switch to training mode
        opt = torch.optim.Adam(model.parameters(), lr=case.lr)
        watch = _Watch(model, opt)
        calls[0] = 0
        got = [train_step(model, images.to(dtype), labels, opt, loss_fn) for _ in range(case.steps)]
        return model, watch, got

    try:
        ran = _first_dtype(attempt)
    except Exception as exc:  # noqa: BLE001
        hint = ""
        if DTYPES[0] in swapped:
            hint = tr(
                "loss_fn(labels, logits): the arguments are swapped; call loss_fn(logits, labels)"
            )
        elif "backward through the graph a second time" in str(exc):
            hint = tr(
                "loss.backward() is called twice on the same loss: call it once per step "
                "(retain_graph=True is not the fix: the second call would add the gradients "
                "again)"
            )
        elif "does not require grad" in str(exc):
            hint = tr(
                "the loss has no gradient: the forward pass ran under torch.no_grad() (or the "
                "loss was detached); compute loss_fn(model(images), labels) with gradients on"
            )
        elif "has no attribute 'backward'" in str(exc):
            hint = tr(
                "the loss was turned into a number (.item()) before backward(): keep the tensor "
                "for backward() and return loss.item() at the end"
            )
        raise _explain(exc, "train_step", _train_steps(case), hint) from None
    if not calls[0]:  # (honest round 25: a loss of its own, and the grade's loss_fn is another)
        raise AssertionError(
            tr(
                "train_step never called the loss_fn it was given (a loss of its own instead?): "
                "compute the loss as loss_fn(model(images), labels), the loss the caller chose (with "
                "its class weights); the grader passes another loss"
            )
        )
    return ran


def _step_order(watch: _Watch, fresh: list) -> str:
    """What the optimizer saw that says where zero_grad, backward or step is missing."""
    if not watch.steps:
        return tr("optimizer.step() is never called: the weights did not change")
    if watch.backwards == 0:
        return tr("loss.backward() is never called: there is no gradient for the optimizer")
    if all(g is None or not bool(g.abs().sum()) for g in watch.steps[0]):
        return tr(
            "optimizer.step() ran without gradients: zero_grad() is called between backward() "
            "and step(); call it before backward() (or after step())"
        )

    def seen_fresh(step: int) -> bool:
        return all(
            g is not None and _diff(g, f) <= 1e-3 * max(1.0, float(f.abs().max()))
            for g, f in zip(watch.steps[step], fresh[step], strict=False)
        )

    if not seen_fresh(0):  # the first step: nothing to accumulate yet
        return tr(
            "at the first step the optimizer saw other gradients than loss.backward() gives "
            "(clipped, rescaled or changed?): optimizer.step() on this batch's gradients as "
            "they are"
        )
    if len(watch.steps) >= 2 and not seen_fresh(1):
        return tr(
            "at the second step the optimizer saw the gradients of both steps added: gradients "
            "accumulate in .grad; call optimizer.zero_grad() at each step"
        )
    return ""


def _train_step_mistake(model, watch, got, losses, grads, diff, tol, case) -> str:
    """What is wrong with a step whose losses or weights differ from the reference's."""
    if not model.training:
        return tr("the model was left in evaluation mode: train_step must call model.train()")
    wrong = [i for i, (g, w) in enumerate(zip(got, losses, strict=False)) if not _near(g, w, tol)]
    shifted = all(_near(g, w, tol) for g, w in zip(got, losses[1:], strict=False))
    if wrong and diff <= tol and shifted:
        return tr(
            "the weights are right but train_step returns the loss after the update ({got:.6f} "
            "instead of {want:.6f} at step 1): return the loss computed before optimizer.step()",
            got=got[0],
            want=losses[0],
        )
    why = _step_order(watch, [list(g) for g in grads])
    if why:
        return why
    if wrong:
        i = wrong[0]
        return tr(
            "step {step}: returned {got:.6f}, expected the loss {want:.6f} (the loss of the "
            "batch before the update, loss_fn(model(images), labels))",
            step=i + 1,
            got=got[i],
            want=losses[i],
        )
    return tr(
        "after {steps} Adam steps the weights differ from forward, loss, backward, step with "
        "fresh gradients by {diff:.3g}: one optimizer.step() per call, on the gradients of this "
        "batch only",
        steps=case.steps,
        diff=diff,
    )


def _returned(value) -> str:
    """A value a block returned, short: a one-element tensor as ``tensor(1.4357)`` (its repr,
    cut at 40 characters, ended in the middle of ``grad_fn=<...>``)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return f"tensor({value.detach().item():.6g})"
    return str(value)[:40]


@_packages_noted
def check_train_step(train_step: Callable, loss_fn: Callable) -> None:
    """The train_step case: the returned losses (before each update) and the weights after three
    Adam steps equal those of forward, loss, backward, step with fresh gradients."""
    _no_course_code(train_step, "train_step")
    _not_scripted(train_step, "train_step")
    if library := _library_used(train_step, STEP_LIBRARIES):
        raise AssertionError(
            tr(
                "train_step uses {library}, which runs the training step for you: write "
                "zero_grad, forward, loss, backward and step yourself; the grader gives such a "
                "train_step no points",
                library=library,
            )
        )
    case = cases.TRAIN_STEP
    state, images, labels = cases.train_step_inputs(cases.visible_rng(), case)
    with _on_the_cpu(train_step):
        dtype, (model, watch, got) = _run_train_step(
            train_step, loss_fn, case, state, images, labels
        )
    for i, v in enumerate(got):
        if type(v) not in (int, float, np.float64) or not math.isfinite(v):  # (as the grader)
            raise AssertionError(
                tr(
                    "step {step}: train_step returned {kind} {value}, not the loss as a finite "
                    "Python float: return loss.item()",
                    step=i + 1,
                    kind=type(v).__name__,
                    value=_returned(v),
                )
            )
    _ok(tr("returns the loss as a Python float"))
    with _default_dtype(dtype):
        losses, grads, weights = _train_reference(state, images, labels, loss_fn, case)
    tol = max(TOLERANCE[dtype], STEP_TOLERANCE)
    diff = max(_diff(a, b) for a, b in zip(model.parameters(), weights, strict=True))
    if not (diff <= tol and all(_near(g, w, tol) for g, w in zip(got, losses, strict=False))):
        raise AssertionError(_train_step_mistake(model, watch, got, losses, grads, diff, tol, case))
    _ok(
        tr(
            "{steps} Adam steps: the losses before each update and the weights are right",
            steps=case.steps,
        )
    )


# ---- (g) prediction and Dice -----------------------------------------------------------------


def _dice_hint(value: float, a: np.ndarray, b: np.ndarray, want: float) -> str:
    inter, union = np.logical_and(a, b).sum(), np.logical_or(a, b).sum()
    sizes = a.sum() + b.sum()
    if not math.isfinite(value) and sizes == 0:
        return tr(
            " Two empty masks (no tumour, none predicted) agree perfectly: return 1.0 when "
            "|P| + |T| = 0 (0/0 gives NaN)."
        )
    if sizes == 0:
        return tr(" Two empty masks agree perfectly: Dice 1.0 by the BraTS convention.")
    if value == 1 and not (a.any() and b.any()):
        return tr(
            " One mask is empty and the other is not: no overlap, Dice 0 (1.0 only when both "
            "are empty: a missed tumour is not a perfect score)."
        )
    slices = [exact_dice(x, y) for x, y in zip(a, b, strict=True)] if a.ndim > 1 else []
    if slices and abs(value - np.mean(slices)) < 1e-9:
        return tr(
            " That is the mean of the Dice of each slice along the first axis; the Dice of the "
            "whole masks counts all their pixels at once."
        )
    if union and abs(value - inter / union) < 1e-9:
        return tr(
            " That is the IoU (Jaccard index) |P & T| / |P | T|; the Dice is "
            "2 |P & T| / (|P| + |T|)."
        )
    inter, sizes = int(inter), int(sizes)
    if value > 1 and abs(value - 2 * int((a == b).sum()) / sizes) < 1e-9:
        return tr(
            " Above 1: (pred == truth) also counts the pixels where both masks are empty; the "
            "intersection is pred & truth (np.logical_and)."
        )
    if value == 2 * inter // sizes != want:
        return tr(" An integer division (//) or int(...)? Divide with /.")
    smooth = (value * sizes - 2 * inter) / (1 - value) if value != 1 else 0.0
    if smooth > 0 and abs(smooth - 10 ** round(math.log10(smooth))) <= 1e-6 * smooth:
        return tr(
            " That is (2 |P & T| + {smooth:g}) / (|P| + |T| + {smooth:g}): a smoothing term "
            "(eps) changes the Dice; compute it exactly and handle two empty masks with an if.",
            smooth=10 ** round(math.log10(smooth)),
        )
    if value != want and float(np.float16(value)) == value and abs(value - want) < 1e-3:
        return tr(
            " That is the Dice rounded to float16 (half precision, 3 digits): compute it in "
            "float32 or float64."
        )
    rounded = [k for k in range(1, 10) if value != want and abs(value - round(want, k)) < 1e-12]
    if rounded:  # (honest round 36: round(dice, 4) read as a smoothing term)
        return tr(
            " That is the Dice rounded to {digits} decimals: return it as computed (round it "
            "only to print it).",
            digits=rounded[0],
        )
    if abs(value - want) < 1e-4:
        return tr(
            " Close but not exact: a smoothing term (eps) changes the Dice; compute it from the "
            "counts alone and handle two empty masks with an if."
        )
    return ""


# the libraries' training loops that run the whole step for you: the train_step of (f) may not
# use them (the grader reads the same names: assignment.toml)
STEP_LIBRARIES = (
    "monai.optimizers",
    "monai.engines",
    "ignite.engine",
    "pytorch_lightning",
    "lightning",
    "fastai",
    "accelerate",
    "torch.testing._internal",
)

# what computes the Dice score for you (scikit-learn's f1_score, SciPy's dice dissimilarity, whole
# libraries of segmentation metrics): the dice_score of (g) may not use it (the grader reads the
# same names from the answer's text: assignment.toml)
DICE_LIBRARIES = (
    "sklearn.metrics.f1_score",
    "sklearn.metrics.fbeta_score",
    "sklearn.metrics.jaccard_score",
    "sklearn.metrics.precision_recall_fscore_support",
    "scipy.spatial.distance.dice",
    "scipy.spatial.distance.jaccard",
    "torchmetrics",
    "monai.metrics",
    "monai.losses",
    "medpy.metric",
    # what computes them by the metric's name (cdist(p, t, "dice"), pairwise_distances(metric=
    # "dice"), SciPy's table of metrics and its compiled ones; an F1 in scikit-learn's report)
    "scipy.spatial.distance.cdist",
    "scipy.spatial.distance.pdist",
    "scipy.spatial.distance._METRICS",
    "scipy.spatial.distance._METRICS_NAMES",
    "scipy.spatial.distance._METRIC_ALIAS",
    "scipy.spatial.distance._METRIC_INFOS",
    "scipy.spatial.distance._TEST_METRICS",
    "scipy.spatial._distance_pybind",
    "scipy.spatial._distance_wrap",
    "sklearn.metrics.pairwise",
    "sklearn.metrics.pairwise_distances",
    "sklearn.metrics.DistanceMetric",
    "sklearn.metrics.classification_report",
    "monai.handlers",  # MONAI's metrics again (monai.handlers.mean_dice.DiceMetric)
    # hierarchical clustering by the Dice distance (it calls pdist)
    "scipy.cluster.hierarchy.linkage",
    "scipy.cluster.hierarchy.fclusterdata",
    # SciPy's boolean dissimilarities that are the Dice's by a formula: Sokal-Sneath S gives
    # (4 - 4S) / (4 - 3S), Kulczynski's K gives 2K / (2K + 1); Bray-Curtis is 1 - Dice
    "scipy.spatial.distance.sokalsneath",
    "scipy.spatial.distance.kulczynski1",
    "scipy.spatial.distance.braycurtis",  # one minus the Dice on boolean masks
    # the others, over the union of the masks Jaccard's by a formula (Russell-Rao's); networkx's
    # link predictions (jaccard_coefficient of a mask node and a truth node)
    "scipy.spatial.distance.russellrao",
    "scipy.spatial.distance.rogerstanimoto",
    "scipy.spatial.distance.sokalmichener",
    "scipy.spatial.distance.yule",
    "networkx",
    # any of SciPy's distances given weights: Hamming's or Russell-Rao's weighted by the masks is
    # one minus the Dice (called on the two masks, a count of their mismatches is fair)
    "scipy.spatial.distance(w)",
    # the libraries' own tests: their reference metrics under other names (SciPy's wdice)
    "scipy.spatial.tests",
    "sklearn.metrics.tests",
    # sequence similarities that are the Dice of two sorted lists of indices (red team 50:
    # difflib's ratio 2M / T, get_close_matches's cutoff; rapidfuzz's Indel; textdistance's and
    # NLTK's Sorensen-Dice)
    "difflib",
    # (rapidfuzz's compiled modules too: fuzz.ratio runs as fuzz_cpp_avx2's, red team 51)
    "rapidfuzz.distance",
    "rapidfuzz.fuzz",
    "rapidfuzz.fuzz_cpp",
    "rapidfuzz.fuzz_cpp_avx2",
    "rapidfuzz.fuzz_cpp_sse2",
    "rapidfuzz.fuzz_py",
    "rapidfuzz.process",
    "rapidfuzz.process_cpp",
    "rapidfuzz.process_cpp_impl",
    "rapidfuzz.process_py",
    "textdistance.algorithms",
    "textdistance.sorensen",
    "textdistance.sorensen_dice",
    "nltk.metrics",
    "Levenshtein.ratio",
    "torchvision.ops",
    "monai.data.box_utils",
    "monai.apps.detection",
    # MONAI's pathology losses (HoVerNetLoss's Dice term); SciPy's radial basis functions given
    # a distance by its name (norm="dice")
    "monai.apps.pathology",
    "scipy.interpolate.Rbf",
    "scipy.interpolate._rbf",
)
WEIGHTED = "(w)"  # (above: a module whose functions may not be given weights ``w``)


_MISSING = object()


def _is_named(obj: object, name: str) -> bool:
    """Whether ``obj`` is what the dotted ``name`` names: a module (or a function or class
    defined in it), one of its library whose path has the name's last part (as the grader reads
    ``monai.apps.pathology.losses.HoVerNetLoss`` as ``monai.losses``), or the function a module
    holds under that name."""
    module = isinstance(obj, types.ModuleType)
    where = obj.__name__ if module else getattr(obj, "__module__", None)
    if isinstance(where, str) and (where == name or where.startswith(name + ".")):
        return True
    parent, _, last = name.rpartition(".")
    parts = where.split(".") if isinstance(where, str) else []
    if parent and parts[:1] == parent.split(".")[:1] and last in parts[1:]:
        return True
    holder = sys.modules.get(parent)  # (a name it lacks is not the None a default holds)
    return holder is not None and getattr(holder, last, _MISSING) is obj


def _reached(obj: object, names: set[str], depth: int = 4) -> list:
    """``obj`` and what the attributes in ``names`` reach from it through modules
    (``scipy.spatial.distance.dice`` from ``scipy``), without importing anything."""
    reached, layer = [obj], [obj]
    for _ in range(depth):
        layer = [
            vars(o)[n]
            for o in layer
            if isinstance(o, types.ModuleType)
            for n in names & set(vars(o))
        ]
        reached += layer
    return reached


def _held(obj: object) -> tuple[list, list]:
    """``(functions, objects)``: the functions of ``obj`` (a function, a ``partial`` of one, an
    object with methods) whose code to read, and what it holds besides their globals (defaults,
    closure, a partial's arguments, an object's attributes): the grader reads those too."""
    if isinstance(obj, functools.partial):
        return [obj.func], [obj.func, *obj.args, *obj.keywords.values()]
    if isinstance(obj, types.MethodType):
        return [obj.__func__], [obj.__func__, obj.__self__]
    if isinstance(obj, types.FunctionType):
        held = [*(obj.__defaults__ or ()), *(obj.__kwdefaults__ or {}).values()]
        for cell in obj.__closure__ or ():
            with contextlib.suppress(ValueError):  # a cell not filled yet
                held.append(cell.cell_contents)
        return [obj], held
    if isinstance(obj, (type, types.ModuleType)) or not callable(obj):
        return [], []
    own = [k for k in type(obj).__mro__ if k.__module__ == type(obj).__module__]
    attrs = [getattr(a, "__func__", a) for k in own for a in vars(k).values()]  # staticmethod
    functions = [a for a in attrs if isinstance(a, types.FunctionType)]
    return functions, attrs + list(getattr(obj, "__dict__", {}).values())


COURSE_MODULES = tuple(
    f"unet_tp.{m.name}"
    for m in pkgutil.iter_modules(unet_tp.__path__)
    if m.name not in ("unet_base", "device", "conventions", "i18n")
)
"""The course package's modules an answer may not use: all but ``unet_base``, ``device`` (the
set-up's ``pick_device()``, ``in_colab()``), ``conventions`` (the labels and regions:
``NUM_CLASSES``) and ``i18n`` (the messages' language, which ``pick_device`` speaks); the
grader's rule, ``autograder/static.py``, read from the answer's text."""


def _not_scripted(fn: Callable, what: str) -> None:
    """An answer compiled by TorchScript costs its block and those tested after it: the grader
    cannot follow what TorchScript runs (it reads code from comments), so the check says so."""
    if isinstance(fn, (torch.jit.ScriptFunction, torch.jit.ScriptModule)):
        raise AssertionError(
            tr(
                "{what} is TorchScript (@torch.jit.script): the grader cannot follow what "
                "TorchScript runs and gives this block, and the blocks tested after it, no "
                "points: remove @torch.jit.script",
                what=what,
            )
        )


def _no_course_code(fn: Callable, what: str) -> None:
    """An answer that uses the course package's code (its metrics, checks, training step...), by
    any name, in a helper, a default or a closure, is wrong: the grader reads its text for it (a
    value IPython kept in ``_`` included)."""
    if module := _library_used(fn, COURSE_MODULES):
        raise AssertionError(
            tr(
                "{what} uses the course package's code ({module}): write it yourself; the grader "
                "gives an answer built on the course package's code no points",
                what=what,
                module=module,
            )
        )


def _library_used(fn: Callable, forbidden: tuple[str, ...]) -> str:
    """The first of ``forbidden`` that ``fn``, or a function of the notebook it calls, reads
    through a global name, a default, its closure (or a partial's arguments, a callable object's
    attributes); '' when none."""
    seen, todo = set(), [fn]
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        try:  # an object of the student's may raise at any look (__getattribute__): not read
            found, helpers = _library_held(f, fn, forbidden)
        except Exception:  # noqa: BLE001
            continue
        if found:
            return found
        todo += helpers
    return ""


def _library_held(f: object, fn: Callable, forbidden: tuple[str, ...]) -> tuple[str, list]:
    """``(the first of forbidden that f reads or '', the notebook's helpers it reads)``."""
    functions, held = _held(f)
    held.append(getattr(f, "__wrapped__", None))  # under a decorator (functools.wraps)
    names = set().union(*map(_code_names, functions))
    for code in functions:
        loads, imported = _globals_and_imports(code)
        held += [code.__globals__[n] for n in loads & set(code.__globals__)]
        held += [sys.modules[m] for m in imported if m in sys.modules]
        for module in imported:  # (imported by the function itself: not yet, maybe)
            if found := next((n for n in forbidden if f"{module}.".startswith(f"{n}.")), ""):
                return found, []
    helpers = []
    for obj in held:
        try:  # one object that raises at a look hides nothing else
            reached = _reached(obj, names)
            found = next((n for r in reached for n in forbidden if _is_named(r, n)), "")
            found = found or next(
                (w for r in reached if (w := _given_weights(r, functions, forbidden))), ""
            )
            helper = _notebooks(obj, fn)
        except Exception:  # noqa: BLE001
            continue
        if found:
            return found, []
        if helper:
            helpers.append(obj)  # a helper of the notebook's
    return "", helpers


def _given_weights(obj: object, functions: list, forbidden: tuple[str, ...]) -> str:
    """``module.name(w)`` where ``obj`` is a function of a module ``forbidden`` names weighted
    (``scipy.spatial.distance(w)``) that the code of ``functions`` gives weights or hands on (a
    partial of it given them too); '' otherwise (or where no source can be read)."""
    partial = obj if isinstance(obj, functools.partial) else None
    target = partial.func if partial else obj
    name, module = getattr(target, "__name__", ""), getattr(target, "__module__", None)
    if module is None or module + WEIGHTED not in forbidden:
        return ""
    try:
        position = list(inspect.signature(target).parameters).index("w")
    except (TypeError, ValueError):
        return ""
    given = f"{module}.{name}{WEIGHTED}"
    if partial and ("w" in partial.keywords or len(partial.args) > position):
        return given
    holders = {name} | {n for f in functions for n, v in f.__globals__.items() if v is obj}
    return given if any(_weights_in(f, holders, position) for f in functions) else ""


def _weights_in(f: types.FunctionType, holders: set[str], position: int) -> bool:
    """Whether ``f``'s source calls one of ``holders`` given weights (a keyword ``w``, an
    argument at ``position``, ``*args``, ``**kwargs``) or hands it on uncalled."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(f)))
    except (OSError, TypeError, SyntaxError):
        return False
    parents = {id(c): p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    for node in ast.walk(tree):
        named = getattr(node, "id", None) or getattr(node, "attr", None)
        if named not in holders or not isinstance(node, (ast.Name, ast.Attribute)):
            continue
        call = parents.get(id(node))
        if not (isinstance(call, ast.Call) and call.func is node):
            return True
        starred = any(isinstance(a, ast.Starred) for a in call.args)
        if starred or len(call.args) > position or {"w", None} & {k.arg for k in call.keywords}:
            return True
    return False


def _notebooks(obj: object, fn: Callable) -> bool:
    """Whether ``obj`` is a function or callable object of the notebook's that ``fn`` (defined
    there) reads: the grader reads its code as part of the answer."""
    where = getattr(getattr(fn, "func", fn), "__module__", None)
    owner = obj if isinstance(obj, (types.FunctionType, functools.partial)) else type(obj)
    owner = getattr(owner, "func", owner)
    return callable(obj) and getattr(owner, "__module__", None) == where


def _check_dice(dice_score: Callable, pairs: list) -> None:
    """The Dice of hand-made masks (overlapping, disjoint, empty), then of the random pairs."""
    if library := _library_used(dice_score, DICE_LIBRARIES):
        raise AssertionError(
            tr(
                "dice_score uses {library}, which computes the Dice score for you: write "
                "2 |P & T| / (|P| + |T|) yourself with NumPy (logical_and, sum); the grader gives "
                "such a dice_score no points",
                library=library,
            )
        )
    a, b = np.zeros((4, 4), bool), np.zeros((4, 4), bool)
    a[:2, :2] = True  # 4 pixels
    b[:2, :] = True  # 8 pixels, 4 shared
    empty = np.zeros_like(a)
    hand = [((4, 4), a, b), ((4, 4), a, ~a), ((4, 4), empty, empty), ((4, 4), empty, b)]
    hand.append(((4, 4), a, empty))  # (a missed tumour: 0, not the empty pair's 1.0)
    steps = [("pred, truth", tr("boolean masks of one shape")), ("|P & T|, |P|, |T|", tr("counts"))]
    steps.append(("Dice", tr("2 |P & T| / (|P| + |T|), 1.0 if both are empty")))
    drawn = [(c.shape, p, t) for c, (p, t) in zip(cases.DICE_PAIRS, pairs, strict=True)]
    for shape, p, t in hand + drawn:
        want, counts = exact_dice(p, t), {"first": int(p.sum()), "second": int(t.sum())}
        what = tr(
            "dice_score of two {shape} masks ({first} and {second} pixels)", shape=shape, **counts
        )
        try:
            value = float(dice_score(p, t))
        except Exception as exc:  # noqa: BLE001
            raise _explain(exc, what, steps) from None
        if not dice_agrees(value, want):
            shown, wanted = _differing_digits(value, want)
            raise AssertionError(
                tr("{what}: {value}, expected {want}.", what=what, value=shown, want=wanted)
                + _dice_hint(value, p, t, want)
            )
    _ok(tr("Dice of overlapping, disjoint, empty and random masks (two empty masks: 1.0)"))


def _differing_digits(value: float, want: float) -> tuple[str, str]:
    """Both numbers to 6 digits, or to 12 where those are the same (as the grader says them:
    honest round 28, "0.666666686534, expected 0.666667")."""
    shown, wanted = f"{value:.6g}", f"{want:.6g}"
    return (f"{value:.12g}", f"{want:.12g}") if shown == wanted else (shown, wanted)


def _classes_outside(values: list[int], classes: int) -> str:
    """The message for a prediction holding ``values``, not classes of a ``classes``-class
    network (honest round 38: the labels mapped back to BraTS's, 3 to 4, in predict)."""
    return tr(
        "predict returned {values}, not classes of the network (0 to {last}): return the "
        "argmax of the logits as it is (BraTS's label 4 is the files' name for class 3)",
        values=", ".join(map(str, values[:5])),
        last=classes - 1,
    )


def _check_predict(predict: Callable, inputs: cases.PredictDiceInputs) -> None:
    """predict on a network left in training mode: the argmax of the model in evaluation mode."""
    n, _, h, w = cases.PREDICT.images
    batch = tuple(inputs.images.shape)

    def attempt(dtype: torch.dtype) -> tuple:
        images = inputs.images.to(dtype)
        out = predict(_small_net(cases.PREDICT.net, inputs.state).train(), images)
        reference = _small_net(cases.PREDICT.net, inputs.state)
        with torch.no_grad():
            logits = reference.eval()(images)
            return out, logits.argmax(1), reference.train()(images).argmax(1), logits.shape[1]

    try:  # (the last: the network's classes)
        _, (out, expected, train_mode, classes) = _first_dtype(attempt)
    except Exception as exc:  # noqa: BLE001
        steps = [("model.eval()", tr("batch norm uses its running statistics"))]
        steps.append(("model(images)", (n, 4, h, w)))
        steps.append((tr("argmax over dim=1 (the classes)"), (n, h, w)))
        raise _explain(exc, tr("predict on a {batch} batch", batch=batch), steps) from None
    try:  # a tensor or an array of the classes
        got = np.asarray(out.detach().cpu() if hasattr(out, "detach") else out)
        got = torch.as_tensor(got.astype(np.int64))
    except (TypeError, ValueError):
        got = None
    if got is None or tuple(got.shape) != tuple(expected.shape):
        raise AssertionError(
            tr(
                "predict on a {batch} batch should give the {want} classes, got {got}: the "
                "argmax over dim=1, the classes",
                batch=batch,
                want=tuple(expected.shape),
                got=_shape(out),
            )
        )
    if torch.equal(got, expected):
        return _ok(tr("predict: eval mode, argmax over the classes"))
    if torch.equal(got, train_mode):
        raise AssertionError(
            tr(
                "predict used the batch's statistics: put the model in eval mode (model.eval()) "
                "so batch norm uses its running statistics"
            )
        )
    if outside := sorted({int(v) for v in got.unique()} - set(range(classes))):
        raise AssertionError(_classes_outside(outside, classes))
    raise AssertionError(
        tr("predict should return the argmax over dim=1 (the classes) of the logits")
    )


@_packages_noted
def check_predict_dice(predict: Callable, dice_score: Callable) -> None:
    """Dice on hand-made and random masks (empty ones included), predictions in eval mode."""
    inputs = cases.predict_dice_inputs(cases.visible_rng())
    _no_course_code(dice_score, "dice_score")
    _no_course_code(predict, "predict")
    _not_scripted(predict, "predict")
    _not_scripted(dice_score, "dice_score")
    _check_dice(dice_score, inputs.pairs)
    with _on_the_cpu(predict):
        _check_predict(predict, inputs)


def receptive_field(depth: int = 4) -> int:
    """Input pixels one pixel of the bottom level sees: each 3x3 convolution widens the window by
    2 pixels of its level, each 2x2 pooling by 1, and a pixel of the next level spans twice as
    many input pixels."""
    size, step = 1, 1
    for level in range(depth + 1):
        size += 2 * 2 * step  # two 3x3 convolutions
        if level < depth:
            size, step = size + step, 2 * step  # the 2x2 pooling
    return size


def _real(answer) -> float | None:
    """``answer`` as a finite real number (a Python or NumPy number, a one-value tensor), or None
    for anything else: a string ("140"), a tuple, a bool."""
    if isinstance(answer, (str, bytes, bool)) or getattr(answer, "shape", ()) != ():
        return None
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return None
    except OverflowError:  # an integer past float's range (400 digits): a number, too large
        return math.inf if answer > 0 else -math.inf
    return value if math.isfinite(value) else None


def check_receptive_field(answer) -> None:
    """The student's receptive field of the bottom of the paper's U-Net (Question 1); says what
    is wrong without raising, so that running the whole notebook goes on."""
    right, value = receptive_field(), _real(answer)
    if answer is None:
        print(tr("Question 1: set RECEPTIVE_FIELD to your number, then run this cell again."))
    elif value is None:
        comma = isinstance(answer, tuple) and len(answer) == 2  # 140,5: a decimal comma
        hint = (
            tr(
                " In Python a comma separates two values: a decimal number has a point (140.5, not 140,5)."
            )
            if comma
            else ""
        )
        print(
            tr(
                "Question 1: RECEPTIVE_FIELD should be one number of input pixels, without quotes "
                "(e.g. RECEPTIVE_FIELD = 100), not {answer}.",
                answer=repr(answer)[:40],
            )
            + hint
        )
    elif value == right:
        shown = {"answer": answer}
        _ok(
            tr(
                "{answer} pixels: the bottom of the U-Net sees more than half of a 240 x 240 slice",
                **shown,
            )
        )
    else:
        small = tr(
            "too small: did you count the poolings, and that a pixel of a deeper level spans "
            "more input pixels?"
        )
        large = tr(
            "too large: a 3x3 convolution widens the window by 2 pixels of its level, a 2x2 "
            "pooling by 1."
        )
        shown = {"answer": answer, "hint": small if value < right else large}
        print(tr("Question 1: not yet: {answer} is {hint} Recount level by level.", **shown))


# ---- the TP's own cells: training, evaluation ---------------------------------------------------


def failing_blocks(namespace: dict, names) -> list[str]:
    """Each answer of ``names`` in the notebook's ``namespace`` that fails its own check, as
    ``Name (letter)`` (one checked with another answer of the notebook's: only where both are)."""
    wrong = []
    for name in names:
        letter, check = {**_BLOCKS, **_RUN_BY_THE_TP}[name]
        given = [name, *_ALONGSIDE.get(name, ())]
        if not all(n in namespace for n in given):
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                check(*[namespace[n] for n in given])
        except Exception:  # noqa: BLE001 (any failure of theirs)
            wrong.append(f"{name} ({letter})")
    return wrong


# the answers the training and evaluation cells run, beside the blocks: their letter, their check
_RUN_BY_THE_TP = {
    "categorical_cross_entropy": ("e", check_loss),
    "train_step": ("f", lambda step: check_train_step(step, F.cross_entropy)),
    "predict": ("g", check_predict_dice),
}
_ALONGSIDE = {"predict": ("dice_score",)}  # (checked together)
TRAINING_ANSWERS = ("DoubleConv", "Down", "Up", "UNet", "categorical_cross_entropy", "train_step")
EVALUATION_ANSWERS = ("DoubleConv", "Down", "Up", "UNet", "predict")


@contextlib.contextmanager
def answers_first(model: nn.Module, names: tuple[str, ...], what: str) -> Iterator[None]:
    """A TP cell's step (``what``: "The training stopped") run on the notebook's answers:
    where it fails and answers of ``names`` fail their own checks, the cell says so in one line
    (student round 41: a 22-frame traceback ending in torch's RuntimeError, no word of the
    blocks); any other failure keeps its traceback."""
    try:
        yield
    except Exception as exc:
        wrong = failing_blocks(_namespace_of(type(model)), names)
        if not wrong:
            raise
        said = str(exc).strip().splitlines()
        error = f"{type(exc).__name__}: {said[0][:300]}" if said else type(exc).__name__
        message = tr(
            "{what}: {error}\n  Answers this cell runs fail their own checks: {names}. Fix them "
            "first (their test cells say how), then run this cell again.",
            what=what,
            error=error,
            names=", ".join(wrong),
        )
        raise shown_plainly(AssertionError(message)) from None
