"""Step 2 of grading: a submitted notebook as the TP laid it out.

Colab re-saves notebooks with its own metadata and new cell ids, keeps outputs, and ignores locked
cells; students move, copy and delete cells. Here the notebook is read (a file that is not one gets
a clear reason), cells that lost their nbgrader metadata get it back by content, graded cells go
back into the TP's order (each followed by the student's own cells), cells the TP locks (set-up,
data, test cells) are restored from the student notebook, deleted ones are put back, and each cell
gets a name a student understands ("(c) test cell", "your cell after (c)").
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import warnings
from pathlib import Path

import nbformat

from autograder import messages as M
from autograder.cells import clear_outputs, grade_id, nbgrader_meta
from autograder.collect import GradingError

# code a TP answer never needs, found in the text: the instructor reads the cells that use it (no
# grade depends on it); what the code itself reaches (code objects, hooks, gc, ctypes, sys.modules,
# built-ins...) is read through its aliases by autograder/static.py
# fmt: off
_SUSPICIOUS = [(re.compile(rx, re.M), why) for rx, why in [
    (r"hidden_tests|autograder|import_solutions|\bsolutions\b", "looks for the grader or the reference"),
    (r"NBGRADER|UNET_TP_GRADING|grading_state|gradebook", "looks for the grader or the reference"),
    (r"^\s*(?:torch|np|numpy|math|F|nn|checks|unittest)\.[\w.]+\s*=[^=]", "patches a library"),
    (r"\bos\.walk\(\s*['\"]/|glob\(\s*['\"]/(?!home|content)|rglob\(", "searches the disk"),
    (r"\bsocket\.|urllib\.request|\brequests\.(?:get|post)|http\.client", "uses the network"),
    (r"os\.fork\(|fork\(\)", "starts processes"),
]]
# fmt: on


def read_submission(path: Path):
    """The notebook, or a ``GradingError`` that says what is wrong with the file."""
    raw = path.read_bytes()
    if not raw.strip():
        raise GradingError("the file is empty")
    try:
        data = json.loads(raw.decode("utf-8", errors="replace"))
    except (RecursionError, ValueError) as exc:  # nesting past Python's limit, huge integers
        if not isinstance(exc, json.JSONDecodeError):
            raise GradingError(f"not a notebook: unreadable JSON ({type(exc).__name__})") from exc
        raise GradingError(
            f"not a notebook: invalid JSON ({exc.msg} at line {exc.lineno})"
        ) from exc
    if not isinstance(data, dict) or "cells" not in data:
        raise GradingError("not a notebook: no 'cells'")
    try:
        with warnings.catch_warnings():  # duplicate cell ids: nbformat renames them, and says so
            warnings.simplefilter("ignore")
            nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:  # nbformat raises several types for malformed notebooks
        raise GradingError(f"not a readable notebook: {exc}") from exc
    return nb


def without_outputs(nb):
    """The notebook without the outputs Colab kept (the grading run makes its own)."""
    for cell in nb.cells:
        clear_outputs(cell)
    return nb


def _normalised(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


_DEFINITION = re.compile(r"^(?:class|def)\s+(\w+)", re.M)


def _defined_names(source: str) -> set[str]:
    """The classes and functions a cell defines at its top level."""
    return set(_DEFINITION.findall(source))


def restore_metadata(nb, student_nb, notes: list[str] | None = None):
    """Give back their nbgrader metadata to cells that lost it (a notebook saved by a tool that
    drops cell metadata, or a cell deleted and pasted back): a cell without it whose source is
    that of a cell of the student notebook is that cell again, unless the notebook still has it."""
    present = {gid for c in nb.cells if (gid := grade_id(c))}
    by_source = {
        (c.cell_type, _normalised(c.source)): c
        for c in student_nb.cells
        if grade_id(c) and grade_id(c) not in present
    }
    restored = []
    for cell in nb.cells:
        if grade_id(cell):
            continue
        original = by_source.pop((cell.cell_type, _normalised(cell.source)), None)
        if original is not None:
            cell.metadata["nbgrader"] = copy.deepcopy(nbgrader_meta(original))
            restored.append(grade_id(cell))
    # an answer cell no longer holds the stub: it is the cell that defines the stub's names
    for original in list(by_source.values()):
        names = _defined_names(original.source)
        if not nbgrader_meta(original).get("solution") or not names:
            continue
        for cell in nb.cells:
            if (
                cell.cell_type == "code"
                and not grade_id(cell)
                and names <= _defined_names(cell.source)
            ):
                cell.metadata["nbgrader"] = copy.deepcopy(nbgrader_meta(original))
                restored.append(grade_id(cell))
                break
    if restored and notes is not None:
        notes.append(M.METADATA_RESTORED.format(count=len(restored)))
    return nb


def in_source_order(nb, student_nb, notes: list[str] | None = None):
    """The notebook with the TP's cells in the student notebook's order, each followed by the
    student's own cells that followed it; the cells the TP locks restored, deleted ones put back.

    A copy of a graded cell (same ``grade_id``) stays where it is as the student's own cell: it
    still runs, but only the first copy counts. Cell ids are made unique. What was changed is
    appended to ``notes``.
    """
    tp_cells = {gid: c for c in student_nb.cells if (gid := grade_id(c))}
    order = {gid: i for i, gid in enumerate(tp_cells)}
    head: list = []
    groups: list[tuple[int, list]] = []
    seen = set()
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid is not None and (gid in seen or gid not in order):
            del cell.metadata["nbgrader"]
            if notes is not None and gid in seen:
                notes.append(M.COPIED_CELL.format(gid=gid))
            gid = None
        if gid is not None:
            seen.add(gid)
            groups.append((order[gid], [cell]))
        elif groups:
            groups[-1][1].append(cell)
        else:
            head.append(cell)
    restored, added = [], []
    for gid, original in tp_cells.items():
        meta = nbgrader_meta(original)
        if gid not in seen:
            if meta.get("solution"):  # the student's answer may live in a cell of their own
                continue
            groups.append((order[gid], [copy.deepcopy(original)]))
            added.append(gid)
        elif not meta.get("solution"):
            cell = next(c for _, cells in groups for c in cells[:1] if grade_id(c) == gid)
            if cell.source != original.source or cell.cell_type != original.cell_type:
                restored.append(gid)
            cell.source, cell.cell_type = original.source, original.cell_type
            cell.metadata["nbgrader"] = copy.deepcopy(meta)
            if cell.cell_type == "markdown":
                cell.pop("outputs", None)
                cell.pop("execution_count", None)
    groups.sort(key=lambda g: g[0])
    nb.cells = head + [c for _, cells in groups for c in cells]
    ids: set[str] = set()
    for i, cell in enumerate(nb.cells):
        if "id" not in cell or cell.id in ids:
            cell.id = f"cell-{i}-{secrets.token_hex(4)}"
        ids.add(cell.id)
    if notes is not None and added:
        notes.append(M.CELLS_PUT_BACK.format(count=len(added), cells=", ".join(added)))
    if notes is not None and restored:
        notes.append(M.LOCKED_RESTORED.format(count=len(restored)))
    return nb


def _heading(markdown: str) -> str | None:
    for line in markdown.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return None


def cell_labels(nb, student_nb, spec) -> list[str]:
    """A name a student understands for each cell of a repaired notebook: the TP's cells by their
    block or section ("(c) test cell", "the TP's cell in '2. Getting the data'"), the student's
    own as "your cell after (c)"."""
    by_gid = {}
    for block in spec.blocks:
        by_gid[block.solution_cell] = f"({block.id}) {block.names[0]}"
        for test in block.tests:
            by_gid[test.grade_id] = M.TEST_CELL.format(block=block.id)
    tp_untagged = {_normalised(c.source) for c in student_nb.cells if not grade_id(c)}
    labels, section, last = [], M.NOTEBOOK_TOP, None
    for cell in nb.cells:
        gid = grade_id(cell)
        if cell.cell_type == "markdown":
            section = _heading(cell.source) or section
        if gid in by_gid:
            label = by_gid[gid]
            last = label.split(" ", 1)[0] if label.startswith("(") else label
        elif gid or _normalised(cell.source) in tp_untagged:
            label = M.TP_CELL.format(section=section)
            last = f"'{section}'"
        else:
            label = M.YOUR_CELL.format(last=last or M.NOTEBOOK_TOP)
        labels.append(label)
    return labels


def suspicious_cells(nb, labels: list[str]) -> list[str]:
    """Review reasons for the student's cells (not the TP's locked cells, restored above) that use
    code a TP answer never needs. They are for the instructor to read; no grade depends on them."""
    found = []
    for i, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        locked = (meta.get("grade") or meta.get("locked")) and not meta.get("solution")
        if cell.cell_type != "code" or locked:
            continue
        what = sorted({label for rx, label in _SUSPICIOUS if rx.search(cell.source)})
        if what:
            found.append(f"cell {i + 1} ({labels[i]}): {', '.join(what)}")
    return found


def submitted_outputs(nb, student_nb) -> dict[str, str]:
    """The text the student's own notebook showed under the training and evaluation cells, as
    uploaded (before grading cleared the outputs)."""
    out = {}
    for key in ("training", "evaluate"):
        cell = next((c for c in nb.cells if grade_id(c) == key), None)
        text = ""
        if cell is not None:
            for o in cell.get("outputs", []):
                if o.get("output_type") == "stream":
                    text += "".join(o.get("text", ""))
                elif "text/plain" in o.get("data", {}):
                    text += "".join(o["data"]["text/plain"]) + "\n"
        out["evaluation" if key == "evaluate" else key] = text[-5000:]
    return out
