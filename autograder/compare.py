"""Step 4 of grading: the grader's questions, and its judgement of the answers.

Runs in the grader's own process, never in the student's kernel. For each test of the assignment
spec (``compare = "..."`` in ``assignment.toml``) a :class:`Comparison`:

1. makes its requests (:class:`Request`) from a fresh random seed drawn at grading time: inputs,
   constructor arguments, and the reference's weights (both in the order the reference defines its
   parameters and in the order its forward uses them), and computes the reference's answer with
   ``solutions/``. The expected answers stay in this process: only the requests go to the kernel.
2. judges the kernel's answers (plain arrays and numbers, see :mod:`autograder.harness`) against
   the expected ones: a test passes only if the student's code computes what the reference does.

Blocks a block is built from are replaced by probes in its requests (``probes``), so one mistake
costs one block. Nothing here looks at how the code is written (module names, ``nn.Sequential``
or not, one ReLU module used twice, ``F.max_pool2d`` or ``nn.MaxPool2d``, ``log_softmax`` or
``logsumexp``): only at what it computes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from autograder.harness import _params_by_execution, param_kinds
from autograder.harness import small_net as _small_net
from autograder.reference import reference

PROBE_PHASE = 2  # requests of this phase run after the probes are loaded
ALL_PROBES = ["DoubleConv", "Down", "Up", "OutConv", "center_crop"]


@dataclass
class Request:
    """One question to the kernel; ``expected`` never leaves the grader."""

    name: str
    meta: dict
    arrays: dict[str, np.ndarray]
    phase: int = 1
    expected: object = None


@dataclass
class Verdict:
    """A test's result: passed, or the one sentence that says what differs."""

    passed: bool
    message: str | None = None
    details: dict = field(default_factory=dict)


Answer = tuple[dict, dict] | None  # (meta, arrays) from the kernel, or None if none came


class Comparison:
    """A test of the spec: its requests and its judgement."""

    label = ""

    def requests(self, rng: np.random.Generator) -> list[Request]:
        raise NotImplementedError

    def judge(self, answers: dict[str, Answer], requests: list[Request]) -> Verdict:
        raise NotImplementedError


def _missing(answer: Answer, what: str) -> str | None:
    """Why an answer holds nothing to compare (not defined, an error), or None."""
    if answer is None:
        return f"{what}: no answer from your code (the request timed out or the kernel died)"
    meta = answer[0]
    if meta.get("missing"):
        names = ", ".join(meta["missing"])
        return f"{names} is not defined when the notebook has run: did its cell run without error?"
    if meta.get("error"):
        return f"{what}: {meta['error']}"
    return None


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def _close(got: np.ndarray, expected: np.ndarray, tol: float = 1e-4) -> bool:
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    return got.shape == expected.shape and _max_diff(got, expected) <= tol * scale


# ---- modules: (a) DoubleConv, (b) Down, (c) Up, (d) UNet ---------------------------------------


def _tensor(rng: np.random.Generator, *shape: int) -> torch.Tensor:
    return torch.from_numpy(rng.standard_normal(shape).astype(np.float32))


@dataclass
class ModuleCase:
    """One configuration of a block: built the same way on both sides, reference weights loaded."""

    label: str
    args: tuple
    kwargs: dict
    inputs: Callable[[np.random.Generator], list[torch.Tensor]]


class ModuleComparison(Comparison):
    """The student's module with the reference's weights gives the reference's output, and
    gradients reach every parameter."""

    def __init__(self, name: str, cases: list[ModuleCase], probes: list[str], phase: int):
        self.name, self.cases, self.probes, self.phase = name, cases, probes, phase

    def requests(self, rng: np.random.Generator) -> list[Request]:
        reqs = []
        for i, case in enumerate(self.cases):
            seed = int(rng.integers(2**31))
            torch.manual_seed(seed)
            ref = getattr(reference(), self.name)(*case.args, **case.kwargs)
            ref.train()
            inputs = case.inputs(rng)
            arrays = {f"input_{k}": x.numpy() for k, x in enumerate(inputs)}
            arrays |= {
                f"ref_def_{k}": p.detach().numpy().copy() for k, p in enumerate(ref.parameters())
            }
            exe = _params_by_execution(ref, [x.clone() for x in inputs])
            exe_kinds = param_kinds(ref, exe)
            arrays |= {f"ref_exe_{k}": p.detach().numpy().copy() for k, p in enumerate(exe)}
            with torch.no_grad():
                expected = ref(*[x.clone() for x in inputs]).double().numpy()
            meta = {
                "kind": "module",
                "name": self.name,
                "args": list(case.args),
                "kwargs": case.kwargs,
                "seed": seed,
                "train": True,
                "needs": [self.name],
                "probes": self.probes,
                "ref_exe_kinds": exe_kinds,
            }
            reqs.append(Request(f"{self.name}.{i}", meta, arrays, self.phase, expected))
        return reqs

    def judge(self, answers: dict[str, Answer], requests: list[Request]) -> Verdict:
        for case, req in zip(self.cases, requests, strict=True):
            answer = answers.get(req.name)
            why = _missing(answer, case.label)
            if why:
                return Verdict(False, why)
            meta, arrays = answer
            problems = []
            for order in ("kinds", "definition", "execution"):
                cand = meta.get("candidates", {}).get(order, {})
                got = arrays.get(f"out_{order}")
                if got is None:
                    problems.append(cand.get("error", "no output"))
                    continue
                if got.shape != req.expected.shape:
                    problems.append(
                        f"output shape {tuple(got.shape)}, expected {tuple(req.expected.shape)}"
                    )
                    continue
                if not _close(got, req.expected):
                    problems.append(
                        f"with the reference weights loaded the output differs from the "
                        f"reference's (max |difference| {_max_diff(got, req.expected):.3g})"
                    )
                    continue
                if cand.get("dead_gradients"):
                    shapes = ", ".join(str(tuple(s)) for s in cand["dead_gradients"])
                    return Verdict(
                        False, f"{case.label}: no gradient reaches the parameters of shape {shapes}"
                    )
                break
            else:
                problem = _best_problem(problems)
                if problem.startswith("shapes"):
                    shapes = [tuple(s) for s in meta.get("param_shapes", [])]
                    problem = (
                        f"its parameters have shapes {shapes}, the reference's {_sorted_ref(req)}"
                    )
                return Verdict(False, f"{case.label}: {problem}")
        return Verdict(True)


def _sorted_ref(req: Request) -> list[tuple]:
    keys = sorted((k for k in req.arrays if k.startswith("ref_def_")), key=lambda k: int(k[8:]))
    return [tuple(req.arrays[k].shape) for k in keys]


def _best_problem(problems: list[str]) -> str:
    """The most telling of the problems of the two weight orders."""
    for word in ("Error", "differs", "output shape", "shapes"):
        for p in problems:
            if word in p:
                return p
    return problems[0] if problems else "no output"


class ParameterCount(Comparison):
    """The paper's network has the paper's number of parameters."""

    def __init__(self, name: str, args: tuple, kwargs: dict, probes: list[str], label: str):
        self.name, self.args, self.kwargs, self.probes, self.label = (
            name,
            args,
            kwargs,
            probes,
            label,
        )

    def requests(self, rng: np.random.Generator) -> list[Request]:
        with torch.device("meta"):
            ref = getattr(reference(), self.name)(*self.args, **self.kwargs)
        expected = sum(p.numel() for p in ref.parameters())
        meta = {
            "kind": "count",
            "name": self.name,
            "args": list(self.args),
            "kwargs": self.kwargs,
            "needs": [self.name],
            "probes": self.probes,
        }
        return [Request(f"{self.name}.count", meta, {}, PROBE_PHASE, expected)]

    def judge(self, answers: dict[str, Answer], requests: list[Request]) -> Verdict:
        req = requests[0]
        answer = answers.get(req.name)
        why = _missing(answer, self.label)
        if why:
            return Verdict(False, why)
        got = answer[0].get("param_count")
        if got != req.expected:
            return Verdict(False, f"{self.label} has {got:,} parameters, expected {req.expected:,}")
        return Verdict(True)


class AllOf(Comparison):
    """Several comparisons that make one test."""

    def __init__(self, *parts: Comparison):
        self.parts = parts

    def requests(self, rng: np.random.Generator) -> list[Request]:
        self._split = []
        out = []
        for part in self.parts:
            reqs = part.requests(rng)
            self._split.append(reqs)
            out += reqs
        return out

    def judge(self, answers: dict[str, Answer], requests: list[Request]) -> Verdict:
        by_name = {r.name: r for r in requests}
        for part, reqs in zip(self.parts, self._split, strict=True):
            verdict = part.judge(answers, [by_name[r.name] for r in reqs])
            if not verdict.passed:
                return verdict
        return Verdict(True)


# ---- (c) center_crop --------------------------------------------------------------------------


class CenterCrop(Comparison):
    """The centre window; where the margin is odd, either rounding of the centre is accepted."""

    def requests(self, rng: np.random.Generator) -> list[Request]:
        sizes = [(64, 64, 56, 56), (17, 20, 8, 13), (9, 9, 9, 9), (30, 31, 1, 2)]
        sizes.append(
            tuple(
                int(v)
                for v in (
                    rng.integers(20, 40),
                    rng.integers(20, 40),
                    rng.integers(4, 19),
                    rng.integers(4, 19),
                )
            )
        )
        reqs = []
        for i, (h, w, th, tw) in enumerate(sizes):
            x = _tensor(rng, 2, 3, h, w)
            tops = {(h - th) // 2, (h - th + 1) // 2}
            lefts = {(w - tw) // 2, (w - tw + 1) // 2}
            expected = [
                x[..., t : t + th, left : left + tw].numpy() for t in tops for left in lefts
            ]
            meta = {
                "kind": "function",
                "name": "center_crop",
                "extra_args": [th, tw],
                "needs": ["center_crop"],
                "label": f"center_crop of a {h}x{w} map to {th}x{tw}",
            }
            reqs.append(Request(f"center_crop.{i}", meta, {"input_0": x.numpy()}, 1, expected))
        return reqs

    def judge(self, answers: dict[str, Answer], requests: list[Request]) -> Verdict:
        for req in requests:
            label = req.meta["label"]
            answer = answers.get(req.name)
            why = _missing(answer, label)
            if why:
                return Verdict(False, why)
            got = answer[1].get("out")
            if got is None:
                return Verdict(False, f"{label}: no tensor returned")
            want = req.expected[0]
            if got.shape != want.shape:
                return Verdict(
                    False, f"{label}: shape {tuple(got.shape)}, expected {tuple(want.shape)}"
                )
            if not any(np.array_equal(got, e) for e in req.expected):
                return Verdict(False, f"{label}: the window is not the centre of the map")
        return Verdict(True)


# ---- (e) the loss ----------------------------------------------------------------------------


class Loss(Comparison):
    """Eq. (1) with and without class weights, one class, C = 1, extreme logits, float32: value
    and gradient equal to the reference's; ``F.cross_entropy``/``F.nll_loss`` not called."""

    def requests(self, rng: np.random.Generator) -> list[Request]:
        n, c, h, w = 2, 4, int(rng.integers(5, 9)), int(rng.integers(5, 9))
        rand = rng.standard_normal((n, c, h, w)) * 3
        target = rng.integers(0, c, (n, h, w))
        weight = rng.uniform(0.2, 3.0, c)
        cases = [
            ("random logits", rand, target, None),
            ("class weights", rand, target, weight),
            ("one class only in the target", rand, np.zeros_like(target), None),
            ("a single-class problem (C = 1)", rand[:, :1], np.zeros_like(target), None),
            ("extreme logits (+-1e4)", np.sign(rand) * 1e4, target, None),
            ("extreme logits with weights", rand * 1e3, target, weight),
            ("float32 logits", rand.astype(np.float32), target, None),
        ]
        arrays, expected = {}, []
        ce = reference().categorical_cross_entropy
        for i, (label, logits, tgt, wgt) in enumerate(cases):
            arrays[f"logits_{i}"] = logits
            arrays[f"target_{i}"] = tgt.astype(np.int64)
            t_logits = torch.from_numpy(logits).clone().requires_grad_()
            args = [torch.from_numpy(tgt.astype(np.int64))]
            if wgt is not None:
                arrays[f"weight_{i}"] = wgt
                args.append(torch.from_numpy(wgt))
            value = ce(t_logits, *args)
            value.backward()
            expected.append(
                (label, float(value.detach()), t_logits.grad.double().numpy(), logits.dtype)
            )
        meta = {"kind": "loss", "name": "categorical_cross_entropy", "cases": len(cases)}
        meta["needs"] = ["categorical_cross_entropy"]
        return [Request("loss", meta, arrays, 1, expected)]

    def judge(self, answers: dict[str, Answer], requests: list[Request]) -> Verdict:
        req = requests[0]
        answer = answers.get(req.name)
        why = _missing(answer, "categorical_cross_entropy")
        if why:
            return Verdict(False, why)
        meta, arrays = answer
        if meta.get("calls"):
            return Verdict(
                False,
                f"the loss calls F.{meta['calls'][0]}: Eq. (1) must be written out with tensor "
                "operations (softmax or log-sum-exp, log, one-hot, sum over the classes)",
            )
        for i, (label, value, grad, dtype) in enumerate(req.expected):
            case = meta["cases"][i] if i < len(meta.get("cases", [])) else {"error": "no answer"}
            if "error" in case:
                return Verdict(False, f"{label}: {case['error']}")
            got = case["value"]
            tol = 1e-5 if dtype == np.float64 else 1e-4
            if not np.isfinite(got):
                return Verdict(
                    False, f"{label}: the loss is {got} (use log-sum-exp for a stable log-softmax)"
                )
            if abs(got - value) > tol * max(1.0, abs(value)):
                return Verdict(False, f"{label}: loss {got:.6g}, expected {value:.6g}")
            got_grad = arrays.get(f"grad_{i}")
            if got_grad is None or got_grad.shape != grad.shape or _max_diff(got_grad, grad) > tol:
                return Verdict(
                    False, f"{label}: the loss is right but its gradient differs from the reference"
                )
        return Verdict(True)


# ---- (f) train_step --------------------------------------------------------------------------


class TrainStep(Comparison):
    """Three Adam steps of the student's ``train_step`` give the reference's losses and weights."""

    steps, lr = 3, 1e-2

    def requests(self, rng: np.random.Generator) -> list[Request]:
        torch.manual_seed(int(rng.integers(2**31)))
        model = _small_net("conv_bn_relu_conv")
        arrays = {f"state.{k}": v.detach().numpy().copy() for k, v in model.state_dict().items()}
        images = _tensor(rng, 3, 4, 10, 10)
        labels = torch.from_numpy(rng.integers(0, 4, (3, 10, 10)))
        arrays |= {"images": images.numpy(), "labels": labels.numpy()}
        model.eval()
        opt = torch.optim.Adam(model.parameters(), lr=self.lr)
        losses = [
            reference().train_step(model, images, labels, opt, F.cross_entropy)
            for _ in range(self.steps)
        ]
        params = [p.detach().double().numpy() for p in model.parameters()]
        meta = {"kind": "train_step", "name": "train_step", "net": "conv_bn_relu_conv"}
        meta |= {"lr": self.lr, "steps": self.steps, "needs": ["train_step"]}
        return [Request("train_step", meta, arrays, 1, (losses, params))]

    def judge(self, answers: dict[str, Answer], requests: list[Request]) -> Verdict:
        req = requests[0]
        answer = answers.get(req.name)
        why = _missing(answer, "train_step")
        if why:
            return Verdict(False, why)
        meta, arrays = answer
        losses, params = req.expected
        for step, (got, want) in enumerate(zip(meta.get("losses", []), losses, strict=False)):
            if not isinstance(got, (int, float)) or isinstance(got, bool):
                return Verdict(
                    False,
                    f"step {step + 1}: train_step returned {got}, not the loss as a Python float (loss.item())",
                )
            if abs(got - want) > 1e-5 * max(1.0, abs(want)):
                return Verdict(
                    False, f"step {step + 1}: returned {got:.6f}, expected the loss {want:.6f}"
                )
        if not meta.get("training_mode", True):
            return Verdict(
                False, "the model was left in evaluation mode: train_step must call model.train()"
            )
        diff = max(
            _max_diff(arrays.get(f"param_{i}", np.full_like(p, np.nan)), p)
            for i, p in enumerate(params)
        )
        if not diff <= 1e-5:
            return Verdict(
                False,
                f"after {self.steps} Adam steps the weights differ from the reference's by {diff:.3g}: "
                "are the gradients cleared (optimizer.zero_grad()) and the step taken once per batch?",
            )
        return Verdict(True)


# ---- (g) predict and dice_score --------------------------------------------------------------


class PredictDice(Comparison):
    """``dice_score`` equals the BraTS Dice on mask pairs (empty ones included); ``predict`` is the
    argmax of the model in evaluation mode."""

    def requests(self, rng: np.random.Generator) -> list[Request]:
        from unet_tp import metrics

        arrays, dice = {}, []
        shapes = [((5, 6), 0.3), ((4, 8, 3), 0.05), ((10,), 0.0), ((3, 3), 1.0), ((7, 7), 0.5)]
        for i, (shape, p) in enumerate(shapes):
            a, b = rng.random(shape) < p, rng.random(shape) < p
            arrays[f"a_{i}"], arrays[f"b_{i}"] = a, b
            dice.append((shape, float(metrics.dice(a, b))))
        torch.manual_seed(int(rng.integers(2**31)))
        model = _small_net("conv_bn")
        with torch.no_grad():
            model(_tensor(rng, 8, 4, 6, 6) * 3 + 1)  # running statistics away from 0 and 1
        arrays |= {f"state.{k}": v.detach().numpy().copy() for k, v in model.state_dict().items()}
        images = _tensor(rng, 2, 4, 6, 6)
        arrays["images"] = images.numpy()
        model.train()
        pred = reference().predict(model, images).long().numpy()
        meta = {"kind": "predict_dice", "net": "conv_bn", "pairs": len(shapes)}
        meta["needs"] = ["predict", "dice_score"]
        return [Request("predict_dice", meta, arrays, 1, (dice, pred))]

    def judge(self, answers: dict[str, Answer], requests: list[Request]) -> Verdict:
        req = requests[0]
        answer = answers.get(req.name)
        why = _missing(answer, "predict / dice_score")
        if why:
            return Verdict(False, why)
        meta, arrays = answer
        dice, pred = req.expected
        for (shape, want), got in zip(dice, meta.get("dice", []), strict=False):
            if isinstance(got, str):
                return Verdict(False, f"dice_score of two {shape} masks: {got}")
            if abs(got - want) > 1e-9:
                empty = " (two empty masks agree perfectly: 1.0)" if want == 1.0 else ""
                return Verdict(
                    False, f"dice_score of two {shape} masks: {got:.6g}, expected {want:.6g}{empty}"
                )
        if meta.get("predict_error"):
            return Verdict(False, f"predict: {meta['predict_error']}")
        got = arrays.get("pred")
        if got is None or got.shape != pred.shape:
            shape = None if got is None else tuple(got.shape)
            return Verdict(
                False,
                f"predict returned shape {shape}, expected {tuple(pred.shape)} (the argmax over the classes)",
            )
        if not np.array_equal(got, pred):
            return Verdict(
                False,
                "predict differs from the argmax of the model in evaluation mode (model.eval())",
            )
        return Verdict(True)


# ---- the table the spec names ------------------------------------------------------------------


def _unet_size(rng: np.random.Generator) -> int:
    ref = reference().UNet(4, 4, base_channels=4, depth=3, padding=False)
    return ref.input_size_for(int(rng.integers(12, 28)))


def comparisons() -> dict[str, Comparison]:
    """``compare`` name of the spec -> its comparison: a table, one entry per comparison, with the
    inputs of each case beside it (it reads better whole than split)."""
    conv_in = lambda rng: [_tensor(rng, 2, 3, 20, 20)]  # noqa: E731
    return {
        "double_conv": ModuleComparison(
            "DoubleConv",
            [
                ModuleCase(
                    "DoubleConv(3, 8)", (3, 8), {"padding": False, "batch_norm": False}, conv_in
                ),
                ModuleCase(
                    "DoubleConv(3, 8, padding=True)",
                    (3, 8),
                    {"padding": True, "batch_norm": False},
                    conv_in,
                ),
                ModuleCase(
                    "DoubleConv(3, 8, batch_norm=True)",
                    (3, 8),
                    {"padding": False, "batch_norm": True},
                    conv_in,
                ),
            ],
            probes=[],
            phase=1,
        ),
        "down": ModuleComparison(
            "Down",
            [
                ModuleCase(
                    "Down(8, 16)",
                    (8, 16),
                    {"padding": False, "batch_norm": False},
                    lambda rng: [_tensor(rng, 2, 8, 24, 24)],
                ),
                ModuleCase(
                    "Down(8, 16, padding=True, batch_norm=True)",
                    (8, 16),
                    {"padding": True, "batch_norm": True},
                    lambda rng: [_tensor(rng, 2, 8, 24, 24)],
                ),
            ],
            probes=["DoubleConv"],
            phase=PROBE_PHASE,
        ),
        "center_crop": CenterCrop(),
        "up": ModuleComparison(
            "Up",
            [
                ModuleCase(
                    "Up(16, 8) (skip 20x20 cropped to 12x12)",
                    (16, 8),
                    {"padding": False, "batch_norm": False},
                    lambda rng: [_tensor(rng, 2, 16, 6, 6), _tensor(rng, 2, 8, 20, 20)],
                ),
                ModuleCase(
                    "Up(16, 8, padding=True, batch_norm=True)",
                    (16, 8),
                    {"padding": True, "batch_norm": True},
                    lambda rng: [_tensor(rng, 2, 16, 6, 6), _tensor(rng, 2, 8, 12, 12)],
                ),
            ],
            probes=["DoubleConv", "center_crop"],
            phase=PROBE_PHASE,
        ),
        "unet": AllOf(
            ModuleComparison(
                "UNet",
                [
                    ModuleCase(
                        "UNet(4, 4, base_channels=4, depth=3)",
                        (4, 4),
                        {"base_channels": 4, "depth": 3, "padding": False},
                        lambda rng: [_tensor(rng, 1, 4, *(2 * (_unet_size(rng),)))],
                    ),
                    ModuleCase(
                        "UNet(4, 4, base_channels=4, depth=4, padding=True, batch_norm=True)",
                        (4, 4),
                        {"base_channels": 4, "depth": 4, "padding": True, "batch_norm": True},
                        lambda rng: [_tensor(rng, 2, 4, 48, 48)],
                    ),
                ],
                probes=ALL_PROBES,
                phase=PROBE_PHASE,
            ),
            ParameterCount(
                "UNet",
                (),
                {"in_channels": 1, "num_classes": 2},
                ALL_PROBES,
                "the paper's network UNet(in_channels=1, num_classes=2)",
            ),
        ),
        "loss": Loss(),
        "train_step": TrainStep(),
        "predict_dice": PredictDice(),
    }


def fresh_rng() -> np.random.Generator:
    """A generator seeded at grading time: no notebook can know its inputs in advance."""
    return np.random.default_rng(secrets.randbits(128))
