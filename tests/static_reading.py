"""The static reading's tests' notebooks (tests/test_static*.py): the solved student notebook with
answers replaced and a cell of the student's own, and what the grader's reading of it says."""

from __future__ import annotations

import copy

import nbformat

from autograder import static
from autograder.spec import load
from notebooks import SOLUTIONS, STUDENT

LOSS = "def categorical_cross_entropy(logits, target, weight=None):\n    {}\n"
STEP = "def train_step(model, images, labels, optimizer, loss_fn):\n    {}\n"
DEBUG_CE = "x = torch.randn(2, 4, 3, 3)\ny = torch.randint(0, 4, (2, 3, 3))\n"


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


_last_read: list = []  # [the notebook's text, its reading]


def reading(nb) -> static.Notebook:
    """``nb`` read once for :func:`lost` and :func:`flagged` both, as the grader reads a
    submission once for all its readings (read again once its text changes)."""
    text = nbformat.writes(nb)
    if not _last_read or _last_read[0] != text:
        _last_read[:] = [text, static.read(nb)]
    return _last_read[1]


def lost(nb) -> set[str]:
    """The blocks the reading takes the points of."""
    labels = [f"cell {i}" for i in range(len(nb.cells))]
    return {gid.split("_", 1)[1] for gid in static.forbidden_calls(reading(nb), load(), labels)}


def flagged(nb) -> str:
    """The reading's review lines, joined."""
    labels = [f"cell {i}" for i in range(len(nb.cells))]
    return " ".join(static.review_reasons(reading(nb), labels))
