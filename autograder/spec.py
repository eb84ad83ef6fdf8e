"""The assignment, declared once (``assignment.toml``): blocks, grade ids, points, visible checks,
comparisons. Read by the notebook build, the grader and the report."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from autograder.cells import grade_id, nbgrader_meta
from autograder.results import QuestionInfo as Question  # a written question, graded by hand
from autograder.results import from_dict

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

SPEC_FILE = Path(__file__).with_name("assignment.toml")


@dataclass(frozen=True)
class Test:
    """A graded test cell of the notebook."""

    grade_id: str
    points: float
    visible: str  # the unet_tp.checks function the cell calls
    compare: str  # the autograder.compare comparison that grades it


@dataclass(frozen=True)
class Block:
    """One blank of the TP, (a) to (g)."""

    id: str
    key: str
    title: str
    section: str
    solution_cell: str
    names: tuple[str, ...]
    depends_on: tuple[str, ...]
    tests: tuple[Test, ...]
    forbidden: tuple[str, ...] = ()  # calls the answer must not use (read from its text)
    forbidden_why: str = ""
    title_fr: str = ""  # the French feedback page's
    section_fr: str = ""

    @property
    def points(self) -> float:
        return sum(t.points for t in self.tests)


@dataclass(frozen=True)
class Spec:
    """The whole assignment."""

    assignment: str
    notebook: str
    blocks: tuple[Block, ...]
    questions: tuple[Question, ...] = ()

    @property
    def max_points(self) -> float:
        return sum(b.points for b in self.blocks) + sum(q.points for q in self.questions)

    @property
    def tests(self) -> dict[str, tuple[Block, Test]]:
        return {t.grade_id: (b, t) for b in self.blocks for t in b.tests}

    def block(self, block_id: str) -> Block:
        return next(b for b in self.blocks if b.id == block_id)


@functools.cache
def load(path: Path = SPEC_FILE) -> Spec:
    """Read and check ``assignment.toml``."""
    try:
        spec = from_dict(Spec, tomllib.loads(Path(path).read_text()), "assignment")
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    ids = [b.id for b in spec.blocks]
    for b in spec.blocks:
        unknown = set(b.depends_on) - set(ids)
        if unknown:
            raise ValueError(f"{path}: block {b.id} depends on unknown blocks {sorted(unknown)}")
    return spec


def notebook_problems(nb, spec: Spec | None = None) -> list[str]:
    """Where the source notebook disagrees with the spec (empty: they agree)."""
    spec = spec or load()
    problems = []
    graded = {}
    cells = {}
    for cell in nb.cells:
        meta, gid = nbgrader_meta(cell), grade_id(cell)
        if gid:
            cells[gid] = cell
        if gid and meta.get("grade"):
            graded[gid] = (float(meta.get("points", 0)), cell.source)
    for block in spec.blocks:
        if block.solution_cell not in cells:
            problems.append(f"block ({block.id}): no solution cell {block.solution_cell!r}")
        for test in block.tests:
            if test.grade_id not in graded:
                problems.append(f"block ({block.id}): no graded test cell {test.grade_id!r}")
                continue
            points, source = graded[test.grade_id]
            if points != test.points:
                problems.append(
                    f"{test.grade_id}: {points:g} points in the notebook, {test.points:g} in the spec"
                )
            if f"checks.{test.visible}(" not in source:
                problems.append(f"{test.grade_id}: does not call checks.{test.visible}")
    for q in spec.questions:
        cell = cells.get(q.grade_id)
        meta = nbgrader_meta(cell) if cell is not None else {}
        if cell is None or cell.cell_type != "markdown" or not meta.get("solution"):
            problems.append(f"question {q.id}: no markdown answer cell {q.grade_id!r}")
        elif q.grade_id not in graded:
            problems.append(
                f"{q.grade_id}: not graded in the notebook (nbgrader 'Manually graded answer', "
                f"{q.points:g} points in the spec)"
            )
        elif (points := graded[q.grade_id][0]) != q.points:
            problems.append(
                f"{q.grade_id}: {points:g} points in the notebook, {q.points:g} in the spec"
            )
    extra = set(graded) - set(spec.tests) - {q.grade_id for q in spec.questions}
    for gid in sorted(extra):
        problems.append(f"{gid}: a graded cell the spec does not declare")
    return problems
