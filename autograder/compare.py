"""Step 4 of grading, in the grader's own process: the questions, and the judgement of the answers.

Each test of the spec (``compare = "..."``) has a :class:`Comparison`: its requests are drawn from
a seed chosen at grading time, the reference's answers are computed with ``solutions/`` (imported
here only, never sent), and the kernel's answers are values to compare, never facts to believe: a
missing, short, non-finite, wrongly shaped or unreadable answer fails. Networks run in float64
(float32 only where the student's code cannot), far above any process's rounding. The blocks a
block is built from are the grader's probes, so one mistake costs one block.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import math
import re
import secrets
import sys
import threading
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from autograder import REPO_ROOT
from autograder import messages as M
from autograder.harness import _default_dtype as harness_default_dtype
from autograder.harness import _params_by_execution, param_kinds, reference_weight
from autograder.harness import _small_net as small_net
from unet_tp import check_cases as cases
from unet_tp import checks
from unet_tp.metrics import dice_agrees

DTYPES = ["float64", "float32"]  # the kernel answers in the first that runs
TOLERANCE = {"float64": 1e-7, "float32": 1e-4}  # relative to the output's scale
# gradients through batch norm cancel large terms: float32 rounding reaches about 2e-6 of their
# scale across processes (tests/test_compare.py measures it), so they get 10 times more room
GRADIENT_TOLERANCE = {dtype: 10 * tol for dtype, tol in TOLERANCE.items()}


@dataclass
class Request:
    """One question to the kernel; ``expected`` never leaves the grader. ``meta["needs"]``: the
    student's names it tests; ``meta["probes"]``: the grader's blocks it stands on."""

    name: str
    meta: dict
    arrays: dict[str, np.ndarray]
    expected: object = None


@dataclass
class Verdict:
    """A test's result: passed, or the one sentence that says what differs."""

    passed: bool
    message: str | None = None


Answer = tuple[dict, dict] | None  # (meta, arrays) from the kernel, or None if none came


class Comparison:
    """A test of the spec: its requests, and the judgement of each answer (:meth:`check`)."""

    def requests(self, rng: np.random.Generator) -> list[Request]:
        raise NotImplementedError

    def check(self, req: Request, meta: dict, arrays: dict) -> str | None:
        """What differs between the answer to ``req`` and the reference's, or None."""
        raise NotImplementedError

    def judge(self, answers: dict[str, Answer], requests: list[Request]) -> Verdict:
        """Passed if every request was answered as the reference answers it."""
        if not requests:
            return Verdict(False, M.NO_REQUEST)
        for req in requests:
            answer = answers.get(req.name)
            why = _missing(answer, req.meta["label"])
            if why is None:
                why = self.check(req, _dict(answer[0]), _dict(answer[1]))
            if why:
                return Verdict(False, why)
        return Verdict(True)


def judge(comparison: Comparison, answers: dict[str, Answer], requests: list[Request]) -> Verdict:
    """``comparison.judge``, where an answer it cannot read fails the test (never raises)."""
    try:
        verdict = comparison.judge(answers, requests)
    except Exception as exc:  # a malformed answer: the kernel's word against the judge's
        return Verdict(False, M.UNREADABLE.format(error=type(exc).__name__))
    return verdict if isinstance(verdict, Verdict) else Verdict(False, M.NO_VERDICT)


@functools.cache
def reference():
    """The ``solutions`` package of this checkout (the grader's process only, never the kernel)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return importlib.import_module("solutions")


# ---- reading the kernel's values: nothing is believed, everything is checked ------------------
def _number(value) -> float | None:
    """A finite real number of the answer (not a bool), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _array(arrays: dict, key: str, shape: tuple, kinds: str = "f") -> np.ndarray | None:
    """The answer's array ``key`` if it has exactly ``shape``, a dtype of ``kinds`` and only
    finite values; else None."""
    got = arrays.get(key) if isinstance(arrays, dict) else None
    if not isinstance(got, np.ndarray) or got.dtype.kind not in kinds or got.shape != shape:
        return None
    if got.dtype.kind in "fc" and not np.isfinite(got).all():
        return None
    return got


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _near(got: float | None, want: float, tol: float) -> bool:
    """``got`` (None: no usable number) within ``tol`` of ``want``, relative above 1."""
    return got is not None and abs(got - want) <= tol * max(1.0, abs(want))


def _meta(kind: str, name: str, label: str, needs: list, probes=(), **more) -> dict:
    """A request's meta: what the kernel runs, the student's names it tests, the probes it uses."""
    meta = {"kind": kind, "name": name, "label": label, "needs": needs}
    return meta | {"probes": list(probes)} | more


def _missing(answer: Answer, what: str) -> str | None:
    """Why an answer holds nothing to compare (not defined, an error), or None."""
    if not isinstance(answer, tuple) or len(answer) != 2:
        return M.NO_ANSWER.format(label=what)
    meta = _dict(answer[0])
    if meta.get("missing"):
        names = ", ".join(str(n) for n in meta["missing"])[:200]
        return M.NOT_DEFINED.format(names=names)
    if meta.get("error"):
        return M.LABELLED.format(label=what, problem=_readable(str(meta["error"])))
    return None


def _readable(error: str) -> str:
    """An error the kernel sent (``harness._error``) as a student reads it: torch's page of
    signatures told by the argument whose type does not fit, else its first 500 characters."""
    where = re.search(r" \(in your code: `[^`]*`\)$", error)
    name, _, text = error[: where.start() if where else None].partition(": ")
    if wrong := checks.wrong_argument(text):
        return f"{name}: {wrong}{where[0] if where else ''}"
    return error if len(error) <= 500 else error[:500].rsplit(" ", 1)[0] + " …"


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest absolute difference (NaN if either side has one: every comparison then fails)."""
    if a.shape != b.shape:
        return math.inf
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def _diff(arrays: dict, key: str, expected: np.ndarray) -> float:
    """Largest absolute difference of the answer's array ``key`` (inf if it is not usable)."""
    got = _array(arrays, key, expected.shape)
    return math.inf if got is None else _max_diff(got, expected)


def _close(got: np.ndarray | None, expected: np.ndarray, tol: float) -> bool:
    """``got`` (None: no usable array) within ``tol`` of ``expected``, relative to its scale."""
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    return got is not None and _max_diff(got, expected) <= tol * scale


# torch's default dtype is one setting of the whole process: the grader's threads (--jobs) make
# their requests one at a time
REFERENCE_LOCK = threading.RLock()


@contextlib.contextmanager
def _default_dtype(name: str):
    with REFERENCE_LOCK, harness_default_dtype(name) as dtype:
        yield dtype


# ---- modules: (a) DoubleConv, (b) Down, (c) Up, (d) UNet ---------------------------------------
ORDERS = ("kinds", "definition", "execution")  # how the reference's weights may be loaded


def _draw(case: cases.ModuleCase, name: str, rng: np.random.Generator) -> list[torch.Tensor]:
    """A case's inputs, drawn from the run's generator (of any valid size where it allows)."""
    if not case.any_valid_size:
        return case.draw(rng)
    with torch.device("meta"):
        net = getattr(reference(), name)(*case.args, **case.keywords)
    size = net.input_size_for(int(rng.integers(12, 28)))
    n, channels = case.inputs[0][:2]
    return [cases.tensor(rng, n, channels, size, size)]


def _weight_spec(ref: torch.nn.Module, seed: int, exe: list) -> dict:
    """The reference's weights named by a seed (``harness.reference_weight``): He-scaled normal
    weights, batch-norm scales around 1, small biases."""
    params = list(ref.parameters())
    kinds = dict(zip(map(id, params), param_kinds(ref, params), strict=True))
    index = {id(p): i for i, p in enumerate(params)}
    scales = [math.sqrt(2.0 / max(1, p[0].numel())) if p.dim() > 1 else 0.1 for p in params]
    offsets = [float(p.dim() <= 1 and kinds[id(p)] == "BatchNorm2d.weight") for p in params]
    return {
        "seed": seed,
        "shapes": [list(p.shape) for p in params],
        "offsets": offsets,
        "scales": scales,
        "execution": [index[id(p)] for p in exe],
    }


def _reference_run(name: str, case: cases.ModuleCase, spec: dict, inputs, cotangent, dtype_name):
    """The reference block's output with the weights ``spec`` names, and the gradients of
    ``sum(output * cotangent)`` of its parameters (definition order)."""
    with _default_dtype(dtype_name) as dtype:
        with torch.device("meta"):
            ref = getattr(reference(), name)(*case.args, **case.keywords)
        ref = ref.to_empty(device="cpu").train()
        with torch.no_grad():
            for k, p in enumerate(ref.parameters()):
                p.copy_(torch.from_numpy(reference_weight(spec, k)).to(dtype))
            for m in ref.modules():
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                    m.reset_running_stats()
        out = ref(*[x.to(dtype) for x in inputs])
        grads = []
        if cotangent is not None:
            (out * torch.from_numpy(cotangent).to(dtype)).sum().backward()
            grads = [p.grad.detach().double().numpy() for p in ref.parameters()]
        return out.detach().double().numpy(), grads


def _with_crop(rounding: tuple[int, int], run, cotangent, dtype: str):
    """``run(cotangent, dtype)`` with ``center_crop`` rounding an odd margin down (0) or up (1)."""
    module = sys.modules[reference().center_crop.__module__]
    original, (top_up, left_up) = module.center_crop, rounding

    def crop(x, height, width):
        top = (x.shape[-2] - height + top_up) // 2
        left = (x.shape[-1] - width + left_up) // 2
        return x[..., top : top + height, left : left + width]

    with REFERENCE_LOCK:
        module.center_crop = crop
        try:
            return run(cotangent, dtype)
        finally:
            module.center_crop = original


class ModuleComparison(Comparison):
    """The student's module with the reference's weights gives the reference's output, and the
    reference's gradients reach every one of its parameters."""

    def __init__(self, block: cases.BlockCases):
        self.name, self.probes = block.name, list(block.probes)
        self.cases = [c for c in block.cases if c.grader]
        # a crop written inside Up may round an odd margin either way, as center_crop may
        self.roundings = [(0, 0), (0, 1), (1, 0), (1, 1)] if self.name == "Up" else [(0, 0)]

    def requests(self, rng: np.random.Generator) -> list[Request]:
        reqs = []
        for i, case in enumerate(self.cases):
            seed = int(rng.integers(2**31))
            inputs = _draw(case, self.name, rng)
            with torch.device("meta"):  # shapes and order only: no memory for the weights
                ref = getattr(reference(), self.name)(*case.args, **case.keywords).train()
                exe = _params_by_execution(ref, [x.to("meta") for x in inputs])
            spec = _weight_spec(ref, seed, exe)
            arrays = {f"input_{k}": x.numpy() for k, x in enumerate(inputs)}
            run = functools.partial(_reference_run, self.name, case, spec, inputs)
            cotangent = None
            if case.gradients:  # d sum(output * cotangent) / d parameter, on both sides
                cotangent = rng.standard_normal(run(None, case.dtypes[0])[0].shape)
                arrays["cotangent"] = cotangent
            # {dtype: [(output, gradients) of each rounding of an odd crop margin]}
            expected = {
                d: [_with_crop(rounding, run, cotangent, d) for rounding in self.roundings]
                for d in case.dtypes
            }
            meta = _meta("module", self.name, case.label, [self.name], self.probes, seed=seed)
            meta |= {"args": list(case.args), "kwargs": case.keywords, "train": True}
            meta |= {"weights": spec, "kinds": param_kinds(ref, exe), "dtypes": list(case.dtypes)}
            meta["orders"] = list(ORDERS[:1] if case.meta else ORDERS)  # the paper's net: by kind
            reqs.append(Request(f"{self.name}.{i}", meta, arrays, expected))
        return reqs

    def check(self, req: Request, meta: dict, arrays: dict) -> str | None:
        """None if one weight order, in one dtype, gives the reference's output and gradients;
        else the most telling problem."""
        problems = []
        for dtype, order, expected, grads in _candidates(req):
            key = f"{order}.{dtype}"
            got, raw = _array(arrays, f"out_{key}", expected.shape), arrays.get(f"out_{key}")
            if got is None and isinstance(raw, np.ndarray) and raw.shape != expected.shape:
                problems.append(
                    M.OUTPUT_SHAPE.format(got=tuple(raw.shape), want=tuple(expected.shape))
                )
            elif got is None and isinstance(raw, np.ndarray):
                problems.append(M.NOT_FINITE)
            elif got is None:
                candidate = _dict(_dict(meta.get("candidates")).get(key))
                problems.append(_readable(str(candidate.get("error", M.NO_OUTPUT))))
            elif not _close(got, expected, TOLERANCE[dtype]):
                problems.append(M.OUTPUT_DIFFERS.format(diff=_max_diff(got, expected)))
            else:
                tol = GRADIENT_TOLERANCE[dtype]
                dead = [
                    str(tuple(g.shape))
                    for k, g in enumerate(grads)
                    if not _close(_array(arrays, f"grad_{key}_{k}", g.shape), g, tol)
                ]
                shapes = ", ".join(dead[:6])
                return (
                    M.NO_GRADIENT.format(label=req.meta["label"], shapes=shapes) if dead else None
                )
        problem = _best_problem(problems)
        if problem.startswith("shapes"):
            problem = _first_shape_differing(meta.get("param_shapes", []), req)
            hidden = meta.get("unregistered")
            if isinstance(hidden, list) and hidden and all(isinstance(h, str) for h in hidden):
                problem = M.UNREGISTERED.format(names=", ".join(h[:80] for h in hidden[:4]))
        return M.LABELLED.format(label=req.meta["label"], problem=problem)


def _first_shape_differing(given, req: Request) -> str:
    """How the parameters' shapes (the kernel's list) differ from the reference's: their count,
    and the first that differs (a list of 30 shapes each was hard to read)."""
    shapes = (
        [tuple(s) if isinstance(s, list) else s for s in given[:1000]]
        if isinstance(given, list)
        else []
    )
    reference = [tuple(s) for s in req.meta["weights"]["shapes"]]
    pairs = zip(shapes + [None] * len(reference), reference + [None] * len(shapes), strict=False)
    first = ((i, p) for i, p in enumerate(pairs) if p[0] != p[1])
    index, (got, want) = next(first, (len(shapes), (None, None)))
    return M.PARAM_SHAPES.format(
        count=len(shapes), reference_count=len(reference), index=index + 1, got=got, want=want
    )


def _candidates(req: Request):
    """``(dtype, weight order, expected output, expected gradients)`` to try, best first."""
    for dtype, variants in req.expected.items():
        for expected, grads in variants:
            for order in req.meta["orders"]:
                yield dtype, order, expected, grads


def _best_problem(problems: list[str]) -> str:
    """The most telling of the problems of the weight orders."""
    for word in ("Error", "differs", "not finite", "output shape", "shapes"):
        for p in problems:
            if word in p:
                return p
    return problems[0] if problems else M.NO_OUTPUT


# ---- (c) center_crop --------------------------------------------------------------------------
class CenterCrop(Comparison):
    """The centre window; where the margin is odd, either rounding of the centre is accepted."""

    def requests(self, rng: np.random.Generator) -> list[Request]:
        reqs = []
        for i, case in enumerate(cases.crop_cases(rng)):
            x = cases.tensor(rng, 2, 3, case.height, case.width)
            th, tw = case.target_h, case.target_w
            expected = [x[..., t : t + th, left : left + tw].numpy() for t, left in case.windows()]
            meta = _meta("function", "center_crop", case.label, ["center_crop"])
            meta["extra_args"] = [th, tw]
            reqs.append(Request(f"center_crop.{i}", meta, {"input_0": x.numpy()}, expected))
        return reqs

    def check(self, req: Request, meta: dict, arrays: dict) -> str | None:
        label, want, raw = req.meta["label"], req.expected[0], arrays.get("out")
        if not isinstance(raw, np.ndarray):
            return M.NO_TENSOR.format(label=label)
        if raw.shape != want.shape:
            return M.CROP_SHAPE.format(label=label, got=tuple(raw.shape), want=tuple(want.shape))
        if not any(raw.dtype == e.dtype and np.array_equal(raw, e) for e in req.expected):
            return M.NOT_CENTRE.format(label=label)
        return None


# ---- (e) the loss ----------------------------------------------------------------------------
class Loss(Comparison):
    """Eq. (1) with and without class weights, one class, C = 1, extreme logits, float32: value
    and gradient equal to the reference's (no ``F.cross_entropy``: :mod:`autograder.static`)."""

    def requests(self, rng: np.random.Generator) -> list[Request]:
        loss_cases = cases.loss_inputs(rng)
        arrays, expected = {}, []
        ce = reference().categorical_cross_entropy
        for i, (label, logits, tgt, wgt) in enumerate(loss_cases):
            arrays[f"logits_{i}"], arrays[f"target_{i}"] = logits, tgt
            t_logits = torch.from_numpy(logits).clone().requires_grad_()
            weight = {} if wgt is None else {"weight": torch.from_numpy(wgt)}
            if wgt is not None:
                arrays[f"weight_{i}"] = wgt
            value = ce(t_logits, torch.from_numpy(tgt), **weight)
            value.backward()
            expected.append(
                (label, float(value.detach()), t_logits.grad.double().numpy(), logits.dtype)
            )
        name = "categorical_cross_entropy"
        meta = _meta("loss", name, name, [name], cases=len(loss_cases))
        return [Request("loss", meta, arrays, expected)]

    def check(self, req: Request, meta: dict, arrays: dict) -> str | None:
        answered = meta.get("cases")
        if not isinstance(answered, list) or len(answered) != len(req.expected):
            return M.LOSS_CASES
        for i, (case, (label, value, grad, dtype)) in enumerate(
            zip(answered, req.expected, strict=True)
        ):
            case = _dict(case)
            if "error" in case:
                if "unexpected keyword argument 'weight'" in str(case["error"]):
                    return M.LOSS_WEIGHT_KEYWORD
                if cases.MIXED_DTYPES.search(str(case["error"])[:500]):
                    return M.LOSS_DTYPES.format(label=label, problem=str(case["error"])[:300])
                return M.LABELLED.format(label=label, problem=_readable(str(case["error"])))
            got = _number(case.get("value"))
            tol = 1e-5 if dtype == np.float64 else 1e-4
            if got is None:
                return M.LOSS_NOT_FINITE.format(label=label, got=case.get("value"))
            if not _near(got, value, tol):
                return M.LOSS_VALUE.format(label=label, got=got, want=value)
            if not _diff(arrays, f"grad_{i}", grad) <= tol:
                return M.LOSS_GRADIENT.format(label=label)
        return None


# ---- (f) train_step --------------------------------------------------------------------------
class TrainStep(Comparison):
    """Three Adam steps of the student's ``train_step`` give the reference's losses and weights
    (float64; float32 only if the student's step cannot run in float64)."""

    case = cases.TRAIN_STEP
    steps, lr = case.steps, case.lr

    def requests(self, rng: np.random.Generator) -> list[Request]:
        state, images, labels = cases.train_step_inputs(rng, self.case)
        arrays = {f"state.{k}": v.numpy() for k, v in state.items()}
        arrays |= {"images": images.numpy(), "labels": labels.numpy()}
        expected = {d: self._reference(arrays, images, labels, d) for d in DTYPES}
        meta = _meta("train_step", "train_step", "train_step", ["train_step"], net=self.case.net)
        meta |= {"lr": self.lr, "steps": self.steps, "dtypes": DTYPES}
        return [Request("train_step", meta, arrays, expected)]

    def _reference(self, arrays, images, labels, dtype_name):
        with _default_dtype(dtype_name) as dtype:
            model = small_net({"net": self.case.net}, arrays, training=False)
            opt = torch.optim.Adam(model.parameters(), lr=self.lr)
            losses = [
                reference().train_step(model, images.to(dtype), labels, opt, F.cross_entropy)
                for _ in range(self.steps)
            ]
            return losses, [p.detach().double().numpy() for p in model.parameters()]

    def check(self, req: Request, meta: dict, arrays: dict) -> str | None:
        dtype = meta.get("dtype")
        if dtype not in req.expected:
            return M.STEP_DTYPE
        if meta.get("loss_fn_calls") == 0:
            return M.STEP_NO_LOSS_FN
        losses, params = req.expected[dtype]
        tol = max(TOLERANCE[dtype], checks.STEP_TOLERANCE)
        got_losses = meta.get("losses")
        if not isinstance(got_losses, list) or len(got_losses) != len(losses):
            return M.STEP_CALLS.format(steps=self.steps)
        for step, (raw, want) in enumerate(zip(got_losses, losses, strict=True), start=1):
            got = _number(raw)
            if got is None and isinstance(raw, str):  # the kernel's name of the type it got
                return M.STEP_NOT_FLOAT_TYPE.format(step=step, kind=raw[:40])
            if got is None:
                return M.STEP_NOT_FLOAT.format(step=step, got=raw)
            if not _near(got, want, tol):
                return M.STEP_LOSS.format(step=step, got=got, want=want)
        diff = max((_diff(arrays, f"param_{i}", p) for i, p in enumerate(params)), default=0.0)
        if diff <= tol:
            return None
        if meta.get("training_mode") is False:
            return M.STEP_EVAL
        return M.STEP_WEIGHTS.format(steps=self.steps, diff=diff)


# ---- (g) predict and dice_score --------------------------------------------------------------
class PredictDice(Comparison):
    """``dice_score`` equals the BraTS Dice on mask pairs (empty ones included); ``predict`` is the
    argmax of the model in evaluation mode."""

    def requests(self, rng: np.random.Generator) -> list[Request]:
        from unet_tp import metrics

        drawn = cases.predict_dice_inputs(rng)
        arrays, dice = {}, []
        for i, (a, b) in enumerate(drawn.pairs):
            arrays[f"a_{i}"], arrays[f"b_{i}"] = a, b
            dice.append((a.shape, float(metrics.dice(a, b))))
        arrays |= {f"state.{k}": v.numpy() for k, v in drawn.state.items()}
        arrays["images"] = drawn.images.numpy()
        label, needs = "predict / dice_score", ["predict", "dice_score"]
        meta = _meta("predict_dice", "predict_dice", label, needs, net=cases.PREDICT.net)
        meta |= {"pairs": len(dice), "dtypes": DTYPES}
        preds = {}
        for d in DTYPES:
            with _default_dtype(d) as dtype:
                net = small_net(meta, arrays, training=True)
                preds[d] = reference().predict(net, drawn.images.to(dtype)).long().numpy()
        classes = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)][-1].out_channels
        return [Request("predict_dice", meta, arrays, (dice, preds, classes))]

    def check(self, req: Request, meta: dict, arrays: dict) -> str | None:
        dice, preds, classes = req.expected
        got_dice = meta.get("dice")
        if not isinstance(got_dice, list) or len(got_dice) != len(dice):
            return M.DICE_PAIRS
        for raw, (shape, want) in zip(got_dice, dice, strict=True):
            if isinstance(raw, str):
                return M.DICE_ERROR.format(shape=shape, error=raw[:300])
            got = _number(raw)
            if got is None or not dice_agrees(got, want):
                empty = M.EMPTY_MASKS if want == 1.0 else ""
                shown, wanted = (f"{got:.6g}" if got is not None else repr(raw)[:40]), f"{want:.6g}"
                if shown == wanted:  # close, not equal: the digits that differ, on both sides
                    shown, wanted = f"{got:.12g}", f"{want:.12g}"
                return M.DICE_VALUE.format(shape=shape, got=shown, want=wanted, empty=empty)
        if meta.get("predict_error"):
            return M.PREDICT_ERROR.format(error=str(meta["predict_error"])[:500])
        pred = preds.get(meta.get("dtype"), preds["float64"])
        got = _array(arrays, "pred", pred.shape, kinds="iu")
        if got is None:
            raw = arrays.get("pred")
            shape = tuple(raw.shape) if isinstance(raw, np.ndarray) else None
            return M.PREDICT_SHAPE.format(got=shape, want=tuple(pred.shape))
        if outside := sorted({int(v) for v in np.unique(got)} - set(range(classes))):
            return M.PREDICT_CLASSES.format(
                values=", ".join(map(str, outside[:5])), last=classes - 1
            )
        if not np.array_equal(got, pred):
            return M.PREDICT_DIFFERS
        return None


# ---- the table the spec names: the cases of unet_tp/check_cases.py ------------------------------
def comparisons() -> dict[str, Comparison]:
    """``compare`` name of the spec -> its comparison, on the visible checks' cases."""
    modules = {compare: ModuleComparison(block) for compare, block in cases.MODULES.items()}
    return {
        **modules,
        "center_crop": CenterCrop(),
        "loss": Loss(),
        "train_step": TrainStep(),
        "predict_dice": PredictDice(),
    }


def fresh_rng() -> np.random.Generator:
    """A generator seeded at grading time: no notebook can know its inputs in advance."""
    return np.random.default_rng(secrets.randbits(128))
