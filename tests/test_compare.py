"""The grader's comparisons, in process (no sandbox): the reference passes, correct code written
differently passes, each real mistake fails its own block only."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.compare import comparisons, fresh_rng, judge
from notebooks import DOUBLE_CONV_ONE_RELU, answer, namespace


def notebook(**replace: tuple[str, str]) -> dict:
    """The namespace of a solved notebook, with ``cell=(old, new)`` replacements."""
    return namespace({cell: [edit] for cell, edit in replace.items()})


def verdicts(ns: dict) -> dict[str, bool]:
    """Each comparison of the spec on this namespace, the way the sandboxed kernel answers."""
    rng, out = fresh_rng(), {}
    for name, comparison in comparisons().items():
        requests = comparison.requests(rng)
        answers = {r.name: answer(ns, r) for r in requests}
        out[name] = judge(comparison, answers, requests).passed
    return out


# every test runs all the grader's comparisons on a whole notebook namespace
pytestmark = pytest.mark.slow

ALL = dict.fromkeys(
    ["double_conv", "down", "center_crop", "up", "unet", "loss", "train_step", "predict_dice"], True
)


def test_the_reference_passes_everything():
    assert verdicts(notebook()) == ALL


@pytest.mark.parametrize(
    "replace, failed",
    [
        ({"double_conv": ("pad = 1 if padding else 0", "pad = 0")}, {"double_conv"}),
        ({"up": ("torch.cat([skip, x], dim=1)", "torch.cat([x, skip], dim=1)")}, {"up"}),
        ({"up": ("top = (x.shape[-2] - height) // 2", "top = 0")}, {"center_crop"}),
        (
            {
                "cce_loss": (
                    "per_pixel = -(t * log_s).sum(dim=1)",
                    "per_pixel = -(t * log_s).mean(dim=1)",
                )
            },
            {"loss"},
        ),
        ({"train_step": ("optimizer.zero_grad()", "pass")}, {"train_step"}),
        ({"predict_dice": ("model.eval()", "pass")}, {"predict_dice"}),
        ({"predict_dice": ("return 1.0  # both empty", "return 0.0")}, {"predict_dice"}),
    ],
)
def test_one_mistake_fails_its_own_block_only(replace, failed):
    got = verdicts(notebook(**replace))
    assert {k for k, ok in got.items() if not ok} == failed, got


@pytest.mark.parametrize(
    "replace",
    [
        # one ReLU module used twice, attributes of its own, a bias kept before the batch norm
        {"double_conv": ("", "")},
        # F.max_pool2d instead of nn.MaxPool2d
        {"down": ("return self.conv(self.pool(x))", "return self.conv(F.max_pool2d(x, 2))")},
        # log_softmax instead of logsumexp
        {
            "cce_loss": (
                "log_s = logits - torch.logsumexp(logits, dim=1, keepdim=True)",
                "log_s = torch.log_softmax(logits, dim=1)",
            )
        },
        # zero_grad after the step
        {
            "train_step": (
                "optimizer.zero_grad()  # gradients accumulate in .grad: clear the previous step's\n"
                "    loss = loss_fn(model(images), labels)\n    loss.backward()\n    optimizer.step()",
                "loss = loss_fn(model(images), labels)\n    loss.backward()\n    optimizer.step()\n"
                "    optimizer.zero_grad()",
            )
        },
    ],
)
def test_correct_code_written_differently_passes(replace):
    ns = notebook(**replace)
    if "double_conv" in replace:
        exec(compile(DOUBLE_CONV_ONE_RELU, "<cell>", "exec"), ns)  # noqa: S102
    assert verdicts(ns) == ALL


def test_the_loss_must_not_call_torch_cross_entropy():
    """Read from the answer's text in the grader's process (the kernel's word proves nothing):
    through a helper of the student's own, a torch._C form, a name in a string; a comparison with
    F.cross_entropy beside the answer, or a docstring that names it, costs nothing."""
    from nbformat.v4 import new_code_cell, new_notebook

    from autograder import static
    from autograder.spec import load

    def graded(*cells: tuple[str | None, str]) -> set[str]:
        nb = new_notebook(cells=[new_code_cell(src) for _, src in cells])
        for cell, (gid, _) in zip(nb.cells, cells, strict=True):
            if gid:
                cell.metadata["nbgrader"] = {"grade_id": gid, "solution": True}
        return set(static.forbidden_calls(nb, load(), ["cell"] * len(cells)))

    answer = "def categorical_cross_entropy(logits, target, weight=None):\n    {}\n"
    for body in [
        "return F.cross_entropy(logits, target, weight=weight)",
        "return torch._C._nn.cross_entropy_loss(logits, target, weight, 1, -100, 0.0)",
        "return my_loss(logits, target)",
        'return getattr(F, "cross_entropy")(logits, target)',
        "return nn.CrossEntropyLoss()(logits, target)",
        # reached through what no name says: a tuple, a dict, the modules' table
        "return (F,)[0].cross_entropy(logits, target)",
        "return {'f': F}['f'].nll_loss(logits.log_softmax(1), target)",
        "return sys.modules['torch.nn.functional']._nll_loss_nd(logits, target)",
    ]:
        helper = "def my_loss(a, b):\n    return F.nll_loss(F.log_softmax(a, 1), b)\n"
        assert graded(("cce_loss", answer.format(body)), (None, helper)) == {"test_loss"}, body
    honest = answer.format(
        '"""As torch.nn.functional.cross_entropy."""\n    return my_loss(logits)'
    )
    compare = "print(categorical_cross_entropy(x, y), F.cross_entropy(x, y))"
    assert graded(("cce_loss", honest + compare), (None, "def my_loss(a):\n    return a")) == set()


SPREAD = """
import sys, numpy as np, torch
torch.set_num_threads(int(sys.argv[2]))
from autograder.compare import comparisons
out = {}
for name, comparison in comparisons().items():
    for r in comparison.requests(np.random.default_rng(11)):
        expected = r.expected
        if isinstance(expected, dict) and name != "train_step":  # {dtype: [(out, grads)...]}
            for dtype, variants in expected.items():
                for v, (value, grads) in enumerate(variants):
                    out[f"{r.name}.{dtype}.{v}.out"] = value
                    out |= {f"{r.name}.{dtype}.{v}.grad{k}": g for k, g in enumerate(grads)}
        elif name == "train_step":
            for dtype, (losses, params) in expected.items():
                out[f"{r.name}.{dtype}.losses"] = np.array(losses)
                out |= {f"{r.name}.{dtype}.param{k}": p for k, p in enumerate(params)}
np.savez(sys.argv[1], **out)
"""


def test_tolerances_stand_far_above_the_references_own_spread(tmp_path):
    """The reference computed in other processes, with 1 and 2 threads, differs from itself by
    far less than the tolerance a student's answer gets (a correct notebook never loses a point
    to rounding): at least 100 times less."""
    import subprocess
    import sys

    from autograder.compare import GRADIENT_TOLERANCE, TOLERANCE

    paths = [tmp_path / f"ref{i}.npz" for i in range(3)]
    procs = [  # side by side: each process's own threads, whatever the others do
        subprocess.Popen([sys.executable, "-c", SPREAD, str(path), str(threads)])
        for path, threads in zip(paths, (1, 2, 1), strict=True)
    ]
    assert [p.wait() for p in procs] == [0, 0, 0]
    runs = [dict(np.load(path)) for path in paths]
    worst = dict.fromkeys([("float64", False), ("float32", False), ("float64", True)], 0.0)
    worst[("float32", True)] = 0.0
    for other in runs[1:]:
        for key, value in runs[0].items():
            kind = ("float64" if ".float64." in key else "float32", ".grad" in key)
            scale = max(1.0, float(np.abs(value).max()))
            worst[kind] = max(worst[kind], float(np.abs(other[key] - value).max()) / scale)
    print("spread of the reference across processes and threads:", worst)
    for (dtype, gradient), spread in worst.items():
        tolerance = (GRADIENT_TOLERANCE if gradient else TOLERANCE)[dtype]
        assert spread * 100 <= tolerance, (dtype, gradient, spread)
