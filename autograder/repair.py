"""Step 2 of grading: a submitted notebook as the TP laid it out.

Colab re-saves notebooks with its own metadata and cell ids and keeps outputs; students move,
copy and delete cells. Here a file that is not a notebook gets a clear reason, cells that lost
their nbgrader metadata get it back by content, graded cells go back into the TP's order (each
followed by the student's own), locked cells are restored, deleted ones put back, and each cell
gets a name a student understands ("(c) test cell", "your cell after (c)").
"""

from __future__ import annotations

import ast
import copy
import json
import re
import resource
import secrets
import subprocess
import sys
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import nbformat

from autograder import messages as M
from autograder.cells import clear_outputs, grade_id, nbgrader_meta, parse_code
from autograder.collect import STRAY_SUFFIXES, GradingError, zip_problem
from autograder.spec import load as load_spec

MAX_NOTEBOOK_BYTES = 256 << 20  # a Colab notebook with all its figures is tens of MiB
# A notebook is parsed in a process of its own: a file of small JSON objects takes about 200
# times its size to read (a red team's 28 MiB of metadata, 48 KiB zipped, killed the grader and
# the class's grades with it). A 256 MiB notebook of figures takes about 1.5 GiB.
READER_MEMORY_BYTES = 3 << 30
READER_SECONDS = 300
MAX_CELLS = 2_000  # (the TP has about a hundred)
MAX_OUTPUTS = 100  # of a cell's, the last, kept: grading reads their text and errors
MAX_ALL_OUTPUTS = 20_000  # and of the notebook's
MAX_ATTACHED = 16 << 20  # characters of base64 of the images attached to text cells, in all
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")  # (an SVG is markup: not kept)
_TOO_LARGE = "ask for a copy without outputs (Edit > Clear all outputs, then save)"


def read_submission(path: Path):
    """The notebook as grading reads it (its cells, their nbgrader metadata, the text and errors
    of their outputs, its language), or a ``GradingError`` that says what is wrong with the file:
    read in a process of its own, its memory capped."""
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:  # read whole, it would take the grader's memory
        raise GradingError(
            f"the file is too large for a notebook ({size >> 20} MiB, over "
            f"{MAX_NOTEBOOK_BYTES >> 20} MiB): {_TOO_LARGE}"
        )
    command = [sys.executable, "-m", "autograder.repair", str(path), str(READER_MEMORY_BYTES)]
    try:
        proc = subprocess.run(command, capture_output=True, timeout=READER_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise GradingError(
            f"not a readable notebook: still read after {READER_SECONDS} s"
        ) from None
    try:
        reply = json.loads(proc.stdout)
    except ValueError:
        error = proc.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise GradingError(f"not a readable notebook: {''.join(error)[:300]}") from None
    if "error" in reply:
        raise GradingError(reply["error"])
    return nbformat.from_dict(_encodable(reply["notebook"]))


def _encodable(value):
    """``value`` (JSON's) with each lone surrogate of its strings made "?": valid JSON, but no
    UTF-8 file can hold it (red team 54: a "\\ud800" in an answer made its notebook ungradable)."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_encodable(v) for v in value]
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    return value


def _read_here(path: str, memory: int) -> dict:
    """(The reading process.) What grading reads of the notebook at ``path``, or its error."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        return {"notebook": _what_grading_reads(_parsed(Path(path)))}
    except GradingError as exc:
        return {"error": str(exc)}
    except MemoryError:
        return {"error": f"the notebook takes more than {memory >> 20} MiB to read: {_TOO_LARGE}"}


def _images(cell, left: int) -> tuple[dict, int]:
    """``(the PNG, JPEG and GIF images attached to cell, within left characters, what is left)``."""
    attached, kept = cell.get("attachments"), {}
    for name, data in attached.items() if isinstance(attached, dict) else ():
        if not (isinstance(name, str) and isinstance(data, dict)):
            continue
        image = {t: v for t, v in data.items() if t in IMAGE_TYPES and isinstance(v, str)}
        size = sum(len(v) for v in image.values())
        if image and size <= left:
            kept[name[:200]], left = image, left - size
    return kept, left


def _what_grading_reads(nb) -> dict:
    """The notebook with what grading reads of it only (a notebook of the TP is about 1 MiB
    without its figures; what Colab adds, widgets' state, figures, is left out; the images
    attached to text cells are kept, :data:`MAX_ATTACHED` in all)."""
    if len(nb.cells) > MAX_CELLS:
        raise GradingError(f"not a notebook of the TP: {len(nb.cells):,} cells")
    language = nb.metadata.get("unet_tp", {})
    language = language.get("language") if isinstance(language, dict) else None
    cells, budget, images = [], MAX_ALL_OUTPUTS, MAX_ATTACHED
    for cell in nb.cells:
        kept = {"cell_type": cell.cell_type, "metadata": {}, "source": cell.source}
        if cell.cell_type == "markdown":  # (a written answer's drawing: the hand grader sees it)
            attached, images = _images(cell, images)
            kept |= {"attachments": attached} if attached else {}
        kept |= {"id": cell.id} if "id" in cell else {}
        if meta := nbgrader_meta(cell):
            plain = (str, int, float, bool, type(None))
            kept["metadata"]["nbgrader"] = {k: v for k, v in meta.items() if isinstance(v, plain)}
        if cell.cell_type == "code":
            kept["execution_count"] = cell.get("execution_count")
            outputs = cell.get("outputs", [])[-min(MAX_OUTPUTS, budget) :] if budget else []
            kept["outputs"] = [_kept_output(o) for o in outputs]
            budget -= len(outputs)
        cells.append(kept)
    meta = {"unet_tp": {"language": language}} if isinstance(language, str) else {}
    for key in ("kernelspec", "language_info"):  # (nbconvert's highlighting: strings)
        given = nb.metadata.get(key)
        if isinstance(given, dict):
            meta[key] = {k: v for k, v in given.items() if isinstance(v, str) and len(v) < 200}
    return {
        "nbformat": nb.nbformat,
        "nbformat_minor": nb.nbformat_minor,
        "metadata": meta,
        "cells": cells,
    }


def _kept_output(out) -> dict:
    """An output's text: a stream's, an error's name, value and traceback, ``text/plain``."""
    kind = out.output_type
    if kind == "stream":
        return {"output_type": kind, "name": out.name, "text": out.text}
    if kind == "error":
        return {"output_type": kind, "ename": out.ename, "evalue": out.evalue,
                "traceback": ["\n".join(out.traceback)[-20_000:]]}  # fmt: skip
    kept = {"output_type": kind, "metadata": {}, "data": {}}
    if "text/plain" in out.get("data", {}):
        kept["data"]["text/plain"] = out.data["text/plain"]
    return kept | ({"execution_count": out.execution_count} if kind == "execute_result" else {})


def _parsed(path: Path):
    """The notebook at ``path``, or a ``GradingError`` that says what is wrong with the file."""
    if path.suffix.lower() in STRAY_SUFFIXES:
        kind = path.suffix.lower().lstrip(".").upper()
        raise GradingError(M.NOT_A_NOTEBOOK_FILE.format(file=path.name, kind=kind))
    if path.suffix.lower() == ".zip" and (problem := zip_problem(path, path.name)):
        raise GradingError(problem)  # (a student's zip that gave no notebook: their only file)
    raw = path.read_bytes()
    if not raw.strip():
        raise GradingError("the file is empty")
    try:
        data = json.loads(raw.decode("utf-8", errors="replace"))
    except (RecursionError, ValueError) as exc:  # nesting past Python's limit, huge integers
        if not isinstance(exc, json.JSONDecodeError):
            raise GradingError(f"not a notebook: unreadable JSON ({type(exc).__name__})") from exc
        raise GradingError(
            f"not a notebook: invalid JSON ({exc.msg}: line {exc.lineno}, column {exc.colno})"
        ) from exc
    if not isinstance(data, dict) or "cells" not in data:
        raise GradingError("not a notebook: no 'cells'")
    try:
        with warnings.catch_warnings():  # duplicate cell ids: nbformat renames them, and says so
            warnings.simplefilter("ignore")
            nb = nbformat.reads(json.dumps(data), as_version=4)
    except MemoryError:
        raise
    except Exception as exc:  # nbformat raises several types for malformed notebooks
        raise GradingError(f"not a readable notebook: {exc}") from exc
    return nb


def without_outputs(nb):
    """The notebook without the outputs Colab kept (the grading run makes its own)."""
    for cell in nb.cells:
        clear_outputs(cell)
    return nb


# formgrader shows markdown as HTML in the instructor's Jupyter session, unsanitised: a zero-width
# space after every "<" and "&" of a student's text, and inside "javascript"/"vbscript", leaves no
# tag, entity or script link to render, and reads the same (in code spans too)
_ZERO_WIDTH = "\u200b"
_SCRIPT_WORD = re.compile(r"(java|vb)(script)", re.I)


def inert_markdown(text: str) -> str:
    """``text`` with no HTML tag, entity or script link once rendered (``<b>`` shows as ``<b>``)."""
    text = text.replace("<", "<" + _ZERO_WIDTH).replace("&", "&" + _ZERO_WIDTH)
    return _SCRIPT_WORD.sub(r"\1" + _ZERO_WIDTH + r"\2", text)


def for_formgrader(nb, student_nb):
    """The notebook as formgrader may show it: no outputs, the student's markdown and raw cells
    inert (a raw cell as markdown: its text, not its HTML). Only
    the text of one of the TP's own markdown cells (``student_nb``'s, answer cells aside) is
    kept as it is: by its text, not by the metadata the upload carries (a forged ``locked``)."""
    tp_text = {
        c.source
        for c in student_nb.cells
        if c.cell_type == "markdown" and not nbgrader_meta(c).get("solution")
    }
    for cell in without_outputs(nb).cells:
        if cell.cell_type == "raw":  # (red team 48: a raw cell of text/html drew a grading panel)
            cell.cell_type = "markdown"
            cell.metadata.pop("format", None)
            cell.metadata.pop("raw_mimetype", None)
        if cell.cell_type == "markdown" and cell.source not in tp_text:
            cell.source = inert_markdown(cell.source)
    return nb


HANDOUT_MAX_BYTES = 16 << 20  # a file larger is not read as the handout as given


def handouts_as_given(handouts: list) -> Callable[[Path], bool]:
    """Whether a file is one of the ``handouts`` as given: its cells' text theirs, or, a handout
    of an earlier build (a question's text edited since), every code cell one of the TP's and
    each answer cell its blank (Colab's outputs and metadata aside; an unreadable file is not)."""
    texts = {_texts(nb) for nb in handouts}
    blanks = [(_blanks(nb), _code_cells(nb)) for nb in handouts]

    def as_given(path: Path) -> bool:
        try:  # (a handout run in Colab holds its figures: a few MB; a larger file, read
            # before any grading, would keep the class waiting: red team 53's 60 MB copies)
            if path.stat().st_size > HANDOUT_MAX_BYTES:
                return False
            nb = read_submission(path)
            return _texts(nb) in texts or any(_nothing_written(nb, *b) for b in blanks)
        except (GradingError, OSError, ValueError):
            return False

    return as_given


def _blanks(handout) -> dict[str, str]:
    """The blank of each answer cell of ``handout``, by its grade id."""
    return {
        gid: _normalised(c.source)
        for c in handout.cells
        if (gid := grade_id(c)) and nbgrader_meta(c).get("solution")
    }


def _code_cells(handout) -> set[str]:
    """What marks a code cell as one of ``handout``'s: its cell id, its grade id, its text."""
    code = [c for c in handout.cells if c.cell_type == "code"]
    return {f"{key}:{value}" for c in code for key, value in _marks(c) if value}


def _marks(cell) -> tuple[tuple[str, str | None], ...]:
    """A code cell's cell id, grade id and text, each as one of :func:`_code_cells`'s marks."""
    return (("id", cell.get("id")), ("gid", grade_id(cell)), ("text", _normalised(cell.source)))


def _nothing_written(nb, blanks: dict[str, str], tp_cells: set[str]) -> bool:
    """Whether every code cell of ``nb`` is one of the TP's (its cell id the handout's: Colab
    keeps them; in a notebook saved without cell ids, nbformat < 4.5, its grade id or its text)
    and each of its answer cells, code or text, the handout's blank (instructor round 27: a
    handout downloaded before a question's text was edited scored 0, unflagged, posted)."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    answers = [(gid, _normalised(c.source)) for c in nb.cells if (gid := grade_id(c)) in blanks]
    marks = [[f"{k}:{v}" for k, v in (_marks(c)[:1] if "id" in c else _marks(c)[1:])] for c in code]
    written = any(blanks[gid] != text for gid, text in answers)  # (a copied cell's too)
    return (
        all(tp_cells.intersection(m) for m in marks) and not written and len(answers) == len(blanks)
    )


def _texts(nb) -> tuple[str, ...]:
    return tuple(_normalised(c.source) for c in nb.cells if c.cell_type != "raw")


def _normalised(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


_DEFINITION = re.compile(r"^(?:class|def)\s+(\w+)", re.M)


def _defined_names(source: str) -> set[str]:
    """The classes and functions a cell defines at its top level."""
    return set(_DEFINITION.findall(source))


def restore_metadata(nb, student_nb, notes: list[str] | None = None):
    """Give back their nbgrader metadata to cells that lost it, or that took the place of a
    graded cell the student deleted: a cell with the text of a graded cell the notebook no longer
    has (a text several of the TP's cells share, ``YOUR ANSWER HERE``, names none), an answer cell
    by the names its stub defines, Question 1's locked cell by its text around the student's
    number, a written answer by its place (the first text cell below its question)."""
    present = {gid for c in nb.cells if (gid := grade_id(c))}
    missing = {gid: c for c in student_nb.cells if (gid := grade_id(c)) and gid not in present}
    restored = _by_text(nb, student_nb, missing)
    restored += _by_names(nb, missing) + _by_setting(nb, missing)
    placed = _by_place(nb, student_nb, missing)
    if restored and notes is not None:
        notes.append(M.METADATA_RESTORED.format(count=len(restored)))
    if placed and notes is not None:
        questions = [q.id for q in load_spec().questions if q.grade_id in placed]
        notes.append(M.ANSWERS_BY_PLACE.format(questions=", ".join(questions)))
    return nb


def _adopt(cell, original, missing: dict, taken: list[str]) -> None:
    """``cell`` becomes the TP's ``original`` (its nbgrader metadata), no longer missing."""
    gid = grade_id(original)
    cell.metadata["nbgrader"] = copy.deepcopy(nbgrader_meta(original))
    del missing[gid]
    taken.append(gid)


def _by_text(nb, student_nb, missing: dict) -> list[str]:
    """Cells holding a missing TP cell's text, that no other TP cell shares."""

    def key(c) -> tuple[str, str]:
        return c.cell_type, _normalised(c.source)

    counts = Counter(key(c) for c in student_nb.cells if grade_id(c))
    by_text = {key(c): c for c in missing.values() if counts[key(c)] == 1}
    taken: list[str] = []
    for cell in nb.cells:
        original = None if grade_id(cell) else by_text.pop(key(cell), None)
        if original is not None:
            _adopt(cell, original, missing, taken)
    return taken


def _by_names(nb, missing: dict) -> list[str]:
    """An answer cell no longer holding its stub: the cell that defines the stub's names."""
    taken: list[str] = []
    for original in list(missing.values()):
        names = _defined_names(original.source)
        if not nbgrader_meta(original).get("solution") or not names:
            continue
        for cell in nb.cells:
            if (
                cell.cell_type == "code"
                and not grade_id(cell)
                and names <= _defined_names(cell.source)
            ):
                _adopt(cell, original, missing, taken)
                break
    return taken


def _by_setting(nb, missing: dict) -> list[str]:
    """A locked cell where the TP asks for a number (``RECEPTIVE_FIELD = 140``): the code cell
    that sets it and holds the TP's other lines, in order (a line of the student's added)."""
    wanted = {q.setting for q in load_spec().questions if q.setting}
    taken: list[str] = []
    for original in list(missing.values()):
        lines = [line.strip() for line in original.source.splitlines() if line.strip()]
        sets = {_setting(line) for line in lines} & wanted
        if original.cell_type != "code" or nbgrader_meta(original).get("solution") or not sets:
            continue
        rest = [line for line in lines if _setting(line) not in sets]
        for cell in nb.cells:
            if cell.cell_type != "code" or grade_id(cell):
                continue
            mine = [line.strip() for line in cell.source.splitlines()]
            if sets <= {_setting(line) for line in mine} and _in_order(rest, mine):
                _adopt(cell, original, missing, taken)
                break
    return taken


def _in_order(lines: list[str], within: list[str]) -> bool:
    """Whether ``lines`` all appear in ``within``, in that order."""
    rest = iter(within)
    return all(line in rest for line in lines)


def _by_place(nb, student_nb, missing: dict) -> list[str]:
    """A written answer's cell, deleted (the answer written in a new text cell below the
    question) or stripped of its metadata: the first text cell of the student's between the TP
    cell above it and the next TP cell."""
    above = {}
    for prev, cell in zip(student_nb.cells, student_nb.cells[1:], strict=False):
        if grade_id(cell) in missing and grade_id(prev):
            above[grade_id(cell)] = grade_id(prev)
    taken: list[str] = []
    for gid, original in list(missing.items()):
        meta = nbgrader_meta(original)
        if original.cell_type != "markdown" or not meta.get("solution") or gid not in above:
            continue
        at = next((i for i, c in enumerate(nb.cells) if grade_id(c) == above[gid]), None)
        for cell in nb.cells[at + 1 :] if at is not None else ():
            if grade_id(cell):
                break
            if cell.cell_type == "markdown":
                _adopt(cell, original, missing, taken)
                break
    return taken


def _setting(line: str) -> str | None:
    """The name an upper-case setting line assigns (``CLASS_WEIGHTS = None  # ...``), or None
    (another statement, two statements on the line, a line that does not parse, or nested past
    the grader's recursion limit: the static reading costs its blocks)."""
    try:
        tree = parse_code(line.strip())
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assign):
        return None
    (target,) = tree.body[0].targets if len(tree.body[0].targets) == 1 else (None,)
    if isinstance(target, ast.Name) and target.id.isupper():
        return target.id
    return None


# Question 1's answer, a number written in a locked cell as the TP asks (a question's ``setting``
# in assignment.toml): the student's number is kept (a literal can run nothing), so the notebook
# graded by hand shows it; other settings are restored (a DATA_SOURCE or a sample count would
# change what the grader's run does)


def _number(value: ast.expr, depth: int = 0) -> bool:
    """Whether ``value`` is a number literal or sums and products of them (``140``, ``-1.5``,
    ``1 + 2 * 69``: nothing that runs, nor a power that could take the kernel's time)."""
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, (ast.USub, ast.UAdd)):
        return _number(value.operand, depth + 1)
    if isinstance(value, ast.BinOp) and isinstance(value.op, _ARITHMETIC) and depth < 20:
        return _number(value.left, depth + 1) and _number(value.right, depth + 1)
    return isinstance(value, ast.Constant) and type(value.value) in (int, float)


_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv)


def _decimal_comma(value: ast.expr) -> bool:
    """Whether ``value`` is a number written with a decimal comma (``140,5``: a tuple)."""
    return (
        isinstance(value, ast.Tuple)
        and len(value.elts) == 2
        and all(isinstance(e, ast.Constant) and type(e.value) is int for e in value.elts)
    )


def _number_answer(line: str) -> bool:
    """Whether ``line`` gives an answer setting a plain number (``RECEPTIVE_FIELD = 140  # ...``,
    or ``140,5`` as a French student writes a decimal)."""
    if _setting(line) not in {q.setting for q in load_spec().questions if q.setting}:
        return False
    value = parse_code(line.strip()).body[0].value
    return _number(value) or _decimal_comma(value)


def number_answer(nb, name: str) -> str:
    """``name = number`` as the notebook gives it in a TP cell (empty: no number), without its
    comment: a question's number answer, part of what the hand grader reads (``140,5`` as
    written)."""
    for cell in nb.cells:
        for line in cell.source.splitlines() if grade_id(cell) else ():
            if _setting(line) == name and _number_answer(line):
                value = parse_code(line.strip()).body[0].value
                if _decimal_comma(value):
                    return f"{name} = {value.elts[0].value},{value.elts[1].value}"
                return ast.unparse(parse_code(line.strip()))
    return ""


def _answers_carried(source: str, original: str) -> str:
    """The TP's ``original`` cell with the number answers the student wrote anywhere in a cell
    they changed more than the TP asks (a line added, ``print(RECEPTIVE_FIELD)``): the cell is
    restored, the last number of each setting kept for the hand grader."""
    mine = {_setting(line): line for line in source.splitlines() if _number_answer(line)}
    lines = []
    for line in original.splitlines(keepends=True):
        answer = mine.get(_setting(line)) if _setting(line) else None
        end = line[len(line.rstrip("\n")) :]
        lines.append(answer + end if answer is not None and _kept(answer, line) else line)
    return "".join(lines)


def _with_answers(source: str, original: str) -> str:
    """The TP's ``original`` cell with the student's number answers of a settings-only edit."""
    pairs = zip(source.splitlines(keepends=True), original.splitlines(keepends=True), strict=True)
    return "".join(a if a != b and _kept(a, b) else b for a, b in pairs)


def _kept(line: str, original: str) -> bool:
    """Whether the student's ``line`` replaces the TP's: a number answer, indented as the TP's
    line, with nothing but printable text (the restored cell must still run)."""
    indent = len(original) - len(original.lstrip())
    same_indent = line[:indent] == original[:indent] and not line[indent : indent + 1].isspace()
    return same_indent and line.rstrip("\n").isprintable() and _number_answer(line)


def _settings_only(cell, original) -> bool:
    """Whether the edit of a locked cell only changed values of its upper-case settings, as the
    TP asks (``RECEPTIVE_FIELD = 140``, ``CLASS_WEIGHTS = torch.tensor(...)``, ``RETRAIN =
    True``): the cell is restored all the same, but that is no edit to report."""
    if cell.cell_type != original.cell_type:
        return False
    mine, theirs = cell.source.splitlines(), original.source.splitlines()
    if len(mine) != len(theirs):
        return False
    for a, b in zip(mine, theirs, strict=True):
        if a != b and (_setting(a) is None or _setting(a) != _setting(b)):
            return False
    return True


def _put_back(tp_cells: dict, groups: list, order: dict, seen: set) -> tuple[list, list]:
    """Each TP cell of ``groups`` given the TP's metadata, a locked one its text (a deleted one
    added back): the grade ids restored and added."""
    restored, added = [], []
    for gid, original in tp_cells.items():
        meta = nbgrader_meta(original)
        if gid not in seen:
            if meta.get("solution"):  # the student's answer may live in a cell of their own
                continue
            groups.append((order[gid], [copy.deepcopy(original)]))
            added.append(gid)
            continue
        cell = next(c for _, cells in groups for c in cells[:1] if grade_id(c) == gid)
        # the TP's metadata, whatever the upload says (an answer cell forged "locked", "solution":
        # false would hide its code from the reading of autograder.static; "points" formgrader
        # would show)
        cell.metadata["nbgrader"] = copy.deepcopy(meta)
        if not meta.get("solution"):
            edited = cell.source != original.source or cell.cell_type != original.cell_type
            source = original.source
            if edited and not _settings_only(cell, original):
                if original.cell_type == "code":  # it changed what runs: said; the TP's
                    restored.append(gid)  # text is put back without a word (a typo fixed since)
                    source = _answers_carried(cell.source, original.source)
            elif edited:
                source = _with_answers(cell.source, original.source)
            cell.source, cell.cell_type = source, original.cell_type
            if cell.cell_type == "markdown":
                cell.pop("outputs", None)
                cell.pop("execution_count", None)
    return restored, added


def in_source_order(nb, student_nb, notes: list[str] | None = None):
    """The TP's cells in the student notebook's order, each followed by the student's own that
    followed it; locked cells restored, deleted ones put back, every graded cell's nbgrader metadata
    the TP's, ids made unique. A copy of a graded cell stays as the student's own (only the first
    counts); the student's own cells keep no nbgrader metadata (a forged "locked" would hide one from the reading of
    :mod:`autograder.static`). Changes go to ``notes``."""
    tp_cells = {gid: c for c in student_nb.cells if (gid := grade_id(c))}
    order = {gid: i for i, gid in enumerate(tp_cells)}
    head: list = []
    groups: list[tuple[int, list]] = []
    seen = set()
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid is None:  # the student's own cell: nothing of nbgrader's (a forged "locked")
            cell.metadata.pop("nbgrader", None)
        elif gid in seen or gid not in order:
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
    restored, added = _put_back(tp_cells, groups, order, seen)
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
    """Each cell's name for a student: the TP's by block or section ("(c) test cell"), the
    student's own as "your cell after (c)"."""
    by_gid = {}
    for block in spec.blocks:
        by_gid[block.solution_cell] = f"({block.id}) {block.names[0]}"
        for test in block.tests:
            by_gid[test.grade_id] = M.TEST_CELL.format(block=block.id)
    tp_untagged = {_normalised(c.source) for c in student_nb.cells if not grade_id(c)}
    labels, section, last = [], M.NOTEBOOK_TOP, None
    for cell in nb.cells:
        gid = grade_id(cell)
        tp_cell = gid or _normalised(cell.source) in tp_untagged
        if cell.cell_type == "markdown" and tp_cell:  # the TP's sections, not a student's heading
            section = _heading(cell.source) or section
        if gid in by_gid:
            label = by_gid[gid]
            block = label.split(" ", 1)[0] if label.startswith("(") else label
            last = M.YOUR_CELL.format(last=block)
        elif tp_cell:
            label = M.TP_CELL.format(section=section)
            last = M.YOUR_CELL_IN.format(section=section)
        else:
            label = last or M.YOUR_CELL.format(last=M.NOTEBOOK_TOP)
        labels.append(label)
    return labels


def shown_passing(nb) -> set[str]:
    """The test cells whose saved output shows their check passing (an ``ok`` line, no error)."""
    shown = set()
    for cell in nb.cells:
        outs = cell.get("outputs", []) if cell.cell_type == "code" else []
        text = "".join("".join(o.get("text", "")) for o in outs if o.get("output_type") == "stream")
        failed = any(o.get("output_type") == "error" for o in outs)
        if not failed and re.search(r"^\s*ok ?:", text, re.MULTILINE):
            shown.add(grade_id(cell))
    return shown - {None}


def submitted_outputs(nb, student_nb) -> dict[str, str]:
    """The text the uploaded notebook showed under its training and evaluation cells, the
    exception that stopped one included (a KeyboardInterrupt: the student stopped it)."""
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
                elif o.get("output_type") == "error":  # stopped by hand, or failed: say so
                    error = f"{o.get('ename', 'Error')}: {o.get('evalue', '')}"
                    text += error.removesuffix(": ") + "\n"
        out["evaluation" if key == "evaluate" else key] = text[-5000:]
    return out


if __name__ == "__main__":  # the reading process of read_submission
    sys.stdout.write(json.dumps(_read_here(sys.argv[1], int(sys.argv[2]))))
