"""Notebooks and notebook namespaces the tests build, from the TP's own notebooks (not a test
module): the student notebook solved from the source notebook's solution cells, realistic edits
of it, and the namespace of a solved notebook with what the sandboxed kernel answers in it."""

from __future__ import annotations

import copy
import linecache
import re

import nbformat
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import autograder.harness as harness
from autograder import build, probes
from unet_tp.unet_base import UNetBase

SOURCE = nbformat.read(build.SOURCE_NOTEBOOK, 4)
STUDENT = nbformat.read(build.STUDENT_NOTEBOOK, 4)
SOLUTIONS = {
    c.metadata["nbgrader"]["grade_id"]: c.source
    for c in SOURCE.cells
    if c.metadata.get("nbgrader", {}).get("solution")
}
STUBS = {
    c.metadata["nbgrader"]["grade_id"]: c.source
    for c in STUDENT.cells
    if c.metadata.get("nbgrader", {}).get("solution")
}
REGIONS = build.solution_regions()
FULL = {"a": 2, "b": 2, "c": 3, "d": 4, "e": 4, "f": 3, "g": 2}
# correct, written differently: one ReLU module applied twice (as torchvision's ResNet does),
# attributes of its own, no nn.Sequential, the bias kept before the batch norm
DOUBLE_CONV_ONE_RELU = """\
class DoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        p = 1 if padding else 0
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=p)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=p)
        self.bn1 = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        self.bn2 = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(x)))
"""


def gid(cell) -> str | None:
    """The nbgrader id of a cell."""
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def solved(*empty: str, **replace: tuple[str, str]):
    """The student notebook with every blank filled from the reference, but the answer cells
    ``empty`` (their stubs), then ``replace``d (``cell=(old, new)``) to make a realistic
    mistake; a written answer is its rubric's text without the mark ``**Rubric (2 points).**``
    (a student's answer holding it is flagged: a copy of the solution notebook)."""
    return without_rubric_marks(_solved(*empty, **replace))


def without_rubric_marks(nb):
    """``nb`` with the rubric marks taken out of its text cells."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = RUBRIC_MARK.sub("", cell.source)
    return nb


RUBRIC_MARK = re.compile(r"\*\*(?:Rubric|Barème) \(\d+ points?\)\.\*\* ?")


def _solved(*empty: str, **replace: tuple[str, str]):
    nb = copy.deepcopy(STUDENT)
    for cell in nb.cells:
        cell_id = gid(cell)
        if cell_id in SOLUTIONS:
            cell.source = STUBS[cell_id] if cell_id in empty else SOLUTIONS[cell_id]
            if cell_id in replace:
                old, new = replace[cell_id]
                assert old in cell.source, (cell_id, old)
                cell.source = cell.source.replace(old, new)
    return nb


def solved_french():
    """A French student's solved notebook: the translated TP as ``notebook build`` writes it
    (its badge and its ``LANGUAGE = "fr"`` set up cell), every blank filled from the reference."""
    from autograder.i18n import load_catalog, translate_notebook

    nb = translate_notebook(_solved(), load_catalog("fr"), "fr")
    french = {gid(c): c for c in nbformat.read(build.STUDENT_NOTEBOOKS["fr"], 4).cells}
    for cell in nb.cells:
        if gid(cell) in ("badge", "setup"):
            cell.source = french[gid(cell)].source
    return without_rubric_marks(nb)


def with_cell(nb, cell_id: str, source: str):
    """The notebook with the cell ``cell_id`` replaced by ``source``."""
    next(c for c in nb.cells if gid(c) == cell_id).source = source
    return nb


def insert_after(nb, cell_id: str, source: str):
    """The notebook with a cell of the student's own right after the cell ``cell_id``."""
    i = next(i for i, c in enumerate(nb.cells) if gid(c) == cell_id)
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell(source))
    return nb


def _exec(source: str, filename: str, ns: dict) -> None:
    # as IPython does: the cell's lines are in linecache, so tracebacks quote them
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), ns)  # noqa: S102


def namespace(edits: dict[str, list[tuple[str, str]]] | None = None, extra: dict | None = None):
    """The namespace of a solved notebook: ``edits`` replace text in a cell, ``extra`` runs a
    student's own code right after a cell."""
    ns = {"torch": torch, "nn": nn, "F": F, "np": np, "UNetBase": UNetBase, "__name__": "__main__"}
    for cell_id, source in REGIONS.items():
        for old, new in (edits or {}).get(cell_id, []):
            assert old in source, (cell_id, old)
            source = source.replace(old, new)
        _exec(source, f"<cell {cell_id}>", ns)
        if extra and cell_id in extra:
            _exec(extra[cell_id], f"<cell {cell_id} (yours)>", ns)
    return ns


def answer(ns: dict, request) -> tuple[dict, dict]:
    """What the sandboxed kernel answers to ``request`` with this namespace."""
    subs = {p: probes.fitted(probes.PROBES[p], ns.get(p)) for p in request.meta.get("probes", [])}
    missing = [n for n in request.meta.get("needs", []) if n not in ns]
    if missing:
        return {"missing": missing}, {}
    with harness._substituted(ns, subs):
        try:
            return harness._KINDS[request.meta["kind"]](ns, request.meta, request.arrays)
        except Exception as exc:
            return {"error": repr(exc)}, {}
