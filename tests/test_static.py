"""The cells' text, read in the grader's process (autograder/static.py): what an answer may not
use costs its block, through any alias; what a TP answer never needs is flagged for review; honest
notebooks are neither."""

from __future__ import annotations

import copy

import nbformat
import pytest

from autograder import static
from autograder.spec import load
from notebooks import SOLUTIONS, STUDENT


def notebook(answers: dict[str, str] | None = None, extra: str = ""):
    """The solved student notebook (the TP's set-up cell included), some answers replaced, and a
    cell of the student's own at the end."""
    nb = copy.deepcopy(STUDENT)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in SOLUTIONS:
            cell.source = (answers or {}).get(gid, SOLUTIONS[gid])
    if extra:
        nb.cells.append(nbformat.v4.new_code_cell(extra))
    return nb


def lost(nb) -> set[str]:
    labels = [f"cell {i}" for i in range(len(nb.cells))]
    return {gid.split("_", 1)[1] for gid in static.forbidden_calls(nb, load(), labels)}


def flagged(nb) -> str:
    return " ".join(static.review_reasons(nb, [f"cell {i}" for i in range(len(nb.cells))]))


def test_the_solved_notebook_is_neither_penalised_nor_flagged():
    nb = notebook(
        extra="print(categorical_cross_entropy(torch.zeros(1, 2, 1, 1), torch.zeros(1, 1, 1).long()), F.cross_entropy(torch.zeros(1, 2, 1, 1), torch.zeros(1, 1, 1).long()))\n%matplotlib inline\n!ls"
    )
    assert lost(nb) == set() and flagged(nb) == ""


LOSS = "def categorical_cross_entropy(logits, target, weight=None):\n    {}\n"
STEP = "def train_step(model, images, labels, optimizer, loss_fn):\n    {}\n"


@pytest.mark.parametrize(
    "answers, extra, block",
    [
        # the course package through an alias, or through the set-up cell's `checks`
        (
            {
                "cce_loss": "import unet_tp as course\nimport unet_tp.runs\n"
                + LOSS.format("return course.losses.LOSSES['ce'](logits, target)")
            },
            "",
            "loss",
        ),
        (
            {"train_step": "from unet_tp import train as t\ntrain_step = t.reference_step"},
            "",
            "train_step",
        ),
        (
            {
                "predict_dice": SOLUTIONS["predict_dice"].split("def dice_score")[0]
                + "dice_score = checks.exact_dice\n"
            },
            "",
            "predict_dice",
        ),
        (
            {
                "up": SOLUTIONS["up"].split("class Up")[0].split("def center_crop")[0]
                + "center_crop = checks._centre\n"
                + "class Up"
                + SOLUTIONS["up"].split("class Up")[1]
            },
            "",
            "center_crop",
        ),
        # names and code built from strings, in the answer or in a helper it uses
        (
            {
                "cce_loss": "import operator\n"
                + LOSS.format(
                    "return operator.attrgetter('_'.join(['cross', 'entropy']))(F)(logits, target)"
                )
            },
            "",
            "loss",
        ),
        ({"train_step": STEP.format("return get_ipython().ev('1')")}, "", "train_step"),
        (
            {"cce_loss": LOSS.format("return helper(logits, target)")},
            "def helper(a, b):\n    return eval('F.' + 'nll_loss')(a.log_softmax(1), b)\n",
            "loss",
        ),
        (
            {
                "cce_loss": LOSS.format(
                    "return torch._C._nn.cross_entropy_loss(logits, target, weight, 1, -100, 0.0)"
                )
            },
            "",
            "loss",
        ),
    ],
)
def test_what_an_answer_may_not_use_costs_its_block(answers, extra, block):
    assert block in lost(notebook(answers, extra))


@pytest.mark.parametrize(
    "extra, reason",
    [
        ("import sys as interpreter\ninterpreter.modules['unet_tp_harness']", "sys.modules"),
        ("from sys import modules\nmodules['x']", "sys.modules"),
        ("import sys\ngetattr(sys, 'modules')", "sys.modules"),
        ("from torch import _C", "torch._C"),
        ("import inspect\ninspect.currentframe().f_back", "frames"),
        ("import os\nos.symlink('/x', 'y')", "links"),
        ("open('/proc/self/mountinfo').read()", "mounts"),
        ("get_ipython().user_ns['x'] = 1", "namespace"),
        ("import importlib\nimportlib.import_module('unet_tp_harness')", "importlib"),
    ],
)
def test_what_a_tp_answer_never_needs_is_flagged_through_aliases(extra, reason):
    assert reason in flagged(notebook(extra=extra))


def test_a_chain_of_self_references_is_read_in_linear_time():
    """``w = w`` repeated: each definition is read once (it used to take hours)."""
    cells = "\n".join(["w = 0"] + ["w = w"] * 3000)
    nb = notebook({"cce_loss": LOSS.format("return w")}, cells)
    assert lost(nb) == set()
